package workflows

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func pipelineEvent(id int64, status string) alert.Event {
	return alert.Event{
		Project: alert.Project{ID: 1, Path: "gitlab-org/gitlab-test", URL: "http://gitlab.example.com/gitlab-org/gitlab-test"},
		Pipeline: alert.Pipeline{
			ID: id, Ref: "master", Status: status,
			URL:        "http://gitlab.example.com/gitlab-org/gitlab-test/-/pipelines/" + strconv.FormatInt(id, 10),
			FinishedAt: t0.Add(time.Duration(id) * time.Minute),
		},
		User: "alice",
	}
}

// alertEnv runs AlertWorkflow in the SDK's test environment and records the
// notifications it sends, by kind.
type alertEnv struct {
	*testsuite.TestWorkflowEnvironment
	mu         sync.Mutex
	notified   []notify.Kind
	severities []alert.Severity
}

// newAlertEnv returns the environment; a notifyDelay makes every
// notification take that long in workflow time.
func newAlertEnv(t *testing.T, notifyDelay ...time.Duration) *alertEnv {
	t.Helper()
	return newAlertEnvWithRecall(t, nil, notifyDelay...)
}

// newAlertEnvWithRecall is newAlertEnv on a server where the ID's last
// alert left mem.
func newAlertEnvWithRecall(t *testing.T, mem *alert.Memory, notifyDelay ...time.Duration) *alertEnv {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	e := &alertEnv{TestWorkflowEnvironment: s.NewTestWorkflowEnvironment()}
	e.RegisterWorkflow(AlertWorkflow)
	e.RegisterActivity(activities.NewSinks(slog.New(slog.DiscardHandler), nil, nil))
	recall(e.TestWorkflowEnvironment, mem)
	// With no API, as a worker without one; tests that reconcile mock it.
	e.RegisterActivityWithOptions(activities.NewReconciler(nil).Reconcile, activity.RegisterOptions{Name: activities.ActivityReconcile})
	heard := func(n notify.Notification) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.notified = append(e.notified, n.Kind)
		e.severities = append(e.severities, n.Alert.Severity)
	}
	// Runs of earlier revisions log through NotifyLog, routed runs through
	// RouteNotification: both record what people would hear.
	logged := e.OnActivity(activities.ActivityNotifyLog, mock.Anything, mock.Anything).Return(func(_ context.Context, n notify.Notification) ([]string, error) {
		heard(n)
		return nil, nil
	})
	routed := e.OnActivity(activities.ActivityRouteNotification, mock.Anything, mock.Anything).Return(func(_ context.Context, req activities.RouteRequest) (activities.RouteAnswer, error) {
		heard(req.Notification)
		return activities.RouteAnswer{}, nil
	})
	for _, d := range notifyDelay {
		logged.After(d)
		routed.After(d)
	}
	return e
}

// recallNothing registers a recall that finds no earlier alert on the ID, as
// on a server that has none.
func recallNothing(e *testsuite.TestWorkflowEnvironment) {
	recall(e, nil)
}

// recall registers a recall that finds mem, as left by an earlier alert.
func recall(e *testsuite.TestWorkflowEnvironment, mem *alert.Memory) {
	e.RegisterActivityWithOptions(func(context.Context, string, string) (*alert.Memory, error) { return mem, nil },
		activity.RegisterOptions{Name: activities.ActivityRecall})
}

func (e *alertEnv) notifiedSeverities() []alert.Severity {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]alert.Severity(nil), e.severities...)
}

func (e *alertEnv) kinds() []notify.Kind {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]notify.Kind(nil), e.notified...)
}

// signalAt sends pipeline events at the given offsets from the start.
func (e *alertEnv) signalAt(after time.Duration, evs ...alert.Event) {
	e.RegisterDelayedCallback(func() {
		for _, ev := range evs {
			e.SignalWorkflow(SignalPipeline, ev)
		}
	}, after)
}

// stateAt queries the alert's state at an offset from the start.
func (e *alertEnv) stateAt(t *testing.T, after time.Duration, check func(s *alert.State)) {
	e.RegisterDelayedCallback(func() {
		v, err := e.QueryWorkflow(QueryState)
		if err != nil {
			t.Errorf("query state: %v", err)
			return
		}
		var s alert.State
		if err := v.Get(&s); err != nil {
			t.Errorf("decode state: %v", err)
			return
		}
		check(&s)
	}, after)
}

// stillOpen checks the run never ended by itself: the test environment
// skips time ahead to the run's timeout once nothing else can happen.
func (e *alertEnv) stillOpen(t *testing.T) {
	t.Helper()
	if err := e.GetWorkflowError(); !temporal.IsTimeoutError(err) {
		t.Fatalf("the alert ended with %v, want it still open until the test's timeout", err)
	}
}

