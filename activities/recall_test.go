package activities

import (
	"context"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/alertflow/alertflow/alert"
)

// lagging is a client whose visibility store lists only some runs, as a
// server with a backlog of visibility tasks does, while every run's
// history is there.
type lagging struct {
	client.Client
	listed  []string                 // run IDs visibility lists, newest last
	results map[string]*alert.Memory // completed runs' memories
}

func (l *lagging) ListWorkflow(_ context.Context, _ *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	var out []*workflowpb.WorkflowExecutionInfo
	for i, id := range l.listed {
		out = append(out, &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: "1-main", RunId: id},
			StartTime: timestamppb.New(time.Unix(int64(i), 0)),
		})
	}
	return &workflowservice.ListWorkflowExecutionsResponse{Executions: out}, nil
}

func (l *lagging) GetWorkflowHistory(_ context.Context, _, runID string, _ bool, _ enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	it := &closeEvents{}
	if mem := l.results[runID]; mem != nil {
		payloads, err := converter.GetDefaultDataConverter().ToPayloads(alert.State{Memory: *mem})
		if err != nil {
			panic(err)
		}
		it.events = append(it.events, &historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_WorkflowExecutionCompletedEventAttributes{
			WorkflowExecutionCompletedEventAttributes: &historypb.WorkflowExecutionCompletedEventAttributes{Result: payloads},
		}})
	}
	return it
}

type closeEvents struct{ events []*historypb.HistoryEvent }

func (c *closeEvents) HasNext() bool { return len(c.events) > 0 }
func (c *closeEvents) Next() (*historypb.HistoryEvent, error) {
	ev := c.events[0]
	c.events = c.events[1:]
	return ev, nil
}

func recallIn(t *testing.T, c client.Client, runID string) (*alert.Memory, error) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(NewRecaller(c).RecallMemory)
	val, err := env.ExecuteActivity(ActivityRecall, "1-main", runID)
	if err != nil {
		return nil, err
	}
	var mem *alert.Memory
	if !val.HasValue() {
		return nil, nil
	}
	if err := val.Get(&mem); err != nil {
		t.Fatalf("decode the recalled memory: %v", err)
	}
	return mem, nil
}

func TestTheRecallWaitsUntilVisibilityListsTheRunThatAsks(t *testing.T) {
	before := &alert.Memory{Closed: alert.Mark{Family: 31, ID: 31}, Newest: 31}
	// The run before completed, but neither it nor the new run is listed
	// yet: an empty memory now would let a stale failure open an alert.
	c := &lagging{results: map[string]*alert.Memory{"run-1": before}}
	if mem, err := recallIn(t, c, "run-2"); err == nil || !strings.Contains(err.Error(), "does not list this run") {
		t.Fatalf("recall with nothing listed = %+v, %v; want an error that retries it", mem, err)
	}
	// Listed in the order the server wrote them: once the new run is
	// there, the one before is read.
	c.listed = []string{"run-1", "run-2"}
	mem, err := recallIn(t, c, "run-2")
	if err != nil {
		t.Fatalf("recall: %v", err)
	}
	if mem == nil || mem.Closed.ID != 31 {
		t.Fatalf("recalled %+v, want the memory of run-1 (resolved by #31)", mem)
	}
}

func TestTheRecallOfAnIDsFirstRunIsEmptyOnceVisibilityListsIt(t *testing.T) {
	mem, err := recallIn(t, &lagging{listed: []string{"run-1"}}, "run-1")
	if err != nil || mem != nil {
		t.Fatalf("recall of the first run = %+v, %v; want no memory and no error", mem, err)
	}
}
