package ingress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/workflows"
)

const (
	testToken    = "s3cret-token-value"
	testAPIToken = "api-s3cret"
)

// fakeTemporal records the calls the intake makes; it is the unit-test
// stand-in for client.Client (integration tests use a real server).
type fakeTemporal struct {
	mu        sync.Mutex
	starts    []fakeCall
	signals   []fakeCall
	deletions []fakeCall
	// signalTries counts every signal asked for, answered or not.
	signalTries int
	signalErr   error
	startErr    error

	queries   []string
	queried   []string
	updates   []client.UpdateWorkflowOptions
	listErr   error
	listNext  []byte
	queryErr  error
	updateErr error
	healthErr error
	// silences is what CountWorkflow answers; countErr fails it.
	silences int64
	countErr error
	// panicOn "signal" makes SignalWorkflow panic, as a bug below the
	// handler would.
	panicOn string
	// monitorRuns are the runs told to monitor workflows; monitorErr
	// fails those signals alone.
	monitorRuns []fakeCall
	monitorErr  error
}

// The REST API's calls: what they were asked and what they answer.
func (f *fakeTemporal) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, req.GetQuery())
	return &workflowservice.ListWorkflowExecutionsResponse{NextPageToken: f.listNext}, f.listErr
}

func (f *fakeTemporal) CountWorkflow(_ context.Context, req *workflowservice.CountWorkflowExecutionsRequest) (*workflowservice.CountWorkflowExecutionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, req.GetQuery())
	return &workflowservice.CountWorkflowExecutionsResponse{Count: f.silences}, f.countErr
}

func (f *fakeTemporal) QueryWorkflow(_ context.Context, id, _, _ string, _ ...any) (converter.EncodedValue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queried = append(f.queried, id)
	return nil, f.queryErr
}

func (f *fakeTemporal) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, o)
	return nil, f.updateErr
}

// Silences are exercised against a real server (integration tests).
func (f *fakeTemporal) ExecuteWorkflow(context.Context, client.StartWorkflowOptions, any, ...any) (client.WorkflowRun, error) {
	return nil, errors.New("fakeTemporal does not start workflows")
}

func (f *fakeTemporal) DescribeWorkflowExecution(context.Context, string, string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	return nil, errors.New("fakeTemporal does not describe workflows")
}

func (f *fakeTemporal) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &client.CheckHealthResponse{}, f.healthErr
}

type fakeCall struct {
	id       string
	signal   string
	event    alert.Event
	deletion alert.Deletion
	run      workflows.MonitorRun
	options  client.StartWorkflowOptions
}

type fakeRun struct{ client.WorkflowRun }

func (fakeRun) GetRunID() string { return "run-1" }

func (f *fakeTemporal) SignalWithStartWorkflow(_ context.Context, id, signal string, arg any,
	options client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return nil, f.startErr
	}
	f.starts = append(f.starts, fakeCall{id: id, signal: signal, event: arg.(alert.Event), options: options})
	return fakeRun{}, nil
}

func (f *fakeTemporal) SignalWorkflow(_ context.Context, id, runID, signal string, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signalTries++
	if f.panicOn == "signal" {
		panic("fakeTemporal: boom")
	}
	if run, ok := arg.(workflows.MonitorRun); ok {
		if f.monitorErr != nil {
			return f.monitorErr
		}
		f.monitorRuns = append(f.monitorRuns, fakeCall{id: id, signal: signal, run: run})
		return nil
	}
	if f.signalErr != nil {
		return f.signalErr
	}
	if d, ok := arg.(alert.Deletion); ok {
		f.deletions = append(f.deletions, fakeCall{id: id, signal: signal, deletion: d})
		return nil
	}
	f.signals = append(f.signals, fakeCall{id: id, signal: signal, event: arg.(alert.Event)})
	return nil
}

func (f *fakeTemporal) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.starts) + len(f.signals) + len(f.deletions)
}

