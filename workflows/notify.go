package workflows

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alertview"
	"github.com/alertflow/alertflow/notify"
)

// notifyNamespace makes notification IDs stable across activity retries and
// replays: they derive from the alert, the run and the timeline position of
// the transition, not from randomness.
var notifyNamespace = uuid.MustParse("4b7d2f43-8a3c-4e0e-9d64-5b1c1a0c6d9e")

// sinkActivities are what RevisionFirst runs schedule for every
// notification, one activity each. Their order is part of those runs'
// histories: changing it breaks replay.
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

// logOptions bound the local activity that logs a notification and names
// the remote sinks: it does no I/O beyond the log, so a short budget.
func logOptions() workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		StartToCloseTimeout:    5 * time.Second,
		ScheduleToCloseTimeout: time.Minute,
	}
}

// settleBeforeContinue bounds how long a run waits for notifications still
// in flight before it continues as new: long enough for a healthy sink,
// short enough that a dead one cannot hold back a storm of signals.
const settleBeforeContinue = time.Minute

// queue records a transition to notify. Notifications are sent by flush,
// once the run has applied every signal that has arrived, so a burst of
// events costs one notification per sink rather than one per event.
func (r *run) queue(ctx workflow.Context, kind notify.Kind, actor, note string, previous alert.Severity) {
	info := workflow.GetInfo(ctx)
	seq := len(r.st.Timeline) + r.st.TimelineDropped
	snapshot := r.notified()
	n := notify.Notification{
		ID:    uuid.NewSHA1(notifyNamespace, fmt.Appendf(nil, "%s/%s/%d", info.WorkflowExecution.ID, info.WorkflowExecution.RunID, seq)).String(),
		Kind:  kind,
		Title: r.st.Title(),
		Alert: snapshot,
		Actor: actor,
		Note:  note,
	}
	if kind == notify.KindSeverityChanged {
		n.PreviousSeverity = previous
		if last := len(r.queued) - 1; last >= 0 && r.queued[last].Kind == notify.KindSeverityChanged {
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

// notified is the alert as a notification carries it: the view without
// the timeline, which nobody reads there and which would bloat every
// activity input.
func (r *run) notified() alertview.Alert {
	return alertview.Notified(r.st)
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
		if r.b.logLocally {
			r.notifications = append(r.notifications, sending{r.notify(ctx, n), n})
			continue
		}
		for _, name := range sinkActivities() {
			r.notifications = append(r.notifications, sending{workflow.ExecuteActivity(actx, name, n), n})
		}
	}
	r.queued = nil
	kept := r.notifications[:0]
	for _, s := range r.notifications {
		if !s.done.IsReady() {
			kept = append(kept, s)
		}
	}
	r.notifications = kept
	deliveries := r.deliveries[:0]
	for _, d := range r.deliveries {
		if !d.done.IsReady() {
			deliveries = append(deliveries, d)
		}
	}
	r.deliveries = deliveries
	return nil
}

// delivery is one routed notification on its way to one target.
type delivery struct {
	d    activities.Delivery
	done workflow.Future
	// handed says it is the alert before's, handed over (Input.Handed).
	handed bool
}

// delivered says that every notification and every handed delivery has
// been delivered or has given up.
func (r *run) delivered() bool {
	for _, s := range r.notifications {
		if !s.done.IsReady() {
			return false
		}
	}
	for _, d := range r.deliveries {
		if !d.done.IsReady() {
			return false
		}
	}
	return true
}

// unfinished are the deliveries not known to be done, oldest first, once
// every notification is routed: the handed ones, and the run's own too
// when own is set. Each keeps its notification's id, so a receiver that
// got one already can drop the copy.
func (r *run) unfinished(ctx workflow.Context, own bool) ([]activities.Delivery, error) {
	if last := r.lastNotice; last != nil {
		// Each notification is routed after the one before it.
		if err := workflow.Await(ctx, last.logged.IsReady); err != nil {
			return nil, err
		}
	}
	// Every goroutine this task unblocked runs before the barrier's: a
	// delivery whose activity completed in this same task (a worker that
	// restarted takes the completion and the failure after it at once)
	// is done only once its goroutine has passed the result on; read
	// before, it would be handed over and delivered twice.
	passed := false
	workflow.Go(ctx, func(workflow.Context) { passed = true })
	if err := workflow.Await(ctx, func() bool { return passed }); err != nil {
		return nil, err
	}
	var out []activities.Delivery
	for _, d := range r.deliveries {
		if !d.done.IsReady() && (own || d.handed) {
			out = append(out, d.d)
		}
	}
	if over := len(out) - maxCarried; over > 0 {
		workflow.GetLogger(ctx).Error("Dropping the oldest undelivered notifications", "Dropped", over)
		out = out[over:]
	}
	return out, nil
}

// sendHanded sends the deliveries the alert before handed over, each to
// its target and in their order, before anything of this alert reaches
// that target.
func (r *run) sendHanded(ctx workflow.Context, handed []activities.Delivery) {
	actx := workflow.WithActivityOptions(ctx, notifyOptions())
	for i := 0; i < len(handed); {
		j := i + 1
		for j < len(handed) && handed[j].Notification.ID == handed[i].Notification.ID {
			j++
		}
		prev, this, logged := r.nextNotice(ctx)
		for _, d := range handed[i:j] {
			f := r.send(ctx, actx, prev, this, d)
			r.deliveries = append(r.deliveries, delivery{d: d, done: f, handed: true})
		}
		logged.Set(nil, nil)
		i = j
	}
}

// sending is a notification on its way, and what is ready once it was
// delivered or gave up.
type sending struct {
	done workflow.Future
	n    notify.Notification
}

// maxCarried bounds the notifications a run hands to the next one: a
// receiver down for days must not make every continued run larger (each
// carries the alert with up to 50 failed jobs, some 40 KB at the most).
const maxCarried = 20

// undelivered are the notifications not known to be delivered, oldest
// first: those on their way, then those not sent yet. A run that continues
// as new hands them over rather than waiting for a receiver that may be
// down; each keeps its id, so a receiver that got it already can drop the
// copy.
func (r *run) undelivered(ctx workflow.Context) []notify.Notification {
	var out []notify.Notification
	for _, s := range r.notifications {
		if !s.done.IsReady() {
			out = append(out, s.n)
		}
	}
	out = append(out, r.queued...)
	if over := len(out) - maxCarried; over > 0 {
		workflow.GetLogger(ctx).Error("Dropping the oldest undelivered notifications", "Dropped", over)
		out = out[over:]
	}
	return out
}

// notify logs n in a local activity, which runs within the current
// workflow task and names the configured remote sinks, then sends n to each
// of them in an activity of its own, so that a failing sink is retried
// without re-sending through the others. The future it returns is ready
// once every sink has delivered or given up.
func (r *run) notify(ctx workflow.Context, n notify.Notification) workflow.Future {
	if n.Kind == notify.KindUpdated {
		return r.notifyUpdated(ctx, n)
	}
	if r.b.routes {
		return r.notifyRouted(ctx, n)
	}
	done, settled := workflow.NewFuture(ctx)
	ordered := r.b.orderedDelivery
	prev, this, logged := r.nextNotice(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		if ordered && prev != nil {
			// A receiver hears an alert's notifications in the order they
			// happened: PagerDuty drops a resolve that comes before its
			// trigger. Each sink waits for its own previous delivery only,
			// so one failing sink holds back no other.
			_ = prev.logged.Get(ctx, nil)
		}
		var remote []string
		lctx := workflow.WithLocalActivityOptions(ctx, logOptions())
		err := workflow.ExecuteLocalActivity(lctx, activities.ActivityNotifyLog, n).Get(ctx, &remote)
		actx := workflow.WithActivityOptions(ctx, notifyOptions())
		sent := make([]workflow.Future, 0, len(remote))
		for _, name := range remote {
			if !ordered {
				sent = append(sent, workflow.ExecuteActivity(actx, name, n))
				continue
			}
			sent = append(sent, this.follow(ctx, prev, name, func(ctx workflow.Context) workflow.Future {
				return workflow.ExecuteActivity(actx, name, n)
			}))
		}
		logged.Set(nil, nil)
		settled.Set(nil, joinAll(ctx, err, sent))
	})
	return done
}

// follow sends through the sink named key once prev's notification to
// that sink is done, and returns a future ready once nt's is.
func (nt *notice) follow(ctx workflow.Context, prev *notice, key string, send func(workflow.Context) workflow.Future) workflow.Future {
	var before workflow.Future
	if prev != nil {
		before = prev.sinks[key]
	}
	f, set := workflow.NewFuture(ctx)
	nt.sinks[key] = f
	workflow.Go(ctx, func(ctx workflow.Context) {
		if before != nil {
			_ = before.Get(ctx, nil)
		}
		set.Set(nil, send(ctx).Get(ctx, nil))
	})
	return f
}

// joinAll waits for every future and joins their errors to err.
func joinAll(ctx workflow.Context, err error, futures []workflow.Future) error {
	for _, f := range futures {
		err = errors.Join(err, f.Get(ctx, nil))
	}
	return err
}

// nextNotice makes this the newest notification on its way and returns the
// one before it, prev, which this follows, and what to set once this is
// logged and its sinks are scheduled.
func (r *run) nextNotice(ctx workflow.Context) (prev, this *notice, logged workflow.Settable) {
	prev = r.lastNotice
	this = &notice{sinks: map[string]workflow.Future{}}
	if prev != nil && r.b.prompt {
		// A target this notification skips keeps waiting on the one
		// before: a handed delivery may reach targets this alert does not.
		maps.Copy(this.sinks, prev.sinks)
	}
	this.logged, logged = workflow.NewFuture(ctx)
	r.lastNotice = this
	return prev, this, logged
}

// notice is one notification on its way, for the next to wait on.
type notice struct {
	// logged is ready once the notification was logged and its sinks
	// scheduled in sinks.
	logged workflow.Future
	// sinks are ready once the notification was delivered to each remote
	// sink, or gave up.
	sinks map[string]workflow.Future
}

// settle flushes, then waits until every notification has been delivered or
// has given up (for at most limit, when limit is not zero) and every
// handler has finished: a run must not end under them.
func (r *run) settle(ctx workflow.Context, limit time.Duration) error {
	if err := r.flush(ctx); err != nil {
		return err
	}
	delivered := r.delivered
	if limit > 0 {
		if _, err := workflow.AwaitWithTimeout(ctx, limit, delivered); err != nil {
			return err
		}
	} else if err := workflow.Await(ctx, delivered); err != nil {
		return err
	}
	for _, s := range r.notifications {
		if !s.done.IsReady() {
			continue
		}
		if err := s.done.Get(ctx, nil); err != nil {
			// The notification gave up after its retries; the alert
			// itself is still right, so the run goes on.
			workflow.GetLogger(ctx).Error("Notification failed", "Error", err)
		}
	}
	r.notifications = nil
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}
