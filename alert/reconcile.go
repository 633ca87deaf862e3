package alert

import (
	"fmt"
	"time"
)

// ViaReconciled marks what GitLab's API said rather than delivered: a
// timeline entry of a pipeline state or a deleted branch that alertflow
// read because the delivery never came.
const ViaReconciled = "reconciled"

// Reconciled is what GitLab's API says of an alert's ref when alertflow
// asks: the newest finished pipeline on it, and whether the branch (or
// tag) is gone.
type Reconciled struct {
	// Newest is the newest finished pipeline as the intake would have
	// built its delivery; nil when GitLab listed none.
	Newest *Event `json:"newest,omitempty"`
	// Gone says the branch or tag does not exist any more.
	Gone bool `json:"gone,omitempty"`
	// Failed is why GitLab could not be read, when it could not; the
	// rest is then empty.
	Failed string `json:"failed,omitempty"`
}

// Reconcile applies what GitLab's API says of the ref at now, through the
// same rules as a delivery, and reports what it did. What the alert has
// already seen (the same pipeline state, by content key) leaves no entry
// and counts no event: a check every half hour must not push the
// deliveries out of the timeline. Anything new is recorded like a delivery,
// marked ViaReconciled. by says who asked ("alertflow" for the schedule).
func (s *State) Reconcile(r Reconciled, by string, now time.Time) Outcome {
	s.LastReconciledAt = now
	if r.Failed != "" {
		s.record(Entry{Time: now, Kind: OutcomeReconcileFailed, Severity: s.Severity, Actor: by, Note: r.Failed, Via: ViaReconciled})
		return OutcomeReconcileFailed
	}
	if r.Gone {
		out := s.DeleteBranch(Deletion{}, now)
		s.markLast(ViaReconciled, "GitLab's API: the branch does not exist")
		return out
	}
	if r.Newest == nil {
		s.record(Entry{Time: now, Kind: OutcomeIgnored, Severity: s.Severity, Actor: by, Note: "GitLab's API lists no finished pipeline on the ref", Via: ViaReconciled})
		return OutcomeIgnored
	}
	ev := *r.Newest
	// The API's pipeline knows nothing of the project's path and links:
	// keep what the deliveries said.
	ev.Project, ev.Instance = s.Project, instanceOf(s.ID)
	ev.Pipeline.Ref, ev.Pipeline.Tag = s.Ref, s.Tag
	if s.seen(eventKeys(ev)) {
		return OutcomeDuplicate
	}
	out := s.Apply(ev, now)
	s.markLast(ViaReconciled, fmt.Sprintf("GitLab's API: pipeline #%d %s", ev.Pipeline.ID, ev.Pipeline.Status))
	return out
}

// markLast marks the newest timeline entry as coming via how, adding note
// to what the rules said.
func (s *State) markLast(how, note string) {
	if len(s.Timeline) == 0 {
		return
	}
	e := &s.Timeline[len(s.Timeline)-1]
	e.Via = how
	e.Note = joinNotes(note, e.Note)
}

// instanceOf is the instance an alert ID names, "" for the home one.
func instanceOf(id string) string {
	instance, _, _, err := ParseInstanceID(id)
	if err != nil {
		return ""
	}
	return instance
}

// ReconcileRequest asks for an alert's ref to be checked against GitLab's
// API now: {"by"}.
type ReconcileRequest struct {
	By string `json:"by"`
}

// CheckReconcile says whether req may check the alert now: someone must
// ask, and the alert must be active.
func (s *State) CheckReconcile(req ReconcileRequest) error {
	if err := validateText(req.By, "", ""); err != nil {
		return err
	}
	return s.checkActive()
}
