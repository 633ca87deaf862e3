package alert

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The model-based test of the rules for real GitLab traffic (RulesGitLab):
// random sequences of deliveries, holds that end, branch deletions and
// manual actions, applied to a State that starts from a random memory of
// an earlier alert, and to refGitLab, the rules of docs/design.md (8 to
// 12 on top of 1 to 5) written out plainly. Replay a failure with
//
//	go test ./alert -run TestGitLabRulesAgreeWithAReferenceModel -model.seed=N

const modelHold = 3 * time.Second

// gitlabOp is one step of a sequence under RulesGitLab.
type gitlabOp struct {
	op
	endHold, deleted bool
}

func (o gitlabOp) String() string {
	switch {
	case o.endHold:
		return "the hold's timer fires"
	case o.deleted:
		return "branch deleted by " + o.by
	}
	return o.op.String()
}

// refMark is a pipeline's place in the order of a ref.
type refMark struct {
	id       int64
	finished time.Time
}

func refMarkOf(p Pipeline) refMark {
	return refMark{p.ID, p.FinishedAt.Truncate(time.Second)}
}

// newerThan: a higher id, or the same id finished later.
func (m refMark) newerThan(o refMark) bool {
	if m.id != o.id {
		return m.id > o.id
	}
	return !m.finished.IsZero() && !o.finished.IsZero() && m.finished.After(o.finished)
}

type refGitLab struct {
	keyCap, timelineCap int

	status         Status
	severity, peak Severity
	quiet          bool
	holdUntil      time.Time
	cause          refMark
	causeStatus    string
	// The memory of the ID: the newest verdict, where the last alert
	// ended, the newest pipeline of any status.
	verdict, closed        refMark
	hasVerdict, hasClosed  bool
	newest                 int64
	progress               int64 // 0: none
	openedBy, ackBy        string
	resolvedBy, resolution string
	counts                 Counts
	keys                   []string
	entries                []Entry
}

func (m *refGitLab) remember(keys []string) {
	m.keys = append(m.keys, keys...)
	if len(m.keys) > m.keyCap {
		m.keys = m.keys[len(m.keys)-m.keyCap:]
	}
}

func (m *refGitLab) raise(s Severity) {
	if refRank[s] > refRank[m.severity] {
		m.severity = s
	}
	if refRank[m.severity] > refRank[m.peak] {
		m.peak = m.severity
	}
}

func (m *refGitLab) seeNewest(id int64) { m.newest = max(m.newest, id) }

func (m *refGitLab) seeVerdict(k refMark) {
	m.seeNewest(k.id)
	if !m.hasVerdict || k.newerThan(m.verdict) || k.id == m.verdict.id && m.verdict.finished.IsZero() {
		m.verdict, m.hasVerdict = k, true
	}
}

// finished forgets the pipeline in progress once it or a newer one ended.
func (m *refGitLab) finished(k refMark) {
	if m.progress != 0 && k.id >= m.progress {
		m.progress = 0
	}
}

func (m *refGitLab) end(by, resolution string) {
	m.status, m.resolvedBy, m.resolution, m.holdUntil = StatusResolved, by, resolution, time.Time{}
	if !m.hasClosed || m.cause.newerThan(m.closed) {
		m.closed, m.hasClosed = m.cause, true
	}
}

func (m *refGitLab) open(by string, s Severity) {
	m.status, m.quiet, m.holdUntil, m.openedBy = StatusOpen, false, time.Time{}, by
	m.raise(s)
}

func (m *refGitLab) apply(ev Event, now time.Time) Outcome {
	m.counts.Events++
	out := m.outcome(ev, now)
	switch out {
	case OutcomeStale:
		m.counts.Stale++
	case OutcomeDuplicate:
		m.counts.Duplicates++
	case OutcomeSuperseded:
		m.counts.Superseded++
	case OutcomeChild:
		m.counts.Children++
	case OutcomeIgnored, OutcomeReopen, OutcomeNoVerdict:
		m.counts.Ignored++
	default:
		m.counts.Applied++
	}
	m.entries = append(m.entries, Entry{Time: now, Kind: out, PipelineID: ev.Pipeline.ID, Status: ev.Pipeline.Status,
		Severity: m.severity, Actor: ev.User})
	return out
}

