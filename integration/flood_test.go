package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/internal/testkit"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/webhook"
	"github.com/alertflow/alertflow/workflows"
)

// maximalPayload is the largest pipeline event GitLab produces in what
// alertflow keeps: 50 failed jobs whose name, stage and failure reason are
// 255 characters each (GitLab's cap on job names).
func maximalPayload(t *testing.T, project int64, ref string, pipeline int64) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload(t, project, ref, pipeline, "failed"), &m); err != nil {
		t.Fatal(err)
	}
	var builds []any
	for i := range 50 {
		name := fmt.Sprintf("%03d-%s", i, strings.Repeat("j", 251))
		builds = append(builds, map[string]any{
			"id": 1000 + i, "stage": strings.Repeat("s", 255), "name": name, "status": "failed",
			"failure_reason": strings.Repeat("r", 255), "allow_failure": false,
		})
	}
	m["builds"] = builds
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runsOf lists every run of an alert ID with its status.
func runsOf(t *testing.T, s *stack, id string) map[string]enumspb.WorkflowExecutionStatus {
	t.Helper()
	runs := map[string]enumspb.WorkflowExecutionStatus{}
	var token []byte
	for {
		resp, err := s.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: "WorkflowId = '" + id + "'", NextPageToken: token,
		})
		if err != nil {
			t.Fatalf("list runs of %s: %v", id, err)
		}
		for _, e := range resp.GetExecutions() {
			runs[e.GetExecution().GetRunId()] = e.GetStatus()
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return runs
		}
	}
}

