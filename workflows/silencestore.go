package workflows

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
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
// silences started or ended since the last read, less SilenceOverlap.
const silenceRefresh = 2 * time.Second

// silenceFullRead is how often a worker reads every running silence
// rather than the changes: with ten thousand silences a full read is ten
// pages that the server sorts, which every two seconds slowed every
// workflow on a small dev server (make bench, scenario silences). The
// reads of changes find every silence the visibility store lists within
// SilenceOverlap of its start or end; the full read is for one it listed
// later than that, under a backlog.
const silenceFullRead = 5 * time.Minute

// SilenceOverlap is how far before the last read the reads of changes
// look: a silence started just before it, but not yet listed by the
// visibility store, or whose start the server's clock puts earlier than
// the worker's, is still found. Looking back only this far, not to the
// last full read, keeps a read of changes small after a burst of new
// silences: ten thousand started in two minutes were each listed again
// every two seconds until the next full read.
const SilenceOverlap = 30 * time.Second

// silenceIdle is how long a worker keeps reading silences after the last
// notification that used them: an idle worker costs visibility nothing.
const silenceIdle = time.Minute

// silencePage is how many silences one visibility call reads; the store
// reads every page.
const silencePage = 1000

// silencePagePause is how long a full read waits between two pages. The
// dev server answers every call on one SQLite connection: ten pages back
// to back held it for some 400 ms, and every workflow task, alertflow's
// or anyone's, waited behind them (make bench, scenario silences: the
// floor's p99 was 2.5 × its own without silences while alertflow read
// them, and as without while it did not).
const silencePagePause = 100 * time.Millisecond

// SilenceStore keeps a worker's view of the silences. The view is read
// from the silences' workflows in the background, never by a notifying
// caller, who only waits when there is no view yet or it was idle; a read
// that fails keeps the last good view and says so in metrics. Each
// silence's matchers are compiled once, when it first appears.
type SilenceStore struct {
	client    client.Client
	metrics   client.MetricsHandler
	logger    *slog.Logger
	every     time.Duration
	full      time.Duration
	idle      time.Duration
	pagePause time.Duration
	overlap   time.Duration

	mu       sync.Mutex
	view     *silence.Set
	compiled map[string]compiledSilence
	// fullAt is when the last full read began (zero: read all next),
	// readAt when the last read did, full or of changes.
	fullAt  time.Time
	readAt  time.Time
	shape   *silenceQueries
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
		pagePause: silencePagePause, overlap: SilenceOverlap, compiled: map[string]compiledSilence{}, attempted: make(chan struct{})}
}

// RunningSilences is the visibility query of the silences that are not
// over (active or pending).
const RunningSilences = "WorkflowType = '" + SilenceWorkflowType + "' AND ExecutionStatus = 'Running'"

// endedSilences is the visibility query of the silences that are over.
const endedSilences = "WorkflowType = '" + SilenceWorkflowType + "' AND ExecutionStatus != 'Running'"

// sqlOpen is how a query of an SQL visibility store (SQLite, PostgreSQL,
// MySQL) says "still running" in the terms of its indexes: each sorts
// and indexes by COALESCE(close_time, this maximum), and CloseTime in a
// query stands for that expression, not for close_time.
const sqlOpen = "'9999-12-31T23:59:59Z'"

// silenceQueries are the reads of changes, shaped for the visibility
// store the server keeps. The plain shape is right on any store. On
// SQLite it filters every running silence row by row (ExecutionStatus
// is not part of the indexes' key after the workflow type): two reads of
// ten thousand rows every two seconds on the dev server's one SQLite
// connection. The SQL shape asks for the same silences as ranges of
// indexes, and reads only the rows it answers.
type silenceQueries struct {
	sql bool
}

// changed are the queries of the silences running that started since,
// or that were expired early.
func (q silenceQueries) changed(since string) []string {
	if !q.sql {
		return []string{RunningSilences + " AND (StartTime >= " + since + " OR " + AttrSilenceExpired.GetName() + " = true)"}
	}
	return []string{
		"WorkflowType = '" + SilenceWorkflowType + "' AND CloseTime = " + sqlOpen + " AND StartTime >= " + since + " AND " + visibility.Division,
		// Only silences carry the attribute: without the type, the
		// attribute's index is the one that fits.
		AttrSilenceExpired.GetName() + " = true AND CloseTime = " + sqlOpen + " AND " + visibility.Division,
	}
}

