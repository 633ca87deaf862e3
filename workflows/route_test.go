package workflows

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/route"
)

// Workflow tests of routing: the real routing activities of package
// activities, with receivers that record what they are sent, in the SDK's
// test environment.

// routingFailed marks a kind heard as RoutingFailed.
const routingFailed = " (routing failed)"

// heardLog records, per receiver, the kinds of the notifications it got.
type heardLog struct {
	mu    sync.Mutex
	heard map[string][]notify.Kind
}

func (h *heardLog) receiver(name string) notify.Notifier {
	return notifierFunc(func(_ context.Context, n notify.Notification) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		k := n.Kind
		if n.RoutingFailed {
			k += routingFailed
		}
		h.heard[name] = append(h.heard[name], k)
		return nil
	})
}

func (h *heardLog) of(name string) []notify.Kind {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.heard[name])
}

type notifierFunc func(context.Context, notify.Notification) error

func (f notifierFunc) Notify(ctx context.Context, n notify.Notification) error { return f(ctx, n) }

// routedEnv is a test environment whose worker routes HIGH alerts to
// "pager" and "chat", and every other alert to "chat"; route is what the
// routing answers, and a test may change it while the alert runs, as a
// changed configuration file would.
type routedEnv struct {
	*alertEnv
	heard    *heardLog
	mu       sync.Mutex
	route    func(route.Labels) []string
	escalate *route.Escalation
	sinks    *activities.Sinks
}

func newRoutedEnv(t *testing.T) *routedEnv {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	e := &routedEnv{alertEnv: &alertEnv{TestWorkflowEnvironment: s.NewTestWorkflowEnvironment()}, heard: &heardLog{heard: map[string][]notify.Kind{}}}
	e.route = func(st route.Labels) []string {
		if st.Severity == alert.SeverityHigh {
			return []string{"pager", "chat"}
		}
		return []string{"chat"}
	}
	e.RegisterWorkflow(AlertWorkflow)
	recallNothing(e.TestWorkflowEnvironment)
	routing := activities.Routing{
		Route: func(st route.Labels) []string {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.route(st)
		},
		Escalate: func(route.Labels) *route.Escalation {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.escalate
		},
		Receivers: map[string]activities.Receiver{
			"pager": {activities.IntegrationPagerDuty: e.heard.receiver("pager")},
			"chat":  {activities.IntegrationSlack: e.heard.receiver("chat")},
			"audit": {activities.IntegrationWebhook: e.heard.receiver("audit")},
		},
		Root: "audit",
	}
	e.sinks = activities.NewRoutedSinks(slog.New(slog.DiscardHandler), nil, nil, routing)
	e.RegisterActivity(e.sinks)
	return e
}

func (e *routedEnv) reroute(route func(route.Labels) []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.route = route
}

func (e *routedEnv) expect(t *testing.T, want map[string][]notify.Kind) {
	t.Helper()
	for _, name := range []string{"pager", "chat", "audit"} {
		if got := e.heard.of(name); !equalKinds(got, want[name]) {
			t.Errorf("%s heard %v, want %v", name, got, want[name])
		}
	}
}

func routedInput() Input {
	return Input{Revision: RevisionRouted}
}

func TestARoutedAlertIsAcknowledgedAndResolvedWhereItOpened(t *testing.T) {
	e := newRoutedEnv(t)
	e.signalAt(time.Second, pipelineEvent(1, "failed"))
	e.RegisterDelayedCallback(func() {
		e.SignalWorkflow(SignalAcknowledge, alert.Acknowledgement{By: "alice"})
	}, time.Minute)
	// A changed configuration sends everything to audit from now on: the
	// open alert keeps the receivers that heard it open.
	e.RegisterDelayedCallback(func() {
		e.reroute(func(route.Labels) []string { return []string{"audit"} })
	}, 2*time.Minute)
	e.signalAt(3*time.Minute, pipelineEvent(2, "success"))
	e.ExecuteWorkflow(AlertWorkflow, routedInput())
	if s := e.result(t); s.Status != alert.StatusResolved {
		t.Fatalf("ended %s", s.Status)
	}
	lifecycle := []notify.Kind{notify.KindOpened, notify.KindAcknowledged, notify.KindResolved}
	e.expect(t, map[string][]notify.Kind{"pager": lifecycle, "chat": lifecycle})
}

