package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
)

// What an alert does beyond applying events under alert.RulesGitLab: it
// recalls its ID's memory, ends holds, resolves itself when it has gone
// quiet, and takes branch deletions. Each runs only in RevisionGitLab runs
// or in states that only those create, so older histories replay as they
// were recorded.

// recallOptions bound the recall: two reads of the server, retried while
// the visibility store catches up (up to a minute under a backlog); without
// an answer the alert starts with an empty memory rather than not at all.
// The first retries come soon: visibility usually lists a new run within
// a few hundred milliseconds, and the SDK's default first retry, after a
// second, was the slowest alerts' time to notify (about 1.1 s, make bench,
// scenario silences). Backoffs stay under the workflow task timeout, so
// the retries stay in the worker rather than becoming server timers.
func recallOptions() workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		StartToCloseTimeout:    5 * time.Second,
		ScheduleToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    100 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    2 * time.Second,
		},
	}
}

// recall returns what the alert's ID remembers: handed over by the run
// before, or read from the last completed run on the ID.
func (r *run) recall(ctx workflow.Context) alert.Memory {
	if r.in.Memory != nil {
		return *r.in.Memory
	}
	info := workflow.GetInfo(ctx)
	var mem *alert.Memory
	lctx := workflow.WithLocalActivityOptions(ctx, recallOptions())
	err := workflow.ExecuteLocalActivity(lctx, activities.ActivityRecall, info.WorkflowExecution.ID, info.WorkflowExecution.RunID).Get(ctx, &mem)
	if err != nil {
		workflow.GetLogger(ctx).Error("Recalling the last alert on this ID failed; starting without its memory", "Error", err)
	}
	if mem == nil {
		return alert.Memory{}
	}
	return *mem
}

// deleted resolves the alert of a deleted branch.
func (r *run) deleted(ctx workflow.Context, d alert.Deletion) {
	r.silenceDue(ctx)
	severity := r.st.Severity
	out := r.st.DeleteBranch(d, workflow.Now(ctx))
	r.changed(ctx, out, d.By, "branch deleted", severity)
}

// holdTimer returns the timer that ends a pending alert's hold, starting
// it when the alert is held and cancelling it once the hold is over or
// superseded.
func (r *run) holdTimer(ctx workflow.Context) workflow.Future {
	if r.st.Status != alert.StatusPending || r.st.HoldUntil.IsZero() {
		r.hold.stop()
		return nil
	}
	return r.hold.start(ctx, r.st.HoldUntil)
}

// endHold announces the held alert, if the hold is really over (a newer
// cancel may have moved it on): people hear that it opened.
func (r *run) endHold(ctx workflow.Context, timer workflow.Future) {
	r.hold.fired()
	if timer.Get(ctx, nil) != nil {
		return
	}
	now := workflow.Now(ctx)
	if out, ok := r.st.EndHold(now); ok {
		r.opened(now, out)
		r.changed(ctx, out, r.st.OpenedBy, "", r.st.Severity)
	}
}

// autoResolveTimer returns a timer that fires when the alert would have
// gone without events for Input.AutoResolveAfter. Events do not restart
// it: when it fires early, the next one is set from the newest event.
func (r *run) autoResolveTimer(ctx workflow.Context) workflow.Future {
	after := r.in.AutoResolveAfter
	if !r.b.autoResolves || after <= 0 || r.st.LastEventAt.IsZero() || !r.st.Status.Active() && r.st.Status != alert.StatusPending {
		// A timer already running is left to run, not stopped: the
		// recorded histories have it so.
		return nil
	}
	return r.autoResolve.start(ctx, r.st.LastEventAt.Add(after))
}

func (r *run) autoResolved(ctx workflow.Context, timer workflow.Future) {
	r.autoResolve.fired()
	if timer.Get(ctx, nil) != nil {
		return
	}
	severity := r.st.Severity
	if out := r.st.AutoResolve(r.in.AutoResolveAfter, workflow.Now(ctx)); out != "" {
		r.changed(ctx, out, alert.ResolvedByAlertflow, "no pipeline event for "+r.in.AutoResolveAfter.String(), severity)
	}
}
