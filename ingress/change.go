package ingress

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/workflows"
)

// startChange starts the change workflow of ev when ev is a change worth
// telling PagerDuty of: a successful pipeline, not a tag's nor a child's,
// on the project's default branch, as GitLab named it. It does nothing
// when no receiver takes change events. A start refused because the ID
// has been started before is a resend of the same delivery, and a success:
// the ID (workflows.ChangeID) says which pipeline finished when.
func (s *Server) startChange(ctx context.Context, ev alert.Event) error {
	pl := ev.Pipeline
	if !s.cfg.ChangeEvents || pl.Status != alert.PipelineSuccess || pl.Tag || pl.IsChild() ||
		ev.Project.DefaultBranch == "" || pl.Ref != ev.Project.DefaultBranch {
		return nil
	}
	opts := workflows.ChangeStartOptions(s.cfg.TaskQueue, ev)
	_, err := s.temporal.ExecuteWorkflow(ctx, opts, workflows.ChangeWorkflowType, ev)
	if err == nil || isAlreadyStarted(err) {
		return nil
	}
	return fmt.Errorf("start change workflow %s: %w", opts.ID, err)
}

// isAlreadyStarted says the workflow ID was started before: the server's
// serviceerror.WorkflowExecutionAlreadyStarted.
func isAlreadyStarted(err error) bool {
	return temporal.IsWorkflowExecutionAlreadyStartedError(err)
}
