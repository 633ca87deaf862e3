package workflows

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
)

// updateAt sends an update at an offset from the start and records how it
// ended: rejected by the validator, or completed with a state or an error.
type updateResult struct {
	rejected error
	state    *alert.State
	err      error
	done     bool
}

func (e *alertEnv) updateAt(after time.Duration, name string, arg any) *updateResult {
	res := &updateResult{}
	e.RegisterDelayedCallback(func() {
		e.UpdateWorkflow(name, name+after.String(), &testsuite.TestUpdateCallback{
			OnReject: func(err error) { res.rejected, res.done = err, true },
			OnComplete: func(v any, err error) {
				res.err, res.done = err, true
				if s, ok := v.(*alert.State); ok {
					res.state = s
				}
			},
		}, arg)
	}, after)
	return res
}

func (e *alertEnv) signalActionAt(after time.Duration, name string, arg any) {
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(name, arg) }, after)
}

func TestAcknowledgeThenResolveByUpdate(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	ack := e.updateAt(time.Minute, UpdateAcknowledge, alert.Acknowledgement{By: "alice", Note: "looking"})
	// Acknowledged alerts keep following their pipelines.
	e.signalAt(2*time.Minute, pipelineEvent(32, "skipped"), pipelineEvent(33, "failed"))
	res := e.updateAt(time.Hour, UpdateResolve, alert.Resolution{By: "bob", Reason: "flaky runner"})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})

	if !ack.done || ack.rejected != nil || ack.err != nil || ack.state == nil || ack.state.Status != alert.StatusAcknowledged {
		t.Fatalf("acknowledge update: %+v", ack)
	}
	if !res.done || res.rejected != nil || res.err != nil || res.state.Status != alert.StatusResolved {
		t.Fatalf("resolve update: %+v", res)
	}
	s := e.result(t)
	if s.AcknowledgedBy != "alice" || s.ResolvedBy != "bob" || s.Resolution != "resolved by hand: flaky runner" || s.Pipeline.ID != 33 {
		t.Fatalf("final state ack %q resolved %q %q severity %s", s.AcknowledgedBy, s.ResolvedBy, s.Resolution, s.Severity)
	}
	want := []notify.Kind{notify.KindOpened, notify.Kind(alert.OutcomeAcknowledged), notify.KindResolved}
	if got := e.kinds(); !equalKinds(got, want) {
		t.Fatalf("notifications %v, want %v", got, want)
	}
}

func TestResolveBySignalFromOpen(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.signalActionAt(time.Minute, SignalResolve, alert.Resolution{By: "alice", Reason: "known outage"})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	s := e.result(t)
	if s.Status != alert.StatusResolved || s.ResolvedBy != "alice" || s.AcknowledgedBy != "" {
		t.Fatalf("final state %s by %q", s.Status, s.ResolvedBy)
	}
}

func TestAcknowledgeBySignalIsLikeTheUpdate(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.signalActionAt(time.Minute, SignalAcknowledge, alert.Acknowledgement{By: "carol"})
	e.stateAt(t, time.Hour, func(s *alert.State) {
		if s.Status != alert.StatusAcknowledged || s.AcknowledgedBy != "carol" {
			t.Errorf("state %s by %q", s.Status, s.AcknowledgedBy)
		}
	})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	e.stillOpen(t)
}

func TestValidatorsRejectBadUpdatesAndChangeNothing(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	noBy := e.updateAt(time.Minute, UpdateAcknowledge, alert.Acknowledgement{Note: "who am I"})
	blankBy := e.updateAt(2*time.Minute, UpdateResolve, alert.Resolution{By: "  ", Reason: "x"})
	e.stateAt(t, time.Hour, func(s *alert.State) {
		if s.Status != alert.StatusOpen || len(s.Timeline) != 1 {
			t.Errorf("rejected updates changed the alert: %s, %d entries", s.Status, len(s.Timeline))
		}
	})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	for name, u := range map[string]*updateResult{"ack without by": noBy, "resolve with a blank by": blankBy} {
		var appErr *temporal.ApplicationError
		if !errors.As(u.rejected, &appErr) || appErr.Type() != ErrTypeInvalidInput || !strings.Contains(u.rejected.Error(), `"by" is required`) {
			t.Errorf("%s: rejected with %v, want %s", name, u.rejected, ErrTypeInvalidInput)
		}
	}
}

