package workflows

import (
	"context"

	"go.temporal.io/sdk/client"

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
