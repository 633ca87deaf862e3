package alert

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Default limits of the bounded parts of a State.
const (
	DefaultTimelineCap = 200
	DefaultKeyCap      = 512
)

// Limits bound the parts of a State that would otherwise grow with every
// event. They travel with the state so a continued run keeps them.
type Limits struct {
	// TimelineCap is how many timeline entries are kept; older ones are
	// dropped and counted in State.TimelineDropped.
	TimelineCap int `json:"timeline_cap"`
	// KeyCap is how many recent dedup keys are remembered.
	KeyCap int `json:"key_cap"`
}

// DefaultLimits are the limits used when none are configured.
func DefaultLimits() Limits {
	return Limits{TimelineCap: DefaultTimelineCap, KeyCap: DefaultKeyCap}
}

// Outcome is what applying one event did to an alert.
type Outcome string

// Outcomes of State.Apply; each is also the kind of the timeline entry the
// event leaves behind.
const (
	// OutcomeOpened: the first bad pipeline opened the alert.
	OutcomeOpened Outcome = "opened"
	// OutcomeSeverityChanged: the newest pipeline moved severity up or down.
	OutcomeSeverityChanged Outcome = "severity_changed"
	// OutcomeUpdated: the newest pipeline is bad with unchanged severity.
	OutcomeUpdated Outcome = "updated"
	// OutcomeResolved: a success from the newest pipeline resolved the alert.
	OutcomeResolved Outcome = "resolved"
	// OutcomeStale: the event is from a pipeline older than the newest seen.
	OutcomeStale Outcome = "stale"
	// OutcomeDuplicate: the event's content or idempotency key was applied before.
	OutcomeDuplicate Outcome = "duplicate"
	// OutcomeIgnored: the event neither opens nor resolves anything (a
	// success with no open alert, a success after the resolve, or a status
	// that is progress rather than an outcome).
	OutcomeIgnored Outcome = "ignored"
	// OutcomeReopen: a bad pipeline, not older than the one that resolved the
	// alert, arrived after the resolve. It belongs to a new alert under the
	// same ID; this state does not change beyond recording that.
	OutcomeReopen Outcome = "reopen"
	// OutcomeAcknowledged: a person acknowledged the alert.
	OutcomeAcknowledged Outcome = "acknowledged"
	// OutcomeReminder: the alert was still open and unacknowledged after a
	// reminder interval, and people were reminded.
	OutcomeReminder Outcome = "reminder"
	// OutcomeReconcileFailed: GitLab's API could not be read when
	// alertflow asked it about the ref; nothing changed.
	OutcomeReconcileFailed Outcome = "reconcile_failed"
	// OutcomeRejected: a manual action that was not valid for the alert,
	// sent as a signal (which cannot answer with an error).
	OutcomeRejected Outcome = "rejected"

	// Outcomes of the rules for real GitLab traffic (RulesGitLab).

	// OutcomeHeld: a canceled or skipped pipeline opened a pending alert
	// that people hear of only if nothing newer supersedes it in time.
	OutcomeHeld Outcome = "held"
	// OutcomeSuperseded: a canceled or skipped pipeline older than the
	// newest pipeline seen on the ref; it pages nobody.
	OutcomeSuperseded Outcome = "superseded"
	// OutcomeProgress: a pipeline that has not finished (pending, running,
	// ...) was seen; the alert shows it, and it supersedes a held cancel.
	OutcomeProgress Outcome = "progress"
	// OutcomeChild: a child pipeline, recorded only: its parent speaks
	// for the family.
	OutcomeChild Outcome = "child"
	// OutcomeNoVerdict: a canceled or skipped pipeline (or, for a family
	// of pipelines, a success of one member while another failed) that
	// says nothing new about the code; recorded only.
	OutcomeNoVerdict Outcome = "no_verdict"
)

// Notifies reports whether an outcome is a lifecycle transition that people
// must hear about.
func (o Outcome) Notifies() bool {
	switch o {
	case OutcomeOpened, OutcomeSeverityChanged, OutcomeResolved, OutcomeAcknowledged, OutcomeReminder, OutcomeEscalated,
		OutcomeFlapping, OutcomeStable:
		return true
	}
	return false
}

