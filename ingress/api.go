package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorilla/mux"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alertview"
	"github.com/alertflow/alertflow/visibility"
	"github.com/alertflow/alertflow/workflows"
)

// Page sizes of the alert list.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// apiPrefix is where the REST API lives.
const apiPrefix = "/api/v1"

// AlertSummary is one row of GET /api/v1/alerts, read from the visibility
// store: what the Web UI's workflow list shows of an alert.
type AlertSummary struct {
	ID              string    `json:"id"`
	RunID           string    `json:"run_id"`
	Title           string    `json:"title,omitempty"`
	Status          string    `json:"status"`
	Severity        string    `json:"severity,omitempty"`
	ProjectID       int64     `json:"project_id"`
	Project         string    `json:"project,omitempty"`
	Ref             string    `json:"ref"`
	PipelineID      int64     `json:"pipeline_id,omitempty"`
	ExecutionStatus string    `json:"execution_status"`
	StartTime       time.Time `json:"start_time"`
	CloseTime       time.Time `json:"close_time,omitzero"`
}

// AlertList is the answer of GET /api/v1/alerts.
type AlertList struct {
	Alerts        []AlertSummary `json:"alerts"`
	NextPageToken string         `json:"next_page_token,omitempty"`
}

func (s *Server) routeAPI() {
	// The API has a router of its own behind the token check: routed by
	// the server's router, an unknown path answered 404 and a known one
	// 401, which told a caller without the token which paths exist.
	api := mux.NewRouter()
	api.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", "no such endpoint")
	})
	api.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "", r.Method+" is not allowed here")
	})
	// Full paths, no subrouter: mux loses a method mismatch (405) behind
	// a subrouter's prefix when a later route of it does not match.
	stats := newReadBound(apiPrefix+"/stats", maxConcurrentReads, s.cfg.Registry)
	alerts := newReadBound(apiPrefix+"/alerts", maxConcurrentReads, s.cfg.Registry)
	api.Handle(apiPrefix+"/alerts", alerts.wrap(s.listAlerts)).Methods(http.MethodGet)
	api.Handle(apiPrefix+"/stats", stats.wrap(s.alertStats)).Methods(http.MethodGet)
	// Alert IDs hold the ref, which may hold slashes: the action routes
	// come first so that "…/acknowledge" is not read as part of an ID.
	// [\s\S], not ".": an ID with a newline is answered 400 by alertID,
	// not 404 by the router.
	api.HandleFunc(apiPrefix+`/alerts/{id:[\s\S]+}/acknowledge`, s.acknowledgeAlert).Methods(http.MethodPost)
	api.HandleFunc(apiPrefix+`/alerts/{id:[\s\S]+}/resolve`, s.resolveAlert).Methods(http.MethodPost)
	api.HandleFunc(apiPrefix+`/alerts/{id:[\s\S]+}/snooze`, s.snoozeAlert).Methods(http.MethodPost)
	api.HandleFunc(apiPrefix+`/alerts/{id:[\s\S]+}/reconcile`, s.reconcileAlert).Methods(http.MethodPost)
	api.HandleFunc(apiPrefix+`/alerts/{id:[\s\S]+}`, s.showAlert).Methods(http.MethodGet)
	s.routeSilences(api)
	s.router.MatcherFunc(func(r *http.Request, _ *mux.RouteMatch) bool {
		return r.URL.Path == apiPrefix || strings.HasPrefix(r.URL.Path, apiPrefix+"/")
	}).Handler(s.requireAPIToken(api))
}

