package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// deadline is a timer that fires at a time, started again when the time
// moves: the end of a snooze, the end of a silence.
type deadline struct {
	timer  workflow.Future
	cancel workflow.CancelFunc
	at     time.Time
}

// until returns the timer firing at t, starting it when none runs or t
// moved; a zero t (nothing due) cancels it and returns nil.
func (d *deadline) until(ctx workflow.Context, t time.Time) workflow.Future {
	if t.IsZero() {
		if d.timer != nil {
			d.cancel()
			d.fired()
		}
		return nil
	}
	if d.timer != nil && !d.at.Equal(t) {
		d.cancel()
		d.timer = nil
	}
	if d.timer == nil {
		tctx, cancel := workflow.WithCancel(ctx)
		d.timer, d.cancel, d.at = workflow.NewTimer(tctx, max(t.Sub(workflow.Now(ctx)), time.Millisecond)), cancel, t
	}
	return d.timer
}

// fired forgets the timer once it fired (or was cancelled).
func (d *deadline) fired() {
	d.timer, d.cancel = nil, nil
}