func TestARaisedSeverityReachesTheReceiversOfTheNewSeverity(t *testing.T) {
	e := newRoutedEnv(t)
	// A skip opens LOW (no hold in this input), routed to chat only; the
	// failure after it raises the alert to HIGH, which pages.
	e.signalAt(time.Second, pipelineEvent(1, "skipped"))
	e.signalAt(time.Minute, pipelineEvent(2, "failed"))
	e.signalAt(2*time.Minute, pipelineEvent(3, "success"))
	e.ExecuteWorkflow(AlertWorkflow, routedInput())
	e.result(t)
	e.expect(t, map[string][]notify.Kind{
		"chat":  {notify.KindOpened, notify.KindSeverityChanged, notify.KindResolved},
		"pager": {notify.KindOpened, notify.KindResolved},
	})
}

func TestAnAlertRoutedToNobodyIsOnlyLogged(t *testing.T) {
	e := newRoutedEnv(t)
	e.reroute(func(route.Labels) []string { return nil })
	e.signalAt(time.Second, pipelineEvent(1, "failed"))
	e.signalAt(time.Minute, pipelineEvent(2, "success"))
	e.ExecuteWorkflow(AlertWorkflow, routedInput())
	e.result(t)
	e.expect(t, nil)
}

// A routing that fails for good (here it panics at every try) leaves a new
// alert without receivers: from RevisionFaithful on, its notifications
// go to the root receiver, marked so, instead of to nobody.
func TestANotificationWhoseRoutingFailsGoesToTheRootReceiver(t *testing.T) {
	for _, tt := range []struct {
		revision Revision
		want     []notify.Kind
	}{
		{RevisionPrompt, nil},
		{RevisionFaithful, []notify.Kind{notify.KindOpened + routingFailed, notify.KindResolved + routingFailed}},
	} {
		t.Run(fmt.Sprint(tt.revision), func(t *testing.T) {
			e := newRoutedEnv(t)
			e.route = func(route.Labels) []string { panic("the routing tree is broken") }
			e.signalAt(time.Second, pipelineEvent(1, "failed"))
			e.signalAt(time.Hour, pipelineEvent(2, "success"))
			e.ExecuteWorkflow(AlertWorkflow, Input{Revision: tt.revision})
			e.result(t)
			e.expect(t, map[string][]notify.Kind{"audit": tt.want})
		})
	}
}

func TestAReceiverRemovedFromTheConfigurationDropsItsNotifications(t *testing.T) {
	e := newRoutedEnv(t)
	e.reroute(func(route.Labels) []string { return []string{"gone", "chat"} })
	e.signalAt(time.Second, pipelineEvent(1, "failed"))
	e.signalAt(time.Minute, pipelineEvent(2, "success"))
	e.ExecuteWorkflow(AlertWorkflow, routedInput())
	e.result(t)
	e.expect(t, map[string][]notify.Kind{"chat": {notify.KindOpened, notify.KindResolved}})
}

func TestAContinuedRunKeepsItsRoute(t *testing.T) {
	e := newRoutedEnv(t)
	e.signalAt(time.Second, pipelineEvent(1, "failed"))
	e.RegisterDelayedCallback(func() { e.SetContinueAsNewSuggested(true) }, time.Minute)
	e.signalAt(2*time.Minute, pipelineEvent(2, "failed"))
	e.ExecuteWorkflow(AlertWorkflow, routedInput())
	next := continued(t, e.alertEnv)
	want := []activities.Target{{Receiver: "pager", Integration: activities.IntegrationPagerDuty}, {Receiver: "chat", Integration: activities.IntegrationSlack}}
	if next.Routed == nil || !slices.Equal(next.Routed.Targets, want) {
		t.Fatalf("handed over route %+v, want %v", next.Routed, want)
	}

	e2 := newRoutedEnv(t)
	e2.reroute(func(route.Labels) []string { return []string{"audit"} })
	e2.signalAt(time.Second, pipelineEvent(3, "success"))
	e2.ExecuteWorkflow(AlertWorkflow, *next)
	e2.result(t)
	e2.expect(t, map[string][]notify.Kind{"pager": {notify.KindResolved}, "chat": {notify.KindResolved}})
}

