package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/bench/baseline"
	"github.com/alertflow/alertflow/workflows"
)

// The notify scenario: how long after a failed pipeline's delivery the
// receiver gets "opened", when failures on distinct branches come at a
// fixed rate, for alertflow and for a floor of raw SDK calls (a
// signal-with-start of a workflow that runs one activity posting to the
// same receiver), in alternating rounds.

// NotifyRate is what the notify scenario found at one rate.
type NotifyRate struct {
	PerSec float64 `json:"per_sec"`
	// Seconds is how long each round sent, Warmup how much of its start
	// is left out of the figures, to measure the steady state.
	Seconds   float64      `json:"seconds"`
	WarmupSec float64      `json:"warmup_s"`
	Alertflow *NotifyLoad  `json:"alertflow"`
	Floor     *NotifyLoad  `json:"floor"`
	P99Ratio  float64      `json:"p99_ratio,omitempty"`
	Rounds    []NotifyPair `json:"rounds"`
	// Search is set on the rates of the search for the highest sustained
	// rate, which follows the fixed rates.
	Search bool `json:"search,omitempty"`
}

// NotifyLoad is one load's send-to-"opened" latencies over all its rounds.
type NotifyLoad struct {
	Sent       int          `json:"sent"`
	Errors     int          `json:"errors"`
	FirstError string       `json:"first_error,omitempty"`
	Missing    int          `json:"missing"`
	Opened     *Percentiles `json:"opened_ms"`
	// SlowestAnswerMs is the longest a delivery waited for its answer
	// (alertflow: the intake's 202; the floor: the signal-with-start).
	SlowestAnswerMs float64 `json:"slowest_answer_ms"`
}

// NotifyPair is one round of both loads: their p99s in milliseconds, and
// their drains: from the last delivery sent to the last "opened" received.
type NotifyPair struct {
	AlertflowP99   float64 `json:"alertflow_p99_ms"`
	FloorP99       float64 `json:"floor_p99_ms"`
	AlertflowDrain float64 `json:"alertflow_drain_s"`
	FloorDrain     float64 `json:"floor_drain_s"`
}

// Sustained is the highest rate each load kept its send-to-"opened" p99
// under notifyP99Limit, of the rates measured; the search goes up a rate
// ladder until both loads miss or the ladder ends.
type Sustained struct {
	LimitMs   float64 `json:"p99_limit_ms"`
	Alertflow float64 `json:"alertflow_per_sec"`
	Floor     float64 `json:"floor_per_sec"`
	// AlertflowMissedAt and FloorMissedAt are the first rate each missed at, 0
	// when the ladder ended first (the sustained rate is then a lower bound).
	AlertflowMissedAt float64 `json:"alertflow_missed_at,omitempty"`
	FloorMissedAt     float64 `json:"floor_missed_at,omitempty"`
	Ratio             float64 `json:"ratio,omitempty"`
}

// Burst is what the burst scenario found: many failures on distinct
// branches within seconds, as when a shared CI template breaks every
// project at once.
type Burst struct {
	Deliveries int     `json:"deliveries"`
	WithinSec  float64 `json:"within_s"`
	Senders    int     `json:"senders"`
	// Alertflow and Floor are the deliveries' fates: answered, accepted,
	// notified; LastOpenedSec is from the first delivery sent to the last
	// "opened" received, AfterLastSentSec from the last delivery sent.
	Alertflow *BurstLoad `json:"alertflow"`
	Floor     *BurstLoad `json:"floor,omitempty"`
}

// BurstLoad is one load's burst.
type BurstLoad struct {
	NotifyLoad
	SentSec          float64 `json:"sent_s"`
	LastOpenedSec    float64 `json:"last_opened_s"`
	AfterLastSentSec float64 `json:"after_last_sent_s"`
}

// notifyP99Limit is the p99 under which a rate counts as sustained, and
// answerLimit how long GitLab waits for a webhook's answer.
const (
	notifyP99Limit = 2 * time.Second
	answerLimit    = 10 * time.Second
)

