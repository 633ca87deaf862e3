// Package pagerdutytest is a fake PagerDuty Events API v2 for tests: an
// httptest server that checks every request against the Events v2 schema
// (alert events on /v2/enqueue, change events on /v2/change/enqueue),
// answers as PagerDuty does, and records what it accepted and what it
// refused. It imports nothing of alertflow, so it checks the wire format
// independently of the code that writes it.
package pagerdutytest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// EnqueuePath is the path events are posted to.
const EnqueuePath = "/v2/enqueue"

// ChangePath is the path change events are posted to.
const ChangePath = "/v2/change/enqueue"

// Limits of the Events API v2.
const (
	maxDedupKey = 255
	maxSummary  = 1024
	// maxBody is PagerDuty's limit on the size of an event.
	maxBody = 512 << 10
)

// Event is an event the fake accepted, decoded.
type Event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"`
	DedupKey    string   `json:"dedup_key"`
	Payload     *Payload `json:"payload"`
	Client      string   `json:"client"`
	ClientURL   string   `json:"client_url"`
	Links       []Link   `json:"links"`
	Images      []Image  `json:"images"`
	// Raw is the request body as received.
	Raw json.RawMessage `json:"-"`
}

// Payload is a trigger event's payload.
type Payload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp"`
	Component     string         `json:"component"`
	Group         string         `json:"group"`
	Class         string         `json:"class"`
	CustomDetails map[string]any `json:"custom_details"`
}

// Link is a link attached to an event.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// Image is an image attached to an event.
type Image struct {
	Src  string `json:"src"`
	Href string `json:"href"`
	Alt  string `json:"alt"`
}

// ChangeEvent is a change event the fake accepted, decoded.
type ChangeEvent struct {
	RoutingKey string         `json:"routing_key"`
	Payload    *ChangePayload `json:"payload"`
	Links      []Link         `json:"links"`
	// Raw is the request body as received.
	Raw json.RawMessage `json:"-"`
}

// ChangePayload is a change event's payload.
type ChangePayload struct {
	Summary       string         `json:"summary"`
	Timestamp     string         `json:"timestamp"`
	Source        string         `json:"source"`
	CustomDetails map[string]any `json:"custom_details"`
}

// Option changes how a Server answers.
type Option func(*Server)

// RateLimitOnce makes the server answer the nth request (counting from 1,
// whatever its fate) with 429 Too Many Requests, and with a Retry-After
// header of retryAfter when it is not empty. Every other request is
// answered as usual.
func RateLimitOnce(n int, retryAfter string) Option {
	return func(s *Server) { s.throttleAt, s.retryAfter = n, retryAfter }
}

// AllowViolations stops the server from failing the test at its end for
// requests it refused; for tests that send bad events on purpose and check
// Violations themselves.
func AllowViolations() Option {
	return func(s *Server) { s.allowViolations = true }
}

// Server is a fake PagerDuty Events API v2.
type Server struct {
	srv             *httptest.Server
	throttleAt      int
	retryAfter      string
	allowViolations bool

	mu         sync.Mutex
	requests   int
	throttled  int
	events     []Event
	changes    []ChangeEvent
	violations []string
	// changed is closed and replaced whenever a request is answered.
	changed chan struct{}
}

// New starts a fake PagerDuty on 127.0.0.1 and closes it when the test
// ends. Unless AllowViolations is given, the test fails at its end if the
// server refused any request, so a bad event cannot go unnoticed.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{changed: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(func() {
		s.srv.Close()
		if v := s.Violations(); len(v) > 0 && !s.allowViolations {
			t.Errorf("the fake PagerDuty refused %d request(s): %q", len(v), v)
		}
	})
	return s
}

// URL is the enqueue URL to send events to.
func (s *Server) URL() string { return s.srv.URL + EnqueuePath }

// ChangeURL is the URL to send change events to.
func (s *Server) ChangeURL() string { return s.srv.URL + ChangePath }

// Changes returns the change events accepted (answered 202), in arrival
// order.
func (s *Server) Changes() []ChangeEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.changes)
}

