package slack_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/notify/slack"
)

// Slack's own example, from its guide "Verifying requests from Slack".
const (
	docSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	docTimestamp = "1531420618"
	docBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	docSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

func signed(ts, sig string) http.Header {
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", ts)
	h.Set("X-Slack-Signature", sig)
	return h
}

func TestVerifyAcceptsSlacksPublishedExample(t *testing.T) {
	at := time.Unix(1531420618, 0).Add(10 * time.Second)
	if err := slack.Verify([]byte(docSecret), signed(docTimestamp, docSignature), []byte(docBody), at); err != nil {
		t.Fatalf("Slack's own example refused: %v", err)
	}
	if ts, sig := slack.Sign([]byte(docSecret), time.Unix(1531420618, 0), []byte(docBody)); ts != docTimestamp || sig != docSignature {
		t.Errorf("Sign = %s, %s; want Slack's %s, %s", ts, sig, docTimestamp, docSignature)
	}
}

func TestVerifyRefusesWhatSlackDidNotSignJustNow(t *testing.T) {
	at := time.Unix(1531420618, 0)
	tests := []struct {
		name   string
		secret string
		header http.Header
		body   string
		now    time.Time
		want   string
	}{
		{"a changed body", docSecret, signed(docTimestamp, docSignature), docBody + "&text=ack", at, "does not match"},
		{"another secret", "another-secret", signed(docTimestamp, docSignature), docBody, at, "does not match"},
		{"a timestamp 6 minutes old", docSecret, signed(docTimestamp, docSignature), docBody, at.Add(6 * time.Minute), "more than 5m0s from now"},
		{"a timestamp 6 minutes ahead", docSecret, signed(docTimestamp, docSignature), docBody, at.Add(-6 * time.Minute), "more than 5m0s from now"},
		{"no signature", docSecret, signed(docTimestamp, ""), docBody, at, "required"},
		{"no timestamp", docSecret, signed("", docSignature), docBody, at, "required"},
		{"a timestamp that is no number", docSecret, signed("soon", docSignature), docBody, at, "not a number"},
		{"the signature of another timestamp", docSecret, signed("1531420619", docSignature), docBody, at, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := slack.Verify([]byte(tt.secret), tt.header, []byte(tt.body), tt.now)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Errorf("the error names the secret: %v", err)
			}
		})
	}
}

func TestParseInteractionReadsTheButtonAndTheUser(t *testing.T) {
	payload := `{"type":"block_actions","user":{"id":"U0ALICE","username":"alice.s","name":"alice.s"},` +
		`"response_url":"https://hooks.slack.com/actions/T0/1/x","actions":[{"action_id":"alertflow.acknowledge","value":"42-main","type":"button"}]}`
	in, err := slack.ParseInteraction([]byte("payload=" + url.QueryEscape(payload)))
	if err != nil {
		t.Fatal(err)
	}
	if in.Type != "block_actions" || in.User.ID != "U0ALICE" || len(in.Actions) != 1 ||
		in.Actions[0].ActionID != slack.ActionAcknowledge || in.Actions[0].Value != "42-main" {
		t.Fatalf("parsed %+v", in)
	}
	for _, bad := range []string{"", "payload=", "payload=%7Bnot-json", "%zz"} {
		if _, err := slack.ParseInteraction([]byte(bad)); err == nil {
			t.Errorf("ParseInteraction(%q) accepted it", bad)
		}
	}
}

func TestWhoNamesTheUserAsThePeopleMapSays(t *testing.T) {
	people := map[string]string{"U0ALICE": "Alice Smith", "bob": "Bob Jones"}
	for _, tt := range []struct {
		u    slack.User
		want string
	}{
		{slack.User{ID: "U0ALICE", Username: "alice.s"}, "Alice Smith"},
		{slack.User{ID: "U0BOB", Username: "bob"}, "Bob Jones"},
		{slack.User{ID: "U0CAROL", Username: "carol"}, "carol"},
		{slack.User{ID: "U0DAN"}, "U0DAN"},
	} {
		if got := slack.Who(tt.u, people); got != tt.want {
			t.Errorf("Who(%+v) = %q, want %q", tt.u, got, tt.want)
		}
	}
}