func (s *Server) requireAPIToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.APIToken.Len() == 0 {
			writeError(w, http.StatusForbidden, "", "the REST API is off: set ALERTFLOW_API_TOKEN to turn it on")
			return
		}
		tok, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="alertflow"`)
			writeError(w, http.StatusUnauthorized, "", "missing bearer token: send Authorization: Bearer $ALERTFLOW_API_TOKEN")
			return
		}
		if _, ok := s.cfg.APIToken.Match(tok); !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="alertflow", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "", "wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerToken reads the token of an Authorization header. The scheme's
// name is case-insensitive (RFC 7235, section 2.1): "bearer x" is "Bearer x".
func bearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	tok = strings.TrimSpace(tok)
	return tok, ok && strings.EqualFold(scheme, "Bearer") && tok != ""
}

// listQuery builds the visibility query of GET /alerts from its filters,
// or names the parameter that is not valid. Runs closed by continue-as-new
// are left out: the alert lives on in the run they continued into. A
// non-empty exactRef is a ref the query only narrows down to: the alerts
// listed must be filtered to it (see refClause).
// Clauses on Temporal's own ExecutionStatus: an active alert's run is
// running; a resolved one has completed, and the runs it continued as new
// from are not alerts of their own.
const (
	running      = "ExecutionStatus = 'Running'"
	notContinued = "ExecutionStatus != 'ContinuedAsNew'"
)

func listQuery(q map[string][]string) (query, exactRef string, bad *ErrorAnswer) {
	get := func(name string) string {
		if v := q[name]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	status := func(s alert.Status) string {
		return workflows.AttrStatus.GetName() + " = " + visibility.Quote(string(s))
	}
	clauses := []string{"WorkflowType = " + visibility.Quote(workflows.WorkflowType)}
	switch st := strings.ToLower(get("status")); st {
	case "", "active":
		clauses = append(clauses, "("+status(alert.StatusOpen)+" OR "+status(alert.StatusAcknowledged)+")", running)
	case string(alert.StatusOpen), string(alert.StatusAcknowledged):
		clauses = append(clauses, status(alert.Status(st)), running)
	case string(alert.StatusResolved):
		clauses = append(clauses, status(alert.StatusResolved), notContinued)
	case "all":
		clauses = append(clauses, notContinued)
	default:
		return "", "", &ErrorAnswer{Field: "status", Error: "status must be one of active (the default), open, acknowledged, resolved, all"}
	}
	if sev := strings.ToUpper(get("severity")); sev != "" {
		switch alert.Severity(sev) {
		case alert.SeverityHigh, alert.SeverityMedium, alert.SeverityLow:
			clauses = append(clauses, workflows.AttrSeverity.GetName()+" = "+visibility.Quote(sev))
		default:
			return "", "", &ErrorAnswer{Field: "severity", Error: "severity must be one of HIGH, MEDIUM, LOW"}
		}
	}
	if p := get("project_id"); p != "" {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil || id <= 0 {
			return "", "", &ErrorAnswer{Field: "project_id", Error: "project_id must be a positive integer"}
		}
		clauses = append(clauses, workflows.AttrProjectID.GetName()+" = "+strconv.FormatInt(id, 10))
	}
	if v := q["ref"]; len(v) > 0 && v[0] != "" {
		if !utf8.ValidString(v[0]) {
			return "", "", &ErrorAnswer{Field: "ref", Error: "ref must be valid UTF-8"}
		}
		// No Git ref holds one, and Temporal fails on some rather than
		// refusing them: answered here, without a call.
		if strings.ContainsFunc(v[0], unicode.IsControl) {
			return "", "", &ErrorAnswer{Field: "ref", Error: "ref must not contain control characters"}
		}
		clause, narrowed := refClause(v[0])
		if clause != "" {
			clauses = append(clauses, clause)
		}
		if narrowed {
			exactRef = v[0]
		}
	}
	return strings.Join(clauses, " AND "), exactRef, nil
}

// refClause is the visibility clause that finds ref. Temporal's SQL
// visibility stores (SQLite, as the dev server runs it, and likely
// PostgreSQL) compare a literal as its parser writes it back, with a
// backslash before every quote and backslash: no literal equals a ref
// holding either, however it is escaped. Such a ref is looked for by the
// prefix before its first backslash or double quote, and narrowed says
// that the alerts found must still be filtered to the ref itself.
func refClause(ref string) (clause string, narrowed bool) {
	i := strings.IndexAny(ref, `\"`)
	switch {
	case i < 0:
		return workflows.AttrRef.GetName() + " = " + visibility.Quote(ref), false
	case i == 0:
		return "", true
	}
	return workflows.AttrRef.GetName() + " STARTS_WITH " + visibility.Quote(ref[:i]), true
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query, exactRef, bad := listQuery(q)
	if bad != nil {
		writeJSON(w, http.StatusBadRequest, bad)
		return
	}
	size := defaultPageSize
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > maxPageSize {
			writeError(w, http.StatusBadRequest, "page_size", fmt.Sprintf("page_size must be a whole number from 1 to %d", maxPageSize))
			return
		}
		size = n
	}
	token, ok := openPageToken(q.Get("page_token"))
	if !ok {
		writeError(w, http.StatusBadRequest, "page_token", "page_token is not one this API gave out")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), temporalTimeout)
	defer cancel()
	resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: query, PageSize: int32(size), NextPageToken: token,
	})
	if err != nil {
		var invalid *serviceerror.InvalidArgument
		if errors.As(err, &invalid) {
			writeError(w, http.StatusBadRequest, "", "the visibility store refused the filters: "+invalid.Message)
			return
		}
		s.unavailable(w, r, "list", "", err)
		return
	}
	list := AlertList{Alerts: make([]AlertSummary, 0, len(resp.GetExecutions())),
		NextPageToken: sealPageToken(resp.GetNextPageToken())}
	for _, e := range resp.GetExecutions() {
		sa := e.GetSearchAttributes().GetIndexedFields()
		a := AlertSummary{
			ID:              e.GetExecution().GetWorkflowId(),
			RunID:           e.GetExecution().GetRunId(),
			Title:           payloadString(e.GetMemo().GetFields()["title"]),
			Status:          payloadString(sa[workflows.AttrStatus.GetName()]),
			Severity:        payloadString(sa[workflows.AttrSeverity.GetName()]),
			ProjectID:       payloadInt(sa[workflows.AttrProjectID.GetName()]),
			Project:         payloadString(sa[workflows.AttrProject.GetName()]),
			Ref:             payloadString(sa[workflows.AttrRef.GetName()]),
			PipelineID:      payloadInt(sa[workflows.AttrPipelineID.GetName()]),
			ExecutionStatus: strings.TrimPrefix(e.GetStatus().String(), "WorkflowExecutionStatus"),
			StartTime:       e.GetStartTime().AsTime(),
		}
		if e.GetCloseTime() != nil {
			a.CloseTime = e.GetCloseTime().AsTime()
		}
		// A page narrowed to a ref's prefix may so hold fewer alerts
		// than page_size, or none, and still have a next page.
		if exactRef != "" && a.Ref != exactRef {
			continue
		}
		list.Alerts = append(list.Alerts, a)
	}
	writeJSON(w, http.StatusOK, list)
}

