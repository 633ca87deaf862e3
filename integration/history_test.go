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
	dir := os.Getenv("ALERTFLOW_RECORD_HISTORIES")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := temporalCLICommand(ctx, "workflow", "show", "--workflow-id", id, "--output", "json").Output()
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
