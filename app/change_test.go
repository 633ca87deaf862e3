package app

import (
	"testing"

	"github.com/alertflow/alertflow/alert"
	routeconfig "github.com/alertflow/alertflow/config"
	"github.com/alertflow/alertflow/internal/testkit"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/notifytest"
	"github.com/alertflow/alertflow/notify/pagerduty/pagerdutytest"
)

// Only the receivers with change_events on take change events, each
// through its own PagerDuty integration, and the intake starts change
// workflows only when there is one.
func TestChangeEventsGoToTheReceiversThatAskedForThem(t *testing.T) {
	fake := pagerdutytest.New(t)
	src := "receivers:\n" +
		"  - name: pager\n    pagerduty:\n      routing_key: k-pager\n      url: " + fake.URL() + "\n      change_events: true\n" +
		"  - name: quiet\n    pagerduty:\n      routing_key: k-quiet\n      url: " + fake.URL() + "\n" +
		"  - name: chat\n    webhook:\n      url: https://example.com/hook\n" +
		"route:\n  receiver: chat\n"
	rc := testkit.Routing(t, src, nil)
	env := routeconfig.FromEnv("https://example.com/hook", "", "")
	if !ChangeEvents(nil, rc) || ChangeEvents(nil, nil) || ChangeEvents(nil, env) {
		t.Errorf("ChangeEvents: %v for the file, %v without one, %v from the environment; want true, false, false",
			ChangeEvents(nil, rc), ChangeEvents(nil, nil), ChangeEvents(nil, env))
	}
	// ALERTFLOW_CHANGE_EVENTS overrides the file: an intake run alone
	// reads none.
	if !ChangeEvents(new(true), nil) || ChangeEvents(new(false), rc) {
		t.Error("ALERTFLOW_CHANGE_EVENTS did not override the routing file")
	}
	_, changes := receiversOf(rc, notify.DefaultHTTPClient())
	if len(changes) != 1 || changes["pager"] == nil {
		t.Fatalf("change receivers %v, want pager alone", changes)
	}
	ev := notifytest.Event()
	ev.Pipeline.Status = alert.PipelineSuccess
	if err := changes["pager"].NotifyChange(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	if got := fake.Changes(); len(got) != 1 || got[0].RoutingKey != "k-pager" {
		t.Errorf("the fake took %+v, want one change event with pager's key", got)
	}
}
