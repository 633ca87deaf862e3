// Package ingress is alertflow's HTTP side: the GitLab webhook that turns
// pipeline events into alert signals, the REST API people work alerts
// with, and health endpoints.
package ingress

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/visibility"
	"github.com/alertflow/alertflow/workflows"
)

// DefaultMaxBody is GitLab's own cap on webhook payloads, 25 MiB.
const DefaultMaxBody = 25 << 20

// temporalTimeout keeps the answer inside GitLab's 10 s webhook timeout.
const temporalTimeout = 8 * time.Second

// retryAfter is what a 503 asks GitLab (or a person with curl) to wait.
const retryAfter = "5"

// readyTimeout bounds the Temporal health check behind /readyz, so a load
// balancer's probe gets an answer even when the server hangs.
const readyTimeout = 2 * time.Second

// Temporal is the part of client.Client the intake and the REST API need.
type Temporal interface {
	SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
	CountWorkflow(ctx context.Context, request *workflowservice.CountWorkflowExecutionsRequest) (*workflowservice.CountWorkflowExecutionsResponse, error)
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
	CheckHealth(ctx context.Context, request *client.CheckHealthRequest) (*client.CheckHealthResponse, error)
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// Config configures the intake.
type Config struct {
	// TaskQueue is where alert workflows run.
	TaskQueue string
	// SilenceTaskQueue is where the silences the REST API makes run: a
	// worker process of their own keeps them out of the alert worker's
	// workflow cache. Empty: TaskQueue, where the alert worker runs them.
	SilenceTaskQueue string
	// Tokens are the accepted webhook sources.
	Tokens Tokens
	// APIToken guards the REST API; with no token the API is off.
	APIToken Tokens
	// MaxBody caps a webhook body in bytes; zero means DefaultMaxBody.
	MaxBody int64
	// MaxBodyInFlight caps the webhook body bytes held at once, across
	// requests; zero means DefaultMaxBodyInFlight, and it is never less
	// than MaxBody.
	MaxBodyInFlight int64
	// AlertRate caps the deliveries a second that reach any one alert,
	// in bursts of up to AlertBurst; zero lets every delivery through.
	AlertRate  float64
	AlertBurst int
	// Workflow is the input new alerts start with; New sets its Revision.
	// Its Reconcile is kept only for the alerts of ReconciledInstances.
	Workflow workflows.Input
	// ReconciledInstances are the GitLab instances ("" the home one)
	// whose API the worker reads to reconcile alerts.
	ReconciledInstances map[string]bool
	// ChangeEvents starts a change workflow for each successful pipeline
	// on a project's default branch: some receiver of the routing file
	// takes PagerDuty change events.
	ChangeEvents bool
	// SlackSigningSecret verifies what the Slack app's buttons and
	// /alertflow command post; empty leaves /slack/* unserved.
	SlackSigningSecret []byte
	// SlackPeople name Slack users as alertflow records them.
	SlackPeople map[string]string
	// SlackClient answers Slack users through response_url; nil means
	// notify.DefaultHTTPClient: bounded, and redirected only on the same
	// host, since a response_url is a credential.
	SlackClient *http.Client
	// Registry receives the intake's metrics and is served on /metrics,
	// with whatever else is registered there (the worker's, in serve).
	// Nil means a registry of the intake's own.
	Registry *prometheus.Registry
}

// Server serves the webhook, the REST API, health and metrics.
type Server struct {
	cfg      Config
	temporal Temporal
	logger   *slog.Logger
	metrics  *Metrics
	router   *mux.Router
	// bodies recycles webhook body buffers: at GitLab's rates, a fresh
	// 20 KB+ buffer per request (grown step by step) kept the garbage
	// collector busy beside the worker.
	bodies sync.Pool
	// inflight bounds the body bytes held across requests.
	inflight *bodyBudget
	// rates bounds the deliveries a second to each alert.
	rates *alertRates
	// noAlerts are the IDs Temporal just said have no alert.
	noAlerts *noAlerts
	// greens are the newest successes delivered on each ref.
	greens *greens
	// slackTells are the answers to Slack users on their way.
	slackTells chan struct{}
}

// maxPooledBody is the largest buffer kept for reuse; a rare huge payload
// is left to the garbage collector rather than pinned.
const maxPooledBody = 256 << 10

// New returns the intake's HTTP handler.
func New(cfg Config, temporal Temporal, logger *slog.Logger) *Server {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxBodyInFlight <= 0 {
		cfg.MaxBodyInFlight = DefaultMaxBodyInFlight
	}
	// A budget smaller than the body limit would refuse the largest
	// bodies for ever; a configuration checks it, callers may not.
	cfg.MaxBodyInFlight = max(cfg.MaxBodyInFlight, cfg.MaxBody)
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.SlackClient == nil {
		cfg.SlackClient = notify.DefaultHTTPClient()
	}
	// Alerts start with the workflow's newest behaviour; the revision stays
	// in their history, so older alerts keep theirs.
	cfg.Workflow.Revision = workflows.CurrentRevision
	s := &Server{cfg: cfg, temporal: temporal, logger: logger, metrics: NewMetrics(cfg.Registry), router: mux.NewRouter(),
		rates: newAlertRates(cfg.AlertRate, cfg.AlertBurst), noAlerts: newNoAlerts(), greens: newGreens(), slackTells: make(chan struct{}, maxSlackTells)}
	s.inflight = newBodyBudget(cfg.MaxBodyInFlight, cfg.Registry)
	registerCacheGauges(cfg.Registry, s.rates, s.noAlerts, s.greens)
	s.router.Use(s.observe)
	s.router.HandleFunc("/webhooks/gitlab", s.gitlabWebhook).Methods(http.MethodPost)
	s.router.HandleFunc("/healthz", Healthz).Methods(http.MethodGet)
	s.router.Handle("/readyz", Readyz(temporal, logger)).Methods(http.MethodGet)
	s.router.Handle("/metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{})).Methods(http.MethodGet)
	s.routeAPI()
	s.routeSlack()
	s.router.NotFoundHandler = s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", "no such endpoint")
	}))
	s.router.MethodNotAllowedHandler = s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "", r.Method+" is not allowed here")
	}))
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
	outcome, alertID := s.handleWebhook(w, r)
	s.metrics.webhook(outcome, time.Since(start).Seconds())
	if alertID != "" {
		setLogAttrs(r, "alert_id", alertID)
	}
	setLogAttrs(r, "outcome", outcome)
}

