package activities

import (
	"context"
	"fmt"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/visibility"
)

// ActivityReleaseSilenced tells every open alert a silence holds that the
// silence was expired early.
const ActivityReleaseSilenced = "ReleaseSilenced"

// Releaser is the activity a silence runs when it is expired early. The
// alert workflow's names (the search attribute that says which silence
// holds an alert, the signal that tells it the silence ended) are passed
// in, so that this package does not depend on the workflows that use it.
type Releaser struct {
	client client.Client
	// heldBy is the search attribute naming the silence that holds an alert.
	heldBy string
	// ended is the signal, carrying the silence's ID, that tells an alert
	// its silence ended.
	ended string
}

// NewReleaser returns the release activity over c.
func NewReleaser(c client.Client, heldBy, ended string) *Releaser {
	return &Releaser{client: c, heldBy: heldBy, ended: ended}
}

// ReleaseSilenced signals every open alert silence id holds that it was
// expired early, and returns how many it told.
func (r *Releaser) ReleaseSilenced(ctx context.Context, id string) (int, error) {
	query := r.heldBy + " = " + visibility.Quote(id) + " AND ExecutionStatus = 'Running'"
	var token []byte
	told := 0
	for {
		resp, err := r.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			PageSize: 500, NextPageToken: token, Query: query,
		})
		if err != nil {
			return told, fmt.Errorf("list the alerts silence %s holds: %w", id, err)
		}
		for _, run := range resp.GetExecutions() {
			err := r.client.SignalWorkflow(ctx, run.GetExecution().GetWorkflowId(), "", r.ended, id)
			if err != nil && !visibility.NotFound(err) {
				return told, fmt.Errorf("tell alert %s that silence %s ended: %w", run.GetExecution().GetWorkflowId(), id, err)
			}
			told++
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return told, nil
		}
	}
}
