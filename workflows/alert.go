// Package workflows holds AlertWorkflow, which gives an alert of package
// alert a durable lifecycle in Temporal: pipeline signals in, manual
// acknowledge and resolve as signals or updates, reminders on a durable
// timer, the state query, search attributes and memo kept current for the
// Web UI, and notifications sent as activities.
package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
)

// Names the intake and people use to talk to an alert. Acknowledge and
// resolve are both a signal (fire and forget, as tctl users know it) and an
// update (validated, answers with the new state) of the same name; each has
// a constant per kind, so a call site says which it sends.
const (
	// SignalPipeline carries an alert.Event.
	SignalPipeline = "pipeline"
	// SignalAcknowledge and UpdateAcknowledge carry an
	// alert.Acknowledgement: {"by","note"}.
	SignalAcknowledge = "acknowledge"
	UpdateAcknowledge = "acknowledge"
	// SignalResolve and UpdateResolve carry an alert.Resolution:
	// {"by","reason"}.
	SignalResolve = "resolve"
	UpdateResolve = "resolve"
	// QueryState returns the alert.State.
	QueryState = "state"
	// SignalBranchDeleted carries an alert.Deletion: GitLab deleted the
	// alert's branch or tag, so its alert resolves.
	SignalBranchDeleted = "branch_deleted"
	// SignalSnooze and UpdateSnooze carry an alert.SnoozeRequest:
	// {"by","for","note"} (RevisionRouted on).
	SignalSnooze = "snooze"
	UpdateSnooze = "snooze"
)

// Error types of rejected updates, for callers to tell apart.
const (
	ErrTypeInvalidInput = "InvalidInput"
	ErrTypeNotOpened    = "AlertNotOpened"
	ErrTypeResolved     = "AlertResolved"
	// ErrTypeAlreadyAcknowledged: an acknowledge update of an alert that
	// is acknowledged already. Refusing it in the validator keeps it out of
	// the history, which repeated presses of "ack" would otherwise fill;
	// the REST API answers it with the alert as it is.
	ErrTypeAlreadyAcknowledged = "AlertAlreadyAcknowledged"
)

// updateTimeline is how many of the newest timeline entries an update's
// result carries (RevisionGitLab on): the result is kept in the history,
// and the whole timeline is there for the state query.
const updateTimeline = 20

// DefaultMaxHistory is the history length past which a run continues as
// new. The server's hard limits are 51 200 events and 10 000 signals a run,
// and a storm of signals costs little more than one event each, so this
// stays well below both.
const DefaultMaxHistory = 4_000

// DefaultMaxHistoryBytes is the history size past which a run continues
// as new: far below the server's 50 MB limit, which terminates a run, so
// that a flood of the largest events cannot reach it between two checks.
const DefaultMaxHistoryBytes = 4 << 20

// Revision numbers the ways AlertWorkflow has run, so that a run replays
// the way it was recorded. It travels in the Input rather than in a
// workflow.GetVersion marker, whose TemporalChangeVersion upsert would cost
// every alert a visibility write.
type Revision int

