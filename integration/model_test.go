package integration

import (
	"fmt"

	"github.com/alertflow/alertflow/alert"
)

// This file is the reference model the reliability tests compare alertflow
// with: a few lines per rule of docs/design.md, written without alert.State so
// that a mistake in the domain code is not copied into the expectation.
//
// The model is sequential: it sees the deliveries of one branch (project
// and ref) in the order the server received their signals. A test makes
// that order known by sending each branch's deliveries one after another,
// except in two cases the model handles without knowing the order:
//   - the two copies of one delivery (GitLab's resend) sent at once: they
//     are identical, so one applies and the other is a duplicate either way;
//   - a burst of bad pipelines with ids newer than anything the branch has
//     seen, every one sent twice, all at once (see burst).
//
// One more thing is timing-dependent in alertflow itself: after the success
// that resolves an alert, its run stays alive until the resolved
// notification is delivered, so a delivery that follows may reach that
// run ("fast") or find it closed ("slow"). The model predicts the slow
// world. The fast world ends in the same final state only if every bad
// pipeline delivered after a resolve is newer than the resolving success:
// the closing run then carries it into a fresh alert (continue-as-new),
// exactly as a fresh start would. An older one would be stale in the fast
// world and open a new alert in the slow one; the generators never send
// one, and the model refuses it (mustFresh) so a generator change cannot
// make the test flaky by accident.

// pipelineEvent is one pipeline state of a branch; both copies of a
// delivery carry the same one.
type pipelineEvent struct {
	pipeline int64
	status   string
}

func (e pipelineEvent) bad() bool { return alert.RouteOf(e.status) == alert.RouteOpen }

func (e pipelineEvent) severity() alert.Severity {
	s, _ := alert.SeverityOf(e.status)
	return s
}

func (e pipelineEvent) String() string { return fmt.Sprintf("#%d %s", e.pipeline, e.status) }

// severityRank orders severities as rule 1 of docs/design.md does.
func severityRank(s alert.Severity) int {
	switch s {
	case alert.SeverityLow:
		return 1
	case alert.SeverityMedium:
		return 2
	case alert.SeverityHigh:
		return 3
	}
	return 0
}

func maxSeverity(a, b alert.Severity) alert.Severity {
	if severityRank(b) > severityRank(a) {
		return b
	}
	return a
}

// expectedAnswer is what the intake must answer to one delivery.
type expectedAnswer int

const (
	// answerSignaled: a bad pipeline always, a success while an alert is open.
	answerSignaled expectedAnswer = iota
	// answerNone: a success on a branch that never had an alert.
	answerNone
	// answerEither: a success after the alert resolved, which may still
	// reach the closing run (signaled) or find it gone (none).
	answerEither
)

// incident is what the model expects of the open alert of a branch.
type incident struct {
	newest   pipelineEvent
	severity alert.Severity
	// peakLo and peakHi bound the peak severity: equal when the order of
	// every event is known, apart after a burst, whose first-arriving event
	// may raise the peak before a newer one of the burst lowers severity.
	peakLo, peakHi alert.Severity
	// Counts of the alert's run, as alert.Counts tallies them. unique is
	// applied+stale; when exact is false (after a burst) only unique is
	// known, not how it splits.
	events, applied, stale, duplicates, unique int
	exact                                      bool
	seen                                       map[pipelineEvent]bool
}

// branchModel is the model of one branch.
type branchModel struct {
	// started: some bad pipeline has reached the branch, so a workflow
	// exists under its ID.
	started bool
	// alerts counts the alerts opened on the branch so far.
	alerts int
	// open is the open alert, nil when there is none.
	open *incident
	// resolvedBy is the success that resolved the last alert.
	resolvedBy pipelineEvent
	// newestDelivered is the highest pipeline id delivered to the branch.
	newestDelivered int64
}

func newIncident() *incident {
	return &incident{exact: true, seen: map[pipelineEvent]bool{}}
}

// mustFresh refuses a bad pipeline after a resolve that is not newer than
// the resolving success: see the file comment.
func (m *branchModel) mustFresh(e pipelineEvent) {
	if m.open == nil && m.started && e.pipeline <= m.resolvedBy.pipeline {
		panic(fmt.Sprintf("model: %s after the resolve by %s: its outcome would depend on timing", e, m.resolvedBy))
	}
}

