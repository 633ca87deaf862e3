package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/alertflow/alertflow/silence"
	"github.com/alertflow/alertflow/workflows"
)

// The silences scenario: time to notify (as the notify scenario measures
// it, alertflow against the raw-SDK floor) at one rate, in rounds without
// silences, then in as many rounds with -silences silence workflows
// running, none of which matches the bench's alerts. Every worker keeps
// all running silences in view (workflows.SilenceStore) and checks each
// notification against those of its project (silence.Set): the target is
// that 10 000 of them, silence.MaxSilences, leave time to notify within
// 1.2 × of none. The floor checks no silences: it is the control, showing
// what the silences cost the server and the machine, apart from alertflow.

// SilencesResult is what the silences scenario found.
type SilencesResult struct {
	Count  int     `json:"silences"`
	PerSec float64 `json:"per_sec"`
	// Seconds is how long each round of each load sent, WarmupSec how much
	// of its start is left out of the figures.
	Seconds   float64 `json:"seconds"`
	WarmupSec float64 `json:"warmup_s"`
	// Preexisting are the silences already running in the namespace
	// before the scenario started any (0 on the dev server afbench starts).
	Preexisting int `json:"preexisting,omitempty"`
	// StartSec is how long starting the silences took; ReadySec, from the
	// first start, until visibility counted every one running and each
	// one's first workflow task was done; Ready says how that was known.
	StartSec float64 `json:"start_s"`
	ReadySec float64 `json:"ready_s"`
	Ready    string  `json:"ready"`
	// IdleCPU is the server's CPU use, as a share of one core, in the
	// quietest of settleWindows measured before the silences started;
	// SettleCPU its use in each window after they were ready, until it
	// came back within settleMargin of IdleCPU (SettleSec, Settled) or
	// settleLimit passed. Empty where afbench did not start the server.
	IdleCPU   float64   `json:"idle_cpu,omitempty"`
	SettleCPU []float64 `json:"settle_cpu,omitempty"`
	SettleSec float64   `json:"settle_s,omitempty"`
	Settled   bool      `json:"settled,omitempty"`
	// InView is how many silences alertflow's worker held in its view
	// (its alertflow_silences gauge) before the rounds with them, -1 when
	// the gauge could not be read.
	InView int `json:"in_view"`
	// Without and With are the rounds without and with the silences, each
	// both loads' p99 and drain.
	Without []NotifyPair `json:"without"`
	With    []NotifyPair `json:"with"`
	// Alertflow and Floor summarize each load's rounds.
	Alertflow SilencesLoad `json:"alertflow"`
	Floor     SilencesLoad `json:"floor"`
}

// SilencesLoad is one load of the silences scenario: the median, lowest
// and highest of its rounds' p99s without and with the silences, the ratio
// of the medians (with / without), and its latencies over all rounds of
// each phase.
type SilencesLoad struct {
	WithoutP99Ms    float64     `json:"without_p99_ms"`
	WithP99Ms       float64     `json:"with_p99_ms"`
	Ratio           float64     `json:"ratio,omitempty"`
	WithoutP99MinMs float64     `json:"without_p99_min_ms"`
	WithoutP99MaxMs float64     `json:"without_p99_max_ms"`
	WithP99MinMs    float64     `json:"with_p99_min_ms"`
	WithP99MaxMs    float64     `json:"with_p99_max_ms"`
	WithoutAll      *NotifyLoad `json:"without_all,omitempty"`
	WithAll         *NotifyLoad `json:"with_all,omitempty"`
}

// silencesWant is the silences the target asks for: silence.MaxSilences,
// the most that may be active or pending at once.
const silencesWant = silence.MaxSilences

// silenceStarters is how many silence workflows afbench starts at once.
const silenceStarters = 16

// silenceProjectIDs is the first project ID the bench's silences name:
// far above any project ID of the bench's alerts (below 10^11: b.offset,
// at most 999 × 10^8, plus b.base's strides), and below 2^53, so that it
// stays exact wherever the JSON is read.
const silenceProjectIDs = 900_000_000_000_000

// silenceMatchers are the matchers of the bench's silence i: nine in ten
// name a project ID of their own, far from the bench's; one in ten a
// project glob under a top group no bench project is in (the bench's
// projects are "acme/project-<id>", bench/payload). The glob ones are
// indexed under their group (silence.Set), the others under their ID, as
// a real team's silences would be.
func silenceMatchers(i int) json.RawMessage {
	if i%10 == 9 {
		return json.RawMessage(fmt.Sprintf(`{"project":"afbench-silenced/group-%d/**"}`, i))
	}
	return json.RawMessage(fmt.Sprintf(`{"project_id":[%d]}`, silenceProjectIDs+int64(i)))
}

