package ingress

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/alertflow/alertflow/bench/payload"
)

// Every budget the intake takes is given back on every path. A path that
// kept the body's bytes once (push hooks did) starved every later delivery
// after some 1 400 of them, so each path here runs thousands of times.

const budgetRounds = 2000

// bigPush is a push hook of the size GitLab sends for 20 commits (~49 KB).
func bigPush(t testing.TB, deleted bool) []byte {
	t.Helper()
	body, err := payload.BuildPush(payload.Push{ProjectID: 7, Ref: "main", Commits: 20, Files: 10,
		Deleted: deleted, At: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if len(body) < 40_000 {
		t.Fatalf("push body of %d bytes, want a realistic ~49 KB", len(body))
	}
	return body
}

type budgetPath struct {
	name    string
	headers map[string]string
	body    []byte
	// chunked sends the body without a Content-Length; short announces
	// more bytes than it sends.
	chunked, short bool
	setup          func(f *fakeTemporal)
	want           int
}

func budgetPaths(t *testing.T) []budgetPath {
	push := map[string]string{"X-Gitlab-Event": "Push Hook"}
	notFound := func(f *fakeTemporal) { f.signalErr = serviceerror.NewNotFound("no such workflow") }
	down := func(f *fakeTemporal) {
		f.signalErr = errors.New("connection refused")
		f.startErr = errors.New("connection refused")
	}
	return []budgetPath{
		{name: "push that deletes nothing", headers: push, body: bigPush(t, false), want: http.StatusAccepted},
		{name: "push without a header", body: bigPush(t, false), want: http.StatusAccepted},
		{name: "push that deletes a branch", headers: push, body: bigPush(t, true), want: http.StatusAccepted},
		{name: "push deleting a branch with no alert", headers: push, body: bigPush(t, true), setup: notFound, want: http.StatusAccepted},
		{name: "push while Temporal is down", headers: push, body: bigPush(t, true), setup: down, want: http.StatusServiceUnavailable},
		{name: "malformed push", headers: push, body: []byte(`{"object_kind":"push",`), want: http.StatusBadRequest},
		{name: "push with a bad ref", headers: push, body: []byte(`{"object_kind":"push","ref":"HEAD","project":{"id":7}}`), want: http.StatusBadRequest},
		{name: "push kind with another object_kind", headers: push, body: []byte(`{"object_kind":"note"}`), want: http.StatusAccepted},
		{name: "failed pipeline", headers: pipelineHeader, body: withStatus(t, "failed"), want: http.StatusAccepted},
		{name: "failed pipeline while Temporal is down", headers: pipelineHeader, body: withStatus(t, "failed"), setup: down, want: http.StatusServiceUnavailable},
		{name: "success", headers: pipelineHeader, body: withStatus(t, "success"), want: http.StatusAccepted},
		{name: "success with no alert", headers: pipelineHeader, body: withStatus(t, "success"), setup: notFound, want: http.StatusAccepted},
		{name: "running with no alert", headers: pipelineHeader, body: withStatus(t, "running"), setup: notFound, want: http.StatusAccepted},
		{name: "pipeline without a header", body: withStatus(t, "failed"), want: http.StatusAccepted},
		{name: "another object_kind", headers: pipelineHeader, body: []byte(`{"object_kind":"merge_request"}`), want: http.StatusAccepted},
		{name: "no header, another object_kind", body: []byte(`{"object_kind":"build"}`), want: http.StatusAccepted},
		{name: "malformed JSON", headers: pipelineHeader, body: []byte(`{"object_kind":"pipeline",`), want: http.StatusBadRequest},
		{name: "missing field", headers: pipelineHeader, body: []byte(`{"object_kind":"pipeline","object_attributes":{"id":1}}`), want: http.StatusBadRequest},
		{name: "chunked pipeline", headers: pipelineHeader, body: withStatus(t, "failed"), chunked: true, want: http.StatusAccepted},
		{name: "chunked push", headers: push, body: bigPush(t, false), chunked: true, want: http.StatusAccepted},
		{name: "body shorter than announced", headers: pipelineHeader, body: withStatus(t, "failed"), short: true, want: http.StatusBadRequest},
		{name: "job hook, body never read", headers: map[string]string{"X-Gitlab-Event": "Job Hook"}, body: bigPush(t, false), want: http.StatusAccepted},
	}
}

func (p budgetPath) request() *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/gitlab?token="+testToken, bytes.NewReader(p.body))
	switch {
	case p.chunked:
		req.ContentLength = -1
		req.Body = io.NopCloser(struct{ io.Reader }{bytes.NewReader(p.body)})
	case p.short:
		req.ContentLength = int64(len(p.body)) + 100
	}
	for k, v := range p.headers {
		req.Header.Set(k, v)
	}
	return req
}

func TestEveryWebhookPathGivesTheBodyBytesBack(t *testing.T) {
	for _, p := range budgetPaths(t) {
		t.Run(p.name, func(t *testing.T) {
			// A budget of a few bodies: a path that keeps bytes fails
			// within a handful of rounds, not after thousands.
			h := newHarnessWith(t, Config{MaxBody: 1 << 20, MaxBodyInFlight: 4 << 20})
			if p.setup != nil {
				p.setup(h.temporal)
			}
			for i := range budgetRounds {
				rec := httptest.NewRecorder()
				h.server.ServeHTTP(rec, p.request())
				if rec.Code != p.want {
					t.Fatalf("round %d: %d %s, want %d", i+1, rec.Code, rec.Body, p.want)
				}
				if held := h.server.inflight.held; held != 0 {
					t.Fatalf("round %d: %d body bytes still held after the answer", i+1, held)
				}
			}
			if !strings.Contains(metricsOf(t, h), "alertflow_webhook_body_bytes_in_flight 0\n") {
				t.Fatalf("the gauge does not read 0:\n%s", metricsOf(t, h))
			}
		})
	}
}

func TestAPanicWhileAnsweringGivesTheBodyBytesBack(t *testing.T) {
	h := newHarnessWith(t, Config{MaxBody: 1 << 20, MaxBodyInFlight: 4 << 20})
	h.temporal.panicOn = "signal"
	body := withStatus(t, "success")
	for i := range budgetRounds {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatalf("round %d: no panic reached the caller", i+1)
				}
			}()
			req := httptest.NewRequest(http.MethodPost, "/webhooks/gitlab?token="+testToken, bytes.NewReader(body))
			req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
			h.server.ServeHTTP(httptest.NewRecorder(), req)
		}()
		if held := h.server.inflight.held; held != 0 {
			t.Fatalf("round %d: %d body bytes still held after a panic", i+1, held)
		}
	}
}

