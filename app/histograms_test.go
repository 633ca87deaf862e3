package app

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/alertflow/alertflow/workflows"
)

// The alert histograms go through the same SDK metrics handler as the
// workflow's, tagged as the SDK tags a workflow's metrics; /metrics must
// show them under their documented names, with the severity label only and
// the on-call buckets.
func TestMetricsExposeTheAlertHistogramsByNameWithTheSeverityLabelOnly(t *testing.T) {
	reg, handler, err := newMetrics(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// The tags the SDK gives a workflow's metrics handler.
	wf := handler.WithTags(map[string]string{"namespace": "default", "task_queue": "alertflow", "workflow_type": "AlertWorkflow"})
	wf.WithTags(map[string]string{workflows.MetricSeverityTag: "HIGH"}).Timer(workflows.MetricTimeToAcknowledge).Record(90 * time.Second)
	wf.WithTags(map[string]string{workflows.MetricSeverityTag: "MEDIUM"}).Timer(workflows.MetricTimeToResolve).Record(3 * time.Hour)

	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	var lines []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "alertflow_time_to_") {
			lines = append(lines, l)
		}
	}
	t.Logf("exposed:\n%s", strings.Join(lines, "\n"))
	want := []string{
		`alertflow_time_to_acknowledge_seconds_count{severity="HIGH"} 1`,
		`alertflow_time_to_acknowledge_seconds_sum{severity="HIGH"} 90`,
		`alertflow_time_to_acknowledge_seconds_bucket{severity="HIGH",le="60"} 0`,
		`alertflow_time_to_acknowledge_seconds_bucket{severity="HIGH",le="120"} 1`,
		`alertflow_time_to_acknowledge_seconds_bucket{severity="HIGH",le="604800"} 1`,
		`alertflow_time_to_resolve_seconds_count{severity="MEDIUM"} 1`,
		`alertflow_time_to_resolve_seconds_sum{severity="MEDIUM"} 10800`,
		`alertflow_time_to_resolve_seconds_bucket{severity="MEDIUM",le="7200"} 0`,
		`alertflow_time_to_resolve_seconds_bucket{severity="MEDIUM",le="14400"} 1`,
	}
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("missing %s", w)
		}
	}
	// Nothing but these two names, and no label but severity (and le).
	shape := regexp.MustCompile(`^alertflow_time_to_(acknowledge|resolve)_seconds_(bucket|sum|count)\{severity="[A-Z]+"(,le="[^"]+")?\} `)
	for _, l := range lines {
		if !shape.MatchString(l) {
			t.Errorf("unexpected series %s", l)
		}
	}
	buckets := 0
	for _, l := range lines {
		if strings.HasPrefix(l, `alertflow_time_to_acknowledge_seconds_bucket`) {
			buckets++
		}
	}
	if buckets != len(workflows.MetricBuckets)+1 { // and +Inf
		t.Errorf("%d buckets, want %d and +Inf", buckets, len(workflows.MetricBuckets))
	}
}
