package pagerdutytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const key = "e93facc04764012d7bfb002500d5d1a6"

// post sends body to path on s and returns the status and decoded answer.
func post(t *testing.T, s *Server, method, path, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, strings.TrimSuffix(s.URL(), EnqueuePath)+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var answer map[string]any
	if err := json.Unmarshal(raw, &answer); err != nil {
		t.Fatalf("answer %q is not JSON: %v", raw, err)
	}
	return resp.StatusCode, answer
}

func trigger(edit func(ev map[string]any)) string {
	ev := map[string]any{
		"routing_key":  key,
		"event_action": "trigger",
		"dedup_key":    "1-master",
		"payload": map[string]any{
			"summary":   "Pipeline #31 failed on gitlab-org/gitlab-test@master",
			"source":    "gitlab-org/gitlab-test",
			"severity":  "critical",
			"timestamp": "2016-08-12T15:26:29Z",
		},
		"links": []any{map[string]any{"href": "http://example.com/p/31", "text": "Pipeline #31"}},
	}
	if edit != nil {
		edit(ev)
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

func payload(ev map[string]any) map[string]any { return ev["payload"].(map[string]any) }

func TestServerAcceptsValidEventsAndRecordsThem(t *testing.T) {
	s := New(t)
	bodies := []string{
		trigger(nil),
		// PagerDuty's own timestamp example is not RFC 3339.
		trigger(func(ev map[string]any) { payload(ev)["timestamp"] = "2015-07-17T08:42:58.315+0000" }),
		`{"routing_key":"` + key + `","event_action":"acknowledge","dedup_key":"1-master"}`,
		`{"routing_key":"short-key","event_action":"resolve","dedup_key":"1-master"}`,
	}
	for _, body := range bodies {
		status, answer := post(t, s, http.MethodPost, EnqueuePath, "application/json; charset=utf-8", body)
		if status != http.StatusAccepted || answer["status"] != "success" || answer["message"] != "Event processed" || answer["dedup_key"] != "1-master" {
			t.Errorf("answer %d %v to %s, want 202 success with the dedup_key", status, answer, body)
		}
	}
	events := s.Events()
	if len(events) != 4 || len(s.Violations()) != 0 || s.Requests() != 4 {
		t.Fatalf("recorded %d events, %d violations, %d requests; want 4, 0, 4", len(events), len(s.Violations()), s.Requests())
	}
	first := events[0]
	if first.RoutingKey != key || first.EventAction != "trigger" || first.Payload == nil || first.Payload.Severity != "critical" ||
		len(first.Links) != 1 || string(first.Raw) != bodies[0] {
		t.Errorf("first event = %+v", first)
	}
	if events[2].EventAction != "acknowledge" || events[2].Payload != nil || events[3].RoutingKey != "short-key" {
		t.Errorf("later events = %+v, %+v", events[2], events[3])
	}
}

func TestServerRefusesEventsOutsideTheSchema(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		says        string
	}{
		{"GET", http.MethodGet, EnqueuePath, "application/json", trigger(nil), "method is GET"},
		{"another path", http.MethodPost, "/v1/enqueue", "application/json", trigger(nil), "path is"},
		{"no JSON content type", http.MethodPost, EnqueuePath, "text/plain", trigger(nil), "Content-Type"},
		{"not JSON", http.MethodPost, EnqueuePath, "application/json", "{", "JSON parse error"},
		{"no routing key", http.MethodPost, EnqueuePath, "application/json", trigger(func(ev map[string]any) { delete(ev, "routing_key") }), "'routing_key'"},
		{"an unknown action", http.MethodPost, EnqueuePath, "application/json", trigger(func(ev map[string]any) { ev["event_action"] = "escalate" }), "'event_action'"},
		{"no dedup key", http.MethodPost, EnqueuePath, "application/json", trigger(func(ev map[string]any) { ev["dedup_key"] = "" }), "'dedup_key'"},
		{"a dedup key of 256 characters", http.MethodPost, EnqueuePath, "application/json", trigger(func(ev map[string]any) { ev["dedup_key"] = strings.Repeat("k", 256) }), "Length of 'dedup_key'"},
		{"a trigger without payload", http.MethodPost, EnqueuePath, "application/json", trigger(func(ev map[string]any) { delete(ev, "payload") }), "'payload' is missing"},
		{"an empty summary", http.MethodPost, EnqueuePath, "application/json", trigger(func(ev map[string]any) { payload(ev)["summary"] = "" }), "'payload.summary'"},
		{"a summary of 1025 characters", http.MethodPost, EnqueuePath, "application/json", trigger(func(ev map[string]any) { payload(ev)["summary"] = strings.Repeat("ü", 1025) }), "Length of 'payload.summary'"},
		{"no source", http.MethodPost, EnqueuePath, "application/json", trigger(func(ev map[string]any) { delete(payload(ev), "source") }), "'payload.source'"},
		{"an unknown severity", http.MethodPost, EnqueuePath, "application/json", trigger(func(ev map[string]any) { payload(ev)["severity"] = "HIGH" }), "'payload.severity'"},
		{"a timestamp that is no date", http.MethodPost, EnqueuePath, "application/json", trigger(func(ev map[string]any) { payload(ev)["timestamp"] = "yesterday" }), "'payload.timestamp'"},
		{"a link without href", http.MethodPost, EnqueuePath, "application/json", trigger(func(ev map[string]any) { ev["links"] = []any{map[string]any{"text": "x"}} }), "'links[0].href'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, AllowViolations())
			status, answer := post(t, s, tt.method, tt.path, tt.contentType, tt.body)
			if status != http.StatusBadRequest || answer["status"] != "invalid event" || !strings.Contains(fmt.Sprint(answer["errors"]), tt.says) {
				t.Errorf("answer %d %v, want 400 invalid event with an error saying %q", status, answer, tt.says)
			}
			v := s.Violations()
			if len(v) != 1 || !strings.Contains(v[0], tt.says) || len(s.Events()) != 0 {
				t.Errorf("violations %q and %d event(s), want one violation saying %q and no event", v, len(s.Events()), tt.says)
			}
		})
	}
}

