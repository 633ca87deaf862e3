package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/visibility"
)

// TestShuffledResentAndConcurrentDeliveriesEndWhereTheModelSays sends a few
// hundred pipeline events over 50 branches through the real intake, each
// twice, branches interleaved in a seeded random order, some deliveries of
// one branch at once. Every branch must end as the reference model says
// (open with the right newest pipeline, severity and counts; resolved;
// or never created), and every delivery answered "signaled" must be in the
// timeline of one of the alert's runs.
//
// Order within a branch is known except where the model needs no order:
// see model_test.go. Set ALERTFLOW_E2E_SEED to replay a seed; the order in
// which concurrent requests reach the server still varies between runs.
func TestShuffledResentAndConcurrentDeliveriesEndWhereTheModelSays(t *testing.T) {
	t.Parallel() // own task queue and project ids
	const firstProject int64 = 1000
	s := newStack(t)
	seed := time.Now().UnixNano()
	if v := os.Getenv("ALERTFLOW_E2E_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("ALERTFLOW_E2E_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d (replay with ALERTFLOW_E2E_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x7e57))

	var branches []*e2eBranch
	uniqueEvents, posts := 0, 0
	for project := firstProject; project < firstProject+25; project++ {
		for _, ref := range []string{"main", "feature/e2e"} {
			b := &e2eBranch{branch: branch{project, ref}, bodies: map[pipelineEvent][]byte{}, keys: map[pipelineEvent]string{},
				events: map[pipelineEvent]alert.Event{}}
			script := scriptRandom
			switch len(branches) % 10 {
			case 9:
				script = scriptOnlyGreen
			case 8:
				script = scriptEndsResolved
			}
			p := &planner{t: t, rng: rng, b: b, next: 100 + rng.Int64N(900)}
			p.plan(script, 4+rng.IntN(5))
			branches = append(branches, b)
			uniqueEvents += b.unique
			for _, st := range b.steps {
				posts += len(st.deliveries)
			}
		}
	}
	var open, resolved, never, bursts, concurrentSteps, concurrentPosts int
	for _, b := range branches {
		switch {
		case b.model.Open():
			open++
		case b.model.Started():
			resolved++
		default:
			never++
		}
		for _, st := range b.steps {
			if st.concurrent {
				concurrentSteps++
				concurrentPosts += len(st.deliveries)
				if len(st.deliveries) > 2 {
					bursts++
				}
			}
		}
	}
	t.Logf("%d branches, %d pipeline events, %d posts, %d of them in %d concurrent steps (%d bursts); the model expects %d open, %d resolved, %d never opened",
		len(branches), uniqueEvents, posts, concurrentPosts, concurrentSteps, bursts, open, resolved, never)

	// A seeded interleaving of the branches that keeps each branch's own
	// order: branch b appears once per step it has, shuffled.
	var order []int
	for i, b := range branches {
		for range b.steps {
			order = append(order, i)
		}
	}
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })

	send := func(b *e2eBranch, d *e2eDelivery) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d.got, d.err = deliver(ctx, s.http.URL, b.bodies[d.event], b.keys[d.event])
	}
	start := time.Now()
	sem := make(chan struct{}, 8)
	prev := make([]chan struct{}, len(branches))
	nextStep := make([]int, len(branches))
	var wg sync.WaitGroup
	for _, bi := range order {
		if prev[bi] != nil {
			<-prev[bi] // a branch's steps one after another
		}
		b, st := branches[bi], branches[bi].steps[nextStep[bi]]
		nextStep[bi]++
		done := make(chan struct{})
		prev[bi] = done
		wg.Go(func() {
			defer close(done)
			sem <- struct{}{}
			defer func() { <-sem }()
			if !st.concurrent {
				for _, d := range st.deliveries {
					send(b, d)
				}
				return
			}
			var inner sync.WaitGroup
			for _, d := range st.deliveries {
				inner.Go(func() { send(b, d) })
			}
			inner.Wait()
		})
	}
	wg.Wait()
	t.Logf("%d posts answered in %s", posts, time.Since(start).Round(time.Millisecond))

	// Every answer is what the model says it must be.
	var wrong []string
	for _, b := range branches {
		for _, st := range b.steps {
			for _, d := range st.deliveries {
				if err := checkAnswer(d.got, d.err, d.want); err != nil {
					wrong = append(wrong, fmt.Sprintf("%s %s: %v", b.id(), d.event, err))
				}
			}
		}
	}
	if len(wrong) > 0 {
		t.Fatalf("seed %d: %d wrong answers:\n%s", seed, len(wrong), strings.Join(wrong, "\n"))
	}

	// Every branch reaches the state the model predicts.
	ctx := context.Background()
	pending := slices.Clone(branches)
	var mismatches []string
	err := poll(ctx, settleWithin, func() error {
		mismatches = nil
		var still []*e2eBranch
		for _, b := range pending {
			if err := checkFinal(ctx, s.client, b); err != nil {
				still = append(still, b)
				mismatches = append(mismatches, fmt.Sprintf("%s: %v", b.id(), err))
			}
		}
		pending = still
		if len(pending) > 0 {
			return fmt.Errorf("%d branches not as the model says", len(pending))
		}
		return nil
	})
	if err != nil {
		for _, b := range pending {
			t.Logf("%s deliveries: %s\nhistory: %s", b.id(), b.describe(), b.history(ctx, s.client))
		}
		t.Fatalf("seed %d: %v:\n%s", seed, err, strings.Join(mismatches, "\n"))
	}

	// Nothing lost: every delivery answered "signaled" left an entry in
	// the timeline of a run of its alert, and no entry came from nowhere.
	runsTotal, continued := 0, 0
	for _, b := range branches {
		signaled := map[pipelineEvent]int{}
		var answeredRuns []string
		for _, st := range b.steps {
			for _, d := range st.deliveries {
				if d.got.Action != ingress.ActionSignaled {
					continue
				}
				signaled[d.event]++
				if d.got.RunID != "" {
					answeredRuns = append(answeredRuns, d.got.RunID)
				}
			}
		}
		if len(signaled) == 0 {
			continue
		}
		runs, err := alertRuns(ctx, s.client, b.id(), answeredRuns)
		if err != nil {
			t.Fatal(err)
		}
		runsTotal += len(runs)
		entries := map[pipelineEvent]int{}
		for _, run := range runs {
			st, err := runState(ctx, s.client, b.id(), run)
			if err != nil {
				t.Fatal(err)
			}
			if st.TimelineDropped != 0 {
				t.Errorf("%s run %s dropped %d timeline entries", b.id(), run, st.TimelineDropped)
			}
			for _, e := range st.Timeline {
				entries[pipelineEvent{e.PipelineID, e.Status}]++
				if e.Kind == alert.OutcomeReopen {
					continued++
				}
			}
		}
		for e, n := range signaled {
			if entries[e] < n {
				t.Errorf("seed %d: %s %s was answered signaled %d times but is in the timelines of runs %v %d times",
					seed, b.id(), e, n, runs, entries[e])
			}
		}
		for e := range entries {
			if _, ok := b.bodies[e]; !ok {
				t.Errorf("%s: timeline entry for %s, which was never delivered", b.id(), e)
			}
		}
	}
	t.Logf("%d runs read; %d failures arrived while a resolved run was closing and opened the next alert by continue-as-new", runsTotal, continued)
}

