package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/alertflow/alertflow/silence"
)

// silenceRefresh is how often a worker reads the silences again while
// alerts use them: a new silence holds notifications back within that
// long (plus the visibility store's lag).
const silenceRefresh = 2 * time.Second

// silenceIdle is how long a worker keeps reading silences after the last
// notification that used them: an idle worker costs visibility nothing.
const silenceIdle = time.Minute

// silencePage is how many silences one visibility call reads; the store
// reads every page.
const silencePage = 1000

// SilenceStore keeps a worker's view of the silences. The view is read
// from the silences' workflows in the background, never by a notifying
// caller, who only waits when there is no view yet or it was idle; a read
// that fails keeps the last good view and says so in metrics. Each
// silence's matchers are compiled once, when it first appears.
type SilenceStore struct {
	client  client.Client
	metrics client.MetricsHandler
	logger  *slog.Logger
	every   time.Duration
	idle    time.Duration

	mu       sync.Mutex
	view     *silence.Set
	compiled map[string]compiledSilence
	lastUse  time.Time
	running  bool
	lastErr  error
	// attempted is closed, and replaced, after each read.
	attempted chan struct{}
}

// compiledSilence is a silence as its memo read, with its matchers
// compiled: a memo unchanged since the last read is not compiled again.
type compiledSilence struct {
	memo   string
	active silence.Active
}

// The store's metrics.
const (
	// MetricSilenceRefreshFailures counts reads of the silences that
	// failed; the last good view stays in use meanwhile.
	MetricSilenceRefreshFailures = "alertflow_silence_refresh_failures"
	// MetricSilenceViewStale is 1 while the last read failed, 0 after one
	// that worked.
	MetricSilenceViewStale = "alertflow_silence_view_stale"
	// MetricSilences is how many silences the view holds.
	MetricSilences = "alertflow_silences"
)

// NewSilenceStore returns the silences kept on the server c talks to,
// with its metrics recorded on metrics (nil for none).
func NewSilenceStore(c client.Client, metrics client.MetricsHandler, logger *slog.Logger) *SilenceStore {
	if metrics == nil {
		metrics = client.MetricsNopHandler
	}
	return &SilenceStore{client: c, metrics: metrics, logger: logger, every: silenceRefresh, idle: silenceIdle,
		compiled: map[string]compiledSilence{}, attempted: make(chan struct{})}
}

// RunningSilences is the visibility query of the silences that are not
// over (active or pending).
const RunningSilences = "WorkflowType = '" + SilenceWorkflowType + "' AND ExecutionStatus = 'Running'"

// Warm starts reading the silences now, for a worker about to start: its
// first notification then finds a view instead of waiting for one, which
// with thousands of silences on a loaded machine can take seconds.
func (s *SilenceStore) Warm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastUse = time.Now()
	if !s.running {
		s.running = true
		go s.refresh()
	}
}

