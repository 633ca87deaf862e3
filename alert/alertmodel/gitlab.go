package alertmodel

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/alertflow/alertflow/alert"
)

// GitLab is the reference model of alert.RulesGitLab and of
// alert.RulesFinished: one alert, and what its ID remembers of the alerts
// before it, under the rules of docs/design.md (8 to 12 on top of 1 to 5)
// written out plainly; under RulesFinished, rule 4 also waits for the
// newest finished pipeline. It models GitLab's own view of child pipelines
// (alert.ChildParent): a child is recorded only. It leaves flapping out.
type GitLab struct {
	keyCap, timelineCap int
	hold                time.Duration
	version             alert.RulesVersion

	status         alert.Status
	severity, peak alert.Severity
	quiet          bool
	holdUntil      time.Time
	cause          mark
	causeStatus    string
	// The memory of the ID: the newest verdict, where the last alert
	// ended, the newest pipeline of any status, and (RulesFinished) the
	// newest one that finished.
	verdict, closed        mark
	hasVerdict, hasClosed  bool
	newest, lastFinished   int64
	progress               int64 // 0: none
	openedBy, ackBy        string
	resolvedBy, resolution string
	counts                 alert.Counts
	// keys are the remembered dedup keys, oldest first, at most keyCap.
	keys    []string
	entries []alert.Entry

	// Rule 14 (RulesInsight): who broke the branch and how it recovered.
	insight
}

// insight is the model of rule 14, kept plainly apart from rules 1 to 12:
// it changes no outcome.
type insight struct {
	// green is the newest success of the ref seen (the ID's memory).
	green int64
	// culprit is the first failed pipeline, or the first bad one until
	// one fails; lastGreen the green before it when it became culprit.
	culprit, lastGreen int64
	culpritFailed      bool
	class              alert.FailureClass
	failed, lastFailed int64
	// causeJobs are the failed jobs of the cause's delivery, and
	// causeOmitted how many it left out.
	causeJobs    []alert.Job
	causeOmitted int
	flakyJobs    int
	flaky        bool
}

// mark is a pipeline's place in the order of a ref.
type mark struct {
	id       int64
	finished time.Time
}

// markOf places p: GitLab writes finished times with and without
// milliseconds, so they count to the second.
func markOf(p alert.Pipeline) mark {
	return mark{p.ID, p.FinishedAt.Truncate(time.Second)}
}

// newerThan: a higher id, or the same id (retried) finished later.
func (m mark) newerThan(o mark) bool {
	if m.id != o.id {
		return m.id > o.id
	}
	return !m.finished.IsZero() && !o.finished.IsZero() && m.finished.After(o.finished)
}

// NewGitLab returns the model of an alert that has seen nothing yet under
// RulesGitLab with the given limits (zero ones take the defaults) and hold
// (zero announces a cancel or skip at once), starting from what its ID
// remembers of the alert before: nothing, or another model's Memory.
func NewGitLab(limits alert.Limits, hold time.Duration, mem alert.Memory) *GitLab {
	return NewFor(alert.Rules{Version: alert.RulesGitLab, Hold: hold}, limits, mem)
}

// NewFor is NewGitLab under the rules version and hold of rules, which
// must be RulesGitLab or later; their children and flapping settings are
// not modelled (children are alert.ChildParent's, and nothing flaps).
func NewFor(rules alert.Rules, limits alert.Limits, mem alert.Memory) *GitLab {
	if rules.Version < alert.RulesGitLab {
		panic(fmt.Sprintf("alertmodel: rules version %d is not modelled here", rules.Version))
	}
	limits = alert.New(limits).Limits // the defaults, as every alert takes them
	m := &GitLab{keyCap: limits.KeyCap, timelineCap: limits.TimelineCap, hold: rules.Hold, version: rules.Version,
		newest: mem.Newest, lastFinished: mem.Finished}
	if mem.Green != nil && rules.Version >= alert.RulesInsight {
		m.green = mem.Green.PipelineID
	}
	if mem.Verdict.Family != 0 {
		m.verdict, m.hasVerdict = mark{mem.Verdict.ID, mem.Verdict.FinishedAt}, true
	}
	if mem.Closed.Family != 0 {
		m.closed, m.hasClosed = mark{mem.Closed.ID, mem.Closed.FinishedAt}, true
	}
	return m
}

