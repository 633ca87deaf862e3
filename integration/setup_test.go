// Package integration runs alertflow for real: a Temporal dev server started
// from bin/temporal, the real worker, and the real HTTP intake fed with real
// GitLab payloads.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/app"
	routeconfig "github.com/alertflow/alertflow/config"
	"github.com/alertflow/alertflow/devserver"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/internal/testkit"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/worker"
	"github.com/alertflow/alertflow/workflows"
)

const (
	sourceToken = "integration-source-token"
	apiToken    = "integration-api-token"
)

// The dev server every test in this package shares; each test uses its own
// task queue and project ids so that tests cannot see each other's alerts.
var (
	temporalBin string
	devServer   *testsuite.DevServer
	skipReason  string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	temporalBin = findTemporalBin()
	if temporalBin == "" {
		skipReason = "bin/temporal is missing: run `make test`, which builds it, or set ALERTFLOW_TEST_TEMPORAL_BIN"
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "integration: "+skipReason)
			return 1
		}
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "alertflow-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Configured as `alertflow dev` configures it: SQLite file with WAL.
	// The search attributes are left to the worker to register, as it
	// must on a fresh production cluster.
	devServer, err = testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: temporalBin,
		DBFilename:   filepath.Join(dir, "temporal.db"),
		ClientOptions: &client.Options{
			HostPort: testkit.FreeAddr(),
			Logger:   quietLogger(),
		},
		LogLevel: "error",
		// As alertflow dev configures its server, but for the search
		// attribute cache, which the CLI keeps off: the tests register the
		// attributes through the worker once the server runs, and must see
		// them at once.
		ExtraArgs: append(devserver.Tuning(), "--namespace", scaleNamespace),
		Stdout:    io.Discard,
		Stderr:    io.Discard,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: start dev server:", err)
		return 1
	}
	defer func() { _ = devServer.Stop() }()
	if err := registerSearchAttributes(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	return m.Run()
}

// registerSearchAttributes registers them through the worker package and
// waits until the server accepts a workflow that sets them: the dev server
// takes a moment to refresh its search attribute cache.
func registerSearchAttributes(ctx context.Context) error {
	for _, ns := range []string{"default", scaleNamespace} {
		c, err := namespaceClient(ns)
		if err != nil {
			return err
		}
		if err := registerSearchAttributesIn(ctx, c, ns); err != nil {
			return fmt.Errorf("namespace %s: %w", ns, err)
		}
	}
	return nil
}

// scaleNamespace is where the tests that fill the server with silences
// run: every worker reads all the silences of its namespace, and those of
// the scale test would slow every other test's.
const scaleNamespace = "alertflow-scale"

// namespaceClient is a client of the dev server's namespace ns.
func namespaceClient(ns string) (client.Client, error) {
	if ns == "default" {
		return devServer.Client(), nil
	}
	return client.Dial(client.Options{HostPort: devServer.FrontendHostPort(), Namespace: ns, Logger: quietLogger()})
}

func registerSearchAttributesIn(ctx context.Context, c client.Client, ns string) error {
	if err := worker.EnsureSearchAttributes(ctx, c, ns); err != nil {
		return err
	}
	// A second call finds them all and must succeed too.
	if err := worker.EnsureSearchAttributes(ctx, c, ns); err != nil {
		return fmt.Errorf("second registration: %w", err)
	}
	return poll(ctx, 30*time.Second, func() error {
		opts := workflows.StartOptions("probe", workflows.Input{}, alert.Event{Project: alert.Project{ID: 999999}, Pipeline: alert.Pipeline{ID: 1, Ref: "probe", Status: "failed"}})
		opts.ID = "search-attribute-probe"
		opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
		run, err := c.ExecuteWorkflow(ctx, opts, "Probe")
		if err != nil {
			return err
		}
		return c.TerminateWorkflow(ctx, run.GetID(), run.GetRunID(), "probe done")
	})
}

