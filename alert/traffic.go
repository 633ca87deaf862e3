package alert

import (
	"fmt"
	"time"
)

// applyGitLab applies ev under RulesGitLab: the rules for the way GitLab
// really delivers pipeline events (docs/design.md, rules 8 to 12).
func (s *State) applyGitLab(ev Event, now time.Time) (Outcome, string) {
	keys := eventKeys(ev)
	if s.seen(keys) {
		return OutcomeDuplicate, ""
	}
	p := ev.Pipeline
	if p.IsChild() && s.Rules.children() == ChildParent {
		// Rule 10: GitLab's own view of a ref leaves children to their parent.
		s.remember(keys)
		return OutcomeChild, fmt.Sprintf("child of pipeline #%d: its parent speaks for it", p.ParentID)
	}
	m := s.Rules.markOf(p)
	if note := s.stale(m, p.Status); note != "" {
		s.remember(keys)
		return OutcomeStale, note
	}
	switch p.Status {
	case PipelineFailed, PipelineSuccess:
		return s.applyVerdict(ev, m, keys, now)
	case PipelineCanceled, PipelineSkipped:
		return s.applyNoVerdict(ev, m, keys, now)
	default:
		return s.applyProgress(ev, m, keys)
	}
}

// stale explains why a delivery placed at m is older than what the ID has
// already seen (rules 2 and 8, and under RulesFinished rule 4's newest
// finished pipeline), or returns "" when it is not.
func (s *State) stale(m Mark, status string) string {
	mem := s.Memory
	if mem.Verdict.after(m) {
		return fmt.Sprintf("older than pipeline #%d", mem.Verdict.ID)
	}
	if mem.Closed.Family != 0 && !m.after(mem.Closed) {
		return fmt.Sprintf("not newer than pipeline #%d, which the last alert ended with", mem.Closed.ID)
	}
	if s.Rules.Version >= RulesFinished && (status == PipelineSuccess || status == PipelineFailed) && m.Family < mem.Finished {
		// Rule 4: only the newest finished pipeline speaks for the ref, as
		// in GitLab's own ref status; a retry of an older one keeps its id.
		return fmt.Sprintf("older than pipeline #%d, the newest finished", mem.Finished)
	}
	if _, bad := SeverityOf(status); !bad && status != PipelineSuccess &&
		m.FinishedAt.IsZero() && m.Family == mem.Verdict.Family && !mem.Verdict.FinishedAt.IsZero() {
		// A pipeline that never finished before is still running only in a
		// delivery that was sent before it finished.
		return fmt.Sprintf("sent before pipeline #%d finished", mem.Verdict.ID)
	}
	return ""
}

// applyVerdict applies a failure or a success: the statuses that say
// whether the code works.
func (s *State) applyVerdict(ev Event, m Mark, keys []string, now time.Time) (Outcome, string) {
	failed := ev.Pipeline.Status == PipelineFailed
	if s.Status == StatusResolved {
		if failed {
			// Not remembered: the new alert this event opens must apply it.
			return OutcomeReopen, "after the resolve: opens a new alert"
		}
		s.remember(keys)
		s.noteVerdict(m)
		s.noteFinished(m, ev.Pipeline.Status)
		s.noteGreen(ev)
		return OutcomeIgnored, "alert already resolved"
	}
	s.remember(keys)
	s.noteFinished(m, ev.Pipeline.Status)
	if !failed && s.Status != StatusNone && m.Family == s.Cause.Family && m.ID != s.Cause.ID {
		// A family of pipelines (a parent and its children) fails when one
		// member fails: another member's success does not clear it.
		return OutcomeNoVerdict, fmt.Sprintf("pipeline #%d of the same family failed", s.Cause.ID)
	}
	s.noteVerdict(m)
	s.endProgress(m)
	if !failed {
		s.noteGreen(ev)
		if s.Status == StatusNone {
			return OutcomeIgnored, "no open alert"
		}
		allFlaky := s.noteFlaky(ev, now)
		s.setCause(ev, m)
		if s.flapping() {
			// A flapping alert stays open until its branch is stable.
			return s.wentGreen(now)
		}
		wasQuiet := s.Quiet
		// The one pipeline that failed passed once its failed jobs were
		// retried: nobody broke the branch. The resolution stays what it
		// always was; the recovery says flaky.
		s.Flaky = allFlaky && s.FailedPipelines == 1 && s.Culprit != nil && s.Culprit.PipelineID == ev.Pipeline.ID
		s.close(now, ev.User, fmt.Sprintf("pipeline #%d succeeded", ev.Pipeline.ID))
		if wasQuiet {
			return OutcomeResolved, "nobody had been told of it"
		}
		return OutcomeResolved, ""
	}
	s.setCause(ev, m)
	switch s.Status {
	case StatusNone, StatusPending:
		note := ""
		if s.Status == StatusPending {
			note = "a newer pipeline failed while the alert was held"
		}
		s.announce(now, ev.User, SeverityHigh)
		out, flapNote := s.opening(now)
		return out, joinNotes(note, flapNote)
	}
	if s.flapping() && !s.GreenSince.IsZero() {
		return s.wentRed(now)
	}
	prev := s.Severity
	s.raise(SeverityHigh, true)
	if prev != SeverityHigh {
		return OutcomeSeverityChanged, fmt.Sprintf("%s → %s", prev, SeverityHigh)
	}
	return OutcomeUpdated, ""
}