// Client returns a client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Events returns the events accepted (answered 202), in arrival order.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// Violations returns why each refused request was refused, in arrival
// order.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// Requests counts every request received: accepted, refused or throttled.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Throttled counts the requests answered 429.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// WaitFor waits until the server has accepted at least n events and
// returns them, or fails the test after timeout. It wakes on each answer,
// not on a timer.
func (s *Server) WaitFor(t testing.TB, n int, timeout time.Duration) []Event {
	t.Helper()
	return waitFor(t, s, "event", n, timeout, func() []Event { return s.events })
}

// WaitForChanges is WaitFor for change events.
func (s *Server) WaitForChanges(t testing.TB, n int, timeout time.Duration) []ChangeEvent {
	t.Helper()
	return waitFor(t, s, "change event", n, timeout, func() []ChangeEvent { return s.changes })
}

// waitFor waits until accepted, read under the server's lock, holds at
// least n items, and returns a copy of them.
func waitFor[T any](t testing.TB, s *Server, what string, n int, timeout time.Duration, accepted func() []T) []T {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, changed := slices.Clone(accepted()), s.changed
		violations := slices.Clone(s.violations)
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("the fake PagerDuty accepted %d %s(s) in %s, want %d; refused: %q", len(got), what, timeout, n, violations)
			return nil
		}
	}
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	status, header, answer := s.answer(r, body, readErr)
	for k, v := range header {
		w.Header()[k] = v
	}
	writeJSON(w, status, answer)
}

// answer records the request and says how to answer it.
func (s *Server) answer(r *http.Request, body []byte, readErr error) (int, http.Header, map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		close(s.changed)
		s.changed = make(chan struct{})
	}()
	s.requests++
	if s.requests == s.throttleAt {
		s.throttled++
		header := http.Header{}
		if s.retryAfter != "" {
			header.Set("Retry-After", s.retryAfter)
		}
		return http.StatusTooManyRequests, header, map[string]any{
			"status":  "throttle exceeded",
			"message": "Requests for this service are arriving too quickly. Please retry later.",
		}
	}

	var problems []string
	if readErr != nil {
		problems = append(problems, "body unreadable: "+readErr.Error())
	}
	if r.URL.Path == ChangePath {
		return s.answerChange(r, body, problems)
	}
	ev, more := check(r, body)
	problems = append(problems, more...)
	if len(problems) > 0 {
		return s.refuse(r, problems)
	}
	s.events = append(s.events, ev)
	return http.StatusAccepted, nil, map[string]any{
		"status":    "success",
		"message":   "Event processed",
		"dedup_key": ev.DedupKey,
	}
}

// refuse records why a request was refused and answers it as PagerDuty
// answers an invalid event. The caller holds s.mu.
func (s *Server) refuse(r *http.Request, problems []string) (int, http.Header, map[string]any) {
	s.violations = append(s.violations, fmt.Sprintf("%s %s: %v", r.Method, r.URL.Path, problems))
	return http.StatusBadRequest, nil, map[string]any{
		"status":  "invalid event",
		"message": "Event object is invalid",
		"errors":  problems,
	}
}

// answerChange records a change event, or why it was refused, and says
// how to answer it. The caller holds s.mu.
func (s *Server) answerChange(r *http.Request, body []byte, problems []string) (int, http.Header, map[string]any) {
	ce, more := checkChange(r, body)
	problems = append(problems, more...)
	if len(problems) > 0 {
		return s.refuse(r, problems)
	}
	s.changes = append(s.changes, ce)
	return http.StatusAccepted, nil, map[string]any{"status": "success", "message": "Change event processed"}
}

// decode checks what every request to the Events API must be (a POST of
// JSON within the size limit) and decodes its body into into; ok is false
// when the body could not be read as an event at all.
func decode(r *http.Request, body []byte, into any) (problems []string, ok bool) {
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if r.Method != http.MethodPost {
		bad("method is %s, want POST", r.Method)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		bad("Content-Type is %q, want application/json", r.Header.Get("Content-Type"))
	}
	if len(body) > maxBody {
		bad("event is over %d bytes", maxBody)
		return problems, false
	}
	if err := json.Unmarshal(body, into); err != nil {
		bad("JSON parse error: %v", err)
		return problems, false
	}
	return problems, true
}

