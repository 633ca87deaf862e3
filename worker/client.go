package worker

import (
	"context"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// DialOptions are the gRPC options every Temporal client of alertflow
// adds to the SDK's (client.ConnectionOptions.DialOptions), so that its
// workers pick up work at once when the server comes back from an outage.
//
// Measured on the dev server, a restart left the alerts still for 8 to 13
// seconds after the server answered again, and up to 30 under load:
//   - every poll failed at once while the server was down, and the SDK's
//     poller backs off after each failure, to 10 s at most: when the server
//     came back the pollers were asleep. Polls now wait for the connection
//     instead of failing (WaitForReady), so there is nothing to back off
//     from; the long poll's own deadline still bounds the wait.
//   - the signal's workflow task went to the sticky queue of a poller that
//     was asleep, and moved to the normal queue only after the sticky
//     schedule-to-start timeout (5 s).
//   - gRPC re-dials a lost connection with a backoff up to 10 s (the SDK's
//     setting); 1 s costs nothing against a server that is down.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  100 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   time.Second,
			},
			MinConnectTimeout: 10 * time.Second,
		}),
		grpc.WithChainUnaryInterceptor(pollsWaitForReady),
	}
}

// pollsWaitForReady makes the worker's long polls wait for a connection
// instead of failing while there is none. Every other call still fails
// fast, so the intake answers 503 during an outage instead of hanging.
func pollsWaitForReady(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	switch method {
	case workflowservice.WorkflowService_PollWorkflowTaskQueue_FullMethodName,
		workflowservice.WorkflowService_PollActivityTaskQueue_FullMethodName,
		workflowservice.WorkflowService_PollNexusTaskQueue_FullMethodName:
		opts = append(opts, grpc.WaitForReady(true))
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}
