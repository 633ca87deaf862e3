package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/notify/slack"
	"github.com/alertflow/alertflow/notify/slack/slacktest"
	"github.com/alertflow/alertflow/workflows"
)

const (
	slackBotToken      = "xoxb-integration-bot-token"
	slackSigningSecret = "integration-slack-signing-secret"
)

// slackRouting sends every alert to a Slack app, and names the one person
// who presses its buttons.
const slackRouting = `
receivers:
  - name: oncall
    slack:
      token: ${SLACK_TOKEN}
      channel: "#ci-alerts"
      api_url: ${SLACK_API}
people:
  U0ALICE: Alice Smith
route:
  receiver: oncall
`

// slackStack is a stack whose one receiver is a Slack app posting to a
// fake Slack Web API, and whose intake takes the app's signed buttons.
type slackStack struct {
	*stack
	slack *slacktest.Server
}

func newSlackStack(t *testing.T, in workflows.Input) *slackStack {
	t.Helper()
	fake := slacktest.New(t, slackBotToken)
	sinks, cfg := routedSinks(t, slackRouting, map[string]string{"SLACK_API": fake.URL, "SLACK_TOKEN": slackBotToken})
	s := newStackOf(t, &stack{sinks: sinks, intake: func(c *ingress.Config) {
		c.SlackSigningSecret = []byte(slackSigningSecret)
		c.SlackPeople = cfg.People
	}}, in)
	return &slackStack{stack: s, slack: fake}
}

