// Package alertview is an alert as people and receivers see it: what the
// REST API answers for an alert and what a notification carries. It is
// built from alert.State, which stays the workflow's own: the workflow's
// bookkeeping (dedup keys, limits, rules, memory, the hold, the cause of an
// open) is not part of it, so the workflow may change that without
// changing an answer or a message, and what messages derive (the title,
// the recovery, the compare link, the one-line summaries) is derived once,
// here, for every receiver alike.
package alertview

import (
	"time"

	"github.com/alertflow/alertflow/alert"
)

// Alert is the view. Its fields are a part of alert.State's, under the
// same JSON names: a notification recorded with the whole state (an
// activity an older worker scheduled) decodes into it with nothing a
// receiver reads left out, and what messages derive is derived from it by
// the domain's own rules (Title, Recovery, the lines), not stored beside
// it.
type Alert struct {
	ID           string         `json:"id"`
	Project      alert.Project  `json:"project"`
	Ref          string         `json:"ref"`
	Tag          bool           `json:"tag,omitempty"`
	Status       alert.Status   `json:"status"`
	Severity     alert.Severity `json:"severity,omitempty"`
	PeakSeverity alert.Severity `json:"peak_severity,omitempty"`
	OpenedAt     time.Time      `json:"opened_at,omitzero"`
	OpenedBy     string         `json:"opened_by,omitempty"`

	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
	AcknowledgedBy string    `json:"acknowledged_by,omitempty"`
	AckNote        string    `json:"ack_note,omitempty"`
	NextReminderAt time.Time `json:"next_reminder_at,omitzero"`
	Reminders      int       `json:"reminders,omitempty"`
	ResolvedAt     time.Time `json:"resolved_at,omitzero"`
	ResolvedBy     string    `json:"resolved_by,omitempty"`
	Resolution     string    `json:"resolution,omitempty"`

	Pipeline     *alert.NewestPipeline `json:"pipeline,omitempty"`
	MergeRequest *alert.MergeRequest   `json:"merge_request,omitempty"`
	InProgress   *alert.Progress       `json:"in_progress,omitempty"`
	Missed       *alert.Missed         `json:"missed,omitempty"`
	Counts       alert.Counts          `json:"counts"`
	// Timeline is what happened, oldest first; notifications leave it out
	// (nobody reads it there, and it would bloat every activity input).
	Timeline        []alert.Entry `json:"timeline,omitempty"`
	TimelineDropped int           `json:"timeline_dropped,omitempty"`
	LastEventAt     time.Time     `json:"last_event_at,omitzero"`

	Snoozed     *alert.Snooze   `json:"snoozed,omitempty"`
	Silenced    *alert.Silenced `json:"silenced,omitempty"`
	EscalatedAt time.Time       `json:"escalated_at,omitzero"`
	EscalatedTo string          `json:"escalated_to,omitempty"`

	FlappedAt  time.Time `json:"flapped_at,omitzero"`
	GreenSince time.Time `json:"green_since,omitzero"`
	Flips      int       `json:"flips,omitempty"`
	// Rules are the rules the alert runs under: what it keeps and shows
	// (a recovery only under RulesInsight), and its flapping settings.
	Rules alert.Rules `json:"rules,omitzero"`

	NextReconcileAt  time.Time `json:"next_reconcile_at,omitzero"`
	LastReconciledAt time.Time `json:"last_reconciled_at,omitzero"`

	Culprit         *alert.Culprit     `json:"culprit,omitempty"`
	LastGreen       *alert.Green       `json:"last_green,omitempty"`
	FailureClass    alert.FailureClass `json:"failure_class,omitempty"`
	FailedPipelines int                `json:"failed_pipelines,omitempty"`
	FlakyJobs       []alert.FlakyJob   `json:"flaky_jobs,omitempty"`
	Flaky           bool               `json:"flaky,omitempty"`
}

