package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/alertflow/alertflow/alert"
)

// A resolved run that is still closing (its resolved notification not yet
// delivered) carries the pipeline events that arrive after the resolve into
// a fresh run by continue-as-new. When those hold a failure, a success and
// another failure, the fresh run resolves its alert while applying them and
// must carry the last failure on once more (workflows/alert.go, loop and
// complete): the reliability tests found it once dropped it.

// TestAFailureAfterASecondResolveInOneClosingWindowOpensAThirdAlert holds the
// resolved notification so that the first run stays in its closing window
// while a failure, a success and another failure arrive.
func TestAFailureAfterASecondResolveInOneClosingWindowOpensAThirdAlert(t *testing.T) {
	t.Parallel() // own task queue and project ids
	requireServer(t)
	const id = "190-main"
	ctx := context.Background()
	s, rc, first := holdResolvedNotification(t, 190, 1, 2)
	// All three reach the first run, which cannot close while its resolved
	// notification is held.
	for _, ev := range []pipelineEvent{{3, alert.PipelineCanceled}, {4, alert.PipelineSuccess}, {5, alert.PipelineFailed}} {
		s.mustSignal(payload(t, 190, "main", ev.pipeline, ev.status))
	}
	rc.releaseAll()

	waitRunStatus(t, s.client, id, first.RunID, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW)
	second, err := continuedAs(ctx, s.client, id, first.RunID)
	if err != nil {
		t.Fatal(err)
	}
	// #3 opened the second alert and #4 resolved it; #5 came after #4 and
	// must open a third alert: the second run continues as new with it.
	var status enumspb.WorkflowExecutionStatus
	err = poll(ctx, settleWithin, func() error {
		d, err := s.client.DescribeWorkflowExecution(ctx, id, second)
		if err != nil {
			return err
		}
		if status = d.GetWorkflowExecutionInfo().GetStatus(); status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return fmt.Errorf("still running")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the second run %s never closed: %v", second, err)
	}
	st, err := runState(ctx, s.client, id, second)
	if err != nil {
		t.Fatal(err)
	}
	if status != enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
		var kinds []string
		for _, e := range st.Timeline {
			kinds = append(kinds, fmt.Sprintf("#%d %s: %s", e.PipelineID, e.Status, e.Kind))
		}
		t.Fatalf("the second run %s %s (resolved by %s), timeline %q: failed pipeline #5, which arrived after #4 resolved the second alert, opened no alert",
			second, status, pipelineOf(st), kinds)
	}
	open := s.waitState(id, severityIs(alert.SeverityHigh))
	if pipelineOf(open) != "#5 failed" || open.Counts.Events != 1 {
		t.Fatalf("the third alert: pipeline %s, counts %+v", pipelineOf(open), open.Counts)
	}
	if !slices.ContainsFunc(st.Timeline, func(e alert.Entry) bool { return e.PipelineID == 5 }) {
		t.Errorf("the second run's timeline has no entry for #5: %+v", st.Timeline)
	}
}
