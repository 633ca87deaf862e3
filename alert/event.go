package alert

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Event is one pipeline state change, reduced to what alertflow keeps of a
// GitLab pipeline webhook. It travels from the intake to the alert as the
// payload of the workflow's pipeline signal, so it holds nothing the alert
// does not use.
type Event struct {
	Project      Project       `json:"project"`
	Pipeline     Pipeline      `json:"pipeline"`
	User         string        `json:"user,omitempty"`
	Commit       Commit        `json:"commit"`
	MergeRequest *MergeRequest `json:"merge_request,omitempty"`
	// IdempotencyKey is GitLab's Idempotency-Key header, stable across its
	// resends of one delivery. Empty when the header was absent.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// ReceivedAt is when the intake accepted the webhook.
	ReceivedAt time.Time `json:"received_at"`
	// Instance names the GitLab instance the event came from when it is
	// not the home one: its alert IDs are "<instance>:<project_id>-<ref>"
	// (InstanceID). Empty for the home instance, whose IDs are as always.
	Instance string `json:"instance,omitempty"`
	// Missed is set, and Pipeline holds only the ref, when the event says
	// a scheduled pipeline did not run rather than that one changed.
	Missed *Missed `json:"missed,omitempty"`
	// LastGreen is the newest success the intake saw on the ref while no
	// alert was open, for the alert this event may open (RulesInsight);
	// nil when it saw none.
	LastGreen *Green `json:"last_green,omitempty"`
}

// Project is the GitLab project a pipeline ran in.
type Project struct {
	ID            int64  `json:"id"`
	Path          string `json:"path,omitempty"`
	URL           string `json:"url,omitempty"`
	DefaultBranch string `json:"default_branch,omitempty"`
}

// Pipeline is the pipeline an event is about.
type Pipeline struct {
	ID   int64  `json:"id"`
	IID  int64  `json:"iid,omitempty"`
	Name string `json:"name,omitempty"`
	Ref  string `json:"ref"`
	Tag  bool   `json:"tag,omitempty"`
	// Protected is GitLab's protected_ref: the ref is a protected branch
	// or tag. GitLab versions before it send none, read as false.
	Protected bool   `json:"protected,omitempty"`
	SHA       string `json:"sha,omitempty"`
	Source    string `json:"source,omitempty"`
	// ParentID is the parent pipeline of a child pipeline (source
	// "parent_pipeline"); zero otherwise.
	ParentID int64  `json:"parent_id,omitempty"`
	Status   string `json:"status"`
	URL      string `json:"url,omitempty"`
	// CreatedAt and FinishedAt are zero when GitLab sent none.
	CreatedAt  time.Time `json:"created_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Duration in seconds, as GitLab reports it.
	Duration   float64 `json:"duration,omitempty"`
	FailedJobs []Job   `json:"failed_jobs,omitempty"`
	// FailedJobsOmitted counts the failed jobs left out of FailedJobs to
	// keep the event small (see Event.Bound).
	FailedJobsOmitted int `json:"failed_jobs_omitted,omitempty"`
	// FailureClass is what kind of failure a failed pipeline is, as the
	// intake classified it from all of its jobs (ClassOf); "" for any
	// other status, and when nobody could tell (an event read from
	// GitLab's API, which lists no jobs).
	FailureClass FailureClass `json:"failure_class,omitempty"`
}

// Job is a failed job of a pipeline.
type Job struct {
	Name          string `json:"name"`
	Stage         string `json:"stage,omitempty"`
	FailureReason string `json:"failure_reason,omitempty"`
	AllowFailure  bool   `json:"allow_failure,omitempty"`
}

// Commit is the commit a pipeline ran on.
type Commit struct {
	Title string `json:"title,omitempty"`
	URL   string `json:"url,omitempty"`
	// Author is the commit author's name (never the e-mail address).
	Author string `json:"author,omitempty"`
}

// MergeRequest is set for merge-request pipelines.
type MergeRequest struct {
	IID   int64  `json:"iid"`
	Title string `json:"title,omitempty"`
	URL   string `json:"url,omitempty"`
}

// ContentKey identifies one pipeline state: GitLab may build two deliveries
// from the same state, and both carry the same key.
func (e Event) ContentKey() string {
	finished := ""
	if !e.Pipeline.FinishedAt.IsZero() {
		finished = e.Pipeline.FinishedAt.UTC().Format(time.RFC3339)
	}
	return strconv.FormatInt(e.Pipeline.ID, 10) + ":" + e.Pipeline.Status + ":" + finished
}

// AlertID is the ID of the alert this event belongs to.
func (e Event) AlertID() string {
	return InstanceID(e.Instance, e.Project.ID, e.Pipeline.Ref)
}

// Bounds on what an event keeps, so that any payload under the body limit
// makes a signal far below Temporal's payload limits (it warns from 512 KiB
// and refuses 2 MiB), and an alert's history stays small.
const (
	// MaxFailedJobs is how many failed jobs an event keeps.
	MaxFailedJobs = 50
	// MaxText is how many bytes of any kept string an event keeps: GitLab
	// caps job and stage names at 255 characters, and a commit title or
	// URL is enough to recognise at that length. A flood of the largest
	// events must not fill a run's history faster than it can continue
	// as new.
	MaxText = 256
)

// Bound cuts the event down to MaxFailedJobs failed jobs (counting the rest
// in FailedJobsOmitted) and every kept string to MaxText bytes. The ref is
// left whole: it names the alert, and its length is checked on intake.
func (e *Event) Bound() {
	if n := len(e.Pipeline.FailedJobs); n > MaxFailedJobs {
		e.Pipeline.FailedJobsOmitted += n - MaxFailedJobs
		e.Pipeline.FailedJobs = e.Pipeline.FailedJobs[:MaxFailedJobs:MaxFailedJobs]
	}
	for i := range e.Pipeline.FailedJobs {
		j := &e.Pipeline.FailedJobs[i]
		j.Name, j.Stage, j.FailureReason = Clip(j.Name), Clip(j.Stage), Clip(j.FailureReason)
	}
	for _, s := range []*string{
		&e.Project.Path, &e.Project.URL, &e.Project.DefaultBranch,
		&e.Pipeline.Name, &e.Pipeline.SHA, &e.Pipeline.Source, &e.Pipeline.Status, &e.Pipeline.URL,
		&e.User, &e.Commit.Title, &e.Commit.URL, &e.Commit.Author, &e.IdempotencyKey,
	} {
		*s = Clip(*s)
	}
	if e.MergeRequest != nil {
		e.MergeRequest.Title, e.MergeRequest.URL = Clip(e.MergeRequest.Title), Clip(e.MergeRequest.URL)
	}
	if g := e.LastGreen; g != nil {
		g.SHA, g.URL = Clip(g.SHA), Clip(g.URL)
	}
}

// Clip cuts s to at most MaxText bytes without splitting a UTF-8 sequence,
// as every string an event keeps is cut.
func Clip(s string) string {
	if len(s) <= MaxText {
		return s
	}
	cut := MaxText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
