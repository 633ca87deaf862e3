package workflows

import (
	"maps"
	"slices"

	"github.com/google/uuid"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
)

// Routed are the targets an alert reaches. The run decides them in a local
// activity, whose answer the history records, so a changed routing file
// cannot make a replay take another path.
type Routed struct {
	Targets []activities.Target `json:"targets"`
	// Escalation is where the alert escalates when nobody acknowledges
	// it; Escalated is set once it did.
	Escalation *activities.Escalation `json:"escalation,omitempty"`
	Escalated  bool                   `json:"escalated,omitempty"`
	// Messages are, by target, what a target that keeps one message per
	// alert answered last: where that message is (RevisionConsole on).
	Messages map[string]string `json:"messages,omitempty"`
}

// reroutes says whether a notification of kind k asks the routing again:
// the first one people hear of an alert, and a severity change, which may
// reach receivers the old severity did not (a skipped pipeline routed to
// chat that then fails must still page). Acknowledge, reminders and
// resolve go to whoever heard the alert open.
func (r *run) reroutes(k notify.Kind) bool {
	return r.routed == nil || k == notify.KindOpened || k == notify.KindSeverityChanged
}

// notifyRouted logs n in a local activity that also names its alert's
// targets when n may reroute, then sends n to every target in an activity
// of its own, each after the previous notification to that same target.
// A target is never dropped while the alert lasts: a receiver that heard
// it open hears it resolve. A target added by a severity change hears
// that notification as "opened", since it never heard the alert before.
func (r *run) notifyRouted(ctx workflow.Context, n notify.Notification) workflow.Future {
	done, settled := workflow.NewFuture(ctx)
	prev, this, logged := r.nextNotice(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		if prev != nil {
			// The routing of n must see the targets of every
			// notification before it.
			_ = prev.logged.Get(ctx, nil)
		}
		req := activities.RouteRequest{Notification: n, Route: r.reroutes(n.Kind)}
		r.silenceRequest(ctx, &req)
		var found activities.RouteAnswer
		lctx := workflow.WithLocalActivityOptions(ctx, logOptions())
		err := workflow.ExecuteLocalActivity(lctx, activities.ActivityRouteNotification, req).Get(ctx, &found)
		added := r.addTargets(req.Route && err == nil, found)
		if err == nil && r.silenced(ctx, &n, found) {
			// Held back: the next notification to each target still
			// follows the one before this.
			if prev != nil {
				maps.Copy(this.sinks, prev.sinks)
			}
			var sent []workflow.Future
			if r.b.keepsMessages {
				// Nobody is paged, but a message kept for the alert
				// shows where it stands, silence included.
				m := n
				m.ID = uuid.NewSHA1(notifyNamespace, []byte(n.ID+"/updated")).String()
				m.Kind, m.Alert = notify.KindUpdated, r.notified()
				sent = r.sendAll(ctx, prev, this, m)
			}
			logged.Set(nil, nil)
			settled.Set(nil, joinAll(ctx, nil, sent))
			return
		}
		actx := workflow.WithActivityOptions(ctx, notifyOptions())
		targets := r.targets()
		if err != nil && len(targets) == 0 && r.b.faithfulSchedule {
			// Nobody would hear of it: the root receiver does. The alert
			// stays unrouted, so its next notification asks again.
			workflow.GetLogger(ctx).Error("Routing failed: the notification goes to the root receiver",
				"notification_id", n.ID, "kind", n.Kind, "error", err)
			targets = []activities.Target{activities.RootTarget}
		}
		if n.Kind == notify.KindEscalated && r.routed != nil && r.routed.Escalation != nil {
			// The escalation receiver hears that the alert escalated,
			// and from now on everything the others hear.
			targets = r.routed.Escalation.Targets
			r.addTargets(true, activities.RouteAnswer{Targets: targets})
		}
		var sent []workflow.Future
		for _, t := range targets {
			m := n
			if n.Kind == notify.KindSeverityChanged && slices.Contains(added, t) {
				m.Kind, m.PreviousSeverity = notify.KindOpened, ""
			}
			d := activities.Delivery{Target: t, Notification: m}
			f := r.send(ctx, actx, prev, this, d)
			sent = append(sent, f)
			if r.b.prompt {
				r.deliveries = append(r.deliveries, delivery{d: d, done: f})
			}
		}
		logged.Set(nil, nil)
		settled.Set(nil, joinAll(ctx, err, sent))
	})
	return done
}

