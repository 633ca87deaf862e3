package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
		served <- serveHTTP(ctx, ln, handler, slog.New(slog.DiscardHandler), defaultHTTPLimits(), nil)
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
	go func() { _ = serveHTTP(ctx, ln, handler, slog.New(slog.DiscardHandler), limits, nil) }()

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

// servedLimits serves an intake on ln with limits until the test ends;
// reg, when not nil, gets the server's gauges.
func servedLimits(t *testing.T, ln net.Listener, limits httpLimits, reg prometheus.Registerer) {
	t.Helper()
	tokens, err := ingress.ParseTokens("gitlab=tok")
	if err != nil {
		t.Fatal(err)
	}
	handler := ingress.New(ingress.Config{Tokens: tokens}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- serveHTTP(ctx, ln, handler, slog.New(slog.NewTextHandler(io.Discard, nil)), limits, reg)
	}()
	t.Cleanup(func() {
		cancel()
		<-served
	})
}

// A header block past the limit is answered 431 by net/http; with Go's
// default of 1 MiB, 200 KiB of headers reached the handler.
func TestAHeaderBlockOverTheLimitIsAnswered431(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	servedLimits(t, ln, defaultHTTPLimits(), nil)
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	var head strings.Builder
	head.WriteString("GET /healthz HTTP/1.1\r\nHost: x\r\n")
	for i := 0; head.Len() < 200<<10; i++ {
		fmt.Fprintf(&head, "X-Filler-%d: %s\r\n", i, strings.Repeat("f", 1000))
	}
	head.WriteString("\r\n")
	go func() { _, _ = io.WriteString(conn, head.String()) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("200 KiB of headers answered %d, want 431", resp.StatusCode)
	}
}

// countingListener counts the connections accepted and not yet closed,
// and the most ever open at once.
type countingListener struct {
	net.Listener
	mu         sync.Mutex
	open, peak int
	accepted   int
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open++
	l.accepted++
	l.peak = max(l.peak, l.open)
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// Clients that open connections and send headers that never end are held
// to the connection cap: the rest wait to be accepted until the header
// timeout frees a place, and every one is dealt with in the end.
func TestConnectionsOpenAtOnceStayWithinTheCap(t *testing.T) {
	const limit, clients = 4, 16
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &countingListener{Listener: inner}
	limits := defaultHTTPLimits()
	limits.connections, limits.readHeader = limit, 200*time.Millisecond
	servedLimits(t, ln, limits, nil)

	var wg sync.WaitGroup
	for range clients {
		conn, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		wg.Add(1)
		go func() {
			defer wg.Done()
			// An unfinished header block, then wait for the server to
			// answer or close.
			_, _ = io.WriteString(conn, "POST /webhooks/gitlab HTTP/1.1\r\nHost: x\r\nX-Slow: ")
			_, _ = io.Copy(io.Discard, conn)
		}()
	}
	wg.Wait()
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if ln.accepted != clients {
		t.Fatalf("%d connections accepted, want all %d", ln.accepted, clients)
	}
	if ln.peak > limit {
		t.Fatalf("%d connections open at once, want at most %d", ln.peak, limit)
	}
}
