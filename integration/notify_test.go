package integration

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/webhook"
	"github.com/alertflow/alertflow/notify/webhook/contract"
)

// receiverSeen is what a scriptedReceiver has accepted so far, for the
// checks and the failure message.
type receiverSeen struct {
	attempts map[string]int
	accepted []contract.Payload
	refused  []string
}

func (rc *scriptedReceiver) seen() receiverSeen {
	_, _, attempts, _, payloads, refused := rc.snapshot()
	return receiverSeen{attempts: attempts, accepted: payloads, refused: refused}
}

func (r receiverSeen) String() string {
	kinds := make([]string, len(r.accepted))
	for i, p := range r.accepted {
		kinds[i] = fmt.Sprintf("%s %s", p.Kind, p.ID)
	}
	return fmt.Sprintf("accepted [%s], attempts %v, refused %q", strings.Join(kinds, ", "), r.attempts, r.refused)
}

// unfinishedActivities walks a run's history and returns the activities it
// scheduled that have not completed, each as "<type> (event <id>)", and
// the attempt on which each completed activity of type name started.
func (s *stack) unfinishedActivities(id, runID, name string) (unfinished []string, attempts []int32, err error) {
	iter := s.client.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	scheduled := map[int64]string{}
	started := map[int64]int32{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return nil, nil, err
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[ev.GetEventId()] = a.GetActivityType().GetName()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			started[a.GetScheduledEventId()] = a.GetAttempt()
		}
		if a := ev.GetActivityTaskCompletedEventAttributes(); a != nil {
			if scheduled[a.GetScheduledEventId()] == name {
				attempts = append(attempts, started[a.GetScheduledEventId()])
			}
			delete(scheduled, a.GetScheduledEventId())
		}
	}
	for eventID, activity := range scheduled {
		unfinished = append(unfinished, fmt.Sprintf("%s (event %d)", activity, eventID))
	}
	slices.Sort(unfinished)
	return unfinished, attempts, nil
}

func TestWebhookNotificationsAreSignedRetriedAndDeliveredOnceEach(t *testing.T) {
	t.Parallel() // own task queue and project ids
	requireServer(t)
	const secret = "integration-webhook-secret"
	rc, receiver := newScriptedReceiver(t, secret) // listens on 127.0.0.1
	rc.failFirst = 2
	s := newStackWith(t, webhook.New(receiver.URL+rc.path, secret, notify.DefaultHTTPClient()))

	opened := s.mustSignal(payload(t, 20, "master", 200, "failed"))
	if opened.AlertID != "20-master" || opened.RunID == "" {
		t.Fatalf("answer %+v", opened)
	}
	s.waitState(opened.AlertID, isOpen)
	s.mustSignal(payload(t, 20, "master", 201, "success"))
	status, final := s.waitClosed(opened.AlertID)
	if status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || final.Status != alert.StatusResolved {
		t.Fatalf("closed as %s with status %s, want completed and resolved (last task failure: %s)",
			status, final.Status, s.lastTaskFailure(opened.AlertID))
	}

	// Each notification is refused twice with 503, then accepted.
	var got receiverSeen
	err := poll(context.Background(), 30*time.Second, func() error {
		got = rc.seen()
		if len(got.accepted) < 2 && len(got.refused) == 0 {
			return fmt.Errorf("receiver has %s", got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the notifications never arrived: %v", err)
	}
	if len(got.refused) != 0 {
		t.Fatalf("the receiver refused requests: %s", got)
	}
	if len(got.accepted) != 2 || got.accepted[0].Kind != contract.KindOpened || got.accepted[1].Kind != contract.KindResolved {
		t.Fatalf("receiver has %s, want one opened then one resolved", got)
	}
	open, resolved := got.accepted[0], got.accepted[1]
	if open.ID == resolved.ID {
		t.Fatalf("opened and resolved share the id %s", open.ID)
	}
	for _, p := range got.accepted {
		if p.Alert.ID != opened.AlertID || p.Alert.Project.ID != 20 || p.Alert.Ref != "master" {
			t.Errorf("%s notification is about alert %s (project %d, ref %q), want %s", p.Kind, p.Alert.ID, p.Alert.Project.ID, p.Alert.Ref, opened.AlertID)
		}
		if n := got.attempts[p.ID]; n != 3 {
			t.Errorf("%s notification %s was attempted %d times, want 3 (two 503s, then 200)", p.Kind, p.ID, n)
		}
	}
	if open.Alert.Status != string(alert.StatusOpen) || open.Alert.Pipeline == nil || open.Alert.Pipeline.ID != 200 || open.Actor != final.OpenedBy {
		t.Errorf("opened notification: status %s, pipeline %+v, actor %q", open.Alert.Status, open.Alert.Pipeline, open.Actor)
	}
	if resolved.Alert.Status != string(alert.StatusResolved) || resolved.Alert.Pipeline == nil || resolved.Alert.Pipeline.ID != 201 ||
		resolved.Alert.Resolution != final.Resolution || resolved.Actor != final.ResolvedBy {
		t.Errorf("resolved notification: status %s, pipeline %+v, resolution %q, actor %q", resolved.Alert.Status, resolved.Alert.Pipeline, resolved.Alert.Resolution, resolved.Actor)
	}

	// Nothing more is on its way: every activity of the run has completed,
	// the webhook's on its third attempt, and the receiver saw nothing new.
	var attempts []int32
	err = poll(context.Background(), 30*time.Second, func() error {
		unfinished, a, err := s.unfinishedActivities(opened.AlertID, opened.RunID, activities.ActivityNotifyReceiver)
		if err != nil {
			return err
		}
		if len(unfinished) > 0 {
			return fmt.Errorf("activities not completed: %v", unfinished)
		}
		attempts = a
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) != 2 || attempts[0] != 3 || attempts[1] != 3 {
		t.Errorf("the webhook activities completed on attempts %v, want [3 3]", attempts)
	}
	if after := rc.seen(); len(after.accepted) != 2 || len(after.refused) != 0 || !maps.Equal(after.attempts, got.attempts) {
		t.Fatalf("more deliveries arrived after the run finished: %s", after)
	}
}
