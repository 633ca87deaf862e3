package ingress

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// readMode is what readTemporal does with a list call, set per request
// in its context.
type readMode struct {
	kind string // "ok", "fail", "panic", "hold" or "gone"
	// entered is closed once the call is under way (hold, gone).
	entered chan struct{}
	// release ends a held call.
	release chan struct{}
}

type readModeKey struct{}

// readPathKey carries the path get asked for, which names the endpoint a
// list call counts under.
type readPathKey struct{}

// readEndpoints are the bounded reads: each has a bound of its own.
var readEndpoints = []string{"/api/v1/stats", "/api/v1/silences", "/api/v1/alerts"}

// readTemporal lists as the request's readMode says, and counts the list
// calls under way by the endpoint that made them.
type readTemporal struct {
	fakeTemporal
	inFlight, most map[string]int
}

func newReadTemporal() *readTemporal {
	return &readTemporal{inFlight: map[string]int{}, most: map[string]int{}}
}

func (f *readTemporal) ListWorkflow(ctx context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	path, _ := ctx.Value(readPathKey{}).(string)
	ep := strings.TrimPrefix(path, "/api/v1/")
	f.mu.Lock()
	f.inFlight[ep]++
	f.most[ep] = max(f.most[ep], f.inFlight[ep])
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight[ep]--
		f.mu.Unlock()
	}()
	m, _ := ctx.Value(readModeKey{}).(*readMode)
	switch m.kind {
	case "fail":
		return nil, serviceerror.NewUnavailable("down")
	case "panic":
		panic("readTemporal: boom")
	case "hold":
		close(m.entered)
		select {
		case <-m.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case "gone":
		close(m.entered)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &workflowservice.ListWorkflowExecutionsResponse{}, nil
}

// GetWorkflowHistory makes readTemporal a historyReader, which the stats
// need; with no runs listed it is never called.
func (f *readTemporal) GetWorkflowHistory(context.Context, string, string, bool, enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	return &closeEvents{}
}

// get answers GET path with m: the status, the Retry-After header and the
// error; panicked says the handler panicked.
func get(h *harness, path string, m *readMode) (code int, retryAfter, msg string, panicked bool) {
	ctx, cancel := context.WithCancel(context.WithValue(context.WithValue(context.Background(), readModeKey{}, m), readPathKey{}, path))
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+testAPIToken)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	defer close(done)
	if m.kind == "gone" {
		// The caller hangs up once the call is under way, or never
		// gets that far (refused at the bound).
		go func() {
			select {
			case <-m.entered:
				cancel()
			case <-done:
			}
		}()
	}
	func() {
		defer func() { panicked = recover() != nil }()
		h.server.ServeHTTP(rec, req)
	}()
	var answer ErrorAnswer
	_ = json.Unmarshal(rec.Body.Bytes(), &answer)
	return rec.Code, rec.Header().Get("Retry-After"), answer.Error, panicked
}

// holdBound takes every slot of ep with held requests, failing t when one
// is refused; release lets them answer and says what they answered.
func holdBound(t *testing.T, h *harness, ep string) (release func() []int) {
	t.Helper()
	held := make([]*readMode, maxConcurrentReads)
	codes := make(chan int, maxConcurrentReads)
	for i := range held {
		held[i] = newMode("hold")
		go func() {
			code, _, _, _ := get(h, ep, held[i])
			codes <- code
		}()
		select {
		case <-held[i].entered:
		case code := <-codes:
			t.Fatalf("%s: held request %d of %d answered %d at once: a slot is taken", ep, i+1, maxConcurrentReads, code)
		}
	}
	return func() []int {
		for _, m := range held {
			close(m.release)
		}
		answers := make([]int, len(held))
		for i := range answers {
			answers[i] = <-codes
		}
		return answers
	}
}

func newMode(kind string) *readMode {
	return &readMode{kind: kind, entered: make(chan struct{}), release: make(chan struct{})}
}