func TestServerThrottlesTheNthRequestOnce(t *testing.T) {
	s := New(t, RateLimitOnce(2, ""))
	var statuses []int
	for range 3 {
		status, _ := post(t, s, http.MethodPost, EnqueuePath, "application/json", trigger(nil))
		statuses = append(statuses, status)
	}
	if fmt.Sprint(statuses) != "[202 429 202]" || s.Throttled() != 1 || len(s.Events()) != 2 {
		t.Errorf("statuses %v, throttled %d, accepted %d; want [202 429 202], 1, 2", statuses, s.Throttled(), len(s.Events()))
	}

	withDelay := New(t, RateLimitOnce(1, "7"))
	resp, err := withDelay.Client().Post(withDelay.URL(), "application/json", strings.NewReader(trigger(nil)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" {
		t.Errorf("answer %d with Retry-After %q, want 429 with 7", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// recorder is a testing.TB that keeps what the server reports instead of
// failing the test that runs it.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	failures []string
	cleanups []func()
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *recorder) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func TestServerFailsTheTestForARefusedRequestUnlessAllowed(t *testing.T) {
	for _, allow := range []bool{false, true} {
		rec := &recorder{TB: t}
		var opts []Option
		if allow {
			opts = append(opts, AllowViolations())
		}
		s := New(rec, opts...)
		post(t, s, http.MethodPost, EnqueuePath, "application/json", "{")
		rec.cleanup()
		if failed := len(rec.failures) > 0; failed == allow {
			t.Errorf("AllowViolations %v: the test failed %v (%q), want %v", allow, failed, rec.failures, !allow)
		}
	}
}

func TestWaitForWakesOnEachEventAndFailsAtTheDeadline(t *testing.T) {
	s := New(t)
	waiting := &recorder{TB: t} // t must not fail from another goroutine
	done := make(chan []Event)
	go func() { done <- s.WaitFor(waiting, 2, 10*time.Second) }()
	for range 2 {
		post(t, s, http.MethodPost, EnqueuePath, "application/json", trigger(nil))
	}
	if got := <-done; len(got) != 2 || len(waiting.failures) != 0 {
		t.Errorf("WaitFor returned %d events and reported %q, want 2 and nothing", len(got), waiting.failures)
	}

	rec := &recorder{TB: t}
	if got := s.WaitFor(rec, 3, 10*time.Millisecond); got != nil || len(rec.failures) != 1 || !strings.Contains(rec.failures[0], "accepted 2 event(s)") {
		t.Errorf("WaitFor past the deadline returned %v and reported %q, want nil and one failure", got, rec.failures)
	}
}
