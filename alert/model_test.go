package alert_test

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alert/alertmodel"
)

// The model-based test of the first rules (RulesFirst, which alerts
// recorded before RulesGitLab still run): random sequences of pipeline
// events for one project and branch, with acknowledgements and resolutions
// by hand in between, are applied to a State and to refModel, a reference
// written from docs/design.md's rules 1 to 5 without any of the alert
// package's helpers. After every step both must agree, and the State must
// keep its invariants. What the two rule sets share (severities, dedup
// keys, the check of manual actions, counting, shrinking) comes from
// alertmodel, which also holds the reference of RulesGitLab
// (model_gitlab_test.go).
//
// Replay a failure with the seed it prints:
//
//	go test ./alert -run TestStateAgreesWithAReferenceModel -model.seed=N
//
// or ALERTFLOW_MODEL_SEED=N. -model.sequences raises the number of sequences
// for a longer soak.

var (
	modelSeedFlag      = flag.String("model.seed", "", "seed of the model-based test (default: $ALERTFLOW_MODEL_SEED, else a fixed seed)")
	modelSequencesFlag = flag.Int("model.sequences", 3000, "number of random sequences the model-based test runs")
)

const (
	defaultModelSeed = 20261125
	modelMaxSteps    = 40
	modelProject     = 42
	modelRef         = "main"
)

var modelT0 = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func modelSeed(t *testing.T) uint64 {
	t.Helper()
	raw, from := *modelSeedFlag, "-model.seed"
	if raw == "" {
		raw, from = os.Getenv("ALERTFLOW_MODEL_SEED"), "ALERTFLOW_MODEL_SEED"
	}
	if raw == "" {
		return defaultModelSeed
	}
	seed, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: want an unsigned integer", from, raw)
	}
	return seed
}

// opKind is what one step of a sequence does.
type opKind int

const (
	opEvent opKind = iota
	opAcknowledge
	opResolve
)

// op is one concrete step. Steps hold whole events rather than references
// to earlier steps, so any subsequence is still a valid sequence: that is
// what lets a failure shrink to its minimal step list.
type op struct {
	kind opKind
	ev   alert.Event
	by   string
	text string // the note of an acknowledgement, the reason of a resolution
	how  string // how the generator made the step, for the failure report
}

func (o op) String() string {
	switch o.kind {
	case opAcknowledge:
		return fmt.Sprintf("acknowledge by %q note %q", o.by, o.text)
	case opResolve:
		return fmt.Sprintf("resolve by %q reason %q", o.by, o.text)
	}
	p := o.ev.Pipeline
	finished := "none"
	if !p.FinishedAt.IsZero() {
		finished = "t0+" + p.FinishedAt.Sub(modelT0).String()
	}
	return fmt.Sprintf("event pipeline %d %s finished %s idempotency-key %q user %q (%s)",
		p.ID, p.Status, finished, o.ev.IdempotencyKey, o.ev.User, o.how)
}

// pipelineState is one finished (or progress) state of a pipeline: every
// delivery built from it carries the same status and finished time.
type pipelineState struct {
	status   string
	finished time.Time
	// jobs are the failed jobs its deliveries list, and class what the
	// intake made of them ("" as when read from GitLab's API).
	jobs  []alert.Job
	class alert.FailureClass
}

// modelJobs are the jobs a generated pipeline may list as failed; lint
// is allowed to fail.
var modelJobs = []alert.Job{
	{Name: "unit", Stage: "test", FailureReason: "script_failure"},
	{Name: "e2e", Stage: "test", FailureReason: "runner_system_failure"},
	{Name: "lint", Stage: "test", FailureReason: "script_failure", AllowFailure: true},
}

