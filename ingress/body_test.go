package ingress

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Body limits over the wire: what a sender sees depends on when the
// intake answers relative to what the sender has sent, which a
// ResponseRecorder cannot show.

// wireServer serves a harness's intake with a real HTTP server; readTimeout
// zero leaves reads unbounded, as httptest does.
func wireServer(t *testing.T, cfg Config, readTimeout time.Duration) (*harness, string) {
	t.Helper()
	tokens, err := ParseTokens("gitlab=" + testToken)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{temporal: &fakeTemporal{}, logs: &bytes.Buffer{}}
	cfg.TaskQueue, cfg.Tokens = "alertflow", tokens
	h.server = New(cfg, h.temporal, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	srv := httptest.NewUnstartedServer(h.server)
	srv.Config.ReadTimeout = readTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	return h, srv.Listener.Addr().String()
}

// dialRaw opens a connection whose every read and write gives up after a
// while, so that an answer that never comes fails the test, not hangs it.
func dialRaw(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

func webhookHead(length int64, extra string) string {
	return fmt.Sprintf("POST /webhooks/gitlab?token=%s HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event: Pipeline Hook\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n",
		testToken, length, extra)
}

// readAnswer reads one answer and its JSON body.
func readAnswer(t *testing.T, r *bufio.Reader) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var answer map[string]any
	if resp.StatusCode >= 200 && len(raw) > 0 {
		if err := json.Unmarshal(raw, &answer); err != nil {
			t.Fatalf("%d answer is not JSON: %q", resp.StatusCode, raw)
		}
	}
	return resp, answer
}

func TestAContentLengthOverTheLimitIsAnswered413BeforeTheBodyIsSent(t *testing.T) {
	h, addr := wireServer(t, Config{MaxBody: 1 << 20}, 0)
	conn, r := dialRaw(t, addr)
	// The headers only: the 2 MiB never come.
	if _, err := io.WriteString(conn, webhookHead(2<<20, "")); err != nil {
		t.Fatal(err)
	}
	resp, answer := readAnswer(t, r)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || answer["error"] == nil {
		t.Fatalf("%d %v, want 413 with an error", resp.StatusCode, answer)
	}
	if h.temporal.calls() != 0 {
		t.Fatal("reached Temporal")
	}
}

func TestExpectContinueWithABodyOverTheLimitIsRefusedInsteadOfContinued(t *testing.T) {
	_, addr := wireServer(t, Config{MaxBody: 1 << 20}, 0)
	conn, r := dialRaw(t, addr)
	if _, err := io.WriteString(conn, webhookHead(2<<20, "Expect: 100-continue\r\n")); err != nil {
		t.Fatal(err)
	}
	// The first answer is the final one: a "100 Continue" would ask for
	// the 2 MiB.
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	if !strings.HasPrefix(line, "HTTP/1.1 413 ") {
		t.Fatalf("first answer %q, want 413", line)
	}
}

// A body that stops coming is cut off by the read timeout; the answer says
// so without the error's text, which names both ends' socket addresses.
func TestABodyCutOffByTheReadTimeoutIsAnsweredWithoutSocketAddresses(t *testing.T) {
	_, addr := wireServer(t, Config{}, 300*time.Millisecond)
	conn, r := dialRaw(t, addr)
	if _, err := io.WriteString(conn, webhookHead(100, "")+`{"object_kind":`); err != nil {
		t.Fatal(err)
	}
	resp, answer := readAnswer(t, r)
	msg := fmt.Sprint(answer["error"])
	if resp.StatusCode != http.StatusBadRequest || answer["error"] == nil {
		t.Fatalf("%d %v, want 400 with an error", resp.StatusCode, answer)
	}
	host, _, _ := net.SplitHostPort(addr)
	if strings.Contains(msg, host) || strings.Contains(msg, "tcp") {
		t.Fatalf("the answer %q names socket addresses", msg)
	}
}

// paddedEvent is a failed pipeline event of about size bytes.
func paddedEvent(t *testing.T, size int) []byte {
	t.Helper()
	base := withStatus(t, "failed")
	return edit(t, base, func(m map[string]any) { m["padding"] = strings.Repeat("a", size-len(base)-len(`,"padding":""`)) })
}

// Many senders of bodies of a few MiB at once: the bytes held never exceed
// the budget, what the budget cannot hold is answered 503 with Retry-After
// before its body is read, and what it holds is answered as usual.
func TestBodyBytesInFlightStayWithinTheBudgetAndTheRestAre503(t *testing.T) {
	const (
		senders = 24
		size    = 2 << 20
		budget  = 4*size + size/2 // room for four bodies, not five
	)
	h, addr := wireServer(t, Config{MaxBody: 4 << 20, MaxBodyInFlight: budget}, 0)
	body := paddedEvent(t, size)
	half := len(body) / 2

	type result struct {
		code       int
		retryAfter string
		answer     map[string]any
		err        error
	}
	results := make(chan result, senders)
	var refused atomic.Int64
	proceed := make(chan struct{})
	for range senders {
		conn, r := dialRaw(t, addr)
		go func() {
			// Headers and half the body, then wait: a sender the budget
			// holds is answered only once it sends the rest.
			_, _ = io.WriteString(conn, webhookHead(int64(len(body)), ""))
			_, _ = conn.Write(body[:half])
			answered := make(chan result, 1)
			go func() {
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					answered <- result{err: err}
					return
				}
				defer resp.Body.Close()
				var answer map[string]any
				err = json.NewDecoder(resp.Body).Decode(&answer)
				answered <- result{resp.StatusCode, resp.Header.Get("Retry-After"), answer, err}
			}()
			select {
			case res := <-answered:
				refused.Add(1)
				results <- res
				return
			case <-proceed:
			}
			_, _ = conn.Write(body[half:])
			results <- <-answered
		}()
	}
	// Wait until every sender is either held by the budget or refused.
	held := func() int64 {
		h.server.inflight.mu.Lock()
		defer h.server.inflight.mu.Unlock()
		return h.server.inflight.held
	}
	deadline := time.Now().Add(15 * time.Second)
	for held() != 4*int64(len(body)) || refused.Load() != senders-4 {
		if time.Now().After(deadline) {
			t.Fatalf("after 15s the budget holds %d bytes and %d senders were refused; want four bodies of %d held and %d refused",
				held(), refused.Load(), len(body), senders-4)
		}
		time.Sleep(10 * time.Millisecond) // polling the budget
	}
	close(proceed)
	codes := map[int]int{}
	for range senders {
		res := <-results
		if res.err != nil {
			t.Fatalf("no answer: %v", res.err)
		}
		codes[res.code]++
		if res.code == http.StatusServiceUnavailable && (res.retryAfter == "" || res.answer["error"] == nil) {
			t.Errorf("503 without Retry-After or error: %q %v", res.retryAfter, res.answer)
		}
	}
	if codes[http.StatusAccepted] != 4 || codes[http.StatusServiceUnavailable] != senders-4 {
		t.Fatalf("answers %v, want 4 × 202 and %d × 503", codes, senders-4)
	}
	if got := h.temporal.calls(); got != 4 {
		t.Fatalf("%d Temporal calls, want 4", got)
	}
	if peak := h.server.inflight.peak; peak > budget || held() != 0 {
		t.Fatalf("peak %d bytes held against a budget of %d, %d still held", peak, budget, held())
	}
}

