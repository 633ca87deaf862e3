package alert

import "time"

// Outcomes of silences, recorded in an alert's timeline.
const (
	// OutcomeSuppressed: a notification was not sent, a silence matching
	// the alert.
	OutcomeSuppressed Outcome = "suppressed"
	// OutcomeSilenceEnded: the silence holding the alert ended, or no
	// longer holds it.
	OutcomeSilenceEnded Outcome = "silence_ended"
)

// Silenced is the silence holding an alert: its notifications are kept in
// the timeline instead of being sent, until Until.
type Silenced struct {
	ID    string    `json:"id"`
	Until time.Time `json:"until"`
	// Unheard says nobody has heard of the alert: its opening was one of
	// the notifications suppressed, so the silence's end announces it.
	Unheard bool `json:"unheard,omitempty"`
	// Suppressed counts the notifications not sent.
	Suppressed int `json:"suppressed"`
}

// Suppress records that a notification of kind was not sent because
// silence id holds the alert until until. opening says the notification
// was the alert's first, its opening.
func (s *State) Suppress(now time.Time, kind string, opening bool, id string, until time.Time) {
	unheard := opening || s.Silenced != nil && s.Silenced.Unheard
	if s.Silenced == nil || s.Silenced.ID != id {
		s.Silenced = &Silenced{ID: id}
	}
	s.Silenced.Until, s.Silenced.Unheard = until, unheard
	s.Silenced.Suppressed++
	s.record(Entry{Time: now, Kind: OutcomeSuppressed, Severity: s.Severity,
		Note: kind + " not sent: silenced by " + id + " until " + until.UTC().Format(time.RFC3339)})
}

// HeardOf reports whether people have heard of the alert: it notified
// them before any silence held it.
func (s *State) HeardOf() bool {
	return s.Silenced == nil || !s.Silenced.Unheard
}

// maxEnded bounds State.SilencesEnded: an alert outlives few silences.
const maxEnded = 8

// EndSilence ends the alert's silence at now, for why, and remembers its
// ID, so that a silence the worker still lists as active for a moment
// cannot hold the alert again. It returns what
// people must hear of the alert now: its opening when they never heard of
// it, a reminder of where it stands when they did; nothing once it is
// resolved, since a silence that outlived its alert hands nothing over.
func (s *State) EndSilence(now time.Time, why string) Outcome {
	if s.Silenced == nil {
		return ""
	}
	unheard := s.Silenced.Unheard
	s.SilencesEnded = append(s.SilencesEnded, s.Silenced.ID)
	if over := len(s.SilencesEnded) - maxEnded; over > 0 {
		s.SilencesEnded = s.SilencesEnded[over:]
	}
	s.Silenced = nil
	s.record(Entry{Time: now, Kind: OutcomeSilenceEnded, Severity: s.Severity, Note: why})
	switch {
	case !s.Status.Active():
		return ""
	case unheard:
		return OutcomeOpened
	}
	return OutcomeReminder
}
