package workflows

import (
	"slices"

	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/notify"
)

// Routed are the targets an alert reaches. The run decides them in a local
// activity, whose answer the history records, so a changed routing file
// cannot make a replay take another path.
type Routed struct {
	Targets []activities.Target `json:"targets"`
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
		var found []activities.Target
		lctx := workflow.WithLocalActivityOptions(ctx, logOptions())
		err := workflow.ExecuteLocalActivity(lctx, activities.ActivityRouteNotification, req).Get(ctx, &found)
		added := r.addTargets(req.Route && err == nil, found)
		actx := workflow.WithActivityOptions(ctx, notifyOptions())
		var sent []workflow.Future
		for _, t := range r.targets() {
			m := n
			if n.Kind == notify.KindSeverityChanged && slices.Contains(added, t) {
				m.Kind, m.PreviousSeverity = notify.KindOpened, ""
			}
			d := activities.Delivery{Target: t, Notification: m}
			sent = append(sent, this.follow(ctx, prev, t.String(), func(ctx workflow.Context) workflow.Future {
				return workflow.ExecuteActivity(actx, activities.ActivityNotifyReceiver, d)
			}))
		}
		logged.Set(nil, nil)
		settled.Set(nil, joinAll(ctx, err, sent))
	})
	return done
}

// addTargets records what a routing answered, when it did, and returns the
// targets that are new to the alert. The first answer of an alert that
// had had none counts as routing it, even when it names nobody.
func (r *run) addTargets(answered bool, found []activities.Target) []activities.Target {
	if !answered {
		return nil
	}
	first := r.routed == nil
	if first {
		r.routed = &Routed{}
	}
	var added []activities.Target
	for _, t := range found {
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