// Clone returns a copy that moves on apart from m.
func (m *GitLab) Clone() *GitLab {
	c := *m
	c.keys, c.entries, c.causeJobs = slices.Clone(m.keys), slices.Clone(m.entries), slices.Clone(m.causeJobs)
	return &c
}

// Memory is what the alert's ID remembers once this alert is over: what
// the next alert on the ID starts from.
func (m *GitLab) Memory() alert.Memory {
	mem := alert.Memory{Newest: m.newest, Finished: m.lastFinished}
	if m.hasVerdict {
		mem.Verdict = alert.Mark{Family: m.verdict.id, ID: m.verdict.id, FinishedAt: m.verdict.finished}
	}
	if m.hasClosed {
		mem.Closed = alert.Mark{Family: m.closed.id, ID: m.closed.id, FinishedAt: m.closed.finished}
	}
	if m.green != 0 {
		mem.Green = &alert.Green{PipelineID: m.green}
	}
	return mem
}

// Status is where the alert is in its lifecycle.
func (m *GitLab) Status() alert.Status { return m.status }

// Cause is the pipeline the alert is about, and its status; 0 before any.
func (m *GitLab) Cause() (id int64, status string) { return m.cause.id, m.causeStatus }

func (m *GitLab) remember(keys []string) { m.keys = Remember(m.keys, keys, m.keyCap) }

func (m *GitLab) raise(s alert.Severity) {
	if Rank(s) > Rank(m.severity) {
		m.severity = s
	}
	if Rank(m.severity) > Rank(m.peak) {
		m.peak = m.severity
	}
}

func (m *GitLab) seeNewest(id int64) { m.newest = max(m.newest, id) }

// seeFinished is rule 4 under RulesFinished: GitLab's ref status follows
// the newest pipeline that finished, and to GitLab success, failed and
// canceled are finished; skipped is not.
func (m *GitLab) seeFinished(id int64, status string) {
	if m.version >= alert.RulesFinished && status != alert.PipelineSkipped {
		m.lastFinished = max(m.lastFinished, id)
	}
}

func (m *GitLab) seeVerdict(k mark) {
	m.seeNewest(k.id)
	if !m.hasVerdict || k.newerThan(m.verdict) || k.id == m.verdict.id && m.verdict.finished.IsZero() {
		m.verdict, m.hasVerdict = k, true
	}
}

// finished forgets the pipeline in progress once it or a newer one ended.
func (m *GitLab) finished(k mark) {
	if m.progress != 0 && k.id >= m.progress {
		m.progress = 0
	}
}

func (m *GitLab) end(by, resolution string) {
	m.status, m.resolvedBy, m.resolution, m.holdUntil = alert.StatusResolved, by, resolution, time.Time{}
	if !m.hasClosed || m.cause.newerThan(m.closed) {
		m.closed, m.hasClosed = m.cause, true
	}
}

func (m *GitLab) open(by string, s alert.Severity) {
	m.status, m.quiet, m.holdUntil, m.openedBy = alert.StatusOpen, false, time.Time{}, by
	m.raise(s)
}

// Apply applies one pipeline event at now and returns its outcome, as
// alert.State.Apply must.
func (m *GitLab) Apply(ev alert.Event, now time.Time) alert.Outcome {
	out := m.outcome(ev, now)
	Count(&m.counts, out)
	m.entries = append(m.entries, alert.Entry{Time: now, Kind: out, PipelineID: ev.Pipeline.ID, Status: ev.Pipeline.Status,
		Severity: m.severity, Actor: ev.User})
	return out
}

