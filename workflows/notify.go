package workflows

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
)

// notifyNamespace makes notification IDs stable across activity retries and
// replays: they derive from the alert, the run and the timeline position of
// the transition, not from randomness.
var notifyNamespace = uuid.MustParse("4b7d2f43-8a3c-4e0e-9d64-5b1c1a0c6d9e")

// sinkActivities are scheduled for every notification, one activity each,
// so that a failing sink is retried without re-sending through the others.
// Their order is part of the workflow's history: changing it breaks replay.
func sinkActivities() []string {
	return []string{activities.ActivityNotifyLog, activities.ActivityNotifyWebhook, activities.ActivityNotifySlack}
}

// notifyOptions bound each attempt, so a hung receiver cannot hold a
// notification, and the retries, so a resolved alert completes within the
// hour even when a sink stays down.
func notifyOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	}
}

// settleBeforeContinue bounds how long a run waits for notifications still
// in flight before it continues as new: long enough for a healthy sink,
// short enough that a dead one cannot hold back a storm of signals.
const settleBeforeContinue = time.Minute

// queue records a transition to notify. Notifications are sent by flush,
// once the run has applied every signal that has arrived, so a burst of
// events costs one notification per sink rather than one per event.
func (r *run) queue(ctx workflow.Context, kind activities.Kind, actor, note string, previous alert.Severity) {
	info := workflow.GetInfo(ctx)
	seq := len(r.st.Timeline) + r.st.TimelineDropped
	snapshot := *r.st
	snapshot.Timeline, snapshot.RecentKeys = nil, nil
	n := activities.Notification{
		ID:    uuid.NewSHA1(notifyNamespace, fmt.Appendf(nil, "%s/%s/%d", info.WorkflowExecution.ID, info.WorkflowExecution.RunID, seq)).String(),
		Kind:  kind,
		Title: r.st.Title(),
		Alert: snapshot,
		Actor: actor,
		Note:  note,
	}
	if kind == activities.KindSeverityChanged {
		n.PreviousSeverity = previous
		if last := len(r.queued) - 1; last >= 0 && r.queued[last].Kind == activities.KindSeverityChanged {
			// Several severity changes in one burst are one change, from
			// where it started to where it ended up.
			n.PreviousSeverity = r.queued[last].PreviousSeverity
			r.queued = r.queued[:last]
		}
		if n.PreviousSeverity == n.Alert.Severity {
			return
		}
	}
	r.queued = append(r.queued, n)
}

// flush brings what is shown of the alert in line with its state and sends
// the queued notifications without waiting for them, so the signal loop
// keeps applying events while a sink is slow or down.
func (r *run) flush(ctx workflow.Context) error {
	if r.dirty {
		if err := r.show(ctx); err != nil {
			return err
		}
		r.dirty = false
	}
	actx := workflow.WithActivityOptions(ctx, notifyOptions())
	for _, n := range r.queued {
		for _, name := range sinkActivities() {
			r.notifications = append(r.notifications, workflow.ExecuteActivity(actx, name, n))
		}
	}
	r.queued = nil
	kept := r.notifications[:0]
	for _, f := range r.notifications {
		if !f.IsReady() {
			kept = append(kept, f)
		}
	}
	r.notifications = kept
	return nil
}

// settle flushes, then waits until every notification has been delivered or
// has given up (for at most limit, when limit is not zero) and every
// handler has finished: a run must not end under them.
func (r *run) settle(ctx workflow.Context, limit time.Duration) error {
	if err := r.flush(ctx); err != nil {
		return err
	}
	delivered := func() bool {
		for _, f := range r.notifications {
			if !f.IsReady() {
				return false
			}
		}
		return true
	}
	if limit > 0 {
		if _, err := workflow.AwaitWithTimeout(ctx, limit, delivered); err != nil {
			return err
		}
	} else if err := workflow.Await(ctx, delivered); err != nil {
		return err
	}
	for _, f := range r.notifications {
		if !f.IsReady() {
			continue
		}
		if err := f.Get(ctx, nil); err != nil {
			// The notification gave up after its retries; the alert
			// itself is still right, so the run goes on.
			workflow.GetLogger(ctx).Error("Notification failed", "Error", err)
		}
	}
	r.notifications = nil
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}
