package alertmodel

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/alertflow/alertflow/alert"
)

// Branch predicts what the running system does with the deliveries of a
// branch, for the end-to-end tests and the soak to compare alertflow with: which
// answer the intake gives, which alert (run) each delivery lands in, and
// the state that alert ends in. It decides nothing about the rules itself:
// each event goes to GitLab, the one reference model of the
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
// pipeline delivered after a resolve opens the next alert, in the closing
// run too, after whatever else reached it: the closing run then carries it
// into a fresh alert (continue-as-new), exactly as a fresh start would. One the model says opens nothing (stale after the resolve)
// would be recorded by the closing run in the fast world and start a run
// with no alert in the slow one; the generators never send one, and the
// model refuses it so a generator change cannot make a test flaky by
// accident. A success delivered after the resolve may also reach the
// closing run and move the memory it hands on; that is why the check
// leaves memory out.

// NewestRules is the rules version the intake starts alerts with
// (workflows.CurrentRevision's, which a test there holds to this).
const NewestRules = alert.RulesInsight

func (m *Branch) rules() alert.Rules {
	r := m.Rules
	if r.Version == 0 {
		r.Version = NewestRules
	}
	return r
}

// Answer is what the intake must answer to one delivery.
type Answer int

const (
	// AnswerSignaled: a bad pipeline always, anything else while an alert
	// is open.
	AnswerSignaled Answer = iota
	// AnswerNone: a success on a branch that never had an alert.
	AnswerNone
	// AnswerEither: a success after the alert resolved, which may still
	// reach the closing run (signaled) or find it gone (none).
	AnswerEither
)

// Branch is the model of one branch: its latest alert.
type Branch struct {
	// sinceResolve are the deliveries since the alert resolved, which the
	// closing run may still have taken.
	sinceResolve []alert.Event
	// Resent counts deliveries sent again after an answer (a 503 while
	// the server was down) that did not say whether the first copy
	// arrived: each may have been applied and then found a duplicate.
	Resent int
	// Limits and Rules are the alerts' settings, as the intake starts
	// them: zero limits are the defaults, and zero rules are NewestRules
	// with no hold.
	Limits alert.Limits
	Rules  alert.Rules
	// alert is the branch's latest alert; nil until a bad pipeline
	// reached the branch and a workflow started under its ID.
	Alert *GitLab
	// alerts counts the alerts opened on the branch so far.
	Alerts int
	// exact is false once a burst reached the alert: of how its events
	// split between applied and stale, only the sum is known.
	Exact bool
	// newestDelivered is the highest pipeline id delivered to the branch.
	NewestDelivered int64
	// clock is the model's time, a second a delivery; times are not
	// compared with alertflow's.
	clock time.Time
}

// Started reports whether a workflow exists under the branch's ID.
func (m *Branch) Started() bool { return m.Alert != nil }

// Open reports whether the branch's alert is open: its run is running and
// takes every delivery.
func (m *Branch) Open() bool {
	return m.Alert != nil && m.Alert.Status() != alert.StatusResolved
}

// Newest is the pipeline the branch's alert is about.
func (m *Branch) Newest() int64 {
	id, _ := m.Alert.Cause()
	return id
}

// Deliver applies one delivery of ev, in order, and says what the intake
// must answer.
func (m *Branch) Deliver(ev alert.Event) Answer {
	m.NewestDelivered = max(m.NewestDelivered, ev.Pipeline.ID)
	m.clock = m.clock.Add(time.Second)
	switch {
	case m.Open():
		m.Alert.Apply(ev, m.clock)
		return AnswerSignaled
	case !opens(ev) && !m.Started():
		return AnswerNone
	case !opens(ev):
		// It may reach the closing run, which applies it (the fast world).
		m.sinceResolve = append(m.sinceResolve, ev)
		return AnswerEither
	}
	// No alert, or a resolved one: the intake starts a run (or the closing
	// run continues as new) with what the ID remembers.
	var mem alert.Memory
	if m.Alert != nil {
		mem = m.Alert.Memory()
		// In the fast world the closing run has taken what came since the
		// resolve, and must find this event reopening too: a cancel that
		// a newer pipeline's hook superseded there opens nothing, while a
		// fresh run, which never saw that hook, would open an alert.
		fast := m.Alert.Clone()
		for _, e := range m.sinceResolve {
			fast.Apply(e, m.clock)
		}
		if out := fast.Apply(ev, m.clock); out != alert.OutcomeReopen {
			panic(fmt.Sprintf("model: #%d %s after the alert resolved is %s in the run that resolved, after %d deliveries since: what it does would depend on timing (see the comment of Branch)",
				ev.Pipeline.ID, ev.Pipeline.Status, out, len(m.sinceResolve)))
		}
	}
	next := NewFor(m.rules(), m.Limits, mem)
	if out := next.Apply(ev, m.clock); out != alert.OutcomeOpened && out != alert.OutcomeHeld {
		panic(fmt.Sprintf("model: #%d %s after the alert resolved is %s: what it does would depend on timing (see the comment of Branch)", ev.Pipeline.ID, ev.Pipeline.Status, out))
	}
	m.Alert, m.Alerts, m.Exact, m.sinceResolve = next, m.Alerts+1, true, nil
	return AnswerSignaled
}