const (
	// RevisionFirst (zero, as every run recorded before revisions has it)
	// sends each notification to all three sinks as activities and
	// upserts the search attributes and memo in the first workflow task.
	RevisionFirst Revision = 0
	// RevisionLean logs each notification in a local activity, within the
	// workflow task that made the transition, and sends it as an activity
	// to the configured remote sinks only; the first workflow task keeps
	// the search attributes and memo the alert was started with. An alert
	// costs the server one workflow task per burst of events.
	RevisionLean Revision = 1
	// RevisionGitLab applies events under alert.RulesGitLab: a new alert
	// first recalls what its ID remembers (a local activity), holds
	// cancels and skips for Input.Rules.Hold, resolves itself after
	// Input.AutoResolveAfter without events, takes branch deletions, and
	// notifies only of alerts people were told of.
	RevisionGitLab Revision = 2
	// RevisionRouted routes each alert when people first hear of it: a
	// local activity names its targets (receivers and their
	// integrations) under the worker's routing configuration, the run
	// keeps them for the alert's life, adds those a raised severity
	// reaches, and sends every notification to each target in an
	// activity of its own.
	RevisionRouted Revision = 3
	// RevisionSilenced asks, before each notification, whether a silence
	// holds it back: a held notification is recorded in the timeline
	// instead, and the silence's end hands over one notification of
	// where the alert stands. It takes SignalSilenceEnded.
	RevisionSilenced Revision = 4
	// RevisionFlapping applies Input.Rules' flapping settings: an alert
	// on an ID whose alerts kept opening and resolving says "flapping"
	// once, stays open while the branch flips, and resolves as "stable"
	// on a timer once the branch has been green for the flapping window.
	// Earlier revisions drop the flapping settings.
	RevisionFlapping Revision = 5
	// RevisionFinished starts fresh alerts under alert.RulesFinished: only
	// the newest finished pipeline on the ref (success, failed or
	// canceled) may resolve an alert or change its verdict, so a retry of
	// an older pipeline that passes after a newer one was canceled is
	// stale. Alerts of earlier revisions keep alert.RulesGitLab. And a
	// silence whose end is due hands its alert over before a delivery or
	// an action is applied, even when the worker was down at its end and
	// runs both in one task (see silenceDue).
	RevisionFinished Revision = 6
	// RevisionPrompt opens a new alert on the ID at once when a failure
	// comes after the resolve while a receiver has not taken the
	// resolved alert's last notifications yet: the run continues as new
	// with the failure without waiting for that receiver (up to the
	// hour a notification retries), and hands it those deliveries
	// (Input.Handed), which it gets before anything of the new alert.
	// Before, every receiver heard of the new alert only once the slowest
	// had taken the old one's resolve.
	RevisionPrompt Revision = 7
	// RevisionFaithful sends a notification whose routing failed for
	// good (the routing local activity out of retries) to the root
	// receiver (activities.RootTarget) when the alert has no receiver
	// yet; before, such a notification reached nobody and the page of a
	// new alert was lost. And it schedules the next reminder from the due
	// time of the one before (or of the silence's end), not from when a
	// late task ran it: a worker down at a due time no longer shifts
	// every later reminder, and the what-if replay, which knows due times
	// only, sees what the alert did.
	RevisionFaithful Revision = 8
	// RevisionConsole keeps, for each target that keeps one message per
	// alert (a Slack app, notify.Messenger), what it answered, and passes
	// it to the next delivery there (Routed.Messages), so the message is
	// updated in place. Changes that page nobody (a snooze, a silence
	// holding a notification back) go to those targets as
	// notify.KindUpdated, so their message shows them.
	RevisionConsole Revision = 9
	// RevisionReconciled checks GitLab's API for what GitLab never
	// delivered (Input.Reconcile): an open alert asks some time after it
	// opened, then on that schedule, at each reminder and on demand (the
	// reconcile update), and applies the newest finished pipeline or the
	// deleted branch through the same rules as a delivery. It also takes
	// the missed runs of heartbeat monitors (alert.Event.Missed).
	RevisionReconciled Revision = 10
	// RevisionInsight starts fresh alerts under alert.RulesInsight: the
	// alert keeps who and what broke the branch, the failure class (also
	// the AlertFailureClass search attribute), flaky jobs and how it
	// recovered. What pages whom does not change.
	RevisionInsight Revision = 11
	// RevisionShown shows the run's revision as the AlertRevision search
	// attribute: the intake starts alerts with it, and a run that finds
	// another value (it continued as new from an older revision) upserts
	// its own in its first workflow task, so operators see which
	// revisions still run.
	RevisionShown Revision = 12
	// CurrentRevision is what the intake starts alerts with and what
	// continue-as-new moves a run to: a new run has no history to replay.
	CurrentRevision = RevisionShown
)

// Rules is the rules version a fresh alert of the revision applies events
// under. A continued run keeps the version in its state, whatever revision
// it continues at.
func (rev Revision) Rules() alert.RulesVersion {
	return rev.behaviours().rules
}

