package workflows

import (
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
)

// Workflow tests of snooze, in the SDK's test environment, which skips
// time ahead.

func TestASnoozedAlertSkipsItsRemindersThenRemindsOnceAndResumes(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	// Reminders every hour; snoozed for five hours at 30 minutes.
	snooze := e.updateAt(30*time.Minute, UpdateSnooze, alert.SnoozeRequest{By: "alice", For: "5h", Note: "runner migration"})
	e.stateAt(t, 5*time.Hour, func(s *alert.State) {
		if s.Reminders != 0 || s.Snoozed == nil || s.Snoozed.By != "alice" {
			t.Errorf("during the snooze: %d reminders, snooze %+v", s.Reminders, s.Snoozed)
		}
	})
	e.stateAt(t, 6*time.Hour+time.Minute, func(s *alert.State) {
		// The snooze ended at 5h30: one reminder then, one at 6h30 next.
		if s.Reminders != 1 || s.Snoozed != nil || !s.NextReminderAt.Equal(s.Timeline[len(s.Timeline)-1].Time.Add(time.Hour)) {
			t.Errorf("after the snooze: %d reminders, snooze %+v, next %v", s.Reminders, s.Snoozed, s.NextReminderAt)
		}
	})
	e.signalActionAt(7*time.Hour, SignalAcknowledge, alert.Acknowledgement{By: "alice"})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision, ReminderInterval: time.Hour})
	e.stillOpen(t)
	if !snooze.done || snooze.rejected != nil || snooze.err != nil || snooze.state == nil || snooze.state.Snoozed == nil {
		t.Fatalf("snooze update: %+v", snooze)
	}
	want := []notify.Kind{notify.KindOpened, notify.KindReminder, notify.KindReminder, notify.KindAcknowledged}
	if got := e.kinds(); !equalKinds(got, want) {
		t.Fatalf("notifications %v, want %v", got, want)
	}
}

func TestARaisedSeverityEndsTheSnoozeEarly(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "skipped"))
	e.signalActionAt(time.Minute, SignalSnooze, alert.SnoozeRequest{By: "alice", For: "24h"})
	e.signalAt(time.Hour, pipelineEvent(32, "failed"))
	e.stateAt(t, 2*time.Hour, func(s *alert.State) {
		if s.Snoozed != nil || s.Severity != alert.SeverityHigh {
			t.Errorf("after the failure: %s, snooze %+v", s.Severity, s.Snoozed)
		}
	})
	e.signalActionAt(10*time.Hour, SignalResolve, alert.Resolution{By: "bob"})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision, ReminderInterval: 4 * time.Hour})
	e.result(t)
	// The raise is heard at once; reminders come back four hours after it
	// (at 5h and 9h), and the snooze's planned end sends nothing.
	want := []notify.Kind{notify.KindOpened, notify.KindSeverityChanged, notify.KindReminder, notify.KindReminder, notify.KindResolved}
	if got := e.kinds(); !equalKinds(got, want) {
		t.Fatalf("notifications %v, want %v", got, want)
	}
}

func TestASnoozeUpdateIsValidated(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	tooLong := e.updateAt(time.Minute, UpdateSnooze, alert.SnoozeRequest{By: "alice", For: "8d"})
	negative := e.updateAt(2*time.Minute, UpdateSnooze, alert.SnoozeRequest{By: "alice", For: "-1h"})
	nobody := e.updateAt(3*time.Minute, UpdateSnooze, alert.SnoozeRequest{For: "1h"})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	e.stillOpen(t)
	for name, res := range map[string]*updateResult{"8d": tooLong, "-1h": negative, "no by": nobody} {
		if !res.done || res.rejected == nil {
			t.Errorf("%s: %+v, want rejected by the validator", name, res)
		}
	}
}