// Changed reports whether the outcome changed the alert beyond its counts
// and timeline, so that what is shown about it must be refreshed.
func (o Outcome) Changed() bool {
	switch o {
	case OutcomeOpened, OutcomeSeverityChanged, OutcomeUpdated, OutcomeResolved, OutcomeAcknowledged,
		OutcomeHeld, OutcomeProgress, OutcomeFlapping, OutcomeFlipped, OutcomeStable:
		return true
	}
	return false
}

// NewestPipeline is what the alert shows of the newest pipeline seen.
type NewestPipeline struct {
	ID         int64     `json:"id"`
	IID        int64     `json:"iid,omitempty"`
	Status     string    `json:"status"`
	SHA        string    `json:"sha,omitempty"`
	URL        string    `json:"url,omitempty"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	FailedJobs []Job     `json:"failed_jobs,omitempty"`
	// FailedJobsOmitted counts failed jobs beyond those kept.
	FailedJobsOmitted int    `json:"failed_jobs_omitted,omitempty"`
	User              string `json:"user,omitempty"`
	CommitTitle       string `json:"commit_title,omitempty"`
	CommitURL         string `json:"commit_url,omitempty"`
	CommitAuthor      string `json:"commit_author,omitempty"`
	// Source and Protected are the pipeline's GitLab source and
	// protected_ref, which routing matches on.
	Source    string `json:"source,omitempty"`
	Protected bool   `json:"protected,omitempty"`
}

// Counts tally the events an alert has received, by what became of them.
type Counts struct {
	Events     int `json:"events"`
	Applied    int `json:"applied"`
	Stale      int `json:"stale"`
	Duplicates int `json:"duplicates"`
	Ignored    int `json:"ignored"`
	// Superseded and Children count what only RulesGitLab tells apart.
	Superseded int `json:"superseded,omitempty"`
	Children   int `json:"children,omitempty"`
}

// Progress is a pipeline seen running (or pending, ...) that is newer than
// the one the alert is about, or that one retried.
type Progress struct {
	ID     int64  `json:"id"`
	Family int64  `json:"family,omitempty"`
	Status string `json:"status"`
	URL    string `json:"url,omitempty"`
}

// Entry is one line of an alert's timeline.
type Entry struct {
	Time       time.Time `json:"time"`
	Kind       Outcome   `json:"kind"`
	PipelineID int64     `json:"pipeline_id,omitempty"`
	Status     string    `json:"status,omitempty"`
	Severity   Severity  `json:"severity,omitempty"`
	Actor      string    `json:"actor,omitempty"`
	Note       string    `json:"note,omitempty"`
	// Via says how alertflow learnt of it when GitLab did not deliver it
	// (ViaReconciled); "" for a delivery or an action.
	Via string `json:"via,omitempty"`
}

// State is an alert: one project and ref, from its first bad pipeline to the
// success that resolves it. It is the result of the workflow's state query
// and is carried whole through continue-as-new, so every field is exported
// and JSON-tagged.
type State struct {
	ID           string    `json:"id"`
	Project      Project   `json:"project"`
	Ref          string    `json:"ref"`
	Tag          bool      `json:"tag,omitempty"`
	Status       Status    `json:"status"`
	Severity     Severity  `json:"severity,omitempty"`
	PeakSeverity Severity  `json:"peak_severity,omitempty"`
	OpenedAt     time.Time `json:"opened_at,omitzero"`
	OpenedBy     string    `json:"opened_by,omitempty"`
	// AcknowledgedAt, AcknowledgedBy and AckNote are set while someone has
	// taken the alert on.
	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
	AcknowledgedBy string    `json:"acknowledged_by,omitempty"`
	AckNote        string    `json:"ack_note,omitempty"`
	// NextReminderAt is when people are reminded next, while the alert is
	// open and unacknowledged and reminders are on.
	NextReminderAt time.Time       `json:"next_reminder_at,omitzero"`
	Reminders      int             `json:"reminders,omitempty"`
	ResolvedAt     time.Time       `json:"resolved_at,omitzero"`
	ResolvedBy     string          `json:"resolved_by,omitempty"`
	Resolution     string          `json:"resolution,omitempty"`
	Pipeline       *NewestPipeline `json:"pipeline,omitempty"`
	MergeRequest   *MergeRequest   `json:"merge_request,omitempty"`
	Counts         Counts          `json:"counts"`
	Timeline       []Entry         `json:"timeline"`
	// TimelineDropped counts the oldest entries dropped to keep the
	// timeline within Limits.TimelineCap.
	TimelineDropped int `json:"timeline_dropped,omitempty"`
	// RecentKeys are the dedup keys of the most recent events, oldest
	// first, at most Limits.KeyCap of them.
	RecentKeys []string `json:"recent_keys,omitempty"`
	Limits     Limits   `json:"limits"`

	// Rules say how events are applied; the zero value is RulesFirst.
	Rules Rules `json:"rules,omitzero"`
	// Memory is what the alert's ID remembers of its earlier alerts and
	// of every pipeline seen; it is handed to the next alert on the ID.
	Memory Memory `json:"memory,omitzero"`
	// Cause places the pipeline the alert is about (Pipeline).
	Cause Mark `json:"cause,omitzero"`
	// HoldUntil is when a pending alert is announced, unless a newer
	// pipeline supersedes it first; zero once superseded.
	HoldUntil time.Time `json:"hold_until,omitzero"`
	// Quiet is true while nobody has been told of the alert: it is pending,
	// or it ended while pending. A quiet alert sends no notification.
	Quiet bool `json:"quiet,omitempty"`
	// InProgress is the newest pipeline seen that has not finished.
	InProgress *Progress `json:"in_progress,omitempty"`
	// LastEventAt is when the alert last received a pipeline event.
	LastEventAt time.Time `json:"last_event_at,omitzero"`
	// Snoozed is the alert's snooze while it lasts; nil when none.
	Snoozed *Snooze `json:"snoozed,omitempty"`
	// Silenced is the silence holding the alert; nil when none does.
	Silenced *Silenced `json:"silenced,omitempty"`
	// SilencesEnded are the IDs of the last silences that ended holding
	// the alert, which never hold it again.
	SilencesEnded []string `json:"silences_ended,omitempty"`
	// EscalatedAt and EscalatedTo say when and to which receiver the alert
	// escalated, nobody having acknowledged it; zero when it did not.
	EscalatedAt time.Time `json:"escalated_at,omitzero"`
	EscalatedTo string    `json:"escalated_to,omitempty"`
	// FlappedAt is when the alert was found flapping (its ID opened and
	// resolved too often within the flapping window); zero when it was
	// not. The flapping rule sets it and the alert statistics count it.
	FlappedAt time.Time `json:"flapped_at,omitzero"`
	// GreenSince is when a flapping alert's branch last went green; zero
	// while it is red. Green for the whole flapping window, it is stable.
	GreenSince time.Time `json:"green_since,omitzero"`
	// Flips counts the times a flapping alert's branch went green or red
	// again after it was found flapping.
	Flips int `json:"flips,omitempty"`
	// Missed is the missed run of a scheduled pipeline the alert is about,
	// until a pipeline takes its place; nil when none.
	Missed *Missed `json:"missed,omitempty"`
	// NextReconcileAt is when alertflow next asks GitLab's API about the
	// ref, while the alert is open and reconciliation is on.
	NextReconcileAt time.Time `json:"next_reconcile_at,omitzero"`
	// LastReconciledAt is when it last asked.
	LastReconciledAt time.Time `json:"last_reconciled_at,omitzero"`

	// What makes the alert actionable (RulesInsight on; see culprit.go).

	// Culprit is the first failing pipeline and the change it ran.
	Culprit *Culprit `json:"culprit,omitempty"`
	// LastGreen is the newest success of the ref before the culprit;
	// nil when none is known.
	LastGreen *Green `json:"last_green,omitempty"`
	// FailureClass is the class of the newest failed pipeline; "" while
	// the newest bad pipeline was canceled or skipped.
	FailureClass FailureClass `json:"failure_class,omitempty"`
	// FailedPipelines counts the pipelines that failed while the alert
	// was open; LastFailedID is the last one counted.
	FailedPipelines int   `json:"failed_pipelines,omitempty"`
	LastFailedID    int64 `json:"last_failed_id,omitempty"`
	// FlakyJobs are the jobs that failed and then passed on retry in the
	// same pipeline, oldest first, at most MaxFlakyJobs.
	FlakyJobs []FlakyJob `json:"flaky_jobs,omitempty"`
	// Flaky is set when the alert resolved because its only failed
	// pipeline passed on retry: flaky, not broken.
	Flaky bool `json:"flaky,omitempty"`
}

// NewWith returns the state of an alert that has seen nothing yet, applying
// events under rules and starting from what its ID remembers.
func NewWith(limits Limits, rules Rules, memory Memory) *State {
	s := New(limits)
	s.Rules, s.Memory = rules, memory
	return s
}

// New returns the state of an alert that has seen nothing yet, under the
// first rules. Zero or negative limits take their defaults.
func New(limits Limits) *State {
	d := DefaultLimits()
	if limits.TimelineCap <= 0 {
		limits.TimelineCap = d.TimelineCap
	}
	if limits.KeyCap <= 0 {
		limits.KeyCap = d.KeyCap
	}
	return &State{Limits: limits, Timeline: []Entry{}}
}

// Apply applies one pipeline event at time now, following the rules of
// docs/design.md: severity by status, order by pipeline id, dedup by key,
// and resolve only by the newest pipeline; under RulesGitLab also rules 8
// to 12, and under RulesFinished only the newest finished pipeline gives
// a verdict. Every event leaves a timeline entry, whatever its outcome, so
// nothing accepted goes unrecorded.
func (s *State) Apply(ev Event, now time.Time) Outcome {
	s.Counts.Events++
	if s.ID == "" {
		s.ID = ev.AlertID()
		s.Project = ev.Project
		s.Ref = ev.Pipeline.Ref
		s.Tag = ev.Pipeline.Tag
	}
	var out Outcome
	var note string
	if ev.Missed != nil {
		s.LastEventAt = now
		out, note = s.applyMissed(*ev.Missed, now)
	} else if s.Rules.Version >= RulesGitLab {
		s.LastEventAt = now
		out, note = s.applyGitLab(ev, now)
	} else {
		out, note = s.apply(ev, now)
	}
	s.count(out)
	s.record(Entry{
		Time:       now,
		Kind:       out,
		PipelineID: ev.Pipeline.ID,
		Status:     ev.Pipeline.Status,
		Severity:   s.Severity,
		Actor:      ev.User,
		Note:       note,
	})
	return out
}

// count tallies an event's outcome in the bucket it belongs to.
func (s *State) count(out Outcome) {
	switch out {
	case OutcomeStale:
		s.Counts.Stale++
	case OutcomeDuplicate:
		s.Counts.Duplicates++
	case OutcomeSuperseded:
		s.Counts.Superseded++
	case OutcomeChild:
		s.Counts.Children++
	case OutcomeIgnored, OutcomeReopen, OutcomeNoVerdict:
		s.Counts.Ignored++
	default:
		s.Counts.Applied++
	}
}

func (s *State) apply(ev Event, now time.Time) (Outcome, string) {
	keys := eventKeys(ev)
	if s.seen(keys) {
		return OutcomeDuplicate, ""
	}
	if s.older(ev.Pipeline) {
		s.remember(keys)
		return OutcomeStale, fmt.Sprintf("older than pipeline #%d", s.Pipeline.ID)
	}
	route := RouteOf(ev.Pipeline.Status)
	if s.Status == StatusResolved {
		if route == RouteOpen {
			// Not remembered: the new alert this event opens must apply it.
			return OutcomeReopen, "after the resolve: opens a new alert"
		}
		s.remember(keys)
		return OutcomeIgnored, "alert already resolved"
	}
	s.remember(keys)
	switch route {
	case RouteOpen:
		sev, _ := SeverityOf(ev.Pipeline.Status)
		s.setNewest(ev)
		if s.Status == StatusNone {
			s.Status = StatusOpen
			s.Severity, s.PeakSeverity = sev, sev
			s.OpenedAt, s.OpenedBy = now, ev.User
			return OutcomeOpened, ""
		}
		prev := s.Severity
		s.Severity = sev
		if sev.rank() > s.PeakSeverity.rank() {
			s.PeakSeverity = sev
		}
		if prev != sev {
			return OutcomeSeverityChanged, fmt.Sprintf("%s → %s", prev, sev)
		}
		return OutcomeUpdated, ""
	case RouteResolve:
		s.setNewest(ev)
		if s.Status == StatusNone {
			return OutcomeIgnored, "no open alert"
		}
		s.Status = StatusResolved
		s.ResolvedAt, s.ResolvedBy = now, ev.User
		s.Resolution = fmt.Sprintf("pipeline #%d succeeded", ev.Pipeline.ID)
		return OutcomeResolved, ""
	default:
		return OutcomeIgnored, "status opens and resolves nothing"
	}
}

// older reports whether p is older than the newest pipeline seen. Pipelines
// are ordered by id; within one id (a retried pipeline keeps its id), a
// state that finished earlier than the newest one seen is older too, so a
// delivery delayed past its successor cannot undo it.
func (s *State) older(p Pipeline) bool {
	if s.Pipeline == nil {
		return false
	}
	if p.ID != s.Pipeline.ID {
		return p.ID < s.Pipeline.ID
	}
	return !p.FinishedAt.IsZero() && !s.Pipeline.FinishedAt.IsZero() && p.FinishedAt.Before(s.Pipeline.FinishedAt)
}

func (s *State) setNewest(ev Event) {
	p := ev.Pipeline
	s.Pipeline = &NewestPipeline{
		ID:                p.ID,
		IID:               p.IID,
		Status:            p.Status,
		SHA:               p.SHA,
		URL:               p.URL,
		FinishedAt:        p.FinishedAt,
		FailedJobs:        p.FailedJobs,
		FailedJobsOmitted: p.FailedJobsOmitted,
		User:              ev.User,
		CommitTitle:       ev.Commit.Title,
		CommitURL:         ev.Commit.URL,
		CommitAuthor:      ev.Commit.Author,
		Source:            p.Source,
		Protected:         p.Protected,
	}
	s.MergeRequest = ev.MergeRequest
	// Project details may change (a rename); the newest event knows best.
	s.Project = ev.Project
}

func eventKeys(ev Event) []string {
	keys := []string{"c:" + ev.ContentKey()}
	if ev.IdempotencyKey != "" {
		keys = append(keys, "i:"+ev.IdempotencyKey)
	}
	return keys
}

func (s *State) seen(keys []string) bool {
	for _, k := range keys {
		if slices.Contains(s.RecentKeys, k) {
			return true
		}
	}
	return false
}

func (s *State) remember(keys []string) {
	s.RecentKeys = append(s.RecentKeys, keys...)
	if over := len(s.RecentKeys) - s.Limits.KeyCap; over > 0 {
		s.RecentKeys = slices.Delete(s.RecentKeys, 0, over)
	}
}

func (s *State) record(e Entry) {
	s.Timeline = append(s.Timeline, e)
	if over := len(s.Timeline) - s.Limits.TimelineCap; over > 0 {
		s.Timeline = slices.Delete(s.Timeline, 0, over)
		s.TimelineDropped += over
	}
}

// Title is the one-line human summary of the alert, as shown in the Web UI
// and in notifications: "Pipeline #31 failed on gitlab-org/gitlab-test@master".
func (s *State) Title() string {
	where := s.Project.Path
	if where == "" {
		where = fmt.Sprintf("project %d", s.Project.ID)
	}
	where += "@" + s.Ref
	if s.Missed != nil {
		return "Scheduled pipeline did not run on " + where
	}
	if s.Pipeline == nil {
		return "No pipeline yet on " + where
	}
	verb := s.Pipeline.Status
	if verb == PipelineSuccess {
		verb = "succeeded"
	}
	return fmt.Sprintf("Pipeline #%d %s on %s", s.Pipeline.ID, verb, where)
}

// FailedJobsLine lists the failed jobs of the newest pipeline on one line,
// "test-build (test, script_failure); lint (test)", or "" when none failed.
func (s *State) FailedJobsLine() string {
	if s.Pipeline == nil {
		return ""
	}
	parts := make([]string, 0, len(s.Pipeline.FailedJobs))
	for _, j := range s.Pipeline.FailedJobs {
		detail := j.Stage
		if j.FailureReason != "" {
			detail += ", " + j.FailureReason
		}
		if j.AllowFailure {
			detail += ", allowed to fail"
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", j.Name, strings.TrimPrefix(detail, ", ")))
	}
	if s.Pipeline.FailedJobsOmitted > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", s.Pipeline.FailedJobsOmitted))
	}
	return strings.Join(parts, "; ")
}
