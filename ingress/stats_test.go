package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/stats"
	"github.com/alertflow/alertflow/workflows"
)

func TestTheStatsEndpointAnswersBadParametersWith400NamingThem(t *testing.T) {
	tests := []struct {
		query, field string
	}{
		{"since=soon", "since"},
		{"since=0", "since"},
		{"since=-5h", "since"},
		{"since=0d", "since"},
		{"since=NaNd", "since"},
		{"since=8785h", "since"},
		{"since=400d", "since"},
		{"since=99999999999999999999h", "since"},
		{"project_id=abc", "project_id"},
		{"project_id=0", "project_id"},
		{"project_id=-4", "project_id"},
		{"ref=" + url.QueryEscape("main\x00"), "ref"},
		{"ref=%ff", "ref"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			h := newHarness(t, 0)
			rec, answer := h.api(t, http.MethodGet, "/api/v1/stats?"+tt.query, testAPIToken, "")
			if rec.Code != http.StatusBadRequest || answer["field"] != tt.field || answer["error"] == "" {
				t.Fatalf("%d %v, want 400 naming %s", rec.Code, answer, tt.field)
			}
			if len(h.temporal.queries) != 0 {
				t.Fatalf("a bad request reached Temporal: %v", h.temporal.queries)
			}
		})
	}
}

func TestTheStatsEndpointNeedsTheBearerToken(t *testing.T) {
	h := newHarness(t, 0)
	rec, answer := h.api(t, http.MethodGet, "/api/v1/stats", "", "")
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("%d %v, want 401", rec.Code, answer)
	}
}

func TestStatsQueryReadsTheWindowAndTheFilters(t *testing.T) {
	tests := []struct {
		query   string
		since   time.Duration
		clauses string
	}{
		{"", 720 * time.Hour, ""},
		{"since=90m", 90 * time.Minute, ""},
		{"since=30d", 720 * time.Hour, ""},
		{"since=1.5d&project_id=42", 36 * time.Hour, "GitLabProjectID = 42"},
		{"since=8784h&ref=main", 8784 * time.Hour, "GitLabRef = 'main'"},
		{"ref=" + url.QueryEscape("it's"), 720 * time.Hour, `GitLabRef = 'it\'s'`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			req, bad := statsQuery(q)
			if bad != nil {
				t.Fatalf("refused: %+v", bad)
			}
			if req.since != tt.since || strings.Join(req.clauses, " AND ") != tt.clauses {
				t.Fatalf("since %s clauses %q", req.since, req.clauses)
			}
		})
	}
}

// statsTemporal is a Temporal with alert runs to list, the close events of
// the closed ones and the answers of state queries, by run id.
type statsTemporal struct {
	fakeTemporal
	runs    []*workflowpb.WorkflowExecutionInfo
	closes  map[string]*historypb.HistoryEvent
	states  map[string]*alert.State
	queried []string
}

func (f *statsTemporal) ListWorkflow(context.Context, *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	return &workflowservice.ListWorkflowExecutionsResponse{Executions: f.runs}, nil
}

func (f *statsTemporal) QueryWorkflow(_ context.Context, _, runID, _ string, _ ...any) (converter.EncodedValue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queried = append(f.queried, runID)
	st, ok := f.states[runID]
	if !ok {
		return nil, errors.New("no worker answered")
	}
	return stateValue{st}, nil
}

func (f *statsTemporal) GetWorkflowHistory(_ context.Context, _, runID string, _ bool, _ enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	return &closeEvents{ev: f.closes[runID]}
}

type stateValue struct{ st *alert.State }

func (v stateValue) HasValue() bool { return true }

func (v stateValue) Get(ptr any) error {
	raw, err := json.Marshal(v.st)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, ptr)
}

type closeEvents struct{ ev *historypb.HistoryEvent }

func (it *closeEvents) HasNext() bool { return it.ev != nil }

func (it *closeEvents) Next() (*historypb.HistoryEvent, error) {
	ev := it.ev
	it.ev = nil
	return ev, nil
}

func (f *statsTemporal) run(runID string, status enumspb.WorkflowExecutionStatus) {
	f.runs = append(f.runs, &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: "7-main", RunId: runID}, Status: status})
}

