package worker

import (
	"reflect"
	"testing"

	sdkworker "go.temporal.io/sdk/worker"
)

// The SDK's default workflow pollers can all end up on the sticky queue
// for a minute while new alerts wait on the normal queue; the autoscaling
// poller keeps a poll on the normal queue.
func TestOptionsPollWorkflowTasksWithTheAutoscalingPoller(t *testing.T) {
	got := reflect.TypeOf(Options().WorkflowTaskPollerBehavior)
	want := reflect.TypeOf(sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{}))
	if got != want {
		t.Fatalf("workflow task poller behavior is %v, want %v (the autoscaling poller)", got, want)
	}
	if Options().MaxConcurrentWorkflowTaskPollers != 0 {
		t.Fatalf("MaxConcurrentWorkflowTaskPollers is set; the SDK refuses it beside a poller behavior")
	}
}
