// Package baseline is the yardstick of alertflow's load benchmark: the
// least a Temporal workflow can do with the same signals an alert gets, so
// that make bench can tell what alertflow adds to raw SDK calls.
package baseline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.temporal.io/sdk/activity"
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

// NotifyWorkflow is the floor of a notification: it takes the first
// pipeline signal, as an alert opening does, and runs one activity that
// posts an "opened" notification for it to url.
func NotifyWorkflow(ctx workflow.Context, url string) error {
	var ev alert.Event
	workflow.GetSignalChannel(ctx, workflows.SignalPipeline).Receive(ctx, &ev)
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second})
	return workflow.ExecuteActivity(ctx, PostOpened, url, workflow.GetInfo(ctx).WorkflowExecution.ID).Get(ctx, nil)
}

// Opened is the body PostOpened sends: the fields of alertflow's webhook
// notification a receiver needs to tell which alert opened.
type Opened struct {
	Kind  string `json:"kind"`
	Alert struct {
		ID string `json:"id"`
	} `json:"alert"`
}

// notifyClient is the floor's HTTP client, kept alive across activities
// as alertflow's notifier keeps its own.
var notifyClient = &http.Client{Timeout: 10 * time.Second}

// PostOpened posts an "opened" notification for alert id to url.
func PostOpened(ctx context.Context, url, id string) error {
	var o Opened
	o.Kind, o.Alert.ID = "opened", id
	body, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode notification of %s: %w", id, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build notification of %s: %w", id, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := notifyClient.Do(req)
	if err != nil {
		return fmt.Errorf("post notification of %s (attempt %d): %w", id, activity.GetInfo(ctx).Attempt, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post notification of %s: receiver answered %s", id, resp.Status)
	}
	return nil
}

// NewWorker returns a worker with options opts (alertflow's, or the SDK's
// defaults) that runs Workflow and NotifyWorkflow on taskQueue. It is not
// started.
func NewWorker(c client.Client, taskQueue string, opts worker.Options) worker.Worker {
	w := worker.New(c, taskQueue, opts)
	w.RegisterWorkflow(Workflow)
	w.RegisterWorkflow(NotifyWorkflow)
	w.RegisterActivity(PostOpened)
	return w
}