// applyNoVerdict applies a canceled or skipped pipeline (rules 2 and 9):
// it says nothing about the code, so it pages nobody when a newer pipeline
// has been seen, may raise an open alert's severity but never lowers it,
// and opens an alert only after a hold that lets a successor show up.
func (s *State) applyNoVerdict(ev Event, m Mark, keys []string, now time.Time) (Outcome, string) {
	if s.Memory.Newest > m.Family {
		s.remember(keys)
		s.noteFinished(m, ev.Pipeline.Status)
		return OutcomeSuperseded, fmt.Sprintf("pipeline #%d is newer", s.Memory.Newest)
	}
	if s.Status == StatusResolved {
		return OutcomeReopen, "after the resolve: opens a new alert"
	}
	s.remember(keys)
	s.noteNewest(m)
	s.noteFinished(m, ev.Pipeline.Status)
	s.endProgress(m)
	sev, _ := SeverityOf(ev.Pipeline.Status)
	switch s.Status {
	case StatusNone:
		s.setCause(ev, m)
		if s.Rules.Hold <= 0 {
			s.announce(now, ev.User, sev)
			return s.opening(now)
		}
		s.Status, s.Quiet = StatusPending, true
		s.Severity, s.PeakSeverity, s.OpenedBy = sev, sev, ev.User
		s.HoldUntil = now.Add(s.Rules.Hold)
		return OutcomeHeld, fmt.Sprintf("held until %s in case a newer pipeline supersedes it", s.HoldUntil.UTC().Format(time.RFC3339))
	case StatusPending:
		s.setCause(ev, m)
		s.raise(sev, false)
		s.HoldUntil = now.Add(s.Rules.Hold)
		return OutcomeHeld, fmt.Sprintf("held until %s in case a newer pipeline supersedes it", s.HoldUntil.UTC().Format(time.RFC3339))
	}
	if sev.rank() <= s.Severity.rank() {
		return OutcomeNoVerdict, fmt.Sprintf("%s carries no verdict: severity stays %s", ev.Pipeline.Status, s.Severity)
	}
	prev := s.Severity
	s.setCause(ev, m)
	s.raise(sev, false)
	return OutcomeSeverityChanged, fmt.Sprintf("%s → %s", prev, sev)
}

// applyProgress applies a pipeline that has not finished: the alert shows
// it, and a held cancel or skip that it is newer than is superseded.
func (s *State) applyProgress(ev Event, m Mark, keys []string) (Outcome, string) {
	s.remember(keys)
	newest := m.Family >= s.Memory.Newest
	s.noteNewest(m)
	if s.Status == StatusResolved {
		return OutcomeIgnored, "alert already resolved"
	}
	if !newest {
		return OutcomeIgnored, fmt.Sprintf("pipeline #%d is newer", s.Memory.Newest)
	}
	p := ev.Pipeline
	s.InProgress = &Progress{ID: p.ID, Status: p.Status, URL: p.URL}
	if m.Family != p.ID {
		s.InProgress.Family = m.Family
	}
	if s.Status == StatusPending && !s.HoldUntil.IsZero() && m.Family >= s.Cause.Family {
		s.HoldUntil = time.Time{}
		return OutcomeProgress, fmt.Sprintf("supersedes pipeline #%d, which pages nobody", s.Cause.ID)
	}
	return OutcomeProgress, ""
}

