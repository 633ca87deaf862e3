// Package activities runs alertflow's notifications as Temporal
// activities: a thin adapter over the notify package that registers one
// activity per receiver, so that a failing receiver is retried without
// re-sending through the others, and turns a delivery's outcome into the
// Temporal error that stops, delays or leaves to the retry policy the next
// attempt. The activity names and the JSON shape of their input,
// notify.Notification, are recorded in workflow histories and never change.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/alertflow/alertflow/notify"
)

// Activity names of the Sinks methods, as the worker registers them, so the
// workflow can schedule them by name.
const (
	ActivityNotifyLog     = "NotifyLog"
	ActivityNotifyWebhook = "NotifyWebhook"
	ActivityNotifySlack   = "NotifySlack"
)

// Sink names, as they appear in logs.
const (
	SinkLog     = "log"
	SinkWebhook = "webhook"
	SinkSlack   = "slack"
)

// Temporal error types of failed deliveries, so that the workflow history
// and the Web UI say why a notification stopped or waited.
const (
	// ErrTypeRejected: the receiver refused the notification for good.
	ErrTypeRejected = "NotificationRejected"
	// ErrTypeRetryAfter: the receiver asked to be retried later.
	ErrTypeRetryAfter = "NotificationRetryAfter"
)

// Sinks are the notification activities, one per sink, so that a failing
// sink is retried without re-sending through the others. The workflow runs
// NotifyLog as a local activity, in the workflow task that made the
// transition, and schedules activities only for the remote sinks it names:
// a sink that is not configured costs the server nothing. (Alerts started
// before that scheduled all three whatever the configuration; a sink that is
// not configured still succeeds at once for them.)
type Sinks struct {
	logger  *slog.Logger
	webhook notify.Notifier
	slack   notify.Notifier
	// routing is what routed notifications (RevisionRouted on) go
	// through; its zero value routes every alert to the webhook and Slack
	// above.
	routing Routing
	// silences, when set, are checked before each routed notification.
	silences Silences
	recheck  Recheck
}

// NewSinks returns the notification activities. A nil webhook or slack
// means that sink is not configured. Pass an untyped nil: a nil pointer in
// a notify.Notifier interface is not nil and would be called. A nil logger
// means slog.Default().
func NewSinks(logger *slog.Logger, webhook, slack notify.Notifier) *Sinks {
	if logger == nil {
		logger = slog.Default()
	}
	return &Sinks{logger: logger, webhook: webhook, slack: slack}
}

// NotifyLog writes the notification to the service log and returns the
// activity names of the remote sinks this worker has configured, for the
// workflow to schedule. It is always on, so that every transition leaves a
// trace even when no other sink is configured. Its result is recorded in
// the history, so a worker restarted with another configuration replays
// what was decided before.
func (s *Sinks) NotifyLog(ctx context.Context, n notify.Notification) ([]string, error) {
	s.log(ctx, n)
	return s.remote(), nil
}

// log writes one notification to the service log.
func (s *Sinks) log(ctx context.Context, n notify.Notification) {
	a := n.Alert
	attrs := []any{
		"notification_id", n.ID,
		"kind", n.Kind,
		"alert_id", a.ID,
		"status", a.Status,
		"severity", a.Severity,
	}
	if n.Actor != "" {
		attrs = append(attrs, "actor", n.Actor)
	}
	if n.Note != "" {
		attrs = append(attrs, "note", n.Note)
	}
	if a.Pipeline != nil {
		attrs = append(attrs, "pipeline_id", a.Pipeline.ID, "pipeline_url", a.Pipeline.URL)
	}
	if jobs := a.FailedJobsLine(); jobs != "" {
		attrs = append(attrs, "failed_jobs", jobs)
	}
	s.logger.InfoContext(ctx, n.Title, attrs...)
}

// remote names the activities of the configured remote sinks, in a fixed
// order.
func (s *Sinks) remote() []string {
	var names []string
	if s.webhook != nil {
		names = append(names, ActivityNotifyWebhook)
	}
	if s.slack != nil {
		names = append(names, ActivityNotifySlack)
	}
	return names
}

// NotifyWebhook posts the notification to the generic webhook, if one is
// configured.
func (s *Sinks) NotifyWebhook(ctx context.Context, n notify.Notification) error {
	return s.deliver(ctx, SinkWebhook, s.webhook, n)
}

// NotifySlack posts the notification to the Slack incoming webhook, if one
// is configured.
func (s *Sinks) NotifySlack(ctx context.Context, n notify.Notification) error {
	return s.deliver(ctx, SinkSlack, s.slack, n)
}

// deliver runs one attempt and turns a DeliveryError into what Temporal's
// retry machinery understands: a refusal stops the retries, a Retry-After
// sets the next attempt's delay, anything else is retried by the policy.
func (s *Sinks) deliver(ctx context.Context, sink string, to notify.Notifier, n notify.Notification) error {
	_, err := s.deliverMessage(ctx, sink, to, n, "")
	return err
}

// deliverMessage delivers n; a Messenger is given the alert's message and
// answers it, anything else answers "". KindUpdated reaches Messengers
// only: it pages nobody and has nothing to say to the others.
func (s *Sinks) deliverMessage(ctx context.Context, sink string, to notify.Notifier, n notify.Notification, message string) (string, error) {
	if to == nil {
		return "", nil
	}
	var err error
	if m, ok := to.(notify.Messenger); ok {
		message, err = m.NotifyMessage(ctx, n, message)
	} else if n.Kind == notify.KindUpdated {
		return "", nil
	} else {
		message, err = "", to.Notify(ctx, n)
	}
	if err == nil {
		s.logger.DebugContext(ctx, "Notification delivered", s.attrs(ctx, sink, n)...)
		return message, nil
	}
	// The failure Temporal keeps names the receiver by its configured
	// name: the notifier's own error names no host.
	err = fmt.Errorf("notify %s: %w", sink, err)
	return "", s.failed(ctx, "Notification delivery failed", err, s.attrs(ctx, sink, n))
}

// failed logs a delivery that failed, as msg with attrs, and turns its
// error into what Temporal's retry machinery understands: a refusal stops
// the retries, a Retry-After sets the next attempt's delay, anything else
// is left to the retry policy.
func (s *Sinks) failed(ctx context.Context, msg string, err error, attrs []any) error {
	attrs = append(attrs, "error", err.Error())
	de, ok := errors.AsType[*notify.DeliveryError](err)
	switch {
	case ok && de.Permanent:
		s.logger.ErrorContext(ctx, msg, append(attrs, "retryable", false)...)
		// No cause: its message is already in err's, and every error in
		// the chain would be stored in the history once more.
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeRejected, nil)
	case ok && de.After > 0:
		s.logger.WarnContext(ctx, msg, append(attrs, "retryable", true, "retry_after", de.After)...)
		return temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypeRetryAfter,
			temporal.ApplicationErrorOptions{NextRetryDelay: de.After})
	default:
		s.logger.WarnContext(ctx, msg, append(attrs, "retryable", true)...)
		return err
	}
}

func (s *Sinks) attrs(ctx context.Context, sink string, n notify.Notification) []any {
	attrs := []any{"sink", sink, "notification_id", n.ID, "kind", n.Kind, "alert_id", n.Alert.ID}
	// Outside an activity (a direct call in a test) there is no attempt
	// number, and activity.GetInfo would panic.
	if activity.IsActivity(ctx) {
		attrs = append(attrs, "attempt", activity.GetInfo(ctx).Attempt)
	}
	return attrs
}
