package integration

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/devserver"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/internal/testkit"
	"github.com/alertflow/alertflow/worker"
)

// startOwnServer starts a dev server of the test's own on addr and db, so
// the test can stop and restart it without touching the shared one.
func startOwnServer(t *testing.T, addr, db string) *testsuite.DevServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  temporalBin,
		DBFilename:    db,
		ClientOptions: &client.Options{HostPort: addr, Logger: quietLogger()},
		LogLevel:      "error",
		ExtraArgs:     devserver.Tuning(),
		Stdout:        io.Discard,
		Stderr:        io.Discard,
	})
	if err != nil {
		t.Fatalf("start dev server: %v", err)
	}
	return srv
}

// TestAnOutageOfTheServerIsAnsweredWith503AndHealsByItself stops the
// Temporal server under a running intake and worker and starts it again on
// the same SQLite file: the open alert keeps its state, /readyz and the
// webhook answer 503 with Retry-After meanwhile, and both recover alone.
func TestAnOutageOfTheServerIsAnsweredWith503AndHealsByItself(t *testing.T) {
	requireServer(t)
	addr, db := testkit.FreeAddr(), filepath.Join(t.TempDir(), "temporal.db")
	srv := startOwnServer(t, addr, db)
	t.Cleanup(func() { _ = srv.Stop() })

	// Connected as alertflow connects: the dial options are what makes
	// recovery quick.
	c, err := client.Dial(client.Options{HostPort: addr, Logger: quietLogger(), ConnectionOptions: client.ConnectionOptions{DialOptions: worker.DialOptions()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := worker.EnsureSearchAttributes(ctx, c, "default"); err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, client: c, taskQueue: "outage"}
	s.worker = worker.New(c, s.taskQueue, activities.NewSinks(slog.New(slog.DiscardHandler), nil, nil), nil, slog.New(slog.DiscardHandler))
	if err := s.worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stopWorker)
	tokens, _ := ingress.ParseTokens("gitlab=" + sourceToken)
	s.http = httptest.NewServer(ingress.New(ingress.Config{TaskQueue: s.taskQueue, Tokens: tokens}, c, slog.New(slog.DiscardHandler)))
	t.Cleanup(s.http.Close)
	ready := func() int {
		resp, err := http.Get(s.http.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitReady := func(want int) {
		t.Helper()
		if err := poll(ctx, time.Minute, func() error {
			if got := ready(); got != want {
				return fmt.Errorf("readyz %d", got)
			}
			return nil
		}); err != nil {
			t.Fatalf("readyz never answered %d: %v", want, err)
		}
	}

	// Search attributes registered a moment ago may take a moment to apply.
	if err := poll(ctx, 30*time.Second, func() error {
		if a := s.post(payload(t, 30, "master", 300, "failed")); a.Action != ingress.ActionSignaled {
			return fmt.Errorf("answered %d %+v", a.code, a)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.waitState("30-master", isOpen)
	// More alerts open across the outage, each with its own state.
	others := map[string]alert.Severity{"31-main": alert.SeverityMedium, "32-release/2.x": alert.SeverityLow}
	s.mustSignal(payload(t, 31, "main", 310, "canceled"))
	s.mustSignal(payload(t, 32, "release/2.x", 320, "skipped"))
	for id, sev := range others {
		s.waitState(id, severityIs(sev))
	}
	waitReady(http.StatusOK)

	if err := srv.Stop(); err != nil {
		t.Logf("dev server stop: %v", err)
	}
	waitReady(http.StatusServiceUnavailable)
	req, _ := http.NewRequest(http.MethodPost, s.http.URL+"/webhooks/gitlab?token="+sourceToken, bytesReader(payload(t, 30, "master", 301, "canceled")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("webhook during the outage: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	srv = startOwnServer(t, addr, db)
	up := time.Now()
	waitReady(http.StatusOK)
	t.Logf("after the restart: /readyz 200 in %s", time.Since(up).Round(time.Millisecond))
	// GitLab's resend after the outage goes through, and the alert kept
	// its state across the restart.
	if err := poll(ctx, time.Minute, func() error {
		if a := s.post(payload(t, 30, "master", 301, "canceled")); a.Action != ingress.ActionSignaled {
			return fmt.Errorf("answered %d %+v", a.code, a)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("after the restart: the resent webhook signaled in %s", time.Since(up).Round(time.Millisecond))
	st := s.waitState("30-master", func(st *alert.State) error {
		// A cancel carries no verdict: the failure's HIGH stands.
		if st.Counts.Events != 2 || st.Severity != alert.SeverityHigh {
			return fmt.Errorf("events %d severity %s", st.Counts.Events, st.Severity)
		}
		return nil
	})
	t.Logf("after the restart: the resent webhook processed by the workflow in %s", time.Since(up).Round(time.Millisecond))
	if st.Status != alert.StatusOpen || st.PeakSeverity != alert.SeverityHigh {
		t.Fatalf("after the restart: %s peak %s", st.Status, st.PeakSeverity)
	}
	for id, sev := range others {
		got := s.waitState(id, severityIs(sev))
		if got.Status != alert.StatusOpen || got.Counts.Events != 1 {
			t.Fatalf("%s after the restart: %s with %+v", id, got.Status, got.Counts)
		}
	}
}
