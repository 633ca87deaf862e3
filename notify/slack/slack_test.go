package slack_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/notifytest"
	"github.com/alertflow/alertflow/notify/slack"
)

// tokenPath is shaped like a Slack webhook path: the path is the secret.
const tokenPath = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"

// everything is a message's fallback text and all its block texts, one per
// line, for substring checks.
func everything(m slack.Message) string {
	var b strings.Builder
	b.WriteString(m.Text)
	for _, bl := range m.Blocks {
		if bl.Text != nil {
			b.WriteString("\n" + bl.Text.Text)
		}
		for _, e := range bl.Elements {
			b.WriteString("\n" + e.Text)
		}
	}
	return b.String()
}

func TestTheMessageSaysWhatHappenedToWhichPipeline(t *testing.T) {
	const pipeline31 = "<http://example.com/gitlab-org/gitlab-test/-/pipelines/31|Pipeline #31> failed on *gitlab-org/gitlab-test@master*"
	tests := []struct {
		kind         notify.Kind
		wantBlocks   []string
		wantFallback string
	}{
		{
			kind: notify.KindOpened,
			wantBlocks: []string{
				":red_circle: *HIGH* " + pipeline31,
				"*Opened* · pipeline by Administrator",
			},
			wantFallback: "[HIGH] Pipeline #31 failed on gitlab-org/gitlab-test@master: opened",
		},
		{
			kind: notify.KindSeverityChanged,
			wantBlocks: []string{
				":large_orange_circle: *MEDIUM* <http://example.com/gitlab-org/gitlab-test/-/pipelines/32|Pipeline #32> canceled on *gitlab-org/gitlab-test@master*",
				"*Severity changed* from HIGH to MEDIUM",
			},
			wantFallback: "[MEDIUM] Pipeline #32 canceled on gitlab-org/gitlab-test@master: severity changed from HIGH to MEDIUM",
		},
		{
			kind: notify.KindReminder,
			wantBlocks: []string{
				":red_circle: *HIGH* " + pipeline31,
				fmt.Sprintf("*Reminder*: still open and not acknowledged, opened <!date^%d^{date_short_pretty} at {time}|2016-08-12 15:26 UTC>", notifytest.OpenedAt().Unix()),
			},
			wantFallback: "[HIGH] Pipeline #31 failed on gitlab-org/gitlab-test@master: reminder, still open and not acknowledged",
		},
		{
			kind: notify.KindAcknowledged,
			wantBlocks: []string{
				":red_circle: *HIGH* " + pipeline31,
				"*Acknowledged* by alice: looking into the runner",
			},
			wantFallback: "[HIGH] Pipeline #31 failed on gitlab-org/gitlab-test@master: acknowledged by alice",
		},
		{
			kind: notify.KindResolved,
			wantBlocks: []string{
				":white_check_mark: *RESOLVED* " + pipeline31,
				"*Resolved* by alice (flaky runner)",
			},
			wantFallback: "[RESOLVED] Pipeline #31 failed on gitlab-org/gitlab-test@master: resolved by alice",
		},
		{
			kind: notify.KindFlapping,
			wantBlocks: []string{
				":red_circle: *HIGH* " + pipeline31,
				"*Flapping*: this branch keeps going red and green; no more pages until it has been green for 1h",
			},
			wantFallback: "[HIGH] Pipeline #31 failed on gitlab-org/gitlab-test@master: flapping, no more pages until green for 1h",
		},
		{
			kind: notify.KindStable,
			wantBlocks: []string{
				":white_check_mark: *RESOLVED* " + pipeline31,
				fmt.Sprintf("*Stable*: green for 30m after flapping; resolved (green since <!date^%d^{date_short_pretty} at {time}|2016-08-12 15:32 UTC>)",
					notifytest.LaterAt().Add(-30*time.Minute).Unix()),
			},
			wantFallback: "[RESOLVED] Pipeline #31 failed on gitlab-org/gitlab-test@master: stable, green for 30m; resolved",
		},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			m := slack.Format(notifytest.Notification(tt.kind))
			if m.Text != tt.wantFallback {
				t.Errorf("text = %q, want %q", m.Text, tt.wantFallback)
			}
			if len(m.Blocks) < 2 {
				t.Fatalf("blocks = %+v, want a headline and an action", m.Blocks)
			}
			for i, want := range tt.wantBlocks {
				if got := m.Blocks[i].Text; got == nil || got.Type != "mrkdwn" || got.Text != want {
					t.Errorf("block %d = %+v, want mrkdwn %q", i, got, want)
				}
			}
			all := everything(m)
			for _, want := range []string{
				"Commit <http://example.com/gitlab-org/gitlab-test/commit/bcbb5ec396a2c0f828686f14fac9b80b780504f2|Add the pipeline badge>",
				"Alert 1-master",
			} {
				if !strings.Contains(all, want) {
					t.Errorf("message lacks %q:\n%s", want, all)
				}
			}
		})
	}
}

