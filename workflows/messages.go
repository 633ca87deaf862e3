package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/alert"
)

// alertSignal is a signal AlertWorkflow takes: its name, whether a run
// takes it, and what the run does with one.
type alertSignal struct {
	name string
	// takes says whether a run of the revision takes the signal; nil:
	// every run does.
	takes func(behaviours) bool
	// receive takes one signal from c, waiting for it when wait (the
	// loop's selector found it there) and only if one is there otherwise,
	// and applies it to the alert; once the alert is resolved (late) it
	// records what a resolved alert makes of it instead. ok says one was
	// taken.
	receive func(r *run, ctx workflow.Context, c workflow.ReceiveChannel, wait, late bool) (ok bool, err error)
}

// signal is the alertSignal whose payload is a T: apply applies one to an
// alert that is not resolved, late takes one that came after the resolve.
func signal[T any](name string, takes func(behaviours) bool,
	apply func(r *run, ctx workflow.Context, v T) error,
	late func(r *run, ctx workflow.Context, v T),
) alertSignal {
	receive := func(r *run, ctx workflow.Context, c workflow.ReceiveChannel, wait, isLate bool) (bool, error) {
		var v T
		if wait {
			c.Receive(ctx, &v)
		} else if !c.ReceiveAsync(&v) {
			return false, nil
		}
		if isLate {
			late(r, ctx, v)
			return true, nil
		}
		return true, apply(r, ctx, v)
	}
	return alertSignal{name: name, takes: takes, receive: receive}
}

// alertSignals are the signals of AlertWorkflow, in the order in which
// drain and complete take those that have arrived: branch deletions last.
// The loop's selector prefers them in loopOrder's order. Recorded
// histories hold the run to both.
var alertSignals = []alertSignal{
	signal(SignalPipeline, nil,
		func(r *run, ctx workflow.Context, ev alert.Event) error {
			r.apply(ctx, ev)
			return nil
		},
		(*run).carry),
	signal(SignalAcknowledge, nil,
		func(r *run, ctx workflow.Context, a alert.Acknowledgement) error {
			return r.signalled(ctx, SignalAcknowledge, a.By, r.acknowledge(ctx, a))
		},
		func(r *run, ctx workflow.Context, a alert.Acknowledgement) {
			r.st.Reject(SignalAcknowledge, a.By, r.st.CheckAcknowledge(a), workflow.Now(ctx))
		}),
	signal(SignalResolve, nil,
		func(r *run, ctx workflow.Context, res alert.Resolution) error {
			return r.signalled(ctx, SignalResolve, res.By, r.resolve(ctx, res))
		},
		func(r *run, ctx workflow.Context, res alert.Resolution) {
			r.st.Reject(SignalResolve, res.By, r.st.CheckResolve(res), workflow.Now(ctx))
		}),
	signal(SignalSnooze, func(b behaviours) bool { return b.routes },
		func(r *run, ctx workflow.Context, req alert.SnoozeRequest) error {
			return r.signalled(ctx, SignalSnooze, req.By, r.snooze(ctx, req))
		},
		func(r *run, ctx workflow.Context, req alert.SnoozeRequest) {
			r.st.Reject(SignalSnooze, req.By, r.st.CheckSnooze(req), workflow.Now(ctx))
		}),
	signal(SignalSilenceEnded, func(b behaviours) bool { return b.silences },
		func(r *run, ctx workflow.Context, id string) error {
			r.endSilence(ctx, id, "silence "+id+" was expired")
			return nil
		},
		// A resolved alert has nothing to hand over.
		func(*run, workflow.Context, string) {}),
	signal(SignalBranchDeleted, nil,
		func(r *run, ctx workflow.Context, d alert.Deletion) error {
			r.deleted(ctx, d)
			return nil
		},
		func(r *run, ctx workflow.Context, d alert.Deletion) {
			r.st.DeleteBranch(d, workflow.Now(ctx))
		}),
}

// channels are a run's signal channels by name: those of the signals its
// revision takes.
type channels map[string]workflow.ReceiveChannel

func (r *run) channels(ctx workflow.Context) channels {
	ch := channels{}
	for _, s := range alertSignals {
		if s.takes == nil || s.takes(r.b) {
			ch[s.name] = workflow.GetSignalChannel(ctx, s.name)
		}
	}
	return ch
}

// pending is how many signals have arrived and are not taken yet.
func (ch channels) pending() int {
	n := 0
	for _, c := range ch {
		n += c.Len()
	}
	return n
}

// takeArrived takes one signal that has arrived, in alertSignals' order,
// applying it (late: as a resolved alert takes it).
func (r *run) takeArrived(ctx workflow.Context, ch channels, late bool) error {
	for _, s := range alertSignals {
		if c := ch[s.name]; c != nil {
			if ok, err := s.receive(r, ctx, c, false, late); ok || err != nil {
				return err
			}
		}
	}
	return nil
}

// loopCase is one case of the loop's selector: a signal, a timer, or the
// wake-up an update handler sends.
type loopCase struct {
	signal string
	wake   bool
	timer  timerKind
	// takes says whether a run of the revision has the timer; nil: every
	// run has.
	takes func(behaviours) bool
	// arm returns the timer as the state wants it, starting, moving or
	// stopping it; nil when none is due.
	arm func(r *run, ctx workflow.Context) workflow.Future
	// fire handles the timer once it fired or was cancelled.
	fire func(r *run, ctx workflow.Context, f workflow.Future) error
}