// failedJobs picks the failed jobs of a pipeline state: for a failure
// some of modelJobs, classified as the intake would most of the time;
// for a success, now and then the job that may fail.
func (g *generator) failedJobs(st *pipelineState) {
	switch st.status {
	case alert.PipelineFailed:
		for _, j := range modelJobs {
			if g.r.IntN(2) == 0 {
				st.jobs = append(st.jobs, j)
			}
		}
		if g.r.IntN(6) != 0 {
			st.class = alert.ClassOf(st.jobs, len(modelJobs))
		}
	case alert.PipelineSuccess:
		if g.r.IntN(4) == 0 {
			st.jobs = []alert.Job{modelJobs[2]}
		}
	}
}

// generator makes random sequences in which pipeline ids collide, states
// are resent verbatim or with another delivery's key, and idempotency keys
// come back with other content.
type generator struct {
	r       *rand.Rand
	states  map[[2]int64]pipelineState // by pipeline id and attempt
	history []alert.Event
	keys    int
}

var (
	modelOutcomes = []string{"failed", "failed", "canceled", "skipped", "success", "success"}
	modelProgress = []string{"running", "pending", "created", "manual", "canceling"}
	modelUsers    = []string{"alice", "bob", "carol", ""}
)

func (g *generator) pick(from []string) string { return from[g.r.IntN(len(from))] }

func (g *generator) newKey() string {
	g.keys++
	return fmt.Sprintf("delivery-%d", g.keys)
}

// fresh is a delivery of a random pipeline state.
func (g *generator) fresh() alert.Event {
	id := 100 + g.r.Int64N(6)
	var st pipelineState
	if g.r.IntN(8) == 0 {
		// Progress comes before the pipeline finishes: no finished time.
		st = pipelineState{status: g.pick(modelProgress)}
	} else {
		// A retried pipeline keeps its id; each attempt finishes later.
		attempt := g.r.Int64N(3)
		k := [2]int64{id, attempt}
		var ok bool
		if st, ok = g.states[k]; !ok {
			st.status = g.pick(modelOutcomes)
			if g.r.IntN(10) != 0 {
				st.finished = modelT0.Add(time.Duration(id)*time.Hour + time.Duration(attempt)*7*time.Minute)
			}
			g.failedJobs(&st)
			g.states[k] = st
		}
	}
	ev := alert.Event{
		Project: alert.Project{ID: modelProject, Path: "team/app"},
		Pipeline: alert.Pipeline{ID: id, Ref: modelRef, Status: st.status, FinishedAt: st.finished,
			FailedJobs: st.jobs, FailureClass: st.class},
		User: g.pick(modelUsers),
	}
	if _, bad := alert.SeverityOf(st.status); bad && g.r.IntN(4) == 0 {
		// The intake saw a success on the ref while no alert was open.
		ev.LastGreen = &alert.Green{PipelineID: 98 + g.r.Int64N(8)}
	}
	if g.r.IntN(2) == 0 {
		ev.IdempotencyKey = g.newKey()
	}
	return ev
}

func (g *generator) actor() string {
	switch g.r.IntN(10) {
	case 0:
		return ""
	case 1:
		return "   "
	case 2:
		return strings.Repeat("x", 201)
	case 3:
		return " carol "
	}
	return g.pick([]string{"alice", "bob"})
}

func (g *generator) step() op {
	earlier := func() (alert.Event, bool) {
		if len(g.history) == 0 {
			return alert.Event{}, false
		}
		return g.history[g.r.IntN(len(g.history))], true
	}
	var o op
	switch n := g.r.IntN(100); {
	case n < 8:
		return op{kind: opAcknowledge, by: g.actor(), text: g.pick([]string{"", "looking"})}
	case n < 14:
		return op{kind: opResolve, by: g.actor(), text: g.pick([]string{"", "flaky runner"})}
	case n < 30:
		ev, ok := earlier()
		o = op{ev: ev, how: "resend of an earlier delivery"}
		if !ok {
			o = op{ev: g.fresh(), how: "new"}
		}
	case n < 40:
		ev, ok := earlier()
		o = op{ev: g.fresh(), how: "new"}
		if ok && ev.IdempotencyKey != "" {
			o.ev.IdempotencyKey = ev.IdempotencyKey
			o.how = "an earlier idempotency key with other content"
		}
	case n < 46:
		ev, ok := earlier()
		o = op{ev: g.fresh(), how: "new"}
		if ok {
			ev.IdempotencyKey = g.newKey()
			o = op{ev: ev, how: "an earlier pipeline state in another delivery"}
		}
	default:
		o = op{ev: g.fresh(), how: "new"}
	}
	g.history = append(g.history, o.ev)
	return o
}