// receiver is the notification receiver of the notify scenario: it keeps
// when each alert's first "opened" arrived.
type receiver struct {
	mu     sync.Mutex
	opened map[string]time.Time
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, _ := io.ReadAll(r.Body)
	var o baseline.Opened
	if json.Unmarshal(body, &o) == nil && o.Kind == "opened" && o.Alert.ID != "" {
		rc.mu.Lock()
		if _, seen := rc.opened[o.Alert.ID]; !seen {
			rc.opened[o.Alert.ID] = now
		}
		rc.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) at(id string) (time.Time, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	t, ok := rc.opened[id]
	return t, ok
}

// notifyLoad is one of the two loads of the notify and burst scenarios.
type notifyLoad struct {
	name string
	send sender
}

// notifySetup starts what the notify and burst scenarios measure: the
// receiver, alertflow serve notifying it, and the floor's worker. webhooks
// is how many deliveries to alertflow may be in flight at once. af is
// alertflow's processes; stop stops all of it.
func (b *bench) notifySetup(ctx context.Context, name, queue string, webhooks int) (rc *receiver, loads []notifyLoad, af *alertflowProc, stop func(), err error) {
	rc = &receiver{opened: map[string]time.Time{}}
	srv := httptest.NewServer(rc)
	var stops []func()
	stop = func() {
		for _, f := range slices.Backward(stops) {
			f()
		}
	}
	stops = append(stops, srv.Close)
	af, err = b.startAlertflow(ctx, name, queue+"-alertflow", "ALERTFLOW_NOTIFY_WEBHOOK_URL="+srv.URL, "ALERTFLOW_NOTIFY_WEBHOOK_SECRET=afbench-notify")
	if err != nil {
		stop()
		return nil, nil, nil, nil, err
	}
	stops = append(stops, func() { af.stop(15 * time.Second) }, func() { b.cleanUp(queue + "-alertflow") })
	bw, err := b.startBaselineWorker(ctx, name, queue+"-floor")
	if err != nil {
		stop()
		return nil, nil, nil, nil, err
	}
	stops = append(stops, func() { bw.stop(15 * time.Second) }, func() { b.cleanUp(queue + "-floor") })
	loads = []notifyLoad{
		{"floor", floorSender(b.client, queue+"-floor", srv.URL, b.o.notifyFloorSameCalls)},
		{"alertflow", webhookSender(af.url, b.token, webhooks)},
	}
	b.logf("%s: alertflow (pids %v) and the floor's worker (pid %d) started", name, af.pids(), bw.pid())
	return rc, loads, af, stop, nil
}

// notifyScenario runs every rate of -notify-rates for -notify-rounds
// rounds of both loads, alternating which goes first, then searches up
// the rates of -notify-search, one round each, for the highest rate each
// load sustains.
func (b *bench) notifyScenario(ctx context.Context, index int, name, queue string) (*Scenario, error) {
	if b.o.notifyRounds > 9 || len(b.o.notifyRates)+len(b.o.notifySearch) > 9 {
		return nil, errors.New("at most 9 rounds and 9 rates in all: the project ids of their branches would meet")
	}
	rc, loads, _, stop, err := b.notifySetup(ctx, name, queue, b.o.concurrency)
	if err != nil {
		return nil, err
	}
	defer stop()

	sc := &Scenario{Name: name, FloorCalls: b.floorCalls()}
	// rate runs rounds rounds of the loads still searched at one rate.
	rate := func(ri int, perSec float64, rounds int, sendFor, warmup time.Duration, search bool, skip map[string]bool) (NotifyRate, error) {
		nr := NotifyRate{PerSec: perSec, Seconds: sendFor.Seconds(), WarmupSec: warmup.Seconds(), Search: search}
		lat := map[string][]time.Duration{}
		nl := map[string]*NotifyLoad{"alertflow": {}, "floor": {}}
		for round := 1; round <= rounds; round++ {
			order := loads
			if (ri+round)%2 == 0 {
				order = reversed(loads)
			}
			pair := NotifyPair{}
			for _, l := range order {
				if skip[l.name] {
					continue
				}
				li := slices.IndexFunc(loads, func(x notifyLoad) bool { return x.name == l.name })
				// Distinct branches for every rate, round and load.
				res, err := b.notifyRound(ctx, rc, l.send, b.base(index, li, ri*10+round), perSec, sendFor, warmup, nl[l.name])
				if err != nil {
					return nr, fmt.Errorf("%s at %g/s, round %d: %w", l.name, perSec, round, err)
				}
				lat[l.name] = append(lat[l.name], res.lat...)
				p99 := ms(percentile(res.lat, 99))
				if l.name == "alertflow" {
					pair.AlertflowP99, pair.AlertflowDrain = p99, res.drain.Seconds()
				} else {
					pair.FloorP99, pair.FloorDrain = p99, res.drain.Seconds()
				}
				b.logf("notify %4g/s r%d %-9s %d opened (%d never): p50 %.1f ms, p99 %.1f ms, max %.1f ms; slowest answer %.1f ms; drained %.1f s after the last send",
					perSec, round, l.name, len(res.lat), res.missing, ms(percentile(res.lat, 50)), p99, ms(percentile(res.lat, 100)), ms(res.slowest), res.drain.Seconds())
			}
			nr.Rounds = append(nr.Rounds, pair)
		}
		for name, ds := range lat {
			slices.Sort(ds)
			nl[name].Opened = percentiles(ds)
		}
		nr.Alertflow, nr.Floor = nl["alertflow"], nl["floor"]
		if f := nr.Floor.Opened; f != nil && f.P99 > 0 && nr.Alertflow.Opened != nil {
			nr.P99Ratio = nr.Alertflow.Opened.P99 / f.P99
		}
		return nr, nil
	}
	for ri, perSec := range b.o.notifyRates {
		nr, err := rate(ri, perSec, b.o.notifyRounds, b.o.notifyFor, b.o.notifyWarmup, false, nil)
		if err != nil {
			return nil, err
		}
		sc.Notify = append(sc.Notify, nr)
	}
	missed := map[string]bool{}
	for _, nr := range sc.Notify {
		for _, l := range loads {
			if !sustains(nr.load(l.name)) {
				missed[l.name] = true
			}
		}
	}
	top := slices.Max(append([]float64{0}, b.o.notifyRates...))
	for i, perSec := range b.o.notifySearch {
		if len(missed) == len(loads) {
			break
		}
		if perSec <= top {
			continue
		}
		b.logf("notify: searching at %g/s for %s", perSec, stillSearched(loads, missed))
		nr, err := rate(len(b.o.notifyRates)+i, perSec, 1, b.o.notifySearchFor, b.o.notifySearchWarmup, true, maps.Clone(missed))
		if err != nil {
			return nil, err
		}
		for _, l := range loads {
			if !missed[l.name] && !sustains(nr.load(l.name)) {
				missed[l.name] = true
			}
		}
		sc.Notify = append(sc.Notify, nr)
	}
	sc.Sustained = sustained(sc.Notify)
	return sc, nil
}

func stillSearched(loads []notifyLoad, missed map[string]bool) string {
	var names []string
	for _, l := range loads {
		if !missed[l.name] {
			names = append(names, l.name)
		}
	}
	return strings.Join(names, " and ")
}

// load is the named load's figures at this rate.
func (r NotifyRate) load(name string) *NotifyLoad {
	if name == "alertflow" {
		return r.Alertflow
	}
	return r.Floor
}

// sustains says whether a load kept up at a rate: every alert opened, no
// delivery refused, p99 under notifyP99Limit. A load not run there (nil
// figures) did not.
func sustains(l *NotifyLoad) bool {
	return l != nil && l.Opened != nil && l.Missing == 0 && l.Errors == 0 && l.Opened.P99 < ms(notifyP99Limit)
}

// sustained is the highest rate each load sustained, going up the rates
// measured until the first it did not.
func sustained(rs []NotifyRate) *Sustained {
	sorted := slices.Clone(rs)
	slices.SortStableFunc(sorted, func(a, b NotifyRate) int { return cmp.Compare(a.PerSec, b.PerSec) })
	s := &Sustained{LimitMs: ms(notifyP99Limit)}
	for _, name := range []string{"alertflow", "floor"} {
		var best, missedAt float64
		for _, r := range sorted {
			if !sustains(r.load(name)) {
				missedAt = r.PerSec
				break
			}
			best = r.PerSec
		}
		if name == "alertflow" {
			s.Alertflow, s.AlertflowMissedAt = best, missedAt
		} else {
			s.Floor, s.FloorMissedAt = best, missedAt
		}
	}
	if s.Floor > 0 {
		s.Ratio = s.Alertflow / s.Floor
	}
	return s
}

// burstScenario sends -burst failed pipelines on distinct branches within
// -burst-within, to alertflow and then to the floor, and waits for every
// "opened".
func (b *bench) burstScenario(ctx context.Context, index int, name, queue string) (*Scenario, error) {
	rc, loads, _, stop, err := b.notifySetup(ctx, name, queue, burstSenders)
	if err != nil {
		return nil, err
	}
	defer stop()
	perSec := float64(b.o.burst) / b.o.burstWithin.Seconds()
	bu := &Burst{Deliveries: b.o.burst, WithinSec: b.o.burstWithin.Seconds(), Senders: burstSenders}
	for li, l := range reversed(loads) {
		b.logf("burst: %d failed pipelines on distinct branches within %s to %s", b.o.burst, b.o.burstWithin, l.name)
		bl := &BurstLoad{}
		res, err := b.notifyRound(ctx, rc, l.send, b.base(index, li, 1), perSec, b.o.burstWithin, 0, &bl.NotifyLoad)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.name, err)
		}
		bl.Opened = percentiles(res.lat)
		bl.SentSec, bl.LastOpenedSec, bl.AfterLastSentSec = res.sent.Seconds(), res.lastOpened.Seconds(), res.drain.Seconds()
		b.logf("burst %-9s %d sent in %.1f s, %d errors, slowest answer %.0f ms; %d opened, %d never; last opened %.1f s after the first send (%.1f s after the last)",
			l.name, bl.Sent, bl.SentSec, bl.Errors, bl.SlowestAnswerMs, len(res.lat), bl.Missing, bl.LastOpenedSec, bl.AfterLastSentSec)
		if l.name == "alertflow" {
			bu.Alertflow = bl
		} else {
			bu.Floor = bl
		}
	}
	return &Scenario{Name: name, Burst: bu, FloorCalls: b.floorCalls()}, nil
}

