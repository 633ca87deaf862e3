package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	batchpb "go.temporal.io/api/batch/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/workflows"
)

// subject is one load under test in a scenario, and what its rounds
// measured so far.
type subject struct {
	name  string
	index int
	send  sender
	// cpuPIDs are the processes whose CPU time is the load's, rssPID the
	// one whose peak memory is.
	cpuPIDs []int
	rssPID  int
	log     *accessLog
	queue   string

	samples             []sample
	requests, errors    int
	firstErr            error
	active, drain       time.Duration
	cpu, server, loader time.Duration
	// ingress and afterBody are the intake's durations by outcome, whole
	// and once the body was in.
	ingress, afterBody map[string][]time.Duration
	rounds             []Round
}

// hotBurst is the largest burst the settings let one alert take.
const hotBurst = 500

// scenario runs one scenario: a fresh alertflow process and baseline
// worker, a warm-up, then rounds of both loads in alternating order.
func (b *bench) scenario(ctx context.Context, index int, name string) (*Scenario, error) {
	build := map[string]func(base int64) (workload, error){
		"spread":  func(base int64) (workload, error) { return b.gen.spread(base, b.o.branches) },
		"hot":     func(base int64) (workload, error) { return b.gen.hot(base, b.o.hotEvents) },
		"mixed":   func(base int64) (workload, error) { return b.gen.mixed(base, b.o.mixedBranches) },
		"open10k": nil,
		"memory":  nil,
		"flood":   nil,
		"notify":  nil,
		"burst":   nil,
		// Not in the default -scenarios: run only when named.
		"silences": nil,
	}
	buildRound, ok := build[name]
	if !ok {
		return nil, errors.New("no such scenario (spread, hot, mixed, open10k, memory, flood, notify, burst, silences)")
	}
	queue := fmt.Sprintf("afbench-%d-%s", b.offset/100_000_000, name)
	switch name {
	case "flood":
		return b.floodScenario(ctx, index, name, queue)
	case "notify":
		return b.notifyScenario(ctx, index, name, queue)
	case "burst":
		return b.burstScenario(ctx, index, name, queue)
	case "silences":
		return b.silencesScenario(ctx, index, name, queue)
	}
	var extra []string
	if name == "hot" {
		// One alert takes at most ALERTFLOW_ALERT_BURST deliveries at
		// once, then ALERTFLOW_ALERT_RATE a second, and answers 429 to
		// the rest: a hot round at the highest limits the settings allow,
		// and no larger than the burst, is all accepted, and its last
		// delivery resolves the alert.
		if b.o.hotEvents > hotBurst {
			return nil, fmt.Errorf("-hot-events %d: at most %d, the largest burst one alert takes", b.o.hotEvents, hotBurst)
		}
		extra = []string{"ALERTFLOW_ALERT_RATE=50", fmt.Sprintf("ALERTFLOW_ALERT_BURST=%d", hotBurst)}
	}
	af, err := b.startAlertflow(ctx, name, queue+"-alertflow", extra...)
	if err != nil {
		return nil, err
	}
	defer af.stop(15 * time.Second)
	defer b.cleanUp(queue + "-alertflow")
	alertflow := &subject{name: "alertflow", index: 1, send: webhookSender(af.url, b.token, b.o.concurrency),
		cpuPIDs: af.pids(), rssPID: af.rssPID(), log: &accessLog{path: af.logPath}, queue: queue + "-alertflow"}
	if name == "memory" {
		return b.memoryScenario(ctx, name, af)
	}
	if buildRound == nil {
		return b.openScenario(ctx, index, name, alertflow)
	}

	bw, err := b.startBaselineWorker(ctx, name, queue+"-baseline")
	if err != nil {
		return nil, err
	}
	defer bw.stop(15 * time.Second)
	defer b.cleanUp(queue + "-baseline")
	// The baseline's SDK client is afbench itself.
	base := &subject{name: "baseline", index: 0, send: baselineSender(b.client, queue+"-baseline", false),
		cpuPIDs: []int{bw.pid(), os.Getpid()}, rssPID: bw.pid()}
	subjects := []*subject{base, alertflow}
	// The same raw calls, carrying what alertflow's calls carry: what is
	// left between it and alertflow is the intake, the workflow and the
	// worker.
	var same *subject
	if b.o.sameCalls {
		same = &subject{name: "same-calls", index: 2, send: baselineSender(b.client, queue+"-baseline", true),
			cpuPIDs: []int{bw.pid(), os.Getpid()}, rssPID: bw.pid()}
		subjects = append(subjects, same)
	}

	b.logf("%s: alertflow (pids %v) and the baseline worker (pid %d) started; warming up", name, af.pids(), bw.pid())
	for _, s := range subjects {
		w, err := b.gen.spread(b.base(index, s.index, 0), 40)
		if err != nil {
			return nil, err
		}
		if out := drive(ctx, w, b.o.concurrency, "warmup", s.send); out.errors > 0 {
			return nil, fmt.Errorf("warm-up of %s: %d errors, the first: %w", s.name, out.errors, out.firstErr)
		}
		if err := settle(ctx, b.client, w.alertIDs, b.o.settleTimeout); err != nil {
			return nil, fmt.Errorf("warm-up of %s: %w", s.name, err)
		}
		if s.log != nil {
			if _, _, err := s.log.since("warmup"); err != nil {
				return nil, err
			}
		}
	}
	for round := 1; round <= b.o.rounds; round++ {
		order := subjects
		if round%2 == 0 {
			order = reversed(subjects)
		}
		for _, s := range order {
			w, err := buildRound(b.base(index, s.index, round))
			if err != nil {
				return nil, err
			}
			if err := b.measure(ctx, name, round, s, w); err != nil {
				return nil, err
			}
		}
	}
	sc := &Scenario{Name: name, Baseline: base.summary(), Alertflow: alertflow.summary()}
	sc.ThroughputRatio, sc.P99Ratio, sc.SettledRatio = ratios(sc.Alertflow, sc.Baseline)
	if same != nil {
		sc.SameCalls = same.summary()
		sc.SameCallsThroughputRatio, sc.SameCallsP99Ratio, _ = ratios(sc.Alertflow, sc.SameCalls)
	}
	return sc, nil
}