func (m *GitLab) outcome(ev alert.Event, now time.Time) alert.Outcome {
	p := ev.Pipeline
	keys := DedupKeys(ev)
	if Remembers(m.keys, keys) {
		return alert.OutcomeDuplicate
	}
	if p.Source == alert.SourceParentPipeline {
		// Rule 10: the parent speaks for the family.
		m.remember(keys)
		return alert.OutcomeChild
	}
	k := markOf(p)
	sev, bad := SeverityOf(p.Status)
	progress := !bad && p.Status != alert.PipelineSuccess
	// Rules 2 and 8: older than a verdict, not newer than where the last
	// alert ended, or progress sent before the pipeline's verdict. Rule 4
	// under RulesFinished: a verdict older than the newest finished
	// pipeline, a retry of it included.
	verdict := p.Status == alert.PipelineFailed || p.Status == alert.PipelineSuccess
	if m.hasVerdict && m.verdict.newerThan(k) || m.hasClosed && !k.newerThan(m.closed) ||
		progress && k.finished.IsZero() && m.hasVerdict && m.verdict.id == k.id && !m.verdict.finished.IsZero() ||
		m.version >= alert.RulesFinished && verdict && k.id < m.lastFinished {
		m.remember(keys)
		return alert.OutcomeStale
	}
	switch {
	case progress:
		m.remember(keys)
		newest := k.id >= m.newest
		m.seeNewest(k.id)
		if m.status == alert.StatusResolved || !newest {
			return alert.OutcomeIgnored
		}
		m.progress = k.id
		if m.status == alert.StatusPending && !m.holdUntil.IsZero() && k.id >= m.cause.id {
			m.holdUntil = time.Time{} // rule 9: superseded, nobody is told
		}
		return alert.OutcomeProgress
	case bad && p.Status != alert.PipelineFailed:
		// Rules 3 and 9: a cancel or skip carries no verdict.
		if m.newest > k.id {
			m.remember(keys)
			m.seeFinished(k.id, p.Status)
			return alert.OutcomeSuperseded
		}
		if m.status == alert.StatusResolved {
			return alert.OutcomeReopen
		}
		m.remember(keys)
		m.seeNewest(k.id)
		m.seeFinished(k.id, p.Status)
		m.finished(k)
		switch m.status {
		case alert.StatusNone:
			m.cause, m.causeStatus = k, p.Status
			m.noteCause(ev)
			if m.hold <= 0 {
				m.open(ev.User, sev)
				return alert.OutcomeOpened
			}
			m.severity, m.peak, m.openedBy = sev, sev, ev.User
			m.status, m.quiet, m.holdUntil = alert.StatusPending, true, now.Add(m.hold)
			return alert.OutcomeHeld
		case alert.StatusPending:
			m.cause, m.causeStatus = k, p.Status
			m.noteCause(ev)
			m.raise(sev)
			m.holdUntil = now.Add(m.hold)
			return alert.OutcomeHeld
		}
		if Rank(sev) <= Rank(m.severity) {
			return alert.OutcomeNoVerdict
		}
		m.cause, m.causeStatus = k, p.Status
		m.noteCause(ev)
		m.raise(sev)
		return alert.OutcomeSeverityChanged
	}
	// Rules 1, 2 and 4: failed and success are the verdicts.
	if m.status == alert.StatusResolved {
		if bad {
			return alert.OutcomeReopen
		}
		m.remember(keys)
		m.seeVerdict(k)
		m.seeFinished(k.id, p.Status)
		m.seeGreen(p.ID)
		return alert.OutcomeIgnored
	}
	m.remember(keys)
	m.seeVerdict(k)
	m.seeFinished(k.id, p.Status)
	m.finished(k)
	if !bad {
		m.seeGreen(p.ID)
		if m.status == alert.StatusNone {
			return alert.OutcomeIgnored
		}
		m.seeRetried(ev)
		m.cause, m.causeStatus = k, p.Status
		m.noteCause(ev)
		m.end(ev.User, fmt.Sprintf("pipeline #%d succeeded", p.ID))
		return alert.OutcomeResolved
	}
	m.cause, m.causeStatus = k, p.Status
	m.noteCause(ev)
	if m.status == alert.StatusNone || m.status == alert.StatusPending {
		m.open(ev.User, alert.SeverityHigh)
		return alert.OutcomeOpened
	}
	prev := m.severity
	m.raise(alert.SeverityHigh)
	if prev != alert.SeverityHigh {
		return alert.OutcomeSeverityChanged
	}
	return alert.OutcomeUpdated
}

// Rule 14, under RulesInsight: none of it changes an outcome.

// seeGreen remembers a success of the ref as the ID's newest green.
func (m *GitLab) seeGreen(id int64) {
	if m.version >= alert.RulesInsight {
		m.green = max(m.green, id)
	}
}

