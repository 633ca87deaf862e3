package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"google.golang.org/protobuf/proto"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/app"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/notify/pagerduty/pagerdutytest"
	"github.com/alertflow/alertflow/notify/webhook"
	"github.com/alertflow/alertflow/notify/webhook/contract"
	"github.com/alertflow/alertflow/route"
	"github.com/alertflow/alertflow/workflows"
)

// routingReceivers are a PagerDuty fake and two scripted webhooks, by the
// variables newRoutedStackWith sets.
const routingReceivers = `
receivers:
  - name: pager
    pagerduty:
      routing_key: ${PD_KEY}
      url: ${PD_URL}
  - name: chat
    webhook:
      url: ${CHAT_URL}
      secret: ${SECRET}
  - name: audit
    webhook:
      url: ${AUDIT_URL}
      secret: ${SECRET}
`

// routingFile pages team-a's HIGH alerts and tells team-a's chat of all of
// them; everything else goes to the root, audit.
const routingFile = routingReceivers + `route:
  receiver: audit
  routes:
    - match: {project: "team-a/**", severity: [HIGH]}
      receiver: pager
      continue: true
    - match: {project: "team-a/**"}
      receiver: chat
`

// routedStack is a stack whose worker routes with routingFile to a
// PagerDuty fake and two scripted webhook receivers.
type routedStack struct {
	*stack
	pd                *pagerdutytest.Server
	chat, audit       *scriptedReceiver
	chatURL, auditURL string
}

// The routing key and the webhooks' signing secret of routingFile.
const (
	routingKey    = "0123456789abcdef0123456789abcdef"
	routingSecret = "routing-secret"
)

func newRoutedStack(t *testing.T) *routedStack {
	t.Helper()
	return newRoutedStackWith(t, routingFile)
}

// newRoutedStackWith is newRoutedStack whose worker routes with file,
// which may use the receivers and variables of routingFile.
func newRoutedStackWith(t *testing.T, file string) *routedStack {
	t.Helper()
	// No hold, so that a skip opens at once.
	return newRoutedStackInput(t, file, workflows.Input{})
}

// newRoutedStackInput is newRoutedStackWith whose intake starts alerts
// with in.
func newRoutedStackInput(t *testing.T, file string, in workflows.Input) *routedStack {
	t.Helper()
	// PagerDuty throttles the first event: it is retried, and arrives
	// before the events after it.
	pd := pagerdutytest.New(t, pagerdutytest.RateLimitOnce(1, ""))
	chat, chatSrv := newScriptedReceiver(t, routingSecret)
	audit, auditSrv := newScriptedReceiver(t, routingSecret)
	vars := map[string]string{
		"PD_KEY": routingKey, "PD_URL": pd.URL(), "SECRET": routingSecret,
		"CHAT_URL": chatSrv.URL + chat.path, "AUDIT_URL": auditSrv.URL + audit.path,
	}
	sinks, cfg := routedSinks(t, file, vars)
	// The intake starts change workflows when a receiver takes them, as
	// alertflow serve does.
	s := newStackOf(t, &stack{sinks: sinks, intake: func(c *ingress.Config) { c.ChangeEvents = app.ChangeEvents(nil, cfg) }}, in)
	return &routedStack{stack: s, pd: pd, chat: chat, audit: audit,
		chatURL: vars["CHAT_URL"], auditURL: vars["AUDIT_URL"]}
}

// teamPayload is payload for a project of the given path.
func teamPayload(t *testing.T, project int64, path string, pipeline int64, status string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload(t, project, "main", pipeline, status), &m); err != nil {
		t.Fatal(err)
	}
	m["project"].(map[string]any)["path_with_namespace"] = path
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// forAlert are the kinds of the payloads about alert id.
func forAlert(ps []contract.Payload, id string) []string {
	var kinds []string
	for _, p := range ps {
		if p.Alert.ID == id {
			kinds = append(kinds, string(p.Kind))
		}
	}
	return kinds
}

