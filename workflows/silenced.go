package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
)

// Silences (RevisionSilenced on): each notification asks, in the local
// activity that routes it, whether a silence holds it back. A held one is
// recorded in the timeline instead of being sent; the alert keeps the
// silence's ID (shown in a search attribute) and its end. When the silence
// ends, on the alert's own timer or because someone expired it early, the
// alert hands over one notification of where it stands: its opening when
// nobody heard of it, a reminder when people did; nothing once resolved.
// The resolve of an alert people heard of is sent even while silenced, so
// that their pager clears: it pages nobody.

// silenced decides, once the routing answered, whether n is held back by a
// silence, and records it. A notification that goes out while the alert
// was silenced ends its silence: people hear of it again.
//
// From RevisionConsole on, people hear of an alert nobody heard of by its
// opening, whichever notification comes first after its silence: one
// queued while it was unheard and routed after the silence's end was
// announced (the end queued the opening, which follows it) is not sent;
// one whose routing finds the silence gone before anything announced its
// end is sent as the opening.
func (r *run) silenced(ctx workflow.Context, n *notify.Notification, found activities.RouteAnswer) bool {
	if !r.b.silences {
		return false
	}
	now := workflow.Now(ctx)
	by := found.Silenced
	if by != nil && !(n.Kind == notify.KindResolved && r.st.HeardOf()) {
		r.st.Suppress(now, string(n.Kind), n.Kind == notify.KindOpened, by.ID, by.Until)
		r.dirty = true
		r.wake.SendAsync(true)
		return true
	}
	wasUnheard := n.Alert.Silenced != nil && n.Alert.Silenced.Unheard && n.Kind != notify.KindOpened
	if r.b.keepsMessages && wasUnheard && r.st.Silenced == nil {
		return true
	}
	if r.st.Silenced != nil && r.st.Status.Active() {
		out := r.st.EndSilence(now, "no silence holds the alert any more: people hear of it again")
		if r.b.keepsMessages && out == alert.OutcomeOpened && n.Kind != notify.KindOpened {
			n.Kind, n.PreviousSeverity = notify.KindOpened, ""
		}
		r.dirty = true
		r.wake.SendAsync(true)
	}
	return false
}

// silenceRequest fills in what the routing needs to know of silences.
func (r *run) silenceRequest(ctx workflow.Context, req *activities.RouteRequest) {
	if r.b.silences {
		req.Silences, req.Ended, req.At = true, r.st.SilencesEnded, workflow.Now(ctx)
	}
}

// silenceTimer returns the timer that ends the alert's silence.
func (r *run) silenceTimer(ctx workflow.Context) workflow.Future {
	var until time.Time
	if s := r.st.Silenced; s != nil && r.st.Status.Active() {
		until = s.Until
	}
	return r.silenceEnd.until(ctx, until)
}

// silenceOver ends a silence whose time is up.
func (r *run) silenceOver(ctx workflow.Context, timer workflow.Future) {
	r.silenceEnd.fired()
	if timer.Get(ctx, nil) != nil || r.st.Silenced == nil {
		return
	}
	r.endSilence(ctx, r.st.Silenced.ID, "silence "+r.st.Silenced.ID+" is over")
}

// endSilence ends silence id, if it is the one holding the alert, and
// hands over what people must hear now.
func (r *run) endSilence(ctx workflow.Context, id, why string) {
	if r.st.Silenced == nil || r.st.Silenced.ID != id {
		return
	}
	now := workflow.Now(ctx)
	// A silence over by its own time hands over as of its end, however
	// late its timer's task ran: the next reminder counts from there.
	since := now
	if until := r.st.Silenced.Until; r.b.faithfulSchedule && !until.IsZero() && until.Before(now) {
		since = until
	}
	out := r.st.EndSilence(now, why)
	r.dirty = true
	if out == "" || r.st.Quiet {
		if r.b.keepsMessages && r.st.Status.Active() {
			// Nothing to hand over, but a message kept for the alert
			// no longer shows the silence.
			r.queue(ctx, notify.KindUpdated, "", why, r.st.Severity)
		}
		return
	}
	r.queue(ctx, notify.KindOf(out), "", why, r.st.Severity)
	// The handover is this round's reminder: the next comes a whole
	// interval after it, not moments later.
	if r.in.ReminderInterval > 0 && r.st.RemindersDue() {
		r.st.NextReminderAt = since.Add(r.in.ReminderInterval)
		r.reminder.stop()
	}
}

// silenceDue ends the alert's silence, before a delivery or an action is
// applied, when its end is due but its timer has not been handled: a
// worker that was down when the silence ended runs the fired timer and
// the signals that came after it in one task, and the loop's selector
// takes signals first. Without this, a success that came after the end
// resolved an alert nobody had heard of and its "resolved" went out
// without the "opened" the end owed people (RevisionFinished on).
func (r *run) silenceDue(ctx workflow.Context) {
	if !r.b.endsDueSilenceFirst || r.st.Silenced == nil || !r.st.Status.Active() ||
		workflow.Now(ctx).Before(r.st.Silenced.Until) {
		return
	}
	r.endSilence(ctx, r.st.Silenced.ID, "silence "+r.st.Silenced.ID+" is over")
}

// silencedNow says a silence holds the alert: escalation waits for it.
func silencedNow(st *alert.State) bool {
	return st.Silenced != nil
}