type harness struct {
	temporal *fakeTemporal
	server   *Server
	logs     *bytes.Buffer
}

func newHarness(t *testing.T, maxBody int64) *harness {
	t.Helper()
	return newHarnessWith(t, Config{MaxBody: maxBody})
}

// newHarnessWith is newHarness with cfg, whose task queue and tokens it sets.
func newHarnessWith(t *testing.T, cfg Config) *harness {
	t.Helper()
	tokens, err := ParseTokens("gitlab=" + testToken + ",other=another-token")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{temporal: &fakeTemporal{}, logs: &bytes.Buffer{}}
	logger := slog.New(slog.NewJSONHandler(h.logs, nil))
	api, err := ParseTokens("api=" + testAPIToken)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TaskQueue, cfg.Tokens, cfg.APIToken = "alertflow", tokens, api
	h.server = New(cfg, h.temporal, logger)
	return h
}

func (h *harness) post(t *testing.T, target string, headers map[string]string, body []byte) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.server.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	var answer map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
		t.Fatalf("answer is not JSON: %q", rec.Body.String())
	}
	return rec, answer
}

func withStatus(t *testing.T, status string) []byte {
	return edit(t, readPayload(t, "pipeline-docs-example.json"), func(m map[string]any) { attrs(m)["status"] = status })
}

var pipelineHeader = map[string]string{"X-Gitlab-Event": "Pipeline Hook"}

func TestBadStatusesSignalWithStartTheAlert(t *testing.T) {
	for status, severity := range map[string]string{"failed": "HIGH", "canceled": "MEDIUM", "skipped": "LOW"} {
		t.Run(status, func(t *testing.T) {
			h := newHarness(t, 0)
			rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, map[string]string{
				"X-Gitlab-Event": "Pipeline Hook", "Idempotency-Key": "delivery-7",
			}, withStatus(t, status))
			if rec.Code != http.StatusAccepted || answer["action"] != "signaled" || answer["alert_id"] != "1-master" || answer["run_id"] != "run-1" {
				t.Fatalf("%d %v", rec.Code, answer)
			}
			if len(h.temporal.starts) != 1 || len(h.temporal.signals) != 0 {
				t.Fatalf("starts %d signals %d, want one signal-with-start", len(h.temporal.starts), len(h.temporal.signals))
			}
			call := h.temporal.starts[0]
			if call.id != "1-master" || call.signal != workflows.SignalPipeline {
				t.Fatalf("call %q %q", call.id, call.signal)
			}
			if call.event.IdempotencyKey != "delivery-7" || call.event.ReceivedAt.IsZero() || call.event.Pipeline.Status != status {
				t.Fatalf("event %+v", call.event)
			}
			o := call.options
			if o.ID != "1-master" || o.TaskQueue != "alertflow" || o.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE {
				t.Fatalf("options %+v", o)
			}
			if got, _ := o.TypedSearchAttributes.GetKeyword(workflows.AttrSeverity); got != severity {
				t.Fatalf("AlertSeverity %q, want %q", got, severity)
			}
			if got, _ := o.TypedSearchAttributes.GetKeyword(workflows.AttrStatus); got != "open" {
				t.Fatalf("AlertStatus %q, want open", got)
			}
			if !strings.HasPrefix(o.StaticSummary, "Pipeline #31 "+status+" on gitlab-org/gitlab-test@master") {
				t.Fatalf("summary %q", o.StaticSummary)
			}
		})
	}
}

func TestSuccessOnlySignals(t *testing.T) {
	h := newHarness(t, 0)
	rec, answer := h.post(t, "/webhooks/gitlab", map[string]string{"X-Gitlab-Token": testToken}, withStatus(t, "success"))
	if rec.Code != http.StatusAccepted || answer["action"] != "signaled" || answer["alert_id"] != "1-master" {
		t.Fatalf("%d %v", rec.Code, answer)
	}
	if len(h.temporal.starts) != 0 || len(h.temporal.signals) != 1 {
		t.Fatalf("starts %d signals %d, want one plain signal", len(h.temporal.starts), len(h.temporal.signals))
	}
}

