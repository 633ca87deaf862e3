package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/notifytest"
	"github.com/alertflow/alertflow/notify/slack"
	"github.com/alertflow/alertflow/notify/slack/slacktest"
)

const botToken = "xoxb-0000000000-0000000000000-abcdefabcdefabcdefabcdef"

func newApp(t *testing.T) (*slack.App, *slacktest.Server) {
	t.Helper()
	fake := slacktest.New(t, botToken)
	return slack.NewApp(fake.URL, botToken, "#ci", nil), fake
}

func TestAppKeepsOneMessagePerAlertAndThreadsRemindersUnderIt(t *testing.T) {
	app, fake := newApp(t)
	ctx := context.Background()
	msg, err := app.NotifyMessage(ctx, notifytest.Notification(notify.KindOpened), "")
	if err != nil {
		t.Fatal(err)
	}
	top := fake.TopLevel()
	if len(top) != 1 || msg != top[0].Channel+" "+top[0].TS {
		t.Fatalf("opened: message %q, posted %+v; want one message, answered as \"<channel> <ts>\"", msg, top)
	}
	if got := slacktest.ActionIDs(top[0].Blocks); !slices.Equal(got, []string{slack.ActionAcknowledge, slack.ActionSnooze1h, slack.ActionSnooze4h, slack.ActionResolve}) {
		t.Errorf("buttons of an open alert = %v", got)
	}

	for _, kind := range []notify.Kind{notify.KindReminder, notify.KindAcknowledged, notify.KindResolved} {
		got, err := app.NotifyMessage(ctx, notifytest.Notification(kind), msg)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if got != msg {
			t.Errorf("%s answered message %q, want the same %q", kind, got, msg)
		}
	}
	top = fake.TopLevel()
	if len(top) != 1 || top[0].Updates != 3 {
		t.Fatalf("after reminder, ack, resolve: top-level messages %+v, want the one, updated 3 times", top)
	}
	replies := fake.Replies(top[0].TS)
	if len(replies) != 1 || !strings.Contains(replies[0].Text, "reminder") {
		t.Errorf("thread replies = %+v, want the reminder alone", replies)
	}
	text := slacktest.Texts(top[0].Text, top[0].Blocks)
	for _, want := range []string{"*RESOLVED*", "*Resolved* by alice", "red for 35m"} {
		if !strings.Contains(text, want) {
			t.Errorf("the resolved message lacks %q:\n%s", want, text)
		}
	}
	if got := slacktest.ActionIDs(top[0].Blocks); len(got) != 0 {
		t.Errorf("a resolved alert still shows buttons %v", got)
	}
}

