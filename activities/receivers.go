package activities

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/route"
)

// Activity names of routed notifications (RevisionRouted on).
const (
	// ActivityRouteNotification logs a notification and, when asked,
	// names the receivers its alert reaches. It runs as a local activity,
	// so its answer is recorded in the history: a run replays the routing
	// it decided even after the configuration changed.
	ActivityRouteNotification = "RouteNotification"
	// ActivityNotifyReceiver delivers a notification to one integration
	// of one receiver.
	ActivityNotifyReceiver = "NotifyReceiver"
)

// Integration names, in the order a receiver's integrations are tried.
const (
	IntegrationWebhook   = "webhook"
	IntegrationSlack     = "slack"
	IntegrationPagerDuty = "pagerduty"
)

// integrationOrder is the order of the integrations alertflow began with;
// a receiver's others follow them by name, so that a new kind of receiver
// is delivered to without a change here.
var integrationOrder = []string{IntegrationWebhook, IntegrationSlack, IntegrationPagerDuty}

// integrations are rcv's integrations in the order they are tried.
func integrations(rcv Receiver) []string {
	out := make([]string, 0, len(rcv))
	for _, integration := range integrationOrder {
		if rcv[integration] != nil {
			out = append(out, integration)
		}
	}
	var others []string
	for integration, to := range rcv {
		if to != nil && !slices.Contains(integrationOrder, integration) {
			others = append(others, integration)
		}
	}
	slices.Sort(others)
	return append(out, others...)
}

// DefaultReceiver names the one receiver of a worker configured by
// environment variables alone.
const DefaultReceiver = "default"

// RootTarget is where a notification goes when its routing failed for
// good: every integration of the routing tree's root receiver, as the
// worker that delivers it is configured. A page goes somewhere rather
// than nowhere, marked so (notify.Notification.RoutingFailed).
var RootTarget = Target{Receiver: "(root)", Integration: "(all)"}

// Target is one integration of one receiver: where a notification goes.
// Only names travel in the history, never a URL or a key.
type Target struct {
	Receiver    string `json:"receiver"`
	Integration string `json:"integration"`
}

func (t Target) String() string { return t.Receiver + "/" + t.Integration }

// RouteAnswer is what ActivityRouteNotification answers: the targets an
// alert reaches, and where it escalates when nobody acknowledges it.
type RouteAnswer struct {
	Targets    []Target    `json:"targets,omitempty"`
	Escalation *Escalation `json:"escalation,omitempty"`
	// Silenced names the silence holding the notification back, when
	// the request asked and one does.
	Silenced *Silencing `json:"silenced,omitempty"`
}

// Escalation is where an unacknowledged alert escalates: every integration
// of Receiver, After it opened or once it has sent Reminders reminders.
type Escalation struct {
	Receiver  string        `json:"receiver"`
	Targets   []Target      `json:"targets"`
	After     time.Duration `json:"after,omitempty"`
	Reminders int           `json:"reminders,omitempty"`
}

// RouteRequest is the input of ActivityRouteNotification.
type RouteRequest struct {
	Notification notify.Notification `json:"notification"`
	// Route asks for the targets of the alert; false only logs.
	Route bool `json:"route,omitempty"`
	// Silences asks whether a silence holds the notification back.
	Silences bool `json:"silences,omitempty"`
	// Ended are silences that ended holding the alert: they are passed
	// over even while this worker still lists them.
	Ended []string `json:"ended,omitempty"`
	// At is when the run sends the notification, by its clock: the time
	// silences are judged at.
	At time.Time `json:"at,omitzero"`
}

// Delivery is the input of ActivityNotifyReceiver.
type Delivery struct {
	Target       Target              `json:"target"`
	Notification notify.Notification `json:"notification"`
	// Message is what the target answered for the alert's notification
	// before, when it keeps one message per alert (notify.Messenger):
	// a Slack app's channel and message ts (RevisionConsole on).
	Message string `json:"message,omitempty"`
}

// Delivered is what ActivityNotifyReceiver answers: nil, or the alert's
// message at a target that keeps one.
type Delivered struct {
	Message string `json:"message,omitempty"`
}

// Receiver is one configured receiver: its notifiers by integration name.
type Receiver map[string]notify.Notifier

// Routing is what routed notifications go through: the routing tree and
// the receivers it names.
type Routing struct {
	// Route names the receivers an alert with these labels reaches, in
	// order, each once.
	Route func(route.Labels) []string
	// Escalate is where an alert escalates, nil when nowhere; a nil
	// Escalate escalates nothing.
	Escalate func(route.Labels) *route.Escalation
	// Receivers are the configured receivers by name.
	Receivers map[string]Receiver
	// Root is the receiver of the routing tree's root, which hears a
	// notification whose routing failed (RootTarget).
	Root string
	// Changes are the receivers whose PagerDuty integration takes change
	// events (change_events: true), by name; the others hear none.
	Changes map[string]ChangeNotifier
}

