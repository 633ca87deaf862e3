package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/grpc"

	"github.com/alertflow/alertflow/route"
	"github.com/alertflow/alertflow/silence"
	"github.com/alertflow/alertflow/visibility"
)

// silenceServer is a client whose visibility lists the silences it holds,
// running or ended, page by page, as the store's queries ask, and fails
// while told to.
type silenceServer struct {
	client.Client
	// visibility is the store GetClusterInfo names ("" for none).
	visibility string
	mu         sync.Mutex
	running    []listedSilence
	ended      []listedSilence
	failing    bool
	lists      atomic.Int64
	listed     atomic.Int64
}

// listedSilence is a silence with its workflow's start and close times.
type listedSilence struct {
	silence.Silence
	start, close time.Time
}

func (f *silenceServer) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	f.lists.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing {
		return nil, errors.New("visibility unavailable")
	}
	q := req.GetQuery()
	// The shapes silenceQueries writes, each for the store it is for.
	sql := sqlVisibility(f.visibility)
	all, since, expired, onlyExpired := f.running, time.Time{}, false, false
	sqlSuffix := " AND " + visibility.Division
	switch {
	case q == RunningSilences:
	case !sql && strings.HasPrefix(q, RunningSilences+" AND (StartTime >= ") &&
		strings.HasSuffix(q, " OR "+AttrSilenceExpired.GetName()+" = true)"):
		since, expired = queryTime(q, "StartTime >= "), true
	case !sql && strings.HasPrefix(q, endedSilences+" AND CloseTime >= "):
		all, since = f.ended, queryTime(q, "CloseTime >= ")
	case sql && strings.HasPrefix(q, "WorkflowType = '"+SilenceWorkflowType+"' AND CloseTime = "+sqlOpen+" AND StartTime >= ") &&
		strings.HasSuffix(q, sqlSuffix):
		since = queryTime(q, "StartTime >= ")
	case sql && q == AttrSilenceExpired.GetName()+" = true AND CloseTime = "+sqlOpen+sqlSuffix:
		onlyExpired = true
	case sql && strings.HasPrefix(q, "WorkflowType = '"+SilenceWorkflowType+"' AND CloseTime >= ") &&
		strings.HasSuffix(q, " AND CloseTime < "+sqlOpen+sqlSuffix):
		all, since = f.ended, queryTime(q, "CloseTime >= ")
	default:
		return nil, fmt.Errorf("query %q not understood on visibility store %q", q, f.visibility)
	}
	var matching []listedSilence
	for _, sl := range all {
		at := sl.start
		if !sl.close.IsZero() {
			at = sl.close
		}
		switch {
		case onlyExpired:
			if !sl.ExpiredAt.IsZero() {
				matching = append(matching, sl)
			}
		case !at.Before(since) || expired && !sl.ExpiredAt.IsZero():
			matching = append(matching, sl)
		}
	}
	from := 0
	if len(req.GetNextPageToken()) > 0 {
		from, _ = strconv.Atoi(string(req.GetNextPageToken()))
	}
	to := min(from+int(req.GetPageSize()), len(matching))
	resp := &workflowservice.ListWorkflowExecutionsResponse{}
	for _, sl := range matching[from:to] {
		p, err := converter.GetDefaultDataConverter().ToPayload(sl.Silence)
		if err != nil {
			return nil, err
		}
		resp.Executions = append(resp.Executions, &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: sl.ID},
			Memo:      &commonpb.Memo{Fields: map[string]*commonpb.Payload{MemoSilence: p}},
		})
	}
	f.listed.Add(int64(to - from))
	if to < len(matching) {
		resp.NextPageToken = []byte(strconv.Itoa(to))
	}
	return resp, nil
}

// WorkflowService answers GetClusterInfo with f.visibility.
func (f *silenceServer) WorkflowService() workflowservice.WorkflowServiceClient {
	return clusterInfo{store: f.visibility}
}