func TestAnUpdateOnAResolvedAlertIsRejected(t *testing.T) {
	// The resolved notification is slow, so the resolved run is still there
	// when the acknowledgement arrives.
	e := newAlertEnv(t, time.Hour)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.signalAt(time.Minute, pipelineEvent(32, "success"))
	late := e.updateAt(2*time.Minute, UpdateAcknowledge, alert.Acknowledgement{By: "alice"})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	var appErr *temporal.ApplicationError
	if !errors.As(late.rejected, &appErr) || appErr.Type() != ErrTypeResolved {
		t.Fatalf("late acknowledge: %+v, want rejected as %s", late, ErrTypeResolved)
	}
	if s := e.result(t); s.AcknowledgedBy != "" {
		t.Fatalf("a resolved alert was acknowledged by %q", s.AcknowledgedBy)
	}
}

func TestARejectedSignalIsKeptInTheTimeline(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.signalActionAt(time.Minute, SignalResolve, alert.Resolution{Reason: "no name given"})
	e.stateAt(t, time.Hour, func(s *alert.State) {
		last := s.Timeline[len(s.Timeline)-1]
		if s.Status != alert.StatusOpen || last.Kind != alert.OutcomeRejected || !strings.Contains(last.Note, `"by" is required`) {
			t.Errorf("status %s, last entry %+v", s.Status, last)
		}
	})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	e.stillOpen(t)
}

func TestRemindersFireOnScheduleAndStopOnAcknowledge(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	// Opened at 1s: reminders at 4h+1s and 8h+1s; acknowledged at 9h.
	e.stateAt(t, 4*time.Hour, func(s *alert.State) {
		if s.Reminders != 0 {
			t.Errorf("reminded before the interval: %d", s.Reminders)
		}
	})
	e.stateAt(t, 8*time.Hour+time.Minute, func(s *alert.State) {
		if s.Reminders != 2 {
			t.Errorf("%d reminders after 8h, want 2", s.Reminders)
		}
	})
	e.signalActionAt(9*time.Hour, SignalAcknowledge, alert.Acknowledgement{By: "alice"})
	e.stateAt(t, 30*time.Hour, func(s *alert.State) {
		if s.Reminders != 2 || !s.NextReminderAt.IsZero() {
			t.Errorf("reminders went on after the acknowledge: %d, next %v", s.Reminders, s.NextReminderAt)
		}
	})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision, ReminderInterval: 4 * time.Hour})
	want := []notify.Kind{notify.KindOpened, notify.KindReminder, notify.KindReminder, notify.KindAcknowledged}
	if got := e.kinds(); !equalKinds(got, want) {
		t.Fatalf("notifications %v, want %v", got, want)
	}
}

func TestNoRemindersWhenTheIntervalIsZero(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.stateAt(t, 100*time.Hour, func(s *alert.State) {
		if s.Reminders != 0 {
			t.Errorf("%d reminders with reminders off", s.Reminders)
		}
	})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
}

func TestRemindersKeepTheirScheduleAcrossContinueAsNew(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(1, "failed"))
	e.RegisterDelayedCallback(func() { e.SetContinueAsNewSuggested(true) }, time.Hour)
	e.signalAt(time.Hour+time.Second, pipelineEvent(2, "failed"))
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision, ReminderInterval: 4 * time.Hour})
	next := continued(t, e)
	if next.State.NextReminderAt.IsZero() || next.ReminderInterval != 4*time.Hour {
		t.Fatalf("carried reminder %v every %v", next.State.NextReminderAt, next.ReminderInterval)
	}
	due := next.State.NextReminderAt

	e2 := newAlertEnv(t)
	e2.SetStartTime(due.Add(-3 * time.Hour))
	e2.stateAt(t, 3*time.Hour-time.Minute, func(s *alert.State) {
		if s.Reminders != 0 {
			t.Errorf("reminded early after continue-as-new")
		}
	})
	e2.stateAt(t, 3*time.Hour+time.Minute, func(s *alert.State) {
		if s.Reminders != 1 {
			t.Errorf("%d reminders at the carried time, want 1", s.Reminders)
		}
	})
	// Otherwise the test environment would skip through years of reminders.
	e2.signalActionAt(3*time.Hour+2*time.Minute, SignalResolve, alert.Resolution{By: "alice"})
	e2.ExecuteWorkflow(AlertWorkflow, *next)
	if s := e2.result(t); s.Reminders != 1 {
		t.Fatalf("%d reminders in the continued run, want 1", s.Reminders)
	}
}