// Clone is a copy of m that moves on apart from it.
func (m *Branch) Clone() *Branch {
	c := *m
	c.sinceResolve = slices.Clone(m.sinceResolve)
	if m.Alert != nil {
		c.Alert = m.Alert.Clone()
	}
	return &c
}

// Burst applies failures that are all newer than anything the branch has
// seen, each delivered twice, all at once in any order. The model applies
// them oldest first, and, to be sure the order does not matter, newest
// first too: both must end alike but for how the first copies split
// between applied and stale, which only the real order decides.
func (m *Branch) Burst(events []alert.Event) {
	for _, ev := range events {
		if ev.Pipeline.Status != alert.PipelineFailed || ev.Pipeline.ID <= m.NewestDelivered {
			panic(fmt.Sprintf("model: burst event #%d %s is not a failure newer than #%d", ev.Pipeline.ID, ev.Pipeline.Status, m.NewestDelivered))
		}
	}
	byID := slices.SortedFunc(slices.Values(events), func(a, b alert.Event) int { return cmp.Compare(a.Pipeline.ID, b.Pipeline.ID) })
	reversed := m.Clone()
	for i := range byID {
		for range 2 {
			m.Deliver(byID[i])
			reversed.Deliver(byID[len(byID)-1-i])
		}
	}
	if a, b := SplitUnknown(m.Alert.Outline()), SplitUnknown(reversed.Alert.Outline()); a.Diff(b) != "" || m.Alerts != reversed.Alerts {
		panic(fmt.Sprintf("model: the order of a burst matters beyond applied and stale: %+v (%d alerts) oldest first, %+v (%d alerts) newest first",
			a, m.Alerts, b, reversed.Alerts))
	}
	m.Exact = false
}

// SplitUnknown folds the stale events of an outline into the applied ones.
func SplitUnknown(o Outline) Outline {
	o.Counts.Applied += o.Counts.Stale
	o.Counts.Stale = 0
	return o
}

// Check compares the state of the run of the branch's open alert with the
// model.
func (m *Branch) Check(st *alert.State) error {
	got, want := OutlineOf(st), m.Alert.Outline()
	// See the comment above: a success may move the memory in the fast world.
	got.Memory, want.Memory = alert.Memory{}, alert.Memory{}
	if !m.Exact {
		got, want = SplitUnknown(got), SplitUnknown(want)
	}
	// A delivery sent again after a 503 whose first copy had arrived is
	// one duplicate more, recorded and counted as such.
	if extra := got.Counts.Duplicates - want.Counts.Duplicates; extra > 0 && extra <= m.Resent && got.Counts.Events-want.Counts.Events == extra {
		got.Counts.Duplicates, got.Counts.Events, got.Recorded = got.Counts.Duplicates-extra, got.Counts.Events-extra, got.Recorded-extra
	}
	if diff := got.Diff(want); diff != "" {
		return fmt.Errorf("alert %s: %s", PipelineOf(st), diff)
	}
	return nil
}

// CheckResolved compares the final state of the run of the branch's
// resolved alert with the model: what resolved it. Its counts are not the
// model's when a delivery after the resolve reached it (the fast world).
func (m *Branch) CheckResolved(st *alert.State) error {
	got, want := OutlineOf(st), m.Alert.Outline()
	if got.Status != want.Status || got.Cause != want.Cause || got.CauseStatus != want.CauseStatus || got.Resolution != want.Resolution {
		return fmt.Errorf("completed %s by %s (%q), want %s by #%d %s (%q)",
			got.Status, PipelineOf(st), got.Resolution, want.Status, want.Cause, want.CauseStatus, want.Resolution)
	}
	return nil
}

// PipelineOf names the pipeline a state is about, as "#<id> <status>".
func PipelineOf(st *alert.State) string {
	if st.Pipeline == nil {
		return "none"
	}
	return fmt.Sprintf("#%d %s", st.Pipeline.ID, st.Pipeline.Status)
}

// opens says whether the intake may start an alert for the event.
func opens(ev alert.Event) bool { return alert.RouteOf(ev.Pipeline.Status) == alert.RouteOpen }

// DeleteBranch applies a push that deleted the branch, in order, and says
// what the intake must answer: the branch's open alert resolves.
func (m *Branch) DeleteBranch(by string) Answer {
	m.clock = m.clock.Add(time.Second)
	switch {
	case m.Open():
		m.Alert.DeleteBranch(by, m.clock)
		return AnswerSignaled
	case m.Started():
		return AnswerEither // the closing run may still take it
	}
	return AnswerNone
}

// Acknowledge applies someone acknowledging the branch's open alert.
func (m *Branch) Acknowledge(by, note string) error {
	m.clock = m.clock.Add(time.Second)
	_, err := m.Alert.Acknowledge(by, note, m.clock)
	return err
}

// Resolve applies someone resolving the branch's open alert by hand.
func (m *Branch) Resolve(by, reason string) error {
	m.clock = m.clock.Add(time.Second)
	return m.Alert.Resolve(by, reason, m.clock)
}