// clusterInfo is a workflow service that only answers GetClusterInfo.
type clusterInfo struct {
	workflowservice.WorkflowServiceClient
	store string
}

func (c clusterInfo) GetClusterInfo(context.Context, *workflowservice.GetClusterInfoRequest, ...grpc.CallOption) (*workflowservice.GetClusterInfoResponse, error) {
	infoCalls.Add(1)
	if c.store == unreachable {
		return nil, errors.New("cluster info unavailable")
	}
	return &workflowservice.GetClusterInfoResponse{VisibilityStore: c.store}, nil
}

// unreachable is a visibility store whose server does not answer
// GetClusterInfo; infoCalls counts the calls, of every test.
const unreachable = "unreachable"

var infoCalls atomic.Int64

// queryTime is the datetime a query of changes asks from, after field.
func queryTime(q, field string) time.Time {
	v := q[strings.Index(q, field)+len(field):]
	t, _ := time.Parse(time.RFC3339Nano, strings.Trim(strings.Fields(v)[0], "'()"))
	return t
}

// set makes silences the running ones, started now unless running
// already; those running before and not among them end now.
func (f *silenceServer) set(silences []silence.Silence, failing bool) {
	f.setStarted(silences, time.Now(), failing)
}

// fail makes every list fail, or work again.
func (f *silenceServer) fail(failing bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing = failing
}

// setStarted is set with the new silences started at start.
func (f *silenceServer) setStarted(silences []silence.Silence, start time.Time, failing bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	was := map[string]listedSilence{}
	for _, sl := range f.running {
		was[sl.ID] = sl
	}
	var running []listedSilence
	for _, sl := range silences {
		l, ok := was[sl.ID]
		if !ok {
			l.start = start
		}
		delete(was, sl.ID)
		l.Silence = sl
		running = append(running, l)
	}
	for _, sl := range was {
		sl.close = now
		f.ended = append(f.ended, sl)
	}
	f.running, f.failing = running, failing
}

// projectSilences are n silences, the i-th of project group-i/app.
func projectSilences(t *testing.T, n int) []silence.Silence {
	t.Helper()
	start := time.Now().Add(-time.Minute)
	var out []silence.Silence
	for i := range n {
		m, _ := json.Marshal(map[string]string{"project": fmt.Sprintf("group-%d/app", i)})
		out = append(out, silence.Silence{ID: fmt.Sprintf("silence-%d", i), Matchers: m, StartsAt: start,
			EndsAt: start.Add(time.Hour), CreatedBy: "alice", CreatedAt: start})
	}
	return out
}

// gauges keeps the last value of each gauge and the counters' sums.
type gauges struct {
	mu     sync.Mutex
	values map[string]float64
}

func (g *gauges) WithTags(map[string]string) client.MetricsHandler { return g }
func (g *gauges) Counter(name string) client.MetricsCounter {
	return counterFunc(func(d int64) { g.mu.Lock(); g.values[name] += float64(d); g.mu.Unlock() })
}
func (g *gauges) Gauge(name string) client.MetricsGauge {
	return gaugeFunc(func(v float64) { g.mu.Lock(); g.values[name] = v; g.mu.Unlock() })
}
func (g *gauges) Timer(name string) client.MetricsTimer { return client.MetricsNopHandler.Timer(name) }
func (g *gauges) get(name string) float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.values[name]
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

func silenced(t *testing.T, set *silence.Set, project string) string {
	t.Helper()
	l := route.Labels{Project: project, Ref: "main"}
	a, ok := silence.Silencing(set.Candidates(l), l, time.Now())
	if !ok {
		return ""
	}
	return a.ID
}

