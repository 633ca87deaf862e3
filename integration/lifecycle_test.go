package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/workflows"
)

func isOpen(st *alert.State) error {
	if st.Status != alert.StatusOpen {
		return fmt.Errorf("status %s", st.Status)
	}
	return nil
}

func TestTheTemporalCLIAcknowledgesByUpdateAndResolvesBySignal(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)
	s.mustSignal(payload(t, 10, "master", 100, "failed"))
	s.waitState("10-master", isOpen)

	// The exact spellings docs/api.md gives, through the real binary.
	out := temporalCLI(t, "workflow", "update", "execute", "--workflow-id", "10-master",
		"--name", "acknowledge", "--input", `{"by":"bob","note":"looking"}`)
	st := s.waitState("10-master", func(st *alert.State) error {
		if st.Status != alert.StatusAcknowledged {
			return fmt.Errorf("status %s after the update (CLI said %s)", st.Status, out)
		}
		return nil
	})
	if st.AcknowledgedBy != "bob" || st.AckNote != "looking" {
		t.Fatalf("acknowledged by %q note %q", st.AcknowledgedBy, st.AckNote)
	}
	waitListed(t, "WorkflowId='10-master' AND AlertStatus='acknowledged'", "10-master")

	temporalCLI(t, "workflow", "signal", "--workflow-id", "10-master",
		"--name", "resolve", "--input", `{"by":"alice","reason":"flaky runner"}`)
	status, final := s.waitClosed("10-master")
	if status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || final.ResolvedBy != "alice" || final.Resolution != "resolved by hand: flaky runner" {
		t.Fatalf("closed as %s: %s by %q", status, final.Resolution, final.ResolvedBy)
	}
	recordHistory(t, "cli-acknowledge-update-resolve-signal", "10-master")

	// An update on the resolved alert is refused: there is no open alert.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := temporalCLICommand(ctx, "workflow", "update", "execute", "--workflow-id", "10-master",
		"--name", "acknowledge", "--input", `{"by":"bob"}`)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("an update on a resolved alert succeeded: %s", out)
	}
}

func TestTheTemporalCLIRejectsAnUpdateWithoutBy(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)
	s.mustSignal(payload(t, 11, "master", 110, "failed"))
	s.waitState("11-master", isOpen)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := temporalCLICommand(ctx, "workflow", "update", "execute", "--workflow-id", "11-master",
		"--name", "resolve", "--input", `{"reason":"who knows"}`).CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte(`is required`)) {
		t.Fatalf("update without by: err %v, output %s", err, out)
	}
	if st, _ := s.state(ctx, "11-master"); st.Status != alert.StatusOpen {
		t.Fatalf("a rejected update changed the alert to %s", st.Status)
	}
}

// apiCall sends one REST API request with the bearer token.
func (s *stack) apiCall(method, path string, body any) (int, []byte) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.http.URL+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, out
}

func (s *stack) listAlerts(params url.Values) []ingress.AlertSummary {
	s.t.Helper()
	code, body := s.apiCall(http.MethodGet, "/api/v1/alerts?"+params.Encode(), nil)
	if code != http.StatusOK {
		s.t.Fatalf("list %v: %d %s", params, code, body)
	}
	var list ingress.AlertList
	if err := json.Unmarshal(body, &list); err != nil {
		s.t.Fatal(err)
	}
	return list.Alerts
}