func TestTheMessageListsTheFailedJobsWithStageAndReason(t *testing.T) {
	m := slack.Format(notifytest.Notification(notify.KindOpened))
	want := "*Failed jobs*\n• test-build (test): script_failure\n• lint (test): script_failure, allowed to fail"
	if got := m.Blocks[2].Text.Text; got != want {
		t.Errorf("jobs block = %q, want %q", got, want)
	}
}

func TestTheMessageKeepsLongJobListsShort(t *testing.T) {
	n := notifytest.Notification(notify.KindOpened)
	n.Alert.Pipeline.FailedJobs = nil
	for i := range 13 {
		n.Alert.Pipeline.FailedJobs = append(n.Alert.Pipeline.FailedJobs, alert.Job{Name: fmt.Sprintf("job-%d", i), Stage: "test"})
	}
	jobs := slack.Format(n).Blocks[2].Text.Text
	if !strings.Contains(jobs, "• job-9 (test)") || strings.Contains(jobs, "job-10") || !strings.HasSuffix(jobs, "… and 3 more") {
		t.Errorf("jobs block = %q, want ten jobs and \"… and 3 more\"", jobs)
	}
}

func TestTextFromGitLabAndPeopleIsEscaped(t *testing.T) {
	n := notifytest.Notification(notify.KindAcknowledged)
	n.Alert.Project.Path = "team&co/<app>"
	n.Alert.Ref = "feat/<!channel>"
	n.Title = n.Alert.Title()
	n.Actor = "bob <bob@example.com>"
	n.Note = "ping <!here> & <https://evil.example|click>"
	n.Alert.Pipeline.FailedJobs = []alert.Job{{Name: "a<b>&c", Stage: "t&t", FailureReason: "<oom>"}}
	n.Alert.Pipeline.CommitTitle = "Fix <script> & stuff"

	m := slack.Format(n)
	all := everything(m)
	for _, raw := range []string{"<!channel>", "<!here>", "<https://evil.example", "<app>", "<bob@", "a<b>", "<oom>", "<script>"} {
		if strings.Contains(all, raw) {
			t.Errorf("message contains unescaped %q:\n%s", raw, all)
		}
	}
	for _, want := range []string{
		"*team&amp;co/&lt;app&gt;@feat/&lt;!channel&gt;*",
		"*Acknowledged* by bob &lt;bob@example.com&gt;: ping &lt;!here&gt; &amp; &lt;https://evil.example|click&gt;",
		"• a&lt;b&gt;&amp;c (t&amp;t): &lt;oom&gt;",
		"|Fix &lt;script&gt; &amp; stuff>",
		"[HIGH] Pipeline #31 failed on team&amp;co/&lt;app&gt;@feat/&lt;!channel&gt;: acknowledged by bob &lt;bob@example.com&gt;",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("message lacks %q:\n%s", want, all)
		}
	}
}