func (e *alertEnv) result(t *testing.T) *alert.State {
	t.Helper()
	if !e.IsWorkflowCompleted() {
		t.Fatal("the workflow did not complete")
	}
	if err := e.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	var s alert.State
	if err := e.GetWorkflowResult(&s); err != nil {
		t.Fatalf("workflow result: %v", err)
	}
	return &s
}

func TestAFailedPipelineOpensAHighAlertThatStaysOpen(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	checked := false
	e.stateAt(t, time.Minute, func(s *alert.State) {
		checked = true
		if s.ID != "1-master" || s.Status != alert.StatusOpen || s.Severity != alert.SeverityHigh {
			t.Errorf("state %s %s %s", s.ID, s.Status, s.Severity)
		}
	})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	if !checked {
		t.Fatal("the state was never queried")
	}
	e.stillOpen(t)
	if got := e.kinds(); len(got) != 1 || got[0] != notify.KindOpened {
		t.Fatalf("notifications %v, want [opened]", got)
	}
}

// Under the first rules a cancel could lower an alert; the rules for real
// GitLab traffic never let it (see TestACancelNeverLowersAnOpenAlert).
func TestUnderTheFirstRulesANewerCanceledPipelineLowersSeverityAndKeepsThePeak(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.signalAt(2*time.Second, pipelineEvent(32, "canceled"))
	e.stateAt(t, time.Minute, func(s *alert.State) {
		if s.Severity != alert.SeverityMedium || s.PeakSeverity != alert.SeverityHigh || s.Pipeline.ID != 32 {
			t.Errorf("severity %s peak %s pipeline %d", s.Severity, s.PeakSeverity, s.Pipeline.ID)
		}
	})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: RevisionLean})
	want := []notify.Kind{notify.KindOpened, notify.KindSeverityChanged}
	if got := e.kinds(); !equalKinds(got, want) {
		t.Fatalf("notifications %v, want %v", got, want)
	}
}

func TestStaleAndDuplicateEventsAreRecordedAndChangeNothing(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(32, "failed"))
	e.signalAt(2*time.Second, pipelineEvent(31, "failed")) // older: stale
	e.signalAt(3*time.Second, pipelineEvent(32, "failed")) // same delivery again
	e.stateAt(t, time.Minute, func(s *alert.State) {
		if s.Severity != alert.SeverityHigh || s.Pipeline.ID != 32 {
			t.Errorf("severity %s pipeline %d, want HIGH from 32", s.Severity, s.Pipeline.ID)
		}
		if s.Counts != (alert.Counts{Events: 3, Applied: 1, Stale: 1, Duplicates: 1}) {
			t.Errorf("counts %+v", s.Counts)
		}
		if len(s.Timeline) != 3 || s.Timeline[1].Kind != alert.OutcomeStale || s.Timeline[2].Kind != alert.OutcomeDuplicate {
			t.Errorf("timeline %+v", s.Timeline)
		}
	})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	if got := e.kinds(); !equalKinds(got, []notify.Kind{notify.KindOpened}) {
		t.Fatalf("stale and duplicate events notified: %v", got)
	}
}

func TestASuccessFromTheNewestPipelineResolvesAndCompletes(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.signalAt(time.Hour, pipelineEvent(32, "success"))
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	s := e.result(t)
	if s.Status != alert.StatusResolved || s.Resolution != "pipeline #32 succeeded" || s.ResolvedBy != "alice" {
		t.Fatalf("final state %s %q by %q", s.Status, s.Resolution, s.ResolvedBy)
	}
	if !s.ResolvedAt.Equal(s.OpenedAt.Add(time.Hour - time.Second)) {
		t.Fatalf("opened %v resolved %v: workflow time must be used", s.OpenedAt, s.ResolvedAt)
	}
	want := []notify.Kind{notify.KindOpened, notify.KindResolved}
	if got := e.kinds(); !equalKinds(got, want) {
		t.Fatalf("notifications %v, want %v", got, want)
	}
}

func TestASuccessFromAnOlderPipelineDoesNotResolve(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(32, "failed"))
	e.signalAt(2*time.Second, pipelineEvent(31, "success"))
	e.stateAt(t, time.Minute, func(s *alert.State) {
		if s.Status != alert.StatusOpen || s.Counts.Stale != 1 {
			t.Errorf("status %s stale %d, want open with one stale event", s.Status, s.Counts.Stale)
		}
	})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	e.stillOpen(t)
}

