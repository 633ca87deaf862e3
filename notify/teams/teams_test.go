package teams_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/notifytest"
	"github.com/alertflow/alertflow/notify/teams"
)

// flowPath is shaped like a Teams Workflows URL: the signature in the
// query is the credential, and the workflow ID in the path names it.
const flowPath = "/workflows/6f1c2e0a8b7d4c3e9f5a1b2c3d4e5f60/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=Zm9vYmFyYmF6cXV4c2VjcmV0c2lnbmF0dXJl"

// fakeTeams is a Teams Workflows webhook: it keeps what it is posted and
// answers status (202 Accepted unless told otherwise), with header and
// body.
type fakeTeams struct {
	*httptest.Server
	mu     sync.Mutex
	posted [][]byte
	header http.Header
	status int
	answer http.Header
	body   string
}

func newFakeTeams(t *testing.T) *fakeTeams {
	f := &fakeTeams{status: http.StatusAccepted, answer: http.Header{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.posted, f.header = append(f.posted, b), r.Header.Clone()
		for k, v := range f.answer {
			w.Header()[k] = v
		}
		w.WriteHeader(f.status)
		io.WriteString(w, f.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeTeams) url() string { return f.URL + flowPath }

// A card is what Teams shows: the message envelope Teams wants, an
// Adaptive Card 1.4 whose title, facts and button are the alert's.
func TestTheCardIsAnAdaptiveCardOfTheAlert(t *testing.T) {
	f := newFakeTeams(t)
	n := notifytest.Notification(notify.KindOpened)
	if err := teams.New(f.url(), nil).Notify(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	if len(f.posted) != 1 || f.header.Get("Content-Type") != "application/json" {
		t.Fatalf("the fake got %d posts, Content-Type %q; want one of application/json", len(f.posted), f.header.Get("Content-Type"))
	}
	var m struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string          `json:"contentType"`
			ContentURL  json.RawMessage `json:"contentUrl"`
			Content     struct {
				Schema  string `json:"$schema"`
				Type    string `json:"type"`
				Version string `json:"version"`
				Body    []struct {
					Type  string `json:"type"`
					Text  string `json:"text"`
					Color string `json:"color"`
					Facts []struct{ Title, Value string }
				} `json:"body"`
				Actions []struct{ Type, Title, URL string }
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(f.posted[0], &m); err != nil {
		t.Fatal(err)
	}
	if m.Type != "message" || len(m.Attachments) != 1 {
		t.Fatalf("type %q with %d attachments, want a message with one:\n%s", m.Type, len(m.Attachments), f.posted[0])
	}
	a := m.Attachments[0]
	c := a.Content
	if a.ContentType != "application/vnd.microsoft.card.adaptive" || string(a.ContentURL) != "null" ||
		c.Schema != "http://adaptivecards.io/schemas/adaptive-card.json" || c.Type != "AdaptiveCard" || c.Version != "1.4" {
		t.Errorf("not an Adaptive Card 1.4 attachment:\n%s", f.posted[0])
	}
	if len(c.Body) < 3 || c.Body[0].Type != "TextBlock" || c.Body[0].Text != "[HIGH] Pipeline #31 failed on gitlab-org/gitlab-test@master" || c.Body[0].Color != "Attention" {
		t.Fatalf("the card does not open with the alert's title in red:\n%s", f.posted[0])
	}
	if c.Body[1].Text != "**Opened** · pipeline by Administrator" {
		t.Errorf("what happened: %q", c.Body[1].Text)
	}
	facts := map[string]string{}
	for _, e := range c.Body {
		if e.Type == "FactSet" {
			for _, f := range e.Facts {
				facts[f.Title] = f.Value
			}
		}
	}
	for title, want := range map[string]string{
		"Severity": "HIGH", "Project": "gitlab-org/gitlab-test", "Branch": "master",
		"Pipeline": "#31 failed", "Alert": "1-master",
	} {
		if facts[title] != want {
			t.Errorf("fact %s = %q, want %q (facts %v)", title, facts[title], want, facts)
		}
	}
	if !strings.Contains(string(f.posted[0]), `test-build (test)`) {
		t.Errorf("the card does not list the failed job:\n%s", f.posted[0])
	}
	if len(c.Actions) == 0 || c.Actions[0].Type != "Action.OpenUrl" || c.Actions[0].URL != "http://example.com/gitlab-org/gitlab-test/-/pipelines/31" {
		t.Errorf("the first action is not a button to the pipeline: %+v", c.Actions)
	}
}

// What happened reads per kind, and the card turns green once resolved.
func TestTheCardSaysWhatHappened(t *testing.T) {
	for kind, want := range map[notify.Kind]string{
		notify.KindSeverityChanged: "**Severity changed** from HIGH to MEDIUM",
		notify.KindReminder:        "**Reminder**: still open and not acknowledged, opened 2016-08-12 15:26 UTC",
		notify.KindAcknowledged:    "**Acknowledged** by alice: looking into the runner",
		notify.KindResolved:        "**Resolved** by alice (flaky runner)",
	} {
		card := teams.Format(notifytest.Notification(kind)).Attachments[0].Content
		if got := card.Body[1].Text; got != want {
			t.Errorf("%s: %q, want %q", kind, got, want)
		}
	}
	resolved := teams.Format(notifytest.Notification(notify.KindResolved)).Attachments[0].Content.Body[0]
	if resolved.Color != "Good" || !strings.HasPrefix(resolved.Text, "[RESOLVED] ") {
		t.Errorf("a resolved alert's title: %+v", resolved)
	}
}

// A branch name or a note cannot forge a link or restyle the card.
func TestTextFromGitLabCannotForgeALink(t *testing.T) {
	n := notifytest.Notification(notify.KindAcknowledged)
	n.Note = "see [the fix](https://evil.example/) **now**"
	n.Alert.Ref = "feature/[x](https://evil.example/)"
	card, err := json.Marshal(teams.Format(n))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"[the fix](https://evil", "**now**", "[x](https://evil"} {
		if strings.Contains(string(card), bad) {
			t.Errorf("the card carries %q as Markdown:\n%s", bad, card)
		}
	}
}

// Teams' answers: 202 (Workflows) and 200 (an incoming webhook) deliver;
// 429 and 5xx retry, after Retry-After when given; any other 4xx gives up.
func TestTeamsAnswersAreClassified(t *testing.T) {
	for _, tt := range []struct {
		status     int
		retryAfter string
		wantErr    bool
		permanent  bool
		after      time.Duration
	}{
		{status: http.StatusAccepted},
		{status: http.StatusOK},
		{status: http.StatusTooManyRequests, retryAfter: "7", wantErr: true, after: 7 * time.Second},
		{status: http.StatusTooManyRequests, wantErr: true},
		{status: http.StatusBadGateway, wantErr: true},
		{status: http.StatusServiceUnavailable, retryAfter: "30", wantErr: true, after: 30 * time.Second},
		{status: http.StatusBadRequest, wantErr: true, permanent: true},
		{status: http.StatusUnauthorized, wantErr: true, permanent: true},
		{status: http.StatusNotFound, wantErr: true, permanent: true},
	} {
		f := newFakeTeams(t)
		f.status = tt.status
		if tt.retryAfter != "" {
			f.answer.Set("Retry-After", tt.retryAfter)
		}
		err := teams.New(f.url(), nil).Notify(t.Context(), notifytest.Notification(notify.KindOpened))
		if !tt.wantErr {
			if err != nil {
				t.Errorf("%d: %v, want delivered", tt.status, err)
			}
			continue
		}
		de, ok := errors.AsType[*notify.DeliveryError](err)
		switch {
		case err == nil:
			t.Errorf("%d: delivered, want an error", tt.status)
		case tt.permanent != (ok && de.Permanent):
			t.Errorf("%d: %v, permanent %v; want permanent %v", tt.status, err, ok && de.Permanent, tt.permanent)
		case ok && de.After != tt.after:
			t.Errorf("%d: retry after %s, want %s", tt.status, de.After, tt.after)
		}
	}
}

// The webhook URL is a credential: no error names it, not even when Teams
// (or a proxy) echoes it in its answer, nor when nothing answers.
func TestTheWebhookURLNeverAppearsInAnError(t *testing.T) {
	f := newFakeTeams(t)
	f.status = http.StatusBadRequest
	f.body = "bad request to " + f.url()
	err := teams.New(f.url(), nil).Notify(t.Context(), notifytest.Notification(notify.KindOpened))
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	errDown := teams.New(down.URL+flowPath, nil).Notify(t.Context(), notifytest.Notification(notify.KindOpened))
	for _, e := range []error{err, errDown} {
		if e == nil {
			t.Fatal("delivered, want an error")
		}
		for _, secret := range []string{"Zm9vYmFyYmF6cXV4c2VjcmV0c2lnbmF0dXJl", "6f1c2e0a8b7d4c3e9f5a1b2c3d4e5f60", strings.TrimPrefix(f.URL, "http://"), strings.TrimPrefix(down.URL, "http://")} {
			if strings.Contains(e.Error(), secret) {
				t.Errorf("the error gives away %q: %v", secret, e)
			}
		}
		if !strings.Contains(e.Error(), "send Teams notification") {
			t.Errorf("the error does not say what was being done: %v", e)
		}
	}
}

// An alert's facts follow what it knows: a tag is a tag, and a culprit,
// once known, is named.
func TestTheFactsFollowTheAlert(t *testing.T) {
	n := notifytest.Notification(notify.KindOpened)
	n.Alert.Tag = true
	n.Alert.Culprit = &alert.Culprit{PipelineID: 31, User: "Ada"}
	facts := map[string]string{}
	for _, e := range teams.Format(n).Attachments[0].Content.Body {
		for _, f := range e.Facts {
			facts[f.Title] = f.Value
		}
	}
	if facts["Tag"] != "master" || facts["Branch"] != "" {
		t.Errorf("a tag's ref: %v", facts)
	}
	if facts["Broken by"] == "" {
		t.Errorf("no culprit among the facts: %v", facts)
	}
}
