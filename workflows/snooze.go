package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
)

// Snoozing an alert (RevisionRouted on): no reminders until the snooze
// ends; then, if the alert is still open and nobody acknowledged it, one
// reminder of where it stands, and reminders resume. A raised severity
// ends the snooze early: its own notification is what people must hear.

func (r *run) snooze(ctx workflow.Context, req alert.SnoozeRequest) error {
	if err := r.st.SnoozeFor(req, workflow.Now(ctx)); err != nil {
		return rejection(err)
	}
	if r.b.keepsMessages {
		// A message kept for the alert shows the snooze.
		r.queue(ctx, notify.KindUpdated, req.By, req.Note, r.st.Severity)
	}
	r.dirty = true
	r.wake.SendAsync(true)
	return nil
}

// snoozeTimer returns the timer that ends the snooze, starting it when the
// alert is snoozed, and starting it again when a new snooze moved the end.
func (r *run) snoozeTimer(ctx workflow.Context) workflow.Future {
	var until time.Time
	if s := r.st.Snoozed; s != nil && r.st.Status.Active() {
		until = s.Until
	}
	return r.snoozeEnd.until(ctx, until)
}

// endSnooze ends a snooze whose time is up.
func (r *run) endSnooze(ctx workflow.Context, timer workflow.Future) {
	r.snoozeEnd.fired()
	if timer.Get(ctx, nil) != nil || r.st.Snoozed == nil {
		return
	}
	now := workflow.Now(ctx)
	r.dirty = true
	if !r.st.EndSnooze(now, "the snooze is over") {
		return
	}
	next := time.Time{}
	if r.in.ReminderInterval > 0 {
		next = now.Add(r.in.ReminderInterval)
	}
	r.st.Remind(now, next)
	r.changed(ctx, alert.OutcomeReminder, "", "", r.st.Severity)
}

// raisedWhileSnoozed ends the snooze of an alert whose severity went up.
func (r *run) raisedWhileSnoozed(ctx workflow.Context, out alert.Outcome, previous alert.Severity) {
	if r.st.Snoozed == nil || out != alert.OutcomeSeverityChanged || !r.st.Severity.Above(previous) {
		return
	}
	now := workflow.Now(ctx)
	r.st.EndSnooze(now, fmt.Sprintf("severity raised to %s", r.st.Severity))
	if r.in.ReminderInterval > 0 {
		r.st.NextReminderAt = now.Add(r.in.ReminderInterval)
	}
}