func pdActions(events []pagerdutytest.Event, id string) []string {
	var actions []string
	for _, ev := range events {
		if ev.DedupKey == id {
			actions = append(actions, ev.EventAction)
		}
	}
	return actions
}

func TestRoutedAlertsReachTheirReceiversThroughTheirWholeLifecycle(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newRoutedStack(t)

	// Team A's failure pages and tells the chat; a failure elsewhere goes
	// to the root only.
	a := s.mustSignal(teamPayload(t, 1901, "team-a/api", 19010, "failed"))
	c := s.mustSignal(teamPayload(t, 1903, "team-z/web", 19030, "failed"))
	// Team A's skipped pipeline (LOW) tells the chat only, until a
	// failure raises it to HIGH: then the pager hears it open.
	b := s.mustSignal(teamPayload(t, 1902, "team-a/worker", 19020, "skipped"))
	s.chat.waitReceiver(t, "the skip", func(_, _ int, ps []contract.Payload) bool { return len(forAlert(ps, b.AlertID)) == 1 })
	s.mustSignal(teamPayload(t, 1902, "team-a/worker", 19021, "failed"))
	// An update may be handled before a signal that came just ahead of it
	// is applied: acknowledge once each alert shows its failure.
	for _, id := range []string{a.AlertID, b.AlertID, c.AlertID} {
		s.waitState(id, func(st *alert.State) error {
			if st.Severity != alert.SeverityHigh {
				return fmt.Errorf("%s is %s %s", id, st.Status, st.Severity)
			}
			return nil
		})
	}
	for _, id := range []string{a.AlertID, b.AlertID, c.AlertID} {
		if code, body := s.apiCall(http.MethodPost, "/api/v1/alerts/"+id+"/acknowledge", map[string]string{"by": "alice"}); code != http.StatusOK {
			t.Fatalf("acknowledge %s: %d %s", id, code, body)
		}
	}
	s.mustSignal(teamPayload(t, 1901, "team-a/api", 19011, "success"))
	s.mustSignal(teamPayload(t, 1902, "team-a/worker", 19022, "success"))
	s.mustSignal(teamPayload(t, 1903, "team-z/web", 19031, "success"))
	for _, id := range []string{a.AlertID, b.AlertID, c.AlertID} {
		s.waitClosed(id)
	}

	lifecycle := []string{"opened", "acknowledged", "resolved"}
	s.chat.waitReceiver(t, "team A's lifecycles", func(_, _ int, ps []contract.Payload) bool {
		return slices.Equal(forAlert(ps, a.AlertID), lifecycle) &&
			slices.Equal(forAlert(ps, b.AlertID), []string{"opened", "severity_changed", "acknowledged", "resolved"})
	})
	s.audit.waitReceiver(t, "the other team's lifecycle", func(_, _ int, ps []contract.Payload) bool {
		return slices.Equal(forAlert(ps, c.AlertID), lifecycle) && len(ps) == 3
	})
	events := s.pd.WaitFor(t, 6, settleWithin)
	if got := pdActions(events, a.AlertID); !slices.Equal(got, []string{"trigger", "acknowledge", "resolve"}) {
		t.Errorf("PagerDuty heard %s as %v", a.AlertID, got)
	}
	if got := pdActions(events, b.AlertID); !slices.Equal(got, []string{"trigger", "acknowledge", "resolve"}) {
		t.Errorf("PagerDuty heard %s as %v", b.AlertID, got)
	}
	if len(events) != 6 || len(s.pd.Violations()) > 0 || s.pd.Throttled() != 1 {
		t.Errorf("PagerDuty got %d events, throttled %d, violations %v", len(events), s.pd.Throttled(), s.pd.Violations())
	}
	_, _, _, _, chatPayloads, _ := s.chat.snapshot()
	if len(chatPayloads) != 7 || len(forAlert(chatPayloads, c.AlertID)) != 0 {
		t.Errorf("the chat got %s", kindsOf(chatPayloads))
	}
	// The history names receivers, never their keys, URLs or secrets.
	for _, id := range []string{a.AlertID, b.AlertID, c.AlertID} {
		iter := s.client.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				t.Fatal(err)
			}
			raw, err := proto.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{routingKey, routingSecret, s.pd.URL(), s.chatURL, s.auditURL} {
				if bytes.Contains(raw, []byte(secret)) {
					t.Fatalf("the history of %s holds %q (event %d, %s)", id, secret, ev.GetEventId(), ev.GetEventType())
				}
			}
		}
	}
	recordHistory(t, "routed-two-receivers", a.AlertID)
	recordHistory(t, "routed-severity-raise-adds-a-receiver", b.AlertID)
}