// press posts a button press as Slack signs it, signed at the given time
// with the given secret, and returns the status answered.
func (s *slackStack) press(action, id, secret string, at time.Time) int {
	s.t.Helper()
	p, err := json.Marshal(map[string]any{
		"type":    "block_actions",
		"user":    map[string]string{"id": "U0ALICE", "username": "alice.s", "name": "alice.s"},
		"actions": []map[string]string{{"action_id": action, "value": id, "type": "button"}},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	body := []byte("payload=" + url.QueryEscape(string(p)))
	ts, sig := slack.Sign([]byte(secret), at, body)
	req, err := http.NewRequest(http.MethodPost, s.http.URL+"/slack/interactions", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitSlack polls the fake until ok holds.
func (s *slackStack) waitSlack(what string, ok func() error) {
	s.t.Helper()
	var last error
	if err := poll(s.t.Context(), 30*time.Second, func() error { last = ok(); return last }); err != nil {
		s.t.Fatalf("Slack never showed %s: %v", what, last)
	}
}

func (s *slackStack) only() slacktest.Message {
	top := s.slack.TopLevel()
	if len(top) != 1 {
		s.t.Fatalf("top-level messages: %+v, want exactly one", top)
	}
	return top[0]
}

func TestSlackIsTheConsoleOneMessageUpdatedInPlaceWithWorkingButtons(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newSlackStack(t, workflows.Input{ReminderInterval: 2 * time.Second})
	const id = "2801-main"
	s.mustSignal(payload(t, 2801, "main", 28010, "failed"))

	// Failed: one chat.postMessage, with the buttons.
	s.waitSlack("the alert's message", func() error {
		if top := s.slack.TopLevel(); len(top) != 1 {
			return fmt.Errorf("%d top-level messages", len(top))
		}
		return nil
	})
	msg := s.only()
	if got := slacktest.ActionIDs(msg.Blocks); !slices.Equal(got, []string{slack.ActionAcknowledge, slack.ActionSnooze1h, slack.ActionSnooze4h, slack.ActionResolve}) {
		t.Fatalf("buttons %v", got)
	}
	// A reminder: a reply in the message's thread.
	s.waitSlack("a reminder in the thread", func() error {
		if r := s.slack.Replies(msg.TS); len(r) == 0 {
			return errors.New("no reply yet")
		}
		return nil
	})

	// The worker restarts: the message is kept with the alert, in its
	// history, so the next transitions still update that one message.
	s.stopWorker()
	s.startWorker()

	// Presses Slack did not sign just now: 401, and nothing changes.
	if code := s.press(slack.ActionAcknowledge, id, "not-the-signing-secret", time.Now()); code != http.StatusUnauthorized {
		t.Fatalf("a press with a wrong signature answered %d, want 401", code)
	}
	if code := s.press(slack.ActionAcknowledge, id, slackSigningSecret, time.Now().Add(-6*time.Minute)); code != http.StatusUnauthorized {
		t.Fatalf("a press with a 6-minute-old timestamp answered %d, want 401", code)
	}
	// Polled: right after the restart a query waits out the old worker's
	// sticky queue.
	s.waitState(id, func(st *alert.State) error {
		if st.Status != alert.StatusOpen || st.AcknowledgedBy != "" {
			return fmt.Errorf("after refused presses: %s by %q; want the alert still open", st.Status, st.AcknowledgedBy)
		}
		return nil
	})

	// A signed Snooze press: the snooze pages nobody, but the message
	// shows it.
	if code := s.press(slack.ActionSnooze1h, id, slackSigningSecret, time.Now()); code != http.StatusOK {
		t.Fatalf("a signed snooze press answered %d", code)
	}
	s.waitSlack("the snooze on the message", func() error {
		m := s.only()
		if text := slacktest.Texts(m.Text, m.Blocks); !strings.Contains(text, "Snoozed until") || !strings.Contains(text, "by Alice Smith") {
			return fmt.Errorf("message reads:\n%s", text)
		}
		return nil
	})

	// A signed Acknowledge press: acknowledged by the person the people
	// map names, and the same message updated.
	if code := s.press(slack.ActionAcknowledge, id, slackSigningSecret, time.Now()); code != http.StatusOK {
		t.Fatalf("a signed press answered %d", code)
	}
	s.waitState(id, func(st *alert.State) error {
		if st.Status != alert.StatusAcknowledged || st.AcknowledgedBy != "Alice Smith" {
			return fmt.Errorf("%s by %q", st.Status, st.AcknowledgedBy)
		}
		return nil
	})
	s.waitSlack("the acknowledgement on the message", func() error {
		m := s.only()
		if text := slacktest.Texts(m.Text, m.Blocks); !strings.Contains(text, "*Acknowledged* by Alice Smith") {
			return fmt.Errorf("message reads:\n%s", text)
		}
		if ids := slacktest.ActionIDs(m.Blocks); slices.Contains(ids, slack.ActionAcknowledge) {
			return fmt.Errorf("still an Acknowledge button: %v", ids)
		}
		return nil
	})

	// Slack rate-limits the next update: it is retried after Retry-After,
	// and nothing is posted twice.
	s.slack.FailNext("chat.update", http.StatusTooManyRequests, "1", "ratelimited")
	s.mustSignal(payload(t, 2801, "main", 28011, "success"))
	s.waitSlack("the resolve on the message", func() error {
		m := s.only()
		text := slacktest.Texts(m.Text, m.Blocks)
		if !strings.Contains(text, "*RESOLVED*") || !strings.Contains(text, "red for ") {
			return fmt.Errorf("message reads:\n%s", text)
		}
		if ids := slacktest.ActionIDs(m.Blocks); len(ids) != 0 {
			return fmt.Errorf("a resolved alert still has buttons %v", ids)
		}
		return nil
	})
	_, final := s.waitClosed(id)
	var limited, after time.Time
	for _, c := range s.slack.Calls() {
		switch {
		case c.Method == "chat.update" && c.Error == "ratelimited":
			limited = c.At
		case !limited.IsZero() && after.IsZero() && c.Method == "chat.update" && c.OK:
			after = c.At
		}
	}
	if limited.IsZero() || after.IsZero() || after.Sub(limited) < time.Second {
		t.Errorf("rate limited at %v, updated again at %v: want the retry a Retry-After (1s) later", limited, after)
	}
	if replies := s.slack.Replies(s.only().TS); final == nil || len(replies) != final.Reminders {
		t.Errorf("%d thread replies for %d reminders: want one each", len(replies), final.Reminders)
	}
	recordHistory(t, "slack-snooze-acknowledge-ratelimited-resolve", id)
}

// command posts a slash command as Slack signs it and returns the text
// answered to the user.
func (s *slackStack) command(text string) string {
	s.t.Helper()
	body := []byte(url.Values{"command": {"/alertflow"}, "text": {text}, "user_id": {"U0ALICE"}, "user_name": {"alice.s"}}.Encode())
	ts, sig := slack.Sign([]byte(slackSigningSecret), time.Now(), body)
	req, err := http.NewRequest(http.MethodPost, s.http.URL+"/slack/commands", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct{ Text string }
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusOK {
		s.t.Fatalf("/alertflow %s: %d, %v", text, resp.StatusCode, err)
	}
	return a.Text
}

func TestSlackCommandsAcknowledgeAndSilenceOnARealServer(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newSlackStack(t, workflows.Input{})
	const id = "2802-main"
	s.mustSignal(payload(t, 2802, "main", 28020, "failed"))
	s.waitState(id, isOpen)
	if got := s.command("ack " + id + " looking"); !strings.Contains(got, "Done: acknowledge "+id+", by Alice Smith") {
		t.Fatalf("/alertflow ack answered %q", got)
	}
	st := s.waitState(id, func(st *alert.State) error {
		if st.Status != alert.StatusAcknowledged {
			return fmt.Errorf("%s", st.Status)
		}
		return nil
	})
	if st.AcknowledgedBy != "Alice Smith" || st.AckNote != "looking" {
		t.Errorf("acknowledged by %q with %q", st.AcknowledgedBy, st.AckNote)
	}
	got := s.command("silence project_id=2802 severity=HIGH severity=MEDIUM 1h runner migration")
	if !strings.Contains(got, "started by Alice Smith, active until") || !strings.Contains(got, `"severity":["HIGH","MEDIUM"]`) {
		t.Fatalf("/alertflow silence answered %q", got)
	}
	silenceID := strings.Fields(strings.TrimPrefix(got, "Silence "))[0]
	code, body := s.apiCall(http.MethodGet, "/api/v1/silences/"+silenceID, nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"comment":"runner migration"`) {
		t.Fatalf("the silence: %d %s", code, body)
	}
	if code, _ := s.apiCall(http.MethodDelete, "/api/v1/silences/"+silenceID+"?by=test", nil); code != http.StatusOK {
		t.Errorf("expire the test's silence: %d", code)
	}
}