func TestAppShowsAcknowledgedSnoozedAndSilencedInTheMessage(t *testing.T) {
	n := notifytest.Notification(notify.KindAcknowledged)
	n.Kind = notify.KindUpdated
	n.Alert.Snoozed = &alert.Snooze{Until: notifytest.LaterAt().Add(time.Hour), By: "bob"}
	n.Alert.Silenced = &alert.Silenced{ID: "maintenance", Until: notifytest.LaterAt().Add(2 * time.Hour)}
	m := slack.Console(n)
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Text   string           `json:"text"`
		Blocks []map[string]any `json:"blocks"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	text := slacktest.Texts(raw.Text, raw.Blocks)
	for _, want := range []string{"*Acknowledged* by alice: looking into the runner", "Snoozed until <!date^", "by bob", "Silenced by silence maintenance until"} {
		if !strings.Contains(text, want) {
			t.Errorf("message lacks %q:\n%s", want, text)
		}
	}
	// Acknowledged: no Acknowledge button any more.
	if got := slacktest.ActionIDs(raw.Blocks); !slices.Equal(got, []string{slack.ActionSnooze1h, slack.ActionSnooze4h, slack.ActionResolve}) {
		t.Errorf("buttons of an acknowledged alert = %v", got)
	}
}

func TestAppUpdateWithoutAMessagePostsNothing(t *testing.T) {
	app, fake := newApp(t)
	n := notifytest.Notification(notify.KindOpened)
	n.Kind = notify.KindUpdated
	got, err := app.NotifyMessage(context.Background(), n, "")
	if err != nil || got != "" || len(fake.Calls()) != 0 {
		t.Fatalf("an update of an alert with no message: %q, %v, calls %+v; want nothing", got, err, fake.Calls())
	}
}

func TestAppPostsAgainWhenSomeoneDeletedTheMessage(t *testing.T) {
	app, fake := newApp(t)
	ctx := context.Background()
	msg, err := app.NotifyMessage(ctx, notifytest.Notification(notify.KindOpened), "")
	if err != nil {
		t.Fatal(err)
	}
	fake.Delete(fake.TopLevel()[0].TS)
	got, err := app.NotifyMessage(ctx, notifytest.Notification(notify.KindAcknowledged), msg)
	if err != nil {
		t.Fatal(err)
	}
	top := fake.TopLevel()
	if len(top) != 1 || got != top[0].Channel+" "+top[0].TS || got == msg {
		t.Fatalf("after the message was deleted: answered %q, messages %+v; want a new one", got, top)
	}
}

func TestAppClassifiesSlackErrors(t *testing.T) {
	tests := []struct {
		name           string
		status         int
		retryAfter     string
		code           string
		wantPermanent  bool
		wantRetryAfter time.Duration
	}{
		{"HTTP 429 with Retry-After", http.StatusTooManyRequests, "7", "", false, 7 * time.Second},
		{"channel_not_found", http.StatusOK, "", "channel_not_found", true, 0},
		{"invalid_auth", http.StatusOK, "", "invalid_auth", true, 0},
		{"not_in_channel", http.StatusOK, "", "not_in_channel", true, 0},
		{"internal_error", http.StatusOK, "", "internal_error", false, 0},
		{"ratelimited in a 200", http.StatusOK, "", "ratelimited", false, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, fake := newApp(t)
			fake.FailNext("chat.postMessage", tt.status, tt.retryAfter, tt.code)
			_, err := app.NotifyMessage(context.Background(), notifytest.Notification(notify.KindOpened), "")
			if err == nil {
				t.Fatal("no error")
			}
			de, _ := errors.AsType[*notify.DeliveryError](err)
			permanent := de != nil && de.Permanent
			after := time.Duration(0)
			if de != nil {
				after = de.After
			}
			if permanent != tt.wantPermanent || after != tt.wantRetryAfter {
				t.Errorf("%v: permanent %v, retry after %s; want %v, %s", err, permanent, after, tt.wantPermanent, tt.wantRetryAfter)
			}
			if strings.Contains(err.Error(), botToken) {
				t.Errorf("the error names the token: %v", err)
			}
			if len(fake.TopLevel()) != 0 {
				t.Errorf("a refused post left a message: %+v", fake.TopLevel())
			}
		})
	}
}

func TestAppSendsTheTokenOnlyInTheAuthorizationHeader(t *testing.T) {
	app := slack.NewApp("http://127.0.0.1:1", botToken, "#ci", nil)
	_, err := app.NotifyMessage(context.Background(), notifytest.Notification(notify.KindOpened), "")
	if err == nil || strings.Contains(err.Error(), botToken) {
		t.Fatalf("err = %v; want a failure that does not name the token", err)
	}
}

func TestDurationReadsAsPeopleWriteIt(t *testing.T) {
	for d, want := range map[time.Duration]string{
		45 * time.Second:                  "45s",
		12 * time.Minute:                  "12m",
		time.Hour:                         "1h",
		65 * time.Minute:                  "1h 5m",
		51 * time.Hour:                    "2d 3h",
		48 * time.Hour:                    "2d",
		59*time.Second + time.Millisecond: "59s",
	} {
		if got := slack.Duration(d); got != want {
			t.Errorf("Duration(%s) = %q, want %q", d, got, want)
		}
	}
}