// escalatingFile pages team A and escalates to audit when nobody
// acknowledges within five seconds.
const escalatingFile = routingReceivers + `route:
  receiver: chat
  routes:
    - match: {project: "team-a/**"}
      receiver: pager
      escalate_to: audit
      escalate_after: 5s
`

func TestAnUnacknowledgedAlertEscalatesAndAcknowledgingStopsIt(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newRoutedStackWith(t, escalatingFile)
	// One alert acknowledged at once, one left alone, opened after it.
	quick := s.mustSignal(teamPayload(t, 1911, "team-a/api", 19110, "failed"))
	s.waitState(quick.AlertID, func(st *alert.State) error {
		if st.Status != alert.StatusOpen {
			return fmt.Errorf("%s", st.Status)
		}
		return nil
	})
	if code, body := s.apiCall(http.MethodPost, "/api/v1/alerts/"+quick.AlertID+"/acknowledge", map[string]string{"by": "alice"}); code != http.StatusOK {
		t.Fatalf("acknowledge: %d %s", code, body)
	}
	left := s.mustSignal(teamPayload(t, 1912, "team-a/api", 19120, "failed"))
	s.audit.waitReceiver(t, "the escalation", func(_, _ int, ps []contract.Payload) bool {
		return slices.Equal(forAlert(ps, left.AlertID), []string{"escalated"})
	})
	st := s.waitState(left.AlertID, func(st *alert.State) error {
		if st.EscalatedTo != "audit" {
			return fmt.Errorf("escalated to %q", st.EscalatedTo)
		}
		return nil
	})
	if st.Status != alert.StatusOpen {
		t.Fatalf("the escalated alert is %s", st.Status)
	}
	// The acknowledged alert opened first, so its time has passed too.
	if st, err := s.state(context.Background(), quick.AlertID); err != nil || !st.EscalatedAt.IsZero() {
		t.Fatalf("the acknowledged alert: %+v, %v", st, err)
	}
	// From now on the escalation receiver hears the alert, and
	// acknowledging it goes to both.
	if code, body := s.apiCall(http.MethodPost, "/api/v1/alerts/"+left.AlertID+"/acknowledge", map[string]string{"by": "bob"}); code != http.StatusOK {
		t.Fatalf("acknowledge: %d %s", code, body)
	}
	s.audit.waitReceiver(t, "the acknowledgement", func(_, _ int, ps []contract.Payload) bool {
		return slices.Equal(forAlert(ps, left.AlertID), []string{"escalated", "acknowledged"})
	})
	events := s.pd.WaitFor(t, 4, settleWithin)
	if got := pdActions(events, left.AlertID); !slices.Equal(got, []string{"trigger", "acknowledge"}) {
		t.Errorf("PagerDuty heard %s as %v", left.AlertID, got)
	}
	_, _, _, _, auditPayloads, _ := s.audit.snapshot()
	if got := forAlert(auditPayloads, quick.AlertID); len(got) != 0 {
		t.Errorf("the acknowledged alert reached the escalation receiver: %v", got)
	}
	recordHistory(t, "routed-escalated-then-acknowledged", left.AlertID)
}

