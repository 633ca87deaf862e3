package replay

import (
	"context"
	"fmt"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/alertflow/alertflow/silence"
	"github.com/alertflow/alertflow/workflows"
)

// Silences reads every silence the server keeps, those over included, as
// they were: a replay holds back what they held back when they were
// active, and an alert whose silence was expired early gets the recorded
// silence_ended signal at its time.
func (r Reader) Silences(ctx context.Context) ([]silence.Active, error) {
	var set []silence.Active
	var token []byte
	for {
		resp, err := r.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: r.Namespace, Query: "WorkflowType = '" + workflows.SilenceWorkflowType + "'",
			NextPageToken: token, PageSize: 500,
		})
		if err != nil {
			return nil, fmt.Errorf("list silences: %w", err)
		}
		for _, run := range resp.GetExecutions() {
			sl, ok := workflows.SilenceOf(run)
			if !ok {
				continue // refused at its start: it never silenced anything
			}
			a, err := silence.Activate(sl)
			if err != nil {
				continue
			}
			set = append(set, a)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return set, nil
		}
	}
}
