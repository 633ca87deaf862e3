package integration

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alert/alertmodel"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/workflows"
)

// This file predicts what the running system does with the deliveries of
// a branch, for the reliability tests to compare alertflow with: which
// answer the intake gives, which alert (run) each delivery lands in, and
// the state that alert ends in. It decides nothing about the rules itself:
// each event goes to alertmodel.GitLab, the one reference model of the
// rules every new alert runs, which the domain's own model test (alert/)
// checks alert.State against. What is left here is end to end: the
// intake starts an alert only for a bad pipeline, a resolved alert's run
// completes and the next bad pipeline starts another from its memory, and
// the check of a live run against the model.
//
// The model is sequential: it sees the deliveries of one branch (project
// and ref) in the order the server received their signals. A test makes
// that order known by sending each branch's deliveries one after another,
// except in two cases the model handles without knowing the order:
//   - the two copies of one delivery (GitLab's resend) sent at once: they
//     are identical, so one applies and the other is a duplicate either way;
//   - a burst of failures with ids newer than anything the branch has
//     seen, every one sent twice, all at once (see burst).
//
// One more thing is timing-dependent in alertflow itself: after the success
// that resolves an alert, its run stays alive until the resolved
// notification is delivered, so a delivery that follows may reach that
// run ("fast") or find it closed ("slow"). The model predicts the slow
// world. The fast world ends in the same final state only if every bad
// pipeline delivered after a resolve opens the next alert: the closing run
// then carries it into a fresh alert (continue-as-new), exactly as a fresh
// start would. One the model says opens nothing (stale after the resolve)
// would be recorded by the closing run in the fast world and start a run
// with no alert in the slow one; the generators never send one, and the
// model refuses it so a generator change cannot make a test flaky by
// accident. A success delivered after the resolve may also reach the
// closing run and move the memory it hands on; that is why the check
// leaves memory out.

// The alerts of these tests run as the intake configures them when given
// no workflow settings: default limits, no hold, and the rules of the
// revision it starts alerts with.
var (
	modelLimits = alert.Limits{}
	modelRules  = alert.Rules{Version: workflows.CurrentRevision.Rules()}
)

// pipelineEvent is one pipeline state of a branch; both copies of a
// delivery carry the same one.
type pipelineEvent struct {
	pipeline int64
	status   string
}

// opens says whether the intake may start an alert for the event.
func (e pipelineEvent) opens() bool { return alert.RouteOf(e.status) == alert.RouteOpen }

func (e pipelineEvent) String() string { return fmt.Sprintf("#%d %s", e.pipeline, e.status) }

// intakeEvent is the event the intake hands an alert for a delivery of
// body with the given Idempotency-Key: what the model applies.
func intakeEvent(t *testing.T, body []byte, key string) alert.Event {
	t.Helper()
	ev, isPipeline, err := ingress.ParsePipelineEvent(body)
	if err != nil || !isPipeline {
		t.Fatalf("the intake would not take the body (pipeline event %v): %v", isPipeline, err)
	}
	ev.IdempotencyKey = key
	return ev
}

// expectedAnswer is what the intake must answer to one delivery.
type expectedAnswer int

const (
	// answerSignaled: a bad pipeline always, anything else while an alert
	// is open.
	answerSignaled expectedAnswer = iota
	// answerNone: a success on a branch that never had an alert.
	answerNone
	// answerEither: a success after the alert resolved, which may still
	// reach the closing run (signaled) or find it gone (none).
	answerEither
)

// branchModel is the model of one branch: its latest alert.
type branchModel struct {
	// alert is the branch's latest alert; nil until a bad pipeline
	// reached the branch and a workflow started under its ID.
	alert *alertmodel.GitLab
	// alerts counts the alerts opened on the branch so far.
	alerts int
	// exact is false once a burst reached the alert: of how its events
	// split between applied and stale, only the sum is known.
	exact bool
	// newestDelivered is the highest pipeline id delivered to the branch.
	newestDelivered int64
	// clock is the model's time, a second a delivery; times are not
	// compared with alertflow's.
	clock time.Time
}

// started reports whether a workflow exists under the branch's ID.
func (m *branchModel) started() bool { return m.alert != nil }

// open reports whether the branch's alert is open: its run is running and
// takes every delivery.
func (m *branchModel) open() bool {
	return m.alert != nil && m.alert.Status() != alert.StatusResolved
}

// newest is the pipeline the branch's alert is about.
func (m *branchModel) newest() int64 {
	id, _ := m.alert.Cause()
	return id
}

