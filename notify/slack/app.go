package slack

// The Slack app: a bot token posts one message per alert through Slack's
// Web API, updates it at every transition, and threads reminders and
// escalations under it. The incoming webhook (Notifier) cannot edit what
// it posted; the app can.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/alertflow/alertflow/notify"
)

// DefaultAPIURL is Slack's Web API; tests point an App at a fake.
const DefaultAPIURL = "https://slack.com/api"

// App delivers notifications as a Slack app with a bot token. It
// implements notify.Messenger: the message it answers, "<channel> <ts>",
// is what chat.update and thread replies need, and holds no secret.
type App struct {
	api     string
	token   string
	channel string
	client  *http.Client
}

// NewApp returns an app posting to channel (a name like "#ci" or an ID)
// with the bot token. apiURL "" means DefaultAPIURL; a nil client means
// notify.DefaultHTTPClient(). The token never appears in errors or logs.
func NewApp(apiURL, token, channel string, client *http.Client) *App {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	if client == nil {
		client = notify.DefaultHTTPClient()
	}
	return &App{api: strings.TrimSuffix(apiURL, "/"), token: token, channel: channel, client: client}
}

// Notify posts n as a message of its own: what an alert that keeps no
// message (one opened before alertflow kept them) gets.
func (a *App) Notify(ctx context.Context, n notify.Notification) error {
	_, err := a.NotifyMessage(ctx, n, "")
	return err
}

// NotifyMessage brings the alert's message up to date with n. Without a
// message yet, it posts one. Every later transition updates the message
// in place (chat.update notifies nobody); a reminder or an escalation
// also replies in the message's thread, so that it is heard. A message
// someone deleted is posted again. A retry after a failed thread reply
// updates the message once more, which changes nothing.
func (a *App) NotifyMessage(ctx context.Context, n notify.Notification, message string) (string, error) {
	channel, ts, ok := parseMessage(message)
	if !ok {
		if n.Kind == notify.KindUpdated {
			// Nothing to bring up to date: an update pages nobody.
			return "", nil
		}
		return a.post(ctx, n, Console(n), "")
	}
	err := a.update(ctx, n, channel, ts)
	var api *APIError
	if errors.As(err, &api) && api.Code == "message_not_found" {
		return a.post(ctx, n, Console(n), "")
	}
	if err != nil {
		return message, err
	}
	if n.Kind == notify.KindReminder || n.Kind == notify.KindEscalated {
		_, err = a.post(ctx, n, Reply(n), ts)
	}
	return message, err
}

// post calls chat.postMessage with msg, in the thread of threadTS when it
// is set, and answers the new message.
func (a *App) post(ctx context.Context, n notify.Notification, msg Message, threadTS string) (string, error) {
	req := apiMessage{Channel: a.channel, Message: msg, ThreadTS: threadTS, UnfurlLinks: new(bool)}
	var ans apiAnswer
	if err := a.call(ctx, "chat.postMessage", req, &ans); err != nil {
		return "", fmt.Errorf("post Slack message for notification %s: %w", n.ID, err)
	}
	if ans.Channel == "" || ans.TS == "" {
		return "", fmt.Errorf("post Slack message for notification %s: chat.postMessage answered no channel or ts", n.ID)
	}
	return ans.Channel + " " + ans.TS, nil
}

// update calls chat.update on the alert's message.
func (a *App) update(ctx context.Context, n notify.Notification, channel, ts string) error {
	req := apiMessage{Channel: channel, TS: ts, Message: Console(n)}
	if err := a.call(ctx, "chat.update", req, &apiAnswer{}); err != nil {
		return fmt.Errorf("update Slack message for notification %s: %w", n.ID, err)
	}
	return nil
}

// call posts req to a Web API method and reads its answer. Slack answers
// HTTP 200 with {"ok":false,"error":"..."} for most failures, and 429 with
// Retry-After when rate limited; APIError classifies the codes.
func (a *App) call(ctx context.Context, method string, req any, ans *apiAnswer) error {
	body, err := json.Marshal(req)
	if err != nil {
		return notify.Permanent(fmt.Errorf("encode %s: %w", method, err))
	}
	header := http.Header{}
	header.Set("Content-Type", "application/json; charset=utf-8")
	header.Set("Authorization", "Bearer "+a.token)
	header.Set("User-Agent", "alertflow")
	raw, err := notify.PostForAnswer(ctx, a.client, a.api+"/"+method, header, body, a.token)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, ans); err != nil {
		return fmt.Errorf("%s answered what is not Slack's JSON: %w", method, err)
	}
	if !ans.OK {
		return classify(method, ans.Error)
	}
	return nil
}

// apiMessage is the body of chat.postMessage and chat.update.
type apiMessage struct {
	Channel string `json:"channel"`
	TS      string `json:"ts,omitempty"`
	Message
	ThreadTS    string `json:"thread_ts,omitempty"`
	UnfurlLinks *bool  `json:"unfurl_links,omitempty"`
}

// apiAnswer is what the Web API answers, as far as alertflow reads it.
type apiAnswer struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
}

// APIError is a Web API answer with "ok": false.
type APIError struct {
	Method string
	// Code is Slack's error string: "channel_not_found", "invalid_auth", …
	Code string
}

func (e *APIError) Error() string {
	return "Slack " + e.Method + " answered " + e.Code
}

// transientCodes are the Web API errors worth retrying; Slack documents
// them as "try again". Every other code (channel_not_found, invalid_auth,
// not_in_channel, is_archived, invalid_blocks, msg_too_long, …) is about
// the app or the message and would be answered again.
var transientCodes = map[string]bool{
	"ratelimited":         true,
	"rate_limited":        true,
	"internal_error":      true,
	"fatal_error":         true,
	"service_unavailable": true,
	"request_timeout":     true,
	"team_added_to_org":   true,
}

// maxCode bounds the error code kept: it reaches the log and the history.
const maxCode = 64

func classify(method, code string) error {
	code = notify.Clip(code, maxCode)
	if code == "" {
		code = "an error without a code"
	}
	err := &APIError{Method: method, Code: code}
	switch {
	case code == "ratelimited" || code == "rate_limited":
		// Rate limits come as HTTP 429 with Retry-After, which
		// notify.CheckStatus honours; one inside a 200 has no delay.
		return notify.RetryAfter(err, time.Second)
	case transientCodes[code]:
		return err
	case code == "message_not_found":
		// NotifyMessage posts the message again; as an error it stays.
		return err
	default:
		return notify.Permanent(err)
	}
}

// parseMessage reads what NotifyMessage answered: "<channel> <ts>".
func parseMessage(message string) (channel, ts string, ok bool) {
	channel, ts, ok = strings.Cut(message, " ")
	return channel, ts, ok && channel != "" && ts != ""
}