// Input starts or continues an alert. A run started by the intake gets
// only the configuration; a continued run also gets State or Pending.
type Input struct {
	// State is the alert carried over from the previous run of the same
	// alert by continue-as-new; nil starts a fresh alert.
	State *alert.State `json:"state,omitempty"`
	// Pending are events that arrived after the previous run resolved its
	// alert and that open a new one; they are applied first, in order.
	Pending []alert.Event `json:"pending,omitempty"`
	// Limits bound the timeline and the dedup keys of a fresh alert.
	Limits alert.Limits `json:"limits"`
	// MaxHistory is the history length past which the run continues as
	// new; zero means DefaultMaxHistory.
	MaxHistory int `json:"max_history,omitempty"`
	// ReminderInterval is how often an open, unacknowledged alert
	// re-notifies; zero turns reminders off.
	ReminderInterval time.Duration `json:"reminder_interval,omitempty"`
	// Revision is how the run behaves; the intake sets CurrentRevision.
	Revision Revision `json:"revision,omitempty"`
	// Rules are what a fresh alert applies events under, from
	// RevisionGitLab on; their version is always the revision's (Rules).
	Rules alert.Rules `json:"rules,omitzero"`
	// AutoResolveAfter resolves an alert that has had no pipeline event
	// for that long; zero never does. From RevisionGitLab on.
	AutoResolveAfter time.Duration `json:"auto_resolve_after,omitempty"`
	// Memory is what the alert's ID remembers, handed over by the run
	// before; nil makes a fresh alert recall it from the server.
	Memory *alert.Memory `json:"memory,omitempty"`
	// MaxHistoryBytes is the history size past which the run continues as
	// new (RevisionGitLab on); zero means DefaultMaxHistoryBytes.
	MaxHistoryBytes int `json:"max_history_bytes,omitempty"`
	// Undelivered are notifications the run before handed over when it
	// continued as new; they are sent first, in order.
	Undelivered []notify.Notification `json:"undelivered,omitempty"`
	// Routed are the targets the alert was routed to, handed over by the
	// run before (RevisionRouted on); nil until the alert is routed.
	Routed *Routed `json:"routed,omitempty"`
	// Handed are deliveries of the alert before on the ID that had not
	// finished when its run continued into this one (RevisionPrompt on):
	// each goes to its own target, before anything of this alert does.
	Handed []activities.Delivery `json:"handed,omitempty"`
	// Reconcile checks GitLab's API for what it never delivered
	// (RevisionReconciled on); nil when the alert's instance has no API.
	Reconcile *Reconcile `json:"reconcile,omitempty"`
}

// AlertWorkflow is one alert, from the first bad pipeline on a project and
// ref to the success (or the person) that resolves it. It completes with
// the final state.
func AlertWorkflow(ctx workflow.Context, in Input) (*alert.State, error) {
	r := &run{in: in, b: in.Revision.behaviours(), st: in.State, routed: in.Routed,
		reminder: timer{kind: timerReminder}, hold: timer{kind: timerHold}, autoResolve: timer{kind: timerAutoResolve},
		snoozeEnd: timer{kind: timerSnoozeEnd}, silenceEnd: timer{kind: timerSilenceEnd}, stable: timer{kind: timerStable},
		escalation: timer{kind: timerEscalation}, reconcileDue: timer{kind: timerReconcile}}
	fresh := r.st == nil && r.b.takesRules
	if fresh {
		rules := in.Rules
		rules.Version = r.b.rules
		if !r.b.flaps {
			rules.FlapThreshold, rules.FlapWindow = 0, 0
		}
		r.st = alert.NewWith(in.Limits, rules, alert.Memory{})
	}
	if r.st == nil {
		r.st = alert.New(in.Limits)
	}
	switch {
	case r.b.startsShown:
		// The intake starts an alert with the search attributes and memo
		// of the event that opens it, and continue-as-new keeps them: the
		// first workflow task need not set them again.
		r.shown = attrsFrom(workflow.GetTypedSearchAttributes(ctx))
	case in.State != nil:
		r.shown = attrsOf(r.st)
	}
	if err := r.showRevision(ctx); err != nil {
		return nil, err
	}
	if r.in.MaxHistory <= 0 {
		r.in.MaxHistory = DefaultMaxHistory
	}
	r.wake = workflow.NewBufferedChannel(ctx, 1)
	// Notifications the run before handed over go out first.
	r.queued = append(r.queued, in.Undelivered...)
	if err := r.register(ctx); err != nil {
		return nil, err
	}
	r.sendHanded(ctx, in.Handed)
	if fresh {
		// After the handlers are registered: a query during the recall
		// finds an alert that has seen nothing yet.
		r.st.Memory = r.recall(ctx)
	}
	return r.loop(ctx)
}