func generate(seed uint64, seq int) []op {
	g := &generator{r: rand.New(rand.NewPCG(seed, uint64(seq))), states: map[[2]int64]pipelineState{}}
	ops := make([]op, 1+g.r.IntN(modelMaxSteps))
	for i := range ops {
		ops[i] = g.step()
	}
	return ops
}

// limitsOf gives every fourth sequence small caps, so the timeline drops
// entries and the dedup keys are forgotten; the others stay under the
// default caps.
func limitsOf(seq int) alert.Limits {
	if seq%4 == 3 {
		return alert.Limits{TimelineCap: 8, KeyCap: 6}
	}
	return alert.DefaultLimits()
}

// refModel is the reference: the rules 1 to 5 of docs/design.md, written out plainly.
type refModel struct {
	keyCap, timelineCap int

	status         alert.Status
	severity, peak alert.Severity
	seen           bool // a pipeline has become the newest
	newestID       int64
	newestStatus   string
	newestFinished time.Time
	openedBy       string
	ackBy          string
	resolvedBy     string
	resolution     string
	counts         alert.Counts
	// keys are the remembered dedup keys, oldest first; only the newest
	// keyCap of them are remembered.
	keys    []string
	entries []alert.Entry
}

func (m *refModel) remember(keys []string) { m.keys = alertmodel.Remember(m.keys, keys, m.keyCap) }

func (m *refModel) becomesNewest(ev alert.Event) {
	m.seen = true
	m.newestID, m.newestStatus, m.newestFinished = ev.Pipeline.ID, ev.Pipeline.Status, ev.Pipeline.FinishedAt
}

func (m *refModel) apply(ev alert.Event, now time.Time) alert.Outcome {
	out := m.outcome(ev)
	alertmodel.Count(&m.counts, out)
	m.entries = append(m.entries, alert.Entry{Time: now, Kind: out, PipelineID: ev.Pipeline.ID, Status: ev.Pipeline.Status,
		Severity: m.severity, Actor: ev.User})
	return out
}

func (m *refModel) outcome(ev alert.Event) alert.Outcome {
	p := ev.Pipeline
	keys := alertmodel.DedupKeys(ev) // rule 3
	if alertmodel.Remembers(m.keys, keys) {
		return alert.OutcomeDuplicate
	}
	// Rule 2: older pipeline ids are stale; within one id, so is a state
	// that finished before the newest one seen.
	if m.seen && (p.ID < m.newestID || p.ID == m.newestID && !p.FinishedAt.IsZero() &&
		!m.newestFinished.IsZero() && p.FinishedAt.Before(m.newestFinished)) {
		m.remember(keys)
		return alert.OutcomeStale
	}
	sev, bad := alertmodel.SeverityOf(p.Status) // rule 1
	if m.status == alert.StatusResolved {
		if bad {
			// For the next alert under the same ID: neither applied
			// nor remembered here.
			return alert.OutcomeReopen
		}
		m.remember(keys)
		return alert.OutcomeIgnored
	}
	m.remember(keys)
	switch {
	case bad:
		m.becomesNewest(ev)
		if m.status == alert.StatusNone {
			m.status, m.severity, m.peak, m.openedBy = alert.StatusOpen, sev, sev, ev.User
			return alert.OutcomeOpened
		}
		prev := m.severity
		m.severity = sev
		if alertmodel.Rank(sev) > alertmodel.Rank(m.peak) {
			m.peak = sev
		}
		if sev != prev {
			return alert.OutcomeSeverityChanged
		}
		return alert.OutcomeUpdated
	case p.Status == "success":
		// Rule 4: a success that is not stale is from the newest pipeline.
		m.becomesNewest(ev)
		if m.status == alert.StatusNone {
			return alert.OutcomeIgnored
		}
		m.status, m.resolvedBy = alert.StatusResolved, ev.User
		m.resolution = fmt.Sprintf("pipeline #%d succeeded", p.ID)
		return alert.OutcomeResolved
	default:
		return alert.OutcomeIgnored
	}
}