// deliver applies one delivery of ev, in order, and says what the intake
// must answer.
func (m *branchModel) deliver(ev alert.Event) expectedAnswer {
	e := pipelineEvent{ev.Pipeline.ID, ev.Pipeline.Status}
	m.newestDelivered = max(m.newestDelivered, e.pipeline)
	m.clock = m.clock.Add(time.Second)
	switch {
	case m.open():
		m.alert.Apply(ev, m.clock)
		return answerSignaled
	case !e.opens() && !m.started():
		return answerNone
	case !e.opens():
		return answerEither
	}
	// No alert, or a resolved one: the intake starts a run (or the closing
	// run continues as new) with what the ID remembers.
	var mem alert.Memory
	if m.alert != nil {
		mem = m.alert.Memory()
	}
	next := alertmodel.NewFor(modelRules, modelLimits, mem)
	if out := next.Apply(ev, m.clock); out != alert.OutcomeOpened && out != alert.OutcomeHeld {
		panic(fmt.Sprintf("model: %s after the alert resolved is %s: what it does would depend on timing (see model_test.go)", e, out))
	}
	m.alert, m.alerts, m.exact = next, m.alerts+1, true
	return answerSignaled
}

// clone is a copy of m that moves on apart from it.
func (m *branchModel) clone() *branchModel {
	c := *m
	if m.alert != nil {
		c.alert = m.alert.Clone()
	}
	return &c
}

// burst applies failures that are all newer than anything the branch has
// seen, each delivered twice, all at once in any order. The model applies
// them oldest first, and, to be sure the order does not matter, newest
// first too: both must end alike but for how the first copies split
// between applied and stale, which only the real order decides.
func (m *branchModel) burst(events []alert.Event) {
	for _, ev := range events {
		if ev.Pipeline.Status != alert.PipelineFailed || ev.Pipeline.ID <= m.newestDelivered {
			panic(fmt.Sprintf("model: burst event #%d %s is not a failure newer than #%d", ev.Pipeline.ID, ev.Pipeline.Status, m.newestDelivered))
		}
	}
	byID := slices.SortedFunc(slices.Values(events), func(a, b alert.Event) int { return cmp.Compare(a.Pipeline.ID, b.Pipeline.ID) })
	reversed := m.clone()
	for i := range byID {
		for range 2 {
			m.deliver(byID[i])
			reversed.deliver(byID[len(byID)-1-i])
		}
	}
	if a, b := splitUnknown(m.alert.Outline()), splitUnknown(reversed.alert.Outline()); a.Diff(b) != "" || m.alerts != reversed.alerts {
		panic(fmt.Sprintf("model: the order of a burst matters beyond applied and stale: %+v (%d alerts) oldest first, %+v (%d alerts) newest first",
			a, m.alerts, b, reversed.alerts))
	}
	m.exact = false
}

// splitUnknown folds the stale events of an outline into the applied ones.
func splitUnknown(o alertmodel.Outline) alertmodel.Outline {
	o.Counts.Applied += o.Counts.Stale
	o.Counts.Stale = 0
	return o
}

// check compares the state of the run of the branch's open alert with the
// model.
func (m *branchModel) check(st *alert.State) error {
	got, want := alertmodel.OutlineOf(st), m.alert.Outline()
	// See the file comment: a success may move the memory in the fast world.
	got.Memory, want.Memory = alert.Memory{}, alert.Memory{}
	if !m.exact {
		got, want = splitUnknown(got), splitUnknown(want)
	}
	if diff := got.Diff(want); diff != "" {
		return fmt.Errorf("alert %s: %s", pipelineOf(st), diff)
	}
	return nil
}

// checkResolved compares the final state of the run of the branch's
// resolved alert with the model: what resolved it. Its counts are not the
// model's when a delivery after the resolve reached it (the fast world).
func (m *branchModel) checkResolved(st *alert.State) error {
	got, want := alertmodel.OutlineOf(st), m.alert.Outline()
	if got.Status != want.Status || got.Cause != want.Cause || got.CauseStatus != want.CauseStatus || got.Resolution != want.Resolution {
		return fmt.Errorf("completed %s by %s (%q), want %s by #%d %s (%q)",
			got.Status, pipelineOf(st), got.Resolution, want.Status, want.Cause, want.CauseStatus, want.Resolution)
	}
	return nil
}

func pipelineOf(st *alert.State) string {
	if st.Pipeline == nil {
		return "none"
	}
	return pipelineEvent{st.Pipeline.ID, st.Pipeline.Status}.String()
}