// noteCause keeps what a pipeline that became the alert's cause says: a
// failure counts (a retried one once) and sets the class when the intake
// could tell it; a cancel or skip clears the class; the first failure,
// or the first bad pipeline until one fails, is the culprit, and the
// newest green before it its last green. It keeps the cause's failed
// jobs for the flaky rule.
func (m *GitLab) noteCause(ev alert.Event) {
	if m.version < alert.RulesInsight {
		return
	}
	p := ev.Pipeline
	m.causeJobs, m.causeOmitted = slices.Clone(p.FailedJobs), p.FailedJobsOmitted
	failed := p.Status == alert.PipelineFailed
	switch {
	case failed:
		if p.FailureClass != "" {
			m.class = p.FailureClass
		}
		if p.ID != m.lastFailed {
			m.failed, m.lastFailed = m.failed+1, p.ID
		}
	case p.Status != alert.PipelineSuccess:
		m.class = ""
	}
	if p.Status == alert.PipelineSuccess || m.culprit != 0 && (m.culpritFailed || !failed) {
		return
	}
	m.culprit, m.culpritFailed, m.lastGreen = p.ID, failed, 0
	for _, g := range []int64{m.green, greenID(ev.LastGreen)} {
		if g < p.ID {
			m.lastGreen = max(m.lastGreen, g)
		}
	}
}

func greenID(g *alert.Green) int64 {
	if g == nil {
		return 0
	}
	return g.PipelineID
}

// seeRetried applies a success of the pipeline the alert is about: the
// jobs that failed in its failed delivery and fail no longer passed on
// retry; when all of those that may not fail did, and it was the alert's
// one failed pipeline and its culprit, the alert was flaky.
func (m *GitLab) seeRetried(ev alert.Event) {
	m.flaky = false
	if m.version < alert.RulesInsight || m.cause.id != ev.Pipeline.ID || m.causeStatus != alert.PipelineFailed || len(m.causeJobs) == 0 {
		return
	}
	all := m.causeOmitted == 0
	for _, j := range m.causeJobs {
		again := false
		for _, o := range ev.Pipeline.FailedJobs {
			again = again || o.Name == j.Name && o.Stage == j.Stage
		}
		if !again {
			m.flakyJobs++
		} else if !j.AllowFailure {
			all = false
		}
	}
	m.flaky = all && m.failed == 1 && m.culprit == ev.Pipeline.ID
}

// EndHold announces a held alert whose hold is over at now, and reports
// whether it did, as alert.State.EndHold must.
func (m *GitLab) EndHold(now time.Time) bool {
	if m.status != alert.StatusPending || m.holdUntil.IsZero() || now.Before(m.holdUntil) {
		return false
	}
	m.open(m.openedBy, m.severity)
	m.entries = append(m.entries, alert.Entry{Time: now, Kind: alert.OutcomeOpened, PipelineID: m.cause.id, Status: m.causeStatus,
		Severity: m.severity, Actor: m.openedBy})
	return true
}

// DeleteBranch applies GitLab's word that the branch was deleted by by
// (rule 11), as alert.State.DeleteBranch must.
func (m *GitLab) DeleteBranch(by string, now time.Time) alert.Outcome {
	m.counts.Events++
	if m.status != alert.StatusOpen && m.status != alert.StatusAcknowledged && m.status != alert.StatusPending {
		m.counts.Ignored++
		m.entries = append(m.entries, alert.Entry{Time: now, Kind: alert.OutcomeIgnored, Severity: m.severity, Actor: by})
		return alert.OutcomeIgnored
	}
	m.counts.Applied++
	resolution := "branch deleted"
	if by != "" {
		resolution += " by " + by
	}
	m.end(alert.ResolvedByGitLab, resolution)
	m.entries = append(m.entries, alert.Entry{Time: now, Kind: alert.OutcomeResolved, Severity: m.severity, Actor: by})
	return alert.OutcomeResolved
}

// Acknowledge is someone taking the alert on (rule 5): whether it changed
// the alert, and the error the domain must refuse it with.
func (m *GitLab) Acknowledge(by, note string, now time.Time) (bool, error) {
	if err := ValidManual(m.status, by, note); err != nil {
		return false, err
	}
	switch m.status {
	case alert.StatusPending:
		return false, alert.ErrNotOpened // nobody has been told of it yet
	case alert.StatusAcknowledged:
		return false, nil
	}
	m.status, m.ackBy = alert.StatusAcknowledged, strings.TrimSpace(by)
	m.entries = append(m.entries, alert.Entry{Time: now, Kind: alert.OutcomeAcknowledged, Severity: m.severity, Actor: m.ackBy, Note: note})
	return true, nil
}