// checkChange decodes a change event and says what about the request
// breaks the Change Events schema: a routing key, a payload with a summary
// of at most 1024 characters, an ISO 8601 timestamp when one is given, and
// an href on every link.
func checkChange(r *http.Request, body []byte) (ChangeEvent, []string) {
	var ce ChangeEvent
	problems, ok := decode(r, body, &ce)
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if !ok {
		return ChangeEvent{}, problems
	}
	ce.Raw = slices.Clone(body)
	if ce.RoutingKey == "" {
		bad("'routing_key' is missing or blank")
	}
	for i, l := range ce.Links {
		if l.Href == "" {
			bad("'links[%d].href' is missing", i)
		}
	}
	p := ce.Payload
	if p == nil {
		bad("'payload' is missing")
		return ce, problems
	}
	switch n := utf8.RuneCountInString(p.Summary); {
	case n == 0:
		bad("'payload.summary' is missing or blank")
	case n > maxSummary:
		bad("Length of 'payload.summary' is incorrect (should be at most %d characters)", maxSummary)
	}
	if p.Timestamp != "" && !isTimestamp(p.Timestamp) {
		bad("'payload.timestamp' %q is not an ISO 8601 date-time", p.Timestamp)
	}
	return ce, problems
}

// check decodes an event and says what about the request breaks the
// Events v2 schema. It is stricter than PagerDuty in one way: every event
// must carry a dedup_key, as every event alertflow sends does (PagerDuty
// makes one up for a trigger without).
func check(r *http.Request, body []byte) (Event, []string) {
	var ev Event
	problems, ok := decode(r, body, &ev)
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if r.URL.Path != EnqueuePath {
		bad("path is %q, want %q", r.URL.Path, EnqueuePath)
	}
	if !ok {
		return Event{}, problems
	}
	ev.Raw = slices.Clone(body)
	if ev.RoutingKey == "" {
		bad("'routing_key' is missing or blank")
	}
	switch ev.EventAction {
	case "trigger", "acknowledge", "resolve":
	default:
		bad("'event_action' is %q, want trigger, acknowledge or resolve", ev.EventAction)
	}
	switch n := utf8.RuneCountInString(ev.DedupKey); {
	case n == 0:
		bad("'dedup_key' is missing or blank")
	case n > maxDedupKey:
		bad("Length of 'dedup_key' is incorrect (should be less than %d characters)", maxDedupKey+1)
	}
	for i, l := range ev.Links {
		if l.Href == "" {
			bad("'links[%d].href' is missing", i)
		}
	}
	for i, img := range ev.Images {
		if img.Src == "" {
			bad("'images[%d].src' is missing", i)
		}
	}
	if ev.EventAction != "trigger" {
		return ev, problems
	}
	p := ev.Payload
	if p == nil {
		bad("'payload' is missing")
		return ev, problems
	}
	switch n := utf8.RuneCountInString(p.Summary); {
	case n == 0:
		bad("'payload.summary' is missing or blank")
	case n > maxSummary:
		bad("Length of 'payload.summary' is incorrect (should be at most %d characters)", maxSummary)
	}
	if p.Source == "" {
		bad("'payload.source' is missing or blank")
	}
	switch p.Severity {
	case "critical", "error", "warning", "info":
	default:
		bad("'payload.severity' is %q, want critical, error, warning or info", p.Severity)
	}
	if p.Timestamp != "" && !isTimestamp(p.Timestamp) {
		bad("'payload.timestamp' %q is not an ISO 8601 date-time", p.Timestamp)
	}
	return ev, problems
}

// isTimestamp reports whether ts is a date-time as PagerDuty reads it: RFC
// 3339, or the form of its own examples, "2015-07-17T08:42:58.315+0000".
func isTimestamp(ts string) bool {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05.999999999Z0700"} {
		if _, err := time.Parse(layout, ts); err == nil {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