type run struct {
	in Input
	// b is what the run's revision does.
	b  behaviours
	st *alert.State
	// shown is what the search attributes say now.
	shown attrs
	// dirty says the state changed since search attributes, memo and
	// details were last brought in line.
	dirty bool
	// queued are notifications not sent yet; notifications are activity
	// futures not yet known to have finished.
	queued        []notify.Notification
	notifications []sending
	// deliveries are the routed deliveries on their way, each to its
	// target (RevisionPrompt hands the unfinished ones on).
	deliveries []delivery
	// lastNotice is the newest notification sent, which the next one
	// follows to each sink.
	lastNotice *notice
	// routed are the alert's targets once it was routed (RevisionRouted).
	routed *Routed
	// The run's timers, one of each kind (alertTimerKinds): the next
	// reminder; the end of a pending alert's hold; the check for an alert
	// gone quiet; the end of the alert's snooze, of its silence, and
	// (flapping) of the wait for a green branch to be stable; an
	// escalation due a while after the alert opened; the next scheduled
	// check of GitLab's API (RevisionReconciled).
	reminder, hold, autoResolve   timer
	snoozeEnd, silenceEnd, stable timer
	escalation, reconcileDue      timer
	// reconciling says a check of GitLab's API is on its way.
	reconciling bool
	// carried are the events after the resolve that the next run takes
	// (complete).
	carried []alert.Event
	// wake lets update handlers, which run beside the main loop, make it
	// look at the state again.
	wake workflow.Channel
}

func (r *run) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (*alert.State, error) {
		return r.st, nil
	}); err != nil {
		return fmt.Errorf("register %s query: %w", QueryState, err)
	}
	for _, u := range alertUpdates {
		if u.takes != nil && !u.takes(r.b) {
			continue
		}
		if err := u.register(r, ctx); err != nil {
			return fmt.Errorf("register %s update: %w", u.name, err)
		}
	}
	return nil
}

// snapshot is a copy of the state as it is now, for update results. From
// RevisionGitLab on it leaves out the dedup keys and all but the newest
// timeline entries, so that updates cannot fill the run's history.
func (r *run) snapshot() *alert.State {
	s := *r.st
	if r.b.trimsUpdateAnswers {
		s.RecentKeys = nil
		keep := min(len(r.st.Timeline), updateTimeline)
		s.Timeline = append([]alert.Entry(nil), r.st.Timeline[len(r.st.Timeline)-keep:]...)
		s.TimelineDropped += len(r.st.Timeline) - keep
		return &s
	}
	s.Timeline = append([]alert.Entry(nil), r.st.Timeline...)
	s.RecentKeys = append([]string(nil), r.st.RecentKeys...)
	return &s
}

// rejection turns a domain error into an application error whose type
// says why, so the REST API can answer 400 or 409.
func rejection(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, alert.ErrInvalidInput):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInput, nil)
	case errors.Is(err, alert.ErrResolved):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeResolved, nil)
	case errors.Is(err, alert.ErrNotOpened):
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNotOpened, nil)
	default:
		return err
	}
}