// TestAFloodOfTheLargestEventsWhileTheReceiverFailsLosesNothing floods one
// branch with the largest events GitLab can send while the notification
// receiver answers 500: the alert continues as new by history size
// without waiting for the receiver, no run is terminated by the server's
// limits, the intake answers 429 to what is beyond the alert's rate, and
// every delivery it accepted is counted in the alert.
func TestAFloodOfTheLargestEventsWhileTheReceiverFailsLosesNothing(t *testing.T) {
	requireServer(t)
	var failing atomic.Bool
	failing.Store(true)
	var mu sync.Mutex
	delivered := map[string]int{}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "receiver down", http.StatusInternalServerError)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var p struct{ ID, Kind string }
		_ = json.Unmarshal(body, &p)
		mu.Lock()
		delivered[p.Kind+" "+p.ID]++
		mu.Unlock()
	}))
	t.Cleanup(receiver.Close)
	// A small history budget makes the run continue as new every few
	// events, as a 4 MiB one does under a flood of thousands.
	s := newStackConfig(t, webhook.New(receiver.URL, "flood-secret", notify.DefaultHTTPClient()),
		workflows.Input{MaxHistoryBytes: 256 << 10})
	tokens, err := ingress.ParseTokens("gitlab=" + sourceToken)
	if err != nil {
		t.Fatal(err)
	}
	var logs testkit.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("intake log:\n%s", logs.String())
		}
	})
	limited := httptest.NewServer(ingress.New(ingress.Config{
		// A burst of 40, then two a second: a fast machine accepts some
		// fifty in the flood's six seconds, and a loaded one, whose
		// intake may manage only a few deliveries a second, still goes
		// past the rate.
		TaskQueue: s.taskQueue, Tokens: tokens, AlertRate: 2, AlertBurst: 40,
		Workflow: workflows.Input{MaxHistoryBytes: 256 << 10},
	}, s.client, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	t.Cleanup(limited.Close)

	const id, total, senders = "40-main", 600, 8
	bodies := make([][]byte, total)
	for i := range bodies {
		bodies[i] = maximalPayload(t, 40, "main", int64(i+1))
	}
	var accepted, tooFast, unavailable atomic.Int64
	// The flood comes at up to 100 deliveries a second, well past the
	// alert's rate even when a loaded machine slows the intake down, for
	// six seconds.
	next := make(chan int)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := range total {
			<-tick.C
			next <- i
		}
		close(next)
	}()
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for i := range next {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				a, err := deliver(ctx, limited.URL, bodies[i], "")
				cancel()
				switch {
				case err == nil && a.code == http.StatusAccepted && a.Action == ingress.ActionSignaled:
					accepted.Add(1)
				case err == nil && a.code == http.StatusTooManyRequests:
					tooFast.Add(1)
				case err == nil && a.code == http.StatusServiceUnavailable:
					// Refused, not lost: a server slowed down by the load
					// may miss the intake's deadline.
					unavailable.Add(1)
				default:
					t.Errorf("delivery %d: %+v %v", i, a, err)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d deliveries: %d accepted, %d answered 429, %d answered 503", total, accepted.Load(), tooFast.Load(), unavailable.Load())
	if tooFast.Load() == 0 || accepted.Load() < 40 {
		t.Fatalf("accepted %d and refused %d: the flood never reached the alert's rate", accepted.Load(), tooFast.Load())
	}

	var st *alert.State
	err = poll(context.Background(), 3*time.Minute, func() error {
		var err error
		if st, err = s.state(context.Background(), id); err != nil {
			return err
		}
		// Every accepted delivery is counted. A delivery answered 503
		// may have reached the alert before the intake gave up waiting
		// (GitLab would resend it): it may be counted too, nothing else.
		counted := int64(st.Counts.Events)
		if counted < accepted.Load() {
			return fmt.Errorf("%d of %d accepted deliveries counted", counted, accepted.Load())
		}
		if counted > accepted.Load()+unavailable.Load() {
			return fmt.Errorf("%d deliveries counted, more than the %d accepted and %d answered 503", counted, accepted.Load(), unavailable.Load())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v; last workflow task failure: %s", err, s.lastTaskFailure(id))
	}
	runs := runsOf(t, s, id)
	continued, largest, sum := 0, int64(0), int64(0)
	for run, status := range runs {
		desc, err := s.client.DescribeWorkflowExecution(context.Background(), id, run)
		if err != nil {
			t.Fatal(err)
		}
		size := desc.GetWorkflowExecutionInfo().GetHistorySizeBytes()
		largest, sum = max(largest, size), sum+size
		switch status {
		case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
			continued++
		case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		default:
			t.Errorf("run %s ended %s", run, status)
		}
	}
	if continued < 2 {
		t.Fatalf("%d runs continued as new: the flood did not test the hand-over", continued)
	}
	t.Logf("%d runs, %d continued as new, the largest history %d of %d bytes; counts %+v", len(runs), continued, largest, sum, st.Counts)
	// Signals land in the history as they arrive, so a run takes in what
	// arrives during its last workflow task beyond its budget; but a run
	// that waited for the failing receiver before it continued would
	// have taken in most of the flood.
	if largest*2 > sum {
		t.Fatalf("one run's history took %d of the %d bytes, with a budget of %d", largest, sum, 256<<10)
	}

	// The opened notification was handed from run to run while the
	// receiver failed, and arrives once it is back.
	failing.Store(false)
	err = poll(context.Background(), 2*time.Minute, func() error {
		mu.Lock()
		defer mu.Unlock()
		for k := range delivered {
			if strings.HasPrefix(k, "opened ") {
				return nil
			}
		}
		return fmt.Errorf("delivered %v", delivered)
	})
	if err != nil {
		t.Fatalf("the opened notification never arrived after the receiver came back: %v", err)
	}
}

// TestRepeatedAcknowledgementsLeaveOneUpdateInTheHistory presses
// "acknowledge" a hundred times at once over the REST API on an alert
// with a long timeline: every press is answered 200 with the alert
// acknowledged, but only the first is recorded, and its result is small.
func TestRepeatedAcknowledgementsLeaveOneUpdateInTheHistory(t *testing.T) {
	s := newStack(t)
	const id = "41-main"
	for i := range 120 {
		s.mustSignal(payload(t, 41, "main", int64(i+1), "failed"))
	}
	s.waitState(id, func(st *alert.State) error {
		if st.Counts.Events != 120 {
			return fmt.Errorf("%d events", st.Counts.Events)
		}
		return nil
	})
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 8 {
		wg.Go(func() {
			for range 100 / 8 {
				code, st := ack(t, s.http.URL, id)
				if code == http.StatusOK && st.Status == alert.StatusAcknowledged && st.AcknowledgedBy == "alice" {
					ok.Add(1)
				} else {
					t.Errorf("acknowledge answered %d with %s by %q", code, st.Status, st.AcknowledgedBy)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != 8*(100/8) {
		t.Fatalf("%d acknowledgements answered 200", ok.Load())
	}
	iter := s.client.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	updates := 0
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if done := ev.GetWorkflowExecutionUpdateCompletedEventAttributes(); done != nil {
			updates++
			if n := len(done.GetOutcome().GetSuccess().GetPayloads()[0].GetData()); n > 32<<10 {
				t.Errorf("the update's result takes %d bytes of history", n)
			}
		}
	}
	if updates != 1 {
		t.Fatalf("%d updates recorded, want the first acknowledgement only", updates)
	}
}

func ack(t *testing.T, base, id string) (int, alert.State) {
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/alerts/"+id+"/acknowledge", bytes.NewReader([]byte(`{"by":"alice"}`)))
	if err != nil {
		t.Error(err)
		return 0, alert.State{}
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, alert.State{}
	}
	defer resp.Body.Close()
	var st alert.State
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return resp.StatusCode, st
}
