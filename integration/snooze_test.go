package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/workflows"
)

// kindsBetween are the timeline kinds of st from the first entry of kind
// from to the first of kind to after it, both left out.
func kindsBetween(st *alert.State, from, to alert.Outcome) (between []alert.Outcome, found bool) {
	in := false
	for _, e := range st.Timeline {
		switch {
		case !in && e.Kind == from:
			in = true
		case in && e.Kind == to:
			return between, true
		case in:
			between = append(between, e.Kind)
		}
	}
	return between, false
}

func TestASnoozeOverRESTStopsRemindersThenTheAlertComesBack(t *testing.T) {
	t.Parallel() // own task queue and project ids
	// Reminders every second, so that a snooze of three has some to skip.
	s := newStackConfig(t, nil, workflows.Input{ReminderInterval: time.Second})
	const id = "1951-master"
	s.mustSignal(payload(t, 1951, "master", 19510, "failed"))
	s.waitState(id, func(st *alert.State) error {
		if st.Reminders < 1 {
			return fmt.Errorf("%d reminders", st.Reminders)
		}
		return nil
	})

	for _, bad := range []struct{ body, want string }{
		{`{"by":"alice","for":"8d"}`, "at most"},
		{`{"by":"alice","for":"soon"}`, "not a duration"},
		{`{"for":"1h"}`, `is required`},
	} {
		code, body := s.apiCall(http.MethodPost, "/api/v1/alerts/"+id+"/snooze", json.RawMessage(bad.body))
		if code != http.StatusBadRequest || !strings.Contains(string(body), bad.want) {
			t.Errorf("snooze %s: %d %s, want 400 saying %q", bad.body, code, body, bad.want)
		}
	}

	code, body := s.apiCall(http.MethodPost, "/api/v1/alerts/"+id+"/snooze", map[string]string{"by": "alice", "for": "3s", "note": "runner migration"})
	var snoozed alert.State
	if err := json.Unmarshal(body, &snoozed); code != http.StatusOK || err != nil || snoozed.Snoozed == nil || snoozed.Snoozed.By != "alice" {
		t.Fatalf("snooze answered %d %s", code, body)
	}
	// The snooze ends by itself: then one reminder, and they go on.
	st := s.waitState(id, func(st *alert.State) error {
		between, ended := kindsBetween(st, alert.OutcomeSnoozed, alert.OutcomeSnoozeEnded)
		if !ended {
			return fmt.Errorf("still snoozed: %+v", st.Snoozed)
		}
		after, _ := kindsBetween(st, alert.OutcomeSnoozeEnded, "none")
		if len(after) < 2 {
			return fmt.Errorf("after the snooze: %v", after)
		}
		if len(between) > 0 {
			return fmt.Errorf("during the snooze the timeline got %v", between)
		}
		return nil
	})
	if st.Snoozed != nil {
		t.Fatalf("the snooze is still there: %+v", st.Snoozed)
	}
	after, _ := kindsBetween(st, alert.OutcomeSnoozeEnded, "none")
	for _, k := range after {
		if k != alert.OutcomeReminder {
			t.Fatalf("after the snooze the timeline got %v, want reminders", after)
		}
	}

	// A resolved alert cannot be snoozed.
	s.mustSignal(payload(t, 1951, "master", 19511, "success"))
	s.waitClosed(id)
	if code, body := s.apiCall(http.MethodPost, "/api/v1/alerts/"+id+"/snooze", map[string]string{"by": "alice", "for": "1h"}); code != http.StatusNotFound {
		t.Errorf("snoozing a resolved alert: %d %s, want 404", code, body)
	}
}

func TestAnAlertOpenedBeforeSnoozeExistedAnswers409(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)
	const id = "1952-master"
	// Started as the intake started alerts before routing and snooze.
	_, err := s.client.SignalWithStartWorkflow(context.Background(), id, workflows.SignalPipeline, mustEvent(t, payload(t, 1952, "master", 19520, "failed")),
		client.StartWorkflowOptions{ID: id, TaskQueue: s.taskQueue}, workflows.AlertWorkflow, workflows.Input{Revision: workflows.RevisionGitLab})
	if err != nil {
		t.Fatal(err)
	}
	s.waitState(id, func(st *alert.State) error {
		if st.Status != alert.StatusOpen {
			return fmt.Errorf("%s", st.Status)
		}
		return nil
	})
	code, body := s.apiCall(http.MethodPost, "/api/v1/alerts/"+id+"/snooze", map[string]string{"by": "alice", "for": "1h"})
	if code != http.StatusConflict || !strings.Contains(string(body), "cannot take snooze") {
		t.Fatalf("snoozing an alert of an earlier revision: %d %s, want 409", code, body)
	}
	if st, err := s.state(context.Background(), id); err != nil || st.Snoozed != nil || st.Status != alert.StatusOpen {
		t.Fatalf("the alert after the refused snooze: %+v, %v", st, err)
	}
}