func metricsOf(t *testing.T, h *harness) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.server.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

func TestManyBigPushHooksLeaveRoomForThePipelineAfterThem(t *testing.T) {
	// The default budget, as a user runs it: 2 500 ordinary push hooks
	// (a day of a mid-size GitLab) must leave the failed pipeline after
	// them its 202.
	h := newHarnessWith(t, Config{})
	push := bigPush(t, false)
	for i := range 2500 {
		rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, map[string]string{"X-Gitlab-Event": "Push Hook"}, push)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("push %d: %d %v", i+1, rec.Code, answer)
		}
	}
	if rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "failed")); rec.Code != http.StatusAccepted || answer["action"] != "signaled" {
		t.Fatalf("the failed pipeline after 2 500 pushes: %d %v", rec.Code, answer)
	}
	if held := h.server.inflight.held; held != 0 {
		t.Fatalf("%d body bytes held at rest", held)
	}
}

func TestGoroutinesComeBackAfterThousandsOfWebhooksOverTheWire(t *testing.T) {
	h, addr := wireServer(t, Config{}, 0)
	h.temporal.signalErr = serviceerror.NewNotFound("no such workflow")
	before := runtime.NumGoroutine()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	push, running := bigPush(t, false), withStatus(t, "running")
	for i := range budgetRounds {
		body, kind := push, "Push Hook"
		if i%2 == 1 {
			body, kind = running, "Pipeline Hook"
		}
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/gitlab?token="+testToken, bytes.NewReader(body))
		req.Header.Set("X-Gitlab-Event", kind)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("round %d: %d", i+1, resp.StatusCode)
		}
	}
	client.CloseIdleConnections()
	// Connections close asynchronously on the server's side: poll.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after %d webhooks and closing every connection, %d before", runtime.NumGoroutine(), budgetRounds, before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if held := h.server.inflight.held; held != 0 {
		t.Fatalf("%d body bytes held at rest", held)
	}
}
