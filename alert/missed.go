package alert

import (
	"fmt"
	"time"
)

// Missed says that a scheduled pipeline did not run: a heartbeat monitor's
// deadline passed and no scheduled pipeline on the ref had finished.
type Missed struct {
	// Monitor names the monitor whose deadline passed.
	Monitor string `json:"monitor"`
	// Due is the deadline: when the pipeline should have finished by.
	Due time.Time `json:"due"`
	// Severity is what the monitor pages with.
	Severity Severity `json:"severity"`
}

// applyMissed applies a missed run under any rules: it is not a pipeline,
// so the ordering by pipeline id says nothing of it. It opens the alert
// (or raises an open one's severity) at the monitor's severity; the next
// success on the ref resolves it as any other. Each deadline counts once.
func (s *State) applyMissed(m Missed, now time.Time) (Outcome, string) {
	keys := []string{"m:" + m.Monitor + ":" + m.Due.UTC().Format(time.RFC3339)}
	if s.seen(keys) {
		return OutcomeDuplicate, ""
	}
	if s.Status == StatusResolved {
		// Not remembered: the new alert this event opens must apply it.
		return OutcomeReopen, "after the resolve: opens a new alert"
	}
	s.remember(keys)
	s.Missed = &m
	note := fmt.Sprintf("scheduled pipeline did not run by %s (monitor %s)", m.Due.UTC().Format(time.RFC3339), m.Monitor)
	switch s.Status {
	case StatusNone, StatusPending:
		s.announce(now, "", m.Severity)
		out, flapNote := s.opening(now)
		return out, joinNotes(note, flapNote)
	}
	prev := s.Severity
	s.raise(m.Severity, false)
	if prev != s.Severity {
		return OutcomeSeverityChanged, joinNotes(fmt.Sprintf("%s → %s", prev, s.Severity), note)
	}
	return OutcomeUpdated, note
}