// Rule 5.
func (m *refModel) validManual(by, text string) error {
	return alertmodel.ValidManual(m.status, by, text)
}

func (m *refModel) acknowledge(by, note string, now time.Time) (bool, error) {
	if err := m.validManual(by, note); err != nil {
		return false, err
	}
	if m.status == alert.StatusAcknowledged {
		return false, nil
	}
	m.status, m.ackBy = alert.StatusAcknowledged, strings.TrimSpace(by)
	m.entries = append(m.entries, alert.Entry{Time: now, Kind: alert.OutcomeAcknowledged, Severity: m.severity, Actor: m.ackBy, Note: note})
	return true, nil
}

func (m *refModel) resolve(by, reason string, now time.Time) error {
	if err := m.validManual(by, reason); err != nil {
		return err
	}
	m.status, m.resolvedBy, m.resolution = alert.StatusResolved, strings.TrimSpace(by), "resolved by hand"
	if reason != "" {
		m.resolution += ": " + reason
	}
	m.entries = append(m.entries, alert.Entry{Time: now, Kind: alert.OutcomeResolved, Severity: m.severity, Actor: m.resolvedBy, Note: reason})
	return nil
}

// agrees compares the State with the model.
func (m *refModel) agrees(s *alert.State) error {
	switch {
	case m.counts.Events > 0 && (s.ID != fmt.Sprintf("%d-%s", modelProject, modelRef) || s.Ref != modelRef || s.Project.ID != modelProject):
		return fmt.Errorf("identity %q %d %q", s.ID, s.Project.ID, s.Ref)
	case s.Status != m.status || s.Severity != m.severity || s.PeakSeverity != m.peak:
		return fmt.Errorf("status/severity/peak %q/%q/%q, model %q/%q/%q", s.Status, s.Severity, s.PeakSeverity, m.status, m.severity, m.peak)
	case (s.Pipeline != nil) != m.seen:
		return fmt.Errorf("newest pipeline %+v, model has one: %v", s.Pipeline, m.seen)
	case s.Pipeline != nil && (s.Pipeline.ID != m.newestID || s.Pipeline.Status != m.newestStatus || !s.Pipeline.FinishedAt.Equal(m.newestFinished)):
		return fmt.Errorf("newest pipeline %d %s finished %v, model %d %s finished %v",
			s.Pipeline.ID, s.Pipeline.Status, s.Pipeline.FinishedAt, m.newestID, m.newestStatus, m.newestFinished)
	case s.Counts != m.counts:
		return fmt.Errorf("counts %+v, model %+v", s.Counts, m.counts)
	case s.OpenedBy != m.openedBy || s.AcknowledgedBy != m.ackBy || s.ResolvedBy != m.resolvedBy || s.Resolution != m.resolution:
		return fmt.Errorf("opened by %q, acknowledged by %q, resolved by %q (%q); model %q, %q, %q (%q)",
			s.OpenedBy, s.AcknowledgedBy, s.ResolvedBy, s.Resolution, m.openedBy, m.ackBy, m.resolvedBy, m.resolution)
	case len(s.RecentKeys) != len(m.keys):
		return fmt.Errorf("%d recent keys, model %d", len(s.RecentKeys), len(m.keys))
	}
	// The notes of event entries are prose for people; the model leaves
	// them out and compares everything else.
	got := slices.Clone(s.Timeline)
	for i := range got {
		if got[i].PipelineID != 0 {
			got[i].Note = ""
		}
	}
	kept := m.entries[max(0, len(m.entries)-m.timelineCap):]
	if s.TimelineDropped != len(m.entries)-len(kept) || !slices.Equal(got, kept) {
		return fmt.Errorf("timeline (dropped %d)\n  %+v\nmodel (dropped %d)\n  %+v", s.TimelineDropped, got, len(m.entries)-len(kept), kept)
	}
	return nil
}