// ratios are alertflow's throughput, p99 and settled rate over a
// baseline's, all rounds together; zero when the baseline measured none.
func ratios(alertflow, baseline *Load) (throughput, p99, settled float64) {
	if baseline.RequestsPerSec == 0 || baseline.P99Ms == 0 || baseline.SettledPerSec == 0 {
		return 0, 0, 0
	}
	return alertflow.RequestsPerSec / baseline.RequestsPerSec, alertflow.P99Ms / baseline.P99Ms,
		alertflow.SettledPerSec / baseline.SettledPerSec
}

// usage is the CPU time used so far by a subject's processes, the Temporal
// server and afbench.
type usage struct{ subject, server, self time.Duration }

func (b *bench) usage(s *subject) (usage, error) {
	var u usage
	for _, pid := range s.cpuPIDs {
		d, err := cpuTime(pid)
		if err != nil {
			return u, err
		}
		u.subject += d
	}
	var err error
	if b.server != 0 {
		if u.server, err = cpuTime(b.server); err != nil {
			return u, err
		}
	}
	u.self, err = cpuTime(os.Getpid())
	return u, err
}

// measure runs one round of one load: the webhooks, then the wait for
// every alert they opened to close, all of which the CPU times cover.
func (b *bench) measure(ctx context.Context, scenario string, round int, s *subject, w workload) error {
	before, err := b.usage(s)
	if err != nil {
		return err
	}
	tag := fmt.Sprintf("%s-%s-r%d", scenario, s.name, round)
	out := drive(ctx, w, b.o.concurrency, tag, s.send)
	if err := ctx.Err(); err != nil {
		return err
	}
	answered := time.Now()
	if err := settle(ctx, b.client, w.alertIDs, b.o.settleTimeout); err != nil {
		return fmt.Errorf("%s: %w", tag, err)
	}
	// The dev server has periodic work of its own (scanners): give up
	// waiting after a while.
	if err := b.quiesce(ctx, 15*time.Second); err != nil {
		return fmt.Errorf("%s: %w", tag, err)
	}
	drain := time.Since(answered)
	after, err := b.usage(s)
	if err != nil {
		return err
	}
	s.record(out, before, after)
	s.drain += drain
	if s.log != nil {
		whole, afterBody, err := s.log.since(tag)
		if err != nil {
			return err
		}
		if s.ingress == nil {
			s.ingress, s.afterBody = map[string][]time.Duration{}, map[string][]time.Duration{}
		}
		for outcome, ds := range whole {
			s.ingress[outcome] = append(s.ingress[outcome], ds...)
			s.afterBody[outcome] = append(s.afterBody[outcome], afterBody[outcome]...)
		}
	}
	p99 := percentile(latencies(out.samples, signaled), 99)
	s.rounds = append(s.rounds, Round{RequestsPerSec: float64(out.requests) / out.elapsed.Seconds(), P99Ms: ms(p99), DrainSec: drain.Seconds()})
	b.logf("%-22s %5d webhooks in %5.1f s: %6.1f/s, p99 %6.1f ms, %d errors, drained in %.1f s",
		tag, out.requests, out.elapsed.Seconds(), float64(out.requests)/out.elapsed.Seconds(), ms(p99), out.errors, drain.Seconds())
	return nil
}