// Of is st as people and receivers see it, timeline included.
func Of(st *alert.State) Alert {
	return Alert{
		ID:               st.ID,
		Project:          st.Project,
		Ref:              st.Ref,
		Tag:              st.Tag,
		Status:           st.Status,
		Severity:         st.Severity,
		PeakSeverity:     st.PeakSeverity,
		OpenedAt:         st.OpenedAt,
		OpenedBy:         st.OpenedBy,
		AcknowledgedAt:   st.AcknowledgedAt,
		AcknowledgedBy:   st.AcknowledgedBy,
		AckNote:          st.AckNote,
		NextReminderAt:   st.NextReminderAt,
		Reminders:        st.Reminders,
		ResolvedAt:       st.ResolvedAt,
		ResolvedBy:       st.ResolvedBy,
		Resolution:       st.Resolution,
		Pipeline:         st.Pipeline,
		MergeRequest:     st.MergeRequest,
		InProgress:       st.InProgress,
		Missed:           st.Missed,
		Counts:           st.Counts,
		Timeline:         st.Timeline,
		TimelineDropped:  st.TimelineDropped,
		LastEventAt:      st.LastEventAt,
		Snoozed:          st.Snoozed,
		Silenced:         st.Silenced,
		EscalatedAt:      st.EscalatedAt,
		EscalatedTo:      st.EscalatedTo,
		FlappedAt:        st.FlappedAt,
		GreenSince:       st.GreenSince,
		Flips:            st.Flips,
		Rules:            st.Rules,
		NextReconcileAt:  st.NextReconcileAt,
		LastReconciledAt: st.LastReconciledAt,
		Culprit:          st.Culprit,
		LastGreen:        st.LastGreen,
		FailureClass:     st.FailureClass,
		FailedPipelines:  st.FailedPipelines,
		FlakyJobs:        st.FlakyJobs,
		Flaky:            st.Flaky,
	}
}

// Notified is st as a notification carries it: the view without the
// timeline.
func Notified(st *alert.State) Alert {
	a := Of(st)
	a.Timeline = nil
	return a
}

// state is the alert the view was taken from, as far as the view holds
// it: enough for the domain's derivations, which are not written twice.
func (a Alert) state() *alert.State {
	return &alert.State{
		ID: a.ID, Project: a.Project, Ref: a.Ref, Tag: a.Tag, Status: a.Status,
		Severity: a.Severity, PeakSeverity: a.PeakSeverity, OpenedAt: a.OpenedAt, OpenedBy: a.OpenedBy,
		AcknowledgedAt: a.AcknowledgedAt, AcknowledgedBy: a.AcknowledgedBy, AckNote: a.AckNote,
		NextReminderAt: a.NextReminderAt, Reminders: a.Reminders,
		ResolvedAt: a.ResolvedAt, ResolvedBy: a.ResolvedBy, Resolution: a.Resolution,
		Pipeline: a.Pipeline, MergeRequest: a.MergeRequest, InProgress: a.InProgress, Missed: a.Missed,
		Counts: a.Counts, Timeline: a.Timeline, TimelineDropped: a.TimelineDropped, LastEventAt: a.LastEventAt,
		Snoozed: a.Snoozed, Silenced: a.Silenced, EscalatedAt: a.EscalatedAt, EscalatedTo: a.EscalatedTo,
		FlappedAt: a.FlappedAt, GreenSince: a.GreenSince, Flips: a.Flips, Rules: a.Rules,
		NextReconcileAt: a.NextReconcileAt, LastReconciledAt: a.LastReconciledAt,
		Culprit: a.Culprit, LastGreen: a.LastGreen, FailureClass: a.FailureClass,
		FailedPipelines: a.FailedPipelines, FlakyJobs: a.FlakyJobs, Flaky: a.Flaky,
	}
}

// Title is the one-line summary: "Pipeline #31 failed on group/app@main".
func (a Alert) Title() string { return a.state().Title() }

// Recovery says how the branch recovered; nil until it resolved, and for
// alerts whose rules keep none.
func (a Alert) Recovery() *alert.Recovery { return a.state().Recovery() }

// CompareURL is GitLab's page of the changes from the last green commit to
// the culprit's; "" when there is none.
func (a Alert) CompareURL() string { return a.state().CompareURL() }

// CulpritLine is who and what broke the branch, on one line; "" when
// unknown.
func (a Alert) CulpritLine() string { return a.state().CulpritLine() }

// RecoveryLine is how long the branch was red and what fixed it, on one
// line; "" until it recovered.
func (a Alert) RecoveryLine() string { return a.state().RecoveryLine() }

// FailedJobsLine lists the newest pipeline's failed jobs on one line.
func (a Alert) FailedJobsLine() string { return a.state().FailedJobsLine() }

// FlapWindow is how long a flapping branch must stay green to be stable.
func (a Alert) FlapWindow() time.Duration { return a.Rules.EffectiveFlapWindow() }
