package workflows

import (
	"errors"
	"fmt"
	"strconv"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
)

// A change workflow tells the PagerDuty services that asked for change
// events (change_events: true) of one successful pipeline on a project's
// default branch, so that their timelines show fixes and deploys next to
// incidents. It is a workflow of its own, apart from the branch's alert,
// for two reasons: a receiver that is down gets its change event retried
// with backoff for up to an hour, across worker restarts, as a
// notification is; and its ID (ChangeID) names the delivery, so GitLab's
// resends of one pipeline's success start nothing more. A branch with no
// alert has no alert workflow to carry it, and a green pipeline must not
// start one.

// ChangeWorkflowType is the name ChangeWorkflow is registered under.
const ChangeWorkflowType = "ChangeWorkflow"

// ChangeID is the workflow ID of ev's change workflow: the alert ID, the
// pipeline and when it finished (0 when GitLab sent no time), so that a
// resend of the same delivery has the same ID and a retried pipeline that
// finished again has another.
func ChangeID(ev alert.Event) string {
	var finished int64
	if !ev.Pipeline.FinishedAt.IsZero() {
		finished = ev.Pipeline.FinishedAt.Unix()
	}
	return "change/" + ev.AlertID() + "/" + strconv.FormatInt(ev.Pipeline.ID, 10) + "/" + strconv.FormatInt(finished, 10)
}

// ChangeStartOptions start ev's change workflow on taskQueue, once per ID
// for ever: a second start of the same ID, running or closed, fails with
// WorkflowExecutionAlreadyStarted, which the intake reads as a resend.
func ChangeStartOptions(taskQueue string, ev alert.Event) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       ChangeID(ev),
		TaskQueue:                taskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		StaticSummary: md(fmt.Sprintf("Change event: pipeline #%d succeeded on %s@%s",
			ev.Pipeline.ID, ev.Project.Path, ev.Pipeline.Ref)),
	}
}

// ChangeWorkflow routes ev's change event in a local activity, whose
// answer (receiver names, never a URL or a key) the history records, then
// sends it to every target at once, each in an activity of its own with a
// notification's retries, and completes. It fails, naming them, when some
// targets did not take it in the hour, so that the Web UI shows it.
func ChangeWorkflow(ctx workflow.Context, ev alert.Event) error {
	var targets []activities.Target
	lctx := workflow.WithLocalActivityOptions(ctx, logOptions())
	if err := workflow.ExecuteLocalActivity(lctx, activities.ActivityRouteChange, ev).Get(ctx, &targets); err != nil {
		return fmt.Errorf("route the change event of pipeline %d: %w", ev.Pipeline.ID, err)
	}
	actx := workflow.WithActivityOptions(ctx, notifyOptions())
	sent := make([]workflow.Future, len(targets))
	for i, t := range targets {
		sent[i] = workflow.ExecuteActivity(actx, activities.ActivitySendChange, activities.ChangeDelivery{Target: t, Event: ev})
	}
	var errs []error
	for i, f := range sent {
		if err := f.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Error("Change event not delivered", "target", targets[i].String(), "error", err)
			errs = append(errs, fmt.Errorf("send the change event of pipeline %d to %s: %w", ev.Pipeline.ID, targets[i], err))
		}
	}
	return errors.Join(errs...)
}
