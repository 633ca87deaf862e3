// Package activities holds alertflow's side effects: the notifications an
// alert sends when its lifecycle moves. Each sink is its own activity so
// that a failing sink is retried without re-sending through the others.
package activities

import (
	"cmp"
	"context"

	"github.com/alertflow/alertflow/alert"
)

// Kind is the lifecycle transition a notification announces.
type Kind string

// Notification kinds. Their values are part of the webhook payload and of
// the X-Alertflow-Event header, so they never change.
const (
	// KindOpened: the first bad pipeline opened the alert.
	KindOpened Kind = "opened"
	// KindSeverityChanged: the newest pipeline moved the severity up or down.
	KindSeverityChanged Kind = "severity_changed"
	// KindReminder: the alert is still open and nobody has acknowledged it.
	KindReminder Kind = "reminder"
	// KindAcknowledged: someone took the alert on.
	KindAcknowledged Kind = "acknowledged"
	// KindResolved: a green pipeline or a person resolved the alert.
	KindResolved Kind = "resolved"
)

// Notification is what every sink receives. The workflow builds it once per
// transition; every field is deterministic, so each retry of each sink sends
// the same thing.
type Notification struct {
	// ID is stable across activity retries so receivers can dedupe.
	ID    string `json:"id"`
	Kind  Kind   `json:"kind"`
	Title string `json:"title"`
	// Alert is the alert as it was right after the transition. The
	// workflow leaves out the timeline and dedup keys: nobody reads them
	// in a notification and they would bloat every activity input.
	Alert alert.State `json:"alert"`
	// Actor is who caused the transition: the person who acknowledged or
	// resolved the alert, or the user whose pipeline opened, changed or
	// resolved it. Empty when nobody is known (a reminder).
	Actor string `json:"actor,omitempty"`
	// Note is what the actor said: the acknowledgement note or the reason
	// given for a manual resolve.
	Note string `json:"note,omitempty"`
	// PreviousSeverity is the severity before a KindSeverityChanged, so a
	// message can say "from MEDIUM to HIGH"; the snapshot only knows the
	// new one.
	PreviousSeverity alert.Severity `json:"previous_severity,omitempty"`
	// Links point people at GitLab. Empty links are filled in from the
	// alert by EffectiveLinks, so the workflow may leave this zero.
	Links Links `json:"links,omitzero"`
}

// Links are the GitLab pages a notification points at.
type Links struct {
	Pipeline     string `json:"pipeline,omitempty"`
	Project      string `json:"project,omitempty"`
	MergeRequest string `json:"merge_request,omitempty"`
	Commit       string `json:"commit,omitempty"`
}

// LinksOf returns the links an alert state knows of: the newest pipeline,
// the project, the merge request when the pipeline belongs to one, and the
// commit.
func LinksOf(s alert.State) Links {
	l := Links{Project: s.Project.URL}
	if s.Pipeline != nil {
		l.Pipeline, l.Commit = s.Pipeline.URL, s.Pipeline.CommitURL
	}
	if s.MergeRequest != nil {
		l.MergeRequest = s.MergeRequest.URL
	}
	return l
}

// EffectiveLinks returns n.Links with every empty link taken from the
// alert snapshot, so that receivers get links whether or not the workflow
// set them.
func (n Notification) EffectiveLinks() Links {
	l, d := n.Links, LinksOf(n.Alert)
	l.Pipeline = cmp.Or(l.Pipeline, d.Pipeline)
	l.Project = cmp.Or(l.Project, d.Project)
	l.MergeRequest = cmp.Or(l.MergeRequest, d.MergeRequest)
	l.Commit = cmp.Or(l.Commit, d.Commit)
	return l
}

// Notifier delivers a notification to one receiver. An error that retrying
// cannot fix (the receiver refused the notification) is wrapped with
// Permanent; one that comes with a receiver's "try again later" is wrapped
// with RetryAfter; any other error is worth retrying as it is.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}