// benchSilence is the bench's silence i, made at now, for two hours.
func benchSilence(i int, now time.Time) (silence.Silence, error) {
	return silence.New(silence.IDPrefix+uuid.NewString(), silence.Request{
		Matchers: silenceMatchers(i), Duration: "2h", CreatedBy: "afbench",
		Comment: "afbench silences scenario: matches none of the bench's alerts",
	}, now)
}

// silencesLoad summarizes one load's rounds without and with the
// silences; alertflow picks the load.
func silencesLoad(without, with []NotifyPair, alertflow bool) SilencesLoad {
	p99s := func(ps []NotifyPair) []float64 {
		var out []float64
		for _, p := range ps {
			if alertflow {
				out = append(out, p.AlertflowP99)
			} else {
				out = append(out, p.FloorP99)
			}
		}
		return out
	}
	var l SilencesLoad
	if wo := p99s(without); len(wo) > 0 {
		l.WithoutP99Ms, l.WithoutP99MinMs, l.WithoutP99MaxMs = median(wo), slices.Min(wo), slices.Max(wo)
	}
	if wi := p99s(with); len(wi) > 0 {
		l.WithP99Ms, l.WithP99MinMs, l.WithP99MaxMs = median(wi), slices.Min(wi), slices.Max(wi)
	}
	if l.WithoutP99Ms > 0 && l.WithP99Ms > 0 {
		l.Ratio = l.WithP99Ms / l.WithoutP99Ms
	}
	return l
}

// silencesTarget: with silence.MaxSilences silences, alertflow's p99 (the
// median of its rounds) within 1.2 × of its p99 without, every alert
// opened in the rounds with them. A run with fewer silences says so and
// does not meet it.
func silencesTarget(r *SilencesResult) Target {
	a := r.Alertflow
	got := fmt.Sprintf("%.2f x (p99 %.0f ms with, %.0f ms without; floor %.2f x)", a.Ratio, a.WithP99Ms, a.WithoutP99Ms, r.Floor.Ratio)
	ok := a.Ratio > 0 && a.Ratio <= 1.2 && r.Count >= silencesWant
	for _, phase := range []struct {
		name string
		l    *NotifyLoad
	}{{"without", a.WithoutAll}, {"with", a.WithAll}} {
		if phase.l != nil && (phase.l.Missing > 0 || phase.l.Errors > 0) {
			got += fmt.Sprintf("; %s silences %d never opened, %d not accepted", phase.name, phase.l.Missing, phase.l.Errors)
			ok = false
		}
	}
	if r.Count < silencesWant {
		got += fmt.Sprintf("; only %d silences, not %d", r.Count, silencesWant)
	}
	return Target{"notify with 10 000 silences", "alertflow p99 with 10 000 silences <= 1.2 x without (median of rounds)", got, ok}
}

