package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// timerKind says what a timer is for. It is the timer's summary in the
// history, user metadata that replay does not compare: `temporal workflow
// show` says which timer fired, and the history-coverage test finds every
// kind in the recorded histories.
type timerKind string

// The kinds of AlertWorkflow's timers.
const (
	timerSnoozeEnd   timerKind = "snooze_end"
	timerEscalation  timerKind = "escalation"
	timerSilenceEnd  timerKind = "silence_end"
	timerReminder    timerKind = "reminder"
	timerHold        timerKind = "hold"
	timerAutoResolve timerKind = "auto_resolve"
	timerStable      timerKind = "stable"
	timerReconcile   timerKind = "reconcile"
)

// The kinds of the other workflows' timers.
const (
	// timerMonitorDue wakes a monitor at its next deadline.
	timerMonitorDue timerKind = "monitor_due"
	// timerReleaseAgain waits before a silence releases its alerts again.
	timerReleaseAgain timerKind = "release_again"
)

// alertTimerKinds are the kinds of AlertWorkflow's timers, each with the
// least its timer waits: one due already (the worker was down, the run
// continued as new) fires after that. The floors are those the timers
// were recorded with.
var alertTimerKinds = map[timerKind]time.Duration{
	timerSnoozeEnd:   time.Millisecond,
	timerEscalation:  time.Millisecond,
	timerSilenceEnd:  time.Millisecond,
	timerReminder:    time.Second,
	timerHold:        time.Millisecond,
	timerAutoResolve: time.Second,
	timerStable:      time.Millisecond,
	timerReconcile:   time.Second,
}

// newTimer starts a timer of kind that fires after d, with the kind as
// its summary.
func newTimer(ctx workflow.Context, kind timerKind, d time.Duration) workflow.Future {
	return workflow.NewTimerWithOptions(ctx, d, workflow.TimerOptions{Summary: string(kind)})
}

// timer is one of AlertWorkflow's timers: at most one runs at a time, and
// it can be cancelled.
type timer struct {
	kind   timerKind
	future workflow.Future
	cancel workflow.CancelFunc
	// at is when the running timer fires.
	at time.Time
}

// running says a timer was started and has neither fired nor stopped.
func (t *timer) running() bool {
	return t.future != nil
}

// start returns the running timer, or starts one that fires at at (or
// after the kind's floor, when at is that close or past).
func (t *timer) start(ctx workflow.Context, at time.Time) workflow.Future {
	if t.future == nil {
		tctx, cancel := workflow.WithCancel(ctx)
		d := max(at.Sub(workflow.Now(ctx)), alertTimerKinds[t.kind])
		t.future, t.cancel, t.at = newTimer(tctx, t.kind, d), cancel, at
	}
	return t.future
}

// until returns the timer firing at at, starting it again when at moved;
// a zero at (nothing due) stops it and returns nil.
func (t *timer) until(ctx workflow.Context, at time.Time) workflow.Future {
	if at.IsZero() {
		t.stop()
		return nil
	}
	if t.running() && !t.at.Equal(at) {
		t.stop()
	}
	return t.start(ctx, at)
}

// stop cancels the running timer, if any.
func (t *timer) stop() {
	if t.running() {
		t.cancel()
		t.fired()
	}
}

// fired forgets the timer once it fired (or was cancelled).
func (t *timer) fired() {
	t.future, t.cancel = nil, nil
}