// burstSenders is how many deliveries of the burst may be in flight at
// once: GitLab sends webhooks from many workers, and a slow answer must
// not hold the next delivery back.
const burstSenders = 256

// notifyResult is one round of one load of the notify and burst scenarios.
type notifyResult struct {
	lat     []time.Duration // sorted; those of deliveries sent after the warm-up
	missing int
	// sent is from the first delivery sent to the last, lastOpened from
	// the first sent to the last "opened" received, drain from the last
	// sent to the last "opened" (of those that came: missing ones are
	// counted apart).
	sent, lastOpened, drain time.Duration
	slowest                 time.Duration // the longest wait for an answer
}

// notifyRound sends failed pipelines on distinct branches at perSec a
// second for sendFor, whatever the answers take, then waits for the
// receiver to get every "opened", and returns the latencies of the
// deliveries sent after warmup.
func (b *bench) notifyRound(ctx context.Context, rc *receiver, send sender, base int64, perSec float64, sendFor, warmup time.Duration, nl *NotifyLoad) (notifyResult, error) {
	var res notifyResult
	n := int(perSec * sendFor.Seconds())
	reqs := make([]*request, n)
	for i := range reqs {
		project, ref := branch(base, i)
		r, err := b.gen.webhook(project, ref, "failed", false)
		if err != nil {
			return res, err
		}
		reqs[i] = r
	}
	sent := make([]time.Time, n)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		seq      atomic.Int64
		inFlight = make(chan struct{}, 512)
	)
	every := time.Duration(float64(time.Second) / perSec)
	start := time.Now()
	for i, r := range reqs {
		// Open loop: each delivery leaves at its time, not when the last
		// one was answered.
		if d := time.Until(start.Add(time.Duration(i) * every)); d > 0 {
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(d):
			}
		}
		inFlight <- struct{}{}
		sent[i] = time.Now()
		wg.Go(func() {
			defer func() { <-inFlight }()
			_, err := send(ctx, r, "notify-"+strconv.FormatInt(seq.Add(1), 10))
			answered := time.Since(sent[i])
			mu.Lock()
			defer mu.Unlock()
			res.slowest = max(res.slowest, answered)
			if err != nil {
				nl.Errors++
				if nl.FirstError == "" {
					nl.FirstError = err.Error()
				}
			}
		})
	}
	lastSent := sent[n-1]
	res.sent = lastSent.Sub(start)
	wg.Wait()
	nl.Sent += n
	nl.SlowestAnswerMs = max(nl.SlowestAnswerMs, ms(res.slowest))
	// Every alert gets its "opened" eventually: wait for the last ones.
	deadline := time.Now().Add(b.o.settleTimeout)
	for {
		res.missing = 0
		for _, r := range reqs {
			if _, ok := rc.at(r.alertID); !ok {
				res.missing++
			}
		}
		if res.missing == 0 || time.Now().After(deadline) {
			nl.Missing += res.missing
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	last := lastSent
	warm := start.Add(warmup)
	for i, r := range reqs {
		at, ok := rc.at(r.alertID)
		if !ok {
			continue
		}
		if at.After(last) {
			last = at
		}
		if !sent[i].Before(warm) {
			res.lat = append(res.lat, at.Sub(sent[i]))
		}
	}
	res.lastOpened, res.drain = last.Sub(start), last.Sub(lastSent)
	slices.Sort(res.lat)
	return res, nil
}

// floorCalls says what the floor's signal-with-start calls carry.
func (b *bench) floorCalls() string {
	if b.o.notifyFloorSameCalls {
		return "raw SDK signal-with-start with alertflow's start options (search attributes, memo, summary), one activity posting \"opened\""
	}
	return "raw SDK signal-with-start with a workflow ID and a task queue only, one activity posting \"opened\""
}

// floorSender signals-with-start the floor's NotifyWorkflow, which posts
// "opened" to url. With sameOptions it starts it with the options
// alertflow starts alerts with (search attributes, memo, summary), as the
// same-calls baseline does; otherwise with an ID and a task queue only.
func floorSender(c client.Client, taskQueue, url string, sameOptions bool) sender {
	return func(ctx context.Context, r *request, _ string) (bool, error) {
		opts := client.StartWorkflowOptions{ID: r.alertID, TaskQueue: taskQueue}
		if sameOptions {
			opts = workflows.StartOptions(taskQueue, workflows.Input{Revision: workflows.CurrentRevision}, r.event)
		}
		if _, err := c.SignalWithStartWorkflow(ctx, r.alertID, workflows.SignalPipeline, r.event, opts, baseline.NotifyWorkflow, url); err != nil {
			return false, fmt.Errorf("signal-with-start %s: %w", r.alertID, err)
		}
		return true, nil
	}
}

// parseRates reads a list of rates, such as "10,30,50", given to flag.
func parseRates(flag, s string) ([]float64, error) {
	var out []float64
	for f := range strings.SplitSeq(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive number of deliveries a second", flag, f)
		}
		out = append(out, r)
	}
	return out, nil
}

