package ingress

import (
	"errors"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alertflow/alertflow/workflows"
)

func scheduledWithStatus(t *testing.T, source, status string) []byte {
	t.Helper()
	return edit(t, withStatus(t, status), func(m map[string]any) { attrs(m)["source"] = source })
}

func TestAFinishedScheduledPipelineIsToldToTheRefsMonitorsAfterItsAlert(t *testing.T) {
	for _, tt := range []struct {
		source, status string
		told           bool
	}{
		{"schedule", "success", true},
		{"schedule", "failed", true},
		{"schedule", "canceled", true},
		{"schedule", "running", false},
		{"schedule", "skipped", false},
		{"push", "success", false},
	} {
		h := newHarness(t, 0)
		rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, scheduledWithStatus(t, tt.source, tt.status))
		if rec.Code != http.StatusAccepted {
			t.Fatalf("%s %s: %d %v", tt.source, tt.status, rec.Code, answer)
		}
		runs := h.temporal.monitorRuns
		if told := len(runs) == 1; told != tt.told || len(runs) > 1 {
			t.Errorf("%s %s: monitors told %+v, want told %v", tt.source, tt.status, runs, tt.told)
			continue
		}
		if tt.told && (runs[0].id != workflows.MonitorID("1-master") || runs[0].signal != workflows.SignalMonitorRun ||
			runs[0].run.Status != tt.status || runs[0].run.PipelineID != 31 || runs[0].run.FinishedAt.IsZero()) {
			t.Errorf("%s %s: told %+v", tt.source, tt.status, runs[0])
		}
	}
}

func TestAMonitorThatCannotBeToldLeavesTheAlertsAnswerAlone(t *testing.T) {
	h := newHarness(t, 0)
	h.temporal.monitorErr = errors.New("unavailable")
	rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, scheduledWithStatus(t, "schedule", "failed"))
	if rec.Code != http.StatusAccepted || answer["action"] != "signaled" || len(h.temporal.starts) != 1 {
		t.Fatalf("%d %v, starts %d: the alert took the failure, and its answer stands", rec.Code, answer, len(h.temporal.starts))
	}
	if got := testutil.ToFloat64(h.server.metrics.temporalErrors.WithLabelValues("signal_monitor")); got != 1 {
		t.Errorf("signal_monitor errors counted %v, want 1", got)
	}
}