func TestSuccessWithNoOpenAlertAnswersNone(t *testing.T) {
	h := newHarness(t, 0)
	h.temporal.signalErr = serviceerror.NewNotFound("workflow execution already completed")
	rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "success"))
	if rec.Code != http.StatusAccepted || answer["action"] != "none" || answer["reason"] != "no open alert" {
		t.Fatalf("%d %v", rec.Code, answer)
	}
}

func TestProgressAndUnknownStatusesReachOnlyAnAlertThatExists(t *testing.T) {
	for _, status := range []string{"created", "pending", "running", "canceling", "manual", "scheduled", "some_future_status"} {
		t.Run(status, func(t *testing.T) {
			h := newHarness(t, 0)
			rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, status))
			if rec.Code != http.StatusAccepted || answer["action"] != "signaled" || len(h.temporal.signals) != 1 || len(h.temporal.starts) != 0 {
				t.Fatalf("%d %v with %d starts and %d signals", rec.Code, answer, len(h.temporal.starts), len(h.temporal.signals))
			}
			h.temporal.signalErr = serviceerror.NewNotFound("no such workflow")
			rec, answer = h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, status))
			if rec.Code != http.StatusAccepted || answer["action"] != "none" || len(h.temporal.starts) != 0 {
				t.Fatalf("no alert: %d %v with %d starts", rec.Code, answer, len(h.temporal.starts))
			}
		})
	}
}

func TestAChildPipelineNeverStartsAnAlertUnlessChildrenAlert(t *testing.T) {
	body := childPipeline(t, "failed")
	h := newHarness(t, 0)
	rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, body)
	if rec.Code != http.StatusAccepted || answer["action"] != "signaled" || len(h.temporal.starts) != 0 || len(h.temporal.signals) != 1 {
		t.Fatalf("%d %v with %d starts and %d signals", rec.Code, answer, len(h.temporal.starts), len(h.temporal.signals))
	}
	if ev := h.temporal.signals[0].event; ev.Pipeline.ParentID != 31 || !ev.Pipeline.IsChild() {
		t.Fatalf("the child's parent was lost: %+v", ev.Pipeline)
	}
	h = newHarnessWith(t, Config{Workflow: workflows.Input{Rules: alert.Rules{Children: alert.ChildAlert}}})
	if rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, body); rec.Code != http.StatusAccepted || len(h.temporal.starts) != 1 {
		t.Fatalf("children that alert: %d %v with %d starts", rec.Code, answer, len(h.temporal.starts))
	}
}