// printNotify prints the notify scenario's table.
func printNotify(w io.Writer, rs []NotifyRate, su *Sustained) {
	fmt.Fprintln(w, "notify: failed pipelines on distinct branches at a fixed rate; time from sending to the receiver getting \"opened\"")
	for _, r := range rs {
		kind := fmt.Sprintf("%d rounds of %.0f s each", len(r.Rounds), r.Seconds)
		if r.Search {
			kind = fmt.Sprintf("search, 1 round of %.0f s", r.Seconds)
		}
		fmt.Fprintf(w, "  %4g/s (%s, the first %.0f s left out):\n", r.PerSec, kind, r.WarmupSec)
		for _, l := range []struct {
			name string
			load *NotifyLoad
		}{{"floor", r.Floor}, {"alertflow", r.Alertflow}} {
			if l.load == nil || l.load.Sent == 0 {
				fmt.Fprintf(w, "    %-9s not run (it missed at a lower rate)\n", l.name)
				continue
			}
			p := pct(l.load.Opened)
			fmt.Fprintf(w, "    %-9s %5d sent, %d errors, %d never opened, slowest answer %6.0f ms; %5d measured: p50 %7.1f ms, p99 %7.1f ms, max %7.1f ms\n",
				l.name, l.load.Sent, l.load.Errors, l.load.Missing, l.load.SlowestAnswerMs, p.N, p.P50, p.P99, p.Max)
		}
		if r.P99Ratio > 0 {
			fmt.Fprintf(w, "    p99 alertflow / floor %.2f; drains (last send to last opened) alertflow %s s, floor %s s\n", r.P99Ratio, drains(r.Rounds, true), drains(r.Rounds, false))
		}
	}
	if su != nil {
		fmt.Fprintf(w, "  highest rate with p99 < %.0f s: alertflow %s, floor %s\n", su.LimitMs/1000, sustainedAt(su.Alertflow, su.AlertflowMissedAt), sustainedAt(su.Floor, su.FloorMissedAt))
	}
}

