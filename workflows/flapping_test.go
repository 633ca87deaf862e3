package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
)

// Workflow tests of flapping, in the SDK's test environment, which skips
// time ahead. Each alert starts on an ID whose last alert left three
// resolves within the last hour in its memory.

func flappingMemory() *alert.Memory {
	return &alert.Memory{
		Verdict: alert.Mark{Family: 30, ID: 30}, Closed: alert.Mark{Family: 30, ID: 30}, Newest: 30,
		Resolves: []time.Time{t0.Add(-30 * time.Minute), t0.Add(-20 * time.Minute), t0.Add(-10 * time.Minute)},
	}
}

func flappingInput() Input {
	return Input{Revision: CurrentRevision, Rules: alert.Rules{FlapThreshold: 3, FlapWindow: time.Hour}}
}

// flips sends failures and successes in turn, from pipeline 31 on, one
// every five minutes from the first second, and returns when the last was
// sent.
func (e *alertEnv) flips(n int) time.Duration {
	at := time.Second
	for i := range n {
		status := "failed"
		if i%2 == 1 {
			status = "success"
		}
		e.signalAt(at, pipelineEvent(int64(31+i), status))
		at += 5 * time.Minute
	}
	return at - 5*time.Minute
}

func TestAFlappingAlertSendsFlappingThenStableAndNothingInBetween(t *testing.T) {
	e := newAlertEnvWithRecall(t, flappingMemory())
	e.SetStartTime(t0)
	last := e.flips(6) // red, green, red, green, red, green
	e.stateAt(t, last+time.Minute, func(s *alert.State) {
		if s.Status != alert.StatusOpen || s.FlappedAt.IsZero() || s.GreenSince.IsZero() || s.Flips != 5 {
			t.Errorf("after the flips: %s, flapped at %v, green since %v, %d flips", s.Status, s.FlappedAt, s.GreenSince, s.Flips)
		}
	})
	e.stateAt(t, last+time.Hour-time.Minute, func(s *alert.State) {
		if s.Status != alert.StatusOpen {
			t.Errorf("a minute before the window is over: %s, want open", s.Status)
		}
	})
	e.ExecuteWorkflow(AlertWorkflow, flappingInput())
	s := e.result(t)
	stable := t0.Add(last + time.Hour)
	if s.Status != alert.StatusResolved || s.ResolvedBy != alert.ResolvedByAlertflow || !s.ResolvedAt.Equal(stable) {
		t.Fatalf("ended %s by %s at %v, want resolved by alertflow at %v", s.Status, s.ResolvedBy, s.ResolvedAt, stable)
	}
	if want := []notify.Kind{notify.KindFlapping, notify.KindStable}; !equalKinds(e.kinds(), want) {
		t.Fatalf("notifications %v, want %v", e.kinds(), want)
	}
	// The next alert on the ID starts from this memory.
	if n := len(s.Memory.Resolves); n == 0 || !s.Memory.Resolves[n-1].Equal(stable) {
		t.Fatalf("memory handed on %v, want it to end with the stable resolve", s.Memory.Resolves)
	}
}

func TestAFlappingAlertResolvedByHandEndsWithResolved(t *testing.T) {
	e := newAlertEnvWithRecall(t, flappingMemory())
	e.SetStartTime(t0)
	last := e.flips(3) // red, green, red
	e.signalActionAt(last+time.Minute, SignalAcknowledge, alert.Acknowledgement{By: "alice"})
	e.signalActionAt(last+2*time.Minute, SignalResolve, alert.Resolution{By: "bob", Reason: "quarantined the flaky test"})
	e.ExecuteWorkflow(AlertWorkflow, flappingInput())
	s := e.result(t)
	if s.Status != alert.StatusResolved || s.ResolvedBy != "bob" || s.FlappedAt.IsZero() {
		t.Fatalf("ended %s by %s, flapped at %v", s.Status, s.ResolvedBy, s.FlappedAt)
	}
	want := []notify.Kind{notify.KindFlapping, notify.KindAcknowledged, notify.KindResolved}
	if !equalKinds(e.kinds(), want) {
		t.Fatalf("notifications %v, want %v", e.kinds(), want)
	}
}

