package ingress

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/alertflow/alertflow/alert"
)

// zeroSHA is the "after" commit of a push that deleted its branch or tag.
const zeroSHA = "0000000000000000000000000000000000000000"

// Push is what alertflow keeps of a GitLab push or tag push event: which
// ref of which project, and whether the push deleted it.
type Push struct {
	ProjectID int64
	// Project is the project's path_with_namespace, clipped as an
	// event's is; "" when the payload has none.
	Project string
	// Ref is the branch or tag name, without refs/heads/ or refs/tags/.
	Ref     string
	Deleted bool
	// By is the user who pushed, as GitLab names them.
	By string
	// Instance is the source's GitLab instance, "" for the home one.
	Instance string
}

// AlertID is the ID of the alert of the pushed ref.
func (p Push) AlertID() string { return alert.InstanceID(p.Instance, p.ProjectID, p.Ref) }

// pushHook is the part of a push event alertflow reads. Push events are
// rare next to pipeline events and their payload is small (at most 20
// commits), so the standard decoder does.
type pushHook struct {
	ObjectKind   string `json:"object_kind"`
	Ref          string `json:"ref"`
	After        string `json:"after"`
	UserName     string `json:"user_name"`
	UserUsername string `json:"user_username"`
	ProjectID    int64  `json:"project_id"`
	Project      struct {
		ID                int64  `json:"id"`
		PathWithNamespace string `json:"path_with_namespace"`
	} `json:"project"`
}

// ParsePushEvent decodes a GitLab push or tag push webhook body. It reports
// whether the body is a push event at all (object_kind "push" or
// "tag_push"), and a *PayloadError naming the field when it is malformed.
func ParsePushEvent(body []byte) (p Push, isPush bool, err error) {
	var h pushHook
	if err := json.Unmarshal(body, &h); err != nil {
		return Push{}, false, &PayloadError{Reason: "malformed JSON: " + err.Error()}
	}
	if h.ObjectKind != "push" && h.ObjectKind != "tag_push" {
		return Push{}, false, nil
	}
	p.ProjectID = h.Project.ID
	if p.ProjectID == 0 {
		p.ProjectID = h.ProjectID
	}
	if p.ProjectID <= 0 {
		return Push{}, true, &PayloadError{Field: "project.id", Reason: "is required and must be a positive integer"}
	}
	switch {
	case strings.HasPrefix(h.Ref, "refs/heads/"):
		p.Ref = strings.TrimPrefix(h.Ref, "refs/heads/")
	case strings.HasPrefix(h.Ref, "refs/tags/"):
		p.Ref = strings.TrimPrefix(h.Ref, "refs/tags/")
	default:
		return Push{}, true, &PayloadError{Field: "ref", Reason: fmt.Sprintf("%q is neither refs/heads/… nor refs/tags/…", h.Ref)}
	}
	if p.Ref == "" {
		return Push{}, true, &PayloadError{Field: "ref", Reason: "names no branch or tag"}
	}
	if err := validateRef("ref", p.ProjectID, p.Ref); err != nil {
		return Push{}, true, err
	}
	p.Project = alert.Clip(h.Project.PathWithNamespace)
	p.Deleted = h.After == zeroSHA
	p.By = h.UserName
	if p.By == "" {
		p.By = h.UserUsername
	}
	return p, true, nil
}
