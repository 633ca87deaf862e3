package ingress

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify/slack"
	"github.com/alertflow/alertflow/workflows"
)

const slackSecret = "slack-signing-secret-for-tests"

// updatingTemporal answers updates with an alert state, unless failing.
type updatingTemporal struct {
	*fakeTemporal
}

type stateHandle struct{ client.WorkflowUpdateHandle }

func (stateHandle) Get(_ context.Context, v any) error {
	*v.(*alert.State) = alert.State{ID: "42-main", Status: alert.StatusAcknowledged}
	return nil
}

func (u updatingTemporal) UpdateWorkflow(ctx context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	if _, err := u.fakeTemporal.UpdateWorkflow(ctx, o); err != nil {
		return nil, err
	}
	return stateHandle{}, nil
}

// responses is a fake response_url: what alertflow told the user.
type responses struct {
	mu   sync.Mutex
	said []string
}

func (r *responses) server(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(req.Body).Decode(&m)
		r.mu.Lock()
		defer r.mu.Unlock()
		if m["response_type"] == "ephemeral" {
			r.said = append(r.said, m["text"].(string))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (r *responses) wait(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		if len(r.said) > 0 {
			s := r.said[0]
			r.mu.Unlock()
			return s
		}
		r.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("alertflow told the Slack user nothing")
	return ""
}

func slackServer(t *testing.T, fake *fakeTemporal) *Server {
	t.Helper()
	return New(Config{SlackSigningSecret: []byte(slackSecret), SlackPeople: map[string]string{"U0ALICE": "Alice Smith"}},
		updatingTemporal{fake}, slog.New(slog.DiscardHandler))
}

func press(actionID, alertID, responseURL string) []byte {
	p, _ := json.Marshal(map[string]any{
		"type":         "block_actions",
		"user":         map[string]string{"id": "U0ALICE", "username": "alice.s"},
		"response_url": responseURL,
		"actions":      []map[string]string{{"action_id": actionID, "value": alertID, "type": "button"}},
	})
	return []byte("payload=" + url.QueryEscape(string(p)))
}

func postSlack(s *Server, path string, body []byte, secret string, at time.Time) *httptest.ResponseRecorder {
	ts, sig := slack.Sign([]byte(secret), at, body)
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", sig)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

func TestSlackButtonsApplyTheUpdateAsThePersonThePeopleMapNames(t *testing.T) {
	for _, tt := range []struct {
		action, update string
		check          func(any) bool
	}{
		{slack.ActionAcknowledge, workflows.UpdateAcknowledge, func(a any) bool { return a.(alert.Acknowledgement).By == "Alice Smith" }},
		{slack.ActionSnooze1h, workflows.UpdateSnooze, func(a any) bool { r := a.(alert.SnoozeRequest); return r.By == "Alice Smith" && r.For == "1h" }},
		{slack.ActionSnooze4h, workflows.UpdateSnooze, func(a any) bool { return a.(alert.SnoozeRequest).For == "4h" }},
		{slack.ActionResolve, workflows.UpdateResolve, func(a any) bool { return a.(alert.Resolution).By == "Alice Smith" }},
	} {
		t.Run(tt.action, func(t *testing.T) {
			fake := &fakeTemporal{}
			rec := postSlack(slackServer(t, fake), "/slack/interactions", press(tt.action, "42-main", ""), slackSecret, time.Now())
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if len(fake.updates) != 1 || fake.updates[0].WorkflowID != "42-main" || fake.updates[0].UpdateName != tt.update || !tt.check(fake.updates[0].Args[0]) {
				t.Fatalf("updates = %+v", fake.updates)
			}
		})
	}
}

func TestSlackRequestsNotSignedJustNowBySlackAre401AndChangeNothing(t *testing.T) {
	body := press(slack.ActionResolve, "42-main", "")
	for _, tt := range []struct {
		name   string
		secret string
		at     time.Time
	}{
		{"another secret", "not-the-signing-secret", time.Now()},
		{"a timestamp 6 minutes old", slackSecret, time.Now().Add(-6 * time.Minute)},
	} {
		for _, path := range []string{"/slack/interactions", "/slack/commands"} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				fake := &fakeTemporal{}
				rec := postSlack(slackServer(t, fake), path, body, tt.secret, tt.at)
				if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "not a request signed by Slack") {
					t.Fatalf("%d %s, want 401 naming the problem", rec.Code, rec.Body)
				}
				if len(fake.updates) != 0 {
					t.Fatalf("a refused request updated %+v", fake.updates)
				}
			})
		}
	}
}