func TestAFailureRightAfterTheResolveContinuesIntoANewAlert(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	// Both arrive before the run can complete: the failure must not be lost.
	e.signalAt(time.Minute, pipelineEvent(32, "success"), pipelineEvent(33, "failed"))
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	next := continued(t, e)
	if next.State != nil || len(next.Pending) != 1 || next.Pending[0].Pipeline.ID != 33 {
		t.Fatalf("next input %+v, want a fresh alert with pipeline 33 pending", next)
	}
	want := []notify.Kind{notify.KindOpened, notify.KindResolved}
	if got := e.kinds(); !equalKinds(got, want) {
		t.Fatalf("notifications %v, want %v", got, want)
	}

	// The continued run opens the new alert from the carried event.
	e2 := newAlertEnv(t)
	e2.stateAt(t, time.Minute, func(s *alert.State) {
		if s.Status != alert.StatusOpen || s.Pipeline.ID != 33 || s.Counts.Events != 1 {
			t.Errorf("continued run: status %s pipeline %d events %d", s.Status, s.Pipeline.ID, s.Counts.Events)
		}
	})
	e2.ExecuteWorkflow(AlertWorkflow, *next)
	if got := e2.kinds(); !equalKinds(got, []notify.Kind{notify.KindOpened}) {
		t.Fatalf("continued run notifications %v", got)
	}
}

func TestAStaleFailureAfterTheResolveIsNotCarried(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.signalAt(time.Minute, pipelineEvent(33, "success"), pipelineEvent(32, "failed"))
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	s := e.result(t)
	if s.Status != alert.StatusResolved || s.Counts.Stale != 1 {
		t.Fatalf("status %s stale %d", s.Status, s.Counts.Stale)
	}
}

func TestTheRunContinuesAsNewWhenItsHistoryIsLong(t *testing.T) {
	tests := []struct {
		name string
		full func(e *alertEnv)
	}{
		{"past the configured length", func(e *alertEnv) { e.SetCurrentHistoryLength(30) }},
		{"when the server suggests it", func(e *alertEnv) { e.SetContinueAsNewSuggested(true) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAlertEnv(t)
			// Every event notifies, so that a notification is in flight when
			// the run continues: the SDK's test environment delivers the
			// second signal of a batch only after the first one's task.
			e.signalAt(time.Second, pipelineEvent(1, "skipped"))
			e.signalAt(2*time.Second, pipelineEvent(2, "canceled"))
			e.RegisterDelayedCallback(func() { tt.full(e) }, 3*time.Second)
			// Both in one workflow task, as signals that arrive while the
			// worker is busy come: the server fails a task that continues
			// as new while a signal it has not seen is waiting, and the
			// SDK's test environment does not.
			e.RegisterDelayedCallback(func() {
				e.SignalWorkflowSkippingWorkflowTask(SignalPipeline, pipelineEvent(3, "failed"))
				e.SignalWorkflow(SignalPipeline, pipelineEvent(2, "failed"))
			}, 4*time.Second)
			e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision, MaxHistory: 30})
			next := continued(t, e)
			s := next.State
			if s == nil || s.Status != alert.StatusOpen || s.Severity != alert.SeverityHigh || next.MaxHistory != 30 {
				t.Fatalf("carried input %+v", next)
			}
			// Signals pending at the switch are applied before it, not dropped.
			if s.Counts != (alert.Counts{Events: 4, Applied: 3, Stale: 1}) || len(s.Timeline) != 4 {
				t.Fatalf("carried counts %+v, timeline %+v", s.Counts, s.Timeline)
			}

			// The continued run still knows the keys: a duplicate stays one.
			e2 := newAlertEnv(t)
			e2.signalAt(time.Second, pipelineEvent(3, "failed"))
			e2.stateAt(t, time.Minute, func(s *alert.State) {
				if s.Counts.Duplicates != 1 || s.Counts.Events != 5 || s.Status != alert.StatusOpen {
					t.Errorf("after continue-as-new: counts %+v status %s", s.Counts, s.Status)
				}
			})
			e2.ExecuteWorkflow(AlertWorkflow, *next)
			e2.stillOpen(t)
			// It sends what the run before handed over undelivered, and
			// nothing else.
			var carried []notify.Kind
			for _, n := range next.Undelivered {
				carried = append(carried, n.Kind)
			}
			if got := e2.kinds(); !equalKinds(got, carried) {
				t.Fatalf("the continued run notified %v, want the %v handed over", got, carried)
			}
		})
	}
}

func equalKinds(a, b []notify.Kind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// continued returns the input the run continued as new with.
func continued(t *testing.T, e *alertEnv) *Input {
	t.Helper()
	var can *workflow.ContinueAsNewError
	if err := e.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow error %v, want continue-as-new", err)
	}
	var next Input
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	return &next
}

