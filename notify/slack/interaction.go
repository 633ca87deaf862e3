package slack

// What Slack sends back: button presses and slash commands, signed with
// the app's signing secret.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxSignatureAge is how old a request's timestamp may be, as Slack's
// "Verifying requests" guide advises: an older one may be replayed.
const MaxSignatureAge = 5 * time.Minute

// Verify checks a request Slack signed: X-Slack-Signature is "v0=" and the
// hex HMAC-SHA256, keyed with the signing secret, of
// "v0:<X-Slack-Request-Timestamp>:<body>", and the timestamp is within
// MaxSignatureAge of now. The comparison takes constant time.
func Verify(secret []byte, header http.Header, body []byte, now time.Time) error {
	tsText := header.Get("X-Slack-Request-Timestamp")
	sig := header.Get("X-Slack-Signature")
	if tsText == "" || sig == "" {
		return errors.New("X-Slack-Request-Timestamp and X-Slack-Signature are required")
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return errors.New("X-Slack-Request-Timestamp is not a number of seconds")
	}
	if age := now.Sub(time.Unix(ts, 0)); age > MaxSignatureAge || age < -MaxSignatureAge {
		return fmt.Errorf("X-Slack-Request-Timestamp is more than %s from now: a replay, or a clock far off", MaxSignatureAge)
	}
	if !hmac.Equal([]byte(sig), []byte(v0Signature(secret, tsText, body))) {
		return errors.New("X-Slack-Signature does not match the body: wrong signing secret, or the body was changed")
	}
	return nil
}

// Sign returns the X-Slack-Signature of body at ts, as Slack computes it:
// for tests and for tools that play Slack.
func Sign(secret []byte, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	return timestamp, v0Signature(secret, timestamp, body)
}

// v0Signature is "v0=" and the hex HMAC-SHA256 of "v0:<timestamp>:<body>",
// with the timestamp as the header carries it.
func v0Signature(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "v0:%s:", timestamp)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// User is the Slack user who acted.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
}

// Interaction is a block_actions payload, as far as alertflow reads it.
type Interaction struct {
	Type        string   `json:"type"`
	User        User     `json:"user"`
	Actions     []Action `json:"actions"`
	ResponseURL string   `json:"response_url"`
}

// Action is one pressed button.
type Action struct {
	ActionID string `json:"action_id"`
	Value    string `json:"value"`
}

// ParseInteraction reads the form Slack posts to the interactivity URL:
// payload=<JSON>.
func ParseInteraction(body []byte) (Interaction, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return Interaction{}, errors.New("the body is not a form")
	}
	raw := form.Get("payload")
	if raw == "" {
		return Interaction{}, errors.New("the form has no payload")
	}
	var in Interaction
	if err := json.Unmarshal([]byte(raw), &in); err != nil {
		return Interaction{}, fmt.Errorf("the payload is not Slack's JSON: %w", err)
	}
	return in, nil
}

// Command is a slash command, as Slack posts it.
type Command struct {
	Command     string
	Text        string
	User        User
	ResponseURL string
}

// ParseCommand reads the form Slack posts for a slash command.
func ParseCommand(body []byte) (Command, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return Command{}, errors.New("the body is not a form")
	}
	c := Command{
		Command:     form.Get("command"),
		Text:        strings.TrimSpace(form.Get("text")),
		User:        User{ID: form.Get("user_id"), Username: form.Get("user_name")},
		ResponseURL: form.Get("response_url"),
	}
	if c.Command == "" || c.User.ID == "" {
		return Command{}, errors.New("the form has no command or user_id")
	}
	return c, nil
}

// Who is how alertflow records the user: their entry in people (by user
// ID, then user name), or else their Slack user name, name or ID.
func Who(u User, people map[string]string) string {
	for _, k := range []string{u.ID, u.Username, u.Name} {
		if by, ok := people[k]; ok && k != "" {
			return by
		}
	}
	for _, v := range []string{u.Username, u.Name, u.ID} {
		if v != "" {
			return v
		}
	}
	return ""
}