func TestAnEarlierRevisionIgnoresTheFlappingSettings(t *testing.T) {
	e := newAlertEnvWithRecall(t, flappingMemory())
	e.SetStartTime(t0)
	e.flips(2)
	in := flappingInput()
	in.Revision = RevisionRouted
	e.ExecuteWorkflow(AlertWorkflow, in)
	s := e.result(t)
	if !s.FlappedAt.IsZero() || s.Rules.FlapThreshold != 0 || len(s.Memory.Resolves) != 3 {
		t.Fatalf("flapped at %v under rules %+v, memory %v: want the settings dropped and the memory as recalled", s.FlappedAt, s.Rules, s.Memory.Resolves)
	}
	if want := []notify.Kind{notify.KindOpened, notify.KindResolved}; !equalKinds(e.kinds(), want) {
		t.Fatalf("notifications %v, want %v", e.kinds(), want)
	}
}

func TestAFlappingAlertKeepsItsStableTimeAcrossContinueAsNew(t *testing.T) {
	e := newAlertEnvWithRecall(t, flappingMemory())
	e.SetStartTime(t0)
	last := e.flips(2) // red, green
	e.RegisterDelayedCallback(func() { e.SetContinueAsNewSuggested(true) }, last+time.Minute)
	e.signalAt(last+time.Minute+time.Second, pipelineEvent(33, "success"))
	e.ExecuteWorkflow(AlertWorkflow, flappingInput())
	next := continued(t, e)
	green := next.State.GreenSince
	if green.IsZero() || !green.Equal(t0.Add(last)) {
		t.Fatalf("carried green since %v, want %v", green, t0.Add(last))
	}

	e2 := newAlertEnv(t)
	e2.SetStartTime(green.Add(10 * time.Minute))
	e2.ExecuteWorkflow(AlertWorkflow, *next)
	s := e2.result(t)
	if !s.ResolvedAt.Equal(green.Add(time.Hour)) || s.Timeline[len(s.Timeline)-1].Kind != alert.OutcomeStable {
		t.Fatalf("resolved at %v (%s), want stable at %v", s.ResolvedAt, s.Resolution, green.Add(time.Hour))
	}
	if want := []notify.Kind{notify.KindStable}; !equalKinds(e2.kinds(), want) {
		t.Fatalf("the continued run notified %v, want %v", e2.kinds(), want)
	}
}

func TestTheWebUIDetailsShowAFlappingAlertAndWhenItWillBeStable(t *testing.T) {
	s := alert.NewWith(alert.DefaultLimits(), alert.Rules{Version: alert.RulesGitLab, FlapThreshold: 3, FlapWindow: time.Hour}, *flappingMemory())
	s.Apply(pipelineEvent(31, "failed"), t0)
	if got := detailsOf(s); !strings.Contains(got, "**Flapping** since 2026-11-25T12:00:00Z, flips: 0\n\n") {
		t.Fatalf("details of a flapping alert:\n%s", got)
	}
	s.Apply(pipelineEvent(32, "success"), t0.Add(time.Minute))
	want := "**Flapping** since 2026-11-25T12:00:00Z, flips: 1; green since 2026-11-25T12:01:00Z, stable at 2026-11-25T13:01:00Z unless it fails again"
	if got := detailsOf(s); !strings.Contains(got, want) {
		t.Fatalf("details of a flapping alert gone green:\n%s\nwant the line %q", got, want)
	}
	plain := alert.NewWith(alert.DefaultLimits(), alert.Rules{Version: alert.RulesGitLab}, alert.Memory{})
	plain.Apply(pipelineEvent(31, "failed"), t0)
	if got := detailsOf(plain); strings.Contains(got, "Flapping") {
		t.Fatalf("details of an alert that is not flapping mention it:\n%s", got)
	}
}