func sustainedAt(best, missedAt float64) string {
	if missedAt == 0 {
		return fmt.Sprintf("%g/s or more (the ladder ended)", best)
	}
	return fmt.Sprintf("%g/s (missed at %g/s)", best, missedAt)
}

func drains(rs []NotifyPair, alertflow bool) string {
	var out []string
	for _, r := range rs {
		d := r.FloorDrain
		if alertflow {
			d = r.AlertflowDrain
		}
		out = append(out, fmt.Sprintf("%.1f", d))
	}
	return strings.Join(out, ", ")
}

// printBurst prints the burst scenario.
func printBurst(w io.Writer, bu *Burst) {
	fmt.Fprintf(w, "burst: %d failed pipelines on distinct branches within %.0f s (at most %d in flight)\n", bu.Deliveries, bu.WithinSec, bu.Senders)
	for _, l := range []struct {
		name string
		load *BurstLoad
	}{{"floor", bu.Floor}, {"alertflow", bu.Alertflow}} {
		if l.load == nil {
			continue
		}
		p := pct(l.load.Opened)
		fmt.Fprintf(w, "  %-9s %d sent in %.1f s, %d not accepted, slowest answer %.0f ms; %d opened, %d never; the last opened %.1f s after the first send (%.1f s after the last); send to opened p50 %.0f ms, p99 %.0f ms\n",
			l.name, l.load.Sent, l.load.SentSec, l.load.Errors, l.load.SlowestAnswerMs, p.N, l.load.Missing, l.load.LastOpenedSec, l.load.AfterLastSentSec, p.P50, p.P99)
	}
}

