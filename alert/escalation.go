package alert

import "time"

// OutcomeEscalated: nobody acknowledged the alert in time, and it went to
// the receiver its route escalates to.
const OutcomeEscalated Outcome = "escalated"

// Escalate records that the alert escalated to receiver to at now. Only an
// open alert escalates: acknowledging it is what stops an escalation.
func (s *State) Escalate(now time.Time, to string) Outcome {
	if s.Status != StatusOpen || !s.EscalatedAt.IsZero() {
		return ""
	}
	s.EscalatedAt, s.EscalatedTo = now, to
	s.record(Entry{Time: now, Kind: OutcomeEscalated, Severity: s.Severity, Note: "escalated to " + to})
	return OutcomeEscalated
}