// childPipeline is the documented payload turned into a child pipeline of
// pipeline 31 with the given status.
func childPipeline(t *testing.T, status string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(withStatus(t, status), &m); err != nil {
		t.Fatal(err)
	}
	oa := m["object_attributes"].(map[string]any)
	oa["id"], oa["source"] = 32, "parent_pipeline"
	m["source_pipeline"] = map[string]any{"project": map[string]any{"id": 1}, "pipeline_id": 31, "job_id": 7}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAPushThatDeletesABranchResolvesItsAlert(t *testing.T) {
	deletion := []byte(`{"object_kind":"push","ref":"refs/heads/feature/x","after":"0000000000000000000000000000000000000000","user_name":"Bob","project":{"id":7}}`)
	h := newHarness(t, 0)
	rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, map[string]string{"X-Gitlab-Event": "Push Hook", "Idempotency-Key": "k1"}, deletion)
	if rec.Code != http.StatusAccepted || answer["action"] != "signaled" || len(h.temporal.deletions) != 1 {
		t.Fatalf("%d %v", rec.Code, answer)
	}
	if d := h.temporal.deletions[0]; d.id != "7-feature/x" || d.signal != workflows.SignalBranchDeleted || d.deletion.By != "Bob" || d.deletion.IdempotencyKey != "k1" {
		t.Fatalf("signal %+v", d)
	}
	h.temporal.signalErr = serviceerror.NewNotFound("no such workflow")
	tag := []byte(`{"object_kind":"tag_push","ref":"refs/tags/v1.0","after":"0000000000000000000000000000000000000000","project_id":7}`)
	if rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, nil, tag); rec.Code != http.StatusAccepted || answer["action"] != "none" || answer["alert_id"] != "7-v1.0" {
		t.Fatalf("tag deletion with no alert: %d %v", rec.Code, answer)
	}
	for name, body := range map[string]string{
		"no project": `{"object_kind":"push","ref":"refs/heads/x","after":"0000000000000000000000000000000000000000"}`,
		"no ref":     `{"object_kind":"push","ref":"HEAD","after":"0000000000000000000000000000000000000000","project":{"id":7}}`,
		"malformed":  `{"object_kind":"push",`,
	} {
		if rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, map[string]string{"X-Gitlab-Event": "Push Hook"}, []byte(body)); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %v, want 400", name, rec.Code, answer)
		}
	}
}

func TestOtherEventsAreIgnoredWith202(t *testing.T) {
	h := newHarness(t, 0)
	rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, map[string]string{"X-Gitlab-Event": "Merge Request Hook"}, []byte(`{"object_kind":"merge_request"}`))
	if rec.Code != http.StatusAccepted || answer["action"] != "ignored" || !strings.Contains(answer["reason"].(string), "Merge Request Hook") {
		t.Fatalf("%d %v", rec.Code, answer)
	}
	push := []byte(`{"object_kind":"push","ref":"refs/heads/main","after":"8b55e1ed8b6e4d1b2c7e5a0c7f6a1f25c3b2a1d9","project":{"id":7}}`)
	rec, answer = h.post(t, "/webhooks/gitlab?token="+testToken, map[string]string{"X-Gitlab-Event": "Push Hook"}, push)
	if rec.Code != http.StatusAccepted || answer["action"] != "ignored" {
		t.Fatalf("a push that deletes nothing: %d %v", rec.Code, answer)
	}
	rec, answer = h.post(t, "/webhooks/gitlab?token="+testToken, nil, []byte(`{"object_kind":"merge_request"}`))
	if rec.Code != http.StatusAccepted || answer["action"] != "ignored" {
		t.Fatalf("no header, other object_kind: %d %v", rec.Code, answer)
	}
	if h.temporal.calls() != 0 {
		t.Fatal("ignored events must not reach Temporal")
	}
}

func TestNoEventHeaderAndPipelineObjectKindIsAPipeline(t *testing.T) {
	h := newHarness(t, 0)
	rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, nil, withStatus(t, "failed"))
	if rec.Code != http.StatusAccepted || answer["action"] != "signaled" {
		t.Fatalf("%d %v", rec.Code, answer)
	}
}

func TestTokensAreCheckedBeforeAnythingElse(t *testing.T) {
	body := withStatus(t, "failed")
	tests := []struct {
		name    string
		target  string
		headers map[string]string
		says    string
	}{
		{"no token at all", "/webhooks/gitlab", pipelineHeader, "missing"},
		{"a wrong token in the URL", "/webhooks/gitlab?token=nope", pipelineHeader, "wrong"},
		{"a token differing in its last byte", "/webhooks/gitlab?token=" + testToken[:len(testToken)-1] + "X", pipelineHeader, "wrong"},
		{"a prefix of the token", "/webhooks/gitlab?token=" + testToken[:4], pipelineHeader, "wrong"},
		{"a wrong X-Gitlab-Token", "/webhooks/gitlab", map[string]string{"X-Gitlab-Token": "nope"}, "wrong"},
		{"URL and header disagreeing", "/webhooks/gitlab?token=" + testToken, map[string]string{"X-Gitlab-Token": "another-token"}, "disagree"},
		{"an empty token", "/webhooks/gitlab?token=", pipelineHeader, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 0)
			rec, answer := h.post(t, tt.target, tt.headers, body)
			if rec.Code != http.StatusUnauthorized || !strings.Contains(answer["error"].(string), tt.says) {
				t.Fatalf("%d %v, want 401 saying %q", rec.Code, answer, tt.says)
			}
			if h.temporal.calls() != 0 {
				t.Fatal("an unauthorised webhook reached Temporal")
			}
		})
	}
}

