package alert

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors of manual actions. Each is wrapped with the detail; callers tell
// them apart with errors.Is to answer 400 or 409.
var (
	// ErrInvalidInput: the action itself is malformed (no "by", too long).
	ErrInvalidInput = errors.New("invalid input")
	// ErrNotOpened: the alert has not been opened by any bad pipeline.
	ErrNotOpened = errors.New("alert is not open")
	// ErrResolved: the alert is already resolved.
	ErrResolved = errors.New("alert is already resolved")
)

// Bounds on what people type, so one action cannot bloat the state.
const (
	maxActorLen = 200
	maxTextLen  = 2000
)

// Acknowledgement is someone taking an alert on: {"by","note"}.
type Acknowledgement struct {
	By   string `json:"by"`
	Note string `json:"note,omitempty"`
}

// Resolution is someone resolving an alert by hand: {"by","reason"}.
type Resolution struct {
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
}

func validateText(by, textField, text string) error {
	switch {
	case strings.TrimSpace(by) == "":
		return fmt.Errorf("%w: \"by\" is required: who is acting", ErrInvalidInput)
	case len(by) > maxActorLen:
		return fmt.Errorf("%w: \"by\" is longer than %d bytes", ErrInvalidInput, maxActorLen)
	case len(text) > maxTextLen:
		return fmt.Errorf("%w: %q is longer than %d bytes", ErrInvalidInput, textField, maxTextLen)
	}
	return nil
}

func (s *State) checkActive() error {
	switch s.Status {
	case StatusOpen, StatusAcknowledged:
		return nil
	case StatusPending:
		return nil
	case StatusResolved:
		return fmt.Errorf("%w: %s was resolved by %s (%s)", ErrResolved, s.ID, s.ResolvedBy, s.Resolution)
	default:
		return fmt.Errorf("%w: %s has seen no failed, canceled or skipped pipeline", ErrNotOpened, s.ID)
	}
}

// CheckAcknowledge tells whether a can be applied, without applying it.
func (s *State) CheckAcknowledge(a Acknowledgement) error {
	if err := validateText(a.By, "note", a.Note); err != nil {
		return err
	}
	if s.Status == StatusPending {
		return fmt.Errorf("%w: %s is held until %s and nobody has been told of it yet", ErrNotOpened, s.ID, s.HoldUntil.UTC().Format(time.RFC3339))
	}
	return s.checkActive()
}

// Acknowledge moves an open alert to acknowledged, which stops reminders.
// Acknowledging an acknowledged alert changes nothing and is no error, as
// in PagerDuty: two people pressing ack at once both succeed.
func (s *State) Acknowledge(a Acknowledgement, now time.Time) (changed bool, err error) {
	if err := s.CheckAcknowledge(a); err != nil {
		return false, err
	}
	if s.Status == StatusAcknowledged {
		return false, nil
	}
	s.Status = StatusAcknowledged
	s.AcknowledgedAt, s.AcknowledgedBy, s.AckNote = now, strings.TrimSpace(a.By), a.Note
	s.NextReminderAt = time.Time{}
	s.record(Entry{Time: now, Kind: OutcomeAcknowledged, Severity: s.Severity, Actor: s.AcknowledgedBy, Note: a.Note})
	return true, nil
}

// CheckResolve tells whether r can be applied, without applying it.
func (s *State) CheckResolve(r Resolution) error {
	if err := validateText(r.By, "reason", r.Reason); err != nil {
		return err
	}
	return s.checkActive()
}

// Resolve resolves an open or acknowledged alert by hand.
func (s *State) Resolve(r Resolution, now time.Time) error {
	if err := s.CheckResolve(r); err != nil {
		return err
	}
	resolution := "resolved by hand"
	if r.Reason != "" {
		resolution += ": " + r.Reason
	}
	s.close(now, strings.TrimSpace(r.By), resolution)
	s.record(Entry{Time: now, Kind: OutcomeResolved, Severity: s.Severity, Actor: s.ResolvedBy, Note: r.Reason})
	return nil
}

// Deletion is GitLab's word that a branch (or tag) was deleted: a push
// event whose "after" commit is all zeros.
type Deletion struct {
	// By is the user who deleted it, as GitLab names them.
	By string `json:"by,omitempty"`
	// IdempotencyKey is the delivery's Idempotency-Key header.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// ResolvedByGitLab is who resolves an alert whose branch was deleted.
const ResolvedByGitLab = "GitLab"

// DeleteBranch resolves the alert of a deleted branch (rule 11); an alert
// that is not active records the delivery and stays as it is. Either way
// the delivery is counted, like any other (rule 12).
func (s *State) DeleteBranch(d Deletion, now time.Time) Outcome {
	s.Counts.Events++
	s.LastEventAt = now
	note := "branch deleted"
	if d.By != "" {
		note += " by " + d.By
	}
	if s.Status != StatusOpen && s.Status != StatusAcknowledged && s.Status != StatusPending {
		s.Counts.Ignored++
		s.record(Entry{Time: now, Kind: OutcomeIgnored, Severity: s.Severity, Actor: d.By, Note: note + "; no open alert"})
		return OutcomeIgnored
	}
	s.Counts.Applied++
	s.close(now, ResolvedByGitLab, note)
	s.record(Entry{Time: now, Kind: OutcomeResolved, Severity: s.Severity, Actor: d.By, Note: note})
	return OutcomeResolved
}

// ResolvedByAlertflow is who resolves an alert that timed out.
const ResolvedByAlertflow = "alertflow"

// AutoResolveDue reports whether the alert has gone without any pipeline
// event for after and should resolve itself; zero after means never.
func (s *State) AutoResolveDue(after time.Duration, now time.Time) bool {
	active := s.Status == StatusOpen || s.Status == StatusAcknowledged || s.Status == StatusPending
	return after > 0 && active && !s.LastEventAt.IsZero() && !now.Before(s.LastEventAt.Add(after))
}

// AutoResolve resolves an alert that has had no pipeline event for after
// (rule 11), as PagerDuty's auto-resolve timeout does.
func (s *State) AutoResolve(after time.Duration, now time.Time) Outcome {
	if !s.AutoResolveDue(after, now) {
		return ""
	}
	note := fmt.Sprintf("no pipeline event for %s", after)
	s.close(now, ResolvedByAlertflow, "auto-resolved: "+note)
	s.record(Entry{Time: now, Kind: OutcomeResolved, Severity: s.Severity, Note: note})
	return OutcomeResolved
}

// Reject records a manual action that arrived as a signal and was not
// valid, so the refusal is visible in the timeline.
func (s *State) Reject(action string, by string, err error, now time.Time) {
	s.record(Entry{Time: now, Kind: OutcomeRejected, Severity: s.Severity, Actor: by, Note: action + ": " + err.Error()})
}

// RemindersDue reports whether an alert in this state needs reminders:
// open and nobody has acknowledged it.
func (s *State) RemindersDue() bool {
	return s.Status == StatusOpen && s.Snoozed == nil
}

// Remind records a reminder sent at now and when the next one is due.
func (s *State) Remind(now, next time.Time) {
	s.Reminders++
	s.NextReminderAt = next
	s.record(Entry{Time: now, Kind: OutcomeReminder, Severity: s.Severity, Note: fmt.Sprintf("reminder %d", s.Reminders)})
}