// Every running silence counts, however many pages they take: the first,
// a middle and the last of 2 500 each hold their project.
func TestSilenceStoreReadsEveryPageOfSilences(t *testing.T) {
	srv := &silenceServer{}
	srv.set(projectSilences(t, 2500), false)
	s := NewSilenceStore(srv, nil, slog.New(slog.DiscardHandler))
	set, err := s.Active(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 2500 {
		t.Fatalf("the view holds %d silences, want 2500", set.Len())
	}
	for _, i := range []int{0, 1250, 2499} {
		if got, want := silenced(t, set, fmt.Sprintf("group-%d/app", i)), fmt.Sprintf("silence-%d", i); got != want {
			t.Errorf("project group-%d/app silenced by %q, want %s", i, got, want)
		}
	}
}

// Callers never read the silences themselves: a burst of checks costs the
// reads of the background refresh only.
func TestSilenceStoreBurstOfChecksCostsOneRead(t *testing.T) {
	srv := &silenceServer{}
	srv.set(projectSilences(t, 1500), false)
	m := &gauges{values: map[string]float64{}}
	s := NewSilenceStore(srv, m, slog.New(slog.DiscardHandler))
	s.every = time.Hour // no refresh but the first during the burst
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() {
			if set, err := s.Active(context.Background()); err != nil || set.Len() != 1500 {
				t.Errorf("a caller got %d silences, %v", set.Len(), err)
			}
		})
	}
	wg.Wait()
	if n := srv.lists.Load(); n != 2 {
		t.Fatalf("1000 checks made %d list calls, want the 2 pages of one read", n)
	}
	if m.get(MetricSilences) != 1500 || m.get(MetricSilenceViewStale) != 0 {
		t.Fatalf("metrics %v after a good read", m.values)
	}
}

// A refresh that fails keeps the last good view and says so in metrics;
// the next that works puts the view right.
func TestSilenceStoreKeepsTheLastGoodViewThroughAFailedRefresh(t *testing.T) {
	srv := &silenceServer{}
	srv.set(projectSilences(t, 1500), false)
	m := &gauges{values: map[string]float64{}}
	s := NewSilenceStore(srv, m, slog.New(slog.DiscardHandler))
	s.every = 5 * time.Millisecond
	if set, err := s.Active(context.Background()); err != nil || set.Len() != 1500 {
		t.Fatalf("first view: %d silences, %v", set.Len(), err)
	}
	srv.fail(true)
	waitFor(t, "a failed refresh", func() bool { return m.get(MetricSilenceRefreshFailures) > 0 })
	set, err := s.Active(context.Background())
	if err != nil || set.Len() != 1500 || m.get(MetricSilenceViewStale) != 1 {
		t.Fatalf("after a failed refresh: %d silences, %v, stale=%v; want the last good view", set.Len(), err, m.get(MetricSilenceViewStale))
	}
	srv.set(projectSilences(t, 10), false)
	waitFor(t, "a refresh after the failure", func() bool {
		set, _ := s.Active(context.Background())
		return set.Len() == 10 && m.get(MetricSilenceViewStale) == 0
	})
}

// A warmed store has its view before anyone asks: the first check does
// not wait for a read.
func TestSilenceStoreWarmReadsBeforeTheFirstCheck(t *testing.T) {
	srv := &silenceServer{}
	srv.set(projectSilences(t, 10), false)
	s := NewSilenceStore(srv, nil, slog.New(slog.DiscardHandler))
	s.Warm()
	waitFor(t, "the warm read", func() bool { return srv.lists.Load() == 1 })
	waitFor(t, "the view", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.view != nil
	})
	if set, err := s.Active(context.Background()); err != nil || set.Len() != 10 || srv.lists.Load() != 1 {
		t.Fatalf("after a warm read: %d silences, %v, %d reads", set.Len(), err, srv.lists.Load())
	}
}

// Without any view (the store never read one), a failed read is the
// caller's error: the routing then sends, rather than lose a page.
func TestSilenceStoreWithoutAViewAnswersTheReadError(t *testing.T) {
	srv := &silenceServer{}
	srv.set(nil, true)
	s := NewSilenceStore(srv, nil, slog.New(slog.DiscardHandler))
	if set, err := s.Active(context.Background()); err == nil || set != nil {
		t.Fatalf("no view and a failing server: %v, %v; want an error", set, err)
	}
}