// ended is the query of the silences over since.
func (q silenceQueries) ended(since string) string {
	if !q.sql {
		return endedSilences + " AND CloseTime >= " + since
	}
	return "WorkflowType = '" + SilenceWorkflowType + "' AND CloseTime >= " + since + " AND CloseTime < " + sqlOpen + " AND " + visibility.Division
}

// sqlVisibility reports whether the server's visibility store, as
// GetClusterInfo names it, takes the SQL shape: SQLite only, the store
// it was measured and tested on (the dev server's). PostgreSQL and MySQL
// rewrite CloseTime the same way, but no test here runs the shape on
// them, so they keep the plain queries.
func sqlVisibility(store string) bool {
	return strings.EqualFold(strings.TrimSpace(store), "sqlite")
}

// queries are the reads of changes for the server's visibility store,
// asked of the server once. A server that cannot say gets the plain
// shape for good: right on any store, and one warning, not one a read.
func (s *SilenceStore) queries(ctx context.Context) silenceQueries {
	s.mu.Lock()
	shape := s.shape
	s.mu.Unlock()
	if shape != nil {
		return *shape
	}
	var q silenceQueries
	info, err := s.client.WorkflowService().GetClusterInfo(ctx, &workflowservice.GetClusterInfoRequest{})
	if err != nil {
		s.logger.Warn("The server's visibility store is unknown: silences are read with queries any store answers", "error", err)
	} else {
		q.sql = sqlVisibility(info.GetVisibilityStore())
	}
	s.mu.Lock()
	s.shape = &q
	s.mu.Unlock()
	return q
}

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
	for first := true; ; first = false {
		<-timer.C
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		view, err := s.read(ctx, first)
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
// started and ended since the last read (less SilenceOverlap) applied.
// Only silences new or changed since the last read are compiled. A store
// waking from idle (waking) with a view reads the changes first, however
// long it slept: a notification waits for that read, and a full one
// takes a second with its pauses; the full read follows.
func (s *SilenceStore) read(ctx context.Context, waking bool) (*silence.Set, error) {
	s.mu.Lock()
	known, fullAt, readAt, view := s.compiled, s.fullAt, s.readAt, s.view
	s.mu.Unlock()
	began := time.Now()
	if view == nil || !waking && began.Sub(fullAt) >= s.full {
		compiled := make(map[string]compiledSilence, len(known))
		err := s.list(ctx, RunningSilences, s.pagePause, func(run *workflowpb.WorkflowExecutionInfo) {
			if c, ok := compileListed(run, known); ok {
				compiled[run.GetExecution().GetWorkflowId()] = c
			}
		})
		if err != nil {
			return nil, err
		}
		s.keep(compiled, began, began)
		return setOf(compiled), nil
	}
	queries := s.queries(ctx)
	since := visibility.Time(readAt.Add(-s.overlap))
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
	for _, changes := range queries.changed(since) {
		err := s.list(ctx, changes, 0, func(run *workflowpb.WorkflowExecutionInfo) {
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
	}
	// The ended last: one that ended after the first list still goes.
	err := s.list(ctx, queries.ended(since), 0, func(run *workflowpb.WorkflowExecutionInfo) {
		if _, ok := compiled[run.GetExecution().GetWorkflowId()]; ok {
			change()
			delete(compiled, run.GetExecution().GetWorkflowId())
		}
	})
	if err != nil {
		return nil, err
	}
	if !changed {
		s.keep(known, fullAt, began)
		return view, nil
	}
	s.keep(compiled, fullAt, began)
	return setOf(compiled), nil
}

// list calls each for every workflow query lists, page by page, waiting
// pause between two pages.
func (s *SilenceStore) list(ctx context.Context, query string, pause time.Duration, each func(*workflowpb.WorkflowExecutionInfo)) error {
	var token []byte
	for page := 0; ; page++ {
		if page > 0 && pause > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("list silences: %w", ctx.Err())
			case <-time.After(pause):
			}
		}
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
// begun at fullAt and a read begun at readAt.
func (s *SilenceStore) keep(compiled map[string]compiledSilence, fullAt, readAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.compiled, s.fullAt, s.readAt = compiled, fullAt, readAt
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
