package alert

import (
	"fmt"
	"strings"
	"time"
)

// MaxSnooze is the longest a snooze may last: a week, like the longest
// snooze PagerDuty offers. Longer is a silence, or a resolve.
const MaxSnooze = 7 * 24 * time.Hour

// Outcomes of snoozing, recorded in the timeline.
const (
	// OutcomeSnoozed: someone snoozed the alert until a time.
	OutcomeSnoozed Outcome = "snoozed"
	// OutcomeSnoozeEnded: the snooze ran out, or a raised severity ended
	// it early.
	OutcomeSnoozeEnded Outcome = "snooze_ended"
)

// SnoozeRequest is someone snoozing an alert: {"by","for","note"}, for
// as a Go duration ("2h", "30m").
type SnoozeRequest struct {
	By   string `json:"by"`
	For  string `json:"for"`
	Note string `json:"note,omitempty"`
}

// Snooze is an alert's snooze while it lasts.
type Snooze struct {
	Until time.Time `json:"until"`
	By    string    `json:"by"`
	Note  string    `json:"note,omitempty"`
}

// ParseDuration reads a Go duration ("90m", "2h30m") or a number of days
// ("2d"), which people type and Go does not read.
func ParseDuration(text string) (time.Duration, error) {
	text = strings.TrimSpace(text)
	d, err := time.ParseDuration(text)
	if days, ok := strings.CutSuffix(text, "d"); ok && err != nil {
		var n int
		if _, scanErr := fmt.Sscanf(days, "%d", &n); scanErr == nil && fmt.Sprint(n) == days {
			d, err = time.Duration(n)*24*time.Hour, nil
		}
	}
	return d, err
}

// duration parses and bounds r.For.
func (r SnoozeRequest) duration() (time.Duration, error) {
	d, err := ParseDuration(r.For)
	switch {
	case strings.TrimSpace(r.For) == "":
		return 0, fmt.Errorf("%w: \"for\" is required: how long to snooze, such as \"2h\"", ErrInvalidInput)
	case err != nil:
		return 0, fmt.Errorf("%w: \"for\": %q is not a duration such as \"2h\", \"30m\" or \"2d\"", ErrInvalidInput, r.For)
	case d <= 0:
		return 0, fmt.Errorf("%w: \"for\" must be positive, not %s", ErrInvalidInput, r.For)
	case d > MaxSnooze:
		return 0, fmt.Errorf("%w: \"for\" is at most %s (7 days), not %s", ErrInvalidInput, MaxSnooze, r.For)
	}
	return d, nil
}

// CheckSnooze tells whether r can be applied, without applying it. Only an
// alert people have heard of can be snoozed: a held one is quiet already.
func (s *State) CheckSnooze(r SnoozeRequest) error {
	if err := validateText(r.By, "note", r.Note); err != nil {
		return err
	}
	if _, err := r.duration(); err != nil {
		return err
	}
	if s.Status == StatusPending {
		return fmt.Errorf("%w: %s is held until %s and nobody has been told of it yet", ErrNotOpened, s.ID, s.HoldUntil.UTC().Format(time.RFC3339))
	}
	return s.checkActive()
}

// SnoozeFor snoozes the alert from now for r.For: no reminders until then.
// A snooze replaces the one before it, so it can be shortened or extended.
func (s *State) SnoozeFor(r SnoozeRequest, now time.Time) error {
	if err := s.CheckSnooze(r); err != nil {
		return err
	}
	d, _ := r.duration()
	s.Snoozed = &Snooze{Until: now.Add(d), By: strings.TrimSpace(r.By), Note: r.Note}
	s.record(Entry{Time: now, Kind: OutcomeSnoozed, Severity: s.Severity, Actor: s.Snoozed.By,
		Note: strings.TrimSpace("until " + s.Snoozed.Until.UTC().Format(time.RFC3339) + " " + r.Note)})
	return nil
}

// SnoozedAt reports whether the alert is snoozed at now.
func (s *State) SnoozedAt(now time.Time) bool {
	return s.Snoozed != nil && now.Before(s.Snoozed.Until)
}

// EndSnooze ends the snooze at now, for why ("time is up", "severity
// raised to HIGH"). It reports whether people must hear of the alert
// again: it is still open and nobody has acknowledged it.
func (s *State) EndSnooze(now time.Time, why string) (remind bool) {
	if s.Snoozed == nil {
		return false
	}
	s.Snoozed = nil
	s.record(Entry{Time: now, Kind: OutcomeSnoozeEnded, Severity: s.Severity, Note: why})
	return s.Status == StatusOpen
}