func payloadString(p *commonpb.Payload) string {
	var v string
	if p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &v)
	}
	return v
}

func payloadInt(p *commonpb.Payload) int64 {
	var v int64
	if p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &v)
	}
	return v
}

// alertID reads the {id} of a route in either form: as ID builds it
// ("1-feature/%C3%BCmlaut") or with a readable ref ("1-feature/ümlaut").
func alertID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id, err := checkAlertID(mux.Vars(r)["id"])
	if err != nil {
		writeError(w, http.StatusBadRequest, "id", err.Error())
		return "", false
	}
	return id, true
}

// checkAlertID reads an alert ID as InstanceID builds it or with a
// readable ref, and refuses one the webhook would never make.
func checkAlertID(raw string) (string, error) {
	instance, project, ref, err := alert.ParseInstanceID(raw)
	if err != nil {
		return "", err
	}
	if err := validateRef("id", project, ref); err != nil {
		if pe, ok := errors.AsType[*PayloadError](err); ok {
			return "", errors.New("the ref in the id " + pe.Reason)
		}
		return "", err
	}
	return alert.InstanceID(instance, project, ref), nil
}

func (s *Server) showAlert(w http.ResponseWriter, r *http.Request) {
	id, ok := alertID(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), temporalTimeout)
	defer cancel()
	s.answerState(ctx, w, r, id)
}

// answerState answers with the state of alert id.
func (s *Server) answerState(ctx context.Context, w http.ResponseWriter, r *http.Request, id string) {
	st, err := workflows.QueryAlert(ctx, s.temporal, id, "")
	if err != nil {
		if visibility.NotFound(err) {
			writeError(w, http.StatusNotFound, "", "no alert "+id)
			return
		}
		s.unavailable(w, r, "query", id, err)
		return
	}
	writeJSON(w, http.StatusOK, alertview.Of(st))
}