// checkFinal compares a branch's alert, as the server has it now, with the
// model.
func checkFinal(ctx context.Context, c client.Client, b *e2eBranch) error {
	id := b.id()
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	if !b.model.Started() {
		if visibility.NotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("a workflow exists (%s), want none", d.GetWorkflowExecutionInfo().GetStatus())
	}
	if err != nil {
		return err
	}
	info := d.GetWorkflowExecutionInfo()
	runID := info.GetExecution().GetRunId()
	if b.model.Open() {
		if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return fmt.Errorf("run %s is %s, want running with an open alert", runID, info.GetStatus())
		}
		st, err := runState(ctx, c, id, runID)
		if err != nil {
			return err
		}
		return b.model.Check(st)
	}
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		return fmt.Errorf("run %s is %s, want completed", runID, info.GetStatus())
	}
	var st alert.State
	if err := c.GetWorkflow(ctx, id, runID).Get(ctx, &st); err != nil {
		return err
	}
	return b.model.CheckResolved(&st)
}

// describe lists a branch's deliveries and answers, for a failure message.
func (b *e2eBranch) describe() string {
	var parts []string
	for _, st := range b.steps {
		var ds []string
		for _, d := range st.deliveries {
			ds = append(ds, fmt.Sprintf("%s→%s", d.event, d.got.Action))
		}
		if st.concurrent {
			parts = append(parts, "{"+strings.Join(ds, " ")+"}")
		} else {
			parts = append(parts, ds...)
		}
	}
	return strings.Join(parts, ", ")
}

// history sums up the histories of every run of a branch's alert that the
// answers lead to, for a failure message.
func (b *e2eBranch) history(ctx context.Context, c client.Client) string {
	var answered []string
	for _, st := range b.steps {
		for _, d := range st.deliveries {
			if d.got.RunID != "" {
				answered = append(answered, d.got.RunID)
			}
		}
	}
	if d, err := c.DescribeWorkflowExecution(ctx, b.id(), ""); err == nil {
		answered = append(answered, d.GetWorkflowExecutionInfo().GetExecution().GetRunId())
	}
	runs, err := alertRuns(ctx, c, b.id(), answered)
	if err != nil {
		return err.Error()
	}
	var out strings.Builder
	for _, run := range runs {
		fmt.Fprintf(&out, "\n  run %s:", run)
		iter := c.GetWorkflowHistory(ctx, b.id(), run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				fmt.Fprintf(&out, " [%v]", err)
				break
			}
			switch {
			case ev.GetWorkflowExecutionSignaledEventAttributes() != nil:
				var e alert.Event
				for _, p := range ev.GetWorkflowExecutionSignaledEventAttributes().GetInput().GetPayloads() {
					_ = json.Unmarshal(p.GetData(), &e)
				}
				fmt.Fprintf(&out, " %s(#%d %s)", ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName(), e.Pipeline.ID, e.Pipeline.Status)
			case ev.GetWorkflowExecutionStartedEventAttributes() != nil:
				fmt.Fprintf(&out, " started")
			case ev.GetWorkflowTaskFailedEventAttributes() != nil:
				fmt.Fprintf(&out, " task-failed(%s)", ev.GetWorkflowTaskFailedEventAttributes().GetCause())
			case ev.GetActivityTaskScheduledEventAttributes() != nil:
				fmt.Fprintf(&out, " %s", ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName())
			case ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
				ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
				fmt.Fprintf(&out, " %s", ev.GetEventType())
			}
		}
	}
	return out.String()
}
