package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/workflows"
)

// The flood scenario: a storm of the largest events GitLab can produce on
// one branch while the notification receiver is down. What alertflow
// promises is that every delivery it answers 202 is counted in its alert
// and that no run of the alert is ended by the server's history limits;
// what it may do is refuse (429, 503) what it cannot keep.
const (
	// floodJobs failed jobs, each with a name, stage and failure reason of
	// floodText characters: GitLab caps job names at 255.
	floodJobs = 50
	floodText = 255
	// floodStalled is how long the count may stand still before the
	// bench stops waiting for it.
	floodStalled = time.Minute
)

// floodVariant is one flood: alertflow serve with settings of its own.
type floodVariant struct {
	name string
	env  []string
}

// floodVariants are the floods run: with the default per-alert rate, and
// with the highest rate and burst alertflow allows. (With the limit off, a
// version of the intake that allowed it, the server ended runs at its
// history limit: at 200 deliveries a second the task that would continue
// a run as new was refused again and again for new signals.)
var floodVariants = []floodVariant{
	{"default limits", nil},
	{"ALERTFLOW_ALERT_RATE=50, ALERTFLOW_ALERT_BURST=500", []string{"ALERTFLOW_ALERT_RATE=50", "ALERTFLOW_ALERT_BURST=500"}},
}

// Flood is what one flood found.
type Flood struct {
	Variant    string `json:"variant"`
	Deliveries int    `json:"deliveries"`
	BodyBytes  int    `json:"body_bytes"`
	// PacedSec is the time the deliveries were spread over, Senders the
	// most in flight at once, SentSec how long they took to be answered.
	PacedSec float64 `json:"paced_s"`
	Senders  int     `json:"senders"`
	SentSec  float64 `json:"sent_s"`
	// Answers counts the intake's answers: "202 signaled", "429", "503",
	// anything else as it came.
	Answers  map[string]int `json:"answers"`
	Accepted int            `json:"accepted"`
	// Counted is Counts.Events of the alert's newest run once it had
	// worked off the backlog (or at the deadline), CountedAfterSec how long
	// after the last answer that was.
	Counted         int     `json:"counted"`
	CountedAfterSec float64 `json:"counted_after_s"`
	CountError      string  `json:"count_error,omitempty"`
	// Runs are the alert's runs by status, LargestHistory the largest
	// history of any of them in bytes.
	Runs           map[string]int `json:"runs"`
	RunCount       int            `json:"run_count"`
	LargestHistory int64          `json:"largest_history_bytes"`
	TotalHistory   int64          `json:"total_history_bytes"`
	// ReceiverCalls is how often the failing receiver was called.
	ReceiverCalls int64   `json:"receiver_calls"`
	PeakRSSMiB    float64 `json:"peak_rss_mib"`
	Met           bool    `json:"met"`
}

// floodScenario runs every flood variant against a fresh alertflow serve
// whose webhook receiver answers 500.
func (b *bench) floodScenario(ctx context.Context, index int, name, queue string) (*Scenario, error) {
	var calls atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "receiver down", http.StatusInternalServerError)
	}))
	defer receiver.Close()
	sc := &Scenario{Name: name}
	for i, v := range floodVariants {
		q := fmt.Sprintf("%s-alertflow-%d", queue, i)
		af, err := b.startAlertflow(ctx, fmt.Sprintf("%s-%d", name, i), q,
			append([]string{"ALERTFLOW_NOTIFY_WEBHOOK_URL=" + receiver.URL, "ALERTFLOW_NOTIFY_WEBHOOK_SECRET=afbench-flood"}, v.env...)...)
		if err != nil {
			return nil, err
		}
		before := calls.Load()
		f, err := b.flood(ctx, v, b.base(index, 1, i+1), af)
		af.stop(15 * time.Second)
		b.cleanUp(q)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.name, err)
		}
		f.ReceiverCalls = calls.Load() - before
		sc.Floods = append(sc.Floods, *f)
	}
	return sc, nil
}

