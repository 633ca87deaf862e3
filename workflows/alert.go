// Package workflows holds AlertWorkflow, which gives an alert of package
// alert a durable lifecycle in Temporal: pipeline signals in, state query
// out, search attributes and memo kept current for the Web UI, and
// notifications sent as activities.
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

// Names the intake and people use to talk to an alert.
const (
	// SignalPipeline carries an alert.Event.
	SignalPipeline = "pipeline"
	// QueryState returns the alert.State.
	QueryState = "state"
)

// DefaultMaxHistory is the history length past which a run continues as
// new; the server's hard limit is 51 200 events.
const DefaultMaxHistory = 10_000

// Input starts or continues an alert. A run started by the intake gets the
// zero Input plus its configuration; a continued run gets State or Pending.
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
}

// notifyNamespace makes notification IDs stable across activity retries and
// replays: they derive from the run and a counter, not from randomness.
var notifyNamespace = uuid.MustParse("4b7d2f43-8a3c-4e0e-9d64-5b1c1a0c6d9e")

// AlertWorkflow is one alert, from the first bad pipeline on a project and
// ref to the success that resolves it. It completes with the final state.
func AlertWorkflow(ctx workflow.Context, in Input) (*alert.State, error) {
	r := &run{in: in, st: in.State}
	if r.st == nil {
		r.st = alert.New(in.Limits)
	} else {
		r.shown = attrsOf(r.st)
	}
	if r.in.MaxHistory <= 0 {
		r.in.MaxHistory = DefaultMaxHistory
	}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (*alert.State, error) {
		return r.st, nil
	}); err != nil {
		return nil, fmt.Errorf("register %s query: %w", QueryState, err)
	}
	return r.loop(ctx)
}

type run struct {
	in Input
	st *alert.State
	// shown is what the search attributes say now.
	shown attrs
	// notifications are activity futures not yet known to have finished.
	notifications []workflow.Future
	notified      int
}

func (r *run) loop(ctx workflow.Context) (*alert.State, error) {
	pipelines := workflow.GetSignalChannel(ctx, SignalPipeline)
	for _, ev := range r.in.Pending {
		if err := r.apply(ctx, ev); err != nil {
			return nil, err
		}
	}
	for r.st.Status != alert.StatusResolved {
		if r.st.Status == alert.StatusNone && len(r.st.Timeline) > 0 && pipelines.Len() == 0 {
			// Everything delivered so far opened nothing (a success that
			// raced the resolve of the previous run): there is no alert.
			return r.finish(ctx)
		}
		var ev alert.Event
		pipelines.Receive(ctx, &ev)
		if err := r.apply(ctx, ev); err != nil {
			return nil, err
		}
		if r.st.Status != alert.StatusResolved && r.historyFull(ctx) {
			return r.continueAsNew(ctx, pipelines)
		}
	}
	return r.complete(ctx, pipelines)
}

// apply applies one event and makes everything outside the state follow:
// search attributes, memo, details, notifications.
func (r *run) apply(ctx workflow.Context, ev alert.Event) error {
	out := r.st.Apply(ev, workflow.Now(ctx))
	workflow.GetLogger(ctx).Info("Pipeline event applied",
		"PipelineID", ev.Pipeline.ID, "PipelineStatus", ev.Pipeline.Status, "Outcome", out)
	if !out.Changed() {
		return nil
	}
	if err := r.show(ctx); err != nil {
		return err
	}
	if out.Notifies() {
		r.notify(ctx, activities.Kind(out))
	}
	return nil
}

// show brings search attributes, memo and current details in line with the
// state, upserting only when a value changed.
func (r *run) show(ctx workflow.Context) error {
	now := attrsOf(r.st)
	if now != r.shown {
		if err := workflow.UpsertTypedSearchAttributes(ctx, now.updates()...); err != nil {
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

// notify starts one notification per sink without waiting for it, so the
// signal loop keeps applying events while a sink is slow or down.
func (r *run) notify(ctx workflow.Context, kind activities.Kind) {
	info := workflow.GetInfo(ctx)
	r.notified++
	snapshot := *r.st
	snapshot.Timeline, snapshot.RecentKeys = nil, nil
	n := activities.Notification{
		ID:    uuid.NewSHA1(notifyNamespace, fmt.Appendf(nil, "%s/%s/%d", info.WorkflowExecution.ID, info.WorkflowExecution.RunID, r.notified)).String(),
		Kind:  kind,
		Title: r.st.Title(),
		Alert: snapshot,
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	})
	var sink *activities.LogSink
	r.notifications = append(r.notifications, workflow.ExecuteActivity(actx, sink.NotifyLog, n))
	r.forgetFinishedNotifications()
}

func (r *run) forgetFinishedNotifications() {
	kept := r.notifications[:0]
	for _, f := range r.notifications {
		if !f.IsReady() {
			kept = append(kept, f)
		}
	}
	r.notifications = kept
}

// settle waits until every notification has been delivered or has given up
// and every handler has finished: a run must not end under them.
func (r *run) settle(ctx workflow.Context) error {
	for _, f := range r.notifications {
		if err := f.Get(ctx, nil); err != nil {
			// The notification gave up after its retries; the alert
			// itself is still right, so the run goes on.
			workflow.GetLogger(ctx).Error("Notification failed", "Error", err)
		}
	}
	r.notifications = nil
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

func (r *run) historyFull(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= r.in.MaxHistory
}

// continueAsNew carries the alert into a fresh run once every signal that
// has arrived is applied, so that none is left behind in the old history.
func (r *run) continueAsNew(ctx workflow.Context, pipelines workflow.ReceiveChannel) (*alert.State, error) {
	if err := r.settle(ctx); err != nil {
		return nil, err
	}
	var ev alert.Event
	for pipelines.ReceiveAsync(&ev) {
		if err := r.apply(ctx, ev); err != nil {
			return nil, err
		}
		if r.st.Status == alert.StatusResolved {
			return r.complete(ctx, pipelines)
		}
		ev = alert.Event{}
	}
	if err := r.settle(ctx); err != nil {
		return nil, err
	}
	next := r.in
	next.State, next.Pending = r.st, nil
	return nil, workflow.NewContinueAsNewError(ctx, AlertWorkflow, next)
}

// complete ends a resolved alert: it waits for the notifications, then
// drains the signals that arrived meanwhile. A bad pipeline among them
// opens a new alert: the run continues as new with it and everything after
// it, so no failure that arrived after the resolve is lost.
func (r *run) complete(ctx workflow.Context, pipelines workflow.ReceiveChannel) (*alert.State, error) {
	var carry []alert.Event
	for {
		if err := r.settle(ctx); err != nil {
			return nil, err
		}
		var ev alert.Event
		if !pipelines.ReceiveAsync(&ev) {
			break
		}
		if len(carry) > 0 {
			carry = append(carry, ev)
			continue
		}
		if r.st.Apply(ev, workflow.Now(ctx)) == alert.OutcomeReopen {
			carry = append(carry, ev)
		}
	}
	if len(carry) > 0 {
		next := Input{Pending: carry, Limits: r.st.Limits, MaxHistory: r.in.MaxHistory}
		return nil, workflow.NewContinueAsNewError(ctx, AlertWorkflow, next)
	}
	return r.finish(ctx)
}

func (r *run) finish(ctx workflow.Context) (*alert.State, error) {
	if err := r.settle(ctx); err != nil {
		return nil, err
	}
	return r.st, nil
}
