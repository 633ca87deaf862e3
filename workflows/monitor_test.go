package workflows

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/monitor"
)

// monitorEnv runs MonitorWorkflow and records the missed runs it opens.
type monitorEnv struct {
	*testsuite.TestWorkflowEnvironment
	mu     sync.Mutex
	missed []activities.MissedRequest
}

func newMonitorEnv(t *testing.T) *monitorEnv {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	e := &monitorEnv{TestWorkflowEnvironment: s.NewTestWorkflowEnvironment()}
	e.RegisterWorkflowWithOptions(MonitorWorkflow, workflow.RegisterOptions{Name: MonitorWorkflowType})
	e.RegisterActivityWithOptions(func(_ context.Context, req activities.MissedRequest) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.missed = append(e.missed, req)
		return nil
	}, activity.RegisterOptions{Name: activities.ActivityOpenMissed})
	return e
}

// dues are the deadlines of the missed runs, as offsets from start.
func (e *monitorEnv) dues(start time.Time) []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []time.Duration
	for _, m := range e.missed {
		out = append(out, m.Due.Sub(start).Round(time.Second))
	}
	return out
}

func everyTwoMinutes() monitor.Spec {
	return monitor.Spec{Name: "nightly", Project: 1, Path: "gitlab-org/gitlab-test", Ref: "master", Every: 2 * time.Minute, Severity: alert.SeverityHigh}
}

func TestMonitorWithNoRunOpensTheMissedRunAtEachDeadline(t *testing.T) {
	e := newMonitorEnv(t)
	e.SetStartTime(t0)
	e.SetWorkflowRunTimeout(7 * time.Minute)
	e.ExecuteWorkflow(MonitorWorkflowType, MonitorInput{Specs: []monitor.Spec{everyTwoMinutes()}})
	got := e.dues(t0)
	want := []time.Duration{2 * time.Minute, 4 * time.Minute, 6 * time.Minute}
	if len(got) != len(want) {
		t.Fatalf("missed runs due at %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("missed runs due at %v, want %v", got, want)
		}
	}
	if e.missed[0].Spec.Name != "nightly" {
		t.Errorf("spec %+v", e.missed[0].Spec)
	}
}

func TestMonitorRunBeforeTheDeadlineMovesIt(t *testing.T) {
	e := newMonitorEnv(t)
	e.SetStartTime(t0)
	// A run at 1m30s: the next one is due by 3m30s, not 2m.
	e.RegisterDelayedCallback(func() {
		e.SignalWorkflow(SignalMonitorRun, MonitorRun{PipelineID: 50, Status: alert.PipelineSuccess, FinishedAt: t0.Add(90 * time.Second)})
	}, 90*time.Second)
	var st MonitorState
	e.RegisterDelayedCallback(func() {
		v, err := e.QueryWorkflow(QueryMonitor)
		if err == nil {
			err = v.Get(&st)
		}
		if err != nil {
			t.Errorf("query: %v", err)
		}
	}, 2*time.Minute)
	e.SetWorkflowRunTimeout(4 * time.Minute)
	e.ExecuteWorkflow(MonitorWorkflowType, MonitorInput{Specs: []monitor.Spec{everyTwoMinutes()}})
	if got := e.dues(t0); len(got) != 1 || got[0] != 3*time.Minute+30*time.Second {
		t.Fatalf("missed runs due at %v, want [3m30s]", got)
	}
	if st.LastRun == nil || st.LastRun.PipelineID != 50 || !st.Deadlines["nightly"].Equal(t0.Add(210*time.Second)) {
		t.Errorf("state at 2m: %+v", st)
	}
}

func TestMonitorGivenNoSpecsEnds(t *testing.T) {
	e := newMonitorEnv(t)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(SignalMonitorSpecs, []monitor.Spec{}) }, time.Minute)
	e.ExecuteWorkflow(MonitorWorkflowType, MonitorInput{Specs: []monitor.Spec{everyTwoMinutes()}})
	if !e.IsWorkflowCompleted() || e.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", e.IsWorkflowCompleted(), e.GetWorkflowError())
	}
	if got := e.dues(t0); len(got) != 0 {
		t.Errorf("missed runs %v after it was retired", got)
	}
}

func TestMonitorKeepsWhatItCountsFromWhenItsSpecsAreGivenAgain(t *testing.T) {
	e := newMonitorEnv(t)
	e.SetStartTime(t0)
	// A worker restart gives the same specs at 1m: the deadline stays 2m.
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(SignalMonitorSpecs, []monitor.Spec{everyTwoMinutes()}) }, time.Minute)
	e.SetWorkflowRunTimeout(3 * time.Minute)
	e.ExecuteWorkflow(MonitorWorkflowType, MonitorInput{Specs: []monitor.Spec{everyTwoMinutes()}})
	if got := e.dues(t0); len(got) != 1 || got[0] != 2*time.Minute {
		t.Fatalf("missed runs due at %v, want [2m]", got)
	}
}

func TestMonitorContinuesAsNewWithWhatItCountsFrom(t *testing.T) {
	e := newMonitorEnv(t)
	e.SetStartTime(t0)
	sp := everyTwoMinutes()
	sp.Every = time.Minute
	e.SetWorkflowRunTimeout(48 * time.Hour)
	e.ExecuteWorkflow(MonitorWorkflowType, MonitorInput{Specs: []monitor.Spec{sp}})
	var can *workflow.ContinueAsNewError
	if err := e.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("ended with %v, want it to continue as new before two days of one-minute deadlines", err)
	}
	var next MonitorInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	n := len(e.dues(t0))
	if want := t0.Add(time.Duration(n) * time.Minute); !next.After["nightly"].Equal(want) || len(next.Specs) != 1 {
		t.Errorf("carried %+v after %d missed runs, want it to count from %s", next, n, want)
	}
}
