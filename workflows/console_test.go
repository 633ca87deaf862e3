package workflows

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/route"
)

// messenger records what a receiver that keeps one message per alert (a
// Slack app) is sent, and the message it is given each time.
type messenger struct {
	mu    sync.Mutex
	posts int
	got   []string // "<kind> <message given>"
}

func (m *messenger) Notify(ctx context.Context, n notify.Notification) error {
	_, err := m.NotifyMessage(ctx, n, "")
	return err
}

func (m *messenger) NotifyMessage(_ context.Context, n notify.Notification, message string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, fmt.Sprintf("%s [%s]", n.Kind, message))
	if message == "" && n.Kind != notify.KindUpdated {
		m.posts++
		return fmt.Sprintf("C1 %d", m.posts), nil
	}
	return message, nil
}

func (m *messenger) heard() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.got)
}

// consoleEnv routes every alert to "chat", a messenger, and "pager",
// which is not one.
func consoleEnv(t *testing.T) (*routedEnv, *messenger) {
	e := newRoutedEnv(t)
	m := &messenger{}
	e.sinks = activities.NewRoutedSinks(slog.New(slog.DiscardHandler), nil, nil, activities.Routing{
		Route: func(route.Labels) []string { return []string{"pager", "chat"} },
		Receivers: map[string]activities.Receiver{
			"pager": {activities.IntegrationPagerDuty: e.heard.receiver("pager")},
			"chat":  {activities.IntegrationSlack: m},
		},
		Root: "pager",
	})
	return e, m
}

func TestTheConsoleRevisionUpdatesOneMessageAndTellsItOfTheSnooze(t *testing.T) {
	e, m := consoleEnv(t)
	e.RegisterActivity(e.sinks)
	e.signalAt(time.Second, pipelineEvent(1, "failed"))
	e.updateAt(time.Minute, UpdateSnooze, alert.SnoozeRequest{By: "bob", For: "1h"})
	e.updateAt(2*time.Minute, UpdateAcknowledge, alert.Acknowledgement{By: "alice"})
	e.signalAt(3*time.Minute, pipelineEvent(2, "success"))
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: RevisionConsole})
	e.result(t)
	want := []string{"opened []", "updated [C1 1]", "acknowledged [C1 1]", "resolved [C1 1]"}
	if got := m.heard(); !slices.Equal(got, want) {
		t.Errorf("the messenger heard %q, want %q", got, want)
	}
	// A receiver that keeps no message never hears an update.
	e.expect(t, map[string][]notify.Kind{"pager": {notify.KindOpened, notify.KindAcknowledged, notify.KindResolved}})
}

func TestBeforeTheConsoleRevisionEveryNotificationIsAMessageOfItsOwn(t *testing.T) {
	e, m := consoleEnv(t)
	e.RegisterActivity(e.sinks)
	e.signalAt(time.Second, pipelineEvent(1, "failed"))
	e.updateAt(time.Minute, UpdateSnooze, alert.SnoozeRequest{By: "bob", For: "1h"})
	e.signalAt(3*time.Minute, pipelineEvent(2, "success"))
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: RevisionFaithful})
	e.result(t)
	want := []string{"opened []", "resolved []"}
	if got := m.heard(); !slices.Equal(got, want) {
		t.Errorf("the messenger heard %q, want %q", got, want)
	}
}

func TestAContinuedRunKeepsTheAlertsMessages(t *testing.T) {
	e, m := consoleEnv(t)
	e.RegisterActivity(e.sinks)
	e.signalAt(time.Second, pipelineEvent(1, "failed"))
	e.RegisterDelayedCallback(func() { e.SetContinueAsNewSuggested(true) }, time.Minute)
	e.signalAt(2*time.Minute, pipelineEvent(2, "failed"))
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: RevisionConsole})
	next := continued(t, e.alertEnv)
	if next.Routed == nil || next.Routed.Messages["chat/slack"] != "C1 1" {
		t.Fatalf("handed over %+v, want chat/slack's message C1 1", next.Routed)
	}

	e2, m2 := consoleEnv(t)
	e2.RegisterActivity(e2.sinks)
	e2.signalAt(time.Second, pipelineEvent(3, "success"))
	e2.ExecuteWorkflow(AlertWorkflow, *next)
	e2.result(t)
	if got := m2.heard(); !slices.Equal(got, []string{"resolved [C1 1]"}) {
		t.Errorf("the continued run's messenger heard %q, want the resolve on the same message", got)
	}
	if got := m.heard(); !slices.Equal(got, []string{"opened []"}) {
		t.Errorf("the first run's messenger heard %q", got)
	}
}

func TestASilencedNotificationOnlyUpdatesTheMessage(t *testing.T) {
	e, m := consoleEnv(t)
	set := &silenceSet{}
	activities.SilenceWith(e.sinks, set.list)
	e.RegisterActivity(e.sinks)
	start := e.Now()
	e.signalAt(time.Second, pipelineEvent(1, "skipped"))
	e.RegisterDelayedCallback(func() {
		set.add(t, "maintenance", `{"project":"gitlab-org/*"}`, start, start.Add(2*time.Hour))
	}, 30*time.Second)
	e.signalAt(time.Minute, pipelineEvent(2, "failed"))
	e.signalAt(3*time.Minute, pipelineEvent(3, "success"))
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: RevisionConsole})
	e.result(t)
	// The raised severity pages nobody: the message shows it, silence
	// and all; the resolve of an alert people heard of goes out.
	want := []string{"opened []", "updated [C1 1]", "resolved [C1 1]"}
	if got := m.heard(); !slices.Equal(got, want) {
		t.Errorf("the messenger heard %q, want %q", got, want)
	}
	e.expect(t, map[string][]notify.Kind{"pager": {notify.KindOpened, notify.KindResolved}})
}

// A reminder routed once the worker no longer lists the silence, before
// the alert's own timer ends it, is the first people hear of an alert
// nobody heard of: from RevisionConsole on it goes out as the opening
// (PagerDuty ignores reminders, and a receiver must hear an alert open
// before anything else of it).
func TestAnUnheardAlertIsHeardOfByItsOpeningWhenASilenceVanishes(t *testing.T) {
	for _, tt := range []struct {
		revision Revision
		first    notify.Kind
	}{
		{RevisionFaithful, notify.KindReminder},
		{RevisionConsole, notify.KindOpened},
	} {
		t.Run(fmt.Sprint(tt.revision), func(t *testing.T) {
			e, set := newSilencedEnv(t)
			e.RegisterActivity(e.sinks)
			start := e.Now()
			set.add(t, "vanishing", `{"project":"gitlab-org/*"}`, start, start.Add(2*time.Hour))
			e.signalAt(time.Second, pipelineEvent(1, "failed"))
			e.RegisterDelayedCallback(func() { set.mu.Lock(); set.set = nil; set.mu.Unlock() }, 30*time.Minute)
			e.signalAt(time.Hour, pipelineEvent(2, "success"))
			e.ExecuteWorkflow(AlertWorkflow, Input{Revision: tt.revision, ReminderInterval: 25 * time.Minute})
			e.result(t)
			got := e.heard.of("pager")
			if len(got) == 0 || got[0] != tt.first {
				t.Fatalf("pager heard %v, want %s first", got, tt.first)
			}
			if n := slices.Index(got[1:], notify.KindOpened); tt.revision >= RevisionConsole && n >= 0 {
				t.Errorf("pager heard the opening twice: %v", got)
			}
		})
	}
}
