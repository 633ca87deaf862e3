package contract

import "time"

// Version is the schema version of Payload. Fields may be added within a
// version; renaming or removing one makes a new version.
const Version = "1"

// Payload is the JSON body of every webhook notification. It is a contract
// with receivers, kept apart from alert.State so that the state can change
// without changing what receivers parse.
//
// There is deliberately no "sent_at": every field is fixed when the
// workflow creates the notification, so each retry sends the same bytes
// with the same signature, and a receiver can dedupe on ID (or on the
// body's hash) without knowing alertflow retries.
type Payload struct {
	// Version is "1".
	Version string `json:"version"`
	// ID identifies the notification; it is the same on every retry and is
	// also sent as the Idempotency-Key header.
	ID string `json:"id"`
	// Kind is the transition: opened, severity_changed, reminder,
	// acknowledged, resolved, escalated, flapping or stable.
	Kind Kind `json:"kind"`
	// Title is the one-line summary,
	// "Pipeline #31 failed on gitlab-org/gitlab-test@master".
	Title string `json:"title"`
	// Alert is the alert right after the transition.
	Alert Alert `json:"alert"`
	// PreviousSeverity is the severity before a severity_changed.
	PreviousSeverity string `json:"previous_severity,omitempty"`
	// Actor is who caused the transition, when known.
	Actor string `json:"actor,omitempty"`
	// Note is what the actor said (acknowledgement note, resolve reason).
	Note string `json:"note,omitempty"`
	// RoutingFailed is true when the notification's routing failed and it
	// went to the routing tree's root receiver instead of the receivers
	// its routes name: pass it on.
	RoutingFailed bool `json:"routing_failed,omitempty"`
	// Links point at GitLab.
	Links Links `json:"links"`
}

// Alert is the alert in a Payload.
type Alert struct {
	// ID is the alert's workflow ID, "<project_id>-<ref>".
	ID string `json:"id"`
	// Status is open, acknowledged or resolved.
	Status string `json:"status"`
	// Severity is HIGH, MEDIUM or LOW; PeakSeverity the highest seen.
	Severity     string    `json:"severity"`
	PeakSeverity string    `json:"peak_severity"`
	Project      Project   `json:"project"`
	Ref          string    `json:"ref"`
	Tag          bool      `json:"tag"`
	OpenedAt     time.Time `json:"opened_at,omitzero"`
	OpenedBy     string    `json:"opened_by,omitempty"`
	// Acknowledged is set while someone has taken the alert on.
	Acknowledged *Action `json:"acknowledged,omitempty"`
	// Resolved is set once the alert is resolved; Resolution says how.
	Resolved   *Action `json:"resolved,omitempty"`
	Resolution string  `json:"resolution,omitempty"`
	// Reminders counts the reminders sent so far.
	Reminders    int           `json:"reminders"`
	Pipeline     *Pipeline     `json:"pipeline,omitempty"`
	MergeRequest *MergeRequest `json:"merge_request,omitempty"`
	Counts       Counts        `json:"counts"`
	// FlappedAt is when the alert was found flapping, GreenSince when its
	// branch last went green since, and Flips how often it went green or
	// red again; all left out for an alert that is not flapping.
	// (Additions: the version stays "1".)
	FlappedAt  time.Time `json:"flapped_at,omitzero"`
	GreenSince time.Time `json:"green_since,omitzero"`
	Flips      int       `json:"flips,omitempty"`
	// Culprit is the first failing pipeline of the alert and the change
	// it ran; LastGreen the newest success of the ref before it, null
	// when alertflow knows none (Links.Compare is then absent too).
	// FailureClass is infra, config or code for the newest failure, ""
	// while the newest bad pipeline was canceled or skipped.
	// FailedPipelines counts the pipelines that failed while the alert
	// was open. FlakyJobs failed and then passed on retry in the same
	// pipeline; Flaky is set when the alert's only failed pipeline passed
	// so. Recovery says how a resolved alert's branch recovered. All
	// additions: the version stays "1"; alerts opened before alertflow
	// kept them leave them out.
	Culprit         *Change    `json:"culprit,omitempty"`
	LastGreen       *Green     `json:"last_green,omitempty"`
	FailureClass    string     `json:"failure_class,omitempty"`
	FailedPipelines int        `json:"failed_pipelines,omitempty"`
	FlakyJobs       []FlakyJob `json:"flaky_jobs,omitempty"`
	Flaky           bool       `json:"flaky,omitempty"`
	Recovery        *Recovery  `json:"recovery,omitempty"`
}

