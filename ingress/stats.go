package ingress

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/stats"
	"github.com/alertflow/alertflow/visibility"
	"github.com/alertflow/alertflow/workflows"
)

// Bounds of GET /api/v1/stats.
const (
	// defaultStatsSince is the window when the request names none.
	defaultStatsSince = 720 * time.Hour
	// maxStatsSince is the longest window: a year and a day. Temporal
	// keeps closed runs for the namespace's retention, rarely that long.
	maxStatsSince = 366 * 24 * time.Hour
	// maxStatsRuns caps the runs read for one answer: those visibility
	// lists first are read, and Runs.Truncated says that more matched.
	maxStatsRuns = 2000
	// statsReaders is how many runs are read at once.
	statsReaders = 8
	// statsTimeout bounds the whole answer, inside the HTTP write timeout.
	statsTimeout = 20 * time.Second
	// statsRunTimeout bounds the reading of one run: a query of an open
	// run waits for a worker.
	statsRunTimeout = 5 * time.Second
)

// statsSource says where the numbers come from, in every answer.
const statsSource = "Temporal: alert runs started within since, open and closed, as far back as the namespace's retention keeps closed runs"

// StatsAnswer is the answer of GET /api/v1/stats.
type StatsAnswer struct {
	Since     string `json:"since"`
	ProjectID int64  `json:"project_id,omitempty"`
	Ref       string `json:"ref,omitempty"`
	stats.Report
	Runs   StatsRuns `json:"runs"`
	Source string    `json:"source"`
}

// StatsRuns says how much of Temporal an answer read.
type StatsRuns struct {
	// Listed are the alert runs started within the window that match.
	Listed int `json:"listed"`
	// Read are those whose alert was read.
	Read int `json:"read"`
	// Continued are runs whose alert lives on in a later run, which
	// counts it: an alert is counted once.
	Continued int `json:"continued"`
	// Unreadable are runs whose alert could not be read (no worker
	// answered the query of an open run, say); they are not counted.
	Unreadable int `json:"unreadable"`
	// Limit is the most runs one answer reads; Truncated says that more
	// matched and were left out.
	Limit     int  `json:"limit"`
	Truncated bool `json:"truncated"`
}

// historyReader reads a run's history. The Temporal client has it; it is
// not part of Temporal, which the webhook path needs, so that fakes of the
// intake need not have it.
type historyReader = visibility.HistoryReader

// statsRequest is what GET /api/v1/stats asks for.
type statsRequest struct {
	since     time.Duration
	projectID int64
	ref       string
	// clauses narrow the visibility query.
	clauses []string
}