// buffer returns an empty buffer with room for a body of size bytes, as
// the sender announced it, up to maxPooledBody; readBody takes larger
// bodies into a buffer of their own.
func (s *Server) buffer(size int64) *bytes.Buffer {
	buf, _ := s.bodies.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	if size > 0 {
		// ReadFrom wants MinRead bytes free before each read, the one
		// that finds the end included.
		buf.Grow(int(min(size, maxPooledBody)) + bytes.MinRead)
	}
	return buf
}

// recycle keeps buf for another request. Nothing may use its bytes after:
// the parser copies what it keeps.
func (s *Server) recycle(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledBody {
		return
	}
	buf.Reset()
	s.bodies.Put(buf)
}

// handleWebhook answers one webhook and says how it ended.
func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) (outcome, alertID string) {
	src, msg, ok := s.authenticate(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "", msg)
		return OutcomeUnauthorized, ""
	}
	// The source's name, never its token, goes with the alert ID on the
	// access log line.
	setLogAttrs(r, "source", src.name)
	kind := r.Header.Get("X-Gitlab-Event")
	if kind != "" && kind != "Pipeline Hook" && !isPushKind(kind) {
		writeJSON(w, http.StatusAccepted, WebhookAnswer{Action: ActionIgnored, Reason: "event " + strconv.Quote(kind) + " is neither a pipeline nor a push event"})
		return OutcomeIgnored, ""
	}
	received := time.Now()
	body, done, refused := s.readBody(r)
	// How long the sender took to send its body, apart from the time the
	// intake took to answer: a slow sender is not a slow intake.
	setLogAttrs(r, "body_ms", float64(time.Since(received).Microseconds())/1000)
	if refused != nil {
		refuse(w, refused)
		return refused.outcome, ""
	}
	// The body's bytes go back to the budget exactly once on every path,
	// a panic included: a path that forgot them once starved every later
	// delivery of the budget until a restart.
	release := sync.OnceFunc(done)
	defer release()
	signedID := ""
	if src.signing != nil {
		id, err := src.signing.Verify(r.Header, body, time.Now())
		if err != nil {
			writeError(w, http.StatusUnauthorized, "", err.Error())
			return OutcomeUnauthorized, ""
		}
		signedID = id
	}
	d := decode(kind, body)
	// What was decoded holds copies of what it keeps: the bytes go back
	// now, not after the Temporal call.
	release()
	switch {
	case d.err != nil:
		badPayload(w, d.err)
		return OutcomeBadRequest, ""
	case d.isPipeline:
		ev := d.pipeline
		// A signed delivery's webhook-id is its Idempotency-Key, and the
		// one the signature vouches for.
		ev.IdempotencyKey = cmp.Or(signedID, r.Header.Get("Idempotency-Key"))
		ev.Instance = src.instance
		ev.ReceivedAt = time.Now().UTC()
		// Whatever GitLab sent under the body limit, the signal stays small.
		ev.Bound()
		if !inScope(w, src, ev.Project.ID, ev.Project.Path) {
			return OutcomeForbidden, ev.AlertID()
		}
		outcome, alertID := s.pipeline(w, r, src, ev)
		if outcome == OutcomeSignaled || outcome == OutcomeNone {
			s.heartbeat(r, ev)
		}
		return outcome, alertID
	case d.isPush:
		d.push.Instance = src.instance
		if !inScope(w, src, d.push.ProjectID, d.push.Project) {
			return OutcomeForbidden, d.push.AlertID()
		}
		return s.push(w, r, src, d.push)
	case isPushKind(kind):
		writeJSON(w, http.StatusAccepted, WebhookAnswer{Action: ActionIgnored, Reason: "object_kind is neither push nor tag_push"})
		return OutcomeIgnored, ""
	}
	writeJSON(w, http.StatusAccepted, WebhookAnswer{Action: ActionIgnored, Reason: "object_kind is not pipeline"})
	return OutcomeIgnored, ""
}

