package workflows

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/route"
)

// changeReceiver records the change events it is sent, answering the
// first len(fail) attempts with those errors.
type changeReceiver struct {
	mu       sync.Mutex
	fail     []error
	attempts int
	got      []alert.Event
}

func (c *changeReceiver) NotifyChange(_ context.Context, ev alert.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempts++
	if c.attempts <= len(c.fail) {
		return c.fail[c.attempts-1]
	}
	c.got = append(c.got, ev)
	return nil
}

func (c *changeReceiver) counts() (attempts, delivered int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.attempts, len(c.got)
}

// greenMain is a successful pipeline on the default branch of team-a/api.
func greenMain() alert.Event {
	return alert.Event{
		Project:    alert.Project{ID: 7, Path: "team-a/api", DefaultBranch: "main"},
		Pipeline:   alert.Pipeline{ID: 42, Ref: "main", Status: alert.PipelineSuccess, Source: "push", FinishedAt: t0},
		Commit:     alert.Commit{Title: "Fix the build"},
		ReceivedAt: t0.Add(time.Second),
	}
}

// newChangeEnv runs ChangeWorkflow with the real activities of package
// activities, routing team-a's default branch to "pager" and "chat", and
// everything to "audit"; receivers are those with change events on.
func newChangeEnv(t *testing.T, receivers map[string]activities.ChangeNotifier) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(ChangeWorkflow, workflow.RegisterOptions{Name: ChangeWorkflowType})
	tree := &route.Route{Receiver: "audit", Routes: []*route.Route{
		{Receiver: "pager", Match: route.Matchers{Project: "team-a/**", Branches: route.BranchesDefault}, Continue: true},
		{Receiver: "chat", Match: route.Matchers{Project: "team-a/**"}},
	}}
	env.RegisterActivity(activities.NewRoutedSinks(slog.New(slog.DiscardHandler), nil, nil, activities.Routing{
		Route:   tree.Receivers,
		Changes: receivers,
	}))
	return env
}

func TestChangeWorkflowSendsToEachReceiverWithChangeEventsOnce(t *testing.T) {
	pager := &changeReceiver{fail: []error{errors.New("connection refused"), &notify.DeliveryError{Err: errors.New("HTTP 503")}}}
	chat, audit := &changeReceiver{}, &changeReceiver{}
	env := newChangeEnv(t, map[string]activities.ChangeNotifier{"pager": pager, "chat": chat, "audit": audit})
	env.ExecuteWorkflow(ChangeWorkflowType, greenMain())
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	if attempts, delivered := pager.counts(); attempts != 3 || delivered != 1 {
		t.Errorf("pager: %d attempts, %d delivered; want 3 and 1 (two retried failures)", attempts, delivered)
	}
	if _, delivered := chat.counts(); delivered != 1 || chat.got[0].Pipeline.ID != 42 {
		t.Errorf("chat got %d change events, want pipeline 42 once", delivered)
	}
	if attempts, _ := audit.counts(); attempts != 0 {
		t.Errorf("audit, which the tree does not select, was sent %d", attempts)
	}
}

func TestChangeWorkflowWithNobodyToTellCompletesAtOnce(t *testing.T) {
	pager := &changeReceiver{}
	env := newChangeEnv(t, map[string]activities.ChangeNotifier{"pager": pager})
	ev := greenMain()
	ev.Project.Path = "team-b/web"
	env.ExecuteWorkflow(ChangeWorkflowType, ev)
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	if attempts, _ := pager.counts(); attempts != 0 {
		t.Errorf("pager was sent %d", attempts)
	}
}

func TestChangeWorkflowStopsAtARefusalAndSaysWho(t *testing.T) {
	pager := &changeReceiver{fail: []error{notify.Permanent(errors.New("HTTP 400 Bad Request"))}}
	chat := &changeReceiver{}
	env := newChangeEnv(t, map[string]activities.ChangeNotifier{"pager": pager, "chat": chat})
	env.ExecuteWorkflow(ChangeWorkflowType, greenMain())
	err := env.GetWorkflowError()
	if !env.IsWorkflowCompleted() || err == nil {
		t.Fatalf("completed %v, error %v; want it failed", env.IsWorkflowCompleted(), err)
	}
	if !strings.Contains(err.Error(), "pager/pagerduty") || strings.Contains(err.Error(), "chat/") {
		t.Errorf("error %q should name the refusing target alone", err)
	}
	if attempts, _ := pager.counts(); attempts != 1 {
		t.Errorf("a refusal was tried %d times, want once", attempts)
	}
	if _, delivered := chat.counts(); delivered != 1 {
		t.Errorf("chat got %d, want its change event whatever pager answered", delivered)
	}
}

// A receiver that stays down is retried with a notification's backoff:
// after 1 s, doubling up to a minute. The SDK's test environment stops
// retrying at 10 attempts where a server would go on for the hour of
// ScheduleToCloseTimeout; the delays between them are the policy's.
func TestChangeWorkflowRetriesAReceiverThatStaysDownWithBackoff(t *testing.T) {
	down := make([]error, 1000)
	for i := range down {
		down[i] = &notify.DeliveryError{Err: errors.New("HTTP 502")}
	}
	pager := &changeReceiver{fail: down}
	env := newChangeEnv(t, map[string]activities.ChangeNotifier{"pager": pager})
	env.SetStartTime(t0)
	env.ExecuteWorkflow(ChangeWorkflowType, greenMain())
	if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "pager/pagerduty") {
		t.Fatalf("error %v, want the send to pager given up", err)
	}
	if attempts, _ := pager.counts(); attempts != 10 {
		t.Errorf("%d attempts, want the test environment's 10", attempts)
	}
	// 1+2+4+8+16+32 s, then a minute each.
	if took, want := env.Now().Sub(t0), 243*time.Second; took != want {
		t.Errorf("gave up after %s, want %s of backoff", took, want)
	}
}

func TestChangeIDNamesTheDelivery(t *testing.T) {
	ev := greenMain()
	if got, want := ChangeID(ev), "change/7-main/42/"+itoa(t0.Unix()); got != want {
		t.Errorf("ChangeID = %q, want %q", got, want)
	}
	resend := ev
	resend.ReceivedAt, resend.IdempotencyKey = t0.Add(time.Hour), "another-delivery"
	if ChangeID(resend) != ChangeID(ev) {
		t.Errorf("a resend has another ID: %q, %q", ChangeID(resend), ChangeID(ev))
	}
	retried := ev
	retried.Pipeline.FinishedAt = t0.Add(10 * time.Minute)
	if ChangeID(retried) == ChangeID(ev) {
		t.Errorf("a retried pipeline that finished again has the same ID %q", ChangeID(ev))
	}
	other := ev
	other.Instance = "b"
	if got := ChangeID(other); got != "change/b:7-main/42/"+itoa(t0.Unix()) {
		t.Errorf("another instance's ChangeID = %q", got)
	}
	unfinished := ev
	unfinished.Pipeline.FinishedAt = time.Time{}
	if got := ChangeID(unfinished); got != "change/7-main/42/0" {
		t.Errorf("ChangeID without finished_at = %q", got)
	}

	o := ChangeStartOptions("alertflow", ev)
	if o.ID != ChangeID(ev) || o.TaskQueue != "alertflow" ||
		o.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE ||
		o.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL {
		t.Errorf("options %+v", o)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