// NewRoutedSinks returns the notification activities of a worker whose
// notifications go through r. webhook and slack serve the alerts of
// earlier revisions, which send to them by name. (NewSinks routes every
// alert to DefaultReceiver, made of its webhook and Slack.) A function,
// not a method: every exported method of Sinks is an activity.
func NewRoutedSinks(logger *slog.Logger, webhook, slack notify.Notifier, r Routing) *Sinks {
	s := NewSinks(logger, webhook, slack)
	s.routing = r
	return s
}

func (s *Sinks) defaultRouting() Routing {
	rcv := Receiver{}
	if s.webhook != nil {
		rcv[IntegrationWebhook] = s.webhook
	}
	if s.slack != nil {
		rcv[IntegrationSlack] = s.slack
	}
	return Routing{
		Route:     func(route.Labels) []string { return []string{DefaultReceiver} },
		Receivers: map[string]Receiver{DefaultReceiver: rcv},
		Root:      DefaultReceiver,
	}
}

func (s *Sinks) currentRouting() Routing {
	if s.routing.Route == nil {
		return s.defaultRouting()
	}
	return s.routing
}

// RouteNotification writes the notification to the service log, as
// NotifyLog does, and when asked names the targets its alert reaches under
// this worker's routing: each integration of each receiver, receivers in
// route order. A receiver the routing names but that is not configured
// is logged and left out.
func (s *Sinks) RouteNotification(ctx context.Context, req RouteRequest) (RouteAnswer, error) {
	var answer RouteAnswer
	a := req.Notification.Alert
	labels := route.LabelsOf(a)
	if req.Silences {
		at := req.At
		if at.IsZero() {
			at = time.Now()
		}
		answer.Silenced = s.silencing(ctx, labels, a.ID, req.Ended, at)
	}
	if answer.Silenced != nil {
		s.logger.InfoContext(ctx, "Notification suppressed by a silence", "notification_id", req.Notification.ID,
			"kind", req.Notification.Kind, "alert_id", a.ID, "silence_id", answer.Silenced.ID,
			"until", answer.Silenced.Until.UTC().Format(time.RFC3339))
	} else {
		s.log(ctx, req.Notification)
	}
	if !req.Route {
		return answer, nil
	}
	r := s.currentRouting()
	for _, name := range r.Route(labels) {
		answer.Targets = append(answer.Targets, s.targetsOf(ctx, r, name, a.ID)...)
	}
	if r.Escalate == nil {
		return answer, nil
	}
	if e := r.Escalate(labels); e != nil {
		answer.Escalation = &Escalation{Receiver: e.To, Targets: s.targetsOf(ctx, r, e.To, a.ID), After: e.After, Reminders: e.Reminders}
	}
	return answer, nil
}

// targetsOf are the integrations of receiver name, in a fixed order; none,
// logged, when the routing names a receiver nobody configured.
func (s *Sinks) targetsOf(ctx context.Context, r Routing, name, alertID string) []Target {
	rcv, ok := r.Receivers[name]
	if !ok {
		s.logger.ErrorContext(ctx, "Route names a receiver that is not configured", "receiver", name, "alert_id", alertID)
		return nil
	}
	var targets []Target
	for _, integration := range integrations(rcv) {
		targets = append(targets, Target{Receiver: name, Integration: integration})
	}
	return targets
}

// NotifyReceiver delivers the notification to one target. A target that
// this worker's configuration no longer has (the receiver or its
// integration was removed after the alert was routed) is logged and
// dropped: retrying cannot bring it back.
func (s *Sinks) NotifyReceiver(ctx context.Context, d Delivery) (*Delivered, error) {
	if d.Target == RootTarget {
		return nil, s.notifyRoot(ctx, d.Notification)
	}
	to := s.currentRouting().Receivers[d.Target.Receiver][d.Target.Integration]
	if to == nil {
		s.logger.ErrorContext(ctx, "Notification dropped: its receiver is no longer configured",
			append(s.attrs(ctx, d.Target.String(), d.Notification), "receiver", d.Target.Receiver,
				"integration", d.Target.Integration)...)
		return nil, nil
	}
	message, err := s.deliverMessage(ctx, d.Target.String(), to, d.Notification, d.Message)
	if err != nil || message == "" {
		return nil, err
	}
	return &Delivered{Message: message}, nil
}

// notifyRoot delivers a notification whose routing failed to every
// integration of the root receiver, marked so. A retry delivers to each
// again: receivers dedupe on the notification's ID.
func (s *Sinks) notifyRoot(ctx context.Context, n notify.Notification) error {
	r := s.currentRouting()
	n.RoutingFailed = true
	rcv, ok := r.Receivers[r.Root]
	if !ok || len(rcv) == 0 {
		s.logger.ErrorContext(ctx, "Notification dropped: its routing failed and the root receiver is not configured",
			append(s.attrs(ctx, RootTarget.String(), n), "receiver", r.Root)...)
		return nil
	}
	s.logger.WarnContext(ctx, "Routing failed: the notification goes to the root receiver",
		append(s.attrs(ctx, RootTarget.String(), n), "receiver", r.Root)...)
	for _, integration := range integrations(rcv) {
		if err := s.deliver(ctx, Target{Receiver: r.Root, Integration: integration}.String(), rcv[integration], n); err != nil {
			return err
		}
	}
	return nil
}