// flood sends the deliveries of one flood to af and reads what became of
// them.
func (b *bench) flood(ctx context.Context, v floodVariant, project int64, af *alertflowProc) (*Flood, error) {
	n := b.o.floodDeliveries
	bodies := make([][]byte, n)
	var alertID string
	for i := range bodies {
		r, err := b.gen.webhook(project, "main", "failed", false)
		if err != nil {
			return nil, err
		}
		if bodies[i], err = maximal(r.body); err != nil {
			return nil, err
		}
		alertID = r.alertID
	}
	f := &Flood{Variant: v.name, Deliveries: n, BodyBytes: len(bodies[0]), PacedSec: b.o.floodFor.Seconds(), Senders: b.o.floodSenders, Answers: map[string]int{}}
	b.logf("flood (%s): %d deliveries of %d bytes to %s in %s, the receiver answering 500", v.name, n, f.BodyBytes, alertID, b.o.floodFor)

	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: b.o.floodSenders, MaxConnsPerHost: b.o.floodSenders, WriteBufferSize: 64 << 10}}
	defer hc.CloseIdleConnections()
	var mu sync.Mutex
	var firstOther string
	next := make(chan []byte)
	go func() {
		defer close(next)
		// Paced, not as fast as the intake answers: the flood comes at a
		// given rate whether or not alertflow keeps up.
		every := b.o.floodFor / time.Duration(n)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for _, body := range bodies {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			select {
			case <-ctx.Done():
				return
			case next <- body:
			}
		}
	}()
	start := time.Now()
	var wg sync.WaitGroup
	for range b.o.floodSenders {
		wg.Go(func() {
			for body := range next {
				k, detail := postFlood(ctx, hc, af.url, b.token, body)
				mu.Lock()
				f.Answers[k]++
				if k != "202 signaled" && k != "429" && k != "503" && firstOther == "" {
					firstOther = detail
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	answered := time.Now()
	f.SentSec = answered.Sub(start).Seconds()
	f.Accepted = f.Answers["202 signaled"]
	b.logf("flood (%s): sent in %.1f s; answers %v", v.name, f.SentSec, f.Answers)
	if firstOther != "" {
		b.logf("flood (%s): first unexpected answer: %s", v.name, firstOther)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// The alert works off its backlog of signals run after run: wait for
	// its newest run to count every accepted delivery, or until the count
	// has not moved for floodStalled (what a terminated run lost never
	// comes).
	deadline := answered.Add(b.o.floodDrain)
	var lastErr error
	moved := time.Now()
	for {
		st, err := b.state(ctx, alertID)
		if err == nil {
			if st.Counts.Events != f.Counted {
				moved = time.Now()
			}
			f.Counted = st.Counts.Events
		}
		lastErr = err
		if err == nil && f.Counted >= f.Accepted {
			break
		}
		if time.Now().After(deadline) || time.Since(moved) > floodStalled {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	f.CountedAfterSec = time.Since(answered).Seconds()
	if f.Counted != f.Accepted {
		f.CountError = fmt.Sprintf("%d of %d accepted deliveries counted %.0f s after the last answer", f.Counted, f.Accepted, f.CountedAfterSec)
		if lastErr != nil {
			f.CountError += fmt.Sprintf(" (last query: %v)", lastErr)
		}
	}
	b.logf("flood (%s): %d of %d accepted deliveries counted %.1f s after the last answer", v.name, f.Counted, f.Accepted, f.CountedAfterSec)

	runs, err := b.runsOf(ctx, alertID)
	if err != nil {
		return nil, err
	}
	f.Runs, f.RunCount = map[string]int{}, len(runs)
	for run, status := range runs {
		f.Runs[status.String()]++
		d, err := b.client.DescribeWorkflowExecution(ctx, alertID, run)
		if err != nil {
			return nil, fmt.Errorf("describe run %s of %s: %w", run, alertID, err)
		}
		size := d.GetWorkflowExecutionInfo().GetHistorySizeBytes()
		f.LargestHistory = max(f.LargestHistory, size)
		f.TotalHistory += size
	}
	if _, peak, err := memory(af.rssPID()); err == nil {
		f.PeakRSSMiB = mib(peak)
	}
	f.Met = f.Runs[enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED.String()] == 0 &&
		f.Runs[enumspb.WORKFLOW_EXECUTION_STATUS_FAILED.String()] == 0 && f.Counted == f.Accepted && f.CountError == ""
	b.logf("flood (%s): %d runs %v, largest history %d bytes; peak RSS %.0f MiB", v.name, f.RunCount, f.Runs, f.LargestHistory, f.PeakRSSMiB)
	return f, nil
}

// postFlood posts one delivery and names its answer: "202 signaled" (or
// "202 <action>"), the status code, or "error".
func postFlood(ctx context.Context, hc *http.Client, url, token string, body []byte) (kind, detail string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "error", err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
	req.Header.Set("X-Gitlab-Token", token)
	resp, err := hc.Do(req)
	if err != nil {
		return "error", err.Error()
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Sprint(resp.StatusCode), fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(answer))
	}
	var a ingress.WebhookAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		return "202 unreadable", string(answer)
	}
	return "202 " + a.Action, string(answer)
}

// maximal turns a failed pipeline's webhook into the largest one GitLab
// produces in what alertflow keeps: floodJobs failed jobs whose name,
// stage and failure reason are floodText characters each.
func maximal(body []byte) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("decode webhook to enlarge: %w", err)
	}
	builds := make([]any, 0, floodJobs)
	for i := range floodJobs {
		name := fmt.Sprintf("%03d-%s", i, strings.Repeat("j", floodText-4))
		builds = append(builds, map[string]any{
			"id": 1000 + i, "stage": strings.Repeat("s", floodText), "name": name, "status": "failed",
			"failure_reason": strings.Repeat("r", floodText), "allow_failure": false,
		})
	}
	m["builds"] = builds
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode enlarged webhook: %w", err)
	}
	return out, nil
}

// state queries the newest run of alert id for its state.
func (b *bench) state(ctx context.Context, id string) (*alert.State, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	st, err := workflows.QueryAlert(ctx, b.client, id, "")
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", id, err)
	}
	return st, nil
}

// runsOf lists every run of workflow id with its status. Visibility lags
// behind the runs: it lists until one run is open and two listings agree,
// or a minute has passed.
func (b *bench) runsOf(ctx context.Context, id string) (map[string]enumspb.WorkflowExecutionStatus, error) {
	var last map[string]enumspb.WorkflowExecutionStatus
	for deadline := time.Now().Add(time.Minute); ; {
		runs := map[string]enumspb.WorkflowExecutionStatus{}
		var token []byte
		for {
			resp, err := b.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: b.namespace, Query: "WorkflowId = '" + id + "'", NextPageToken: token,
			})
			if err != nil {
				return nil, fmt.Errorf("list runs of %s: %w", id, err)
			}
			for _, e := range resp.GetExecutions() {
				runs[e.GetExecution().GetRunId()] = e.GetStatus()
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				break
			}
		}
		open := 0
		for _, s := range runs {
			if s == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				open++
			}
		}
		if (open == 1 && equalRuns(runs, last)) || time.Now().After(deadline) {
			return runs, nil
		}
		last = runs
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