func TestCarriedEventsThatResolveAndFailAgainCarryTheLastFailureOn(t *testing.T) {
	e := newAlertEnv(t)
	// Carried from a closing run: a new alert, its resolve, and a failure
	// after that second resolve, which must not be lost either.
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision, Pending: []alert.Event{
		pipelineEvent(3, "canceled"), pipelineEvent(4, "success"), pipelineEvent(5, "failed"), pipelineEvent(6, "skipped"),
	}})
	next := continued(t, e)
	if len(next.Pending) != 2 || next.Pending[0].Pipeline.ID != 5 || next.Pending[1].Pipeline.ID != 6 {
		t.Fatalf("carried on %+v, want pipelines 5 and 6", next.Pending)
	}
	e2 := newAlertEnv(t)
	e2.stateAt(t, time.Minute, func(s *alert.State) {
		// The skip after the failure carries no verdict: it lowers nothing.
		if s.Status != alert.StatusOpen || s.Pipeline.ID != 5 || s.Severity != alert.SeverityHigh || s.PeakSeverity != alert.SeverityHigh {
			t.Errorf("third alert: %s, pipeline %d, %s peak %s", s.Status, s.Pipeline.ID, s.Severity, s.PeakSeverity)
		}
	})
	e2.ExecuteWorkflow(AlertWorkflow, *next)
	e2.stillOpen(t)
}

// Continue-as-new starts a run with no history to replay, so it is where an
// alert of an older revision moves to the current one.
func TestContinueAsNewMovesAnOlderRunToTheCurrentRevision(t *testing.T) {
	tests := []struct {
		name  string
		in    Input
		steps func(e *alertEnv)
	}{
		{
			name: "a long history",
			in:   Input{Revision: RevisionFirst, MaxHistory: 30},
			steps: func(e *alertEnv) {
				e.signalAt(time.Second, pipelineEvent(31, "failed"))
				e.RegisterDelayedCallback(func() { e.SetCurrentHistoryLength(30) }, 2*time.Second)
				e.signalAt(3*time.Second, pipelineEvent(32, "canceled"))
			},
		},
		{
			name: "a failure after the resolve",
			in:   Input{Revision: RevisionFirst},
			steps: func(e *alertEnv) {
				e.signalAt(time.Second, pipelineEvent(31, "failed"))
				e.signalAt(time.Minute, pipelineEvent(32, "success"), pipelineEvent(33, "failed"))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAlertEnv(t)
			tt.steps(e)
			e.ExecuteWorkflow(AlertWorkflow, tt.in)
			if next := continued(t, e); next.Revision != CurrentRevision {
				t.Errorf("continued with revision %d, want %d", next.Revision, CurrentRevision)
			}
		})
	}
}

// Both ways a run continues as new (its history is full; a failure came
// after the resolve) hand the next run the whole configuration: a field
// of Input that is neither the alert nor what the ID keeps must carry
// over, including one added later.
func TestContinueAsNewKeepsEveryConfigurationFieldBothWays(t *testing.T) {
	perRun := map[string]bool{
		"State": true, "Pending": true, "Undelivered": true, "Routed": true, "Handed": true,
		"Revision": true, "Limits": true, "Rules": true, "Memory": true,
	}
	in := Input{
		Revision: CurrentRevision, MaxHistory: 30, MaxHistoryBytes: 1 << 20, ReminderInterval: time.Hour,
		AutoResolveAfter: 48 * time.Hour, Reconcile: &Reconcile{Every: 2 * time.Hour},
	}
	for name, steps := range map[string]func(e *alertEnv){
		"a full history": func(e *alertEnv) {
			e.signalAt(time.Second, pipelineEvent(31, "failed"))
			e.RegisterDelayedCallback(func() { e.SetCurrentHistoryLength(30) }, 2*time.Second)
			e.signalAt(3*time.Second, pipelineEvent(32, "canceled"))
		},
		"a failure after the resolve": func(e *alertEnv) {
			e.signalAt(time.Second, pipelineEvent(31, "failed"))
			e.signalAt(time.Minute, pipelineEvent(32, "success"), pipelineEvent(33, "failed"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newAlertEnv(t)
			e.OnActivity(activities.ActivityReconcile, mock.Anything, mock.Anything).Return(alert.Reconciled{}, nil).Maybe()
			steps(e)
			e.ExecuteWorkflow(AlertWorkflow, in)
			next := reflect.ValueOf(*continued(t, e))
			want := reflect.ValueOf(in)
			for i := range want.NumField() {
				f := want.Type().Field(i).Name
				if perRun[f] {
					continue
				}
				if want.Field(i).IsZero() {
					t.Fatalf("the test sets no %s: set one, so that it is checked", f)
				}
				if !reflect.DeepEqual(next.Field(i).Interface(), want.Field(i).Interface()) {
					t.Errorf("continued with %s %v, want %v", f, next.Field(i).Interface(), want.Field(i).Interface())
				}
			}
		})
	}
}