func (m *refGitLab) outcome(ev Event, now time.Time) Outcome {
	p := ev.Pipeline
	finished := "none"
	if !p.FinishedAt.IsZero() {
		finished = strconv.FormatInt(p.FinishedAt.Unix(), 10)
	}
	keys := []string{fmt.Sprintf("state %d %s %s", p.ID, p.Status, finished)}
	if ev.IdempotencyKey != "" {
		keys = append(keys, "delivery "+ev.IdempotencyKey)
	}
	if slices.ContainsFunc(keys, func(k string) bool { return slices.Contains(m.keys, k) }) {
		return OutcomeDuplicate
	}
	if p.Source == SourceParentPipeline {
		m.remember(keys)
		return OutcomeChild
	}
	k := refMarkOf(p)
	sev, bad := refSeverity[p.Status]
	progress := !bad && p.Status != "success"
	// Rules 2 and 8: older than a verdict, not newer than where the last
	// alert ended, or progress sent before the pipeline's verdict.
	if m.hasVerdict && m.verdict.newerThan(k) || m.hasClosed && !k.newerThan(m.closed) ||
		progress && k.finished.IsZero() && m.hasVerdict && m.verdict.id == k.id && !m.verdict.finished.IsZero() {
		m.remember(keys)
		return OutcomeStale
	}
	switch {
	case progress:
		m.remember(keys)
		newest := k.id >= m.newest
		m.seeNewest(k.id)
		if m.status == StatusResolved || !newest {
			return OutcomeIgnored
		}
		m.progress = k.id
		if m.status == StatusPending && !m.holdUntil.IsZero() && k.id >= m.cause.id {
			m.holdUntil = time.Time{} // rule 9: superseded, nobody is told
		}
		return OutcomeProgress
	case bad && p.Status != "failed":
		// Rules 3 and 9: a cancel or skip carries no verdict.
		if m.newest > k.id {
			m.remember(keys)
			return OutcomeSuperseded
		}
		if m.status == StatusResolved {
			return OutcomeReopen
		}
		m.remember(keys)
		m.seeNewest(k.id)
		m.finished(k)
		switch m.status {
		case StatusNone:
			m.cause, m.causeStatus = k, p.Status
			m.severity, m.peak, m.openedBy = sev, sev, ev.User
			m.status, m.quiet, m.holdUntil = StatusPending, true, now.Add(modelHold)
			return OutcomeHeld
		case StatusPending:
			m.cause, m.causeStatus = k, p.Status
			m.raise(sev)
			m.holdUntil = now.Add(modelHold)
			return OutcomeHeld
		}
		if refRank[sev] <= refRank[m.severity] {
			return OutcomeNoVerdict
		}
		m.cause, m.causeStatus = k, p.Status
		m.raise(sev)
		return OutcomeSeverityChanged
	}
	// Rules 1, 2 and 4: failed and success are the verdicts.
	if m.status == StatusResolved {
		if bad {
			return OutcomeReopen
		}
		m.remember(keys)
		m.seeVerdict(k)
		return OutcomeIgnored
	}
	m.remember(keys)
	m.seeVerdict(k)
	m.finished(k)
	if !bad {
		if m.status == StatusNone {
			return OutcomeIgnored
		}
		m.cause, m.causeStatus = k, p.Status
		m.end(ev.User, fmt.Sprintf("pipeline #%d succeeded", p.ID))
		return OutcomeResolved
	}
	m.cause, m.causeStatus = k, p.Status
	if m.status == StatusNone || m.status == StatusPending {
		m.open(ev.User, SeverityHigh)
		return OutcomeOpened
	}
	prev := m.severity
	m.raise(SeverityHigh)
	if prev != SeverityHigh {
		return OutcomeSeverityChanged
	}
	return OutcomeUpdated
}