func equalRuns(a, b map[string]enumspb.WorkflowExecutionStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// printFloods prints the flood scenario's table.
func printFloods(w io.Writer, fs []Flood) {
	fmt.Fprintf(w, "flood: the largest events (%d failed jobs, %d-character names, stages and reasons) on one branch, the receiver answering 500\n", floodJobs, floodText)
	for _, f := range fs {
		keys := make([]string, 0, len(f.Answers))
		for k := range f.Answers {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var answers []string
		for _, k := range keys {
			answers = append(answers, fmt.Sprintf("%s: %d", k, f.Answers[k]))
		}
		fmt.Fprintf(w, "  %-24s %d × %d bytes in %.1f s; answers %s\n", f.Variant, f.Deliveries, f.BodyBytes, f.SentSec, strings.Join(answers, ", "))
		fmt.Fprintf(w, "  %-24s %d of %d accepted counted (%.0f s after the last answer); %d runs %v; largest history %.2f MiB (all runs %.1f MiB); receiver called %d times; peak RSS %.0f MiB\n",
			"", f.Counted, f.Accepted, f.CountedAfterSec, f.RunCount, f.Runs, float64(f.LargestHistory)/(1<<20), float64(f.TotalHistory)/(1<<20), f.ReceiverCalls, f.PeakRSSMiB)
	}
}

// floodTargets: under each flood no run is terminated and every accepted
// delivery is counted.
func floodTargets(fs []Flood) []Target {
	var out []Target
	for _, f := range fs {
		got := fmt.Sprintf("%d of %d accepted counted; runs %v", f.Counted, f.Accepted, f.Runs)
		out = append(out, Target{"flood, " + f.Variant, "no run terminated, every accepted delivery counted", got, f.Met})
	}
	return out
}
