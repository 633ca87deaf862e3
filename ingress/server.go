// Package ingress is alertflow's HTTP side: the GitLab webhook that turns
// pipeline events into alert signals, the REST API people work alerts
// with, and health endpoints.
package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/workflows"
)

// DefaultMaxBody is GitLab's own cap on webhook payloads, 25 MiB.
const DefaultMaxBody = 25 << 20

// temporalTimeout keeps the answer inside GitLab's 10 s webhook timeout.
const temporalTimeout = 8 * time.Second

// retryAfter is what a 503 asks GitLab (or a person with curl) to wait.
const retryAfter = "5"

// Temporal is the part of client.Client the intake and the REST API need.
type Temporal interface {
	SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
}

// Config configures the intake.
type Config struct {
	// TaskQueue is where alert workflows run.
	TaskQueue string
	// Tokens are the accepted webhook sources.
	Tokens Tokens
	// APIToken guards the REST API; with no token the API is off.
	APIToken Tokens
	// MaxBody caps a webhook body in bytes; zero means DefaultMaxBody.
	MaxBody int64
	// Workflow is the input new alerts start with.
	Workflow workflows.Input
}

// Server serves the webhook and the health endpoints.
type Server struct {
	cfg      Config
	temporal Temporal
	logger   *slog.Logger
	router   *mux.Router
}

// New returns the intake's HTTP handler.
func New(cfg Config, temporal Temporal, logger *slog.Logger) *Server {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	s := &Server{cfg: cfg, temporal: temporal, logger: logger, router: mux.NewRouter()}
	s.router.HandleFunc("/webhooks/gitlab", s.gitlabWebhook).Methods(http.MethodPost)
	s.router.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	s.routeAPI()
	s.router.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", "no such endpoint")
	})
	s.router.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "", r.Method+" is not allowed here")
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.router.ServeHTTP(w, r)
}

// Actions the webhook answers with.
const (
	ActionSignaled = "signaled"
	ActionIgnored  = "ignored"
	ActionNone     = "none"
)

// WebhookAnswer is the JSON body of a 202 answer to a webhook.
type WebhookAnswer struct {
	Action  string `json:"action"`
	Reason  string `json:"reason,omitempty"`
	AlertID string `json:"alert_id,omitempty"`
	RunID   string `json:"run_id,omitempty"`
}

// ErrorAnswer is the JSON body of every 4xx and 5xx answer.
type ErrorAnswer struct {
	Error string `json:"error"`
	// Field names the offending payload field, when there is one.
	Field string `json:"field,omitempty"`
}

func (s *Server) gitlabWebhook(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	status, alertID := s.handleWebhook(w, r)
	// The URL's query holds the source token: only the path is logged.
	s.logger.InfoContext(r.Context(), "webhook",
		"path", r.URL.Path, "status", status, "alert_id", alertID,
		"duration_ms", float64(time.Since(start).Microseconds())/1000)
}

func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) (status int, alertID string) {
	if msg, ok := s.authenticate(r); !ok {
		return writeError(w, http.StatusUnauthorized, "", msg), ""
	}
	if kind := r.Header.Get("X-Gitlab-Event"); kind != "" && kind != "Pipeline Hook" {
		return writeJSON(w, http.StatusAccepted, WebhookAnswer{Action: ActionIgnored, Reason: "event " + strconv.Quote(kind) + " is not a pipeline event"}), ""
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return writeError(w, http.StatusRequestEntityTooLarge, "", "body larger than "+strconv.FormatInt(s.cfg.MaxBody, 10)+" bytes"), ""
		}
		return writeError(w, http.StatusBadRequest, "", "reading body: "+err.Error()), ""
	}
	ev, isPipeline, err := ParsePipelineEvent(body)
	if err != nil {
		var pe *PayloadError
		if errors.As(err, &pe) {
			return writeError(w, http.StatusBadRequest, pe.Field, pe.Error()), ""
		}
		return writeError(w, http.StatusBadRequest, "", err.Error()), ""
	}
	if !isPipeline {
		return writeJSON(w, http.StatusAccepted, WebhookAnswer{Action: ActionIgnored, Reason: "object_kind is not pipeline"}), ""
	}
	ev.IdempotencyKey = r.Header.Get("Idempotency-Key")
	ev.ReceivedAt = time.Now().UTC()
	alertID = ev.AlertID()

	ctx, cancel := context.WithTimeout(r.Context(), temporalTimeout)
	defer cancel()
	switch alert.RouteOf(ev.Pipeline.Status) {
	case alert.RouteOpen:
		run, err := s.temporal.SignalWithStartWorkflow(ctx, alertID, workflows.SignalPipeline, ev,
			workflows.StartOptions(s.cfg.TaskQueue, ev), workflows.AlertWorkflow, s.cfg.Workflow)
		if err != nil {
			return s.unavailable(w, r, "signal-with-start "+alertID, err), alertID
		}
		return writeJSON(w, http.StatusAccepted, WebhookAnswer{Action: ActionSignaled, AlertID: alertID, RunID: run.GetRunID()}), alertID
	case alert.RouteResolve:
		err := s.temporal.SignalWorkflow(ctx, alertID, "", workflows.SignalPipeline, ev)
		if isNotFound(err) {
			return writeJSON(w, http.StatusAccepted, WebhookAnswer{Action: ActionNone, Reason: "no open alert", AlertID: alertID}), alertID
		}
		if err != nil {
			return s.unavailable(w, r, "signal "+alertID, err), alertID
		}
		return writeJSON(w, http.StatusAccepted, WebhookAnswer{Action: ActionSignaled, AlertID: alertID}), alertID
	default:
		return writeJSON(w, http.StatusAccepted, WebhookAnswer{
			Action: ActionIgnored, Reason: "pipeline status " + strconv.Quote(ev.Pipeline.Status) + " opens and resolves nothing", AlertID: alertID,
		}), alertID
	}
}

// authenticate checks the source token, from ?token= (the URL GitLab is
// given) or X-Gitlab-Token (GitLab's secret token field). When both are
// sent they must agree: a request carrying two different secrets is not
// trusted on the strength of either.
func (s *Server) authenticate(r *http.Request) (msg string, ok bool) {
	query, header := r.URL.Query().Get("token"), r.Header.Get("X-Gitlab-Token")
	tok := header
	if tok == "" {
		tok = query
	}
	switch {
	case tok == "":
		return "missing source token: add ?token=… to the URL or set X-Gitlab-Token", false
	case query != "" && header != "" && query != header:
		return "the token in the URL and the X-Gitlab-Token header disagree", false
	}
	if _, ok := s.cfg.Tokens.Match(tok); !ok {
		return "wrong source token", false
	}
	return "", true
}

func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, doing string, err error) int {
	s.logger.ErrorContext(r.Context(), "temporal call failed", "op", doing, "error", err)
	w.Header().Set("Retry-After", retryAfter)
	return writeError(w, http.StatusServiceUnavailable, "", "temporal unavailable, retry later")
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func writeError(w http.ResponseWriter, status int, field, msg string) int {
	return writeJSON(w, status, ErrorAnswer{Error: msg, Field: field})
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}
