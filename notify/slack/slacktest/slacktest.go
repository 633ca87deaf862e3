// Package slacktest is a fake Slack Web API for tests: chat.postMessage and
// chat.update as Slack answers them (a ts per posted message, ok:false
// with Slack's error codes, 429 with Retry-After when told to), checking
// the bot token and recording every call. It imports nothing of
// alertflow, so it checks the wire format independently of the code that
// writes it.
package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Call is one Web API call the fake answered.
type Call struct {
	Method   string
	Channel  string
	TS       string // chat.update: the message updated
	ThreadTS string // chat.postMessage: the thread replied in
	Text     string
	// Blocks are the message's blocks as sent.
	Blocks []map[string]any
	// OK is what the fake answered; Error the code when it refused.
	OK    bool
	Error string
	// Answer is the ts chat.postMessage answered.
	Answer string
	// At is when the call came.
	At time.Time
}

// Message is a posted message as it stands after every update.
type Message struct {
	Channel, TS, ThreadTS string
	Text                  string
	Blocks                []map[string]any
	Updates               int
}

// Server is the fake.
type Server struct {
	*httptest.Server
	Token string
	// ChannelID is what the fake answers for every channel name.
	ChannelID string

	mu       sync.Mutex
	calls    []Call
	messages map[string]*Message // by ts
	order    []string
	next     int
	faults   []fault
}

type fault struct {
	method     string
	status     int
	retryAfter string
	code       string
}

// New starts a fake accepting token.
func New(t testing.TB, token string) *Server {
	s := &Server{Token: token, ChannelID: "C0ALERTFLOW", messages: map[string]*Message{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// FailNext makes the next call of method fail: with HTTP status and
// Retry-After when status is not 200, else with ok:false and code.
func (s *Server) FailNext(method string, status int, retryAfter, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{method, status, retryAfter, code})
}

// Calls are the calls so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Messages are the messages posted, in order, as they stand now.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.order))
	for _, ts := range s.order {
		out = append(out, *s.messages[ts])
	}
	return out
}

// TopLevel are the posted messages that are not thread replies.
func (s *Server) TopLevel() []Message {
	var out []Message
	for _, m := range s.Messages() {
		if m.ThreadTS == "" {
			out = append(out, m)
		}
	}
	return out
}

// Replies are the thread replies under ts.
func (s *Server) Replies(ts string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		if m.ThreadTS == ts {
			out = append(out, m)
		}
	}
	return out
}

// Delete removes a message, as a person deleting it in Slack does.
func (s *Server) Delete(ts string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.messages, ts)
	for i, o := range s.order {
		if o == ts {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}

type request struct {
	Channel  string           `json:"channel"`
	TS       string           `json:"ts"`
	ThreadTS string           `json:"thread_ts"`
	Text     string           `json:"text"`
	Blocks   []map[string]any `json:"blocks"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	answer := func(v map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		s.calls = append(s.calls, Call{Method: method, Error: "invalid_auth"})
		answer(map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		answer(map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		answer(map[string]any{"ok": false, "error": "invalid_json"})
		return
	}
	call := Call{Method: method, Channel: req.Channel, TS: req.TS, ThreadTS: req.ThreadTS, Text: req.Text, Blocks: req.Blocks, At: time.Now()}
	for i, f := range s.faults {
		if f.method != method {
			continue
		}
		s.faults = append(s.faults[:i], s.faults[i+1:]...)
		call.Error = f.code
		s.calls = append(s.calls, call)
		if f.status != http.StatusOK {
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			w.WriteHeader(f.status)
			_, _ = io.WriteString(w, `{"ok":false,"error":"ratelimited"}`)
			return
		}
		answer(map[string]any{"ok": false, "error": f.code})
		return
	}
	if req.Text == "" && len(req.Blocks) == 0 {
		call.Error = "no_text"
	}
	switch method {
	case "chat.postMessage":
		if req.Channel == "" {
			call.Error = "channel_not_found"
		}
		if req.ThreadTS != "" && s.messages[req.ThreadTS] == nil {
			call.Error = "thread_not_found"
		}
		if call.Error == "" {
			s.next++
			ts := fmt.Sprintf("1765000000.%06d", s.next)
			s.messages[ts] = &Message{Channel: s.ChannelID, TS: ts, ThreadTS: req.ThreadTS, Text: req.Text, Blocks: req.Blocks}
			s.order = append(s.order, ts)
			call.Answer = ts
		}
	case "chat.update":
		m := s.messages[req.TS]
		switch {
		case call.Error != "":
		case m == nil:
			call.Error = "message_not_found"
		case req.Channel != m.Channel:
			call.Error = "channel_not_found"
		default:
			m.Text, m.Blocks = req.Text, req.Blocks
			m.Updates++
		}
	default:
		call.Error = "unknown_method"
	}
	call.OK = call.Error == ""
	s.calls = append(s.calls, call)
	if !call.OK {
		answer(map[string]any{"ok": false, "error": call.Error})
		return
	}
	ans := map[string]any{"ok": true, "channel": s.ChannelID, "ts": req.TS}
	if call.Answer != "" {
		ans["ts"] = call.Answer
	}
	answer(ans)
}

// Texts joins a message's fallback text and every text of its blocks, one
// per line, for substring checks.
func Texts(text string, blocks []map[string]any) string {
	var b strings.Builder
	b.WriteString(text)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if t, ok := v["text"].(string); ok {
				b.WriteString("\n" + t)
			}
			for k, x := range v {
				if k != "text" || !isString(x) {
					walk(x)
				}
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, bl := range blocks {
		walk(bl)
	}
	return b.String()
}

func isString(v any) bool { _, ok := v.(string); return ok }

// ActionIDs are the action_ids of a message's buttons, in order.
func ActionIDs(blocks []map[string]any) []string {
	var out []string
	for _, bl := range blocks {
		if bl["type"] != "actions" {
			continue
		}
		els, _ := bl["elements"].([]any)
		for _, e := range els {
			if m, ok := e.(map[string]any); ok {
				if id, ok := m["action_id"].(string); ok {
					out = append(out, id)
				}
			}
		}
	}
	return out
}