// The refresh and the compiled silences come back to idle: thousands of
// reads, full and of changes, some failing, while thousands of silences
// come and go; the cache holds only those listed, and the refresher stops
// once nobody asks.
func TestSilenceStoreComesBackToIdle(t *testing.T) {
	before := runtime.NumGoroutine()
	srv := &silenceServer{}
	m := &gauges{values: map[string]float64{}}
	s := NewSilenceStore(srv, m, slog.New(slog.DiscardHandler))
	s.every, s.full, s.idle = time.Millisecond, 20*time.Millisecond, 50*time.Millisecond
	all := projectSilences(t, 3000)
	for round := range 30 {
		if round%3 == 2 {
			// A stretch of failed reads: the last good view stays.
			failed := m.get(MetricSilenceRefreshFailures)
			srv.fail(true)
			waitFor(t, "failed reads", func() bool {
				_, _ = s.Active(context.Background()) // in use: the refresher keeps reading
				return m.get(MetricSilenceRefreshFailures) >= failed+5
			})
			if set, err := s.Active(context.Background()); err != nil || set.Len() != 100 {
				t.Fatalf("round %d, reads failing: %d silences, %v; want the last good view", round, set.Len(), err)
			}
		}
		want := all[round*100 : round*100+100]
		srv.set(want, false)
		waitFor(t, "the view of round "+strconv.Itoa(round), func() bool {
			set, err := s.Active(context.Background())
			return err == nil && set.Len() == 100 && silenced(t, set, fmt.Sprintf("group-%d/app", round*100)) == want[0].ID
		})
		s.mu.Lock()
		cached := len(s.compiled)
		s.mu.Unlock()
		if cached != 100 {
			t.Fatalf("round %d: %d compiled silences kept, want the 100 listed", round, cached)
		}
		// Some reads of this round's silences, full and of changes.
		lists := srv.lists.Load()
		waitFor(t, "reads of round "+strconv.Itoa(round), func() bool {
			_, _ = s.Active(context.Background())
			return srv.lists.Load() >= lists+40
		})
	}
	if n := srv.lists.Load(); n < 1000 {
		t.Fatalf("%d list calls, want thousands", n)
	}
	waitFor(t, "the refresher to stop", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return !s.running
	})
	waitFor(t, "goroutines back", func() bool { return runtime.NumGoroutine() <= before })
}

// Between full reads the store asks only for what changed: silences
// started and ended since the last full read reach the view, and no read
// lists the thousands that did not change.
func TestSilenceStoreReadsOnlyTheChangesBetweenFullReads(t *testing.T) {
	eachVisibility(t, func(t *testing.T, store string) {
		all := projectSilences(t, 5005)
		srv, s := viewedStore(t, store, all[:5000], time.Now().Add(-time.Hour), 5000, func(s *SilenceStore) { s.every = time.Millisecond })
		afterFull := srv.listed.Load()
		// Three started, silence-0 and silence-1 ended.
		srv.set(append(all[2:5000:5000], all[5000:5003]...), false)
		waitFor(t, "the changes in the view", func() bool {
			set, err := s.Active(context.Background())
			return err == nil && set.Len() == 5001 && silenced(t, set, "group-5002/app") == "silence-5002" &&
				silenced(t, set, "group-0/app") == "" && silenced(t, set, "group-1/app") == ""
		})
		reads := srv.lists.Load()
		waitFor(t, "a hundred more reads", func() bool { return srv.lists.Load() >= reads+200 })
		if listed := srv.listed.Load() - afterFull; listed >= 5000 {
			t.Fatalf("the reads of changes listed %d silences, want only the changed (a full read lists 5000)", listed)
		}
		if set, _ := s.Active(context.Background()); set.Len() != 5001 {
			t.Fatalf("the view holds %d silences after reads of no change, want 5001", set.Len())
		}
	})
}