// decoded is a webhook body as alertflow reads it: a pipeline event, a
// push event, neither, or a malformed one.
type decoded struct {
	pipeline   alert.Event
	push       Push
	isPipeline bool
	isPush     bool
	err        error
}

// decode reads body as the event its X-Gitlab-Event header kind names;
// with no header, object_kind says whether it is a pipeline or a push.
func decode(kind string, body []byte) decoded {
	if isPushKind(kind) {
		p, isPush, err := ParsePushEvent(body)
		return decoded{push: p, isPush: isPush, err: err}
	}
	ev, isPipeline, err := ParsePipelineEvent(body)
	if err != nil || isPipeline || kind != "" {
		return decoded{pipeline: ev, isPipeline: isPipeline, err: err}
	}
	if p, isPush, err := ParsePushEvent(body); isPush {
		return decoded{push: p, isPush: true, err: err}
	}
	return decoded{}
}

// pipeline hands a pipeline event to its alert. Only a bad outcome may
// start an alert; every other status (a success, a pipeline still under
// way, a child pipeline that its parent speaks for) is forwarded to an
// alert that exists, which records it, and opens nothing.
func (s *Server) pipeline(w http.ResponseWriter, r *http.Request, src source, ev alert.Event) (outcome, alertID string) {
	alertID = ev.AlertID()
	ctx, cancel := context.WithTimeout(r.Context(), temporalTimeout)
	defer cancel()
	if !s.admit(w, alertID) {
		return OutcomeTooFast, alertID
	}
	opens := alert.RouteOf(ev.Pipeline.Status) == alert.RouteOpen
	if ev.Pipeline.IsChild() && s.cfg.Workflow.Rules.Children != alert.ChildAlert {
		opens = false
	}
	if !opens {
		progress := alert.RouteOf(ev.Pipeline.Status) == alert.RouteIgnore
		if progress && s.noAlerts.none(alertID, time.Now()) {
			writeJSON(w, http.StatusAccepted, WebhookAnswer{Action: ActionNone, Reason: "no open alert", AlertID: alertID})
			return OutcomeNone, alertID
		}
		if outcome, ok := s.alertInScope(ctx, w, r, src, alertID); !ok {
			return outcome, alertID
		}
		if err := s.startChange(ctx, ev); err != nil {
			s.unavailable(w, r, "start_change", alertID, err)
			return OutcomeUnavailable, alertID
		}
		outcome, id := s.forward(ctx, w, r, alertID, workflows.SignalPipeline, ev)
		if outcome == OutcomeNone {
			s.noAlerts.note(alertID, time.Now())
		}
		if g := alert.GreenOf(ev); g != nil && outcome != OutcomeUnavailable {
			s.greens.note(alertID, *g, time.Now())
		}
		return outcome, id
	}
	if outcome, ok := s.alertInScope(ctx, w, r, src, alertID); !ok {
		return outcome, alertID
	}
	in := s.cfg.Workflow
	if !s.cfg.ReconciledInstances[ev.Instance] {
		in.Reconcile = nil
	}
	ev.LastGreen = s.greens.get(alertID, time.Now())
	opts := workflows.StartOptions(s.cfg.TaskQueue, in, ev)
	// The alert records the source that opened it, by name; the workflow
	// never upserts this key.
	opts.Memo[workflows.MemoSource] = src.name
	run, err := s.temporal.SignalWithStartWorkflow(ctx, alertID, workflows.SignalPipeline, ev,
		opts, workflows.AlertWorkflow, in)
	if err != nil {
		s.unavailable(w, r, "signal_with_start", alertID, err)
		return OutcomeUnavailable, alertID
	}
	s.noAlerts.forget(alertID)
	writeJSON(w, http.StatusAccepted, WebhookAnswer{Action: ActionSignaled, AlertID: alertID, RunID: run.GetRunID()})
	return OutcomeSignaled, alertID
}

