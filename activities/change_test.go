package activities_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/internal/testkit"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/notifytest"
	"github.com/alertflow/alertflow/notify/pagerduty"
	"github.com/alertflow/alertflow/notify/pagerduty/pagerdutytest"
	"github.com/alertflow/alertflow/route"
)

// fakeChanges answers every NotifyChange with err and records the events.
type fakeChanges struct {
	err error

	mu     sync.Mutex
	events []alert.Event
}

func (f *fakeChanges) NotifyChange(_ context.Context, ev alert.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
	return f.err
}

func (f *fakeChanges) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events)
}

// green is the example pipeline #31, successful on its default branch.
func green() alert.Event {
	ev := notifytest.Event()
	ev.Pipeline.Status = alert.PipelineSuccess
	ev.Pipeline.FailedJobs = nil
	ev.Pipeline.Protected = true
	return ev
}

func routeChange(t *testing.T, sinks *activities.Sinks, ev alert.Event) []activities.Target {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(sinks)
	v, err := env.ExecuteActivity(activities.ActivityRouteChange, ev)
	if err != nil {
		t.Fatalf("route change: %v", err)
	}
	var targets []activities.Target
	if v.HasValue() {
		if err := v.Get(&targets); err != nil {
			t.Fatal(err)
		}
	}
	return targets
}

func sendChange(t *testing.T, sinks *activities.Sinks, d activities.ChangeDelivery) error {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(sinks)
	_, err := env.ExecuteActivity(activities.ActivitySendChange, d)
	return err
}

var pagerTarget = activities.Target{Receiver: "pager", Integration: activities.IntegrationPagerDuty}

func TestRouteChangeNamesTheReceiversWithChangeEventsTheTreeSelects(t *testing.T) {
	tree := &route.Route{Receiver: "audit", Routes: []*route.Route{
		// A change event has no severity: a route on one never takes it.
		{Receiver: "high-pager", Match: route.Matchers{Severity: []alert.Severity{alert.SeverityHigh}}, Continue: true},
		{Receiver: "pager", Match: route.Matchers{Project: "gitlab-org/**", Branches: route.BranchesDefault}, Continue: true},
		{Receiver: "chat", Match: route.Matchers{Project: "gitlab-org/**"}, Continue: true},
		{Receiver: "elsewhere", Match: route.Matchers{Project: "team-b/**"}},
	}}
	var labels []route.Labels
	routing := activities.Routing{
		Route: func(l route.Labels) []string {
			labels = append(labels, l)
			return tree.Receivers(l)
		},
		Receivers: map[string]activities.Receiver{
			"pager": {activities.IntegrationPagerDuty: &fakeNotifier{}},
			"chat":  {activities.IntegrationSlack: &fakeNotifier{}},
		},
		Changes: map[string]activities.ChangeNotifier{
			"high-pager": &fakeChanges{}, "pager": &fakeChanges{}, "elsewhere": &fakeChanges{},
		},
	}
	var out testkit.Buffer
	sinks := activities.NewRoutedSinks(logger(&out), nil, nil, routing)
	if got := routeChange(t, sinks, green()); !slices.Equal(got, []activities.Target{pagerTarget}) {
		t.Fatalf("targets %v, want only %v", got, pagerTarget)
	}
	want := route.Labels{ProjectID: 1, Project: "gitlab-org/gitlab-test", Ref: "master", Source: "push", DefaultBranch: "master", Protected: true}
	if len(labels) != 1 || labels[0] != want {
		t.Errorf("routed with labels %+v, want %+v", labels, want)
	}

	feature := green()
	feature.Pipeline.Ref = "feature-x"
	if got := routeChange(t, sinks, feature); len(got) != 0 {
		t.Errorf("a feature branch routed to %v, want nobody", got)
	}
	if !strings.Contains(out.String(), `"msg":"Change event routed"`) {
		t.Errorf("the routing is not logged:\n%s", out.String())
	}
}

func TestRouteChangeWithoutChangeEventsNamesNobody(t *testing.T) {
	routing := activities.Routing{
		Route:     func(route.Labels) []string { t.Error("routed with nobody to hear it"); return nil },
		Receivers: map[string]activities.Receiver{"pager": {activities.IntegrationPagerDuty: &fakeNotifier{}}},
	}
	for name, sinks := range map[string]*activities.Sinks{
		"routed":   activities.NewRoutedSinks(nil, nil, nil, routing),
		"env only": activities.NewSinks(nil, &fakeNotifier{}, nil),
	} {
		if got := routeChange(t, sinks, green()); len(got) != 0 {
			t.Errorf("%s: targets %v, want none", name, got)
		}
	}
}

func TestSendChangeSendsToItsTargetAlone(t *testing.T) {
	pager, other := &fakeChanges{}, &fakeChanges{}
	sinks := activities.NewRoutedSinks(nil, nil, nil, activities.Routing{
		Route:   func(route.Labels) []string { return nil },
		Changes: map[string]activities.ChangeNotifier{"pager": pager, "other": other},
	})
	ev := green()
	if err := sendChange(t, sinks, activities.ChangeDelivery{Target: pagerTarget, Event: ev}); err != nil {
		t.Fatal(err)
	}
	if pager.count() != 1 || other.count() != 0 || pager.events[0].Pipeline.ID != 31 {
		t.Errorf("pager got %d, other %d", pager.count(), other.count())
	}
}

