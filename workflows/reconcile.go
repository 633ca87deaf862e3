package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
)

// UpdateReconcile asks GitLab's API about the alert's ref now and applies
// what it says (RevisionReconciled on); it carries an alert.ReconcileRequest
// and answers with the alert.
const UpdateReconcile = "reconcile"

// ErrTypeNotReconciled: an alert whose GitLab instance has no API
// configured, or that was started before reconciliation, cannot be
// reconciled.
const ErrTypeNotReconciled = "AlertNotReconciled"

// Reconcile is how an alert checks GitLab's API for what GitLab never
// delivered. The intake sets it for the alerts of instances whose API is
// configured; nil turns reconciliation off.
type Reconcile struct {
	// Every is how long after an alert opens, and then how often while it
	// is open, its ref is checked; zero checks only at reminders and on
	// demand.
	Every time.Duration `json:"every,omitempty"`
}

// reconcileOptions: a check on a schedule may wait out GitLab's rate
// limit (the activity asks for the delay GitLab named), but not past the
// next check.
func reconcileOptions(within time.Duration) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: within,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    5 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Minute,
		},
	}
}

// onDemandWithin bounds a reconcile someone asked for: they are waiting
// for the answer, which the REST API gives within 8 s; a GitLab that asks
// to wait longer leaves a reconcile_failed entry instead.
const onDemandWithin = 6 * time.Second

// reconciles says whether this run checks GitLab's API.
func (r *run) reconciles() bool {
	return r.b.reconciles && r.in.Reconcile != nil
}

// scheduleReconcile sets the first check of an alert people were just
// told of.
func (r *run) scheduleReconcile(now time.Time, out alert.Outcome) {
	if r.reconciles() && r.in.Reconcile.Every > 0 && (out == alert.OutcomeOpened || out == alert.OutcomeFlapping) {
		r.st.NextReconcileAt = now.Add(r.in.Reconcile.Every)
	}
}

// reconcileTimer returns the timer of the next scheduled check, starting
// it when one is due and dropping it once the alert is no longer active.
func (r *run) reconcileTimer(ctx workflow.Context) workflow.Future {
	due := r.reconciles() && r.st.Status.Active() && !r.st.NextReconcileAt.IsZero()
	if !due {
		r.reconcileDue.stop()
		return nil
	}
	return r.reconcileDue.start(ctx, r.st.NextReconcileAt)
}

// reconcileScheduled runs the check that fell due and sets the next one,
// counted from the due time so that a late task shifts nothing.
func (r *run) reconcileScheduled(ctx workflow.Context, timer workflow.Future) {
	r.reconcileDue.fired()
	if timer.Get(ctx, nil) != nil || !r.st.Status.Active() {
		return
	}
	due := r.st.NextReconcileAt
	next := due.Add(r.in.Reconcile.Every)
	if now := workflow.Now(ctx); next.Before(now) {
		next = now.Add(r.in.Reconcile.Every)
	}
	r.st.NextReconcileAt = next
	r.reconcileAside(ctx)
}

// reconcileAside checks GitLab's API beside the main loop, which goes on
// taking deliveries meanwhile; one scheduled check at a time.
func (r *run) reconcileAside(ctx workflow.Context) {
	if !r.reconciles() || r.reconciling {
		return
	}
	r.reconciling = true
	within := r.in.Reconcile.Every
	if within <= 0 || within > time.Hour {
		within = time.Hour
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { r.reconciling = false }()
		r.reconcile(ctx, alert.ResolvedByAlertflow, within)
	})
}

// reconcile reads what GitLab's API says of the ref and applies it, as
// by; a failure to read is recorded and changes nothing.
func (r *run) reconcile(ctx workflow.Context, by string, within time.Duration) {
	actx := workflow.WithActivityOptions(ctx, reconcileOptions(within))
	var res alert.Reconciled
	err := workflow.ExecuteActivity(actx, activities.ActivityReconcile, activities.ReconcileRequest{
		AlertID: r.st.ID, Project: r.st.Project.ID, Ref: r.st.Ref, Tag: r.st.Tag,
	}).Get(ctx, &res)
	if err != nil {
		res = alert.Reconciled{Failed: "GitLab's API: " + failureOf(err)}
	}
	if !r.st.Status.Active() {
		// Resolved while GitLab was asked: nothing left to bring in line.
		return
	}
	r.silenceDue(ctx)
	previous := r.st.Severity
	out := r.st.Reconcile(res, by, workflow.Now(ctx))
	r.changed(ctx, out, r.actorOf(out, by), "", previous)
	r.wake.SendAsync(true)
}

// actorOf is who a reconciled outcome is by: the pipeline's user for a
// resolve by a green pipeline, as a delivery would say, else who asked.
func (r *run) actorOf(out alert.Outcome, by string) string {
	if out == alert.OutcomeResolved && r.st.ResolvedBy != "" {
		return r.st.ResolvedBy
	}
	return by
}

// failureOf is the message of an activity's failure without the SDK's
// wrapping: the application error's own words.
func failureOf(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "no answer in time"
	}
	return err.Error()
}
