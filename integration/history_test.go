package integration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/workflows"
)

// recordHistory saves the history of an alert's latest run where
// ALERTFLOW_RECORD_HISTORIES points (make histories points it at
// testdata/histories), for the replay test in workflows/ that guards every
// change of AlertWorkflow against non-determinism.
func recordHistory(t *testing.T, name, id string) {
	t.Helper()
	recordRun(t, name, id, "")
}

// recordRun is recordHistory of one run of the alert: an earlier run, one
// that continued as new, when runID is set.
func recordRun(t *testing.T, name, id, runID string) {
	t.Helper()
	dir := os.Getenv("ALERTFLOW_RECORD_HISTORIES")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := []string{"workflow", "show", "--workflow-id", id, "--output", "json"}
	if runID != "" {
		args = append(args, "--run-id", runID)
	}
	out, err := temporalCLICommand(ctx, args...).Output()
	if err != nil {
		t.Fatalf("show history of %s: %v", id, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRemindersFireOnARealServerAndStopOnAcknowledge(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)
	tokens, err := ingress.ParseTokens("gitlab=" + sourceToken)
	if err != nil {
		t.Fatal(err)
	}
	// An intake whose alerts remind every two seconds.
	fast := httptest.NewServer(ingress.New(ingress.Config{
		TaskQueue: s.taskQueue, Tokens: tokens,
		Workflow: workflows.Input{ReminderInterval: 2 * time.Second},
	}, s.client, slog.New(slog.DiscardHandler)))
	defer fast.Close()
	s.http = fast

	s.mustSignal(payload(t, 14, "master", 140, "failed"))
	s.waitState("14-master", func(st *alert.State) error {
		if st.Reminders < 2 {
			return fmt.Errorf("%d reminders", st.Reminders)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := s.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: "14-master", UpdateName: workflows.UpdateAcknowledge,
		Args: []any{alert.Acknowledgement{By: "dana"}}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		t.Fatal(err)
	}
	var acked alert.State
	if err := h.Get(ctx, &acked); err != nil {
		t.Fatal(err)
	}
	// The acknowledge cancels the pending reminder timer: the history
	// says so, with no waiting to see whether another reminder comes.
	err = poll(context.Background(), 30*time.Second, func() error {
		iter := s.client.GetWorkflowHistory(context.Background(), "14-master", "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				return err
			}
			if ev.GetEventType() == enumspb.EVENT_TYPE_TIMER_CANCELED {
				return nil
			}
		}
		return errors.New("no reminder timer was canceled")
	})
	if err != nil {
		t.Fatal(err)
	}
	s.mustSignal(payload(t, 14, "master", 141, "success"))
	status, final := s.waitClosed("14-master")
	if status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || final.Reminders != acked.Reminders || final.AcknowledgedBy != "dana" {
		t.Fatalf("closed as %s with %d reminders, %d when acknowledged", status, final.Reminders, acked.Reminders)
	}
	recordHistory(t, "reminders-acknowledge-resolve", "14-master")
}

// Acknowledge and snooze also come as signals (tctl users and scripts send
// them so); the history recorded here is the replay test's of both.
func TestAcknowledgeAndSnoozeSignalsOnARealServer(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStackConfig(t, nil, workflows.Input{ReminderInterval: time.Hour})
	const id = "9601-master"
	s.mustSignal(payload(t, 9601, "master", 96010, "failed"))
	s.waitState(id, func(st *alert.State) error {
		if st.Status != alert.StatusOpen {
			return fmt.Errorf("status %s", st.Status)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.client.SignalWorkflow(ctx, id, "", workflows.SignalSnooze, alert.SnoozeRequest{By: "erin", For: "2h", Note: "deploy freeze"}); err != nil {
		t.Fatal(err)
	}
	s.waitState(id, func(st *alert.State) error {
		if st.Snoozed == nil || st.Snoozed.By != "erin" {
			return fmt.Errorf("not snoozed: %+v", st.Snoozed)
		}
		return nil
	})
	if err := s.client.SignalWorkflow(ctx, id, "", workflows.SignalAcknowledge, alert.Acknowledgement{By: "erin", Note: "on it"}); err != nil {
		t.Fatal(err)
	}
	s.waitState(id, func(st *alert.State) error {
		if st.Status != alert.StatusAcknowledged || st.AcknowledgedBy != "erin" {
			return fmt.Errorf("%s by %q", st.Status, st.AcknowledgedBy)
		}
		return nil
	})
	s.mustSignal(payload(t, 9601, "master", 96011, "success"))
	status, final := s.waitClosed(id)
	if status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || final.Status != alert.StatusResolved || final.AcknowledgedBy != "erin" {
		t.Fatalf("closed as %s: %s, acknowledged by %q", status, final.Status, final.AcknowledgedBy)
	}
	recordHistory(t, "signals-snooze-acknowledge-resolve", id)
}

// An alert whose history passes Input.MaxHistory continues as new and
// keeps its state; both runs are recorded, the first ending in the
// continue-as-new.
func TestAnAlertPastItsHistoryBoundContinuesAsNewWithItsState(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStackConfig(t, nil, workflows.Input{MaxHistory: 12, ReminderInterval: time.Hour})
	const id = "9602-master"
	first := s.mustSignal(payload(t, 9602, "master", 96020, "failed")).RunID
	s.waitState(id, func(st *alert.State) error {
		if st.Status != alert.StatusOpen {
			return fmt.Errorf("status %s", st.Status)
		}
		return nil
	})
	// Each delivery lengthens the history; the first the run takes past
	// the bound makes it continue as new.
	pipeline := int64(96021)
	err := poll(context.Background(), 30*time.Second, func() error {
		d, err := s.client.DescribeWorkflowExecution(context.Background(), id, "")
		if err != nil {
			return err
		}
		if d.GetWorkflowExecutionInfo().GetExecution().GetRunId() != first {
			return nil
		}
		s.mustSignal(payload(t, 9602, "master", pipeline, "canceled"))
		pipeline++
		return errors.New("still the first run")
	})
	if err != nil {
		t.Fatal(err)
	}
	// The new run has the alert as it was, with every delivery applied.
	s.waitState(id, func(st *alert.State) error {
		last := st.Timeline[len(st.Timeline)-1]
		if st.Status != alert.StatusOpen || st.Timeline[0].PipelineID != 96020 || last.PipelineID != pipeline-1 {
			return fmt.Errorf("%s, timeline from pipeline %d to %d, want open from 96020 to %d",
				st.Status, st.Timeline[0].PipelineID, last.PipelineID, pipeline-1)
		}
		return nil
	})
	s.mustSignal(payload(t, 9602, "master", pipeline, "success"))
	if status, final := s.waitClosed(id); status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || final.Status != alert.StatusResolved {
		t.Fatalf("closed as %s: %s", status, final.Status)
	}
	recordRun(t, "continued-as-new", id, first)
	recordHistory(t, "continued-as-new-then-resolved", id)
}