// A silence expired early, whose workflow still runs to release its
// alerts, leaves the view at the next read of changes, though it started
// long before the last full read: it sets the attribute they ask for.
func TestSilenceStoreSeesAnEarlyExpiryBeforeTheNextFullRead(t *testing.T) {
	eachVisibility(t, func(t *testing.T, store string) {
		srv := &silenceServer{visibility: store}
		all := projectSilences(t, 10)
		srv.setStarted(all, time.Now().Add(-time.Hour), false)
		s := NewSilenceStore(srv, nil, slog.New(slog.DiscardHandler))
		s.every = time.Millisecond
		if set, err := s.Active(context.Background()); err != nil || silenced(t, set, "group-3/app") != "silence-3" {
			t.Fatalf("first view: %v, %v; want group-3/app silenced", set, err)
		}
		expired := slices.Clone(all)
		expired[3].ExpiredAt, expired[3].ExpiredBy = time.Now(), "bob"
		srv.set(expired, false)
		waitFor(t, "the expiry in the view", func() bool {
			set, err := s.Active(context.Background())
			return err == nil && set.Len() == 10 && silenced(t, set, "group-3/app") == "" && silenced(t, set, "group-4/app") == "silence-4"
		})
	})
}

// A silence the visibility store lists late, with a start the server put
// before the last full read, is still found by the reads of changes.
func TestSilenceStoreFindsASilenceListedLateWithinTheOverlap(t *testing.T) {
	eachVisibility(t, func(t *testing.T, store string) {
		all := projectSilences(t, 11)
		srv, s := viewedStore(t, store, all[:10], time.Now(), 10, func(s *SilenceStore) { s.every = time.Millisecond })
		srv.setStarted(all, time.Now().Add(-SilenceOverlap/2), false)
		waitFor(t, "the late silence in the view", func() bool {
			set, err := s.Active(context.Background())
			return err == nil && silenced(t, set, "group-10/app") == "silence-10"
		})
	})
}

// Every s.full the store reads every silence again: one that no read of
// changes can find (listed only long after its start) still reaches the
// view.
func TestSilenceStoreReadsEverySilenceAgainEachFullPeriod(t *testing.T) {
	eachVisibility(t, func(t *testing.T, store string) {
		all := projectSilences(t, 11)
		srv, s := viewedStore(t, store, all[:10], time.Now(), 10, func(s *SilenceStore) { s.every, s.full = time.Millisecond, 50*time.Millisecond })
		srv.setStarted(all, time.Now().Add(-time.Hour), false)
		waitFor(t, "the next full read", func() bool {
			set, err := s.Active(context.Background())
			return err == nil && silenced(t, set, "group-10/app") == "silence-10"
		})
	})
}

// viewedStore is a store over a server keeping visibility in store, with
// running started at start, tuned by tune and with its first view read,
// which must hold want silences.
func viewedStore(t *testing.T, store string, running []silence.Silence, start time.Time, want int, tune func(*SilenceStore)) (*silenceServer, *SilenceStore) {
	t.Helper()
	srv := &silenceServer{visibility: store}
	srv.setStarted(running, start, false)
	s := NewSilenceStore(srv, nil, slog.New(slog.DiscardHandler))
	tune(s)
	if set, err := s.Active(context.Background()); err != nil || set.Len() != want {
		t.Fatalf("first view: %d silences, %v; want %d", set.Len(), err, want)
	}
	return srv, s
}

// eachVisibility runs test against a server keeping visibility in
// SQLite, and in Elasticsearch: the store reads changes in a shape of
// its own for each.
func eachVisibility(t *testing.T, test func(t *testing.T, store string)) {
	for _, store := range []string{"sqlite", "elasticsearch"} {
		t.Run(store, func(t *testing.T) { test(t, store) })
	}
}