func TestSlackTamperedBodyIs401(t *testing.T) {
	fake := &fakeTemporal{}
	s := slackServer(t, fake)
	body := press(slack.ActionAcknowledge, "42-main", "")
	ts, sig := slack.Sign([]byte(slackSecret), time.Now(), body)
	tampered := press(slack.ActionResolve, "42-main", "")
	req := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(string(tampered)))
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", sig)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || len(fake.updates) != 0 {
		t.Fatalf("%d %s, updates %+v", rec.Code, rec.Body, fake.updates)
	}
}

func TestSlackTellsTheUserAloneWhyAnActionDidNotApply(t *testing.T) {
	said := &responses{}
	srv := said.server(t)
	fake := &fakeTemporal{updateErr: serviceerror.NewNotFound("workflow execution already completed")}
	rec := postSlack(slackServer(t, fake), "/slack/interactions", press(slack.ActionAcknowledge, "42-main", srv.URL+"/actions/T0/1/x"), slackSecret, time.Now())
	if rec.Code != http.StatusOK {
		t.Fatalf("%d %s: Slack wants a 200 whatever happened", rec.Code, rec.Body)
	}
	if got := said.wait(t); !strings.Contains(got, "no open alert 42-main") {
		t.Fatalf("told the user %q", got)
	}
}

func TestSlackCommandAcknowledgesAndAnswersTheUser(t *testing.T) {
	fake := &fakeTemporal{}
	form := url.Values{"command": {"/alertflow"}, "text": {"ack 42-main on it"}, "user_id": {"U0BOB"}, "user_name": {"bob"}}
	rec := postSlack(slackServer(t, fake), "/slack/commands", []byte(form.Encode()), slackSecret, time.Now())
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK || !strings.Contains(string(body), "Done: acknowledge 42-main, by bob") {
		t.Fatalf("%d %s", rec.Code, body)
	}
	if len(fake.updates) != 1 || fake.updates[0].Args[0].(alert.Acknowledgement) != (alert.Acknowledgement{By: "bob", Note: "on it"}) {
		t.Fatalf("updates = %+v", fake.updates)
	}
	form.Set("text", "dance")
	rec = postSlack(slackServer(t, fake), "/slack/commands", []byte(form.Encode()), slackSecret, time.Now())
	if body, _ := io.ReadAll(rec.Body); !strings.Contains(string(body), "Usage: /alertflow ack") {
		t.Fatalf("an unknown command answered %s", body)
	}
}

func TestSlackEndpointsAreOffWithoutASigningSecret(t *testing.T) {
	s := New(Config{}, &fakeTemporal{}, slog.New(slog.DiscardHandler))
	rec := postSlack(s, "/slack/interactions", press(slack.ActionAcknowledge, "42-main", ""), slackSecret, time.Now())
	if rec.Code != http.StatusNotFound {
		t.Fatalf("%d %s, want 404", rec.Code, rec.Body)
	}
}

func TestSlackButtonForABadAlertIDChangesNothing(t *testing.T) {
	said := &responses{}
	srv := said.server(t)
	fake := &fakeTemporal{}
	rec := postSlack(slackServer(t, fake), "/slack/interactions", press(slack.ActionAcknowledge, "not-an-id", srv.URL), slackSecret, time.Now())
	if rec.Code != http.StatusOK || len(fake.updates) != 0 {
		t.Fatalf("%d, updates %+v", rec.Code, fake.updates)
	}
	if got := said.wait(t); !strings.Contains(got, "cannot acknowledge not-an-id") {
		t.Fatalf("told the user %q", got)
	}
}