// quiesce waits, when afbench started the server, until it is idle or
// limit has passed: the work a round caused after its alerts closed
// (visibility updates, timers) is the round's, and must not slow the next
// one down.
func (b *bench) quiesce(ctx context.Context, limit time.Duration) error {
	if b.server == 0 {
		return nil
	}
	const (
		every = 500 * time.Millisecond
		idle  = every / 5 // a fifth of a core
	)
	last, err := cpuTime(b.server)
	for deadline := time.Now().Add(limit); err == nil; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
		var now time.Duration
		if now, err = cpuTime(b.server); err == nil && (now-last < idle || time.Now().After(deadline)) {
			return nil
		}
		last = now
	}
	return err
}

func (s *subject) record(out outcome, before, after usage) {
	s.samples = append(s.samples, out.samples...)
	s.requests += out.requests
	s.errors += out.errors
	if s.firstErr == nil {
		s.firstErr = out.firstErr
	}
	s.active += out.elapsed
	s.cpu += after.subject - before.subject
	s.server += after.server - before.server
	s.loader += after.self - before.self
}

// summary is the Load of all rounds of s.
func (s *subject) summary() *Load {
	perK := func(d time.Duration) float64 { return d.Seconds() / float64(s.requests) * 1000 }
	l := &Load{
		Webhooks: s.requests, Errors: s.errors, RequestsPerSec: float64(s.requests) / s.active.Seconds(),
		CPUPer1000: perK(s.cpu), ServerCPUPer1000: perK(s.server), LoadCPUPer1000: perK(s.loader),
		DrainSec: s.drain.Seconds(), SettledPerSec: float64(s.requests) / (s.active + s.drain).Seconds(), Rounds: s.rounds,
	}
	if s.firstErr != nil {
		l.FirstError = s.firstErr.Error()
	}
	sorted := latencies(s.samples, signaled)
	l.P50Ms, l.P95Ms, l.P99Ms = ms(percentile(sorted, 50)), ms(percentile(sorted, 95)), ms(percentile(sorted, 99))
	l.Ignored = percentiles(latencies(s.samples, ignored))
	all := make([]time.Duration, 0, len(s.samples))
	for _, x := range s.samples {
		all = append(all, x.latency)
	}
	slices.Sort(all)
	l.All = percentiles(all)
	noAlert := slices.Concat(s.ingress[ignored], s.ingress[ingress.OutcomeNone])
	slices.Sort(noAlert)
	l.NoAlertMs = percentiles(noAlert)
	for outcome, ds := range s.ingress {
		slices.Sort(ds)
		rest := s.afterBody[outcome]
		slices.Sort(rest)
		if l.IngressMs == nil {
			l.IngressMs, l.AfterBodyMs = map[string]*Percentiles{}, map[string]*Percentiles{}
		}
		l.IngressMs[outcome], l.AfterBodyMs[outcome] = percentiles(ds), percentiles(rest)
	}
	if _, peak, err := memory(s.rssPID); err == nil {
		l.PeakRSSMiB = mib(peak)
	}
	return l
}