// EndHold announces a pending alert whose hold is over and that nothing
// superseded, and reports whether it did. The alert then is open, and
// people hear of it as of any other.
func (s *State) EndHold(now time.Time) (Outcome, bool) {
	if s.Status != StatusPending || s.HoldUntil.IsZero() || now.Before(s.HoldUntil) {
		return "", false
	}
	held := s.Cause
	s.announce(now, s.OpenedBy, s.Severity)
	out, flapNote := s.opening(now)
	s.record(Entry{Time: now, Kind: out, PipelineID: held.ID, Status: s.Pipeline.Status, Severity: s.Severity,
		Actor: s.OpenedBy, Note: joinNotes("held, and no newer pipeline superseded it", flapNote)})
	return out, true
}

// announce opens the alert for people to hear of, at severity sev or the
// severity it was held with, whichever is higher.
func (s *State) announce(now time.Time, by string, sev Severity) {
	s.Status, s.Quiet, s.HoldUntil = StatusOpen, false, time.Time{}
	s.OpenedAt, s.OpenedBy = now, by
	s.raise(sev, false)
}

// raise sets the severity to sev when that is higher, or in any case when
// force is set (a failure is the newest verdict whatever came before), and
// keeps the peak.
func (s *State) raise(sev Severity, force bool) {
	if force || sev.rank() > s.Severity.rank() {
		s.Severity = sev
	}
	if s.Severity.rank() > s.PeakSeverity.rank() {
		s.PeakSeverity = s.Severity
	}
}

func (s *State) setCause(ev Event, m Mark) {
	s.noteCause(ev)
	s.setNewest(ev)
	s.Missed = nil
	s.Cause = m
}

// close resolves the alert and remembers where it ended, so no delivery
// that is not newer opens another (rule 8).
func (s *State) close(now time.Time, by, resolution string) {
	s.Status = StatusResolved
	s.ResolvedAt, s.ResolvedBy, s.Resolution = now, by, resolution
	s.HoldUntil, s.NextReminderAt = time.Time{}, time.Time{}
	if s.Rules.Version >= RulesGitLab && s.Cause.after(s.Memory.Closed) {
		s.Memory.Closed = s.Cause
	}
	s.noteResolve(now)
}

func (s *State) noteNewest(m Mark) {
	if m.Family > s.Memory.Newest {
		s.Memory.Newest = m.Family
	}
}

func (s *State) noteVerdict(m Mark) {
	s.noteNewest(m)
	if s.Memory.Verdict.Family == 0 || m.after(s.Memory.Verdict) || m.Family == s.Memory.Verdict.Family && s.Memory.Verdict.FinishedAt.IsZero() {
		s.Memory.Verdict = m
	}
}

// noteFinished remembers the newest pipeline seen finished, under
// RulesFinished: a success, a failure or a cancel. A skipped pipeline is
// not finished to GitLab (its "finished" scope, which its ref status
// follows, leaves skipped out), so it does not count.
func (s *State) noteFinished(m Mark, status string) {
	if s.Rules.Version < RulesFinished {
		return
	}
	switch status {
	case PipelineSuccess, PipelineFailed, PipelineCanceled:
		s.Memory.Finished = max(s.Memory.Finished, m.Family)
	}
}

// endProgress forgets the pipeline in progress once it, or a newer one,
// has finished.
func (s *State) endProgress(m Mark) {
	if s.InProgress == nil {
		return
	}
	family := s.InProgress.Family
	if family == 0 {
		family = s.InProgress.ID
	}
	if m.Family >= family {
		s.InProgress = nil
	}
}

// Heard reports whether people hear of an outcome: a lifecycle transition
// of an alert that was announced. A pending alert, and one that ended
// while pending, stays quiet.
func (s *State) Heard(out Outcome) bool {
	return out.Notifies() && !s.Quiet
}