func (m *refGitLab) endHold(now time.Time) bool {
	if m.status != StatusPending || m.holdUntil.IsZero() || now.Before(m.holdUntil) {
		return false
	}
	m.open(m.openedBy, m.severity)
	m.entries = append(m.entries, Entry{Time: now, Kind: OutcomeOpened, PipelineID: m.cause.id, Status: m.causeStatus,
		Severity: m.severity, Actor: m.openedBy})
	return true
}

func (m *refGitLab) deleteBranch(by string, now time.Time) Outcome {
	m.counts.Events++
	if m.status != StatusOpen && m.status != StatusAcknowledged && m.status != StatusPending {
		m.counts.Ignored++
		m.entries = append(m.entries, Entry{Time: now, Kind: OutcomeIgnored, Severity: m.severity, Actor: by})
		return OutcomeIgnored
	}
	m.counts.Applied++
	resolution := "branch deleted"
	if by != "" {
		resolution += " by " + by
	}
	m.end(ResolvedByGitLab, resolution)
	m.entries = append(m.entries, Entry{Time: now, Kind: OutcomeResolved, Severity: m.severity, Actor: by})
	return OutcomeResolved
}

func (m *refGitLab) valid(by, text string) error { return refValidManual(m.status, by, text) }

func (m *refGitLab) acknowledge(by, note string, now time.Time) (bool, error) {
	if err := m.valid(by, note); err != nil {
		return false, err
	}
	switch m.status {
	case StatusPending:
		return false, ErrNotOpened // nobody has been told of it yet
	case StatusAcknowledged:
		return false, nil
	}
	m.status, m.ackBy = StatusAcknowledged, strings.TrimSpace(by)
	m.entries = append(m.entries, Entry{Time: now, Kind: OutcomeAcknowledged, Severity: m.severity, Actor: m.ackBy, Note: note})
	return true, nil
}

func (m *refGitLab) resolve(by, reason string, now time.Time) error {
	if err := m.valid(by, reason); err != nil {
		return err
	}
	resolution := "resolved by hand"
	if reason != "" {
		resolution += ": " + reason
	}
	m.end(strings.TrimSpace(by), resolution)
	m.entries = append(m.entries, Entry{Time: now, Kind: OutcomeResolved, Severity: m.severity, Actor: m.resolvedBy, Note: reason})
	return nil
}

