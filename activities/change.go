package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/route"
)

// Activity names of change events: a successful pipeline on a project's
// default branch, told to the PagerDuty services that asked for it
// (workflows.ChangeWorkflow).
const (
	// ActivityRouteChange names the targets of a change event. It runs as
	// a local activity, so its answer is recorded in the history and a
	// replay takes the same path whatever the routing file says by then.
	ActivityRouteChange = "RouteChange"
	// ActivitySendChange sends one change event to one target.
	ActivitySendChange = "SendChange"
)

// ErrTypeNoChangeEvents: a change event's target is not configured, or
// not for change events, on this worker; retrying cannot change that.
const ErrTypeNoChangeEvents = "ChangeEventsNotConfigured"

// ChangeNotifier sends change events: *pagerduty.Notifier is one.
type ChangeNotifier interface {
	NotifyChange(ctx context.Context, ev alert.Event) error
}

// ChangeDelivery is the input of ActivitySendChange. Only names travel in
// the history: the worker looks the receiver up by its name.
type ChangeDelivery struct {
	Target Target      `json:"target"`
	Event  alert.Event `json:"event"`
}

// RouteChange names the targets of ev's change event: the PagerDuty
// integration of each receiver with change events on that the routing
// tree selects for ev's branch, in route order. A change event has no
// severity, so a route that matches on one never takes it.
func (s *Sinks) RouteChange(ctx context.Context, ev alert.Event) ([]Target, error) {
	r := s.currentRouting()
	if len(r.Changes) == 0 {
		return nil, nil
	}
	var targets []Target
	for _, name := range r.Route(changeLabels(ev)) {
		if r.Changes[name] != nil {
			targets = append(targets, Target{Receiver: name, Integration: IntegrationPagerDuty})
		}
	}
	s.logger.InfoContext(ctx, "Change event routed", append(changeAttrs(ctx, ev), "targets", len(targets))...)
	return targets, nil
}

// changeLabels are what a change event's routing looks at: the labels of
// the branch (project, ref, tag, source, protected_ref, default branch)
// and no severity.
func changeLabels(ev alert.Event) route.Labels {
	return route.Labels{
		ProjectID:     ev.Project.ID,
		Project:       ev.Project.Path,
		Ref:           ev.Pipeline.Ref,
		Tag:           ev.Pipeline.Tag,
		DefaultBranch: ev.Project.DefaultBranch,
		Source:        ev.Pipeline.Source,
		Protected:     ev.Pipeline.Protected,
	}
}

// SendChange sends d's change event to its target. A target this worker
// does not have, or not with change events on, fails for good: the file
// changed since the routing, and retrying for an hour cannot bring it
// back. PagerDuty's answer is classified as a notification's is.
func (s *Sinks) SendChange(ctx context.Context, d ChangeDelivery) error {
	attrs := append(changeAttrs(ctx, d.Event), "receiver", d.Target.Receiver, "integration", d.Target.Integration)
	to := s.currentRouting().Changes[d.Target.Receiver]
	if d.Target.Integration != IntegrationPagerDuty || to == nil {
		s.logger.ErrorContext(ctx, "Change event dropped: its receiver is not configured for change events", attrs...)
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("send change event to %s: not configured for change events on this worker", d.Target),
			ErrTypeNoChangeEvents, nil)
	}
	if err := to.NotifyChange(ctx, d.Event); err != nil {
		// Named by the receiver's configured name: the notifier's own
		// error names no host.
		return s.failed(ctx, "Change event delivery failed", fmt.Errorf("send change event to %s: %w", d.Target, err), attrs)
	}
	s.logger.InfoContext(ctx, "Change event delivered", attrs...)
	return nil
}

// changeAttrs are what logs say of a change event: never a URL or a key.
func changeAttrs(ctx context.Context, ev alert.Event) []any {
	attrs := []any{"alert_id", ev.AlertID(), "pipeline_id", ev.Pipeline.ID}
	// Outside an activity (a direct call in a test) there is no attempt
	// number, and activity.GetInfo would panic.
	if activity.IsActivity(ctx) {
		attrs = append(attrs, "attempt", activity.GetInfo(ctx).Attempt)
	}
	return attrs
}