func (r *run) loop(ctx workflow.Context) (*alert.State, error) {
	ch := r.channels(ctx)
	for i, ev := range r.in.Pending {
		if r.st.Status == alert.StatusResolved {
			// The carried events resolved this alert too: the rest may
			// hold yet another failure, which complete carries on.
			return r.complete(ctx, ch, r.in.Pending[i:])
		}
		r.apply(ctx, ev)
	}
	for r.st.Status != alert.StatusResolved {
		if r.st.Status == alert.StatusNone && len(r.st.Timeline) > 0 && ch.pending() == 0 {
			// Everything delivered so far opened nothing (a success that
			// raced the resolve of the previous run): there is no alert.
			return r.finish(ctx)
		}
		if ch.pending() == 0 {
			// Every signal that has arrived is applied: show the result
			// and notify once for the whole burst.
			if err := r.flush(ctx); err != nil {
				return nil, err
			}
		}
		var err error
		r.selector(ctx, ch, &err).Select(ctx)
		if err != nil {
			return nil, err
		}
		if r.st.Status != alert.StatusResolved && r.historyFull(ctx) {
			return r.continueAsNew(ctx, ch)
		}
	}
	return r.complete(ctx, ch, nil)
}

// apply applies one event and makes everything outside the state follow:
// search attributes, memo, details, reminders, notifications.
func (r *run) apply(ctx workflow.Context, ev alert.Event) {
	r.silenceDue(ctx)
	now := workflow.Now(ctx)
	previous := r.st.Severity
	// No log line per event: the timeline records each one, and under the
	// race detector the SDK's replay-aware logger raced its own eviction
	// of the run from the sticky cache during a signal storm.
	out := r.st.Apply(ev, now)
	r.opened(now, out)
	r.raisedWhileSnoozed(ctx, out, previous)
	r.changed(ctx, out, ev.User, "", previous)
}

// opened starts the reminders of an alert that people were just told of.
func (r *run) opened(now time.Time, out alert.Outcome) {
	if (out == alert.OutcomeOpened || out == alert.OutcomeFlapping) && r.in.ReminderInterval > 0 {
		r.st.NextReminderAt = now.Add(r.in.ReminderInterval)
	}
	r.scheduleReconcile(now, out)
}

// changed notes an outcome: what is shown of the alert must follow, and
// people hear of lifecycle transitions. previous is the severity before it.
func (r *run) changed(ctx workflow.Context, out alert.Outcome, actor, note string, previous alert.Severity) {
	if out.Changed() || out == alert.OutcomeReminder {
		r.dirty = true
	}
	if r.st.Heard(out) {
		r.queue(ctx, notify.KindOf(out), actor, note, previous)
	}
	r.measure(ctx, out)
}

func (r *run) acknowledge(ctx workflow.Context, a alert.Acknowledgement) error {
	r.silenceDue(ctx)
	changed, err := r.st.Acknowledge(a, workflow.Now(ctx))
	if r.b.wakesOnAction {
		// Even an action that changed nothing lengthened the history: the
		// loop must look whether the run is full.
		r.wake.SendAsync(true)
	}
	if err != nil || !changed {
		return rejection(err)
	}
	r.wake.SendAsync(true)
	r.changed(ctx, alert.OutcomeAcknowledged, r.st.AcknowledgedBy, a.Note, r.st.Severity)
	return nil
}

func (r *run) resolve(ctx workflow.Context, res alert.Resolution) error {
	r.silenceDue(ctx)
	if err := r.st.Resolve(res, workflow.Now(ctx)); err != nil {
		return rejection(err)
	}
	r.wake.SendAsync(true)
	r.changed(ctx, alert.OutcomeResolved, r.st.ResolvedBy, res.Reason, r.st.Severity)
	return nil
}

// signalled deals with the result of a manual action sent as a signal,
// which cannot answer: a rejection is logged and kept in the timeline.
func (r *run) signalled(ctx workflow.Context, action, by string, err error) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		workflow.GetLogger(ctx).Warn("Manual action rejected", "Action", action, "By", by, "Error", err)
		r.st.Reject(action, by, err, workflow.Now(ctx))
		return nil
	}
	return err
}

// reminderTimer returns the timer of the next reminder, starting it when
// one is due and cancelling it when reminders stopped being due.
func (r *run) reminderTimer(ctx workflow.Context) workflow.Future {
	due := r.in.ReminderInterval > 0 && r.st.RemindersDue() && !r.st.NextReminderAt.IsZero()
	if !due {
		r.reminder.stop()
		return nil
	}
	// One overdue (after continue-as-new, say) fires after the floor.
	return r.reminder.start(ctx, r.st.NextReminderAt)
}

