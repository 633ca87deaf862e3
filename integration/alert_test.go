package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/visibility"
)

// listed asks the real temporal CLI which workflow IDs match a visibility query.
func listed(t *testing.T, query string) []string {
	t.Helper()
	out := temporalCLI(t, "workflow", "list", "--query", query, "--output", "json")
	var rows []struct {
		Execution struct {
			WorkflowID string `json:"workflowId"`
		} `json:"execution"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("decode temporal workflow list output: %v\n%s", err, out)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.Execution.WorkflowID
	}
	return ids
}

// waitListed polls `temporal workflow list --query` until it lists id:
// visibility is updated a moment after the workflow changes.
func waitListed(t *testing.T, query, id string) {
	t.Helper()
	err := poll(context.Background(), 30*time.Second, func() error {
		for _, got := range listed(t, query) {
			if got == id {
				return nil
			}
		}
		return fmt.Errorf("%s not listed by %q", id, query)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAnAlertOpensChangesSeverityAndResolvesThroughTheRealIntake(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)

	a := s.mustSignal(payload(t, 1, "master", 31, "canceled"))
	if a.AlertID != "1-master" || a.RunID == "" {
		t.Fatalf("answer %+v", a)
	}
	s.waitState("1-master", func(st *alert.State) error {
		if st.Status != alert.StatusOpen || st.Severity != alert.SeverityMedium {
			return fmt.Errorf("status %s severity %s", st.Status, st.Severity)
		}
		return nil
	})
	waitListed(t, "WorkflowId='1-master' AND AlertStatus='open' AND AlertSeverity='MEDIUM'", "1-master")

	s.mustSignal(payload(t, 1, "master", 32, "failed"))
	s.waitState("1-master", func(st *alert.State) error {
		if st.Severity != alert.SeverityHigh || st.PeakSeverity != alert.SeverityHigh {
			return fmt.Errorf("severity %s peak %s", st.Severity, st.PeakSeverity)
		}
		return nil
	})
	waitListed(t, "WorkflowId='1-master' AND AlertSeverity='HIGH' AND PipelineID=32 AND GitLabProjectID=1 AND GitLabRef='master'", "1-master")

	s.mustSignal(payload(t, 1, "master", 33, "success"))
	status, final := s.waitClosed("1-master")
	if status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Fatalf("closed as %s, want completed", status)
	}
	if final.Status != alert.StatusResolved || final.Resolution != "pipeline #33 succeeded" || final.Counts.Events != 3 {
		t.Fatalf("final state %s %q %+v", final.Status, final.Resolution, final.Counts)
	}
	waitListed(t, "WorkflowId='1-master' AND AlertStatus='resolved' AND ExecutionStatus='Completed'", "1-master")
	recordHistory(t, "open-change-resolve", "1-master")

	// The alert is resolved: another green pipeline finds nothing to resolve.
	a = s.post(payload(t, 1, "master", 34, "success"))
	if a.code != http.StatusAccepted || a.Action != ingress.ActionNone {
		t.Fatalf("success after the resolve answered %d %+v, want 202 none", a.code, a)
	}
}

func TestAGreenPipelineWithNoOpenAlertCreatesNoWorkflow(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)
	a := s.post(payload(t, 2, "master", 40, "success"))
	if a.code != http.StatusAccepted || a.Action != ingress.ActionNone || a.Reason != "no open alert" {
		t.Fatalf("answered %d %+v, want 202 none", a.code, a)
	}
	_, err := s.client.DescribeWorkflowExecution(context.Background(), "2-master", "")
	if !visibility.NotFound(err) {
		t.Fatalf("describe 2-master: %v, want not found", err)
	}
}

func TestAWorkerRestartedBetweenTwoEventsLosesNothing(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)
	s.mustSignal(payload(t, 3, "master", 50, "failed"))
	s.waitState("3-master", func(st *alert.State) error {
		if st.Status != alert.StatusOpen {
			return errors.New("not open yet")
		}
		return nil
	})

	s.stopWorker()
	// With no worker, the server still accepts the event and keeps it.
	s.mustSignal(payload(t, 3, "master", 51, "skipped"))
	s.mustSignal(payload(t, 3, "master", 51, "skipped")) // GitLab resending it
	s.startWorker()

	st := s.waitState("3-master", func(st *alert.State) error {
		if st.Counts.Events != 3 {
			return fmt.Errorf("%d events applied", st.Counts.Events)
		}
		return nil
	})
	// A skip carries no verdict: the failure's HIGH stands.
	if st.Severity != alert.SeverityHigh || st.PeakSeverity != alert.SeverityHigh || st.Counts.Duplicates != 1 {
		t.Fatalf("after restart: severity %s peak %s counts %+v", st.Severity, st.PeakSeverity, st.Counts)
	}
	s.mustSignal(payload(t, 3, "master", 52, "success"))
	if status, final := s.waitClosed("3-master"); status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || final.Counts.Events != 4 {
		t.Fatalf("closed as %s with %+v", status, final.Counts)
	}
	recordHistory(t, "worker-restart", "3-master")
}

func TestAFailureAfterAResolvedAlertStartsANewRunUnderTheSameID(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)
	first := s.mustSignal(payload(t, 4, "release/1.x", 60, "failed"))
	s.mustSignal(payload(t, 4, "release/1.x", 61, "success"))
	if status, _ := s.waitClosed("4-release/1.x"); status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Fatalf("first incident closed as %s", status)
	}
	second := s.mustSignal(payload(t, 4, "release/1.x", 62, "failed"))
	if second.AlertID != first.AlertID || second.RunID == first.RunID {
		t.Fatalf("first %+v second %+v: want the same alert id and a new run", first, second)
	}
	st := s.waitState("4-release/1.x", func(st *alert.State) error {
		if st.Status != alert.StatusOpen {
			return errors.New("not open")
		}
		return nil
	})
	if st.Pipeline.ID != 62 || st.Counts.Events != 1 {
		t.Fatalf("the new incident carries old state: pipeline %d counts %+v", st.Pipeline.ID, st.Counts)
	}
}

func TestARefOutsideASCIIIsEncodedInTheIDAndReadableInSearch(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)
	a := s.mustSignal(payload(t, 5, "feature/ümlaut", 70, "failed"))
	if a.AlertID != "5-feature/%C3%BCmlaut" {
		t.Fatalf("alert id %q", a.AlertID)
	}
	st := s.waitState(a.AlertID, func(st *alert.State) error {
		if st.Status != alert.StatusOpen {
			return errors.New("not open")
		}
		return nil
	})
	if st.Ref != "feature/ümlaut" {
		t.Fatalf("ref %q", st.Ref)
	}
	waitListed(t, "GitLabRef='feature/ümlaut'", a.AlertID)
}

// eventTypes lists the event types of an alert's current run, in order.
func (s *stack) eventTypes(id string) ([]enumspb.EventType, error) {
	iter := s.client.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var types []enumspb.EventType
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return nil, err
		}
		types = append(types, ev.GetEventType())
	}
	return types, nil
}

// The server's work is what bounds alertflow's throughput (make bench):
// with no remote sink configured, an alert that opens and resolves costs
// one workflow task per event, as the raw-SDK baseline does, and no
// activity task; the first task does not set again the search attributes
// and memo the intake started the alert with.
func TestAnAlertCostsTheServerOneWorkflowTaskPerEventAndNoActivity(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)
	s.mustSignal(payload(t, 6, "master", 60, "failed"))
	var opening []enumspb.EventType
	err := poll(context.Background(), 30*time.Second, func() error {
		var err error
		if opening, err = s.eventTypes("6-master"); err != nil {
			return err
		}
		if !slices.Contains(opening, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
			return errors.New("the first workflow task has not completed")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, et := range opening {
		if et == enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES || et == enumspb.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED {
			t.Errorf("the opening workflow task wrote %s: the alert was started with them", et)
		}
	}

	s.mustSignal(payload(t, 6, "master", 61, "success"))
	if status, final := s.waitClosed("6-master"); status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || final.Status != alert.StatusResolved {
		t.Fatalf("closed as %s with the alert %s, want completed and resolved", status, final.Status)
	}
	all, err := s.eventTypes("6-master")
	if err != nil {
		t.Fatal(err)
	}
	count := map[enumspb.EventType]int{}
	for _, et := range all {
		count[et]++
	}
	if n := count[enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]; n != 2 {
		t.Errorf("%d workflow tasks for two events, want 2: %v", n, all)
	}
	if n := count[enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]; n != 0 {
		t.Errorf("%d activities scheduled with no remote sink, want 0: %v", n, all)
	}
	// The recall of the ID's memory and both notifications (opened,
	// resolved) ran as local activities, within those two tasks.
	if n := count[enumspb.EVENT_TYPE_MARKER_RECORDED]; n != 3 {
		t.Errorf("%d local activities recorded, want 3 (recall, opened, resolved): %v", n, all)
	}
}
