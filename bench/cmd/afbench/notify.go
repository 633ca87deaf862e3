package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
}

// NotifyLoad is one load's send-to-"opened" latencies over all its rounds.
type NotifyLoad struct {
	Sent       int          `json:"sent"`
	Errors     int          `json:"errors"`
	FirstError string       `json:"first_error,omitempty"`
	Missing    int          `json:"missing"`
	Opened     *Percentiles `json:"opened_ms"`
}

// NotifyPair is one round of both loads: their p99s in milliseconds.
type NotifyPair struct {
	AlertflowP99 float64 `json:"alertflow_p99_ms"`
	FloorP99     float64 `json:"floor_p99_ms"`
}

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

// notifyScenario runs every rate of -notify-rates for -rounds rounds of
// both loads, alternating which goes first.
func (b *bench) notifyScenario(ctx context.Context, index int, name, queue string) (*Scenario, error) {
	if b.o.rounds > 9 || len(b.o.notifyRates) > 9 {
		return nil, errors.New("at most 9 rounds and 9 rates: the project ids of their branches would meet")
	}
	rc := &receiver{opened: map[string]time.Time{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	af, err := b.startAlertflow(ctx, name, queue+"-alertflow", "ALERTFLOW_NOTIFY_WEBHOOK_URL="+srv.URL, "ALERTFLOW_NOTIFY_WEBHOOK_SECRET=afbench-notify")
	if err != nil {
		return nil, err
	}
	defer af.stop(15 * time.Second)
	defer b.cleanUp(queue + "-alertflow")
	bw, err := b.startBaselineWorker(ctx, name, queue+"-floor")
	if err != nil {
		return nil, err
	}
	defer bw.stop(15 * time.Second)
	defer b.cleanUp(queue + "-floor")

	type load struct {
		name string
		send sender
	}
	loads := []load{
		{"floor", floorSender(b.client, queue+"-floor", srv.URL)},
		{"alertflow", webhookSender(af.url, b.token, b.o.concurrency)},
	}
	sc := &Scenario{Name: name}
	for ri, rate := range b.o.notifyRates {
		nr := NotifyRate{PerSec: rate, Seconds: b.o.notifyFor.Seconds(), WarmupSec: b.o.notifyWarmup.Seconds()}
		lat := map[string][]time.Duration{}
		nl := map[string]*NotifyLoad{"alertflow": {}, "floor": {}}
		for round := 1; round <= b.o.rounds; round++ {
			order := loads
			if round%2 == 0 {
				order = reversed(loads)
			}
			p99 := map[string]float64{}
			for li, l := range order {
				// Distinct branches for every rate, round and load.
				base := b.base(index, li, ri*10+round)
				ds, err := b.notifyRound(ctx, rc, l.send, base, rate, nl[l.name])
				if err != nil {
					return nil, fmt.Errorf("%s at %g/s, round %d: %w", l.name, rate, round, err)
				}
				lat[l.name] = append(lat[l.name], ds...)
				slices.Sort(ds)
				p99[l.name] = ms(percentile(ds, 99))
				b.logf("notify %4g/s r%d %-9s %d opened: p50 %.1f ms, p99 %.1f ms, max %.1f ms",
					rate, round, l.name, len(ds), ms(percentile(ds, 50)), p99[l.name], ms(percentile(ds, 100)))
			}
			nr.Rounds = append(nr.Rounds, NotifyPair{AlertflowP99: p99["alertflow"], FloorP99: p99["floor"]})
		}
		for name, ds := range lat {
			slices.Sort(ds)
			nl[name].Opened = percentiles(ds)
		}
		nr.Alertflow, nr.Floor = nl["alertflow"], nl["floor"]
		if f := nr.Floor.Opened; f != nil && f.P99 > 0 && nr.Alertflow.Opened != nil {
			nr.P99Ratio = nr.Alertflow.Opened.P99 / f.P99
		}
		sc.Notify = append(sc.Notify, nr)
	}
	return sc, nil
}

// notifyRound sends failed pipelines on distinct branches at rate a
// second for -notify-for, whatever the answers take, then waits for the
// receiver to get every "opened", and returns the latencies of the
// deliveries sent after the warm-up.
func (b *bench) notifyRound(ctx context.Context, rc *receiver, send sender, base int64, rate float64, nl *NotifyLoad) ([]time.Duration, error) {
	n := int(rate * b.o.notifyFor.Seconds())
	reqs := make([]*request, n)
	for i := range reqs {
		project, ref := branch(base, i)
		r, err := b.gen.webhook(project, ref, "failed", false)
		if err != nil {
			return nil, err
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
	every := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i, r := range reqs {
		// Open loop: each delivery leaves at its time, not when the last
		// one was answered.
		if d := time.Until(start.Add(time.Duration(i) * every)); d > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(d):
			}
		}
		inFlight <- struct{}{}
		wg.Go(func() {
			defer func() { <-inFlight }()
			sent[i] = time.Now()
			_, err := send(ctx, r, "notify-"+strconv.FormatInt(seq.Add(1), 10))
			if err != nil {
				mu.Lock()
				nl.Errors++
				if nl.FirstError == "" {
					nl.FirstError = err.Error()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	nl.Sent += n
	// Every alert gets its "opened" eventually: wait for the last ones.
	deadline := time.Now().Add(b.o.settleTimeout)
	for {
		missing := 0
		for _, r := range reqs {
			if _, ok := rc.at(r.alertID); !ok {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			nl.Missing += missing
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	var ds []time.Duration
	warm := start.Add(b.o.notifyWarmup)
	for i, r := range reqs {
		if at, ok := rc.at(r.alertID); ok && !sent[i].Before(warm) {
			ds = append(ds, at.Sub(sent[i]))
		}
	}
	return ds, nil
}

// floorSender signals-with-start the floor's NotifyWorkflow, which posts
// "opened" to url.
func floorSender(c client.Client, taskQueue, url string) sender {
	return func(ctx context.Context, r *request, _ string) (bool, error) {
		opts := client.StartWorkflowOptions{ID: r.alertID, TaskQueue: taskQueue}
		if _, err := c.SignalWithStartWorkflow(ctx, r.alertID, workflows.SignalPipeline, r.event, opts, baseline.NotifyWorkflow, url); err != nil {
			return false, fmt.Errorf("signal-with-start %s: %w", r.alertID, err)
		}
		return true, nil
	}
}

// parseRates reads -notify-rates, such as "10,30,50".
func parseRates(s string) ([]float64, error) {
	var out []float64
	for f := range strings.SplitSeq(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("-notify-rates: %q is not a positive number of deliveries a second", f)
		}
		out = append(out, r)
	}
	return out, nil
}

// printNotify prints the notify scenario's table.
func printNotify(w io.Writer, rs []NotifyRate) {
	fmt.Fprintln(w, "notify: failed pipelines on distinct branches at a fixed rate; time from sending to the receiver getting \"opened\"")
	for _, r := range rs {
		for _, l := range []struct {
			name string
			load *NotifyLoad
		}{{"floor", r.Floor}, {"alertflow", r.Alertflow}} {
			p := l.load.Opened
			if p == nil {
				p = &Percentiles{}
			}
			fmt.Fprintf(w, "  %4g/s %-9s %5d sent, %d errors, %d never opened; %5d measured: p50 %7.1f ms, p99 %7.1f ms, max %7.1f ms\n",
				r.PerSec, l.name, l.load.Sent, l.load.Errors, l.load.Missing, p.N, p.P50, p.P99, p.Max)
		}
		fmt.Fprintf(w, "  %4g/s p99 alertflow / floor %.2f\n", r.PerSec, r.P99Ratio)
	}
}

// notifyTargets: at every rate alertflow's p99 is within 1.2 × the floor's.
func notifyTargets(rs []NotifyRate) []Target {
	var out []Target
	for _, r := range rs {
		ok := r.P99Ratio > 0 && r.P99Ratio <= 1.2 && r.Alertflow.Missing == 0 && r.Alertflow.Errors == 0
		out = append(out, Target{fmt.Sprintf("notify %g/s", r.PerSec), "send-to-opened p99 <= 1.2 x the raw SDK floor, every alert opened",
			fmt.Sprintf("%.2f x (%.1f ms / %.1f ms); %d never opened", r.P99Ratio, pct(r.Alertflow.Opened).P99, pct(r.Floor.Opened).P99, r.Alertflow.Missing), ok})
	}
	return out
}

func pct(p *Percentiles) *Percentiles {
	if p == nil {
		return &Percentiles{}
	}
	return p
}
