package pagerdutytest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func change(edit func(ev map[string]any)) string {
	ev := map[string]any{
		"routing_key": key,
		"payload": map[string]any{
			"summary":        "Pipeline #31 succeeded on gitlab-org/gitlab-test@master: Fix the build",
			"source":         "gitlab-org/gitlab-test",
			"timestamp":      "2016-08-12T15:26:29Z",
			"custom_details": map[string]any{"pipeline_id": 31},
		},
		"links": []any{map[string]any{"href": "http://example.com/p/31", "text": "Pipeline #31"}},
	}
	if edit != nil {
		edit(ev)
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

func TestServerAcceptsChangeEventsApartFromAlertEvents(t *testing.T) {
	s := New(t)
	if !strings.HasSuffix(s.ChangeURL(), ChangePath) {
		t.Fatalf("ChangeURL %q does not end in %s", s.ChangeURL(), ChangePath)
	}
	status, answer := post(t, s, http.MethodPost, ChangePath, "application/json", change(nil))
	if status != http.StatusAccepted || answer["status"] != "success" || answer["message"] != "Change event processed" {
		t.Fatalf("answered %d %v", status, answer)
	}
	got := s.Changes()
	if len(got) != 1 || len(s.Events()) != 0 {
		t.Fatalf("recorded %d change(s) and %d event(s), want one change", len(got), len(s.Events()))
	}
	ce := got[0]
	if ce.RoutingKey != key || ce.Payload.Summary == "" || ce.Payload.CustomDetails["pipeline_id"] != 31.0 || len(ce.Links) != 1 || len(ce.Raw) == 0 {
		t.Errorf("recorded %+v", ce)
	}
	if w := s.WaitForChanges(t, 1, time.Second); len(w) != 1 {
		t.Errorf("WaitForChanges returned %d", len(w))
	}
}

func TestServerRefusesChangeEventsOutsideTheSchema(t *testing.T) {
	tests := []struct{ name, body, says string }{
		{"no routing key", change(func(ev map[string]any) { delete(ev, "routing_key") }), "'routing_key' is missing"},
		{"no payload", change(func(ev map[string]any) { delete(ev, "payload") }), "'payload' is missing"},
		{"no summary", change(func(ev map[string]any) { delete(payload(ev), "summary") }), "'payload.summary' is missing"},
		{"a summary too long", change(func(ev map[string]any) { payload(ev)["summary"] = strings.Repeat("é", 1025) }), "Length of 'payload.summary'"},
		{"a bad timestamp", change(func(ev map[string]any) { payload(ev)["timestamp"] = "yesterday" }), "'payload.timestamp'"},
		{"a link without href", change(func(ev map[string]any) { ev["links"] = []any{map[string]any{"text": "x"}} }), "'links[0].href' is missing"},
		{"not JSON", "{", "JSON parse error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, AllowViolations())
			status, answer := post(t, s, http.MethodPost, ChangePath, "application/json", tt.body)
			if status != http.StatusBadRequest || answer["status"] != "invalid event" {
				t.Fatalf("answered %d %v, want 400", status, answer)
			}
			if v := s.Violations(); len(v) != 1 || !strings.Contains(v[0], tt.says) || len(s.Changes()) != 0 {
				t.Errorf("violations %q, want one saying %q and nothing recorded", v, tt.says)
			}
		})
	}
}

func TestServerThrottlesChangeEventsInTheSameCount(t *testing.T) {
	s := New(t, RateLimitOnce(1, "2"))
	if status, _ := post(t, s, http.MethodPost, ChangePath, "application/json", change(nil)); status != http.StatusTooManyRequests {
		t.Fatalf("first change answered %d, want 429", status)
	}
	if status, _ := post(t, s, http.MethodPost, ChangePath, "application/json", change(nil)); status != http.StatusAccepted {
		t.Fatalf("second change answered %d, want 202", status)
	}
	if s.Throttled() != 1 || len(s.Changes()) != 1 {
		t.Errorf("throttled %d, accepted %d; want 1 and 1", s.Throttled(), len(s.Changes()))
	}
}
