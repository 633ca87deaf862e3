package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/stats"
	"github.com/alertflow/alertflow/workflows"
	"github.com/alertflow/alertflow/workflows/metricstest"
)

// newMeasuredStack is newStack whose worker's client records the alert
// histograms.
func newMeasuredStack(t *testing.T) (*stack, *metricstest.Recorder) {
	t.Helper()
	requireServer(t)
	m := metricstest.New(workflows.MetricSeverityTag, workflows.MetricTimeToAcknowledge, workflows.MetricTimeToResolve)
	c, err := client.Dial(client.Options{HostPort: devServer.FrontendHostPort(), Namespace: "default", Logger: quietLogger(), MetricsHandler: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s := newStack(t)
	// The intake keeps the shared client; the worker runs on the measured one.
	s.stopWorker()
	s.client = c
	s.startWorker()
	return s, m
}

func (s *stack) stats(params url.Values) ingress.StatsAnswer {
	s.t.Helper()
	code, body := s.apiCall(http.MethodGet, "/api/v1/stats?"+params.Encode(), nil)
	if code != http.StatusOK {
		s.t.Fatalf("stats %v: %d %s", params, code, body)
	}
	var a ingress.StatsAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		s.t.Fatal(err)
	}
	return a
}

func (s *stack) act(id, action string, body any) alert.State {
	s.t.Helper()
	code, out := s.apiCall(http.MethodPost, "/api/v1/alerts/"+id+"/"+action, body)
	var st alert.State
	if code != http.StatusOK || json.Unmarshal(out, &st) != nil {
		s.t.Fatalf("%s %s: %d %s", action, id, code, out)
	}
	return st
}

// spreadOf is the median and 90th percentile of two durations, as the
// stats answer computes them.
func spreadOf(a, b time.Duration) (median, p90 float64) {
	lo, hi := min(a, b).Seconds(), max(a, b).Seconds()
	return lo + (hi-lo)/2, lo + (hi-lo)*0.9
}

func near(got *float64, want float64) bool {
	return got != nil && math.Abs(*got-want) < 0.002
}

func TestTheStatsAndHistogramsCountTheAlertsTheTestOpensAcknowledgesAndResolves(t *testing.T) {
	t.Parallel() // own task queue and project ids 1501 and 1502
	s, m := newMeasuredStack(t)
	const project, other = 1501, 1502

	// Alert 1 on main: acknowledged and resolved by hand.
	began := time.Now()
	id := s.mustSignal(payload(t, project, "main", 100, "failed")).AlertID
	s.waitState(id, isOpen)
	acked1 := s.act(id, "acknowledge", alert.Acknowledgement{By: "carol"})
	first := s.act(id, "resolve", alert.Resolution{By: "carol"})
	s.waitClosed(id)
	span1 := time.Since(began)

	// Alert 2 on the same ref, a new run: acknowledged, then resolved by
	// a green pipeline.
	began = time.Now()
	s.mustSignal(payload(t, project, "main", 101, "failed"))
	s.waitState(id, func(st *alert.State) error {
		if st.Status != alert.StatusOpen || st.Pipeline.ID != 101 {
			return fmt.Errorf("status %s pipeline %v", st.Status, st.Pipeline)
		}
		return nil
	})
	acked2 := s.act(id, "acknowledge", alert.Acknowledgement{By: "dave"})
	s.mustSignal(payload(t, project, "main", 102, "success"))
	_, second := s.waitClosed(id)
	span2 := time.Since(began)
	if second.Status != alert.StatusResolved || second.OpenedAt != acked2.OpenedAt {
		t.Fatalf("second alert ended %s, opened %v (acknowledged one opened %v)", second.Status, second.OpenedAt, acked2.OpenedAt)
	}

	// Alert 3 on dev stays open; alert 4 is another project's.
	dev := s.mustSignal(payload(t, project, "dev", 103, "failed")).AlertID
	s.waitState(dev, isOpen)
	elsewhere := s.mustSignal(payload(t, other, "main", 104, "failed")).AlertID
	s.waitState(elsewhere, isOpen)
	fourth := s.act(elsewhere, "resolve", alert.Resolution{By: "erin"})
	s.waitClosed(elsewhere)

	tta1, tta2 := acked1.AcknowledgedAt.Sub(acked1.OpenedAt), acked2.AcknowledgedAt.Sub(acked2.OpenedAt)
	ttr1, ttr2 := first.ResolvedAt.Sub(first.OpenedAt), second.ResolvedAt.Sub(second.OpenedAt)
	for _, c := range []struct {
		name      string
		got, span time.Duration
	}{{"tta1", tta1, span1}, {"ttr1", ttr1, span1}, {"tta2", tta2, span2}, {"ttr2", ttr2, span2}} {
		if c.got <= 0 || c.got > c.span {
			t.Fatalf("%s %s is outside (0, %s], the time the test took", c.name, c.got, c.span)
		}
	}

	// The numbers, once visibility lists every run.
	var got ingress.StatsAnswer
	err := poll(context.Background(), 30*time.Second, func() error {
		got = s.stats(url.Values{"project_id": {"1501"}, "since": {"1h"}})
		if got.Alerts.Opened != 3 || got.Alerts.Resolved != 2 || got.Runs.Listed != 3 {
			return fmt.Errorf("answered %+v runs %+v", got.Alerts, got.Runs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.MarshalIndent(got, "", "  ")
	t.Logf("stats:\n%s", raw)
	if want := (stats.Counts{Opened: 3, Acknowledged: 2, Resolved: 2, Active: 1}); got.Alerts != want {
		t.Fatalf("counts %+v, want %+v", got.Alerts, want)
	}
	if got.Runs != (ingress.StatsRuns{Listed: 3, Read: 3, Limit: got.Runs.Limit}) || got.Runs.Limit <= 0 {
		t.Fatalf("runs %+v", got.Runs)
	}
	median, p90 := spreadOf(tta1, tta2)
	if a := got.TimeToAcknowledge; a.Count != 2 || !near(a.MedianSeconds, median) || !near(a.P90Seconds, p90) {
		t.Fatalf("time to acknowledge %+v, want median %.3f p90 %.3f", a, median, p90)
	}
	median, p90 = spreadOf(ttr1, ttr2)
	if r := got.TimeToResolve; r.Count != 2 || !near(r.MedianSeconds, median) || !near(r.P90Seconds, p90) {
		t.Fatalf("time to resolve %+v, want median %.3f p90 %.3f", r, median, p90)
	}
	if len(got.TopRefs) != 2 || got.TopRefs[0].Ref != "main" || got.TopRefs[0].Alerts != 2 || got.TopRefs[1].Ref != "dev" || got.TopRefs[1].Alerts != 1 {
		t.Fatalf("top refs %+v", got.TopRefs)
	}
	if got.Since != "1h0m0s" || got.ProjectID != project || !strings.Contains(got.Source, "retention") {
		t.Fatalf("echo %q %d %q", got.Since, got.ProjectID, got.Source)
	}
	// Filtered to a ref, and to the other project.
	if main := s.stats(url.Values{"project_id": {"1501"}, "ref": {"main"}}); main.Alerts.Opened != 2 || main.Alerts.Active != 0 {
		t.Fatalf("ref main: %+v", main.Alerts)
	}
	if o := s.stats(url.Values{"project_id": {"1502"}}); o.Alerts.Opened != 1 || o.Alerts.Resolved != 1 || o.TimeToResolve.Count != 1 {
		t.Fatalf("project 1502: %+v", o.Alerts)
	}

	// The histograms got each time once, at the alert's severity.
	want := []string{
		fmt.Sprintf("%s HIGH %s", workflows.MetricTimeToAcknowledge, tta1),
		fmt.Sprintf("%s HIGH %s", workflows.MetricTimeToAcknowledge, tta2),
		fmt.Sprintf("%s HIGH %s", workflows.MetricTimeToResolve, ttr1),
		fmt.Sprintf("%s HIGH %s", workflows.MetricTimeToResolve, ttr2),
		fmt.Sprintf("%s HIGH %s", workflows.MetricTimeToResolve, fourth.ResolvedAt.Sub(fourth.OpenedAt)),
	}
	slices.Sort(want)
	sorted := func() []string {
		rec := m.Recorded()
		slices.Sort(rec)
		return rec
	}
	if rec := sorted(); !slices.Equal(rec, want) {
		t.Fatalf("histograms got %q, want %q", rec, want)
	}
	// A query of a closed run makes the worker replay it whole, through
	// the acknowledge and the resolve: nothing is recorded again.
	replayed := s.queryClosedRuns(3, id, elsewhere)
	if replayed != 3 {
		t.Fatalf("replayed %d closed runs, want 3", replayed)
	}
	if rec := sorted(); !slices.Equal(rec, want) {
		t.Fatalf("after the replays the histograms got %q, want %q", rec, want)
	}
}

// queryClosedRuns queries the state of every completed run of the ids,
// once visibility lists want of them, and returns how many answered.
func (s *stack) queryClosedRuns(want int, ids ...string) int {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type run struct{ id, runID string }
	var runs []run
	err := poll(ctx, 30*time.Second, func() error {
		runs = nil
		for _, id := range ids {
			resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Query: "WorkflowId = '" + id + "' AND ExecutionStatus = 'Completed'",
			})
			if err != nil {
				return err
			}
			for _, e := range resp.GetExecutions() {
				runs = append(runs, run{id, e.GetExecution().GetRunId()})
			}
		}
		if len(runs) != want {
			return fmt.Errorf("%d completed runs listed, want %d", len(runs), want)
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	n := 0
	for _, r := range runs {
		st, err := workflows.QueryAlert(ctx, s.client, r.id, r.runID)
		if err != nil || st.Status != alert.StatusResolved {
			s.t.Fatalf("closed run %s of %s: %v %+v", r.runID, r.id, err, st)
		}
		n++
	}
	return n
}