// notifyTargets: at every fixed rate alertflow's p99 is within 1.2 × the
// floor's, and the highest rate it sustains is at least 0.9 × the floor's.
func notifyTargets(rs []NotifyRate, su *Sustained) []Target {
	var out []Target
	for _, r := range rs {
		if r.Search {
			continue
		}
		ok := r.P99Ratio > 0 && r.P99Ratio <= 1.2 && r.Alertflow.Missing == 0 && r.Alertflow.Errors == 0
		out = append(out, Target{fmt.Sprintf("notify %g/s", r.PerSec), "send-to-opened p99 <= 1.2 x the raw SDK floor, every alert opened",
			fmt.Sprintf("%.2f x (%.1f ms / %.1f ms); %d never opened", r.P99Ratio, pct(r.Alertflow.Opened).P99, pct(r.Floor.Opened).P99, r.Alertflow.Missing), ok})
	}
	if su != nil {
		got := fmt.Sprintf("alertflow %s, floor %s", sustainedAt(su.Alertflow, su.AlertflowMissedAt), sustainedAt(su.Floor, su.FloorMissedAt))
		// Where the ladder ended before a load missed, its rate is a lower
		// bound, and so is the ratio when it is the floor's.
		ok := su.Floor > 0 && su.Alertflow >= 0.9*su.Floor
		if su.Floor > 0 {
			got = fmt.Sprintf("%.2f x: %s", su.Ratio, got)
		}
		out = append(out, Target{"notify sustained", fmt.Sprintf("highest rate with p99 < %.0f s >= 0.9 x the floor's", su.LimitMs/1000), got, ok})
	}
	return out
}