// Active is the view of the silences not over yet (active, or still to
// start). It waits only when the store has no view, or was idle: then for
// the next read, or until ctx ends. A failed read with an earlier view
// answers that view; with none, the error.
func (s *SilenceStore) Active(ctx context.Context) (*silence.Set, error) {
	s.mu.Lock()
	s.lastUse = time.Now()
	wasRunning := s.running
	if !s.running {
		s.running = true
		go s.refresh()
	}
	if wasRunning && s.view != nil {
		defer s.mu.Unlock()
		return s.view, nil
	}
	next := s.attempted
	s.mu.Unlock()
	select {
	case <-next:
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.view != nil {
		return s.view, nil
	}
	if s.lastErr != nil {
		return nil, s.lastErr
	}
	return nil, fmt.Errorf("list silences: %w", ctx.Err())
}

// refresh reads the silences every s.every until nobody used them for
// s.idle.
func (s *SilenceStore) refresh() {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for range timer.C {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		view, err := s.read(ctx)
		cancel()
		s.mu.Lock()
		if err != nil {
			s.lastErr = err
			s.metrics.Counter(MetricSilenceRefreshFailures).Inc(1)
			s.metrics.Gauge(MetricSilenceViewStale).Update(1)
		} else {
			s.view, s.lastErr = view, nil
			s.metrics.Gauge(MetricSilenceViewStale).Update(0)
			s.metrics.Gauge(MetricSilences).Update(float64(view.Len()))
		}
		close(s.attempted)
		s.attempted = make(chan struct{})
		if time.Since(s.lastUse) > s.idle {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		if err != nil {
			s.logger.Warn("Silences could not be read: the last good view stays in use", "error", err)
		}
		timer.Reset(s.every)
	}
}

// read lists every running silence, page by page, compiling only those
// new or changed since the last read.
func (s *SilenceStore) read(ctx context.Context) (*silence.Set, error) {
	s.mu.Lock()
	known := s.compiled
	s.mu.Unlock()
	compiled := make(map[string]compiledSilence, len(known))
	var all []silence.Active
	var token []byte
	for {
		resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			PageSize: silencePage, NextPageToken: token, Query: RunningSilences,
		})
		if err != nil {
			return nil, fmt.Errorf("list silences: %w", err)
		}
		for _, run := range resp.GetExecutions() {
			p := run.GetMemo().GetFields()[MemoSilence]
			if p == nil {
				continue // started from the CLI a moment ago: no memo yet
			}
			id := run.GetExecution().GetWorkflowId()
			memo := string(p.GetData())
			c, ok := known[id]
			if !ok || c.memo != memo {
				sl, ok := SilenceOf(run)
				if !ok {
					continue
				}
				a, err := silence.Activate(sl)
				if err != nil {
					continue // its own workflow fails it
				}
				c = compiledSilence{memo: memo, active: a}
			}
			if _, dup := compiled[id]; dup {
				continue // listed on two pages while the list changed
			}
			compiled[id] = c
			all = append(all, c.active)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	s.mu.Lock()
	s.compiled = compiled
	s.mu.Unlock()
	return silence.NewSet(all), nil
}

// Current reads silence id from its workflow's memo, not from the list:
// one expired early a moment ago may still be in a list up to
// silenceListTTL old, plus the visibility store's lag. ok is false when
// the silence is gone or unreadable.
func (s *SilenceStore) Current(ctx context.Context, id string) (silence.Active, bool, error) {
	desc, err := s.client.DescribeWorkflowExecution(ctx, id, "")
	if isNotFound(err) {
		return silence.Active{}, false, nil
	}
	if err != nil {
		return silence.Active{}, false, fmt.Errorf("read silence %s: %w", id, err)
	}
	sl, ok := SilenceOf(desc.GetWorkflowExecutionInfo())
	if !ok {
		return silence.Active{}, false, nil
	}
	a, err := silence.Activate(sl)
	if err != nil {
		return silence.Active{}, false, nil
	}
	return a, true, nil
}

// SilenceOf reads the silence a listed silence workflow keeps in its memo.
func SilenceOf(run *workflowpb.WorkflowExecutionInfo) (silence.Silence, bool) {
	p := run.GetMemo().GetFields()[MemoSilence]
	if p == nil {
		return silence.Silence{}, false
	}
	var sl silence.Silence
	if err := converter.GetDefaultDataConverter().FromPayload(p, &sl); err != nil {
		return silence.Silence{}, false
	}
	if sl.CreatedAt.IsZero() {
		// Started with the temporal CLI, whose input has no created_at:
		// it was made when its workflow started.
		sl.CreatedAt = run.GetStartTime().AsTime().UTC()
	}
	return sl, true
}

// ReleaseSilenced signals every open alert silence id holds that it was
// expired early, and returns how many it told.
func (s *SilenceStore) ReleaseSilenced(ctx context.Context, id string) (int, error) {
	query := AttrSilencedBy.GetName() + " = " + quoteQueryValue(id) + " AND ExecutionStatus = 'Running'"
	var token []byte
	told := 0
	for {
		resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			PageSize: 500, NextPageToken: token, Query: query,
		})
		if err != nil {
			return told, fmt.Errorf("list the alerts silence %s holds: %w", id, err)
		}
		for _, run := range resp.GetExecutions() {
			err := s.client.SignalWorkflow(ctx, run.GetExecution().GetWorkflowId(), "", SignalSilenceEnded, id)
			if err != nil && !isNotFound(err) {
				return told, fmt.Errorf("tell alert %s that silence %s ended: %w", run.GetExecution().GetWorkflowId(), id, err)
			}
			told++
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return told, nil
		}
	}
}

// isNotFound says the alert completed between listing and signalling it:
// it has nothing left to hand over.
func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