// loopOrder is the loop's selector: the SDK's selector takes the first
// ready case in the order they were added, and the timers start and stop
// in this order too. Recorded histories hold the run to both orders.
var loopOrder = []loopCase{
	{signal: SignalPipeline},
	{signal: SignalAcknowledge},
	{signal: SignalResolve},
	{signal: SignalBranchDeleted},
	{signal: SignalSnooze},
	{timer: timerSnoozeEnd, takes: func(b behaviours) bool { return b.routes }, arm: (*run).snoozeTimer, fire: ignoring((*run).endSnooze)},
	{timer: timerEscalation, takes: func(b behaviours) bool { return b.routes }, arm: (*run).escalationTimer, fire: ignoring((*run).escalationDue)},
	{signal: SignalSilenceEnded},
	{timer: timerSilenceEnd, takes: func(b behaviours) bool { return b.silences }, arm: (*run).silenceTimer, fire: ignoring((*run).silenceOver)},
	{wake: true},
	{timer: timerReminder, arm: (*run).reminderTimer, fire: (*run).remind},
	{timer: timerHold, arm: (*run).holdTimer, fire: ignoring((*run).endHold)},
	{timer: timerAutoResolve, arm: (*run).autoResolveTimer, fire: ignoring((*run).autoResolved)},
	{timer: timerStable, arm: (*run).stableTimer, fire: ignoring((*run).stableDue)},
	{timer: timerReconcile, arm: (*run).reconcileTimer, fire: ignoring((*run).reconcileScheduled)},
}

// ignoring makes a timer's handler that cannot fail a loopCase's fire.
func ignoring(f func(*run, workflow.Context, workflow.Future)) func(*run, workflow.Context, workflow.Future) error {
	return func(r *run, ctx workflow.Context, timer workflow.Future) error {
		f(r, ctx, timer)
		return nil
	}
}

// selector is the loop's selector over ch and the run's timers, arming
// each timer; the case that runs sets *err.
func (r *run) selector(ctx workflow.Context, ch channels, err *error) workflow.Selector {
	sel := workflow.NewSelector(ctx)
	for _, lc := range loopOrder {
		switch {
		case lc.wake:
			sel.AddReceive(r.wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		case lc.signal != "":
			c := ch[lc.signal]
			if c == nil {
				continue
			}
			s := signalNamed(lc.signal)
			sel.AddReceive(c, func(c workflow.ReceiveChannel, _ bool) { _, *err = s.receive(r, ctx, c, true, false) })
		case lc.takes == nil || lc.takes(r.b):
			if timer := lc.arm(r, ctx); timer != nil {
				sel.AddFuture(timer, func(f workflow.Future) { *err = lc.fire(r, ctx, f) })
			}
		}
	}
	return sel
}

func signalNamed(name string) alertSignal {
	for _, s := range alertSignals {
		if s.name == name {
			return s
		}
	}
	panic("no signal " + name)
}

// alertUpdate is an update AlertWorkflow takes: its name, whether a run
// takes it, and how a run registers its handler.
type alertUpdate struct {
	name string
	// takes says whether a run of the revision takes the update; nil:
	// every run does.
	takes    func(behaviours) bool
	register func(r *run, ctx workflow.Context) error
}

// update is the alertUpdate whose argument is a T: validate refuses one
// before it reaches the history, handle applies it; the update answers
// with the alert as it is then.
func update[T any](name string, takes func(behaviours) bool,
	validate func(r *run, v T) error,
	handle func(r *run, ctx workflow.Context, v T) error,
) alertUpdate {
	register := func(r *run, ctx workflow.Context) error {
		return workflow.SetUpdateHandlerWithOptions(ctx, name,
			func(ctx workflow.Context, v T) (*alert.State, error) {
				err := handle(r, ctx, v)
				return r.snapshot(), err
			},
			workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, v T) error { return validate(r, v) }},
		)
	}
	return alertUpdate{name: name, takes: takes, register: register}
}

// alertUpdates are the updates of AlertWorkflow.
var alertUpdates = []alertUpdate{
	update(UpdateAcknowledge, nil,
		func(r *run, a alert.Acknowledgement) error {
			if err := r.st.CheckAcknowledge(a); err != nil {
				return rejection(err)
			}
			if r.b.refusesRepeatedAck && r.st.Status == alert.StatusAcknowledged {
				return temporal.NewNonRetryableApplicationError(
					fmt.Sprintf("%s is acknowledged already, by %s", r.st.ID, r.st.AcknowledgedBy), ErrTypeAlreadyAcknowledged, nil)
			}
			return nil
		},
		(*run).acknowledge),
	update(UpdateResolve, nil,
		func(r *run, res alert.Resolution) error { return rejection(r.st.CheckResolve(res)) },
		(*run).resolve),
	update(UpdateSnooze, func(b behaviours) bool { return b.routes },
		func(r *run, req alert.SnoozeRequest) error { return rejection(r.st.CheckSnooze(req)) },
		(*run).snooze),
	update(UpdateReconcile, func(b behaviours) bool { return b.reconciles },
		func(r *run, req alert.ReconcileRequest) error {
			if r.in.Reconcile == nil {
				return temporal.NewNonRetryableApplicationError(
					fmt.Sprintf("%s cannot be reconciled: no GitLab API is configured for its instance", r.st.ID), ErrTypeNotReconciled, nil)
			}
			return rejection(r.st.CheckReconcile(req))
		},
		func(r *run, ctx workflow.Context, req alert.ReconcileRequest) error {
			r.reconcile(ctx, req.By, onDemandWithin)
			return nil
		}),
}