func TestRoutedTargetsAreOrderedByRouteThenIntegration(t *testing.T) {
	r := &run{}
	ans := func(ts ...activities.Target) activities.RouteAnswer { return activities.RouteAnswer{Targets: ts} }
	a := activities.Target{Receiver: "a", Integration: activities.IntegrationWebhook}
	b := activities.Target{Receiver: "b", Integration: activities.IntegrationSlack}
	if added := r.addTargets(true, ans(a)); len(added) != 0 {
		t.Fatalf("the first routing added %v: the alert opens there, nothing is new", added)
	}
	if added := r.addTargets(true, ans(b, a)); !slices.Equal(added, []activities.Target{b}) {
		t.Fatalf("added %v, want %v", added, b)
	}
	if added := r.addTargets(false, ans(activities.Target{Receiver: "c"})); added != nil {
		t.Fatalf("a routing that failed added %v", added)
	}
	if got := fmt.Sprint(r.targets()); got != fmt.Sprint([]activities.Target{a, b}) {
		t.Fatalf("targets %s", got)
	}
}

func TestAnUnacknowledgedAlertEscalatesAfterItsTimeAndTheEscalationHearsTheRest(t *testing.T) {
	e := newRoutedEnv(t)
	e.escalate = &route.Escalation{To: "audit", After: 30 * time.Minute}
	e.signalAt(time.Second, pipelineEvent(1, "failed"))
	e.stateAt(t, 29*time.Minute, func(s *alert.State) {
		if !s.EscalatedAt.IsZero() {
			t.Errorf("escalated at %v, before its time", s.EscalatedAt)
		}
	})
	e.stateAt(t, 31*time.Minute, func(s *alert.State) {
		if s.EscalatedTo != "audit" {
			t.Errorf("not escalated after 30 minutes: %q", s.EscalatedTo)
		}
	})
	e.signalAt(time.Hour, pipelineEvent(2, "success"))
	e.ExecuteWorkflow(AlertWorkflow, routedInput())
	e.result(t)
	e.expect(t, map[string][]notify.Kind{
		"pager": {notify.KindOpened, notify.KindResolved},
		"chat":  {notify.KindOpened, notify.KindResolved},
		"audit": {notify.KindEscalated, notify.KindResolved},
	})
}

func TestAcknowledgingStopsTheEscalation(t *testing.T) {
	e := newRoutedEnv(t)
	e.escalate = &route.Escalation{To: "audit", After: 30 * time.Minute}
	e.signalAt(time.Second, pipelineEvent(1, "failed"))
	e.RegisterDelayedCallback(func() {
		e.SignalWorkflow(SignalAcknowledge, alert.Acknowledgement{By: "alice"})
	}, 10*time.Minute)
	e.signalAt(2*time.Hour, pipelineEvent(2, "success"))
	e.ExecuteWorkflow(AlertWorkflow, routedInput())
	if s := e.result(t); !s.EscalatedAt.IsZero() {
		t.Fatalf("an acknowledged alert escalated at %v", s.EscalatedAt)
	}
	e.expect(t, map[string][]notify.Kind{
		"pager": {notify.KindOpened, notify.KindAcknowledged, notify.KindResolved},
		"chat":  {notify.KindOpened, notify.KindAcknowledged, notify.KindResolved},
	})
}

func TestAnEscalationCountingRemindersComesWithTheLastOfThem(t *testing.T) {
	e := newRoutedEnv(t)
	e.escalate = &route.Escalation{To: "audit", Reminders: 2}
	e.signalAt(time.Second, pipelineEvent(1, "failed"))
	// Reminders at 1h and 2h: the escalation comes with the second; the
	// third, at 3h, reaches the escalation receiver too.
	e.signalAt(3*time.Hour+time.Minute, pipelineEvent(2, "success"))
	in := routedInput()
	in.ReminderInterval = time.Hour
	e.ExecuteWorkflow(AlertWorkflow, in)
	e.result(t)
	reminded := []notify.Kind{notify.KindOpened, notify.KindReminder, notify.KindReminder, notify.KindReminder, notify.KindResolved}
	e.expect(t, map[string][]notify.Kind{
		"pager": reminded,
		"chat":  reminded,
		"audit": {notify.KindEscalated, notify.KindReminder, notify.KindResolved},
	})
}