// send delivers d once prev's delivery to its target is done. From
// RevisionConsole on, it passes the target the alert's message there, read
// only then, when the delivery before has answered it, and keeps what the
// target answers.
func (r *run) send(ctx workflow.Context, actx workflow.Context, prev, this *notice, d activities.Delivery) workflow.Future {
	key := d.Target.String()
	return this.follow(ctx, prev, key, func(ctx workflow.Context) workflow.Future {
		if !r.b.keepsMessages {
			return workflow.ExecuteActivity(actx, activities.ActivityNotifyReceiver, d)
		}
		if r.routed != nil {
			d.Message = r.routed.Messages[key]
		}
		if d.Notification.Kind == notify.KindUpdated && d.Message == "" {
			// Only a kept message has anything to update: no activity
			// for a target that keeps none (a webhook, PagerDuty), or
			// has not posted one yet.
			f, set := workflow.NewFuture(ctx)
			set.Set(nil, nil)
			return f
		}
		f := workflow.ExecuteActivity(actx, activities.ActivityNotifyReceiver, d)
		var got *activities.Delivered
		if f.Get(ctx, &got) == nil && got != nil && got.Message != "" && r.routed != nil {
			if r.routed.Messages == nil {
				r.routed.Messages = map[string]string{}
			}
			r.routed.Messages[key] = got.Message
		}
		return f
	})
}

// sendAll delivers n to every target of the alert (RevisionConsole:
// KindUpdated, which only targets keeping a message act on).
func (r *run) sendAll(ctx workflow.Context, prev, this *notice, n notify.Notification) []workflow.Future {
	actx := workflow.WithActivityOptions(ctx, notifyOptions())
	var sent []workflow.Future
	for _, t := range r.targets() {
		d := activities.Delivery{Target: t, Notification: n}
		f := r.send(ctx, actx, prev, this, d)
		sent = append(sent, f)
		r.deliveries = append(r.deliveries, delivery{d: d, done: f})
	}
	return sent
}

// notifyUpdated sends n, a KindUpdated, to every target of the alert, in
// order with the notifications around it: nothing to route or silence,
// since it pages nobody.
func (r *run) notifyUpdated(ctx workflow.Context, n notify.Notification) workflow.Future {
	done, settled := workflow.NewFuture(ctx)
	prev, this, logged := r.nextNotice(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		if prev != nil {
			_ = prev.logged.Get(ctx, nil)
		}
		sent := r.sendAll(ctx, prev, this, n)
		logged.Set(nil, nil)
		settled.Set(nil, joinAll(ctx, nil, sent))
	})
	return done
}

// addTargets records what a routing answered, when it did, and returns the
// targets that are new to the alert. The first answer of an alert that
// had had none counts as routing it, even when it names nobody. The first
// escalation an answer names is the alert's.
func (r *run) addTargets(answered bool, found activities.RouteAnswer) []activities.Target {
	if !answered {
		return nil
	}
	first := r.routed == nil
	if first {
		r.routed = &Routed{}
	}
	if r.routed.Escalation == nil && found.Escalation != nil {
		r.routed.Escalation = found.Escalation
		// The loop sets the escalation's timer when it looks again.
		r.wake.SendAsync(true)
	}
	var added []activities.Target
	for _, t := range found.Targets {
		if !slices.Contains(r.routed.Targets, t) {
			r.routed.Targets = append(r.routed.Targets, t)
			if !first {
				added = append(added, t)
			}
		}
	}
	return added
}

func (r *run) targets() []activities.Target {
	if r.routed == nil {
		return nil
	}
	return r.routed.Targets
}

// escalationTimer returns the timer of an escalation due a while after the
// alert opened, while nobody has acknowledged it.
func (r *run) escalationTimer(ctx workflow.Context) workflow.Future {
	due := r.routed != nil && r.routed.Escalation != nil && r.routed.Escalation.After > 0 &&
		!r.routed.Escalated && r.st.Status == alert.StatusOpen && !r.st.OpenedAt.IsZero() && !silencedNow(r.st)
	if !due {
		r.escalation.stop()
		return nil
	}
	return r.escalation.start(ctx, r.st.OpenedAt.Add(r.routed.Escalation.After))
}

func (r *run) escalationDue(ctx workflow.Context, timer workflow.Future) {
	r.escalation.fired()
	if timer.Get(ctx, nil) == nil {
		r.escalate(ctx)
	}
}

// remindedEnough escalates an alert whose escalation counts reminders,
// once it has sent that many.
func (r *run) remindedEnough(ctx workflow.Context) {
	if r.routed != nil && r.routed.Escalation != nil && r.routed.Escalation.Reminders > 0 &&
		r.st.Reminders >= r.routed.Escalation.Reminders {
		r.escalate(ctx)
	}
}

// escalate hands an open, unacknowledged alert to its escalation
// receiver, once.
func (r *run) escalate(ctx workflow.Context) {
	if r.routed == nil || r.routed.Escalation == nil || r.routed.Escalated || silencedNow(r.st) {
		// A silenced alert escalates once its silence ends, if still due.
		return
	}
	to := r.routed.Escalation.Receiver
	if out := r.st.Escalate(workflow.Now(ctx), to); out != "" {
		r.routed.Escalated = true
		r.changed(ctx, out, "", to, r.st.Severity)
	}
}
