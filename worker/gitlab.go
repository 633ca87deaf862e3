package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/gitlabapi"
	"github.com/alertflow/alertflow/monitor"
	"github.com/alertflow/alertflow/workflows"
)

// GitLab is what a worker's alerts need of GitLab beyond its deliveries.
type GitLab struct {
	// APIs read GitLab's API, by instance ("" the home one), for
	// reconciliation; an instance without one is not reconciled.
	APIs map[string]*gitlabapi.Client
	// Alert is the input the alerts that monitors open start with: what
	// the intake starts alerts with. Its Reconcile is kept only for the
	// instances that have an API.
	Alert workflows.Input
}

func registerGitLab(w sdkworker.Worker, c client.Client, taskQueue string, gl GitLab) {
	w.RegisterActivityWithOptions(activities.NewReconciler(gl.APIs).Reconcile, activity.RegisterOptions{Name: activities.ActivityReconcile})
	w.RegisterWorkflowWithOptions(workflows.MonitorWorkflow, workflow.RegisterOptions{Name: workflows.MonitorWorkflowType})
	opener := workflows.NewOpener(c, taskQueue, gl.Alert, func(instance string) bool { return gl.APIs[instance] != nil })
	w.RegisterActivityWithOptions(activities.NewMissedRuns(opener).OpenMissed, activity.RegisterOptions{Name: activities.ActivityOpenMissed})
}

// StartMonitors makes the monitor workflows on taskQueue follow specs, the
// routing file's monitors: each watched ref's workflow is given its
// monitors (and started if it is not running), and each running one the
// file no longer names is given none, which ends it.
func StartMonitors(ctx context.Context, c client.Client, taskQueue string, specs []monitor.Spec) error {
	byRef := map[string][]monitor.Spec{}
	for _, sp := range specs {
		byRef[sp.AlertID()] = append(byRef[sp.AlertID()], sp)
	}
	for alertID, group := range byRef {
		id := workflows.MonitorID(alertID)
		_, err := c.SignalWithStartWorkflow(ctx, id, workflows.SignalMonitorSpecs, group, client.StartWorkflowOptions{
			ID:                    id,
			TaskQueue:             taskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		}, workflows.MonitorWorkflowType, workflows.MonitorInput{Specs: group})
		if err != nil {
			return fmt.Errorf("start monitor workflow %s: %w", id, err)
		}
	}
	running, err := runningMonitors(ctx, c, taskQueue)
	if err != nil {
		return err
	}
	for _, id := range running {
		if _, kept := byRef[id]; kept {
			continue
		}
		if err := c.SignalWorkflow(ctx, workflows.MonitorID(id), "", workflows.SignalMonitorSpecs, []monitor.Spec{}); err != nil && !errors.As(err, new(*serviceerror.NotFound)) {
			return fmt.Errorf("retire monitor workflow %s: %w", workflows.MonitorID(id), err)
		}
	}
	return nil
}

// runningMonitors lists the alert IDs whose monitor workflows run on
// taskQueue: the deployment's own, whose routing file names its monitors.
func runningMonitors(ctx context.Context, c client.Client, taskQueue string) ([]string, error) {
	var ids []string
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: "WorkflowType = '" + workflows.MonitorWorkflowType + "' AND ExecutionStatus = 'Running' AND TaskQueue = '" +
				strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(taskQueue) + "'",
			NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list monitor workflows: %w", err)
		}
		for _, ex := range resp.GetExecutions() {
			if id, ok := strings.CutPrefix(ex.GetExecution().GetWorkflowId(), workflows.MonitorID("")); ok && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return ids, nil
		}
	}
}

// Monitors are where a worker's monitors come from: the routing file's
// own, and the projects whose pipeline schedules GitLab's API lists.
type Monitors struct {
	Specs     []monitor.Spec
	Schedules []monitor.Schedules
}

// DefaultScheduleRefresh is how often the pipeline schedules are read
// again: a schedule made today is watched within the hour.
const DefaultScheduleRefresh = time.Hour

// FollowMonitors makes the monitor workflows on taskQueue follow m, beside
// the worker: at once, again soon while Temporal cannot be asked, and,
// when m reads pipeline schedules, every refresh, until ctx ends. A
// project whose schedules cannot be read keeps the monitors its last good
// read gave, so that GitLab being down retires none. Only a monitor that
// can never run is an error: a worker must start even while the
// visibility store, which following reads, is too slow to answer (the
// fault test restarts a worker under load).
func FollowMonitors(ctx context.Context, c client.Client, taskQueue string, m Monitors, apis map[string]*gitlabapi.Client, refresh time.Duration, logger *slog.Logger) error {
	for _, s := range m.Schedules {
		if apis[s.Instance] == nil {
			return fmt.Errorf("monitors of project %d's pipeline schedules: no GitLab API for its instance %q (ALERTFLOW_SOURCE_GITLAB_API)", s.Project, s.Instance)
		}
	}
	found := map[int][]monitor.Spec{}
	round := func() []monitor.Spec {
		specs := slices.Clone(m.Specs)
		for i, s := range m.Schedules {
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			list, err := apis[s.Instance].Schedules(rctx, s.Project)
			cancel()
			if err != nil {
				logger.Warn("reading pipeline schedules failed; keeping the monitors read before", "project", s.Project, "instance", s.Instance, "error", err)
			} else {
				var skipped []string
				found[i], skipped = s.Specs(list)
				for _, why := range skipped {
					logger.Warn("pipeline schedule not monitored", "reason", why)
				}
			}
			specs = append(specs, found[i]...)
		}
		return specs
	}
	go follow(ctx, func(ctx context.Context) error {
		return StartMonitors(ctx, c, taskQueue, round())
	}, len(m.Schedules) > 0, refresh, logger)
	return nil
}

// follow runs step until it succeeds, again after firstMonitorRetry
// (doubling up to refresh) while it fails, then every refresh when again
// says there is something to read again, until ctx ends.
func follow(ctx context.Context, step func(context.Context) error, again bool, refresh time.Duration, logger *slog.Logger) {
	retry := min(firstMonitorRetry, refresh)
	for {
		wait := refresh
		if err := step(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			logger.Warn("following the monitors failed; trying again", "in", retry.String(), "error", err)
			wait, retry = retry, min(2*retry, refresh)
		} else if retry = min(firstMonitorRetry, refresh); !again {
			// The file's monitors are all there is: nothing to read again.
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// firstMonitorRetry is how soon following the monitors is tried again
// after Temporal could not be asked; it doubles up to the refresh.
const firstMonitorRetry = 10 * time.Second