func (m *refGitLab) agrees(s *State) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if s.Status != m.status || s.Severity != m.severity || s.PeakSeverity != m.peak || s.Quiet != m.quiet {
		add("status/severity/peak/quiet %q/%q/%q/%v, model %q/%q/%q/%v", s.Status, s.Severity, s.PeakSeverity, s.Quiet, m.status, m.severity, m.peak, m.quiet)
	}
	if !s.HoldUntil.Equal(m.holdUntil) {
		add("held until %v, model %v", s.HoldUntil, m.holdUntil)
	}
	if s.Cause.ID != m.cause.id {
		add("about pipeline %d, model %d", s.Cause.ID, m.cause.id)
	}
	mem := s.Memory
	if (mem.Verdict.Family != 0) != m.hasVerdict || m.hasVerdict && (mem.Verdict.ID != m.verdict.id || !mem.Verdict.FinishedAt.Equal(m.verdict.finished)) {
		add("verdict %+v, model %+v (%v)", mem.Verdict, m.verdict, m.hasVerdict)
	}
	if (mem.Closed.Family != 0) != m.hasClosed || m.hasClosed && (mem.Closed.ID != m.closed.id || !mem.Closed.FinishedAt.Equal(m.closed.finished)) {
		add("closed %+v, model %+v (%v)", mem.Closed, m.closed, m.hasClosed)
	}
	if mem.Newest != m.newest {
		add("newest %d, model %d", mem.Newest, m.newest)
	}
	if progress := s.InProgress; (progress == nil) != (m.progress == 0) || progress != nil && progress.ID != m.progress {
		add("in progress %+v, model %d", progress, m.progress)
	}
	if s.Counts != m.counts {
		add("counts %+v, model %+v", s.Counts, m.counts)
	}
	if s.OpenedBy != m.openedBy || s.AcknowledgedBy != m.ackBy || s.ResolvedBy != m.resolvedBy || s.Resolution != m.resolution {
		add("opened by %q, acknowledged by %q, resolved by %q (%q); model %q, %q, %q (%q)",
			s.OpenedBy, s.AcknowledgedBy, s.ResolvedBy, s.Resolution, m.openedBy, m.ackBy, m.resolvedBy, m.resolution)
	}
	if len(s.RecentKeys) != len(m.keys) {
		add("%d recent keys, model %d", len(s.RecentKeys), len(m.keys))
	}
	// Notes are prose for people: compared as written by neither side.
	got := slices.Clone(s.Timeline)
	for i := range got {
		got[i].Note = ""
	}
	kept := slices.Clone(m.entries[max(0, len(m.entries)-m.timelineCap):])
	for i := range kept {
		kept[i].Note = ""
	}
	if s.TimelineDropped != len(m.entries)-len(kept) || !slices.Equal(got, kept) {
		add("timeline (dropped %d)\n  %+v\nmodel (dropped %d)\n  %+v", s.TimelineDropped, got, len(m.entries)-len(kept), kept)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// gitlabStep makes one step: mostly the generator's deliveries (to which
// it adds retried pipelines running again and child pipelines), and holds
// that end and branch deletions.
func (g *generator) gitlabStep() gitlabOp {
	switch n := g.r.IntN(100); {
	case n < 10:
		return gitlabOp{endHold: true}
	case n < 12:
		return gitlabOp{op: op{by: g.pick([]string{"bob", ""})}, deleted: true}
	case n < 17:
		// A retry: the pipeline runs again with the finished time it had.
		for k, st := range g.states {
			if !st.finished.IsZero() && g.r.IntN(2) == 0 {
				ev := Event{Project: Project{ID: modelProject, Path: "team/app"},
					Pipeline: Pipeline{ID: k[0], Ref: modelRef, Status: "running", FinishedAt: st.finished}, User: g.pick(modelUsers)}
				g.history = append(g.history, ev)
				return gitlabOp{op: op{ev: ev, how: "retried, running again"}}
			}
		}
	case n < 20:
		ev := g.fresh()
		ev.Pipeline.Source, ev.Pipeline.ParentID = SourceParentPipeline, ev.Pipeline.ID
		ev.Pipeline.ID += 10
		g.history = append(g.history, ev)
		return gitlabOp{op: op{ev: ev, how: "a child pipeline"}}
	}
	return gitlabOp{op: g.step()}
}

// gitlabMemory is the memory an earlier alert on the ID may have left: none,
// or one that ended with one of the generator's pipelines.
func gitlabMemory(r *rand.Rand) Memory {
	if r.IntN(2) == 0 {
		return Memory{}
	}
	id := 99 + r.Int64N(4)
	end := Mark{Family: id, ID: id, FinishedAt: modelT0.Add(time.Duration(id) * time.Hour)}
	return Memory{Verdict: end, Closed: end, Newest: id}
}

func runGitLabSequence(mem Memory, ops []gitlabOp, limits Limits, seen *modelRun) (failedAt int, err error) {
	s := NewWith(limits, Rules{Version: RulesGitLab, Hold: modelHold}, mem)
	m := &refGitLab{keyCap: s.Limits.KeyCap, timelineCap: s.Limits.TimelineCap}
	if mem.Verdict.Family != 0 {
		m.verdict = refMark{mem.Verdict.ID, mem.Verdict.FinishedAt}
		m.closed, m.hasVerdict, m.hasClosed, m.newest = m.verdict, true, true, mem.Newest
	}
	for i, o := range ops {
		now := modelT0.Add(time.Duration(i) * time.Second)
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			switch {
			case o.endHold:
				got, ok := s.EndHold(now)
				if want := m.endHold(now); ok != want || ok && got != OutcomeOpened {
					return fmt.Errorf("end of hold: %q %v, model %v", got, ok, want)
				}
				if ok {
					seen.outcomes["opened after the hold"]++
				}
			case o.deleted:
				if got, want := s.DeleteBranch(Deletion{By: o.by}, now), m.deleteBranch(o.by, now); got != want {
					return fmt.Errorf("branch deleted: %q, model %q", got, want)
				}
			case o.kind == opEvent:
				got, want := s.Apply(o.ev, now), m.apply(o.ev, now)
				if got != want {
					return fmt.Errorf("outcome %q, model %q", got, want)
				}
				seen.outcomes[got]++
			case o.kind == opAcknowledge:
				changed, err := s.Acknowledge(Acknowledgement{By: o.by, Note: o.text}, now)
				wantChanged, wantErr := m.acknowledge(o.by, o.text, now)
				if changed != wantChanged || !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
					return fmt.Errorf("acknowledge: changed %v err %v, model changed %v err %v", changed, err, wantChanged, wantErr)
				}
			case o.kind == opResolve:
				err := s.Resolve(Resolution{By: o.by, Reason: o.text}, now)
				if wantErr := m.resolve(o.by, o.text, now); !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
					return fmt.Errorf("resolve: err %v, model err %v", err, wantErr)
				}
			}
			if err := m.agrees(s); err != nil {
				return err
			}
			c := s.Counts
			if c.Events != c.Applied+c.Stale+c.Duplicates+c.Ignored+c.Superseded+c.Children {
				return fmt.Errorf("counts do not add up: %+v", c)
			}
			return nil
		}()
		if err != nil {
			return i, err
		}
	}
	return -1, nil
}