func TestSlackSilenceCommandRefusesWhatTheRESTAPIRefuses(t *testing.T) {
	fake := &fakeTemporal{}
	for _, tt := range []struct{ text, want string }{
		{"silence project=team-a/*", "Usage: /alertflow"},
		{"silence 2h runner migration", "Usage: /alertflow"},
		{"silence colour=red 2h runner migration", "alertflow cannot start that silence"},
		{"silence project=team-a/* forever runner migration", "alertflow cannot start that silence"},
	} {
		form := url.Values{"command": {"/alertflow"}, "text": {tt.text}, "user_id": {"U0BOB"}, "user_name": {"bob"}}
		rec := postSlack(slackServer(t, fake), "/slack/commands", []byte(form.Encode()), slackSecret, time.Now())
		if body := rec.Body.String(); rec.Code != http.StatusOK || !strings.Contains(body, tt.want) {
			t.Errorf("%q: %d %s, want %q", tt.text, rec.Code, body, tt.want)
		}
	}
	if len(fake.queries) != 0 {
		t.Fatalf("refused silences asked Temporal %v", fake.queries)
	}
}

// Thousands of refused presses, answered by a slow response_url: at most
// maxSlackTells answers are on their way at once, and none once done.
func TestSlackAnswersToUsersAreBoundedAndComeBackToIdle(t *testing.T) {
	var mu sync.Mutex
	inFlight, most, told := 0, 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(2 * time.Millisecond) // a slow Slack, so that answers overlap
		mu.Lock()
		inFlight--
		told++
		mu.Unlock()
	}))
	defer srv.Close()
	fake := &fakeTemporal{updateErr: serviceerror.NewNotFound("workflow execution already completed")}
	s := slackServer(t, fake)
	const presses = 2000
	for range presses {
		if rec := postSlack(s, "/slack/interactions", press(slack.ActionAcknowledge, "42-main", srv.URL), slackSecret, time.Now()); rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(s.slackTells) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(s.slackTells) != 0 || inFlight != 0 {
		t.Fatalf("%d answers still on their way, %d at the receiver", len(s.slackTells), inFlight)
	}
	if most > maxSlackTells || told == 0 || told > presses {
		t.Fatalf("at most %d at once (limit %d), %d told of %d", most, maxSlackTells, told, presses)
	}
	// The error paths give their slot back too: a response_url nothing
	// listens on, and one that is no URL.
	refusing := httptest.NewServer(http.NotFoundHandler())
	refusing.Close()
	for i := range presses {
		to := refusing.URL
		if i%2 == 1 {
			to = "::not a url"
		}
		postSlack(s, "/slack/interactions", press(slack.ActionAcknowledge, "42-main", to), slackSecret, time.Now())
	}
	deadline = time.Now().Add(30 * time.Second)
	for len(s.slackTells) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(s.slackTells); n != 0 {
		t.Fatalf("%d answers still hold a slot after failing", n)
	}
}

func TestSlackCommandWithAControlCharacterIsRefusedWithoutACall(t *testing.T) {
	fake := &fakeTemporal{}
	form := url.Values{"command": {"/alertflow"}, "text": {"ack 42-main on it\u001b[2J"}, "user_id": {"U0BOB"}, "user_name": {"bob"}}
	rec := postSlack(slackServer(t, fake), "/slack/commands", []byte(form.Encode()), slackSecret, time.Now())
	if body := rec.Body.String(); rec.Code != http.StatusOK || !strings.Contains(body, `\"note\" holds a control character`) || len(fake.updates) != 0 {
		t.Fatalf("%d %s, updates %+v", rec.Code, body, fake.updates)
	}
}
