package workflows

import (
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
)

// Workflow tests of the rules for real GitLab traffic: the timers and the
// memory that alert.RulesGitLab needs from Temporal, in the SDK's test
// environment, which skips time ahead.

const testHold = time.Minute

func gitlabInput() Input {
	return Input{Revision: CurrentRevision, Rules: alert.Rules{Hold: testHold}}
}

func running(id int64) alert.Event {
	ev := pipelineEvent(id, "running")
	ev.Pipeline.FinishedAt = time.Time{}
	return ev
}

func TestACancelWithNoSuccessorOpensMediumOnceTheHoldIsOver(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "canceled"))
	e.stateAt(t, 30*time.Second, func(s *alert.State) {
		if s.Status != alert.StatusPending || !s.Quiet {
			t.Errorf("during the hold: %s quiet %v", s.Status, s.Quiet)
		}
	})
	e.stateAt(t, 2*time.Minute, func(s *alert.State) {
		if s.Status != alert.StatusOpen || s.Severity != alert.SeverityMedium || s.Quiet {
			t.Errorf("after the hold: %s %s quiet %v", s.Status, s.Severity, s.Quiet)
		}
	})
	e.ExecuteWorkflow(AlertWorkflow, gitlabInput())
	e.stillOpen(t)
	if got := e.kinds(); !equalKinds(got, []notify.Kind{notify.KindOpened}) {
		t.Fatalf("notifications %v, want one opened", got)
	}
}

func TestACancelSupersededByANewerPipelinePagesNobody(t *testing.T) {
	tests := []struct {
		name  string
		last  alert.Event
		want  []notify.Kind
		ended bool
	}{
		{"and its success resolves quietly", pipelineEvent(32, "success"), nil, true},
		{"and its failure opens one HIGH alert", pipelineEvent(32, "failed"), []notify.Kind{notify.KindOpened}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAlertEnv(t)
			e.signalAt(time.Second, pipelineEvent(31, "canceled"))
			e.signalAt(10*time.Second, running(32))
			// Long after the hold would have ended.
			e.signalAt(10*time.Minute, tt.last)
			e.ExecuteWorkflow(AlertWorkflow, gitlabInput())
			if tt.ended {
				if s := e.result(t); s.Status != alert.StatusResolved || !s.Quiet {
					t.Fatalf("ended %s quiet %v", s.Status, s.Quiet)
				}
			} else {
				e.stillOpen(t)
			}
			if got := e.kinds(); !equalKinds(got, tt.want) {
				t.Fatalf("notifications %v, want %v", got, tt.want)
			}
			if len(tt.want) == 1 {
				e2 := e.notifiedSeverities()
				if len(e2) != 1 || e2[0] != alert.SeverityHigh {
					t.Fatalf("opened with %v, want HIGH", e2)
				}
			}
		})
	}
}

func TestACancelNeverLowersAnOpenAlert(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.signalAt(time.Minute, pipelineEvent(32, "canceled"), pipelineEvent(33, "skipped"))
	e.stateAt(t, time.Hour, func(s *alert.State) {
		if s.Severity != alert.SeverityHigh || s.Pipeline.ID != 31 || s.Counts.Ignored != 2 {
			t.Errorf("severity %s pipeline %d counts %+v", s.Severity, s.Pipeline.ID, s.Counts)
		}
	})
	e.ExecuteWorkflow(AlertWorkflow, gitlabInput())
	e.stillOpen(t)
	if got := e.kinds(); !equalKinds(got, []notify.Kind{notify.KindOpened}) {
		t.Fatalf("notifications %v", got)
	}
}

func TestAFreshAlertRecallsTheLastAlertsEndAndOpensNothingForAStaleDelivery(t *testing.T) {
	e := newAlertEnvWithRecall(t, &alert.Memory{Verdict: alert.Mark{Family: 40, ID: 40}, Closed: alert.Mark{Family: 40, ID: 40}, Newest: 40})
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.ExecuteWorkflow(AlertWorkflow, gitlabInput())
	s := e.result(t)
	if s.Status != alert.StatusNone || s.Counts.Stale != 1 || len(e.kinds()) != 0 {
		t.Fatalf("status %q counts %+v notifications %v", s.Status, s.Counts, e.kinds())
	}
	if s.Memory.Closed.ID != 40 {
		t.Fatalf("the run lost the memory it recalled: %+v", s.Memory)
	}
}

func TestAnAlertWithNoEventForTheIntervalResolvesItself(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	// An event half-way restarts the count.
	e.signalAt(4*24*time.Hour, pipelineEvent(32, "failed"))
	e.stateAt(t, 8*24*time.Hour, func(s *alert.State) {
		if s.Status != alert.StatusOpen {
			t.Errorf("resolved %s after %s, counting from the first event", s.Resolution, s.ResolvedAt.Sub(s.OpenedAt))
		}
	})
	in := gitlabInput()
	in.AutoResolveAfter = 7 * 24 * time.Hour
	e.ExecuteWorkflow(AlertWorkflow, in)
	s := e.result(t)
	if s.ResolvedBy != alert.ResolvedByAlertflow || s.ResolvedAt.Sub(s.LastEventAt) != in.AutoResolveAfter {
		t.Fatalf("resolved by %q at %s after the last event", s.ResolvedBy, s.ResolvedAt.Sub(s.LastEventAt))
	}
	if got := e.kinds(); !equalKinds(got, []notify.Kind{notify.KindOpened, notify.KindResolved}) {
		t.Fatalf("notifications %v", got)
	}
}

func TestDeletingTheBranchResolvesItsAlert(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.RegisterDelayedCallback(func() {
		e.SignalWorkflow(SignalBranchDeleted, alert.Deletion{By: "bob"})
	}, time.Hour)
	e.ExecuteWorkflow(AlertWorkflow, gitlabInput())
	s := e.result(t)
	if s.ResolvedBy != alert.ResolvedByGitLab || s.Resolution != "branch deleted by bob" || s.Counts.Events != 2 {
		t.Fatalf("resolved by %q: %q, counts %+v", s.ResolvedBy, s.Resolution, s.Counts)
	}
	if got := e.kinds(); !equalKinds(got, []notify.Kind{notify.KindOpened, notify.KindResolved}) {
		t.Fatalf("notifications %v", got)
	}
}

func TestAFullRunContinuesAsNewWithoutWaitingForASlowSinkAndHandsItsNotificationOver(t *testing.T) {
	// Every notification takes an hour to deliver: a receiver that is down.
	e := newAlertEnv(t, time.Hour)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.RegisterDelayedCallback(func() { e.SetCurrentHistoryLength(DefaultMaxHistory) }, time.Minute)
	e.signalAt(2*time.Minute, pipelineEvent(32, "failed"))
	e.ExecuteWorkflow(AlertWorkflow, gitlabInput())
	next := continued(t, e)
	if len(next.Undelivered) != 1 || next.Undelivered[0].Kind != notify.KindOpened {
		t.Fatalf("handed over %+v, want the opened notification", next.Undelivered)
	}
	if next.State == nil || next.State.Counts.Events != 2 {
		t.Fatalf("carried state %+v", next.State)
	}
}