func TestSendChangeToATargetWithoutChangeEventsFailsForGood(t *testing.T) {
	var out testkit.Buffer
	sinks := activities.NewRoutedSinks(logger(&out), nil, nil, activities.Routing{
		Route:     func(route.Labels) []string { return nil },
		Receivers: map[string]activities.Receiver{"chat": {activities.IntegrationSlack: &fakeNotifier{}}, "quiet-pager": {activities.IntegrationPagerDuty: &fakeNotifier{}}},
		Changes:   map[string]activities.ChangeNotifier{"pager": &fakeChanges{}},
	})
	for _, to := range []activities.Target{
		{Receiver: "gone", Integration: activities.IntegrationPagerDuty},
		{Receiver: "quiet-pager", Integration: activities.IntegrationPagerDuty},
		{Receiver: "pager", Integration: activities.IntegrationSlack},
	} {
		err := sendChange(t, sinks, activities.ChangeDelivery{Target: to, Event: green()})
		appErr, ok := errors.AsType[*temporal.ApplicationError](err)
		if !ok || !appErr.NonRetryable() || appErr.Type() != activities.ErrTypeNoChangeEvents || !strings.Contains(err.Error(), to.String()) {
			t.Errorf("%v: %v, want a non-retryable %s naming the target", to, err, activities.ErrTypeNoChangeEvents)
		}
	}
	if !strings.Contains(out.String(), "not configured for change events") {
		t.Errorf("the dropped change event is not logged:\n%s", out.String())
	}
}

func TestSendChangeClassifiesFailuresLikeTheSinks(t *testing.T) {
	tests := []struct {
		name         string
		err          error
		nonRetryable bool
		delay        time.Duration
		errType      string
	}{
		{"a refusal stops the retries", notify.Permanent(errors.New("HTTP 400 Bad Request")), true, 0, activities.ErrTypeRejected},
		{"a retry-after sets the next delay", notify.RetryAfter(errors.New("HTTP 429"), 7*time.Second), false, 7 * time.Second, activities.ErrTypeRetryAfter},
		{"a 5xx is left to the policy", &notify.DeliveryError{Err: errors.New("HTTP 500")}, false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out testkit.Buffer
			sinks := activities.NewRoutedSinks(logger(&out), nil, nil, activities.Routing{
				Route:   func(route.Labels) []string { return nil },
				Changes: map[string]activities.ChangeNotifier{"pager": &fakeChanges{err: tt.err}},
			})
			err := sendChange(t, sinks, activities.ChangeDelivery{Target: pagerTarget, Event: green()})
			appErr, ok := errors.AsType[*temporal.ApplicationError](err)
			if !ok {
				t.Fatalf("error %v is not an ApplicationError", err)
			}
			if appErr.NonRetryable() != tt.nonRetryable || appErr.NextRetryDelay() != tt.delay || (tt.errType != "" && appErr.Type() != tt.errType) {
				t.Errorf("%v: non-retryable %v, delay %s, type %q; want %v, %s, %q", err, appErr.NonRetryable(), appErr.NextRetryDelay(), appErr.Type(), tt.nonRetryable, tt.delay, tt.errType)
			}
			for _, want := range []string{`"msg":"Change event delivery failed"`, `"receiver":"pager"`, `"alert_id":"1-master"`, `"pipeline_id":31`, `"attempt":1`} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("the failure log lacks %s:\n%s", want, out.String())
				}
			}
		})
	}
}

// A real PagerDuty notifier, failing: neither the error Temporal keeps nor
// the log holds its routing key, its host or its path.
func TestSendChangeKeepsTheKeyAndTheURLOutOfHistoryAndLogs(t *testing.T) {
	const key = "R0UT1NGK3Ye93facc04764012d7bfb00"
	for _, status := range []int{http.StatusBadRequest, http.StatusInternalServerError} {
		recv := notifytest.Echoing(t, status)
		pd := pagerduty.New(recv.Base+"/v2/enqueue", key, nil).WithChangeURL(recv.Base + "/v2/change/enqueue/pathsecret")
		var out testkit.Buffer
		sinks := activities.NewRoutedSinks(logger(&out), nil, nil, activities.Routing{
			Route:   func(route.Labels) []string { return nil },
			Changes: map[string]activities.ChangeNotifier{"pager": pd},
		})
		err := sendChange(t, sinks, activities.ChangeDelivery{Target: pagerTarget, Event: green()})
		recv.AssertNoLeak(t, err, key[:12], "pathsecret")
		for _, leak := range []string{key[:12], "pathsecret", recv.Host} {
			if strings.Contains(out.String(), leak) {
				t.Errorf("the log gives away %q:\n%s", leak, out.String())
			}
		}
		if !strings.Contains(err.Error(), "send change event to pager/pagerduty") {
			t.Errorf("error %q does not name the target", err)
		}
	}
	fake := pagerdutytest.New(t)
	sinks := activities.NewRoutedSinks(nil, nil, nil, activities.Routing{
		Route:   func(route.Labels) []string { return nil },
		Changes: map[string]activities.ChangeNotifier{"pager": pagerduty.New(fake.URL(), key, nil)},
	})
	if err := sendChange(t, sinks, activities.ChangeDelivery{Target: pagerTarget, Event: green()}); err != nil {
		t.Fatal(err)
	}
	if got := fake.Changes(); len(got) != 1 || got[0].RoutingKey != key {
		t.Errorf("the fake accepted %+v", got)
	}
}