// forward signals an alert that exists, and answers that there is none
// when it does not: such a delivery concerns no alert and starts none.
func (s *Server) forward(ctx context.Context, w http.ResponseWriter, r *http.Request, alertID, signal string, arg any) (outcome, id string) {
	err := s.temporal.SignalWorkflow(ctx, alertID, "", signal, arg)
	if visibility.NotFound(err) {
		writeJSON(w, http.StatusAccepted, WebhookAnswer{Action: ActionNone, Reason: "no open alert", AlertID: alertID})
		return OutcomeNone, alertID
	}
	if err != nil {
		s.unavailable(w, r, "signal", alertID, err)
		return OutcomeUnavailable, alertID
	}
	writeJSON(w, http.StatusAccepted, WebhookAnswer{Action: ActionSignaled, AlertID: alertID})
	return OutcomeSignaled, alertID
}

// push resolves the alert of a branch or tag that a push deleted; other
// pushes are no business of alertflow's.
func (s *Server) push(w http.ResponseWriter, r *http.Request, src source, p Push) (outcome, alertID string) {
	if !p.Deleted {
		writeJSON(w, http.StatusAccepted, WebhookAnswer{Action: ActionIgnored, Reason: "a push that deletes no branch or tag", AlertID: p.AlertID()})
		return OutcomeIgnored, p.AlertID()
	}
	if !s.admit(w, p.AlertID()) {
		return OutcomeTooFast, p.AlertID()
	}
	ctx, cancel := context.WithTimeout(r.Context(), temporalTimeout)
	defer cancel()
	if outcome, ok := s.alertInScope(ctx, w, r, src, p.AlertID()); !ok {
		return outcome, p.AlertID()
	}
	return s.forward(ctx, w, r, p.AlertID(), workflows.SignalBranchDeleted,
		alert.Deletion{By: alert.Clip(p.By), IdempotencyKey: alert.Clip(r.Header.Get("Idempotency-Key"))})
}