// burstTargets: every delivery of the burst accepted within GitLab's
// timeout, every alert notified.
func burstTargets(bu *Burst) []Target {
	a := bu.Alertflow
	if a == nil {
		return nil
	}
	ok := a.Errors == 0 && a.Missing == 0 && a.SlowestAnswerMs < ms(answerLimit) && a.Sent == bu.Deliveries
	return []Target{{"burst", fmt.Sprintf("%d failures within %.0f s: all accepted, none answered slower than %s, every alert notified", bu.Deliveries, bu.WithinSec, answerLimit),
		fmt.Sprintf("%d not accepted (%s), slowest answer %.0f ms, %d never opened; last opened %.1f s after the first send", a.Errors, orNone(a.FirstError), a.SlowestAnswerMs, a.Missing, a.LastOpenedSec), ok}}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// stallRatio is how much longer than its load's median a round's drain
// must be to count as a stall, stallSlack how many seconds longer at
// least, so that a round of a second against a median of 0.3 s is noise.
const (
	stallRatio = 3
	stallSlack = 5 * time.Second
)

// stallTarget: in no scenario did a round of a load drain more than
// stallRatio × the median drain of that load's rounds (and stallSlack
// more than it): the minute-long stalls of the SDK's default pollers.
func stallTarget(scs []Scenario) (Target, bool) {
	type series struct {
		name   string
		drains []float64
	}
	var all []series
	for _, s := range scs {
		for _, l := range []struct {
			name string
			load *Load
		}{{"baseline", s.Baseline}, {"same-calls", s.SameCalls}, {"alertflow", s.Alertflow}} {
			if l.load == nil || len(l.load.Rounds) < 3 {
				continue
			}
			var ds []float64
			for _, r := range l.load.Rounds {
				ds = append(ds, r.DrainSec)
			}
			all = append(all, series{s.Name + " " + l.name, ds})
		}
		// The notify rounds are left out: two rounds a rate give no median
		// to stand out from, and pooled over the rates, the drains of an
		// overloaded rate stand out from those of a rate kept up with.
	}
	if len(all) == 0 {
		return Target{}, false
	}
	rounds := 0
	var stalls []string
	for _, sr := range all {
		rounds += len(sr.drains)
		med := median(sr.drains)
		for i, d := range sr.drains {
			if d > stallRatio*med && d-med > stallSlack.Seconds() {
				stalls = append(stalls, fmt.Sprintf("%s r%d drained in %.1f s against a median of %.1f s", sr.name, i+1, d, med))
			}
		}
	}
	got := fmt.Sprintf("none in %d rounds", rounds)
	if len(stalls) > 0 {
		got = fmt.Sprintf("%d in %d rounds: %s", len(stalls), rounds, strings.Join(stalls, "; "))
	}
	return Target{"no stall", fmt.Sprintf("no round drains more than %d x its load's median drain (and %s more)", stallRatio, stallSlack), got, len(stalls) == 0}, true
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func pct(p *Percentiles) *Percentiles {
	if p == nil {
		return &Percentiles{}
	}
	return p
}