// inFlightGauge reads alertflow_api_reads_in_flight of endpoint.
func inFlightGauge(t *testing.T, reg *prometheus.Registry, endpoint string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != "alertflow_api_reads_in_flight" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "endpoint" && l.GetValue() == endpoint {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no alertflow_api_reads_in_flight{endpoint=%q}", endpoint)
	return 0
}

func TestStatsAndTheListsOfSilencesAndAlertsAnswer429BeyondTheirBound(t *testing.T) {
	for i, ep := range readEndpoints {
		t.Run(ep, func(t *testing.T) {
			f := newReadTemporal()
			h := apiHarness(t, f)
			release := holdBound(t, h, ep)
			code, retry, msg, _ := get(h, ep, newMode("ok"))
			if code != http.StatusTooManyRequests || retry == "" || !strings.Contains(msg, ep) || !strings.Contains(msg, fmt.Sprint(maxConcurrentReads)) {
				t.Fatalf("beyond the bound: %d, Retry-After %q, %q; want 429 naming %s and its bound %d", code, retry, msg, ep, maxConcurrentReads)
			}
			if g := inFlightGauge(t, h.server.cfg.Registry, ep); g != maxConcurrentReads {
				t.Fatalf("in flight %v, want %d", g, maxConcurrentReads)
			}
			// The others have bounds of their own.
			for j, other := range readEndpoints {
				if j == i {
					continue
				}
				if code, _, msg, _ := get(h, other, newMode("ok")); code != http.StatusOK {
					t.Fatalf("%s while %s is full: %d %q", other, ep, code, msg)
				}
			}
			for _, code := range release() {
				if code != http.StatusOK {
					t.Fatalf("a held request answered %d", code)
				}
			}
			if g := inFlightGauge(t, h.server.cfg.Registry, ep); g != 0 {
				t.Fatalf("in flight %v once all answered, want 0", g)
			}
			if code, _, msg, _ := get(h, ep, newMode("ok")); code != http.StatusOK {
				t.Fatalf("after the held requests: %d %q", code, msg)
			}
		})
	}
}

// Thousands of requests that succeed, fail, panic, or whose caller hangs
// up, side by side: the bound is never exceeded, and every slot comes back.
func TestTheReadBoundComesBackToIdleWhateverTheRequestsDo(t *testing.T) {
	const workers, each = 24, 125
	f := newReadTemporal()
	h := apiHarness(t, f)
	kinds := []string{"ok", "fail", "panic", "gone", "ok", "fail", "gone"}
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		wg     sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				ep := readEndpoints[(w+i)%len(readEndpoints)]
				kind := kinds[(w*each+i)%len(kinds)]
				code, _, _, panicked := get(h, ep, newMode(kind))
				outcome := fmt.Sprint(code)
				if panicked {
					outcome = "panic"
				}
				mu.Lock()
				counts[kind+" "+outcome]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("outcomes: %v", counts)
	for outcome := range counts {
		switch outcome {
		case "ok 200", "ok 429", "fail 503", "fail 429", "panic panic", "panic 429", "gone 503", "gone 429":
		default:
			t.Errorf("unexpected outcome %q", outcome)
		}
	}
	for _, path := range readEndpoints {
		ep := strings.TrimPrefix(path, "/api/v1/")
		if f.most[ep] > maxConcurrentReads {
			t.Errorf("%s: %d list calls at once, over the bound %d", ep, f.most[ep], maxConcurrentReads)
		}
		if f.most[ep] == 0 {
			t.Errorf("%s: no list call counted", ep)
		}
		if g := inFlightGauge(t, h.server.cfg.Registry, path); g != 0 {
			t.Errorf("%s: %v in flight once every request answered, want 0", ep, g)
		}
	}
	// Every slot is free: the bound's worth of held requests is let in.
	for _, ep := range readEndpoints {
		for _, code := range holdBound(t, h, ep)() {
			if code != http.StatusOK {
				t.Errorf("%s: a held request answered %d", ep, code)
			}
		}
	}
}