// admit takes one delivery to alertID within its rate, or answers 429.
func (s *Server) admit(w http.ResponseWriter, alertID string) bool {
	ok, wait := s.rates.allow(alertID, time.Now())
	if !ok {
		w.Header().Set("Retry-After", retryAfterSeconds(wait))
		writeError(w, http.StatusTooManyRequests, "", fmt.Sprintf(
			"alert %s receives more than %g deliveries a second; retry later", alertID, s.cfg.AlertRate))
	}
	return ok
}

func isPushKind(kind string) bool {
	return kind == "Push Hook" || kind == "Tag Push Hook"
}

// badPayload answers 400 for a body that is not a usable GitLab event,
// naming the field when there is one.
func badPayload(w http.ResponseWriter, err error) {
	var pe *PayloadError
	if errors.As(err, &pe) {
		writeError(w, http.StatusBadRequest, pe.Field, pe.Error())
		return
	}
	writeError(w, http.StatusBadRequest, "", err.Error())
}

// authenticate checks the source token, from ?token= (the URL GitLab is
// given) or X-Gitlab-Token (GitLab's secret token field). When both are
// sent they must agree: a request carrying two different secrets is not
// trusted on the strength of either. It returns the source the token is
// of.
func (s *Server) authenticate(r *http.Request) (src source, msg string, ok bool) {
	query, header := r.URL.Query().Get("token"), r.Header.Get("X-Gitlab-Token")
	tok := header
	if tok == "" {
		tok = query
	}
	switch {
	case tok == "":
		return source{}, "missing source token: add ?token=… to the URL or set X-Gitlab-Token", false
	case query != "" && header != "" && query != header:
		return source{}, "the token in the URL and the X-Gitlab-Token header disagree", false
	}
	src, ok = s.cfg.Tokens.lookup(tok)
	if !ok {
		return source{}, "wrong source token", false
	}
	return src, "", true
}

// unavailable answers 503 for a Temporal call that failed, and logs and
// counts it.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, operation, alertID string, err error) {
	s.metrics.temporalError(operation)
	s.logger.ErrorContext(r.Context(), "temporal call failed",
		"operation", operation, "alert_id", alertID, "request_id", RequestID(r.Context()), "error", err)
	w.Header().Set("Retry-After", retryAfter)
	writeError(w, http.StatusServiceUnavailable, "", "temporal unavailable, retry later")
}

// Healthz answers 200 while the process is alive.
func Healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// HealthChecker is what Readyz asks: client.Client is one.
type HealthChecker interface {
	CheckHealth(ctx context.Context, request *client.CheckHealthRequest) (*client.CheckHealthResponse, error)
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// Readyz answers 200 when Temporal answers its health check within a short
// deadline and 503 otherwise, so a load balancer stops sending webhooks to
// an instance that could only answer them with 503. The answer is for
// anyone who can reach the port: why Temporal failed, which names its
// address, goes to the log only.
func Readyz(temporal HealthChecker, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if _, err := temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			logger.WarnContext(r.Context(), "not ready: temporal health check failed", "error", err)
			w.Header().Set("Retry-After", retryAfter)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "temporal is not answering its health check"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
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