// silencesScenario measures time to notify at -silences-rate without
// silences, then with -silences of them running.
func (b *bench) silencesScenario(ctx context.Context, index int, name, queue string) (*Scenario, error) {
	rate, rounds := b.o.silencesRate, b.o.notifyRounds
	switch {
	case rounds < 1 || rounds > 9:
		return nil, errors.New("-notify-rounds: 1 to 9 rounds: the project ids of their branches would meet")
	case rate <= 0:
		return nil, errors.New("-silences-rate must be positive")
	case rate*b.o.notifyFor.Seconds() > float64(len(refs))*10_000:
		return nil, fmt.Errorf("-silences-rate %g for %s: at most %d deliveries a round, or the project ids of the rounds would meet", rate, b.o.notifyFor, len(refs)*10_000)
	case b.o.silences < 1:
		return nil, errors.New("-silences must be at least 1")
	}
	afQueue := queue + "-alertflow"
	preexisting, err := b.countRuns(ctx, workflows.RunningSilences)
	if err != nil {
		return nil, err
	}
	if preexisting > 0 {
		b.logf("%s: %d silences already running in namespace %s: alertflow's worker sees them in the rounds without the bench's too", name, preexisting, b.namespace)
	}
	rc, loads, af, stop, err := b.notifySetup(ctx, name, queue, b.o.concurrency)
	if err != nil {
		return nil, err
	}
	defer stop()

	res := &SilencesResult{Count: b.o.silences, PerSec: rate, Seconds: b.o.notifyFor.Seconds(), WarmupSec: b.o.notifyWarmup.Seconds(), Preexisting: preexisting, InView: -1}
	// phase runs rounds of both loads, alternating which goes first,
	// round r of phase ri on project ids of their own.
	phase := func(label string, ri, rounds int) ([]NotifyPair, map[string]*NotifyLoad, error) {
		nl := map[string]*NotifyLoad{"alertflow": {}, "floor": {}}
		lat := map[string][]time.Duration{}
		var pairs []NotifyPair
		for round := 1; round <= rounds; round++ {
			order := loads
			if round%2 == 0 {
				order = reversed(loads)
			}
			var pair NotifyPair
			for _, l := range order {
				li := slices.IndexFunc(loads, func(x notifyLoad) bool { return x.name == l.name })
				r, err := b.notifyRound(ctx, rc, l.send, b.base(index, li, ri*10+round), rate, b.o.notifyFor, b.o.notifyWarmup, nl[l.name])
				if err != nil {
					return nil, nil, fmt.Errorf("%s %s, round %d: %w", l.name, label, round, err)
				}
				if l.name == "alertflow" {
					if err := b.resolveRound(ctx, l.send, afQueue, b.base(index, li, ri*10+round), int(rate*b.o.notifyFor.Seconds())); err != nil {
						return nil, nil, fmt.Errorf("resolve the alerts of %s round %d: %w", label, round, err)
					}
				}
				lat[l.name] = append(lat[l.name], r.lat...)
				p99 := ms(percentile(r.lat, 99))
				if l.name == "alertflow" {
					pair.AlertflowP99, pair.AlertflowDrain = p99, r.drain.Seconds()
				} else {
					pair.FloorP99, pair.FloorDrain = p99, r.drain.Seconds()
				}
				b.logf("silences %-16s r%d %-9s %d opened (%d never): p50 %.1f ms, p99 %.1f ms, max %.1f ms; slowest answer %.1f ms; drained %.1f s after the last send",
					label, round, l.name, len(r.lat), r.missing, ms(percentile(r.lat, 50)), p99, ms(percentile(r.lat, 100)), ms(r.slowest), r.drain.Seconds())
			}
			pairs = append(pairs, pair)
		}
		for name, ds := range lat {
			slices.Sort(ds)
			nl[name].Opened = percentiles(ds)
		}
		return pairs, nl, nil
	}

	b.logf("%s: %d rounds of each load at %g/s without silences", name, rounds, rate)
	without, withoutAll, err := phase("without", 0, rounds)
	if err != nil {
		return nil, err
	}

	// What the server uses idle, to know below when it has digested
	// the silences' starts.
	if res.IdleCPU, err = b.idleServerCPU(ctx); err != nil {
		return nil, err
	}
	// Where alertflow's REST API starts silences, and its silence worker
	// runs them.
	silenceQueue := afQueue + "-silences"
	b.logf("%s: starting %d silences on task queue %s, %d at once", name, b.o.silences, silenceQueue, silenceStarters)
	started := time.Now()
	ids, err := b.startSilences(ctx, silenceQueue, b.o.silences)
	// Whatever happens from here on, the silences go: on the dev server
	// afbench started they would otherwise stay in view of the scenarios
	// after this one (a worker reads every silence of the namespace), and
	// cleanUp leaves the dev server's workflows alone.
	defer b.endSilences(ctx, silenceQueue, ids)
	if err != nil {
		return nil, err
	}
	res.StartSec = time.Since(started).Seconds()
	b.logf("%s: %d silences started in %.1f s (%.0f/s); waiting for visibility to count them running", name, len(ids), res.StartSec, float64(len(ids))/res.StartSec)
	if res.Ready, err = b.waitSilences(ctx, silenceQueue, ids); err != nil {
		return nil, err
	}
	res.ReadySec = time.Since(started).Seconds()
	b.logf("%s: all %d silences ready %.1f s after the first start: %s", name, len(ids), res.ReadySec, res.Ready)
	// Ten thousand starts in a minute or two might leave the server busy
	// after every one is ready (the dev server was idle again within
	// 10 s): the rounds are to measure silences running, not that burst.
	settling := time.Now()
	if res.SettleCPU, res.Settled, err = b.settleServer(ctx, res.IdleCPU); err != nil {
		return nil, err
	}
	if len(res.SettleCPU) > 0 {
		res.SettleSec = time.Since(settling).Seconds()
		b.logf("%s: the server's CPU, a share of one core per %s after the silences were ready: %s; %s", name, settleWindow,
			shares(res.SettleCPU), map[bool]string{true: "settled", false: "not settled within " + settleLimit.String()}[res.Settled])
	}
	b.logf("%s: one warm-up round of each load with the silences", name)
	if _, _, err := phase("warm-up", 1, 1); err != nil {
		return nil, err
	}
	// The warm-up's notifications had the worker read the silences; its
	// view must hold them all before the rounds with them.
	if res.InView, err = b.waitInView(ctx, af.metricsURL, preexisting+len(ids)); err != nil {
		return nil, err
	}

	b.logf("%s: %d rounds of each load at %g/s with %d silences", name, rounds, rate, len(ids))
	with, withAll, err := phase("with", 2, rounds)
	if err != nil {
		return nil, err
	}
	res.Without, res.With = without, with
	res.Alertflow, res.Floor = silencesLoad(without, with, true), silencesLoad(without, with, false)
	res.Alertflow.WithoutAll, res.Alertflow.WithAll = withoutAll["alertflow"], withAll["alertflow"]
	res.Floor.WithoutAll, res.Floor.WithAll = withoutAll["floor"], withAll["floor"]
	b.logf("%s: alertflow p99 %.0f ms with, %.0f ms without: %.2f x; floor %.2f x", name, res.Alertflow.WithP99Ms, res.Alertflow.WithoutP99Ms, res.Alertflow.Ratio, res.Floor.Ratio)
	return &Scenario{Name: name, Silences: res, FloorCalls: b.floorCalls()}, nil
}