// snapshot deep-copies a State so a step can be compared with the one before.
func snapshot(s *alert.State) alert.State {
	c := *s
	c.Timeline = slices.Clone(s.Timeline)
	c.RecentKeys = slices.Clone(s.RecentKeys)
	if s.Pipeline != nil {
		p := *s.Pipeline
		c.Pipeline = &p
	}
	return c
}

// withoutBookkeeping blanks what every event changes whatever its outcome.
func withoutBookkeeping(s alert.State, keys bool) alert.State {
	s.Counts, s.Timeline, s.TimelineDropped = alert.Counts{}, nil, 0
	if keys {
		s.RecentKeys = nil
	}
	return s
}

// invariants are checked after every step, independently of the model.
func invariants(before, after alert.State, o op, out alert.Outcome, events, records int) error {
	c := after.Counts
	switch {
	case c.Events != events:
		return fmt.Errorf("counts %d events after %d", c.Events, events)
	case c.Events != c.Applied+c.Stale+c.Duplicates+c.Ignored:
		return fmt.Errorf("counts do not add up: %+v", c)
	case len(after.Timeline)+after.TimelineDropped != records:
		return fmt.Errorf("timeline has %d entries and dropped %d, want %d in all", len(after.Timeline), after.TimelineDropped, records)
	case len(after.Timeline) > after.Limits.TimelineCap || len(after.RecentKeys) > after.Limits.KeyCap:
		return fmt.Errorf("over the caps %+v: %d entries, %d keys", after.Limits, len(after.Timeline), len(after.RecentKeys))
	case before.Status == alert.StatusResolved && after.Status != alert.StatusResolved:
		return fmt.Errorf("status went back from resolved to %q", after.Status)
	case alertmodel.Rank(after.PeakSeverity) < alertmodel.Rank(before.PeakSeverity) || alertmodel.Rank(after.PeakSeverity) < alertmodel.Rank(after.Severity):
		return fmt.Errorf("peak %q after %q with severity %q", after.PeakSeverity, before.PeakSeverity, after.Severity)
	case before.Pipeline != nil && (after.Pipeline == nil || after.Pipeline.ID < before.Pipeline.ID):
		return fmt.Errorf("newest pipeline went from %d to %+v", before.Pipeline.ID, after.Pipeline)
	}
	if o.kind == opEvent {
		last := after.Timeline[len(after.Timeline)-1]
		if last.Kind != out || last.PipelineID != o.ev.Pipeline.ID {
			return fmt.Errorf("the event's timeline entry is %+v", last)
		}
		switch out {
		case alert.OutcomeDuplicate, alert.OutcomeReopen, alert.OutcomeStale:
			// Duplicates and reopens are not even remembered; a stale
			// event is, so a resend of it is a duplicate.
			keys := out == alert.OutcomeStale
			if !reflect.DeepEqual(withoutBookkeeping(before, keys), withoutBookkeeping(after, keys)) {
				return fmt.Errorf("a %s event changed the alert:\n before %+v\n after  %+v", out, before, after)
			}
			if !keys && !slices.Equal(before.RecentKeys, after.RecentKeys) {
				return fmt.Errorf("a %s event changed the dedup keys", out)
			}
		}
	}
	return nil
}

// modelRun is what one run of a sequence saw, for the coverage check.
type modelRun struct {
	outcomes map[alert.Outcome]int
	errs     map[error]int
}

func newModelRun() *modelRun {
	return &modelRun{outcomes: map[alert.Outcome]int{}, errs: map[error]int{}}
}

