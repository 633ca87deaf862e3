package ingress

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alertflow/alertflow/alert"
)

// maxIDLength is Temporal's default limit on workflow ID length; a ref that
// makes a longer alert ID could never be signalled.
const maxIDLength = 1000

// PayloadError is a GitLab payload that cannot be turned into an event. Field
// names the offending JSON field ("object_attributes.ref") when there is one.
type PayloadError struct {
	Field  string
	Reason string
}

func (e *PayloadError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// pipelineHook is the part of GitLab's pipeline webhook that alertflow keeps
// (gitlab_decode.go reads it). Everything else in the payload (variables,
// stages, runners, job users, environments, ...) and every job that did not
// fail is skipped without being decoded, so neither time nor memory grows
// with what alertflow does not keep.
type pipelineHook struct {
	ObjectKind       string
	ObjectAttributes struct {
		ID          *int64
		IID         int64
		Name, SHA   string
		Ref, Status *string
		Tag         bool
		// ProtectedRef is false when GitLab sent none (versions before it).
		ProtectedRef          bool
		Source, URL           string
		CreatedAt, FinishedAt gitlabTime
		Duration              *float64
	}
	Project struct {
		ID                                       *int64
		PathWithNamespace, WebURL, DefaultBranch string
	}
	User         *hookUser
	Commit       *hookCommit
	MergeRequest *hookMergeRequest
	// ParentID is source_pipeline.pipeline_id: the parent of a child
	// pipeline, or the upstream pipeline of a multi-project one.
	ParentID int64
	// FailedJobs are the builds with status "failed", the only ones kept.
	FailedJobs []failedJob
	// Jobs counts the builds, failed or not, when buildsRead: a failed
	// pipeline without one failed before it could run any.
	Jobs       int
	buildsRead bool

	// buildsSkipped says that builds were skipped because the status read
	// before them opens and resolves nothing.
	buildsSkipped bool
	// buildsErr is what is wrong with builds; it only matters for a
	// pipeline whose jobs are looked at.
	buildsErr *PayloadError
}

type (
	hookUser         struct{ Name, Username string }
	hookCommit       struct{ Title, Message, URL, Author string }
	hookMergeRequest struct {
		IID        int64
		Title, URL string
	}
)

// failedJob is what alertflow keeps of a failed entry of builds.
type failedJob struct {
	Name, Stage   string
	FailureReason *string
	AllowFailure  bool
}

// gitlabTime accepts both timestamp formats GitLab sends: "2016-08-12
// 15:26:29 UTC" in real deliveries and RFC 3339 from the "Test" button.
// A bad value is kept as err, and validate names the field.
type gitlabTime struct {
	time.Time
	err error
}

var gitlabTimeLayouts = []string{
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05 -0700",
	time.RFC3339Nano,
}

// parse reads s, a timestamp in either format; "" is no time.
func (t *gitlabTime) parse(s string) {
	if s == "" {
		return
	}
	for _, layout := range gitlabTimeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			// A time whose UTC year has not four digits cannot be encoded
			// into the signal: refuse it here, naming the field, rather
			// than as a 503 from the Temporal call.
			if y := v.UTC().Year(); y < 1 || y > 9999 {
				t.err = fmt.Errorf("%q is outside the years 0001 to 9999", s)
				return
			}
			t.Time, t.err = v.UTC(), nil
			return
		}
	}
	t.err = fmt.Errorf("%q is neither \"2006-01-02 15:04:05 UTC\" nor RFC 3339", s)
}

// ParsePipelineEvent decodes a GitLab pipeline webhook body into an event.
// It reports whether the body is a pipeline event at all (object_kind
// "pipeline", or none), and a *PayloadError naming the field when the body is
// malformed or lacks what alertflow needs.
func ParsePipelineEvent(body []byte) (ev alert.Event, isPipeline bool, err error) {
	var h pipelineHook
	if err := h.decode(body); err != nil {
		return alert.Event{}, false, err
	}
	if h.ObjectKind != "" && h.ObjectKind != "pipeline" {
		return alert.Event{}, false, nil
	}
	if err := h.validate(); err != nil {
		return alert.Event{}, true, err
	}
	return h.event(), true, nil
}

