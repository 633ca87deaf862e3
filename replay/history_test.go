package replay

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/internal/testkit"
)

// readRecorded reads a history the integration tests recorded.
func readRecorded(t *testing.T, name string) Run {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "histories", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	run, err := ParseRun(h.GetEvents(), "legacy")
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// The routing the integration tests recorded routed histories with: the
// default receiver of a worker without a file, or the routing files of
// the routing tests (a pager, a chat and an audit webhook); the
// escalation history was recorded when the test escalated after 2s.
const (
	recordedDefault = `
receivers:
  - name: default
    webhook: {url: "http://127.0.0.1:1/hook"}
route: {receiver: default}
`
	recordedReceivers = `
receivers:
  - name: pager
    pagerduty: {routing_key: "0123456789abcdef0123456789abcdef", url: "http://127.0.0.1:1/pd"}
  - name: chat
    webhook: {url: "http://127.0.0.1:1/chat"}
  - name: audit
    webhook: {url: "http://127.0.0.1:1/audit"}
`
	recordedRouting = recordedReceivers + `route:
  receiver: audit
  routes:
    - match: {project: "team-a/**", severity: [HIGH]}
      receiver: pager
      continue: true
    - match: {project: "team-a/**"}
      receiver: chat
`
	recordedEscalation = recordedReceivers + `route:
  receiver: chat
  routes:
    - match: {project: "team-a/**"}
      receiver: pager
      escalate_to: audit
      escalate_after: 2s
`
)

func policyOf(t *testing.T, file string) Policy {
	t.Helper()
	return PolicyOf(testkit.Routing(t, file, nil))
}

// TestSimulateOfRecordedHistoriesUnderTheirOwnPolicySendsWhatTheySent
// re-runs real recorded alerts, each under the routing it was recorded
// with: the replay must send exactly what the alert sent.
func TestSimulateOfRecordedHistoriesUnderTheirOwnPolicySendsWhatTheySent(t *testing.T) {
	for file, routing := range map[string]string{
		"auto-resolved.json":                         recordedDefault,
		"branch-deleted.json":                        recordedDefault,
		"child-and-parent-fail-then-resolve.json":    recordedDefault,
		"held-cancel-opens-after-the-hold.json":      recordedDefault,
		"routed-two-receivers.json":                  recordedRouting,
		"routed-severity-raise-adds-a-receiver.json": recordedRouting,
		"routed-escalated-then-acknowledged.json":    recordedEscalation,
	} {
		t.Run(file, func(t *testing.T) {
			run := readRecorded(t, file)
			h := History{ID: "recorded", Runs: []Run{run}}
			sent := h.Sent()
			if len(sent) == 0 {
				t.Fatal("the recording sent nothing: it cannot tell a replay that sends nothing")
			}
			last := run.Start
			for _, ev := range run.Events {
				last = ev.At
			}
			sim := Simulation{Policy: policyOf(t, routing), Until: last.Add(time.Hour)}
			would, _, err := sim.Simulate(h)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(receiverSets(would), receiverSets(sent)) {
				t.Fatalf("replayed\n%v\nrecorded\n%v", would, sent)
			}
		})
	}
}

// receiverSets sorts each notice's receivers, whose order is the order
// parallel deliveries happened in.
func receiverSets(list []Notice) []Notice {
	out := make([]Notice, len(list))
	for i, n := range list {
		out[i] = Notice{Kind: n.Kind, Receivers: receiverSet(n.Receivers)}
	}
	return out
}

func TestParseRunCountsNotificationsOfRecordedRevisionsBeforeRoutingAsTheLegacyReceiver(t *testing.T) {
	run := readRecorded(t, filepath.Join("v0", "open-change-resolve.json"))
	h := History{Runs: []Run{run}}
	want := []Notice{notice("opened", "legacy"), notice("severity_changed", "legacy"), notice("resolved", "legacy")}
	if got := h.Sent(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Sent = %v, want %v", got, want)
	}
	if len(run.Events) == 0 || run.Events[0].Name != "pipeline" || run.Continued {
		t.Fatalf("events %v, continued %v: want the pipeline signals of a run the intake started", run.Events, run.Continued)
	}
}