func (r *run) remind(ctx workflow.Context, timer workflow.Future) error {
	r.reminder.fired()
	if err := timer.Get(ctx, nil); err != nil || !r.st.RemindersDue() {
		return nil
	}
	now := workflow.Now(ctx)
	next := now.Add(r.in.ReminderInterval)
	if due := r.st.NextReminderAt; r.b.faithfulSchedule && !due.IsZero() && due.Before(now) {
		next = due.Add(r.in.ReminderInterval)
	}
	if sl := r.st.Silenced; r.b.faithfulSchedule && sl != nil && !r.st.NextReminderAt.IsZero() &&
		r.st.NextReminderAt.Before(sl.Until) && !now.Before(sl.Until) {
		// Due while the silence held the alert, run only after its end
		// (the worker was down): the silence held it, as the routing
		// said at its due time would have, and the end hands over next.
		r.st.Remind(now, next)
		r.st.Suppress(now, string(notify.KindReminder), false, sl.ID, sl.Until)
		r.dirty = true
		r.remindedEnough(ctx)
		return nil
	}
	r.st.Remind(now, next)
	r.changed(ctx, alert.OutcomeReminder, "", "", r.st.Severity)
	if r.b.routes {
		r.remindedEnough(ctx)
	}
	// A reminder is also when GitLab's API is asked whether the branch is
	// still red: a green it never delivered ends the reminders.
	r.reconcileAside(ctx)
	return nil
}

// show brings search attributes, memo and current details in line with the
// state, upserting only when a value changed.
func (r *run) show(ctx workflow.Context) error {
	now := attrsOf(r.st)
	if now != r.shown {
		if err := workflow.UpsertTypedSearchAttributes(ctx, now.updates(r.shown)...); err != nil {
			return fmt.Errorf("upsert search attributes: %w", err)
		}
		if err := workflow.UpsertMemo(ctx, memoOf(r.st)); err != nil {
			return fmt.Errorf("upsert memo: %w", err)
		}
		r.shown = now
	}
	workflow.SetCurrentDetails(ctx, detailsOf(r.st))
	return nil
}

func (r *run) historyFull(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	if r.b.boundsHistoryBytes && info.GetCurrentHistorySize() >= r.maxHistoryBytes() {
		return true
	}
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= r.in.MaxHistory
}

func (r *run) maxHistoryBytes() int {
	if r.in.MaxHistoryBytes > 0 {
		return r.in.MaxHistoryBytes
	}
	return DefaultMaxHistoryBytes
}

// drain applies every signal that has arrived but was not received yet,
// so that none is left behind when the run ends. It stops early, with
// resolved true, when one of them resolves the alert.
func (r *run) drain(ctx workflow.Context, ch channels) (resolved bool, err error) {
	for ch.pending() > 0 && r.st.Status != alert.StatusResolved {
		if err := r.takeArrived(ctx, ch, false); err != nil {
			return false, err
		}
	}
	return r.st.Status == alert.StatusResolved, nil
}

// continueAsNew carries the alert into a fresh run once every signal that
// has arrived is applied and every handler has finished. From
// RevisionGitLab on it does not wait for notifications, which a receiver
// that is down could hold for an hour while the run's history fills: it
// hands them to the next run, which sends them first.
func (r *run) continueAsNew(ctx workflow.Context, ch channels) (*alert.State, error) {
	handOver := r.b.handsOver
	for {
		var err error
		if handOver {
			err = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		} else {
			err = r.settle(ctx, settleBeforeContinue)
		}
		if err != nil {
			return nil, err
		}
		if ch.pending() == 0 {
			break
		}
		resolved, err := r.drain(ctx, ch)
		if err != nil {
			return nil, err
		}
		if resolved {
			return r.complete(ctx, ch, nil)
		}
	}
	next := r.nextInput()
	next.State, next.Routed = r.st, r.routed
	if handOver {
		if r.dirty {
			// Search attributes and memo carry over to the next run.
			if err := r.show(ctx); err != nil {
				return nil, err
			}
		}
		next.Undelivered = r.undelivered(ctx)
		if r.b.prompt {
			// What the alert before had not delivered stays this
			// alert's to hand on.
			handed, err := r.unfinished(ctx, false)
			if err != nil {
				return nil, err
			}
			next.Handed = handed
		}
	}
	return nil, workflow.NewContinueAsNewError(ctx, AlertWorkflow, next)
}

