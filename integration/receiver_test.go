package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/webhook"
	"github.com/alertflow/alertflow/notify/webhook/contract"
)

// The scripted webhook receiver every notification test delivers to.

// receiverMode is how a scriptedReceiver answers.
type receiverMode int

const (
	modeAccept receiverMode = iota
	modeFail                // 500
	modeHang                // hold the request until released, then 503
)

// scriptedReceiver is a webhook receiver that checks every request as an
// integrator's would (signature, payload, headers), and answers as the test
// scripts it: 503 to the first failFirst attempts of every notification,
// then in mode, holding every notification of kind holdKind until released.
type scriptedReceiver struct {
	secret string
	// failFirst is set before the first request.
	failFirst int
	// path is the only path it takes requests on: a retry from another
	// test, to a port that test's receiver has freed, gets 404 and is not
	// counted. Notifiers post to the server's URL plus path.
	path string

	mu       sync.Mutex
	mode     receiverMode
	holdKind contract.Kind
	release  chan struct{}
	released bool
	held     chan struct{} // closed when a request is first held
	failed   int           // answered 500
	hung     int           // held in modeHang
	attempts map[string]int
	accepted map[string]int
	payloads []contract.Payload // accepted, in order
	refused  []string
}

func newScriptedReceiver(t *testing.T, secret string) (*scriptedReceiver, *httptest.Server) {
	rc := &scriptedReceiver{secret: secret, path: "/" + t.Name(), release: make(chan struct{}), held: make(chan struct{}),
		attempts: map[string]int{}, accepted: map[string]int{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	// Cleanups run last first: held requests go before the server closes.
	t.Cleanup(rc.releaseAll)
	return rc, srv
}

func (rc *scriptedReceiver) setMode(m receiverMode) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.mode = m
}

func (rc *scriptedReceiver) releaseAll() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !rc.released {
		rc.released = true
		close(rc.release)
	}
}

func (rc *scriptedReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != rc.path {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	rc.mu.Lock()
	refuse := func(code int, why string) {
		rc.refused = append(rc.refused, why)
		rc.mu.Unlock()
		http.Error(w, why, code)
	}
	if err != nil {
		refuse(http.StatusBadRequest, "unreadable body: "+err.Error())
		return
	}
	if !contract.Verify(rc.secret, body, r.Header.Get(contract.HeaderSignature)) {
		refuse(http.StatusUnauthorized, "bad signature")
		return
	}
	var p contract.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		refuse(http.StatusBadRequest, "malformed payload: "+err.Error())
		return
	}
	if p.ID == "" || r.Header.Get(contract.HeaderIdempotencyKey) != p.ID || r.Header.Get(contract.HeaderEvent) != string(p.Kind) {
		refuse(http.StatusBadRequest, fmt.Sprintf("payload %s %q does not match headers %v", p.Kind, p.ID, r.Header))
		return
	}
	rc.attempts[p.ID]++
	if rc.attempts[p.ID] <= rc.failFirst {
		rc.mu.Unlock()
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	hold := p.Kind == rc.holdKind && !rc.released
	switch {
	case hold || rc.mode == modeHang:
		if rc.mode == modeHang && !hold {
			rc.hung++
		}
		select {
		case <-rc.held:
		default:
			close(rc.held)
		}
		release := rc.release
		rc.mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		if !hold || r.Context().Err() != nil {
			http.Error(w, "was hanging", http.StatusServiceUnavailable)
			return
		}
		rc.mu.Lock()
		rc.accept(w, p)
	case rc.mode == modeFail:
		rc.failed++
		rc.mu.Unlock()
		http.Error(w, "receiver down", http.StatusInternalServerError)
	default:
		rc.accept(w, p)
	}
}

// accept records p and answers 200; rc.mu is held and released here.
func (rc *scriptedReceiver) accept(w http.ResponseWriter, p contract.Payload) {
	rc.accepted[p.ID]++
	rc.payloads = append(rc.payloads, p)
	rc.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// snapshot returns what the receiver has seen so far.
func (rc *scriptedReceiver) snapshot() (failed, hung int, attempts, accepted map[string]int, payloads []contract.Payload, refused []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	clone := func(m map[string]int) map[string]int {
		c := make(map[string]int, len(m))
		for k, v := range m {
			c[k] = v
		}
		return c
	}
	return rc.failed, rc.hung, clone(rc.attempts), clone(rc.accepted), slices.Clone(rc.payloads), slices.Clone(rc.refused)
}

// waitReceiver polls until ok accepts what the receiver has accepted.
func (rc *scriptedReceiver) waitReceiver(t *testing.T, what string, ok func(failed, hung int, payloads []contract.Payload) bool) {
	t.Helper()
	err := poll(context.Background(), settleWithin, func() error {
		failed, hung, _, _, payloads, refused := rc.snapshot()
		if len(refused) > 0 {
			return fmt.Errorf("refused requests: %q", refused)
		}
		if !ok(failed, hung, payloads) {
			return fmt.Errorf("%d answered 500, %d hung, accepted %s", failed, hung, kindsOf(payloads))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the receiver never saw %s: %v", what, err)
	}
}

func kindsOf(ps []contract.Payload) string {
	var ks []string
	for _, p := range ps {
		ks = append(ks, fmt.Sprintf("%s(#%d %s)", p.Kind, pipelineIDOf(p), p.Alert.Severity))
	}
	return "[" + strings.Join(ks, " ") + "]"
}

func pipelineIDOf(p contract.Payload) int64 {
	if p.Alert.Pipeline == nil {
		return 0
	}
	return p.Alert.Pipeline.ID
}

// holdResolvedNotification opens an alert on project's main with the failed
// pipeline failed, resolves it with the successful pipeline succeeded, and
// returns once the receiver holds the resolved notification: the resolved
// run cannot complete until the receiver lets it go.
func holdResolvedNotification(t *testing.T, project, failed, succeeded int64) (*stack, *scriptedReceiver, answer) {
	t.Helper()
	const secret = "reliability-secret"
	rc, receiver := newScriptedReceiver(t, secret)
	rc.holdKind = contract.KindResolved
	s := newStackWith(t, webhook.New(receiver.URL+rc.path, secret, notify.DefaultHTTPClient()))
	first := s.mustSignal(payload(t, project, "main", failed, alert.PipelineFailed))
	rc.waitReceiver(t, "the first opened", func(_, _ int, ps []contract.Payload) bool { return len(ps) == 1 })
	s.mustSignal(payload(t, project, "main", succeeded, alert.PipelineSuccess))
	select {
	case <-rc.held:
	case <-time.After(settleWithin):
		t.Fatal("the resolved notification never reached the receiver")
	}
	return s, rc, first
}
