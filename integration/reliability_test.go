package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/workflows"
)

// Reliability: nothing lost (docs/reliability.md) under
// shuffled, resent and concurrent deliveries, a worker killed mid-flood, a
// notification receiver that fails or hangs, a failure racing the end of a
// resolved alert, and refs that look alike or need encoding.
//
// Project ids used here: 150, 155 (notifications), 16, 161, 1611, 172
// (look-alike refs), 170, 171 (encoded refs), 1000-1024 (the shuffled
// deliveries), 1100-1119 (the killed worker), and in carry_test.go 190.

// settleWithin bounds how long a test waits for alerts to reach the state
// the model predicts. The machine has two cores and may run a benchmark
// beside the tests; a worker restart alone costs the sticky-queue timeout
// (5 s) plus the workflow task timeout (10 s).
const settleWithin = 2 * time.Minute

// branch is a project and ref: one alert ID.
type branch struct {
	project int64
	ref     string
}

func (b branch) id() string { return alert.ID(b.project, b.ref) }

// deliver posts one webhook like GitLab does, with the Idempotency-Key
// GitLab keeps across resends when key is not empty. Unlike stack.post it
// may be called from any goroutine.
func deliver(ctx context.Context, baseURL string, body []byte, key string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/webhooks/gitlab?token="+sourceToken, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	a := answer{code: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return a, fmt.Errorf("decode answer (%d): %w", resp.StatusCode, err)
	}
	return a, nil
}

// checkAnswer compares an intake answer with what the model expects.
func checkAnswer(a answer, err error, want expectedAnswer) error {
	if err != nil {
		return err
	}
	if a.code != http.StatusAccepted {
		return fmt.Errorf("answered %d %+v", a.code, a)
	}
	ok := false
	switch want {
	case answerSignaled:
		ok = a.Action == ingress.ActionSignaled
	case answerNone:
		ok = a.Action == ingress.ActionNone
	case answerEither:
		ok = a.Action == ingress.ActionSignaled || a.Action == ingress.ActionNone
	}
	if !ok {
		return fmt.Errorf("answered %q (%s), want %s", a.Action, a.Reason, [...]string{"signaled", "none", "signaled or none"}[want])
	}
	return nil
}

// runState queries the state of one run of an alert, running or closed (a
// closed run is replayed by the worker to answer).
func runState(ctx context.Context, c client.Client, id, runID string) (*alert.State, error) {
	st, err := workflows.QueryAlert(ctx, c, id, runID)
	if err != nil {
		return nil, fmt.Errorf("query %s run %s: %w", id, runID, err)
	}
	return st, nil
}

// continuedAs returns the run that a run which continued as new became.
func continuedAs(ctx context.Context, c client.Client, id, runID string) (string, error) {
	iter := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return "", err
		}
		if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
			return a.GetNewExecutionRunId(), nil
		}
	}
	return "", fmt.Errorf("run %s of %s has no continued-as-new event", runID, id)
}

// alertRuns returns every run of an alert that the intake's answers named
// (SignalWithStart answers with the run it signaled or started) and every
// run those continued as new into. A success is signaled to whatever run
// is current, and every run is started by SignalWithStart or by
// continue-as-new, so these are all the runs any delivery reached.
func alertRuns(ctx context.Context, c client.Client, id string, answered []string) ([]string, error) {
	seen := map[string]bool{}
	queue := slices.Clone(answered)
	var runs []string
	for len(queue) > 0 {
		run := queue[0]
		queue = queue[1:]
		if seen[run] {
			continue
		}
		seen[run] = true
		runs = append(runs, run)
		d, err := c.DescribeWorkflowExecution(ctx, id, run)
		if err != nil {
			return nil, fmt.Errorf("describe %s run %s: %w", id, run, err)
		}
		if d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
			next, err := continuedAs(ctx, c, id, run)
			if err != nil {
				return nil, err
			}
			queue = append(queue, next)
		}
	}
	return runs, nil
}

// waitRunStatus polls until one run of an alert has the given status.
func waitRunStatus(t *testing.T, c client.Client, id, runID string, want enumspb.WorkflowExecutionStatus) {
	t.Helper()
	var got enumspb.WorkflowExecutionStatus
	err := poll(context.Background(), settleWithin, func() error {
		d, err := c.DescribeWorkflowExecution(context.Background(), id, runID)
		if err != nil {
			return err
		}
		got = d.GetWorkflowExecutionInfo().GetStatus()
		if got != want {
			return fmt.Errorf("run is %s", got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("run %s of %s never became %s: %v", runID, id, want, err)
	}
}