// nextInput is the input of the run this one continues as, at the current
// revision: this run's configuration, and what the alert's ID keeps from
// alert to alert (limits, rules, memory). The caller adds the alert
// itself, or the events that open the next alert.
func (r *run) nextInput() Input {
	return Input{
		Revision:         CurrentRevision,
		Limits:           r.st.Limits,
		Rules:            r.st.Rules,
		Memory:           &r.st.Memory,
		MaxHistory:       r.in.MaxHistory,
		MaxHistoryBytes:  r.in.MaxHistoryBytes,
		ReminderInterval: r.in.ReminderInterval,
		AutoResolveAfter: r.in.AutoResolveAfter,
		Reconcile:        r.in.Reconcile,
	}
}

// complete ends a resolved alert: it waits for the notifications, then
// takes backlog (events carried into this run but not applied yet) and
// the signals that arrived meanwhile. A bad pipeline among them
// opens a new alert: the run continues as new with it and every later
// event, so no failure that arrived after the resolve is lost. Manual
// actions that arrive after the resolve are refused in the timeline.
func (r *run) complete(ctx workflow.Context, ch channels, backlog []alert.Event) (*alert.State, error) {
	for _, ev := range backlog {
		r.carry(ctx, ev)
	}
	prompt := r.b.prompt
	for {
		if prompt {
			// The signals that arrived are taken while notifications are
			// still on their way: a failure among them opens the next
			// alert now, not once the slowest receiver took this one.
			if err := r.flush(ctx); err != nil {
				return nil, err
			}
			if len(r.carried) == 0 {
				if err := workflow.Await(ctx, func() bool { return ch.pending() > 0 || r.delivered() }); err != nil {
					return nil, err
				}
			}
			if ch.pending() == 0 {
				if len(r.carried) > 0 {
					break
				}
				if err := r.settle(ctx, 0); err != nil {
					return nil, err
				}
				if ch.pending() == 0 {
					break
				}
			}
		} else if err := r.settle(ctx, 0); err != nil {
			return nil, err
		}
		if ch.pending() == 0 {
			break
		}
		if err := r.takeArrived(ctx, ch, true); err != nil {
			return nil, err
		}
	}
	if len(r.carried) > 0 {
		next := r.nextInput()
		next.Pending = r.carried
		if prompt {
			handed, err := r.unfinished(ctx, true)
			if err != nil {
				return nil, err
			}
			next.Handed = handed
		}
		return nil, workflow.NewContinueAsNewError(ctx, AlertWorkflow, next)
	}
	return r.finish(ctx)
}

// carry takes an event that came after the resolve: one that opens a new
// alert, and every one after it, are carried into the next run.
func (r *run) carry(ctx workflow.Context, ev alert.Event) {
	if len(r.carried) > 0 || r.st.Apply(ev, workflow.Now(ctx)) == alert.OutcomeReopen {
		r.carried = append(r.carried, ev)
	}
}

func (r *run) finish(ctx workflow.Context) (*alert.State, error) {
	if r.b.showsOnFinish {
		// A run that opened nothing (a stale delivery) started with the
		// search attributes of the alert its first event would have
		// opened: show what it really is.
		r.dirty = true
	}
	if err := r.settle(ctx, 0); err != nil {
		return nil, err
	}
	return r.st, nil
}

// showRevision keeps the AlertRevision search attribute the run's own
// revision, under RevisionShown: a run the intake started has it already;
// one that continued as new from an older revision does not.
func (r *run) showRevision(ctx workflow.Context) error {
	if !r.b.showsRevision {
		return nil
	}
	if shown, ok := workflow.GetTypedSearchAttributes(ctx).GetInt64(AttrRevision); ok && shown == int64(r.in.Revision) {
		return nil
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, AttrRevision.ValueSet(int64(r.in.Revision))); err != nil {
		return fmt.Errorf("upsert the revision search attribute: %w", err)
	}
	return nil
}
