package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alertflow/alertflow/bench/gitlabday"
	"github.com/alertflow/alertflow/notify/webhook/contract"
)

// soakReceiver is a webhook receiver of the soak: it counts every
// notification it accepted by id, and answers 503 while failing is set.
type soakReceiver struct {
	url     string
	srv     *http.Server
	failing atomic.Bool

	mu    sync.Mutex
	got   map[string]int
	at    map[string][]time.Time // id → when each copy came, for ids that came again
	came  map[string]time.Time   // id → when it came first
	first map[string]time.Time   // alert ID → when its first opened came
}

func newSoakReceiver(name string) (*soakReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the %s receiver: %w", name, err)
	}
	rc := &soakReceiver{url: "http://" + ln.Addr().String() + "/" + name, got: map[string]int{}, at: map[string][]time.Time{}, came: map[string]time.Time{}, first: map[string]time.Time{}}
	rc.srv = &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = rc.srv.Serve(ln) }()
	return rc, nil
}

func (rc *soakReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	var p contract.Payload
	if err == nil {
		err = json.Unmarshal(raw, &p)
	}
	if err != nil || p.ID == "" {
		http.Error(w, "not an alertflow notification", http.StatusBadRequest)
		return
	}
	if rc.failing.Load() {
		http.Error(w, "receiver down", http.StatusServiceUnavailable)
		return
	}
	rc.mu.Lock()
	rc.got[p.ID]++
	now := time.Now()
	if first, again := rc.came[p.ID]; again {
		if len(rc.at[p.ID]) == 0 {
			rc.at[p.ID] = []time.Time{first}
		}
		rc.at[p.ID] = append(rc.at[p.ID], now)
	} else {
		rc.came[p.ID] = now
	}
	if _, ok := rc.first[p.Alert.ID]; !ok && p.Kind == contract.KindOpened {
		rc.first[p.Alert.ID] = time.Now()
	}
	rc.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// accepted is how often each notification id was accepted.
func (rc *soakReceiver) accepted() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]int, len(rc.got))
	for k, v := range rc.got {
		out[k] = v
	}
	return out
}

// times are when each copy of a notification that came more than once
// came.
func (rc *soakReceiver) times(id string) []time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.at[id])
}

// firstOpened is when each alert ID's first opened came.
func (rc *soakReceiver) firstOpened() map[string]time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]time.Time, len(rc.first))
	for k, v := range rc.first {
		out[k] = v
	}
	return out
}

func (rc *soakReceiver) close() { _ = rc.srv.Close() }

// silenceWork has people silence a project now and then over REST, for
// half a minute from a few seconds on, and end every other silence early,
// until ctx is done.
func (s *soakRun) silenceWork(ctx context.Context, branches []*gitlabday.Branch) {
	rng := rand.New(rand.NewPCG(s.o.seed, 42))
	client := &http.Client{Timeout: 30 * time.Second}
	auth := map[string]string{"Authorization": "Bearer " + s.apiToken, "Content-Type": "application/json"}
	for n := 0; ; n++ {
		select {
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
			return
		}
		// A maintenance window that starts in a few seconds: a worker
		// learns of a new silence within its list's age (2 s) plus the
		// visibility store's lag, which the replay does not model.
		project := branches[rng.IntN(len(branches))].ProjectID
		starts := time.Now().Add(5 * time.Second).UTC()
		body := fmt.Appendf(nil, `{"matchers":{"project_id":[%d]},"starts_at":%q,"ends_at":%q,"created_by":"soak-operator","comment":"maintenance"}`,
			project, starts.Format(time.RFC3339Nano), starts.Add(30*time.Second).Format(time.RFC3339Nano))
		code, raw, err := s.post(ctx, client, http.MethodPost, "http://"+s.intakeAt+"/api/v1/silences", auth, body)
		if ctx.Err() != nil {
			return
		}
		var made struct {
			ID string `json:"id"`
		}
		if err != nil || code != http.StatusCreated || json.Unmarshal(raw, &made) != nil {
			s.problem("create a silence: %d %s (%v)", code, raw, err)
			continue
		}
		s.silences.Add(1)
		if n%2 == 1 {
			id := made.ID
			go func() {
				select {
				case <-time.After(15 * time.Second):
				case <-ctx.Done():
					return
				}
				code, raw, err := s.post(ctx, client, http.MethodDelete, "http://"+s.intakeAt+"/api/v1/silences/"+id+"?by=soak-operator", auth, nil)
				if ctx.Err() == nil && (err != nil || code != http.StatusOK) {
					s.problem("expire silence %s: %d %s (%v)", id, code, raw, err)
				}
			}()
		}
	}
}

func (s *soakRun) silencesMade() int { return int(s.silences.Load()) }