func (s *stack) waitListedByAPI(params url.Values, id string) ingress.AlertSummary {
	s.t.Helper()
	var found ingress.AlertSummary
	err := poll(context.Background(), 30*time.Second, func() error {
		for _, a := range s.listAlerts(params) {
			if a.ID == id {
				found = a
				return nil
			}
		}
		return fmt.Errorf("%s not listed for %v", id, params)
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return found
}

func TestTheRESTAPIListsShowsAcknowledgesAndResolves(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)
	const ref = "fix/it's-broken"
	a := s.mustSignal(payload(t, 12, ref, 120, "failed"))
	id := a.AlertID
	s.mustSignal(payload(t, 12, "main", 121, "skipped"))
	s.waitState(id, isOpen)

	// A filter value with a quote in it finds exactly its alert.
	got := s.waitListedByAPI(url.Values{"ref": {ref}, "project_id": {"12"}}, id)
	if got.Severity != "HIGH" || got.Status != "open" || got.Ref != ref || got.Title == "" {
		t.Fatalf("listed %+v", got)
	}
	if all := s.listAlerts(url.Values{"ref": {ref}}); len(all) != 1 {
		t.Fatalf("ref filter listed %d alerts, want 1: %+v", len(all), all)
	}
	// Injection attempts stay literal values and match nothing.
	for _, evil := range []string{"x' OR GitLabProjectID=12 OR GitLabRef='y", `\' OR 1=1`, "main' OR 'a'='a"} {
		code, body := s.apiCall(http.MethodGet, "/api/v1/alerts?"+url.Values{"ref": {evil}}.Encode(), nil)
		var list ingress.AlertList
		_ = json.Unmarshal(body, &list)
		if code != http.StatusOK || len(list.Alerts) != 0 {
			t.Fatalf("ref %q: %d with %d alerts: %s", evil, code, len(list.Alerts), body)
		}
	}
	s.waitListedByAPI(url.Values{"project_id": {"12"}, "severity": {"LOW"}}, "12-main")

	code, body := s.apiCall(http.MethodGet, "/api/v1/alerts/"+url.PathEscape(id), nil)
	var st alert.State
	if code != http.StatusOK || json.Unmarshal(body, &st) != nil || st.Ref != ref || st.Status != alert.StatusOpen {
		t.Fatalf("show: %d %s", code, body)
	}

	code, body = s.apiCall(http.MethodPost, "/api/v1/alerts/"+id+"/acknowledge", alert.Acknowledgement{By: "carol", Note: "on it"})
	if code != http.StatusOK || json.Unmarshal(body, &st) != nil || st.Status != alert.StatusAcknowledged || st.AcknowledgedBy != "carol" {
		t.Fatalf("acknowledge: %d %s", code, body)
	}
	s.waitListedByAPI(url.Values{"status": {"acknowledged"}, "project_id": {"12"}}, id)

	code, body = s.apiCall(http.MethodPost, "/api/v1/alerts/"+id+"/resolve", alert.Resolution{By: ""})
	if code != http.StatusBadRequest {
		t.Fatalf("resolve without by: %d %s", code, body)
	}
	code, body = s.apiCall(http.MethodPost, "/api/v1/alerts/"+id+"/resolve", alert.Resolution{By: "carol", Reason: "fixed in !12"})
	if code != http.StatusOK || json.Unmarshal(body, &st) != nil || st.Status != alert.StatusResolved {
		t.Fatalf("resolve: %d %s", code, body)
	}
	s.waitClosed(id)
	recordHistory(t, "rest-acknowledge-resolve", id)
	code, body = s.apiCall(http.MethodPost, "/api/v1/alerts/"+id+"/acknowledge", alert.Acknowledgement{By: "carol"})
	if code != http.StatusNotFound {
		t.Fatalf("acknowledge after the resolve: %d %s, want 404", code, body)
	}
	s.waitListedByAPI(url.Values{"status": {"resolved"}, "project_id": {"12"}}, id)
	code, _ = s.apiCall(http.MethodGet, "/api/v1/alerts/12-nothing-here", nil)
	if code != http.StatusNotFound {
		t.Fatalf("show of a missing alert: %d", code)
	}
}

// TestAStormOfSignalsOnOneAlert sends 10 000 pipeline signals to one alert,
// more than the server lets one run take: continue-as-new must carry the
// alert across runs with every event counted.
func TestAStormOfSignalsOnOneAlert(t *testing.T) {
	t.Parallel() // own task queue and project ids
	if testing.Short() {
		t.Skip("the 10 000-signal storm takes about a minute; skipped with -short")
	}
	s := newStack(t)
	const id, total, workers = "13-master", 10_000, 16
	s.mustSignal(payload(t, 13, "master", 1, "failed"))
	base := mustEvent(t, payload(t, 13, "master", 1, "failed"))

	var next atomic.Int64
	next.Store(1)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > total {
					return
				}
				ev := base
				ev.Pipeline.ID = n
				ev.Pipeline.Status = []string{"failed", "canceled", "skipped"}[n%3]
				ev.Pipeline.FinishedAt = ev.Pipeline.FinishedAt.Add(time.Duration(n) * time.Second)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := s.client.SignalWorkflow(ctx, id, "", workflows.SignalPipeline, ev)
				cancel()
				if err != nil {
					errs <- fmt.Errorf("signal %d: %w", n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var st *alert.State
	err := poll(context.Background(), 3*time.Minute, func() error {
		var err error
		st, err = s.state(context.Background(), id)
		if err != nil {
			return err
		}
		if st.Counts.Events != total {
			return fmt.Errorf("%d of %d events counted", st.Counts.Events, total)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v; last workflow task failure: %s", err, s.lastTaskFailure(id))
	}
	if st.Status != alert.StatusOpen || st.Memory.Newest != total || len(st.Timeline) != alert.DefaultTimelineCap {
		t.Fatalf("after the storm: status %s newest %d timeline %d (+%d dropped)", st.Status, st.Memory.Newest, len(st.Timeline), st.TimelineDropped)
	}
	if c := st.Counts; c.Applied+c.Stale+c.Duplicates+c.Ignored+c.Superseded+c.Children != total {
		t.Fatalf("counts do not add up: %+v", st.Counts)
	}
	d, err := s.client.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	if d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("the alert is %s after the storm", d.GetWorkflowExecutionInfo().GetStatus())
	}
	if d.GetWorkflowExecutionInfo().GetExecution().GetRunId() == "" || d.GetWorkflowExecutionInfo().GetHistoryLength() >= 51_200 {
		t.Fatalf("history length %d", d.GetWorkflowExecutionInfo().GetHistoryLength())
	}
	// No run can take 10 000 signals: the storm went through more than one.
	if runs := listed(t, "WorkflowId='"+id+"' AND ExecutionStatus='ContinuedAsNew'"); len(runs) == 0 {
		t.Fatal("no run continued as new")
	}
}

func mustEvent(t *testing.T, body []byte) alert.Event {
	t.Helper()
	ev, ok, err := ingress.ParsePipelineEvent(body)
	if err != nil || !ok {
		t.Fatalf("parse: %v", err)
	}
	return ev
}