func TestEverySourceTokenIsAccepted(t *testing.T) {
	h := newHarness(t, 0)
	for _, tok := range []string{testToken, "another-token"} {
		rec, _ := h.post(t, "/webhooks/gitlab", map[string]string{"X-Gitlab-Token": tok}, withStatus(t, "failed"))
		if rec.Code != http.StatusAccepted {
			t.Fatalf("token of a configured source got %d", rec.Code)
		}
	}
}

func TestBadBodiesGet4xxAndReachNoAlert(t *testing.T) {
	docs := readPayload(t, "pipeline-docs-example.json")
	tests := []struct {
		name  string
		body  []byte
		code  int
		field string
	}{
		{"a body over the limit", append(bytes.Repeat([]byte(" "), 8<<10), docs...), http.StatusRequestEntityTooLarge, ""},
		{"malformed JSON", []byte(`{"object_kind":`), http.StatusBadRequest, ""},
		{"a missing ref", edit(t, docs, func(m map[string]any) { delete(attrs(m), "ref") }), http.StatusBadRequest, "object_attributes.ref"},
		{"a missing status", edit(t, docs, func(m map[string]any) { delete(attrs(m), "status") }), http.StatusBadRequest, "object_attributes.status"},
		{"a missing pipeline id", edit(t, docs, func(m map[string]any) { delete(attrs(m), "id") }), http.StatusBadRequest, "object_attributes.id"},
		{"a missing project id", edit(t, docs, func(m map[string]any) { delete(m["project"].(map[string]any), "id") }), http.StatusBadRequest, "project.id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 8<<10)
			rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, tt.body)
			if rec.Code != tt.code || answer["error"] == "" {
				t.Fatalf("%d %v, want %d with an error", rec.Code, answer, tt.code)
			}
			if field, _ := answer["field"].(string); field != tt.field {
				t.Fatalf("field %q, want %q", field, tt.field)
			}
			if h.temporal.calls() != 0 {
				t.Fatal("a bad body reached Temporal")
			}
		})
	}
}

func TestTemporalDownAnswers503WithRetryAfter(t *testing.T) {
	h := newHarness(t, 0)
	h.temporal.startErr = serviceerror.NewUnavailable("connection refused")
	rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "failed"))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || answer["error"] == "" {
		t.Fatalf("%d Retry-After=%q %v", rec.Code, rec.Header().Get("Retry-After"), answer)
	}
	h.temporal.signalErr = errors.New("context deadline exceeded")
	rec, _ = h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "success"))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("a failed signal answered %d", rec.Code)
	}
	if !strings.Contains(h.logs.String(), "temporal call failed") {
		t.Fatalf("the outage was not logged: %s", h.logs.String())
	}
}

func TestHealthzAnswers200(t *testing.T) {
	h := newHarness(t, 0)
	rec := httptest.NewRecorder()
	h.server.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("healthz %d", rec.Code)
	}
}

func TestUnknownPathsAndMethodsAnswerJSON(t *testing.T) {
	h := newHarness(t, 0)
	rec := httptest.NewRecorder()
	h.server.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/webhooks/gitlab", nil))
	if rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Fatalf("GET webhook: %d %s", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.server.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Fatalf("unknown path: %d %s", rec.Code, rec.Body.String())
	}
}