// Resolve is someone resolving the alert by hand (rule 5): the error the
// domain must refuse it with, or nil.
func (m *GitLab) Resolve(by, reason string, now time.Time) error {
	if err := ValidManual(m.status, by, reason); err != nil {
		return err
	}
	resolution := "resolved by hand"
	if reason != "" {
		resolution += ": " + reason
	}
	m.end(strings.TrimSpace(by), resolution)
	m.entries = append(m.entries, alert.Entry{Time: now, Kind: alert.OutcomeResolved, Severity: m.severity, Actor: m.resolvedBy, Note: reason})
	return nil
}

// Agrees compares a State that went through the same steps, at the same
// times, with the model: everything but the prose of timeline notes.
func (m *GitLab) Agrees(s *alert.State) error {
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
	if got := greenID(mem.Green); got != m.green {
		add("newest green #%d, model #%d", got, m.green)
	}
	var culprit, lastGreen int64
	if s.Culprit != nil {
		culprit = s.Culprit.PipelineID
	}
	lastGreen = greenID(s.LastGreen)
	if culprit != m.culprit || lastGreen != m.lastGreen || s.FailureClass != m.class || int64(s.FailedPipelines) != m.failed ||
		len(s.FlakyJobs) != min(m.flakyJobs, alert.MaxFlakyJobs) || s.Flaky != m.flaky {
		add("culprit #%d after green #%d, class %q, %d failed, %d flaky jobs, flaky %v; model #%d, #%d, %q, %d, %d, %v",
			culprit, lastGreen, s.FailureClass, s.FailedPipelines, len(s.FlakyJobs), s.Flaky,
			m.culprit, m.lastGreen, m.class, m.failed, m.flakyJobs, m.flaky)
	}
	if mem.Newest != m.newest || mem.Finished != m.lastFinished {
		add("newest %d and newest finished %d, model %d and %d", mem.Newest, mem.Finished, m.newest, m.lastFinished)
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

// Outline is what a test that cannot follow an alert step by step (the
// integration tests know neither when the server applied an event nor
// which of two racing deliveries came first) compares: no times, actors,
// dedup keys or timeline entries, only how many entries there were.
type Outline struct {
	Status         alert.Status
	Severity, Peak alert.Severity
	Quiet          bool
	// Cause and CauseStatus are the pipeline the alert is about.
	Cause       int64
	CauseStatus string
	Resolution  string
	Counts      alert.Counts
	Memory      alert.Memory
	// Recorded counts timeline entries, dropped ones included, but for
	// those of the notification side (reminders, snoozes, silences,
	// escalations), which the rules' model does not follow.
	Recorded int
}

// Outline is the model's outline of the alert.
func (m *GitLab) Outline() Outline {
	return Outline{Status: m.status, Severity: m.severity, Peak: m.peak, Quiet: m.quiet,
		Cause: m.cause.id, CauseStatus: m.causeStatus, Resolution: m.resolution,
		Counts: m.counts, Memory: m.Memory(), Recorded: len(m.entries)}
}

// Diff lists the fields in which o differs from the model's outline want,
// "" when none does.
func (o Outline) Diff(want Outline) string {
	got, exp := reflect.ValueOf(o), reflect.ValueOf(want)
	var diffs []string
	for i := range got.NumField() {
		if g, w := got.Field(i).Interface(), exp.Field(i).Interface(); !reflect.DeepEqual(g, w) {
			diffs = append(diffs, fmt.Sprintf("%s %+v, model %+v", got.Type().Field(i).Name, g, w))
		}
	}
	return strings.Join(diffs, "; ")
}

// notificationSide are the timeline entries of what people heard and when,
// rather than of what the alert is.
var notificationSide = map[alert.Outcome]bool{
	alert.OutcomeReminder: true, alert.OutcomeEscalated: true, alert.OutcomeSuppressed: true,
	alert.OutcomeSilenceEnded: true, alert.OutcomeSnoozed: true, alert.OutcomeSnoozeEnded: true,
}

// OutlineOf is the outline of a State, to compare with a model's.
func OutlineOf(s *alert.State) Outline {
	o := Outline{Status: s.Status, Severity: s.Severity, Peak: s.PeakSeverity, Quiet: s.Quiet,
		Resolution: s.Resolution, Counts: s.Counts, Memory: s.Memory, Recorded: s.TimelineDropped}
	for _, e := range s.Timeline {
		if !notificationSide[e.Kind] {
			o.Recorded++
		}
	}
	if s.Pipeline != nil {
		o.Cause, o.CauseStatus = s.Pipeline.ID, s.Pipeline.Status
	}
	return o
}
