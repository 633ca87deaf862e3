package workflows

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// coverage is what recorded histories of AlertWorkflow hold: the signals
// and updates they took, the kinds of the timers they started, and
// whether one continued as new.
type coverage struct {
	signals, updates, timers map[string]bool
	continued                bool
}

func newCoverage() *coverage {
	return &coverage{signals: map[string]bool{}, updates: map[string]bool{}, timers: map[string]bool{}}
}

// add counts what history holds.
func (c *coverage) add(t *testing.T, history *historypb.History) {
	t.Helper()
	for _, ev := range history.GetEvents() {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			c.signals[ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName()] = true
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			c.updates[ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName()] = true
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			var kind string
			if summary := ev.GetUserMetadata().GetSummary(); summary != nil {
				if err := converter.GetDefaultDataConverter().FromPayload(summary, &kind); err != nil {
					t.Fatalf("timer summary of event %d: %v", ev.GetEventId(), err)
				}
			}
			c.timers[kind] = true
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
			c.continued = true
		}
	}
}

// missing names what AlertWorkflow's tables have and c does not: every
// signal of alertSignals, update of alertUpdates, timer kind of
// alertTimerKinds, and a continue-as-new.
func (c *coverage) missing() []string {
	var out []string
	for _, s := range alertSignals {
		if !c.signals[s.name] {
			out = append(out, "signal "+s.name)
		}
	}
	for _, u := range alertUpdates {
		if !c.updates[u.name] {
			out = append(out, "update "+u.name)
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(alertTimerKinds)) {
		if !c.timers[string(kind)] {
			out = append(out, "timer "+string(kind))
		}
	}
	if !c.continued {
		out = append(out, "a continue-as-new")
	}
	return out
}

// TestCurrentRevisionHistoriesCoverEverySignalUpdateAndTimerKind holds the
// replay test to what the current revision does: its recorded histories
// (the top level of testdata/histories) must together take every signal
// and update of AlertWorkflow, start a timer of every kind and continue
// as new once. A signal, update or timer kind added without an integration
// test that records it (recordHistory, then make histories) fails here.
func TestCurrentRevisionHistoriesCoverEverySignalUpdateAndTimerKind(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	cov := newCoverage()
	for _, f := range files {
		raw, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		history, err := client.HistoryFromJSON(raw, client.HistoryJSONOptions{})
		raw.Close()
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		started := history.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
		if started.GetWorkflowType().GetName() != "AlertWorkflow" {
			continue
		}
		var in Input
		if err := converter.GetDefaultDataConverter().FromPayloads(started.GetInput(), &in); err != nil {
			t.Fatalf("read the input of %s: %v", f, err)
		}
		if in.Revision != CurrentRevision {
			continue
		}
		cov.add(t, history)
	}
	if missing := cov.missing(); len(missing) > 0 {
		t.Errorf("no recorded history of the current revision has %v: record one in an integration test (recordHistory) and run make histories", missing)
	}
}

// The coverage check names exactly what is left out: here each signal,
// update and timer kind in turn, and the continue-as-new.
func TestHistoryCoverageNamesWhatNoHistoryHas(t *testing.T) {
	full := newCoverage()
	for _, s := range alertSignals {
		full.signals[s.name] = true
	}
	for _, u := range alertUpdates {
		full.updates[u.name] = true
	}
	for k := range alertTimerKinds {
		full.timers[string(k)] = true
	}
	full.continued = true
	if missing := full.missing(); len(missing) > 0 {
		t.Fatalf("everything there, yet missing %v", missing)
	}
	without := func(what string, drop func(c *coverage)) {
		c := newCoverage()
		c.signals, c.updates, c.timers, c.continued = maps.Clone(full.signals), maps.Clone(full.updates), maps.Clone(full.timers), full.continued
		drop(c)
		if got := c.missing(); !slices.Equal(got, []string{what}) {
			t.Errorf("without %s: missing %v, want [%s]", what, got, what)
		}
	}
	for name := range full.signals {
		without("signal "+name, func(c *coverage) { delete(c.signals, name) })
	}
	for name := range full.updates {
		without("update "+name, func(c *coverage) { delete(c.updates, name) })
	}
	for kind := range full.timers {
		without("timer "+kind, func(c *coverage) { delete(c.timers, kind) })
	}
	without("a continue-as-new", func(c *coverage) { c.continued = false })
}