// runSequence applies ops to a State and to the model and reports the
// first step where they part or an invariant breaks.
func runSequence(ops []op, limits alert.Limits, seen *modelRun) (failedAt int, err error) {
	s := alert.New(limits)
	m := &refModel{keyCap: s.Limits.KeyCap, timelineCap: s.Limits.TimelineCap}
	events, records := 0, 0
	for i, o := range ops {
		now := modelT0.Add(time.Duration(i) * time.Second)
		before := snapshot(s)
		var out alert.Outcome
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			switch o.kind {
			case opEvent:
				events++
				records++
				out = s.Apply(o.ev, now)
				if want := m.apply(o.ev, now); out != want {
					return fmt.Errorf("outcome %q, model %q", out, want)
				}
				seen.outcomes[out]++
			case opAcknowledge:
				changed, err := s.Acknowledge(alert.Acknowledgement{By: o.by, Note: o.text}, now)
				wantChanged, wantErr := m.acknowledge(o.by, o.text, now)
				if changed != wantChanged || !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
					return fmt.Errorf("acknowledge: changed %v err %v, model changed %v err %v", changed, err, wantChanged, wantErr)
				}
				if changed {
					records++
					seen.outcomes[alert.OutcomeAcknowledged]++
				}
				seen.errs[wantErr]++
			case opResolve:
				err := s.Resolve(alert.Resolution{By: o.by, Reason: o.text}, now)
				wantErr := m.resolve(o.by, o.text, now)
				if !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
					return fmt.Errorf("resolve: err %v, model err %v", err, wantErr)
				}
				if err == nil {
					records++
					seen.outcomes["resolved by hand"]++
				}
				seen.errs[wantErr]++
			}
			if err := m.agrees(s); err != nil {
				return err
			}
			return invariants(before, snapshot(s), o, out, events, records)
		}()
		if err != nil {
			return i, err
		}
	}
	return -1, nil
}

// shrink removes steps from a failing sequence while it still fails.
func shrink(ops []op, limits alert.Limits) []op {
	scratch := newModelRun()
	return alertmodel.Shrink(ops, func(ops []op) bool {
		_, err := runSequence(ops, limits, scratch)
		return err != nil
	})
}

func TestStateAgreesWithAReferenceModel(t *testing.T) {
	seed := modelSeed(t)
	seen := newModelRun()
	steps := 0
	for seq := range *modelSequencesFlag {
		ops, limits := generate(seed, seq), limitsOf(seq)
		steps += len(ops)
		at, err := runSequence(ops, limits, seen)
		if err == nil {
			continue
		}
		minimal := shrink(ops[:at+1], limits)
		_, minErr := runSequence(minimal, limits, newModelRun())
		var b strings.Builder
		for i, o := range minimal {
			fmt.Fprintf(&b, "\n  %2d: %s", i, o)
		}
		t.Fatalf("seed %d, sequence %d (limits %+v) fails at step %d: %v\n"+
			"minimal failing steps (%d of %d), failing with: %v%s\n"+
			"replay: go test ./alert -run TestStateAgreesWithAReferenceModel -model.seed=%d",
			seed, seq, limits, at, err, len(minimal), at+1, minErr, b.String(), seed)
	}
	// The generator must reach every rule, or agreeing proves little.
	for _, o := range []alert.Outcome{alert.OutcomeOpened, alert.OutcomeSeverityChanged, alert.OutcomeUpdated, alert.OutcomeResolved, alert.OutcomeStale,
		alert.OutcomeDuplicate, alert.OutcomeIgnored, alert.OutcomeReopen, alert.OutcomeAcknowledged, "resolved by hand"} {
		if seen.outcomes[o] == 0 && *modelSequencesFlag >= 1000 {
			t.Errorf("no sequence reached outcome %q", o)
		}
	}
	for _, e := range []error{nil, alert.ErrInvalidInput, alert.ErrNotOpened, alert.ErrResolved} {
		if seen.errs[e] == 0 && *modelSequencesFlag >= 1000 {
			t.Errorf("no manual action ended with error %v", e)
		}
	}
	t.Logf("seed %d: %d sequences, %d steps; outcomes %v", seed, *modelSequencesFlag, steps, seen.outcomes)
}