// Change is a pipeline and the commit it ran: the culprit of an alert,
// or the fix of its recovery.
type Change struct {
	PipelineID   int64  `json:"pipeline_id"`
	Status       string `json:"status"`
	URL          string `json:"url,omitempty"`
	SHA          string `json:"sha,omitempty"`
	CommitTitle  string `json:"commit_title,omitempty"`
	CommitURL    string `json:"commit_url,omitempty"`
	CommitAuthor string `json:"commit_author,omitempty"`
	// User is who ran the pipeline.
	User string `json:"user,omitempty"`
}

// Green is a successful pipeline of the alert's ref.
type Green struct {
	PipelineID int64     `json:"pipeline_id"`
	SHA        string    `json:"sha,omitempty"`
	URL        string    `json:"url,omitempty"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// FlakyJob is a job that failed and then passed on retry.
type FlakyJob struct {
	PipelineID    int64     `json:"pipeline_id"`
	Name          string    `json:"name"`
	Stage         string    `json:"stage,omitempty"`
	FailureReason string    `json:"failure_reason,omitempty"`
	At            time.Time `json:"at"`
}

// Recovery is how a resolved alert's branch went green again.
type Recovery struct {
	// RedForSeconds is from when the alert opened to when it resolved;
	// RedFor the same as a Go duration ("1h2m3s").
	RedForSeconds float64 `json:"red_for_seconds"`
	RedFor        string  `json:"red_for"`
	// FailedPipelines counts the pipelines that failed meanwhile.
	FailedPipelines int `json:"failed_pipelines"`
	// Fix is the pipeline that resolved the alert; null when a person did.
	Fix *Change `json:"fix,omitempty"`
	// Flaky: the only failed pipeline passed on retry.
	Flaky bool `json:"flaky,omitempty"`
}

// Action is who did something to the alert, and when.
type Action struct {
	At   time.Time `json:"at,omitzero"`
	By   string    `json:"by,omitempty"`
	Note string    `json:"note,omitempty"`
}

// Project is the GitLab project of an alert.
type Project struct {
	ID   int64  `json:"id"`
	Path string `json:"path,omitempty"`
	URL  string `json:"url,omitempty"`
}

// Pipeline is the newest pipeline of an alert.
type Pipeline struct {
	ID          int64     `json:"id"`
	IID         int64     `json:"iid,omitempty"`
	Status      string    `json:"status"`
	URL         string    `json:"url,omitempty"`
	SHA         string    `json:"sha,omitempty"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	User        string    `json:"user,omitempty"`
	CommitTitle string    `json:"commit_title,omitempty"`
	// CommitAuthor is the commit author's name (an addition).
	CommitAuthor string `json:"commit_author,omitempty"`
	// FailedJobs is never null, so receivers can iterate it as it is.
	FailedJobs []Job `json:"failed_jobs"`
}

// Job is a failed job of the newest pipeline.
type Job struct {
	Name          string `json:"name"`
	Stage         string `json:"stage,omitempty"`
	FailureReason string `json:"failure_reason,omitempty"`
	AllowFailure  bool   `json:"allow_failure"`
}

// MergeRequest is the merge request of a merge-request pipeline.
type MergeRequest struct {
	IID   int64  `json:"iid"`
	Title string `json:"title,omitempty"`
	URL   string `json:"url,omitempty"`
}

// Counts tally the pipeline events the alert has received.
type Counts struct {
	Events     int `json:"events"`
	Applied    int `json:"applied"`
	Stale      int `json:"stale"`
	Duplicates int `json:"duplicates"`
	Ignored    int `json:"ignored"`
	// Superseded counts cancels and skips that a newer pipeline made moot,
	// Children the deliveries of child pipelines; both are additions.
	Superseded int `json:"superseded,omitempty"`
	Children   int `json:"children,omitempty"`
}

// Links are the GitLab pages the notification points at; empty ones are
// left out.
type Links struct {
	Pipeline     string `json:"pipeline,omitempty"`
	Project      string `json:"project,omitempty"`
	MergeRequest string `json:"merge_request,omitempty"`
	Commit       string `json:"commit,omitempty"`
	// Compare is GitLab's page of the changes from the last green commit
	// to the culprit's (an addition).
	Compare string `json:"compare,omitempty"`
}

// Kind is the transition a notification announces. Its values are sent
// as the payload's kind and as the X-Alertflow-Event header; they never
// change.
type Kind string

// The kinds of notification.
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
	// KindEscalated: nobody acknowledged the alert in time; this receiver
	// is the one its route escalates to, and hears the alert from now on.
	// Note names the receiver. (An addition: the version stays "1".)
	KindEscalated Kind = "escalated"
	// KindFlapping: the alert opened on a branch that keeps going red and
	// green; it stays open, and pages nobody again, until the branch is
	// stable. It comes instead of opened. (An addition: the version stays
	// "1".)
	KindFlapping Kind = "flapping"
	// KindStable: a flapping branch stayed green for the flapping window,
	// and the alert resolved. (An addition: the version stays "1".)
	KindStable Kind = "stable"
)