func payloadsOf(t *testing.T, v any) *commonpb.Payloads {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayloads(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTheStatsCountEachAlertOnceWhateverRunsItSpans(t *testing.T) {
	opened := time.Now().Add(-time.Hour).UTC()
	state := func(at time.Duration, status alert.Status) *alert.State {
		return &alert.State{ID: "7-main", Project: alert.Project{ID: 7}, Ref: "main", Status: status, Severity: alert.SeverityHigh,
			OpenedAt: opened.Add(at), ResolvedAt: opened.Add(at + 10*time.Minute), Counts: alert.Counts{Events: 2}}
	}
	f := &statsTemporal{closes: map[string]*historypb.HistoryEvent{}, states: map[string]*alert.State{}}
	// Alert 1 spans two runs: the first continued as new with it.
	f.run("r1", enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW)
	f.closes["r1"] = &historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_WorkflowExecutionContinuedAsNewEventAttributes{
		WorkflowExecutionContinuedAsNewEventAttributes: &historypb.WorkflowExecutionContinuedAsNewEventAttributes{
			Input: payloadsOf(t, workflows.Input{State: state(0, alert.StatusOpen)})}}}
	f.run("r2", enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW)
	// The second run resolved it and continued with a new failure: its
	// alert is asked of the run itself.
	f.closes["r2"] = &historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_WorkflowExecutionContinuedAsNewEventAttributes{
		WorkflowExecutionContinuedAsNewEventAttributes: &historypb.WorkflowExecutionContinuedAsNewEventAttributes{
			Input: payloadsOf(t, workflows.Input{Pending: []alert.Event{{}}})}}}
	f.states["r2"] = state(0, alert.StatusResolved)
	// Alert 2 completed.
	f.run("r3", enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	f.closes["r3"] = &historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_WorkflowExecutionCompletedEventAttributes{
		WorkflowExecutionCompletedEventAttributes: &historypb.WorkflowExecutionCompletedEventAttributes{
			Result: payloadsOf(t, state(20*time.Minute, alert.StatusResolved))}}}
	// Alert 3 is open; a terminated run nobody can answer for.
	f.run("r4", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING)
	f.states["r4"] = state(40*time.Minute, alert.StatusOpen)
	f.run("r5", enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED)

	api, err := ParseTokens("api=" + testAPIToken)
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Config{TaskQueue: "alertflow", APIToken: api}, f, slog.New(slog.DiscardHandler))
	req := httptest.NewRequest(http.MethodGet, "/api/v1/stats?since=2h", nil)
	req.Header.Set("Authorization", "Bearer "+testAPIToken)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	var got StatsAnswer
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &got) != nil {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if want := (stats.Counts{Opened: 3, Resolved: 2, Active: 1}); got.Alerts != want {
		t.Fatalf("counts %+v, want %+v", got.Alerts, want)
	}
	if want := (StatsRuns{Listed: 5, Read: 3, Continued: 1, Unreadable: 1, Limit: maxStatsRuns}); got.Runs != want {
		t.Fatalf("runs %+v, want %+v", got.Runs, want)
	}
	slices.Sort(f.queried)
	if want := []string{"r2", "r4", "r5"}; !slices.Equal(f.queried, want) {
		t.Fatalf("queried %v, want %v", f.queried, want)
	}
}

// blockingTemporal answers no query until the caller gives up, as when no
// worker polls the task queue.
type blockingTemporal struct{ statsTemporal }

func (f *blockingTemporal) QueryWorkflow(ctx context.Context, _, _, _ string, _ ...any) (converter.EncodedValue, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestReadingStatsRunsStopsWhenTimeIsUpAndWaitsForTheReadersUnderWay(t *testing.T) {
	f := &blockingTemporal{}
	for i := range 3 * statsReaders {
		f.run(fmt.Sprintf("r%d", i), enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING)
	}
	srv := New(Config{TaskQueue: "alertflow"}, f, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	states, counted := srv.readStatsRuns(ctx, f, f.runs)
	if ctx.Err() == nil {
		t.Fatal("reading returned before the time was up, with every query blocked")
	}
	// Only the first batch was started; each gave up with the deadline.
	if len(states) != 0 || counted.Read != 0 || counted.Unreadable != statsReaders {
		t.Fatalf("states %d, counted %+v, want %d unreadable", len(states), counted, statsReaders)
	}
}

// listedStats is a statsTemporal that records the visibility queries.
type listedStats struct {
	statsTemporal
	listed []string
}

func (f *listedStats) ListWorkflow(ctx context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	f.mu.Lock()
	f.listed = append(f.listed, req.GetQuery())
	f.mu.Unlock()
	return f.statsTemporal.ListWorkflow(ctx, req)
}

// Temporal's SQLite and PostgreSQL visibility stores match no literal
// holding " or \ (see refClause): such a ref is refused, and any other is
// one exact literal of the query.
func TestTheStatsRefFilterIsExactOrRefused(t *testing.T) {
	tests := []struct {
		ref     string
		refused bool
	}{
		{`"main`, true},
		{`\main`, true},
		{`ma"in`, true},
		{`main\`, true},
		{`a'b`, false},
		{`'`, false},
		{"x' OR GitLabRef != '", false},
		{"feature/ümlaut", false},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			f := &listedStats{}
			h := apiHarness(t, f)
			rec, answer := h.api(t, http.MethodGet, "/api/v1/stats?"+url.Values{"ref": {tt.ref}}.Encode(), testAPIToken, "")
			if tt.refused {
				if rec.Code != http.StatusBadRequest || answer["field"] != "ref" || len(f.listed) != 0 {
					t.Fatalf("%d %v after %d queries, want 400 naming ref and no query", rec.Code, answer, len(f.listed))
				}
				return
			}
			if rec.Code != http.StatusOK || len(f.listed) != 1 {
				t.Fatalf("%d %v after queries %q, want 200 after one", rec.Code, answer, f.listed)
			}
			code, literals, ok := visibilityLiterals(f.listed[0])
			if !ok || !strings.HasSuffix(code, " AND GitLabRef = ?") || literals[len(literals)-1] != tt.ref {
				t.Fatalf("query %q, want it to end in GitLabRef = %q", f.listed[0], tt.ref)
			}
			if answer["ref"] != tt.ref {
				t.Fatalf("the answer names ref %v, want %q", answer["ref"], tt.ref)
			}
		})
	}
}