// How the silences scenario knows the server has digested the silences'
// starts: its CPU over windows of settleWindow, idle when within
// settleMargin (a share of one core) of its idle use before them.
const (
	settleWindow = 10 * time.Second
	settleMargin = 0.05
	settleLimit  = 10 * time.Minute
	// idleWindows is how many windows the idle use is the quietest of.
	idleWindows = 3
)

// serverCPU is the server's CPU use over window, as a share of one core.
func (b *bench) serverCPU(ctx context.Context, window time.Duration) (float64, error) {
	before, err := cpuTime(b.server)
	if err != nil {
		return 0, err
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(window):
	}
	after, err := cpuTime(b.server)
	if err != nil {
		return 0, err
	}
	return (after - before).Seconds() / window.Seconds(), nil
}

// idleServerCPU is the server's use in the quietest of idleWindows
// windows; 0 where afbench did not start the server.
func (b *bench) idleServerCPU(ctx context.Context) (float64, error) {
	if b.server == 0 {
		return 0, nil
	}
	idle := math.Inf(1)
	for range idleWindows {
		share, err := b.serverCPU(ctx, settleWindow)
		if err != nil {
			return 0, err
		}
		idle = min(idle, share)
	}
	return idle, nil
}

// settleServer measures the server's use window after window until it is
// within settleMargin of idle, or settleLimit passed; it returns each
// window's share and whether it settled. Nothing where afbench did not
// start the server.
func (b *bench) settleServer(ctx context.Context, idle float64) ([]float64, bool, error) {
	if b.server == 0 {
		return nil, false, nil
	}
	var seen []float64
	for deadline := time.Now().Add(settleLimit); time.Now().Before(deadline); {
		share, err := b.serverCPU(ctx, settleWindow)
		if err != nil {
			return seen, false, err
		}
		seen = append(seen, share)
		if share <= idle+settleMargin {
			return seen, true, nil
		}
	}
	return seen, false, nil
}

// shares prints CPU shares as percentages of one core.
func shares(ss []float64) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%.0f%%", s*100)
	}
	return strings.Join(out, " ")
}

