package ingress

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/alertflow/alertflow/route"
	"github.com/alertflow/alertflow/visibility"
	"github.com/alertflow/alertflow/workflows"
)

// MaxScopePattern bounds one project glob of a source's scope, in bytes.
const MaxScopePattern = 256

// Scope is the projects a source serves: the projects whose path matches
// one of its globs, and those whose ID it lists. The zero Scope is no scope:
// the source may act on any project, as every source could before scopes.
type Scope struct {
	globs []string
	ids   []int64
}

// Scoped says that the source serves only some projects.
func (sc Scope) Scoped() bool { return len(sc.globs) > 0 || len(sc.ids) > 0 }

// Allows reports whether the project with this ID and path
// (path_with_namespace) is in the scope: its ID is listed, or its path
// matches a glob, as a routing matcher's project glob matches. An unscoped
// source allows every project.
func (sc Scope) Allows(id int64, path string) bool {
	if !sc.Scoped() || slices.Contains(sc.ids, id) {
		return true
	}
	for _, g := range sc.globs {
		if (route.Matchers{Project: g}).Matches(route.Labels{Project: path}) {
			return true
		}
	}
	return false
}

// String is the scope as written, entries joined by |.
func (sc Scope) String() string {
	parts := slices.Clone(sc.globs)
	for _, id := range sc.ids {
		parts = append(parts, strconv.FormatInt(id, 10))
	}
	return strings.Join(parts, "|")
}

// parseScope reads the entries of a scope, "team-a/**|1234": each a
// positive project ID (digits only) or a project path glob. Errors name the
// source and the entry; the text of a scope entry never holds a token.
func parseScope(name, list string) (Scope, error) {
	var sc Scope
	for _, e := range strings.Split(list, "|") {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
			return Scope{}, fmt.Errorf("source %q: empty scope entry: want project globs or IDs separated by |", name)
		case len(e) > MaxScopePattern:
			return Scope{}, fmt.Errorf("source %q: scope entry %q…: longer than %d bytes", name, e[:32], MaxScopePattern)
		case strings.Trim(e, "0123456789") == "":
			id, err := strconv.ParseInt(e, 10, 64)
			if err != nil || id <= 0 {
				return Scope{}, fmt.Errorf("source %q: scope entry %q: a project ID must be a positive 64-bit integer", name, e)
			}
			if !slices.Contains(sc.ids, id) {
				sc.ids = append(sc.ids, id)
			}
		default:
			if err := route.CheckProject(e); err != nil {
				hint := ""
				if strings.ContainsAny(e, "{}") {
					hint = "; a comma separates entries: write {a,b} as a|b"
				}
				return Scope{}, fmt.Errorf("source %q: scope entry %q: neither a project ID nor a usable glob (%v)%s", name, e, err, hint)
			}
			if !slices.Contains(sc.globs, e) {
				sc.globs = append(sc.globs, e)
			}
		}
	}
	return sc, nil
}

// inScope answers 403 when the delivery's own project is outside the
// source's scope; true when it may go on.
func inScope(w http.ResponseWriter, src source, projectID int64, path string) bool {
	if src.scope.Allows(projectID, path) {
		return true
	}
	forbid(w, src, projectID, path, "")
	return false
}

// alertInScope reads the alert a scoped source's delivery would act on and
// answers 403 when a run of it is open for a project outside the source's
// scope: a delivery can name one project's ID with another's path, and the
// alert's search attributes say whose it is. No alert, or none open, lets
// the delivery go on. An unscoped source costs no call.
func (s *Server) alertInScope(ctx context.Context, w http.ResponseWriter, r *http.Request, src source, alertID string) (outcome string, ok bool) {
	if !src.scope.Scoped() {
		return "", true
	}
	d, err := s.temporal.DescribeWorkflowExecution(ctx, alertID, "")
	switch {
	case visibility.NotFound(err):
		return "", true
	case err != nil:
		s.unavailable(w, r, "describe_alert", alertID, err)
		return OutcomeUnavailable, false
	}
	info := d.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return "", true
	}
	sa := info.GetSearchAttributes().GetIndexedFields()
	var id int64
	var path string
	decodeAttr(sa[workflows.AttrProjectID.GetName()], &id)
	decodeAttr(sa[workflows.AttrProject.GetName()], &path)
	if src.scope.Allows(id, path) {
		return "", true
	}
	forbid(w, src, id, path, alertID)
	return OutcomeForbidden, false
}

// decodeAttr reads a search attribute's value into v; a missing or
// unreadable one leaves v zero: ID 0 is never listed, and "" is a path
// that hardly any glob matches.
func decodeAttr(p *commonpb.Payload, v any) {
	if p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, v)
	}
}

// forbid answers 403 naming the source and the project, never the token.
func forbid(w http.ResponseWriter, src source, projectID int64, path, openAlert string) {
	msg := fmt.Sprintf("source %q does not serve project %d (%q)", src.name, projectID, path)
	if openAlert != "" {
		msg += ", whose alert " + openAlert + " is open"
	}
	writeError(w, http.StatusForbidden, "", msg+": see the source's scope in ALERTFLOW_SOURCE_TOKENS")
}
