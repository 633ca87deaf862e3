package workflows

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/alertflow/alertflow/silence"
	"github.com/alertflow/alertflow/visibility"
)

// silenceRefresh is how often a worker reads the silences again while
// alerts use them: a new silence holds notifications back within that
// long (plus the visibility store's lag). Most reads ask only for the
// silences started or ended since the last full read.
const silenceRefresh = 2 * time.Second

// silenceFullRead is how often a worker reads every running silence
// rather than the changes: with ten thousand silences a full read is ten
// pages that the server sorts, which every two seconds slowed every
// workflow on a small dev server (make bench, scenario silences).
const silenceFullRead = time.Minute

// SilenceOverlap is how far before the last full read the reads of
// changes look: a silence started just before it, but not yet listed by
// the visibility store, or whose start the server's clock puts earlier
// than the worker's, is still found.
const SilenceOverlap = 30 * time.Second

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
	full    time.Duration
	idle    time.Duration

	mu       sync.Mutex
	view     *silence.Set
	compiled map[string]compiledSilence
	// fullAt is when the last full read began (zero: read all next).
	fullAt  time.Time
	lastUse time.Time
	running bool
	lastErr error
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
	return &SilenceStore{client: c, metrics: metrics, logger: logger, every: silenceRefresh, full: silenceFullRead, idle: silenceIdle,
		compiled: map[string]compiledSilence{}, attempted: make(chan struct{})}
}

// RunningSilences is the visibility query of the silences that are not
// over (active or pending).
const RunningSilences = "WorkflowType = '" + SilenceWorkflowType + "' AND ExecutionStatus = 'Running'"

// endedSilences is the visibility query of the silences that are over.
const endedSilences = "WorkflowType = '" + SilenceWorkflowType + "' AND ExecutionStatus != 'Running'"

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

// read is the silences as they stand: every running one at the first
// read and every s.full, otherwise the last view with the silences
// started and ended since the last full read applied. Only silences new
// or changed since the last read are compiled.
func (s *SilenceStore) read(ctx context.Context) (*silence.Set, error) {
	s.mu.Lock()
	known, fullAt, view := s.compiled, s.fullAt, s.view
	s.mu.Unlock()
	began := time.Now()
	if view == nil || began.Sub(fullAt) >= s.full {
		compiled := make(map[string]compiledSilence, len(known))
		err := s.list(ctx, RunningSilences, func(run *workflowpb.WorkflowExecutionInfo) {
			if c, ok := compileListed(run, known); ok {
				compiled[run.GetExecution().GetWorkflowId()] = c
			}
		})
		if err != nil {
			return nil, err
		}
		s.keep(compiled, began)
		return setOf(compiled), nil
	}
	since := visibility.Time(fullAt.Add(-SilenceOverlap))
	compiled := known
	changed := false
	change := func() {
		if !changed {
			changed = true
			compiled = maps.Clone(known)
		}
	}
	// Started since, or expired early: a changed memo is found by the
	// attribute the silence sets with it.
	changes := RunningSilences + " AND (StartTime >= " + since + " OR " + AttrSilenceExpired.GetName() + " = true)"
	err := s.list(ctx, changes, func(run *workflowpb.WorkflowExecutionInfo) {
		c, ok := compileListed(run, compiled)
		id := run.GetExecution().GetWorkflowId()
		if ok && compiled[id].memo != c.memo {
			change()
			compiled[id] = c
		}
	})
	if err != nil {
		return nil, err
	}
	// The ended last: one that ended after the first list still goes.
	err = s.list(ctx, endedSilences+" AND CloseTime >= "+since, func(run *workflowpb.WorkflowExecutionInfo) {
		if _, ok := compiled[run.GetExecution().GetWorkflowId()]; ok {
			change()
			delete(compiled, run.GetExecution().GetWorkflowId())
		}
	})
	if err != nil {
		return nil, err
	}
	if !changed {
		return view, nil
	}
	s.keep(compiled, fullAt)
	return setOf(compiled), nil
}

// list calls each for every workflow query lists, page by page.
func (s *SilenceStore) list(ctx context.Context, query string, each func(*workflowpb.WorkflowExecutionInfo)) error {
	var token []byte
	for {
		resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			PageSize: silencePage, NextPageToken: token, Query: query,
		})
		if err != nil {
			return fmt.Errorf("list silences: %w", err)
		}
		for _, run := range resp.GetExecutions() {
			each(run)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return nil
		}
	}
}

// keep makes compiled the store's compiled silences, as of a full read
// begun at fullAt.
func (s *SilenceStore) keep(compiled map[string]compiledSilence, fullAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.compiled, s.fullAt = compiled, fullAt
}

// compileListed is the listed silence run compiled, from known when its
// memo is unchanged. ok is false for one that cannot hold anything: with
// no memo yet (started from the CLI a moment ago) or an invalid one (its
// own workflow fails it).
func compileListed(run *workflowpb.WorkflowExecutionInfo, known map[string]compiledSilence) (compiledSilence, bool) {
	p := run.GetMemo().GetFields()[MemoSilence]
	if p == nil {
		return compiledSilence{}, false
	}
	memo := string(p.GetData())
	if c, ok := known[run.GetExecution().GetWorkflowId()]; ok && c.memo == memo {
		return c, true
	}
	sl, ok := SilenceOf(run)
	if !ok {
		return compiledSilence{}, false
	}
	a, err := silence.Activate(sl)
	if err != nil {
		return compiledSilence{}, false
	}
	return compiledSilence{memo: memo, active: a}, true
}

// setOf indexes the compiled silences for matching.
func setOf(compiled map[string]compiledSilence) *silence.Set {
	all := make([]silence.Active, 0, len(compiled))
	for _, c := range compiled {
		all = append(all, c.active)
	}
	return silence.NewSet(all)
}

// Current reads silence id from its workflow's memo, not from the view:
// one expired early a moment ago may still be in it until its workflow
// ends and the next read of changes, or the next full read. ok is false
// when the silence is gone or unreadable.
func (s *SilenceStore) Current(ctx context.Context, id string) (silence.Active, bool, error) {
	desc, err := s.client.DescribeWorkflowExecution(ctx, id, "")
	if visibility.NotFound(err) {
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
