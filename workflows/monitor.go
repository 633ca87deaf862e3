package workflows

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/monitor"
)

// A heartbeat monitor's workflow watches one ref for the scheduled
// pipelines its monitors expect, and opens the ref's alert when one did
// not finish by its deadline. One workflow per watched ref, not Temporal
// Schedules: a monitor's deadline moves with every run (every 24h counts
// from the last one), which a schedule would have to be rewritten for at
// each run, and the last run needs a durable home either way. A timer in
// a workflow is both.

// Names of the monitor workflow and what talks to it.
const (
	MonitorWorkflowType = "MonitorWorkflow"
	// SignalMonitorRun carries a MonitorRun: a scheduled pipeline on the
	// ref finished. The intake sends it.
	SignalMonitorRun = "run"
	// SignalMonitorSpecs carries the ref's []monitor.Spec from the
	// routing file; none retires the workflow. The worker sends it at
	// each start.
	SignalMonitorSpecs = "specs"
	// QueryMonitor answers a MonitorState.
	QueryMonitor = "state"
)

// A monitor continues as new after monitorMaxWakes wake-ups or
// monitorMaxHistory events, whichever comes first: a nightly monitor's
// history grows by a few events a day, a one-minute one's by thousands.
const (
	monitorMaxWakes   = 250
	monitorMaxHistory = 2_000
)

// MonitorID is the workflow ID of the monitors of an alert ID. A '/'
// never appears in an alert ID before its ref, so the two never collide.
func MonitorID(alertID string) string { return "monitor/" + alertID }

// MonitorRun is a scheduled pipeline that finished, as the intake saw it.
type MonitorRun struct {
	PipelineID int64     `json:"pipeline_id"`
	Status     string    `json:"status"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// MonitorInput starts or continues a ref's monitor workflow.
type MonitorInput struct {
	Specs []monitor.Spec `json:"specs"`
	// After is, by monitor name, what its next deadline counts from: its
	// last run, its last deadline, or when it started; a monitor not in
	// it starts now.
	After map[string]time.Time `json:"after,omitempty"`
	// LastRun is the newest run seen.
	LastRun *MonitorRun `json:"last_run,omitempty"`
}

// MonitorState is what the monitor query answers.
type MonitorState struct {
	Specs     []monitor.Spec       `json:"specs"`
	Deadlines map[string]time.Time `json:"deadlines"`
	LastRun   *MonitorRun          `json:"last_run,omitempty"`
	// Missed counts the deadlines that passed with no run, in this run.
	Missed int `json:"missed"`
}

// MonitorWorkflow keeps a ref's monitors until the routing file no longer
// names any.
func MonitorWorkflow(ctx workflow.Context, in MonitorInput) error {
	st := MonitorState{Specs: in.Specs, LastRun: in.LastRun, Deadlines: map[string]time.Time{}}
	after := map[string]time.Time{}
	now := workflow.Now(ctx)
	adopt := func(specs []monitor.Spec, at time.Time) {
		kept := map[string]time.Time{}
		for _, sp := range specs {
			if t, ok := after[sp.Name]; ok {
				kept[sp.Name] = t
			} else if t, ok := in.After[sp.Name]; ok {
				kept[sp.Name] = t
			} else {
				kept[sp.Name] = at
			}
		}
		st.Specs, after = specs, kept
		st.Deadlines = map[string]time.Time{}
		for _, sp := range specs {
			st.Deadlines[sp.Name] = sp.Deadline(after[sp.Name])
		}
	}
	adopt(in.Specs, now)
	if err := workflow.SetQueryHandler(ctx, QueryMonitor, func() (MonitorState, error) { return st, nil }); err != nil {
		return fmt.Errorf("register %s query: %w", QueryMonitor, err)
	}
	runs := workflow.GetSignalChannel(ctx, SignalMonitorRun)
	specs := workflow.GetSignalChannel(ctx, SignalMonitorSpecs)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		// Opening the alert is the monitor's whole point: keep trying
		// while Temporal is there to be asked.
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	})
	for wakes := 1; len(st.Specs) > 0; wakes++ {
		next := slices.MinFunc(slices.Collect(maps.Values(st.Deadlines)), time.Time.Compare)
		tctx, cancel := workflow.WithCancel(ctx)
		timer := newTimer(tctx, timerMonitorDue, max(next.Sub(workflow.Now(ctx)), time.Second))
		var err error
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(runs, func(c workflow.ReceiveChannel, _ bool) {
			var run MonitorRun
			c.Receive(ctx, &run)
			at := workflow.Now(ctx)
			if !run.FinishedAt.IsZero() && run.FinishedAt.Before(at) {
				at = run.FinishedAt
			}
			if st.LastRun == nil || run.PipelineID >= st.LastRun.PipelineID {
				st.LastRun = &run
			}
			for _, sp := range st.Specs {
				if at.After(after[sp.Name]) {
					after[sp.Name] = at
					st.Deadlines[sp.Name] = sp.Deadline(at)
				}
			}
		})
		sel.AddReceive(specs, func(c workflow.ReceiveChannel, _ bool) {
			var sp []monitor.Spec
			c.Receive(ctx, &sp)
			adopt(sp, workflow.Now(ctx))
		})
		sel.AddFuture(timer, func(f workflow.Future) {
			if f.Get(ctx, nil) != nil {
				return
			}
			at := workflow.Now(ctx)
			for _, sp := range st.Specs {
				due := st.Deadlines[sp.Name]
				if due.After(at) {
					continue
				}
				if err = workflow.ExecuteActivity(actx, activities.ActivityOpenMissed, activities.MissedRequest{Spec: sp, Due: due}).Get(ctx, nil); err != nil {
					return
				}
				st.Missed++
				after[sp.Name] = due
				st.Deadlines[sp.Name] = sp.Deadline(due)
			}
		})
		sel.Select(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("open the alert of a missed run: %w", err)
		}
		full := wakes >= monitorMaxWakes || workflow.GetInfo(ctx).GetCurrentHistoryLength() >= monitorMaxHistory
		if full && runs.Len() == 0 && specs.Len() == 0 {
			return workflow.NewContinueAsNewError(ctx, MonitorWorkflow, MonitorInput{Specs: st.Specs, After: after, LastRun: st.LastRun})
		}
	}
	return nil
}

// Opener opens alerts from outside a delivery, as the intake does: the
// missed runs of monitors go through it. It is not an activity itself; the
// activity that calls it lives with the others in activities.
type Opener struct {
	client     client.Client
	taskQueue  string
	alert      Input
	reconciled func(instance string) bool
}

// NewOpener returns an opener of alerts on taskQueue, each started with in
// (the intake's input for new alerts), whose Reconcile is kept for the
// instances reconciled says have an API.
func NewOpener(c client.Client, taskQueue string, in Input, reconciled func(instance string) bool) *Opener {
	in.Revision = CurrentRevision
	return &Opener{client: c, taskQueue: taskQueue, alert: in, reconciled: reconciled}
}

// Open signals ev to its alert, starting the alert when there is none, as
// a failed pipeline's delivery does; source is kept in the memo.
func (o *Opener) Open(ctx context.Context, ev alert.Event, source string) error {
	in := o.alert
	if !o.reconciled(ev.Instance) {
		in.Reconcile = nil
	}
	opts := StartOptions(o.taskQueue, in, ev)
	opts.Memo[MemoSource] = source
	if _, err := o.client.SignalWithStartWorkflow(ctx, ev.AlertID(), SignalPipeline, ev, opts, AlertWorkflow, in); err != nil {
		return fmt.Errorf("signal %s: %w", ev.AlertID(), err)
	}
	return nil
}
