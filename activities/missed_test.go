package activities

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/monitor"
)

// opened records what a MissedRuns asks to open.
type opened struct {
	events  []alert.Event
	sources []string
	err     error
}

func (o *opened) Open(_ context.Context, ev alert.Event, source string) error {
	o.events, o.sources = append(o.events, ev), append(o.sources, source)
	return o.err
}

func openMissed(t *testing.T, o *opened, req MissedRequest) error {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(NewMissedRuns(o).OpenMissed)
	_, err := env.ExecuteActivity(ActivityOpenMissed, req)
	return err
}

func TestOpenMissedOpensTheAlertOfTheMonitorsRef(t *testing.T) {
	due := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	o := &opened{}
	sp := monitor.Spec{Name: "nightly", Project: 42, Path: "team-a/api", Ref: "main", Instance: "gitlab.example.com", Severity: alert.SeverityHigh}
	if err := openMissed(t, o, MissedRequest{Spec: sp, Due: due}); err != nil {
		t.Fatal(err)
	}
	if len(o.events) != 1 {
		t.Fatalf("opened %d alerts", len(o.events))
	}
	ev := o.events[0]
	if ev.AlertID() != alert.InstanceID(sp.Instance, 42, "main") || ev.Instance != sp.Instance || ev.Missed == nil ||
		ev.Missed.Monitor != "nightly" || !ev.Missed.Due.Equal(due) || ev.Missed.Severity != alert.SeverityHigh {
		t.Errorf("opened %+v (missed %+v)", ev, ev.Missed)
	}
	if o.sources[0] != "monitor nightly" {
		t.Errorf("source %q", o.sources[0])
	}
}

func TestOpenMissedFailsWithTheMonitorsNameWhenItCannotOpen(t *testing.T) {
	o := &opened{err: errors.New("frontend unavailable")}
	err := openMissed(t, o, MissedRequest{Spec: monitor.Spec{Name: "nightly", Project: 42, Ref: "main"}})
	if err == nil || !strings.Contains(err.Error(), "monitor nightly") || !strings.Contains(err.Error(), "frontend unavailable") {
		t.Fatalf("OpenMissed = %v", err)
	}
}
