// Package worker builds the Temporal worker that runs alerts, and makes
// sure the server knows the search attributes alerts are filtered by.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/workflows"
)

// deadlockDetection is how long workflow code may run without blocking
// before the SDK fails its task as deadlocked.
const deadlockDetection = 5 * time.Second

// New returns a worker on taskQueue that runs AlertWorkflow and the
// notification activities of sinks, ChangeWorkflow and its activities
// (methods of sinks too), the local activity that recalls an alert ID's
// memory, and SilenceWorkflow (for the silences started on the
// alerts' task queue: by the temporal CLI, or before silences had a task
// queue of their own, see NewSilences); sinks check the silences kept
// on the server c talks to, whose reads record on metrics (nil for none)
// and log on logger. It is not started.
func New(c client.Client, taskQueue string, sinks *activities.Sinks, metrics client.MetricsHandler, logger *slog.Logger) sdkworker.Worker {
	return NewWith(c, taskQueue, sinks, metrics, logger, GitLab{})
}

// NewWith is New with what the alerts need of GitLab beyond its
// deliveries: its API for reconciliation, and how the alerts of heartbeat
// monitors start.
func NewWith(c client.Client, taskQueue string, sinks *activities.Sinks, metrics client.MetricsHandler, logger *slog.Logger, gl GitLab) sdkworker.Worker {
	w := sdkworker.New(c, taskQueue, Options())
	w.RegisterWorkflow(workflows.AlertWorkflow)
	w.RegisterWorkflow(workflows.SilenceWorkflow)
	// Change events; their activities, RouteChange and SendChange, are
	// methods of sinks, registered with it below.
	w.RegisterWorkflowWithOptions(workflows.ChangeWorkflow, workflow.RegisterOptions{Name: workflows.ChangeWorkflowType})
	registerGitLab(w, c, taskQueue, gl)
	silences := workflows.NewSilenceStore(c, metrics, logger)
	silences.Warm()
	activities.SilenceWith(sinks, silences.Active)
	w.RegisterActivity(sinks)
	w.RegisterActivityWithOptions(activities.NewRecaller(c).RecallMemory, activity.RegisterOptions{Name: activities.ActivityRecall})
	registerRelease(w, c)
	return w
}

// NewSilences returns a worker on taskQueue that runs SilenceWorkflow and
// the activity that tells the alerts a silence holds that it was expired
// early. It is not started.
//
// Silences run apart from alerts because each workflow a worker ran stays
// in the Go SDK's workflow cache, which is one per process: ten thousand
// idle silences held some 280 MB of the alert worker's heap, and its
// garbage collection then marked for half a second at a time, in the way
// of every notification. In a process of their own they cost the alert
// worker nothing; SilenceCacheSize keeps them from costing their own
// process as much.
func NewSilences(c client.Client, taskQueue string, logger *slog.Logger) sdkworker.Worker {
	w := sdkworker.New(c, taskQueue, Options())
	w.RegisterWorkflow(workflows.SilenceWorkflow)
	registerRelease(w, c)
	return w
}

// SilenceCacheSize is the workflow cache of a process that runs only
// silences (sdkworker.SetStickyWorkflowCacheSize, before its worker
// starts). A silence runs one workflow task when it starts and, hours
// later, one or two when it ends or is expired: the SDK's default of ten
// thousand kept every idle silence in the heap (450 MB of RSS for ten
// thousand), and the runtime's forced collection every two minutes then
// marked it for a third of a second on a two-core machine, slowing the
// Temporal server and the alert worker beside it. A silence not cached
// replays its few events when it next has a task.
const SilenceCacheSize = 100

// registerRelease registers the activity an expired silence runs, on
// either worker: silences run with alerts when no silence worker is apart.
func registerRelease(w sdkworker.Worker, c client.Client) {
	r := activities.NewReleaser(c, workflows.AttrSilencedBy.GetName(), workflows.SignalSilenceEnded)
	w.RegisterActivityWithOptions(r.ReleaseSilenced, activity.RegisterOptions{Name: activities.ActivityReleaseSilenced})
}

// Options are the worker options of every alertflow worker.
func Options() sdkworker.Options {
	return sdkworker.Options{
		// A burst of signals is applied in one workflow task without a
		// yield, and decoding large events takes a while on a loaded
		// machine: the SDK's default of one second failed such tasks as
		// deadlocks, again at every retry. Still below the task timeout.
		DeadlockDetectionTimeout: deadlockDetection,
		// The SDK's default, two pollers shared between the normal and
		// the sticky queue, sends every poll to the sticky queue while the
		// last sticky answer said more were waiting there. Two pollers
		// answered at once, the later answer saying one more, leave that
		// hint standing once the sticky queue is empty: both pollers then
		// wait out the server's one-minute long poll there while new
		// alerts queue on the normal queue, and nothing polls it. Measured
		// in make bench: about once a run, a round's tasks waited 60 to 70
		// s with nothing polling. The autoscaling poller always keeps a
		// poll on the normal queue.
		WorkflowTaskPollerBehavior: sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{}),
	}
}

// EnsureSearchAttributes registers on the server every search attribute
// alerts use that it does not have yet. The dev server registers its
// --search-attribute flags only when it creates the namespace, and a fresh
// production cluster has none, so the worker does this at every start.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
	}
	missing := workflows.SearchAttributeTypes()
	for name := range missing {
		if _, ok := have.GetCustomAttributes()[name]; ok {
			delete(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("add search attributes to namespace %s: %w", namespace, err)
	}
	return nil
}
