package workflows

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/alertflow/alertflow/alert"
)

// Updater sends updates to workflows: a Temporal client, or what the
// intake keeps of one.
type Updater interface {
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
}

// UpdateAlert sends the update name with arg to the alert id, waits for it
// to complete, and answers the alert as the update left it.
func UpdateAlert(ctx context.Context, c Updater, id, name string, arg any) (*alert.State, error) {
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return nil, err
	}
	var st alert.State
	if err := h.Get(ctx, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Querier asks workflows queries: a Temporal client, or what the intake
// keeps of one.
type Querier interface {
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
}

// QueryAlert answers the state of run runID of alert id ("" for its
// current run); a closed run is answered by a worker replaying it.
func QueryAlert(ctx context.Context, c Querier, id, runID string) (*alert.State, error) {
	v, err := c.QueryWorkflow(ctx, id, runID, QueryState)
	if err != nil {
		return nil, err
	}
	var st alert.State
	if err := v.Get(&st); err != nil {
		return nil, fmt.Errorf("decode the state of %s: %w", id, err)
	}
	return &st, nil
}
