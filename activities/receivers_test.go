package activities_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/internal/testkit"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/notifytest"
	"github.com/alertflow/alertflow/route"
)

// routeOf runs RouteNotification for real in the SDK's activity test
// environment.
func routeOf(t *testing.T, sinks *activities.Sinks, req activities.RouteRequest) activities.RouteAnswer {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(sinks)
	v, err := env.ExecuteActivity(activities.ActivityRouteNotification, req)
	if err != nil {
		t.Fatalf("route: %v", err)
	}
	var answer activities.RouteAnswer
	if v.HasValue() {
		if err := v.Get(&answer); err != nil {
			t.Fatal(err)
		}
	}
	return answer
}

func deliverTo(t *testing.T, sinks *activities.Sinks, d activities.Delivery) error {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(sinks)
	_, err := env.ExecuteActivity(activities.ActivityNotifyReceiver, d)
	return err
}

func TestRouteNotificationNamesEachIntegrationOfEachReceiverInRouteOrder(t *testing.T) {
	var out testkit.Buffer
	routing := activities.Routing{
		Route: func(route.Labels) []string { return []string{"team", "missing", "audit"} },
		Receivers: map[string]activities.Receiver{
			"team":  {activities.IntegrationPagerDuty: &fakeNotifier{}, activities.IntegrationSlack: &fakeNotifier{}},
			"audit": {activities.IntegrationWebhook: &fakeNotifier{}},
		},
	}
	sinks := activities.NewRoutedSinks(logger(&out), nil, nil, routing)
	n := notifytest.Notification(notify.KindOpened)
	got := routeOf(t, sinks, activities.RouteRequest{Notification: n, Route: true}).Targets
	want := []activities.Target{
		{Receiver: "team", Integration: activities.IntegrationSlack},
		{Receiver: "team", Integration: activities.IntegrationPagerDuty},
		{Receiver: "audit", Integration: activities.IntegrationWebhook},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("targets %v, want %v", got, want)
	}
	if !strings.Contains(out.String(), `"receiver":"missing"`) {
		t.Errorf("the receiver the route names but nobody configured is not logged:\n%s", out.String())
	}
	if got := routeOf(t, sinks, activities.RouteRequest{Notification: n}); got.Targets != nil || got.Escalation != nil {
		t.Errorf("a request that does not ask for a route got %+v", got)
	}
}

