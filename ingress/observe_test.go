package ingress

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.temporal.io/api/serviceerror"
)

func TestEveryWebhookOutcomeIsCounted(t *testing.T) {
	docs := readPayload(t, "pipeline-docs-example.json")
	tests := []struct {
		outcome string
		send    func(h *harness)
	}{
		{OutcomeSignaled, func(h *harness) {
			h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "failed"))
		}},
		{OutcomeIgnored, func(h *harness) {
			h.post(t, "/webhooks/gitlab?token="+testToken, map[string]string{"X-Gitlab-Event": "Issue Hook"}, []byte(`{}`))
		}},
		{OutcomeNone, func(h *harness) {
			h.temporal.signalErr = serviceerror.NewNotFound("gone")
			h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "success"))
		}},
		{OutcomeUnauthorized, func(h *harness) { h.post(t, "/webhooks/gitlab?token=nope", pipelineHeader, docs) }},
		{OutcomeBadRequest, func(h *harness) { h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, []byte("{")) }},
		{OutcomeTooLarge, func(h *harness) {
			h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, bytes.Repeat([]byte(" "), 9<<10))
		}},
		{OutcomeUnavailable, func(h *harness) {
			h.temporal.startErr = serviceerror.NewUnavailable("down")
			h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "failed"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.outcome, func(t *testing.T) {
			h := newHarness(t, 8<<10)
			tt.send(h)
			for _, o := range []string{OutcomeSignaled, OutcomeIgnored, OutcomeNone, OutcomeUnauthorized, OutcomeBadRequest, OutcomeTooLarge, OutcomeUnavailable} {
				want := 0.0
				if o == tt.outcome {
					want = 1
				}
				if got := testutil.ToFloat64(h.server.metrics.webhooks.WithLabelValues(o)); got != want {
					t.Errorf("alertflow_webhooks_total{outcome=%q} = %v, want %v", o, got, want)
				}
			}
			if got := testutil.CollectAndCount(h.server.metrics.latency); got != 1 {
				t.Errorf("latency histogram has %d series, want 1", got)
			}
			wantErrors := 0.0
			if tt.outcome == OutcomeUnavailable {
				wantErrors = 1
			}
			if got := testutil.ToFloat64(h.server.metrics.temporalErrors.WithLabelValues("signal_with_start")); got != wantErrors {
				t.Errorf("temporal errors %v, want %v", got, wantErrors)
			}
		})
	}
}

func TestMetricsAreServedInPrometheusFormat(t *testing.T) {
	h := newHarness(t, 0)
	h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "failed"))
	rec := httptest.NewRecorder()
	h.server.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`alertflow_webhooks_total{outcome="signaled"} 1`,
		`alertflow_webhooks_total{outcome="unavailable"} 0`,
		`alertflow_webhook_duration_seconds_bucket{outcome="signaled",le="0.0005"}`,
		"# TYPE alertflow_temporal_errors_total counter",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, testToken) || strings.Contains(body, "master") {
		t.Error("/metrics carries request data in its labels")
	}
}

func TestReadyzFollowsTemporalsHealth(t *testing.T) {
	h := newHarness(t, 0)
	get := func() int {
		rec := httptest.NewRecorder()
		h.server.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code
	}
	if code := get(); code != http.StatusOK {
		t.Fatalf("readyz %d with Temporal healthy", code)
	}
	h.temporal.healthErr = errors.New("connection refused")
	if code := get(); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz %d with Temporal down", code)
	}
	h.temporal.healthErr = nil
	if code := get(); code != http.StatusOK {
		t.Fatalf("readyz %d once Temporal is back", code)
	}
}

func TestRequestIDsAreEchoedOrMadeUp(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		want    string
	}{
		{"a caller's X-Request-ID is kept", map[string]string{"X-Request-ID": "req-42"}, "req-42"},
		{"GitLab's delivery UUID is used", map[string]string{"X-Gitlab-Event-UUID": "0b1e3c52-1d2f-4a7b-9c55-0a9a2b0b7c11"}, "0b1e3c52-1d2f-4a7b-9c55-0a9a2b0b7c11"},
		{"an ID with odd characters is replaced", map[string]string{"X-Request-ID": "a b\"c"}, ""},
		{"no ID gets one", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 0)
			headers := map[string]string{"X-Gitlab-Event": "Pipeline Hook"}
			for k, v := range tt.headers {
				headers[k] = v
			}
			rec, _ := h.post(t, "/webhooks/gitlab?token="+testToken, headers, withStatus(t, "failed"))
			got := rec.Header().Get("X-Request-ID")
			if tt.want != "" && got != tt.want || tt.want == "" && len(got) != 36 {
				t.Fatalf("X-Request-ID %q, want %q", got, tt.want)
			}
			if !strings.Contains(h.logs.String(), `"request_id":"`+got+`"`) {
				t.Fatalf("the log line lacks the request id: %s", h.logs.String())
			}
		})
	}
}

func TestNoSecretReachesTheLogs(t *testing.T) {
	h := newHarness(t, 0)
	h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "failed"))
	h.post(t, "/webhooks/gitlab?token="+testToken+"x", pipelineHeader, withStatus(t, "failed"))
	h.post(t, "/webhooks/gitlab", map[string]string{"X-Gitlab-Token": testToken}, withStatus(t, "failed"))
	h.api(t, http.MethodGet, "/api/v1/alerts", testAPIToken, "")
	h.api(t, http.MethodGet, "/api/v1/alerts", testAPIToken+"x", "")
	h.temporal.startErr = serviceerror.NewUnavailable("down")
	h.temporal.listErr = serviceerror.NewUnavailable("down")
	h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "failed"))
	h.api(t, http.MethodGet, "/api/v1/alerts", testAPIToken, "")
	logs := h.logs.String()
	if strings.Count(logs, `"msg":"http request"`) != 7 {
		t.Fatalf("want one access log line per request:\n%s", logs)
	}
	for _, secret := range []string{testToken, testAPIToken} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret was logged:\n%s", logs)
		}
	}
}
