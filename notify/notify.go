// Package notify delivers the notifications an alert sends when its
// lifecycle moves, after Alertmanager's notify package: the Notification,
// the Notifier each receiver implements (one package per receiver: webhook,
// slack, pagerduty), the HTTP post they share and the classification of a
// receiver's answer into delivered, retry (maybe after a delay) or give up.
// It knows nothing of Temporal; the activities package adapts it.
package notify

import (
	"context"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alertview"
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
	// KindEscalated: nobody acknowledged the alert in time; it goes to
	// the receiver its route escalates to, which hears it from now on.
	KindEscalated Kind = "escalated"
	// KindFlapping: the alert opened on a branch that keeps going red
	// and green; it stays open, and pages nobody again, until the branch
	// is stable. People hear it instead of "opened".
	KindFlapping Kind = "flapping"
	// KindStable: a flapping branch stayed green for the flapping window;
	// the alert resolved.
	KindStable Kind = "stable"
	// KindUpdated: the alert changed in a way that pages nobody (it was
	// snoozed, a silence began or stopped holding it). Only receivers that
	// keep one message per alert (Messenger) hear it, to bring that
	// message up to date; the others never see it.
	KindUpdated Kind = "updated"
)

// Notification is what every receiver is sent. The workflow builds it once
// per transition; every field is deterministic, so each retry of each
// receiver sends the same thing. It is also the input of the notification
// activities, so its JSON shape is in recorded histories: add fields, never
// rename or remove one.
type Notification struct {
	// ID is stable across activity retries so receivers can dedupe.
	ID    string `json:"id"`
	Kind  Kind   `json:"kind"`
	Title string `json:"title"`
	// Alert is the alert as people see it right after the transition,
	// without the timeline: nobody reads it in a notification and it
	// would bloat every activity input. Recorded before the view, it held
	// the whole state; the view's fields keep their names, so it decodes
	// the same.
	Alert alertview.Alert `json:"alert"`
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
	// RoutingFailed is set when the routing of the notification failed
	// for good and it went to the root receiver instead: the receiver
	// that gets it may not be the one its routes name.
	RoutingFailed bool `json:"routing_failed,omitempty"`
}

// Links are the GitLab pages a notification points at; empty when unknown.
type Links struct {
	Pipeline     string
	Project      string
	MergeRequest string
	Commit       string
	// Compare is the changes from the last green commit to the culprit's.
	Compare string
}

// Links returns the GitLab pages n's alert knows of: the newest pipeline,
// the project, the merge request when the pipeline belongs to one, the
// commit, and the changes since the last green commit.
func (n Notification) Links() Links {
	s := n.Alert
	l := Links{Project: s.Project.URL}
	if s.Pipeline != nil {
		l.Pipeline, l.Commit = s.Pipeline.URL, s.Pipeline.CommitURL
	}
	if s.MergeRequest != nil {
		l.MergeRequest = s.MergeRequest.URL
	}
	l.Compare = s.CompareURL()
	return l
}

// KindOf names the notification an alert outcome sends, or "" for an
// outcome that notifies nobody (alert.Outcome.Notifies says which). The
// mapping is spelled out, not a cast, so renaming an outcome cannot change
// what receivers are sent.
func KindOf(out alert.Outcome) Kind {
	switch out {
	case alert.OutcomeOpened:
		return KindOpened
	case alert.OutcomeSeverityChanged:
		return KindSeverityChanged
	case alert.OutcomeReminder:
		return KindReminder
	case alert.OutcomeAcknowledged:
		return KindAcknowledged
	case alert.OutcomeResolved:
		return KindResolved
	case alert.OutcomeEscalated:
		return KindEscalated
	case alert.OutcomeFlapping:
		return KindFlapping
	case alert.OutcomeStable:
		return KindStable
	}
	return ""
}

// Notifier delivers a notification to one receiver. An error that retrying
// cannot fix (the receiver refused the notification) is wrapped with
// Permanent; one that comes with a receiver's "try again later" is wrapped
// with RetryAfter; any other error is worth retrying as it is.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// Messenger is a Notifier that keeps one message per alert and changes it
// in place (a Slack app). message is what it answered for the alert's
// previous notification, "" for the first; it answers what identifies the
// message now, which the workflow keeps with the alert and passes to the
// next notification. The answer must hold no secret: it is stored in the
// workflow history.
type Messenger interface {
	Notifier
	NotifyMessage(ctx context.Context, n Notification, message string) (string, error)
}