// After a burst of new silences, the reads of changes list them only
// until the overlap has passed, not again at every read until the next
// full read.
func TestSilenceStoreListsABurstOfNewSilencesOnlyWithinTheOverlap(t *testing.T) {
	eachVisibility(t, func(t *testing.T, store string) {
		all := projectSilences(t, 1010)
		srv, s := viewedStore(t, store, all[:10], time.Now(), 10, func(s *SilenceStore) { s.every, s.overlap = time.Millisecond, 20*time.Millisecond })
		srv.set(all, false)
		waitFor(t, "the burst in the view", func() bool {
			set, err := s.Active(context.Background())
			return err == nil && set.Len() == 1010
		})
		// The overlap is a span of time: it has to pass. Then the read
		// under way, which may have begun within it, has to end: reads
		// follow each other, so ten more lists end it.
		time.Sleep(2 * s.overlap)
		reads := srv.lists.Load()
		waitFor(t, "the read under way to end", func() bool { return srv.lists.Load() >= reads+10 })
		listed, reads := srv.listed.Load(), srv.lists.Load()
		waitFor(t, "a hundred more reads", func() bool { return srv.lists.Load() >= reads+200 })
		if again := srv.listed.Load() - listed; again >= 1000 {
			t.Fatalf("a hundred reads of changes after the overlap listed %d silences, want none of the burst again", again)
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// The SQL shape is only for SQLite, as GetClusterInfo names it; a server
// that also writes another store (dual visibility), another SQL store,
// or one that says nothing, gets the plain one.
func TestSqlVisibilityIsSQLiteAlone(t *testing.T) {
	for store, want := range map[string]bool{
		"sqlite": true, "SQLite": true, "postgres12": false, "postgres12_pgx": false, "mysql8": false, "postgres12,sqlite": false,
		"elasticsearch": false, "": false, "sqlite,elasticsearch": false,
	} {
		if got := sqlVisibility(store); got != want {
			t.Errorf("sqlVisibility(%q) = %v, want %v", store, got, want)
		}
	}
}

// A store waking from idle with a view reads the changes since its last
// read first, which a waiting notification gets at once, and every
// silence only after that, its full read being due.
func TestSilenceStoreWakingFromIdleReadsTheChangesFirst(t *testing.T) {
	eachVisibility(t, func(t *testing.T, store string) {
		all := projectSilences(t, 3001)
		srv, s := viewedStore(t, store, all[:3000], time.Now().Add(-time.Hour), 3000, func(s *SilenceStore) {
			s.every, s.idle, s.full = time.Millisecond, 20*time.Millisecond, 10*time.Millisecond
		})
		waitFor(t, "the store idle", func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return !s.running
		})
		srv.set(all, false)
		listed := srv.listed.Load()
		set, err := s.Active(context.Background())
		if err != nil || silenced(t, set, "group-3000/app") != "silence-3000" {
			t.Fatalf("the view on waking: %v; want the silence started while idle", err)
		}
		if woke := srv.listed.Load() - listed; woke >= 3000 {
			t.Fatalf("waking listed %d silences, want only the one started while idle", woke)
		}
		waitFor(t, "the full read after waking", func() bool {
			_, _ = s.Active(context.Background()) // in use, so that it reads on
			return srv.listed.Load()-listed >= 3001
		})
	})
}

// A server that cannot name its visibility store is read in the plain
// shape, which any store answers, and is asked once, not at every read.
func TestSilenceStoreAsksTheVisibilityStoreOnce(t *testing.T) {
	calls := infoCalls.Load()
	all := projectSilences(t, 11)
	srv, s := viewedStore(t, unreachable, all[:10], time.Now(), 10, func(s *SilenceStore) { s.every = time.Millisecond })
	srv.set(all, false)
	waitFor(t, "the new silence in the view", func() bool {
		set, err := s.Active(context.Background())
		return err == nil && silenced(t, set, "group-10/app") == "silence-10"
	})
	reads := srv.lists.Load()
	waitFor(t, "a hundred more reads", func() bool { return srv.lists.Load() >= reads+100 })
	if asked := infoCalls.Load() - calls; asked != 1 {
		t.Fatalf("GetClusterInfo asked %d times, want once", asked)
	}
}