func TestParseTokens(t *testing.T) {
	tests := []struct {
		spec    string
		sources int
		wantErr string
	}{
		{"gitlab=abc", 1, ""},
		{" a=1 , b=2 ,", 2, ""},
		{"", 0, "no source"},
		{"justatoken", 0, "want name=token"},
		{"=abc", 0, "want name=token"},
		{"a=", 0, "empty token"},
		{"a=1,a=2", 0, "named twice"},
	}
	for _, tt := range tests {
		tok, err := ParseTokens(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseTokens(%q) err %v, want %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil || tok.Len() != tt.sources {
			t.Errorf("ParseTokens(%q) = %d sources, %v", tt.spec, tok.Len(), err)
		}
	}
	_, err := ParseTokens("a=supersecret,a=supersecret")
	if err == nil || strings.Contains(err.Error(), "supersecret") {
		t.Fatalf("errors must not carry tokens: %v", err)
	}
}

// Webhook bodies are read into recycled buffers: an event handed to
// Temporal must not change when the next request reuses its buffer.
func TestAnEventKeepsItsValuesWhenTheNextRequestReusesTheBuffer(t *testing.T) {
	h := newHarness(t, 0)
	first := withStatus(t, "failed")
	second := edit(t, withStatus(t, "canceled"), func(m map[string]any) {
		attrs(m)["ref"] = "a-branch-name-of-the-same-length-or-so"
		m["project"].(map[string]any)["path_with_namespace"] = "another/project-with-a-longer-path"
	})
	want, _, err := ParsePipelineEvent(first)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range [][]byte{first, second, second} {
		if rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, body); rec.Code != http.StatusAccepted {
			t.Fatalf("%d %v", rec.Code, answer)
		}
	}
	got := h.temporal.starts[0].event
	got.ReceivedAt, got.IdempotencyKey = want.ReceivedAt, want.IdempotencyKey
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the first event changed after later requests:\ngot  %+v\nwant %+v", got, want)
	}
}

// A Content-Length is only a claim: announcing GitLab's 25 MiB cap must not
// make the intake set that much memory aside before a byte has arrived.
func TestAnAnnouncedBodySizeReservesAtMostAPooledBuffer(t *testing.T) {
	s := newHarness(t, 0).server
	tests := []struct {
		name    string
		size    int64
		atLeast int
		atMost  int
	}{
		{"a typical webhook gets room for all of it", 21 << 10, 21 << 10, maxPooledBody},
		{"the body limit gets about a pooled buffer, no more", DefaultMaxBody, 0, 2 * maxPooledBody},
		{"an unknown size gets nothing reserved", -1, 0, bytes.MinRead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := s.buffer(tt.size)
			if c := buf.Cap(); c < tt.atLeast || c > tt.atMost {
				t.Fatalf("reserved %d bytes, want between %d and %d", c, tt.atLeast, tt.atMost)
			}
		})
	}
}

func TestPlaceholderTokensAreRefusedAndRealOnesAccepted(t *testing.T) {
	for _, tok := range []string{"CHANGE-ME", "change_me", "changeme", " Replace-Me ", "<long random token>", "xxxx", "…", "TODO"} {
		if !Placeholder(tok) {
			t.Errorf("Placeholder(%q) = false", tok)
		}
		if _, err := ParseTokens("gitlab=" + tok); err == nil || !strings.Contains(err.Error(), `source "gitlab": its token is a placeholder`) {
			t.Errorf("ParseTokens(gitlab=%s) = %v, want a placeholder error naming the source", tok, err)
		}
	}
	for _, tok := range []string{"s3cret-tok3n-value", "0f3a9c1d2e4b5a6978c0d1e2f3a4b5c6", "change-me-please-9f8e7d"} {
		if Placeholder(tok) {
			t.Errorf("Placeholder(%q) = true for a real token", tok)
		}
	}
}