func TestLinksAreOnlyMadeOfWebURLsAndCannotBreakOut(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want string
	}{
		{"an https URL is linked", "https://gitlab.example/p/-/pipelines/31", "<https://gitlab.example/p/-/pipelines/31|Pipeline #31>"},
		{"an ampersand in the URL is escaped", "https://gitlab.example/p?a=1&b=2", "<https://gitlab.example/p?a=1&amp;b=2|Pipeline #31>"},
		{"a pipe or angle bracket cannot end the link early", "https://gitlab.example/p|x>y<z", "<https://gitlab.example/p%7Cx%3Ey%3Cz|Pipeline #31>"},
		{"a javascript: URL is not linked", "javascript:alert(1)", "Pipeline #31 failed"},
		{"no URL shows the label alone", "", "Pipeline #31 failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := notifytest.Notification(notify.KindOpened)
			n.Alert.Pipeline.URL = tt.url
			if got := slack.Format(n).Blocks[0].Text.Text; !strings.Contains(got, tt.want) {
				t.Errorf("headline = %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

// slackLike answers like Slack's incoming webhooks and hands every body
// it gets to the test over a channel.
func slackLike(t *testing.T, status int, retryAfter, answer string) (url string, bodies chan []byte) {
	t.Helper()
	bodies = make(chan []byte, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != tokenPath || r.Header.Get("Content-Type") != "application/json" {
			b = nil // the test sees a nil body and fails
		}
		bodies <- b
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + tokenPath, bodies
}

func TestNotifyPostsTheFormattedMessage(t *testing.T) {
	url, bodies := slackLike(t, http.StatusOK, "", "ok")
	n := notifytest.Notification(notify.KindOpened)
	if err := slack.New(url, nil).Notify(t.Context(), n); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	var body []byte
	select {
	case body = <-bodies:
	default:
		t.Fatal("Slack got no request")
	}
	var got slack.Message
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %q is not a message: %v", body, err)
	}
	want, _ := json.Marshal(slack.Format(n))
	if again, _ := json.Marshal(got); string(again) != string(want) {
		t.Errorf("body = %s, want %s", body, want)
	}
}

func TestSlackAnswersDecideWhetherToRetry(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		answer     string
		permanent  bool
		after      time.Duration
	}{
		{name: "400 invalid_payload is not retried", status: 400, answer: "invalid_payload", permanent: true},
		{name: "403 invalid_token is not retried", status: 403, answer: "invalid_token", permanent: true},
		{name: "404 no_service is not retried", status: 404, answer: "no_service", permanent: true},
		{name: "410 channel_is_archived is not retried", status: 410, answer: "channel_is_archived", permanent: true},
		{name: "429 rate_limited waits for Retry-After", status: 429, retryAfter: "30", answer: "rate_limited", after: 30 * time.Second},
		{name: "429 asking for an hour waits the 5-minute cap", status: 429, retryAfter: "3600", answer: "rate_limited", after: 5 * time.Minute},
		{name: "500 rollup_error is retried", status: 500, answer: "rollup_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, _ := slackLike(t, tt.status, tt.retryAfter, tt.answer)
			err := slack.New(url, nil).Notify(t.Context(), notifytest.Notification(notify.KindOpened))
			de, ok := errors.AsType[*notify.DeliveryError](err)
			if !ok {
				t.Fatalf("error %v, want a DeliveryError", err)
			}
			if de.Permanent != tt.permanent || de.After != tt.after {
				t.Errorf("permanent %v after %s, want %v %s", de.Permanent, de.After, tt.permanent, tt.after)
			}
			if !strings.Contains(err.Error(), tt.answer) || !strings.Contains(err.Error(), fmt.Sprint(tt.status)) {
				t.Errorf("error %q should say %d and %q", err, tt.status, tt.answer)
			}
			for e := error(err); e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), "/services/") || strings.Contains(e.Error(), "XXXXXXXX") {
					t.Errorf("error %q gives away the webhook's path", e)
				}
			}
		})
	}
}

func TestAFailedSlackDeliveryNamesNeitherTheWebhooksHostNorItsPath(t *testing.T) {
	tests := []struct {
		name     string
		receiver notifytest.Receiver
		says     string
	}{
		{"connection refused", notifytest.Refusing(t), "dial: connection refused"},
		{"a 500 that echoes the request", notifytest.Echoing(t, http.StatusInternalServerError), "HTTP 500 Internal Server Error: no route for POST [redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := slack.New(tt.receiver.Base+tokenPath, nil).Notify(t.Context(), notifytest.Notification(notify.KindOpened))
			tt.receiver.AssertNoLeak(t, err, "/services/", "T00000000", "B00000000", "XXXXXXXX")
			if msg := err.Error(); !strings.Contains(msg, "send Slack notification") || !strings.Contains(msg, "POST http://[redacted]: ") || !strings.Contains(msg, tt.says) {
				t.Errorf("error %q should name Slack, its scheme only, and say %q", msg, tt.says)
			}
		})
	}
}
