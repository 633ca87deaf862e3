package ingress

import (
	"bytes"
	"encoding/json"
	"errors"
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

// pipelineHook is the part of GitLab's pipeline webhook that alertflow keeps.
// Everything else in the payload (variables, stages, runners, job users,
// environments, ...) is skipped by the decoder without being materialised.
type pipelineHook struct {
	ObjectKind       string `json:"object_kind"`
	ObjectAttributes struct {
		ID         *int64     `json:"id"`
		IID        int64      `json:"iid"`
		Name       string     `json:"name"`
		Ref        *string    `json:"ref"`
		Tag        bool       `json:"tag"`
		SHA        string     `json:"sha"`
		Source     string     `json:"source"`
		Status     *string    `json:"status"`
		URL        string     `json:"url"`
		CreatedAt  gitlabTime `json:"created_at"`
		FinishedAt gitlabTime `json:"finished_at"`
		Duration   *float64   `json:"duration"`
	} `json:"object_attributes"`
	Project struct {
		ID                *int64 `json:"id"`
		PathWithNamespace string `json:"path_with_namespace"`
		WebURL            string `json:"web_url"`
		DefaultBranch     string `json:"default_branch"`
	} `json:"project"`
	User *struct {
		Name     string `json:"name"`
		Username string `json:"username"`
	} `json:"user"`
	Commit *struct {
		Title   string `json:"title"`
		Message string `json:"message"`
		URL     string `json:"url"`
	} `json:"commit"`
	MergeRequest *struct {
		IID   int64  `json:"iid"`
		Title string `json:"title"`
		URL   string `json:"url"`
	} `json:"merge_request"`
	Builds []struct {
		Name          string  `json:"name"`
		Stage         string  `json:"stage"`
		Status        string  `json:"status"`
		FailureReason *string `json:"failure_reason"`
		AllowFailure  bool    `json:"allow_failure"`
	} `json:"builds"`
}

// gitlabTime accepts both timestamp formats GitLab sends: "2016-08-12
// 15:26:29 UTC" in real deliveries and RFC 3339 from the "Test" button.
// A bad value is kept as err rather than returned, because encoding/json
// drops the field path from errors of custom unmarshalers and the 400 must
// name the field.
type gitlabTime struct {
	time.Time
	err error
}

var gitlabTimeLayouts = []string{
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05 -0700",
	time.RFC3339Nano,
}

func (t *gitlabTime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		t.err = errors.New("must be a timestamp string")
		return nil
	}
	if s == "" {
		return nil
	}
	for _, layout := range gitlabTimeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			// A time whose UTC year has not four digits cannot be encoded
			// into the signal: refuse it here, naming the field, rather
			// than as a 503 from the Temporal call.
			if y := v.UTC().Year(); y < 1 || y > 9999 {
				t.err = fmt.Errorf("%q is outside the years 0001 to 9999", s)
				return nil
			}
			t.Time = v.UTC()
			return nil
		}
	}
	t.err = fmt.Errorf("%q is neither \"2006-01-02 15:04:05 UTC\" nor RFC 3339", s)
	return nil
}

// ParsePipelineEvent decodes a GitLab pipeline webhook body into an event.
// It reports whether the body is a pipeline event at all (object_kind
// "pipeline", or none), and a *PayloadError naming the field when the body is
// malformed or lacks what alertflow needs.
func ParsePipelineEvent(body []byte) (ev alert.Event, isPipeline bool, err error) {
	var h pipelineHook
	if err := json.Unmarshal(body, &h); err != nil {
		return alert.Event{}, false, decodeError(err)
	}
	if h.ObjectKind != "" && h.ObjectKind != "pipeline" {
		return alert.Event{}, false, nil
	}
	if err := h.validate(); err != nil {
		return alert.Event{}, true, err
	}
	return h.event(), true, nil
}

func decodeError(err error) *PayloadError {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return &PayloadError{Field: typeErr.Field, Reason: "must be " + jsonKind(typeErr.Type.Kind().String())}
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return &PayloadError{Reason: fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)}
	}
	return &PayloadError{Reason: "malformed JSON: " + err.Error()}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64", "float64", "uint", "uint64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "struct", "ptr", "map":
		return "an object"
	case "slice":
		return "an array"
	default:
		return "of another type"
	}
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
	ref := *oa.Ref
	if !utf8.ValidString(ref) {
		return &PayloadError{Field: "object_attributes.ref", Reason: "must be valid UTF-8"}
	}
	// Git refuses control characters in ref names; one here is not a ref.
	if strings.ContainsFunc(ref, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return &PayloadError{Field: "object_attributes.ref", Reason: "must not contain control characters"}
	}
	if len(alert.ID(*h.Project.ID, ref)) > maxIDLength {
		return &PayloadError{Field: "object_attributes.ref", Reason: fmt.Sprintf("is too long for an alert id (at most %d bytes once encoded)", maxIDLength)}
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
		ev.Commit = alert.Commit{Title: h.Commit.Title, URL: h.Commit.URL}
		if ev.Commit.Title == "" {
			// Older payloads carry only the message; its first line is the title.
			ev.Commit.Title, _, _ = strings.Cut(h.Commit.Message, "\n")
		}
	}
	if h.MergeRequest != nil {
		ev.MergeRequest = &alert.MergeRequest{IID: h.MergeRequest.IID, Title: h.MergeRequest.Title, URL: h.MergeRequest.URL}
	}
	for _, b := range h.Builds {
		if b.Status != "failed" {
			continue
		}
		job := alert.Job{Name: b.Name, Stage: b.Stage, AllowFailure: b.AllowFailure}
		if b.FailureReason != nil {
			job.FailureReason = *b.FailureReason
		}
		ev.Pipeline.FailedJobs = append(ev.Pipeline.FailedJobs, job)
	}
	return ev
}