func (h *pipelineHook) validate() error {
	oa := &h.ObjectAttributes
	switch {
	case h.Project.ID == nil:
		return &PayloadError{Field: "project.id", Reason: "is required"}
	case *h.Project.ID <= 0:
		return &PayloadError{Field: "project.id", Reason: "must be a positive integer"}
	case oa.ID == nil:
		return &PayloadError{Field: "object_attributes.id", Reason: "is required"}
	case *oa.ID <= 0:
		return &PayloadError{Field: "object_attributes.id", Reason: "must be a positive integer"}
	case oa.Ref == nil || *oa.Ref == "":
		return &PayloadError{Field: "object_attributes.ref", Reason: "is required"}
	case oa.Status == nil || *oa.Status == "":
		return &PayloadError{Field: "object_attributes.status", Reason: "is required"}
	}
	if oa.CreatedAt.err != nil {
		return &PayloadError{Field: "object_attributes.created_at", Reason: oa.CreatedAt.err.Error()}
	}
	if oa.FinishedAt.err != nil {
		return &PayloadError{Field: "object_attributes.finished_at", Reason: oa.FinishedAt.err.Error()}
	}
	return validateRef("object_attributes.ref", *h.Project.ID, *oa.Ref)
}

// validateRef checks that ref, from the payload field named, can name an
// alert of project projectID.
func validateRef(field string, projectID int64, ref string) error {
	if !utf8.ValidString(ref) {
		return &PayloadError{Field: field, Reason: "must be valid UTF-8"}
	}
	// Git refuses control characters in ref names; one here is not a ref.
	if strings.ContainsFunc(ref, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return &PayloadError{Field: field, Reason: "must not contain control characters"}
	}
	if len(alert.ID(projectID, ref)) > maxIDLength {
		return &PayloadError{Field: field, Reason: fmt.Sprintf("is too long for an alert id (at most %d bytes once encoded)", maxIDLength)}
	}
	return nil
}

func (h *pipelineHook) event() alert.Event {
	oa := &h.ObjectAttributes
	ev := alert.Event{
		Project: alert.Project{
			ID:            *h.Project.ID,
			Path:          h.Project.PathWithNamespace,
			URL:           h.Project.WebURL,
			DefaultBranch: h.Project.DefaultBranch,
		},
		Pipeline: alert.Pipeline{
			ID:         *oa.ID,
			IID:        oa.IID,
			Name:       oa.Name,
			Ref:        *oa.Ref,
			Tag:        oa.Tag,
			Protected:  oa.ProtectedRef,
			SHA:        oa.SHA,
			Source:     oa.Source,
			Status:     *oa.Status,
			URL:        oa.URL,
			CreatedAt:  oa.CreatedAt.Time,
			FinishedAt: oa.FinishedAt.Time,
		},
	}
	if oa.Duration != nil {
		ev.Pipeline.Duration = *oa.Duration
	}
	if ev.Pipeline.URL == "" && ev.Project.URL != "" {
		// Older GitLab versions send no pipeline URL; it is derivable.
		ev.Pipeline.URL = fmt.Sprintf("%s/-/pipelines/%d", ev.Project.URL, ev.Pipeline.ID)
	}
	if h.User != nil {
		ev.User = h.User.Name
		if ev.User == "" {
			ev.User = h.User.Username
		}
	}
	if h.Commit != nil {
		ev.Commit = alert.Commit{Title: h.Commit.Title, URL: h.Commit.URL, Author: h.Commit.Author}
		if ev.Commit.Title == "" {
			// Older payloads carry only the message; its first line is the title.
			ev.Commit.Title, _, _ = strings.Cut(h.Commit.Message, "\n")
		}
	}
	if h.MergeRequest != nil {
		ev.MergeRequest = &alert.MergeRequest{IID: h.MergeRequest.IID, Title: h.MergeRequest.Title, URL: h.MergeRequest.URL}
	}
	if ev.Pipeline.IsChild() {
		// Only a child's parent matters: a multi-project pipeline is an
		// ordinary pipeline of its own project.
		ev.Pipeline.ParentID = h.ParentID
	}
	for _, b := range h.FailedJobs {
		job := alert.Job{Name: b.Name, Stage: b.Stage, AllowFailure: b.AllowFailure}
		if b.FailureReason != nil {
			job.FailureReason = *b.FailureReason
		}
		ev.Pipeline.FailedJobs = append(ev.Pipeline.FailedJobs, job)
	}
	if ev.Pipeline.Status == alert.PipelineFailed && h.buildsRead {
		// Classified here, where every job is in view: the event keeps
		// only the failed ones. Without builds nobody can tell.
		ev.Pipeline.FailureClass = alert.ClassOf(ev.Pipeline.FailedJobs, h.Jobs)
	}
	return ev
}