// deliver applies one delivery, in order, and says what the intake must
// answer.
func (m *branchModel) deliver(e pipelineEvent) expectedAnswer {
	m.newestDelivered = max(m.newestDelivered, e.pipeline)
	if e.bad() {
		m.mustFresh(e)
		if m.open == nil {
			// No alert, or a resolved one: a new alert (a new run, or the
			// closing run continuing as new) opens with this pipeline.
			m.started = true
			m.alerts++
			m.open = newIncident()
			m.open.peakLo, m.open.peakHi = e.severity(), e.severity()
		}
		inc := m.open
		inc.events++
		switch {
		case inc.seen[e]:
			inc.duplicates++
		case e.pipeline < inc.newest.pipeline:
			inc.seen[e] = true
			inc.stale++
			inc.unique++
		default:
			inc.seen[e] = true
			inc.applied++
			inc.unique++
			inc.newest, inc.severity = e, e.severity()
			inc.peakLo, inc.peakHi = maxSeverity(inc.peakLo, e.severity()), maxSeverity(inc.peakHi, e.severity())
		}
		return answerSignaled
	}
	// A success.
	if m.open == nil {
		if !m.started {
			return answerNone
		}
		return answerEither
	}
	inc := m.open
	inc.events++
	switch {
	case inc.seen[e]:
		inc.duplicates++
	case e.pipeline < inc.newest.pipeline:
		inc.seen[e] = true
		inc.stale++
		inc.unique++
	default:
		// Rule 4: the newest pipeline (a newer one, or the newest one
		// retried) succeeded.
		m.open, m.resolvedBy = nil, e
	}
	return answerSignaled
}

// burst applies bad pipelines that are all newer than anything the branch
// has seen, each delivered twice, all at once in any order. Whatever the
// order, the newest of them is never stale, so it decides severity; every
// event is first applied or stale and then a duplicate; only the peak and
// how the first copies split between applied and stale depend on the order.
func (m *branchModel) burst(events []pipelineEvent) {
	newest := events[0]
	var highest alert.Severity
	for _, e := range events {
		if !e.bad() || e.pipeline <= m.newestDelivered {
			panic(fmt.Sprintf("model: burst event %s is not a bad pipeline newer than #%d", e, m.newestDelivered))
		}
		m.mustFresh(e)
		if e.pipeline > newest.pipeline {
			newest = e
		}
		highest = maxSeverity(highest, e.severity())
	}
	for _, e := range events {
		m.newestDelivered = max(m.newestDelivered, e.pipeline)
	}
	if m.open == nil {
		m.started = true
		m.alerts++
		m.open = newIncident()
	}
	inc := m.open
	inc.exact = false
	inc.events += 2 * len(events)
	inc.duplicates += len(events)
	inc.unique += len(events)
	for _, e := range events {
		inc.seen[e] = true
	}
	inc.newest, inc.severity = newest, newest.severity()
	inc.peakLo = maxSeverity(inc.peakLo, newest.severity())
	inc.peakHi = maxSeverity(inc.peakHi, highest)
}

// check compares the state of a branch's current run with the model's
// open alert.
func (inc *incident) check(st *alert.State) error {
	c := st.Counts
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if st.Status != alert.StatusOpen {
		add("status %q, want open", st.Status)
	}
	if st.Pipeline == nil || st.Pipeline.ID != inc.newest.pipeline || st.Pipeline.Status != inc.newest.status {
		add("newest pipeline %s, want %s", pipelineOf(st), inc.newest)
	}
	if st.Severity != inc.severity {
		add("severity %s, want %s", st.Severity, inc.severity)
	}
	if severityRank(st.PeakSeverity) < severityRank(inc.peakLo) || severityRank(st.PeakSeverity) > severityRank(inc.peakHi) {
		add("peak severity %s, want %s..%s", st.PeakSeverity, inc.peakLo, inc.peakHi)
	}
	if c.Events != inc.events || c.Duplicates != inc.duplicates || c.Applied+c.Stale != inc.unique || c.Ignored != 0 {
		add("counts %+v, want %d events, %d duplicates, %d applied or stale, none ignored", c, inc.events, inc.duplicates, inc.unique)
	}
	if inc.exact && (c.Applied != inc.applied || c.Stale != inc.stale) {
		add("counts %+v, want %d applied and %d stale", c, inc.applied, inc.stale)
	}
	if len(st.Timeline) != c.Events || st.TimelineDropped != 0 {
		add("%d timeline entries (%d dropped) for %d events", len(st.Timeline), st.TimelineDropped, c.Events)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%v", problems)
	}
	return nil
}

func pipelineOf(st *alert.State) string {
	if st.Pipeline == nil {
		return "none"
	}
	return pipelineEvent{st.Pipeline.ID, st.Pipeline.Status}.String()
}
