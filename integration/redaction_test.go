package integration

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/internal/testkit"
	"github.com/alertflow/alertflow/notify/webhook"
	"github.com/alertflow/alertflow/worker"
)

// A receiver, or a proxy in front of it, that echoes the request URL in its
// error page must not carry the URL's secrets into the worker's log, the
// activity failures, `temporal workflow describe` or the history.
func TestAReceiverThatEchoesItsURLLeavesNoSecretInLogsOrHistory(t *testing.T) {
	t.Parallel() // own task queue and project ids
	requireServer(t)
	const (
		hookPath = "/hooks/T0001/B0002/pathsecret"
		query    = "token=querysecret"
		secret   = "integration-signing-secret"
		id       = "1812-master"
	)
	leaks := []string{"pathsecret", "querysecret", "T0001", "B0002", "/hooks/", secret}
	var status atomic.Int32
	status.Store(http.StatusInternalServerError)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		fmt.Fprintf(w, "no route for POST %s (http://%s%s), token %s",
			r.RequestURI, r.Host, r.URL.Path, r.URL.Query().Get("token"))
	}))
	t.Cleanup(receiver.Close)

	// The worker logs, and the SDK logs for it, at debug level into logs.
	var logs testkit.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := client.Dial(client.Options{HostPort: devServer.FrontendHostPort(), Logger: tlog.NewStructuredLogger(logger)})
	if err != nil {
		t.Fatalf("dial the dev server: %v", err)
	}
	t.Cleanup(c.Close)
	s := newStack(t)
	s.stopWorker()
	s.worker = worker.New(c, s.taskQueue, activities.NewSinks(logger,
		webhook.New(receiver.URL+hookPath+"?"+query, secret, nil), nil), nil, logger)
	if err := s.worker.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(func() {
		_ = s.client.TerminateWorkflow(context.Background(), id, "", "test done")
	})

	check := func(what, text string) {
		t.Helper()
		for _, leak := range leaks {
			if strings.Contains(text, leak) {
				t.Errorf("%s gives away %q:\n%s", what, leak, text)
			}
		}
		// The receiver's answer is kept, so the check above looked at it.
		if !strings.Contains(text, "no route for POST [redacted]") {
			t.Errorf("%s does not hold the receiver's answer, redacted:\n%s", what, text)
		}
	}

	s.mustSignal(payload(t, 1812, "master", 18120, "failed"))

	// While the receiver answers 500, the webhook activity is retried: its
	// last failure is what `temporal workflow describe` shows.
	err = poll(context.Background(), 30*time.Second, func() error {
		d, err := s.client.DescribeWorkflowExecution(context.Background(), id, "")
		if err != nil {
			return err
		}
		for _, a := range d.GetPendingActivities() {
			if a.GetActivityType().GetName() == activities.ActivityNotifyReceiver && a.GetLastFailure() != nil {
				return nil
			}
		}
		return fmt.Errorf("no failed webhook attempt yet (pending activities: %v)", d.GetPendingActivities())
	})
	if err != nil {
		t.Fatal(err)
	}
	check("temporal workflow describe", temporalCLI(t, "workflow", "describe", "--workflow-id", id, "--output", "json"))

	// A 400 ends the retries: the failure is recorded in the history.
	status.Store(http.StatusBadRequest)
	err = poll(context.Background(), 30*time.Second, func() error {
		types, err := s.eventTypes(id)
		if err != nil {
			return err
		}
		for _, et := range types {
			if et == enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED {
				return nil
			}
		}
		return fmt.Errorf("no failed activity in the history yet")
	})
	if err != nil {
		t.Fatal(err)
	}
	check("temporal workflow show", temporalCLI(t, "workflow", "show", "--workflow-id", id, "--output", "json"))
	check("the worker's log", logs.String())
}