func TestAChunkedBodyIsRefusedWhenTheBudgetCannotHoldItsNextStep(t *testing.T) {
	h := newHarness(t, 0)
	h.server.inflight = newBodyBudget(chunkedStep*3, prometheus.NewRegistry())
	body := paddedEvent(t, 1<<20)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/gitlab?token="+testToken, io.MultiReader(bytes.NewReader(body)))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	h.server.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("%d %s, want 503 with Retry-After", rec.Code, rec.Body.String())
	}
	if h.server.inflight.held != 0 || h.server.inflight.peak > chunkedStep*3 {
		t.Fatalf("held %d, peak %d", h.server.inflight.held, h.server.inflight.peak)
	}
	if h.temporal.calls() != 0 {
		t.Fatal("reached Temporal")
	}
}

func TestAChunkedBodyWithinTheBudgetIsAccepted(t *testing.T) {
	h := newHarness(t, 0)
	body := paddedEvent(t, 1<<20)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/gitlab?token="+testToken, io.MultiReader(bytes.NewReader(body)))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	h.server.ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted || h.temporal.calls() != 1 || h.server.inflight.held != 0 {
		t.Fatalf("%d %s, %d calls, %d bytes still held", rec.Code, rec.Body.String(), h.temporal.calls(), h.server.inflight.held)
	}
}

// A body whose size is announced is read into one buffer of that size: a
// buffer doubling up to it allocates about twice the body.
func TestAnAnnouncedLargeBodyIsAllocatedOnce(t *testing.T) {
	h := newHarness(t, 0)
	body := paddedEvent(t, 4<<20)
	send := func() {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/gitlab?token="+testToken, bytes.NewReader(body))
		req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
		rec := httptest.NewRecorder()
		h.server.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("%d %s", rec.Code, rec.Body.String())
		}
	}
	send() // warm up: pools, the router
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	send()
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d-byte body allocated %d bytes", len(body), allocated)
	if allocated > uint64(len(body))*3/2 {
		t.Fatalf("a %d-byte body allocated %d bytes, want about one body", len(body), allocated)
	}
}