func (s *Server) acknowledgeAlert(w http.ResponseWriter, r *http.Request) {
	var a alert.Acknowledgement
	s.updateAlert(w, r, workflows.UpdateAcknowledge, &a)
}

func (s *Server) resolveAlert(w http.ResponseWriter, r *http.Request) {
	var res alert.Resolution
	s.updateAlert(w, r, workflows.UpdateResolve, &res)
}

func (s *Server) snoozeAlert(w http.ResponseWriter, r *http.Request) {
	var req alert.SnoozeRequest
	s.updateAlert(w, r, workflows.UpdateSnooze, &req)
}

// reconcileAlert checks the alert's ref against GitLab's API now, and
// answers with the alert as it then is.
func (s *Server) reconcileAlert(w http.ResponseWriter, r *http.Request) {
	var req alert.ReconcileRequest
	s.updateAlert(w, r, workflows.UpdateReconcile, &req)
}

// updateAlert runs a manual action as a workflow update and answers with
// the alert's new state: 404 when there is no open alert, 400 for bad
// input, 409 when the alert cannot take the action any more.
func (s *Server) updateAlert(w http.ResponseWriter, r *http.Request, name string, arg any) {
	id, ok := alertID(w, r)
	if !ok {
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(arg); err != nil {
		writeError(w, http.StatusBadRequest, "", "body must be JSON like {\"by\":\"alice\"}: "+err.Error())
		return
	}
	// One object and nothing after it: trailing data is a body the sender
	// did not mean, or two of them.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "", "body must be one JSON object with nothing after it")
		return
	}
	if field, err := checkActionText(arg); err != nil {
		writeError(w, http.StatusBadRequest, field, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), temporalTimeout)
	defer cancel()
	out := s.runUpdate(ctx, id, name, arg)
	switch {
	case out.err != nil:
		s.unavailable(w, r, "update_"+name, id, out.err)
	case out.status == http.StatusOK && out.state == nil:
		// Two people pressing "ack" both succeed, as in PagerDuty; the
		// second press is answered from the state, not recorded.
		s.answerState(ctx, w, r, id)
	case out.status == http.StatusOK:
		writeJSON(w, http.StatusOK, alertview.Of(out.state))
	default:
		writeError(w, out.status, "", out.msg)
	}
}

// updated is what a manual action came to, for the REST API and Slack.
type updated struct {
	// status is 200, 400 (bad input), 404 (no open alert) or 409 (the
	// alert cannot take the action any more); err is set when Temporal
	// could not be asked.
	status int
	// state is the alert after the action; nil on a 200 for an alert
	// already acknowledged, which records nothing.
	state *alert.State
	msg   string
	err   error
}

// runUpdate runs a manual action as a workflow update.
func (s *Server) runUpdate(ctx context.Context, id, name string, arg any) updated {
	st, err := workflows.UpdateAlert(ctx, s.temporal, id, name, arg)
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		return updated{status: http.StatusOK, state: st}
	case visibility.NotFound(err):
		return updated{status: http.StatusNotFound, msg: "no open alert " + id}
	case errors.As(err, &appErr) && appErr.Type() == workflows.ErrTypeAlreadyAcknowledged:
		return updated{status: http.StatusOK, msg: appErr.Message()}
	case errors.As(err, &appErr) && appErr.Type() == workflows.ErrTypeInvalidInput:
		return updated{status: http.StatusBadRequest, msg: appErr.Message()}
	case errors.As(err, &appErr) && (appErr.Type() == workflows.ErrTypeResolved || appErr.Type() == workflows.ErrTypeNotOpened ||
		appErr.Type() == workflows.ErrTypeNotReconciled):
		return updated{status: http.StatusConflict, msg: appErr.Message()}
	case errors.As(err, &appErr) && strings.HasPrefix(appErr.Message(), "unknown update"):
		// An alert opened by an alertflow that did not have this action
		// yet (snooze) keeps running the way it started.
		return updated{status: http.StatusConflict, msg: id + " was opened before alertflow could " + name + " alerts; it cannot take " + name}
	default:
		return updated{status: http.StatusServiceUnavailable, err: err}
	}
}
