package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/alert"
)

// Histograms of how long people take with the alerts they were told of.
// They are recorded as SDK timers (seconds), so the Prometheus exporter
// names them with the "_seconds" suffix: alertflow_time_to_acknowledge_seconds
// and alertflow_time_to_resolve_seconds.
const (
	// MetricTimeToAcknowledge is first acknowledge − OpenedAt.
	MetricTimeToAcknowledge = "alertflow_time_to_acknowledge"
	// MetricTimeToResolve is ResolvedAt − OpenedAt.
	MetricTimeToResolve = "alertflow_time_to_resolve"
	// MetricSeverityTag is the one label the histograms keep: the alert's
	// severity at that moment. Project and ref would make a series per
	// branch.
	MetricSeverityTag = "severity"
)

// MetricBuckets are the histograms' bucket bounds in seconds, from 30 s
// to 7 days: on-call times range from a page acknowledged at once to a
// branch nobody fixes for a week.
var MetricBuckets = []float64{
	30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 345600, 604800,
}

// measure records how long the alert took to be acknowledged or resolved,
// when out is that transition of an alert people were told of. The
// workflow's metrics handler records nothing while the run replays, and
// recording issues no command, so recorded histories replay unchanged.
func (r *run) measure(ctx workflow.Context, out alert.Outcome) {
	if r.st.Quiet || r.st.OpenedAt.IsZero() {
		return
	}
	var name string
	var at time.Time
	switch out {
	case alert.OutcomeAcknowledged:
		name, at = MetricTimeToAcknowledge, r.st.AcknowledgedAt
	case alert.OutcomeResolved, alert.OutcomeStable:
		// A flapping alert that turned stable resolved too.
		name, at = MetricTimeToResolve, r.st.ResolvedAt
	default:
		return
	}
	workflow.GetMetricsHandler(ctx).
		WithTags(map[string]string{MetricSeverityTag: string(r.st.Severity)}).
		Timer(name).
		Record(max(at.Sub(r.st.OpenedAt), 0))
}
