// Package baseline is the yardstick of alertflow's load benchmark: the
// least a Temporal workflow can do with the same signals an alert gets, so
// that make bench can tell what alertflow adds to raw SDK calls.
package baseline

import (
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/workflows"
)

// Workflow receives pipeline signals, as an alert does, and completes once
// a success has arrived and no signal is pending, as an alert completes
// when a success resolves it. It does nothing else.
func Workflow(ctx workflow.Context) error {
	ch := workflow.GetSignalChannel(ctx, workflows.SignalPipeline)
	for {
		var ev alert.Event
		ch.Receive(ctx, &ev)
		if ev.Pipeline.Status == "success" && ch.Len() == 0 {
			return nil
		}
	}
}

// NewWorker returns a worker with the SDK's default options that runs
// Workflow on taskQueue. It is not started.
func NewWorker(c client.Client, taskQueue string) worker.Worker {
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflow(Workflow)
	return w
}