// parseSince reads a window as a Go duration ("720h", "90m") or in days
// ("30d").
func parseSince(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n != n {
			return 0, errors.New("not a duration")
		}
		if n > float64(maxStatsSince/(24*time.Hour))+1 {
			return maxStatsSince + 1, nil
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(v)
}

func statsQuery(q map[string][]string) (statsRequest, *ErrorAnswer) {
	get := func(name string) string {
		if v := q[name]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	req := statsRequest{since: defaultStatsSince}
	if v := get("since"); v != "" {
		d, err := parseSince(v)
		switch {
		case err != nil:
			return req, &ErrorAnswer{Field: "since", Error: "since must be a duration like 720h, 90m or 30d"}
		case d <= 0:
			return req, &ErrorAnswer{Field: "since", Error: "since must be more than zero"}
		case d > maxStatsSince:
			return req, &ErrorAnswer{Field: "since", Error: "since must be at most 8784h (366 days)"}
		}
		req.since = d
	}
	if p := get("project_id"); p != "" {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil || id <= 0 {
			return req, &ErrorAnswer{Field: "project_id", Error: "project_id must be a positive integer"}
		}
		req.projectID = id
		req.clauses = append(req.clauses, workflows.AttrProjectID.GetName()+" = "+strconv.FormatInt(id, 10))
	}
	if v := q["ref"]; len(v) > 0 && v[0] != "" {
		if !utf8.ValidString(v[0]) {
			return req, &ErrorAnswer{Field: "ref", Error: "ref must be valid UTF-8"}
		}
		if strings.ContainsFunc(v[0], unicode.IsControl) {
			return req, &ErrorAnswer{Field: "ref", Error: "ref must not contain control characters"}
		}
		// No literal holding " or \ matches in Temporal's SQLite and
		// PostgreSQL visibility stores (see refClause). Narrowed to its
		// prefix, as the alert list does, such a ref read every alert run
		// of the window up to the limit, and counted what the limit left
		// of the ref. Git refuses a backslash in a ref; a double quote is
		// rare: refused rather than counted wrong.
		if strings.ContainsAny(v[0], `"\`) {
			return req, &ErrorAnswer{Field: "ref", Error: `ref must not contain " or \: Temporal's SQLite and PostgreSQL visibility stores cannot match such a ref; ask for its project_id and read top_refs`}
		}
		req.ref = v[0]
		req.clauses = append(req.clauses, workflows.AttrRef.GetName()+" = "+visibility.Quote(v[0]))
	}
	return req, nil
}

func (s *Server) alertStats(w http.ResponseWriter, r *http.Request) {
	req, bad := statsQuery(r.URL.Query())
	if bad != nil {
		writeJSON(w, http.StatusBadRequest, bad)
		return
	}
	hist, ok := s.temporal.(historyReader)
	if !ok {
		writeError(w, http.StatusNotImplemented, "", "this intake's Temporal client cannot read histories")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), statsTimeout)
	defer cancel()
	now := time.Now().UTC()
	from := now.Add(-req.since)
	runs, truncated, err := s.listStatsRuns(ctx, req, from)
	if err != nil {
		s.unavailable(w, r, "stats_list", "", err)
		return
	}
	states, counted := s.readStatsRuns(ctx, hist, runs)
	if ctx.Err() != nil {
		writeError(w, http.StatusServiceUnavailable, "",
			fmt.Sprintf("reading %d alert runs took longer than %s: ask for a shorter since, or one project_id or ref", len(runs), statsTimeout))
		return
	}
	counted.Listed, counted.Limit, counted.Truncated = len(runs), maxStatsRuns, truncated
	writeJSON(w, http.StatusOK, StatsAnswer{
		Since:     req.since.String(),
		ProjectID: req.projectID,
		Ref:       req.ref,
		Report:    stats.Compute(states, from, now, stats.DefaultTopRefs),
		Runs:      counted,
		Source:    statsSource,
	})
}

// listStatsRuns lists the alert runs started since from that match, at
// most maxStatsRuns of them; truncated says more matched.
func (s *Server) listStatsRuns(ctx context.Context, req statsRequest, from time.Time) (runs []*workflowpb.WorkflowExecutionInfo, truncated bool, err error) {
	clauses := append([]string{
		"WorkflowType = " + visibility.Quote(workflows.WorkflowType),
		"StartTime >= " + visibility.Quote(from.Format(time.RFC3339Nano)),
	}, req.clauses...)
	query := strings.Join(clauses, " AND ")
	var token []byte
	for {
		resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: query, PageSize: int32(min(maxPageSize, maxStatsRuns+1)), NextPageToken: token,
		})
		if err != nil {
			return nil, false, fmt.Errorf("list alert runs (%s): %w", query, err)
		}
		runs = append(runs, resp.GetExecutions()...)
		token = resp.GetNextPageToken()
		if len(runs) > maxStatsRuns {
			return runs[:maxStatsRuns], true, nil
		}
		if len(token) == 0 {
			return runs, false, nil
		}
	}
}

// readStatsRuns reads the alert of each run, statsReaders at a time.
func (s *Server) readStatsRuns(ctx context.Context, hist historyReader, runs []*workflowpb.WorkflowExecutionInfo) ([]alert.State, StatsRuns) {
	var (
		mu      sync.Mutex
		states  []alert.State
		counted StatsRuns
		wg      sync.WaitGroup
	)
	slots := make(chan struct{}, statsReaders)
	for _, run := range runs {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			// Out of time: the caller answers 503 once the readers under
			// way are done.
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			rctx, cancel := context.WithTimeout(ctx, statsRunTimeout)
			defer cancel()
			st, continued, err := s.readStatsRun(rctx, hist, run)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				counted.Unreadable++
				s.logger.WarnContext(ctx, "stats: alert run not read",
					"alert_id", run.GetExecution().GetWorkflowId(), "run_id", run.GetExecution().GetRunId(), "error", err)
			case continued:
				counted.Continued++
			default:
				counted.Read++
				states = append(states, *st)
			}
		}()
	}
	wg.Wait()
	return states, counted
}

// readStatsRun reads the alert a run ended with, or the alert as it is
// while the run is open. A run that continued as new with its alert
// (its history was full) reports continued: the later run counts it. A run
// that continued as new with the events of a new alert ended its own
// alert first: it and every other run without a result (terminated, say)
// is asked by the state query, which a worker answers by replaying it.
func (s *Server) readStatsRun(ctx context.Context, hist historyReader, run *workflowpb.WorkflowExecutionInfo) (st *alert.State, continued bool, err error) {
	id, runID := run.GetExecution().GetWorkflowId(), run.GetExecution().GetRunId()
	switch run.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		end, err := visibility.End(ctx, hist, id, runID)
		if err != nil {
			return nil, false, err
		}
		if end.Result != nil || end.CarriedOn {
			return end.Result, end.CarriedOn, nil
		}
	}
	q, err := workflows.QueryAlert(ctx, s.temporal, id, runID)
	if err != nil {
		return nil, false, fmt.Errorf("query run %s of %s: %w", runID, id, err)
	}
	return q, false, nil
}
