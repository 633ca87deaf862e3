package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"google.golang.org/protobuf/proto"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	routeconfig "github.com/alertflow/alertflow/config"
	"github.com/alertflow/alertflow/notify/pagerduty"
	"github.com/alertflow/alertflow/notify/pagerduty/pagerdutytest"
	"github.com/alertflow/alertflow/notify/webhook"
	"github.com/alertflow/alertflow/notify/webhook/contract"
	"github.com/alertflow/alertflow/route"
	"github.com/alertflow/alertflow/workflows"
)

// routingFile pages team-a's HIGH alerts and tells team-a's chat of all of
// them; everything else goes to the root, audit.
const routingFile = `
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
route:
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
	// PagerDuty throttles the first event: it is retried, and arrives
	// before the events after it.
	pd := pagerdutytest.New(t, pagerdutytest.RateLimitOnce(1, ""))
	chat, chatSrv := newScriptedReceiver(t, routingSecret)
	audit, auditSrv := newScriptedReceiver(t, routingSecret)
	vars := map[string]string{
		"PD_KEY": routingKey, "PD_URL": pd.URL(), "SECRET": routingSecret,
		"CHAT_URL": chatSrv.URL + chat.path, "AUDIT_URL": auditSrv.URL + audit.path,
	}
	cfg, err := routeconfig.Parse("routing.yaml", []byte(routingFile), func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	receivers := map[string]activities.Receiver{}
	for _, r := range cfg.Receivers {
		rcv := activities.Receiver{}
		if r.Webhook != nil {
			rcv[activities.IntegrationWebhook] = webhook.New(r.Webhook.URL.Value(), r.Webhook.Secret.Value(), http.DefaultClient)
		}
		if r.PagerDuty != nil {
			rcv[activities.IntegrationPagerDuty] = pagerduty.New(r.PagerDuty.URL, r.PagerDuty.RoutingKey.Value(), http.DefaultClient)
		}
		receivers[r.Name] = rcv
	}
	sinks := activities.NewRoutedSinks(slog.New(slog.DiscardHandler), nil, nil, activities.Routing{
		Route:     func(s alert.State) []string { return cfg.Route.Receivers(route.LabelsOf(s)) },
		Receivers: receivers,
	})
	// No hold, so that a skip opens at once.
	s := newStackOf(t, &stack{sinks: sinks}, workflows.Input{})
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
