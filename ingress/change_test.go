package ingress

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/workflows"
)

// changeTemporal is fakeTemporal that also records the workflows started
// with ExecuteWorkflow, failing them with startErr when set.
type changeTemporal struct {
	*fakeTemporal
	mu       sync.Mutex
	started  []client.StartWorkflowOptions
	types    []any
	events   []alert.Event
	startErr error
}

func (c *changeTemporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.startErr != nil {
		return nil, c.startErr
	}
	c.started = append(c.started, o)
	c.types = append(c.types, wf)
	if len(args) == 1 {
		if ev, ok := args[0].(alert.Event); ok {
			c.events = append(c.events, ev)
		}
	}
	return fakeRun{}, nil
}

func (c *changeTemporal) starts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.started)
}

// newChangeHarness is a harness whose Temporal records change workflows.
func newChangeHarness(t *testing.T, changeEvents bool) (*harness, *changeTemporal) {
	t.Helper()
	h := newHarnessWith(t, Config{ChangeEvents: changeEvents})
	ct := &changeTemporal{fakeTemporal: h.temporal}
	cfg := h.server.cfg
	cfg.Registry = nil // a registry of its own: the first server's holds its metrics
	h.server = New(cfg, ct, slog.New(slog.NewJSONHandler(h.logs, nil)))
	return h, ct
}

// green is the documented example pipeline #31, successful, pushed to
// master, the project's default branch, with fn applied.
func green(t *testing.T, fn func(m map[string]any)) []byte {
	t.Helper()
	return edit(t, withStatus(t, "success"), func(m map[string]any) {
		attrs(m)["source"] = "push"
		if fn != nil {
			fn(m)
		}
	})
}

func TestADefaultBranchSuccessStartsOneChangeWorkflow(t *testing.T) {
	h, ct := newChangeHarness(t, true)
	rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, green(t, nil))
	if rec.Code != http.StatusAccepted || answer["action"] != "signaled" || answer["alert_id"] != "1-master" {
		t.Fatalf("%d %v", rec.Code, answer)
	}
	if ct.starts() != 1 {
		t.Fatalf("%d change workflows started, want 1", ct.starts())
	}
	o := ct.started[0]
	if o.ID != "change/1-master/31/1471015589" || o.ID != workflows.ChangeID(ct.events[0]) {
		t.Errorf("ID %q, want change/1-master/31/<finished_at>", o.ID)
	}
	if o.TaskQueue != "alertflow" || o.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE ||
		o.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL {
		t.Errorf("options %+v", o)
	}
	if ct.types[0] != workflows.ChangeWorkflowType || ct.events[0].Pipeline.ID != 31 || ct.events[0].ReceivedAt.IsZero() {
		t.Errorf("started %v with %+v", ct.types[0], ct.events[0])
	}
	// The alert hears the success as ever.
	if len(h.temporal.signals) != 1 || h.temporal.signals[0].signal != workflows.SignalPipeline {
		t.Errorf("signals %+v, want the pipeline signalled to its alert", h.temporal.signals)
	}
}

// A resend of the same delivery finds the change workflow started (or
// over): that is no failure, and the alert hears it as ever.
func TestAChangeWorkflowAlreadyStartedIsAResend(t *testing.T) {
	h, ct := newChangeHarness(t, true)
	ct.startErr = serviceerror.NewWorkflowExecutionAlreadyStarted("started", "", "")
	rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, green(t, nil))
	if rec.Code != http.StatusAccepted || answer["action"] != "signaled" {
		t.Fatalf("%d %v, want the resend signalled as usual", rec.Code, answer)
	}
	if len(h.temporal.signals) != 1 {
		t.Errorf("signals %+v, want the pipeline signalled to its alert", h.temporal.signals)
	}
}

func TestOnlyADefaultBranchSuccessStartsAChangeWorkflow(t *testing.T) {
	tests := []struct {
		name         string
		changeEvents bool
		body         func(t *testing.T) []byte
	}{
		{"a feature branch", true, func(t *testing.T) []byte {
			return green(t, func(m map[string]any) { attrs(m)["ref"] = "feature-x" })
		}},
		{"a tag named as the default branch", true, func(t *testing.T) []byte {
			return green(t, func(m map[string]any) { attrs(m)["tag"] = true })
		}},
		{"a child pipeline", true, func(t *testing.T) []byte {
			return green(t, func(m map[string]any) {
				oa := attrs(m)
				oa["id"], oa["source"] = 32, "parent_pipeline"
				m["source_pipeline"] = map[string]any{"project": map[string]any{"id": 1}, "pipeline_id": 31, "job_id": 7}
			})
		}},
		{"an unknown default branch", true, func(t *testing.T) []byte {
			return green(t, func(m map[string]any) { delete(m["project"].(map[string]any), "default_branch") })
		}},
		{"a failure", true, func(t *testing.T) []byte {
			return green(t, func(m map[string]any) { attrs(m)["status"] = "failed" })
		}},
		{"a pipeline still running", true, func(t *testing.T) []byte {
			return green(t, func(m map[string]any) { attrs(m)["status"] = "running" })
		}},
		{"no receiver takes change events", false, func(t *testing.T) []byte { return green(t, nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ct := newChangeHarness(t, tt.changeEvents)
			rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, tt.body(t))
			if rec.Code != http.StatusAccepted {
				t.Fatalf("%d %v", rec.Code, answer)
			}
			if ct.starts() != 0 {
				t.Errorf("started %+v, want no change workflow", ct.started)
			}
		})
	}
}

func TestAChangeWorkflowThatCannotStartAnswers503(t *testing.T) {
	h, ct := newChangeHarness(t, true)
	ct.startErr = errors.New("connection refused")
	rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, green(t, nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("%d %v, want 503 with Retry-After", rec.Code, answer)
	}
	if msg, _ := answer["error"].(string); !strings.Contains(msg, "temporal unavailable") {
		t.Errorf("answer %v, want the JSON error of a Temporal outage", answer)
	}
	if len(h.temporal.signals) != 0 {
		t.Errorf("the alert was signalled although the answer says to retry: %+v", h.temporal.signals)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, `"operation":"start_change"`) || !strings.Contains(logs, "change/1-master/31/") {
		t.Errorf("the failure is not logged with its operation and workflow ID:\n%s", logs)
	}
}
