package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/alertflow/alertflow/ingress"
)

func TestAWebhookInFlightWhenStopIsAskedIsAnsweredNotDropped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release // a Temporal call still under way
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"action":"signaled"}`)
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- serveHTTP(ctx, ln, handler, slog.New(slog.DiscardHandler), defaultHTTPLimits())
	}()

	answered := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/webhooks/gitlab", "application/json", nil)
		if err != nil {
			t.Errorf("the request in flight failed: %v", err)
			close(answered)
			return
		}
		answered <- resp
	}()
	<-entered
	cancel() // SIGTERM

	// New connections are refused once the stop began...
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections 10s after the stop")
		}
		time.Sleep(10 * time.Millisecond) // polling the listener, not waiting for the handler
	}
	select {
	case err := <-served:
		t.Fatalf("the server stopped with a request in flight: %v", err)
	default:
	}
	// ...while the request in flight still gets its answer.
	close(release)
	resp := <-answered
	if resp == nil {
		t.FailNow()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("in-flight request answered %d", resp.StatusCode)
	}
	if err := <-served; err != nil {
		t.Fatalf("serveHTTP: %v", err)
	}
}

// A client that sends its headers and then trickles the body (slow-loris)
// is cut off by the read timeout, answered 400, and never reaches Temporal.
func TestASlowLorisBodyIsCutOffByTheReadTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := ingress.ParseTokens("gitlab=tok")
	if err != nil {
		t.Fatal(err)
	}
	handler := ingress.New(ingress.Config{Tokens: tokens}, nil, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	limits := defaultHTTPLimits()
	limits.readHeader, limits.read = 200*time.Millisecond, 300*time.Millisecond
	go func() { _ = serveHTTP(ctx, ln, handler, slog.New(slog.DiscardHandler), limits) }()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers promise 1 MiB; the body never comes.
	if _, err := io.WriteString(conn, "POST /webhooks/gitlab?token=tok HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n{\"object_kind\":"); err != nil {
		t.Fatal(err)
	}
	// The answer comes (or the connection closes) without the client
	// sending anything more; the test's own timeout catches a hang.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Logf("the server closed the connection: %v", err)
		return // cut off too
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("a stalled body answered %d", resp.StatusCode)
	}
}
