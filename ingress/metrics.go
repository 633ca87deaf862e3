package ingress

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a webhook, the values of the outcome label.
const (
	OutcomeSignaled     = "signaled"
	OutcomeIgnored      = "ignored"
	OutcomeNone         = "none"
	OutcomeUnauthorized = "unauthorized"
	OutcomeBadRequest   = "bad_request"
	OutcomeTooLarge     = "too_large"
	OutcomeUnavailable  = "unavailable"
	// OutcomeTooFast: a delivery to an alert that receives more than its
	// rate allows, answered 429.
	OutcomeTooFast = "too_fast"
	// OutcomeForbidden: a delivery of a scoped source about a project
	// outside its scope, answered 403 (scope.go).
	OutcomeForbidden = "forbidden"
)

// Metrics are the intake's Prometheus metrics. Labels hold outcomes and
// operation names only, never tokens, refs or anything from a request.
type Metrics struct {
	webhooks       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	temporalErrors *prometheus.CounterVec
	slackActions   *prometheus.CounterVec
}

// NewMetrics creates the intake's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertflow_webhooks_total",
			Help: "GitLab webhooks received, by outcome.",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "alertflow_webhook_duration_seconds",
			Help: "Time from receiving a GitLab webhook to answering it, by outcome.",
			// From sub-millisecond ignored events to GitLab's 10 s timeout.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"outcome"}),
		temporalErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertflow_temporal_errors_total",
			Help: "Temporal calls of the intake and the REST API that failed, by operation.",
		}, []string{"operation"}),
		slackActions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alertflow_slack_actions_total",
			Help: "Requests from the Slack app (buttons, /alertflow), by outcome: applied, rejected (the alert could not take the action), refused (not signed by Slack), unavailable.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.webhooks, m.latency, m.temporalErrors, m.slackActions)
	for _, o := range []string{"applied", "rejected", "refused", "unavailable"} {
		m.slackActions.WithLabelValues(o)
	}
	// Every outcome is exported from the start, so a rate() over a
	// counter that has not moved yet reads 0 rather than nothing.
	for _, o := range []string{OutcomeSignaled, OutcomeIgnored, OutcomeNone, OutcomeUnauthorized, OutcomeBadRequest, OutcomeTooLarge, OutcomeUnavailable, OutcomeBusy, OutcomeTooFast, OutcomeForbidden} {
		m.webhooks.WithLabelValues(o)
	}
	for _, op := range []string{"signal_with_start", "signal", "list", "query", "update_acknowledge", "update_resolve", "describe_alert", "signal_monitor", "start_change"} {
		m.temporalErrors.WithLabelValues(op)
	}
	return m
}

func (m *Metrics) webhook(outcome string, seconds float64) {
	m.webhooks.WithLabelValues(outcome).Inc()
	m.latency.WithLabelValues(outcome).Observe(seconds)
}

func (m *Metrics) slack(outcome string) {
	m.slackActions.WithLabelValues(outcome).Inc()
}

func (m *Metrics) temporalError(operation string) {
	m.temporalErrors.WithLabelValues(operation).Inc()
}