func findTemporalBin() string {
	if p := os.Getenv("ALERTFLOW_TEST_TEMPORAL_BIN"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		return ""
	}
	p, err := filepath.Abs(filepath.Join("..", "bin", "temporal"))
	if err != nil {
		return ""
	}
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func requireServer(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

func quietLogger() tlog.Logger {
	return tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
}

// stack is one test's alertflow: a worker on its own task queue and the
// real HTTP intake in front of the shared dev server.
type stack struct {
	t         *testing.T
	client    client.Client
	taskQueue string
	worker    sdkworker.Worker
	http      *httptest.Server
	// webhook, when set before the worker starts, receives notifications.
	webhook notify.Notifier
	// sinks, when set before the worker starts, replace the webhook: the
	// worker's notification activities, routing and all.
	sinks *activities.Sinks
	// intake, when set, adds to the intake's configuration (Slack).
	intake func(*ingress.Config)
	// gitlab is what the worker's alerts need of GitLab's API.
	gitlab worker.GitLab
}

func newStack(t *testing.T) *stack {
	t.Helper()
	return newStackWith(t, nil)
}

// newStackWith is newStack with webhook receiving the notifications; nil
// (untyped) means no webhook sink.
func newStackWith(t *testing.T, webhook notify.Notifier) *stack {
	t.Helper()
	return newStackConfig(t, webhook, workflows.Input{})
}

// newStackConfig is newStackWith whose intake starts alerts with in.
func newStackConfig(t *testing.T, webhook notify.Notifier, in workflows.Input) *stack {
	t.Helper()
	return newStackOf(t, &stack{webhook: webhook}, in)
}

// newStackOf starts the stack s describes (its webhook or sinks), whose
// intake starts alerts with in.
func newStackOf(t *testing.T, s *stack, in workflows.Input) *stack {
	t.Helper()
	requireServer(t)
	s.t, s.taskQueue = t, "it-"+strings.ReplaceAll(t.Name(), "/", "-")
	if s.client == nil {
		s.client = devServer.Client()
	}
	s.startWorker()
	t.Cleanup(s.stopWorker)
	tokens, err := ingress.ParseTokens("gitlab=" + sourceToken)
	if err != nil {
		t.Fatal(err)
	}
	api, err := ingress.ParseTokens("api=" + apiToken)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	cfg := ingress.Config{TaskQueue: s.taskQueue, Tokens: tokens, APIToken: api, Workflow: in}
	if s.intake != nil {
		s.intake(&cfg)
	}
	s.http = httptest.NewServer(ingress.New(cfg, s.client, logger))
	t.Cleanup(s.http.Close)
	return s
}

// routedSinks are the notification activities of the routing file, built
// as alertflow serve builds its worker's; vars are the variables the file
// names.
func routedSinks(t *testing.T, file string, vars map[string]string) (*activities.Sinks, *routeconfig.Config) {
	t.Helper()
	cfg := testkit.Routing(t, file, vars)
	return app.Sinks(cfg, notify.DefaultHTTPClient(), slog.New(slog.DiscardHandler)), cfg
}

func (s *stack) startWorker() {
	s.t.Helper()
	sinks := s.sinks
	if sinks == nil {
		sinks = activities.NewSinks(slog.New(slog.DiscardHandler), s.webhook, nil)
	}
	s.worker = worker.NewWith(s.client, s.taskQueue, sinks, nil, slog.New(slog.DiscardHandler), s.gitlab)
	if err := s.worker.Start(); err != nil {
		s.t.Fatalf("start worker: %v", err)
	}
}

func (s *stack) stopWorker() {
	if s.worker != nil {
		s.worker.Stop()
		s.worker = nil
	}
}

// payload is a real GitLab payload with the given project, ref, pipeline
// id and status, and a finished time derived from the pipeline id.
func payload(t *testing.T, project int64, ref string, pipeline int64, status string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "pipeline-failed-branch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["project"].(map[string]any)["id"] = project
	oa := m["object_attributes"].(map[string]any)
	oa["id"], oa["ref"], oa["status"] = pipeline, ref, status
	oa["finished_at"] = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC).Add(time.Duration(pipeline) * time.Minute).Format("2006-01-02 15:04:05 UTC")
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// answer is the intake's JSON reply.
type answer struct {
	code int
	ingress.WebhookAnswer
	Error string `json:"error"`
}

func (s *stack) post(body []byte) answer {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.http.URL+"/webhooks/gitlab?token="+sourceToken, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("post webhook: %v", err)
	}
	defer resp.Body.Close()
	a := answer{code: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		s.t.Fatalf("decode answer (%d): %v", resp.StatusCode, err)
	}
	return a
}

func (s *stack) mustSignal(body []byte) answer {
	s.t.Helper()
	a := s.post(body)
	if a.code != http.StatusAccepted || a.Action != ingress.ActionSignaled {
		s.t.Fatalf("webhook answered %d %+v, want 202 signaled", a.code, a)
	}
	return a
}

// state queries an alert's current state.
func (s *stack) state(ctx context.Context, id string) (*alert.State, error) {
	return workflows.QueryAlert(ctx, s.client, id, "")
}

// waitState polls an alert's state until ok accepts it.
func (s *stack) waitState(id string, ok func(*alert.State) error) *alert.State {
	s.t.Helper()
	var last *alert.State
	err := poll(context.Background(), 30*time.Second, func() error {
		st, err := s.state(context.Background(), id)
		if err != nil {
			return err
		}
		last = st
		return ok(st)
	})
	if err != nil {
		s.t.Fatalf("alert %s never reached the expected state: %v (last %+v)", id, err, last)
	}
	return last
}

// waitClosed polls until the alert's current run is closed, and returns its
// description and result.
func (s *stack) waitClosed(id string) (enumspb.WorkflowExecutionStatus, *alert.State) {
	s.t.Helper()
	var status enumspb.WorkflowExecutionStatus
	err := poll(context.Background(), 30*time.Second, func() error {
		d, err := s.client.DescribeWorkflowExecution(context.Background(), id, "")
		if err != nil {
			return err
		}
		status = d.GetWorkflowExecutionInfo().GetStatus()
		if status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return errors.New("still running")
		}
		return nil
	})
	if err != nil {
		s.t.Fatalf("alert %s never closed: %v", id, err)
	}
	var st alert.State
	if status == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		if err := s.client.GetWorkflow(context.Background(), id, "").Get(context.Background(), &st); err != nil {
			s.t.Fatalf("result of %s: %v", id, err)
		}
	}
	return status, &st
}

// lastTaskFailure describes the newest workflow task failure in an alert's
// current run, to explain a stuck alert in a test failure.
func (s *stack) lastTaskFailure(id string) string {
	iter := s.client.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	last := "none"
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return "reading history: " + err.Error()
		}
		if a := ev.GetWorkflowTaskFailedEventAttributes(); a != nil {
			last = fmt.Sprintf("event %d: %s: %s", ev.GetEventId(), a.GetCause(), a.GetFailure().GetMessage())
		}
	}
	return last
}

// temporalCLI runs the real `temporal` binary against the test server.
func temporalCLI(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := temporalCLICommand(ctx, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("temporal %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func temporalCLICommand(ctx context.Context, args ...string) *exec.Cmd {
	args = append(args, "--address", devServer.FrontendHostPort(), "--namespace", "default")
	return exec.CommandContext(ctx, temporalBin, args...)
}

// poll calls f until it returns nil or the deadline passes, returning the
// last error then.
func poll(ctx context.Context, within time.Duration, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", within, err)
		case <-tick.C:
		}
	}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
