package worker

import (
	"context"
	"testing"

	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
)

// waitsForReady says whether the call options ask gRPC to wait for a
// connection instead of failing fast.
func waitsForReady(opts []grpc.CallOption) bool {
	wait := false
	for _, o := range opts {
		if f, ok := o.(grpc.FailFastCallOption); ok {
			wait = !f.FailFast
		}
	}
	return wait
}

func TestPollsWaitForTheConnectionAndOtherCallsFailFast(t *testing.T) {
	for method, want := range map[string]bool{
		workflowservice.WorkflowService_PollWorkflowTaskQueue_FullMethodName:            true,
		workflowservice.WorkflowService_PollActivityTaskQueue_FullMethodName:            true,
		workflowservice.WorkflowService_PollNexusTaskQueue_FullMethodName:               true,
		workflowservice.WorkflowService_SignalWithStartWorkflowExecution_FullMethodName: false,
		workflowservice.WorkflowService_QueryWorkflow_FullMethodName:                    false,
		workflowservice.WorkflowService_GetSystemInfo_FullMethodName:                    false,
	} {
		var got []grpc.CallOption
		invoker := func(_ context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
			got = opts
			return nil
		}
		if err := pollsWaitForReady(context.Background(), method, nil, nil, nil, invoker); err != nil {
			t.Fatal(err)
		}
		if waitsForReady(got) != want {
			t.Errorf("%s: waits for the connection %v, want %v", method, !want, want)
		}
	}
}
