// Package activities holds alertflow's side effects: the notifications an
// alert sends when its lifecycle moves. Each sink is its own activity so
// that a failing sink is retried without re-sending through the others.
package activities

import (
	"context"
	"log/slog"

	"github.com/alertflow/alertflow/alert"
)

// Kind is the lifecycle transition a notification announces.
type Kind string

// Notification kinds.
const (
	KindOpened          Kind = "opened"
	KindSeverityChanged Kind = "severity_changed"
	KindResolved        Kind = "resolved"
)

// Notification is what every sink receives.
type Notification struct {
	// ID is stable across activity retries so receivers can dedupe.
	ID    string      `json:"id"`
	Kind  Kind        `json:"kind"`
	Title string      `json:"title"`
	Alert alert.State `json:"alert"`
}

// LogSink writes notifications to the service log. It is always on, so that
// every transition leaves a trace even when no other sink is configured.
type LogSink struct {
	logger *slog.Logger
}

// NewLogSink returns a log sink writing to logger.
func NewLogSink(logger *slog.Logger) *LogSink {
	return &LogSink{logger: logger}
}

// NotifyLog logs one notification.
func (s *LogSink) NotifyLog(ctx context.Context, n Notification) error {
	a := n.Alert
	attrs := []any{
		"notification_id", n.ID,
		"kind", n.Kind,
		"alert_id", a.ID,
		"status", a.Status,
		"severity", a.Severity,
	}
	if a.Pipeline != nil {
		attrs = append(attrs, "pipeline_id", a.Pipeline.ID, "pipeline_url", a.Pipeline.URL)
	}
	if jobs := a.FailedJobsLine(); jobs != "" {
		attrs = append(attrs, "failed_jobs", jobs)
	}
	s.logger.InfoContext(ctx, n.Title, attrs...)
	return nil
}