// resolveRound resolves the n alerts a round of alertflow opened on the
// branches from base, and waits until none runs on queue. Left open, they
// would stay in the alert worker's workflow cache: each phase would run
// with the alerts of every round before it, the rounds with silences with
// twice as many as those without, and pay for them in garbage collection
// (some 45 KB of heap an alert), silences or not.
func (b *bench) resolveRound(ctx context.Context, send sender, queue string, base int64, n int) error {
	work := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range silenceStarters {
		wg.Go(func() {
			for i := range work {
				project, ref := branch(base, i)
				r, err := b.gen.webhook(project, ref, "success", false)
				if err == nil {
					_, err = send(ctx, r, "resolve-"+strconv.Itoa(i))
				}
				if err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running' AND TaskQueue = '%s'", workflows.WorkflowType, queue)
	for deadline := time.Now().Add(b.o.settleTimeout); ; {
		left, err := b.countRuns(ctx, query)
		if err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d alerts still open %s after their successes were sent", left, b.o.settleTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// startSilences starts n of the bench's silences on queue, as the REST
// API starts them (workflows.SilenceStartOptions), silenceStarters at a
// time, and returns the IDs of those started, also on an error.
func (b *bench) startSilences(ctx context.Context, queue string, n int) ([]string, error) {
	var (
		mu       sync.Mutex
		ids      = make([]string, 0, n)
		failed   int
		firstErr error
		work     = make(chan int)
		wg       sync.WaitGroup
	)
	for range silenceStarters {
		wg.Go(func() {
			for i := range work {
				sl, err := benchSilence(i, time.Now())
				if err == nil {
					_, err = b.client.ExecuteWorkflow(ctx, workflows.SilenceStartOptions(queue, sl), workflows.SilenceWorkflowType, sl)
				}
				mu.Lock()
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = fmt.Errorf("start silence %d: %w", i, err)
					}
				} else {
					ids = append(ids, sl.ID)
				}
				mu.Unlock()
			}
		})
	}
	every := max(n/10, 1)
feed:
	for i := range n {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
		if (i+1)%every == 0 && i+1 < n {
			mu.Lock()
			b.logf("silences: %d of %d started", len(ids), n)
			mu.Unlock()
		}
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return ids, err
	}
	if failed > 0 {
		return ids, fmt.Errorf("%d of %d silences not started, the first: %w", failed, n, firstErr)
	}
	return ids, nil
}

// silencesRunning is the visibility query of the silences running on
// queue; with firstTask, only those whose first workflow task is done
// (SilenceWorkflow's first task adds events: a workflow starts with two),
// on a server whose visibility keeps HistoryLength for running workflows.
func silencesRunning(queue string, firstTask bool) string {
	q := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running' AND TaskQueue = '%s'", workflows.SilenceWorkflowType, queue)
	if firstTask {
		q += " AND HistoryLength > 2"
	}
	return q
}

// countRuns counts the runs query matches: the silences, or the alerts a
// round left open.
func (b *bench) countRuns(ctx context.Context, query string) (int, error) {
	resp, err := b.client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: b.namespace, Query: query})
	if err != nil {
		return 0, fmt.Errorf("count the runs of %s: %w", query, err)
	}
	return int(resp.GetCount()), nil
}

// waitSilences waits until visibility counts every silence of ids running
// on queue, as the worker lists them, and until each one's first workflow
// task is done; it says how it knew. The first task is read from
// visibility's HistoryLength where the server keeps it for running
// workflows; the dev server's SQLite visibility accepts HistoryLength in a
// query but writes it only when a workflow closes (a running one never
// matches, not even HistoryLength >= 0), and a server may refuse it: then
// from each silence's own record, DescribeWorkflowExecution's history
// length, which the log says. It gives up when a count has not grown for
// -settle-timeout.
func (b *bench) waitSilences(ctx context.Context, queue string, ids []string) (string, error) {
	want := len(ids)
	running := silencesRunning(queue, false)
	if err := b.pollCount(ctx, "running", func(ctx context.Context) (int, error) { return b.countRuns(ctx, running) }, want); err != nil {
		return "", err
	}
	how := fmt.Sprintf("visibility counted all %d running (%s)", want, running)
	// Does the server keep HistoryLength for running workflows?
	probe := running + " AND HistoryLength >= 0"
	kept, err := b.countRuns(ctx, probe)
	var invalid *serviceerror.InvalidArgument
	switch {
	case err != nil && errors.As(err, &invalid):
		b.logf("silences: the server refuses HistoryLength in a visibility query (%v): reading each silence's history length with DescribeWorkflowExecution instead", invalid)
	case err != nil:
		return how, err
	case kept >= want:
		first := silencesRunning(queue, true)
		if err := b.pollCount(ctx, "with their first workflow task done", func(ctx context.Context) (int, error) { return b.countRuns(ctx, first) }, want); err != nil {
			return how, err
		}
		return how + fmt.Sprintf(", and their first workflow task done (%s)", first), nil
	default:
		b.logf("silences: the server keeps no HistoryLength for running workflows (%d of %d running silences match %q): reading each silence's history length with DescribeWorkflowExecution instead", kept, want, probe)
	}
	pending := slices.Clone(ids)
	described := func(ctx context.Context) (int, error) {
		left, err := b.firstTaskPending(ctx, pending)
		if err != nil {
			return 0, err
		}
		pending = left
		return want - len(left), nil
	}
	if err := b.pollCount(ctx, "with their first workflow task done", described, want); err != nil {
		return how, err
	}
	return how + ", and DescribeWorkflowExecution found every one's first workflow task done (history length > 2; visibility keeps no HistoryLength for running workflows)", nil
}

// pollCount calls count every second until it reaches want, or until it
// has not grown for -settle-timeout, logging progress every 10 s.
func (b *bench) pollCount(ctx context.Context, what string, count func(context.Context) (int, error), want int) error {
	last, grew, logged := -1, time.Now(), time.Now()
	for {
		n, err := count(ctx)
		if err != nil {
			return err
		}
		if n >= want {
			return nil
		}
		if n > last {
			last, grew = n, time.Now()
		}
		if time.Since(grew) > b.o.settleTimeout {
			return fmt.Errorf("%d of %d silences %s, no more for %s", n, want, what, b.o.settleTimeout)
		}
		if time.Since(logged) >= 10*time.Second {
			b.logf("silences: %d of %d %s", n, want, what)
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// firstTaskPending describes each silence of ids, silenceStarters at a
// time, and returns those whose first workflow task is not done yet: a
// history of two events at most (started, task scheduled).
func (b *bench) firstTaskPending(ctx context.Context, ids []string) ([]string, error) {
	var (
		mu       sync.Mutex
		left     []string
		firstErr error
		work     = make(chan string)
		wg       sync.WaitGroup
	)
	for range silenceStarters {
		wg.Go(func() {
			for id := range work {
				d, err := b.client.DescribeWorkflowExecution(ctx, id, "")
				mu.Lock()
				switch {
				case err != nil:
					if firstErr == nil {
						firstErr = fmt.Errorf("describe silence %s: %w", id, err)
					}
				case d.GetWorkflowExecutionInfo().GetHistoryLength() <= 2:
					left = append(left, id)
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
	return left, firstErr
}

// inViewWithin is how long alertflow's worker may take, after the warm-up
// round, to show every silence in its view: it reads them every 2 s while
// notifications use them, and keeps reading for a minute after the last.
const inViewWithin = 45 * time.Second

// waitInView polls alertflow's alertflow_silences gauge, the silences its
// worker holds in view, until it reaches want, and returns the last value
// read; -1, without an error, when the gauge cannot be read at all.
func (b *bench) waitInView(ctx context.Context, metricsURL string, want int) (int, error) {
	n := -1
	for deadline := time.Now().Add(inViewWithin); ; {
		v, err := silencesGauge(ctx, metricsURL)
		if err == nil {
			if n = v; n >= want {
				b.logf("silences: alertflow's worker holds %d silences in view", n)
				return n, nil
			}
		}
		if time.Now().After(deadline) {
			if n < 0 {
				b.logf("silences: alertflow's view of the silences not checked: %v", err)
				return -1, nil
			}
			return n, fmt.Errorf("alertflow's worker holds %d silences in view after %s, not %d", n, inViewWithin, want)
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// silencesGauge reads workflows.MetricSilences from a Prometheus /metrics
// page: the highest value of its series.
func silencesGauge(ctx context.Context, url string) (int, error) {
	if url == "" {
		return 0, errors.New("no metrics address")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("read %s: %s", url, resp.Status)
	}
	return gaugeOf(resp.Body, workflows.MetricSilences)
}

// gaugeOf is the highest value of the series of metric name in a
// Prometheus text page.
func gaugeOf(r io.Reader, name string) (int, error) {
	best, found := math.Inf(-1), false
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		best, found = max(best, v), true
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("no %s on the metrics page (the worker has read no silences yet)", name)
	}
	return int(best), nil
}

// endSilences terminates the silences afbench started, silenceStarters at
// a time, and waits for visibility to count none running on queue.
func (b *bench) endSilences(ctx context.Context, queue string, ids []string) {
	if len(ids) == 0 || (ctx.Err() != nil && !b.external) {
		return // the dev server goes with its data directory
	}
	start := time.Now()
	tctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failed   int
		firstErr error
		work     = make(chan string)
	)
	for range silenceStarters {
		wg.Go(func() {
			for id := range work {
				err := b.client.TerminateWorkflow(tctx, id, "", "afbench is done")
				var nf *serviceerror.NotFound
				if err != nil && !errors.As(err, &nf) {
					mu.Lock()
					failed++
					if firstErr == nil {
						firstErr = fmt.Errorf("terminate %s: %w", id, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	if failed > 0 {
		b.logf("silences: %d of %d not terminated, the first: %v", failed, len(ids), firstErr)
		return
	}
	query := silencesRunning(queue, false)
	for deadline := time.Now().Add(2 * time.Minute); ; {
		n, err := b.countRuns(tctx, query)
		if err != nil {
			b.logf("silences: %v", err)
			return
		}
		if n == 0 {
			b.logf("silences: %d terminated in %.1f s, none left running", len(ids), time.Since(start).Seconds())
			return
		}
		if time.Now().After(deadline) {
			b.logf("silences: %d terminated, but visibility still counts %d running after 2 minutes", len(ids), n)
			return
		}
		select {
		case <-tctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// printSilences prints the silences scenario's table.
func printSilences(w io.Writer, r *SilencesResult) {
	fmt.Fprintf(w, "silences: time to notify at %g/s without silences, then with %d running (9 in 10 by project ID, 1 in 10 by project glob, none matching the bench's alerts)\n", r.PerSec, r.Count)
	view := "not read"
	if r.InView >= 0 {
		view = strconv.Itoa(r.InView)
	}
	fmt.Fprintf(w, "  started in %.1f s; ready %.1f s after the first start: %s; alertflow's worker held %s in view\n", r.StartSec, r.ReadySec, r.Ready, view)
	if len(r.SettleCPU) > 0 {
		state := fmt.Sprintf("back within %.0f points of it after %.0f s", settleMargin*100, r.SettleSec)
		if !r.Settled {
			state = fmt.Sprintf("not back within %.0f points of it after %s", settleMargin*100, settleLimit)
		}
		fmt.Fprintf(w, "  the server's CPU idle before the silences %.0f%% of a core; after they were ready, per %s: %s, %s\n", r.IdleCPU*100, settleWindow, shares(r.SettleCPU), state)
	}
	if r.Preexisting > 0 {
		fmt.Fprintf(w, "  %d other silences were running in the namespace throughout\n", r.Preexisting)
	}
	fmt.Fprintf(w, "  %d rounds of %.0f s per load and phase, alternating, the first %.0f s of each left out; send-to-opened p99 per round, ms:\n", len(r.Without), r.Seconds, r.WarmupSec)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "    round\talertflow without\talertflow with\tfloor without\tfloor with\t")
	for i := range max(len(r.Without), len(r.With)) {
		cell := func(ps []NotifyPair, alertflow bool) string {
			if i >= len(ps) {
				return "-"
			}
			if alertflow {
				return fmt.Sprintf("%.1f", ps[i].AlertflowP99)
			}
			return fmt.Sprintf("%.1f", ps[i].FloorP99)
		}
		fmt.Fprintf(tw, "    %d\t%s\t%s\t%s\t%s\t\n", i+1, cell(r.Without, true), cell(r.With, true), cell(r.Without, false), cell(r.With, false))
	}
	tw.Flush()
	for _, l := range []struct {
		name string
		load SilencesLoad
	}{{"alertflow", r.Alertflow}, {"floor", r.Floor}} {
		never := func(n *NotifyLoad) string {
			if n == nil {
				return "-"
			}
			return fmt.Sprintf("%d never opened, %d not accepted", n.Missing, n.Errors)
		}
		fmt.Fprintf(w, "  %-9s median p99 %.1f ms without (%.1f–%.1f), %.1f ms with (%.1f–%.1f): %.2f x; without: %s; with: %s\n",
			l.name, l.load.WithoutP99Ms, l.load.WithoutP99MinMs, l.load.WithoutP99MaxMs, l.load.WithP99Ms, l.load.WithP99MinMs, l.load.WithP99MaxMs, l.load.Ratio,
			never(l.load.WithoutAll), never(l.load.WithAll))
	}
}