// A kind of integration the activity has never heard of (a receiver added
// after it) is targeted and delivered to, after the first three, by name.
func TestEveryIntegrationOfAReceiverIsTargetedNewKindsAfterTheFirstThree(t *testing.T) {
	teams, zulip, hook := &fakeNotifier{}, &fakeNotifier{}, &fakeNotifier{}
	routing := activities.Routing{
		Route:     func(route.Labels) []string { return []string{"team"} },
		Receivers: map[string]activities.Receiver{"team": {"zulip": zulip, "teams": teams, activities.IntegrationWebhook: hook}},
	}
	sinks := activities.NewRoutedSinks(logger(&testkit.Buffer{}), nil, nil, routing)
	n := notifytest.Notification(notify.KindOpened)
	got := routeOf(t, sinks, activities.RouteRequest{Notification: n, Route: true}).Targets
	want := []activities.Target{
		{Receiver: "team", Integration: activities.IntegrationWebhook},
		{Receiver: "team", Integration: "teams"},
		{Receiver: "team", Integration: "zulip"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("targets %v, want %v", got, want)
	}
	for _, target := range got {
		if err := deliverTo(t, sinks, activities.Delivery{Notification: n, Target: target}); err != nil {
			t.Fatal(err)
		}
	}
	if teams.count() != 1 || zulip.count() != 1 || hook.count() != 1 {
		t.Errorf("delivered teams %d, zulip %d, webhook %d times; want once each", teams.count(), zulip.count(), hook.count())
	}
}

func TestWithoutRoutingEveryAlertReachesTheDefaultReceiver(t *testing.T) {
	hook := &fakeNotifier{}
	sinks := activities.NewSinks(nil, hook, nil)
	n := notifytest.Notification(notify.KindOpened)
	got := routeOf(t, sinks, activities.RouteRequest{Notification: n, Route: true}).Targets
	want := []activities.Target{{Receiver: activities.DefaultReceiver, Integration: activities.IntegrationWebhook}}
	if !slices.Equal(got, want) {
		t.Fatalf("targets %v, want %v", got, want)
	}
	if err := deliverTo(t, sinks, activities.Delivery{Target: want[0], Notification: n}); err != nil || hook.count() != 1 {
		t.Fatalf("delivery: %v, webhook called %d times", err, hook.count())
	}
}

func TestNotifyReceiverDropsATargetNoLongerConfigured(t *testing.T) {
	var out testkit.Buffer
	chat := &fakeNotifier{}
	routing := activities.Routing{
		Route:     func(route.Labels) []string { return nil },
		Receivers: map[string]activities.Receiver{"chat": {activities.IntegrationSlack: chat}},
	}
	sinks := activities.NewRoutedSinks(logger(&out), nil, nil, routing)
	n := notifytest.Notification(notify.KindResolved)
	for _, gone := range []activities.Target{{Receiver: "pager", Integration: activities.IntegrationPagerDuty}, {Receiver: "chat", Integration: activities.IntegrationWebhook}} {
		if err := deliverTo(t, sinks, activities.Delivery{Target: gone, Notification: n}); err != nil {
			t.Errorf("%v: %v, want dropped without a retry", gone, err)
		}
	}
	if !strings.Contains(out.String(), "no longer configured") || chat.count() != 0 {
		t.Errorf("chat called %d times; log:\n%s", chat.count(), out.String())
	}
}

func TestNotifyReceiverClassifiesFailuresLikeTheSinks(t *testing.T) {
	refused := &fakeNotifier{err: notify.Permanent(errors.New("400 Bad Request"))}
	routing := activities.Routing{
		Route:     func(route.Labels) []string { return []string{"pager"} },
		Receivers: map[string]activities.Receiver{"pager": {activities.IntegrationPagerDuty: refused}},
	}
	sinks := activities.NewRoutedSinks(nil, nil, nil, routing)
	err := deliverTo(t, sinks, activities.Delivery{
		Target:       activities.Target{Receiver: "pager", Integration: activities.IntegrationPagerDuty},
		Notification: notifytest.Notification(notify.KindOpened),
	})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeRejected || !appErr.NonRetryable() {
		t.Fatalf("a refused delivery returned %v, want a non-retryable %s", err, activities.ErrTypeRejected)
	}
}

func TestRouteNotificationNamesTheEscalationAndItsTargets(t *testing.T) {
	routing := activities.Routing{
		Route:    func(route.Labels) []string { return []string{"team"} },
		Escalate: func(route.Labels) *route.Escalation { return &route.Escalation{To: "lead", After: 30 * time.Minute} },
		Receivers: map[string]activities.Receiver{
			"team": {activities.IntegrationSlack: &fakeNotifier{}},
			"lead": {activities.IntegrationPagerDuty: &fakeNotifier{}, activities.IntegrationWebhook: &fakeNotifier{}},
		},
	}
	got := routeOf(t, activities.NewRoutedSinks(nil, nil, nil, routing), activities.RouteRequest{Notification: notifytest.Notification(notify.KindOpened), Route: true})
	want := &activities.Escalation{Receiver: "lead", After: 30 * time.Minute, Targets: []activities.Target{
		{Receiver: "lead", Integration: activities.IntegrationWebhook}, {Receiver: "lead", Integration: activities.IntegrationPagerDuty},
	}}
	if got.Escalation == nil || got.Escalation.Receiver != want.Receiver || got.Escalation.After != want.After ||
		!slices.Equal(got.Escalation.Targets, want.Targets) {
		t.Fatalf("escalation %+v, want %+v", got.Escalation, want)
	}
}

// keeper keeps one message per alert, as a Slack app does.
type keeper struct {
	fakeNotifier
	given []string
}

func (k *keeper) NotifyMessage(_ context.Context, n notify.Notification, message string) (string, error) {
	k.given = append(k.given, message)
	return "C1 100.1", nil
}

func TestNotifyReceiverPassesAMessengerItsMessageAndAnswersTheNewOne(t *testing.T) {
	chat, pager := &keeper{}, &fakeNotifier{}
	sinks := activities.NewRoutedSinks(nil, nil, nil, activities.Routing{
		Route: func(route.Labels) []string { return nil },
		Receivers: map[string]activities.Receiver{
			"chat":  {activities.IntegrationSlack: chat},
			"pager": {activities.IntegrationPagerDuty: pager},
		},
	})
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(sinks)
	n := notifytest.Notification(notify.KindAcknowledged)
	v, err := env.ExecuteActivity(activities.ActivityNotifyReceiver, activities.Delivery{
		Target: activities.Target{Receiver: "chat", Integration: activities.IntegrationSlack}, Notification: n, Message: "C1 99.9"})
	if err != nil {
		t.Fatal(err)
	}
	var got *activities.Delivered
	if err := v.Get(&got); err != nil || got == nil || got.Message != "C1 100.1" || !slices.Equal(chat.given, []string{"C1 99.9"}) {
		t.Fatalf("answered %+v (%v), the messenger was given %q", got, err, chat.given)
	}
	// An update is for messengers only: the others never see it.
	n.Kind = notify.KindUpdated
	if _, err := env.ExecuteActivity(activities.ActivityNotifyReceiver, activities.Delivery{
		Target: activities.Target{Receiver: "pager", Integration: activities.IntegrationPagerDuty}, Notification: n}); err != nil {
		t.Fatal(err)
	}
	if pager.count() != 0 {
		t.Fatalf("a receiver keeping no message was sent an update")
	}
}