// openScenario opens o.openAlerts alerts at once and leaves them open, then
// queries every one (or a sample) and reads alertflow's memory.
func (b *bench) openScenario(ctx context.Context, index int, name string, s *subject) (*Scenario, error) {
	w, err := b.gen.open(b.base(index, s.index, 1), b.o.openAlerts)
	if err != nil {
		return nil, err
	}
	b.logf("%s: alertflow (pid %d) started; opening %d alerts", name, s.rssPID, len(w.alertIDs))
	before, err := b.usage(s)
	if err != nil {
		return nil, err
	}
	out := drive(ctx, w, b.o.concurrency, name, s.send)
	b.logf("%-22s %5d webhooks in %5.1f s: %6.1f/s, %d errors",
		name, out.requests, out.elapsed.Seconds(), float64(out.requests)/out.elapsed.Seconds(), out.errors)
	var waited time.Duration
	if b.o.openDrain > 0 {
		b.logf("%s: waiting up to %s for the server to work off the backlog", name, b.o.openDrain)
		t := time.Now()
		if err := b.quiesce(ctx, b.o.openDrain); err != nil {
			return nil, err
		}
		waited = time.Since(t)
		b.logf("%s: waited %.0f s", name, waited.Seconds())
	}
	ids := w.alertIDs
	if n := b.o.querySample; n > 0 && n < len(ids) {
		sample := make([]string, n)
		for i := range sample {
			sample[i] = ids[i*len(ids)/n]
		}
		ids = sample
	}
	b.logf("%s: querying %d alerts", name, len(ids))
	o := b.queryAll(ctx, ids)
	o.Alerts, o.WaitedSec = len(w.alertIDs), waited.Seconds()
	if o.Listed, err = b.countOpen(ctx, s.queue, o.Alerts); err != nil {
		return nil, err
	}
	after, err := b.usage(s)
	if err != nil {
		return nil, err
	}
	s.record(out, before, after)
	rss, peak, err := memory(s.rssPID)
	if err != nil {
		return nil, err
	}
	o.RSSMiB, o.PeakRSSMiB = mib(rss), mib(peak)
	b.logf("%-22s %5d alerts queried: %d open, %d failed; %d listed open; RSS %.0f MiB, peak %.0f MiB",
		name, o.Queried, o.Open, o.Failed, o.Listed, o.RSSMiB, o.PeakRSSMiB)
	return &Scenario{Name: name, Alertflow: s.summary(), Open: o}, nil
}

// queryConcurrency is how many state queries queryAll has in flight, and
// queryTimeout how long an alert has to answer one, retries included: the
// REST API's alert page must not wait longer.
const (
	queryConcurrency = 100
	queryTimeout     = 10 * time.Second
)

// queryAll asks every alert in ids for its state. A query waits for the
// alert's pending workflow task, if any: while the worker works off a
// backlog, it may not be answered in time.
func (b *bench) queryAll(ctx context.Context, ids []string) *Open {
	var (
		mu   sync.Mutex
		o    = &Open{Queried: len(ids)}
		lats []time.Duration
		work = make(chan string)
		wg   sync.WaitGroup
	)
	for range queryConcurrency {
		wg.Go(func() {
			for id := range work {
				d, status, err := b.query(ctx, id)
				mu.Lock()
				switch {
				case err != nil:
					o.Failed++
					if o.FirstError == "" {
						o.FirstError = fmt.Sprintf("%s: %v", id, err)
					}
				case status == "open":
					o.Open++
					lats = append(lats, d)
				default:
					lats = append(lats, d)
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	slices.Sort(lats)
	o.QueryP50Ms, o.QueryP99Ms = ms(percentile(lats, 50)), ms(percentile(lats, 99))
	return o
}

// countOpen counts the alerts on queue that the server's visibility lists
// as open, waiting up to a minute for it to list want of them.
func (b *bench) countOpen(ctx context.Context, queue string, want int) (int, error) {
	query := fmt.Sprintf("TaskQueue = '%s' AND AlertStatus = 'open' AND ExecutionStatus = 'Running'", queue)
	for deadline := time.Now().Add(time.Minute); ; {
		resp, err := b.client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: b.namespace, Query: query})
		if err != nil {
			return 0, fmt.Errorf("count open alerts: %w", err)
		}
		if n := int(resp.GetCount()); n >= want || time.Now().After(deadline) {
			return n, nil
		}
		time.Sleep(time.Second)
	}
}

func (b *bench) query(ctx context.Context, id string) (time.Duration, string, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	for {
		v, err := b.client.QueryWorkflow(ctx, id, "", workflows.QueryState)
		var state struct {
			Status string `json:"status"`
		}
		if err == nil {
			err = v.Get(&state)
		}
		if err == nil || ctx.Err() != nil {
			return time.Since(start), state.Status, err
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// cleanUp terminates what afbench left running on a server it did not
// start; a dev server it started goes with its data directory.
func (b *bench) cleanUp(queue string) {
	if !b.external {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := b.client.WorkflowService().StartBatchOperation(ctx, &workflowservice.StartBatchOperationRequest{
		Namespace:       b.namespace,
		JobId:           uuid.NewString(),
		Reason:          "afbench is done",
		VisibilityQuery: fmt.Sprintf("TaskQueue = '%s' AND ExecutionStatus = 'Running'", queue),
		Operation: &workflowservice.StartBatchOperationRequest_TerminationOperation{
			TerminationOperation: &batchpb.BatchOperationTermination{},
		},
	})
	if err != nil {
		b.logf("terminate the workflows left on task queue %s: %v", queue, err)
	}
}