func TestGitLabRulesAgreeWithAReferenceModel(t *testing.T) {
	seed := modelSeed(t)
	seen := &modelRun{outcomes: map[Outcome]int{}, errs: map[error]int{}}
	for seq := range *modelSequencesFlag {
		g := &generator{r: rand.New(rand.NewPCG(seed, uint64(seq))), states: map[[2]int64]pipelineState{}}
		mem := gitlabMemory(g.r)
		ops := make([]gitlabOp, 1+g.r.IntN(modelMaxSteps))
		for i := range ops {
			ops[i] = g.gitlabStep()
		}
		limits := limitsOf(seq)
		at, err := runGitLabSequence(mem, ops, limits, seen)
		if err == nil {
			continue
		}
		var b strings.Builder
		for i, o := range ops[:at+1] {
			fmt.Fprintf(&b, "\n  %2d: %s", i, o)
		}
		t.Fatalf("seed %d, sequence %d (memory %+v, limits %+v) fails at step %d: %v\nsteps:%s\n"+
			"replay: go test ./alert -run TestGitLabRulesAgreeWithAReferenceModel -model.seed=%d",
			seed, seq, mem, limits, at, err, b.String(), seed)
	}
	for _, o := range []Outcome{OutcomeOpened, OutcomeHeld, "opened after the hold", OutcomeSuperseded, OutcomeProgress,
		OutcomeChild, OutcomeNoVerdict, OutcomeSeverityChanged, OutcomeUpdated, OutcomeResolved, OutcomeStale,
		OutcomeDuplicate, OutcomeIgnored, OutcomeReopen} {
		if seen.outcomes[o] == 0 && *modelSequencesFlag >= 1000 {
			t.Errorf("no sequence reached outcome %q", o)
		}
	}
	t.Logf("seed %d: %d sequences; outcomes %v", seed, *modelSequencesFlag, seen.outcomes)
}
