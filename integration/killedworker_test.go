package integration

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
)

// TestAWorkerKilledMidFloodLosesNoEventAndLeavesNoAlertStuck runs the real
// `alertflow worker` binary, floods the real intake with 220 webhooks over
// 20 branches, SIGKILLs the worker after 70 answers, keeps sending, starts
// a new worker process after 150 answers, and checks that every alert
// counts exactly the deliveries answered "signaled" and reaches the state
// the model predicts.
func TestAWorkerKilledMidFloodLosesNoEventAndLeavesNoAlertStuck(t *testing.T) {
	t.Parallel() // own task queue and project ids
	requireServer(t)
	bin := alertflowBinary(t)
	taskQueue := "it-worker-killed-mid-flood"
	first := startWorkerProcess(t, bin, taskQueue, "worker-1")

	tokens, err := ingress.ParseTokens("gitlab=" + sourceToken)
	if err != nil {
		t.Fatal(err)
	}
	intake := httptest.NewServer(ingress.New(ingress.Config{TaskQueue: taskQueue, Tokens: tokens}, devServer.Client(), slog.New(slog.DiscardHandler)))
	t.Cleanup(intake.Close)

	// Each branch: five bad pipelines, each delivered twice, in shuffled
	// order (so some are stale and half are duplicates); every other
	// branch then goes green. One run per branch, sent in order.
	rng := rand.New(rand.NewPCG(7, 7))
	type plan struct {
		branch
		model      branchModel
		deliveries []*e2eDelivery
		bodies     map[pipelineEvent][]byte
	}
	var plans []*plan
	total := 0
	for i := range 20 {
		p := &plan{branch: branch{int64(1100 + i), "main"}, bodies: map[pipelineEvent][]byte{}}
		var events []pipelineEvent
		for j := range 5 {
			e := pipelineEvent{int64(10 + j), badStatuses[rng.IntN(len(badStatuses))]}
			events = append(events, e, e)
		}
		rng.Shuffle(len(events), func(a, b int) { events[a], events[b] = events[b], events[a] })
		if i%2 == 0 {
			green := pipelineEvent{20, alert.PipelineSuccess}
			events = append(events, green, green)
		}
		for _, e := range events {
			if _, ok := p.bodies[e]; !ok {
				p.bodies[e] = payload(t, p.project, p.ref, e.pipeline, e.status)
			}
			p.deliveries = append(p.deliveries, &e2eDelivery{event: e, want: p.model.Deliver(intakeEvent(t, p.bodies[e], ""))})
		}
		total += len(p.deliveries)
		plans = append(plans, p)
	}
	const killAt, restartAt = 70, 150

	var answered, afterKill atomic.Int64
	killNow, killed, restartNow := make(chan struct{}), make(chan struct{}), make(chan struct{})
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, p := range plans {
		wg.Go(func() {
			for _, d := range p.deliveries {
				sem <- struct{}{}
				if answered.Load() >= killAt {
					// Everything after the 70th answer goes out once the
					// worker is dead, so some surely arrives without one.
					<-killed
					afterKill.Add(1)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				d.got, d.err = deliver(ctx, intake.URL, p.bodies[d.event], "")
				cancel()
				<-sem
				switch answered.Add(1) {
				case killAt:
					close(killNow)
				case restartAt:
					close(restartNow)
				}
			}
		})
	}
	flooded := make(chan struct{})
	go func() { wg.Wait(); close(flooded) }()

	select {
	case <-killNow:
	case <-time.After(settleWithin):
		t.Fatalf("only %d answers within %s", answered.Load(), settleWithin)
	}
	first.kill(t)
	t.Logf("worker-1 (pid %d) killed by SIGKILL after %d answers", first.cmd.Process.Pid, answered.Load())
	close(killed)
	select {
	case <-restartNow:
	case <-flooded:
	}
	second := startWorkerProcess(t, bin, taskQueue, "worker-2")
	<-flooded
	t.Logf("%d webhooks answered, %d of them sent after the kill", answered.Load(), afterKill.Load())
	if afterKill.Load() == 0 {
		t.Fatal("nothing was sent after the kill")
	}

	ctx := context.Background()
	signaledOf := map[string]int{}
	for _, p := range plans {
		for _, d := range p.deliveries {
			if err := checkAnswer(d.got, d.err, d.want); err != nil {
				t.Fatalf("%s %s: %v", p.id(), d.event, err)
			}
			if d.got.Action == ingress.ActionSignaled {
				signaledOf[p.id()]++
			}
		}
	}
	check := func(p *plan) error {
		d, err := devServer.Client().DescribeWorkflowExecution(ctx, p.id(), "")
		if err != nil {
			return err
		}
		info := d.GetWorkflowExecutionInfo()
		var st *alert.State
		if p.model.Open() {
			if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				return fmt.Errorf("%s, want running", info.GetStatus())
			}
			if st, err = runState(ctx, devServer.Client(), p.id(), ""); err != nil {
				return err
			}
			if err := p.model.Check(st); err != nil {
				return err
			}
		} else {
			if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				return fmt.Errorf("%s, want completed", info.GetStatus())
			}
			st = &alert.State{}
			if err := devServer.Client().GetWorkflow(ctx, p.id(), "").Get(ctx, st); err != nil {
				return err
			}
			if err := p.model.CheckResolved(st); err != nil {
				return err
			}
		}
		// One run per branch: it counts every delivery answered signaled.
		if st.Counts.Events != signaledOf[p.id()] || len(st.Timeline) != st.Counts.Events {
			return fmt.Errorf("%d events counted, %d in the timeline, %d answered signaled", st.Counts.Events, len(st.Timeline), signaledOf[p.id()])
		}
		return nil
	}
	pending := plans
	var problems []string
	err = poll(ctx, settleWithin, func() error {
		var still []*plan
		problems = nil
		for _, p := range pending {
			if err := check(p); err != nil {
				still = append(still, p)
				problems = append(problems, fmt.Sprintf("%s: %v", p.id(), err))
			}
		}
		pending = still
		if len(pending) > 0 {
			return fmt.Errorf("%d alerts not settled", len(pending))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v after the restart:\n%s\nworker-2 log:\n%s", err, strings.Join(problems, "\n"), second.tail())
	}
	second.stop(t)
}