// A failure after the resolve opens the next alert at once, even while a
// receiver has not taken the resolve yet: the other receivers hear it
// open, and the slow one hears the resolve first, then the new alert.
func TestAFailureAfterTheResolveIsHeardAtOnceWhileAReceiverIsDown(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newRoutedStackWith(t, routingReceivers+`route:
  receiver: chat
  routes:
    - match: {project: "team-b/**"}
      receiver: chat
      continue: true
    - match: {project: "team-b/**"}
      receiver: audit
`)
	first := s.mustSignal(teamPayload(t, 1921, "team-b/api", 19210, "failed"))
	id := first.AlertID
	s.audit.waitReceiver(t, "the first alert's opening", func(_, _ int, ps []contract.Payload) bool {
		return slices.Equal(forAlert(ps, id), []string{"opened"})
	})
	s.audit.setMode(modeFail)
	s.mustSignal(teamPayload(t, 1921, "team-b/api", 19211, "success"))
	s.chat.waitReceiver(t, "the first alert's resolve", func(_, _ int, ps []contract.Payload) bool {
		return slices.Equal(forAlert(ps, id), []string{"opened", "resolved"})
	})
	s.mustSignal(teamPayload(t, 1921, "team-b/api", 19212, "failed"))
	s.chat.waitReceiver(t, "the next alert's opening while the audit receiver is down", func(_, _ int, ps []contract.Payload) bool {
		return slices.Equal(forAlert(ps, id), []string{"opened", "resolved", "opened"})
	})
	s.audit.setMode(modeAccept)
	s.audit.waitReceiver(t, "the resolve, then the next alert", func(_, _ int, ps []contract.Payload) bool {
		return slices.Equal(forAlert(ps, id), []string{"opened", "resolved", "opened"})
	})
	_, _, _, _, audited, _ := s.audit.snapshot()
	if p := audited[len(audited)-1].Alert.Pipeline; p == nil || p.ID != 19212 {
		t.Errorf("the audit receiver's last notification is of pipeline %+v, want the new alert's 19212", p)
	}
	s.mustSignal(teamPayload(t, 1921, "team-b/api", 19213, "success"))
	s.waitClosed(id)
	recordHistory(t, "next-alert-while-a-receiver-is-down", id)
}

// A routing that fails at every try (here it panics) leaves a new alert
// with no receiver: once the routing's retries are spent, its opening goes
// to the root receiver, every integration of it, marked routing_failed,
// instead of to nobody.
func TestAPageWhoseRoutingFailsForGoodReachesTheRootReceiver(t *testing.T) {
	t.Parallel() // own task queue and project ids
	audit, auditSrv := newScriptedReceiver(t, routingSecret)
	sinks := activities.NewRoutedSinks(slog.New(slog.DiscardHandler), nil, nil, activities.Routing{
		Route: func(route.Labels) []string { panic("the routing tree is broken") },
		Receivers: map[string]activities.Receiver{
			"audit": {activities.IntegrationWebhook: webhook.New(auditSrv.URL+audit.path, routingSecret, http.DefaultClient)},
		},
		Root: "audit",
	})
	s := newStackOf(t, &stack{sinks: sinks}, workflows.Input{})
	a := s.mustSignal(teamPayload(t, 1991, "team-r/broken-routing", 19910, "failed"))
	// The routing's local activity retries for a minute first.
	var opened *contract.Payload
	err := poll(context.Background(), 3*time.Minute, func() error {
		for _, p := range accepted(audit) {
			if p.Alert.ID == a.AlertID && p.Kind == "opened" {
				opened = &p
				return nil
			}
		}
		return fmt.Errorf("the root receiver has not heard %s open", a.AlertID)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !opened.RoutingFailed {
		t.Fatalf("the opening reached the root receiver unmarked: %+v", opened)
	}
}
