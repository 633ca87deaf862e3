package activities

import (
	"context"
	"fmt"
	"slices"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/visibility"
)

// ActivityRecall is the local activity a new alert runs before it applies
// anything: it reads what the alert's ID remembers from the last alert on
// that ID, so that a delivery older than that alert's end opens nothing
// even after its run completed (rule 8).
const ActivityRecall = "RecallMemory"

// recallRuns is how many of the ID's most recent runs are looked at: the
// current one, the last one, and a few in case the last ones ended without
// a result (terminated).
const recallRuns = 5

// Recaller reads alert memories from the server's history of earlier runs.
type Recaller struct {
	client client.Client
}

// NewRecaller returns the recall activity over c.
func NewRecaller(c client.Client) *Recaller {
	return &Recaller{client: c}
}

// RecallMemory returns the memory of the most recent completed run of
// workflowID other than runID, or nil when there is none within the
// namespace's retention. Runs of one ID never overlap, so the most recent
// other run started last; visibility may still list it as running for a
// moment after it completed, which is why its history is read, not its
// listed status.
func (r *Recaller) RecallMemory(ctx context.Context, workflowID, runID string) (*alert.Memory, error) {
	resp, err := r.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: activity.GetInfo(ctx).Namespace,
		PageSize:  recallRuns,
		Query:     "WorkflowId = " + visibility.Quote(workflowID) + " AND " + visibility.Division,
	})
	if err != nil {
		return nil, fmt.Errorf("list runs of %s: %w", workflowID, err)
	}
	runs := resp.GetExecutions()
	// Visibility is written after the fact, by the server's task queues:
	// under a backlog the runs before this one may not be listed yet, and
	// an empty answer would let a stale delivery open a new alert. This
	// run is the newest on the ID; until the store lists it, it cannot be
	// trusted to list the ones before, so the recall is retried.
	if !slices.ContainsFunc(runs, func(run *workflowpb.WorkflowExecutionInfo) bool { return run.GetExecution().GetRunId() == runID }) {
		return nil, fmt.Errorf("list runs of %s: visibility does not list this run (%s) yet", workflowID, runID)
	}
	// Newest first, whatever order the visibility store keeps.
	slices.SortFunc(runs, func(a, b *workflowpb.WorkflowExecutionInfo) int {
		return b.GetStartTime().AsTime().Compare(a.GetStartTime().AsTime())
	})
	for _, run := range runs {
		id := run.GetExecution().GetRunId()
		if id == runID {
			continue
		}
		end, err := visibility.End(ctx, r.client, workflowID, id)
		if err != nil {
			return nil, err
		}
		if end.Result != nil {
			return &end.Result.Memory, nil
		}
	}
	return nil, nil
}
