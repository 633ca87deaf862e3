package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Results is what bench/results.json holds.
type Results struct {
	Date      time.Time  `json:"date"`
	Machine   Machine    `json:"machine"`
	Settings  Settings   `json:"settings"`
	Scenarios []Scenario `json:"scenarios"`
	Targets   []Target   `json:"targets"`
	// LoadAverage is /proc/loadavg before and after the run: other work
	// on the machine shows here.
	LoadAverage [2]string `json:"load_average"`
}

// Machine is where the run happened.
type Machine struct {
	Cores     int    `json:"cores"`
	CPU       string `json:"cpu"`
	MemoryGiB int    `json:"memory_gib"`
	GoVersion string `json:"go_version"`
	// Server is the Temporal server measured: the dev server as alertflow
	// dev starts it, or TEMPORAL_ADDRESS.
	Server string `json:"server"`
}

// Settings are the knobs of the run.
type Settings struct {
	Concurrency int `json:"concurrency"`
	Rounds      int `json:"rounds"`
	// Jobs is the number of jobs in each webhook's builds, PayloadBytes
	// the size of a failed pipeline's webhook.
	Jobs         int    `json:"jobs"`
	PayloadBytes int    `json:"payload_bytes"`
	Baseline     string `json:"baseline"`
	// SameCalls describes the second baseline, when there is one.
	SameCalls string `json:"same_calls,omitempty"`
}

// Scenario is one scenario's measurements.
type Scenario struct {
	Name      string `json:"name"`
	Alertflow *Load  `json:"alertflow"`
	Baseline  *Load  `json:"baseline,omitempty"`
	// Ratios of alertflow to the baseline, from all rounds together.
	ThroughputRatio float64 `json:"throughput_ratio,omitempty"`
	P99Ratio        float64 `json:"p99_ratio,omitempty"`
	SettledRatio    float64 `json:"settled_ratio,omitempty"`
	// SameCalls is the baseline making the calls alertflow makes, start
	// options included, and the ratios of alertflow to it.
	SameCalls                *Load        `json:"baseline_same_calls,omitempty"`
	SameCallsThroughputRatio float64      `json:"same_calls_throughput_ratio,omitempty"`
	SameCallsP99Ratio        float64      `json:"same_calls_p99_ratio,omitempty"`
	Open                     *Open        `json:"open,omitempty"`
	Memory                   *Memory      `json:"memory,omitempty"`
	Floods                   []Flood      `json:"floods,omitempty"`
	Notify                   []NotifyRate `json:"notify,omitempty"`
	Sustained                *Sustained   `json:"notify_sustained,omitempty"`
	Burst                    *Burst       `json:"burst,omitempty"`
	// Silences is what the silences scenario found.
	Silences *SilencesResult `json:"silences,omitempty"`
	// FloorCalls says what the notify and burst floor's calls carry.
	FloorCalls string `json:"floor_calls,omitempty"`
	// Date and LoadAverage are set on a scenario merged into the results
	// of an earlier run (-merge): its own, not the file's.
	Date        *time.Time `json:"date,omitempty"`
	LoadAverage *[2]string `json:"load_average,omitempty"`
}

// Load is one load's measurements over all its rounds.
type Load struct {
	Webhooks       int     `json:"webhooks"`
	Errors         int     `json:"errors"`
	FirstError     string  `json:"first_error,omitempty"`
	RequestsPerSec float64 `json:"requests_per_sec"`
	// Latencies, as the sender sees them, of the webhooks that call
	// Temporal (every one for the baseline; ignored ones apart).
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
	// Ignored are the latencies of the webhooks to ignore, as the sender
	// sees them, IngressMs as the intake's access log has them, by
	// outcome (alertflow only).
	Ignored *Percentiles `json:"ignored,omitempty"`
	// All are the latencies of every webhook, as the sender sees them.
	All *Percentiles `json:"all,omitempty"`
	// NoAlertMs are the intake's durations of the webhooks that touched
	// no alert (answered ignored or none), from its access log.
	NoAlertMs *Percentiles            `json:"no_alert_ms,omitempty"`
	IngressMs map[string]*Percentiles `json:"ingress_ms,omitempty"`
	// AfterBodyMs are the intake's durations from the moment the whole
	// body was in: IngressMs less the time the sender took to send it.
	AfterBodyMs map[string]*Percentiles `json:"ingress_after_body_ms,omitempty"`
	// CPU seconds per 1 000 webhooks, from the first webhook until every
	// alert of the round closed: of the process under test (alertflow;
	// for the baseline its worker and the SDK client, which is the bench
	// itself), of the Temporal server, and of the bench's load generator.
	CPUPer1000       float64 `json:"cpu_s_per_1000"`
	ServerCPUPer1000 float64 `json:"server_cpu_s_per_1000,omitempty"`
	LoadCPUPer1000   float64 `json:"loadgen_cpu_s_per_1000"`
	// PeakRSSMiB is the peak resident set of the process under test
	// (alertflow, or the baseline's worker) over the scenario.
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	// DrainSec is how long, summed over the rounds, the alerts took to
	// close and the server to go idle after the last answer.
	// SettledPerSec counts that time in: webhooks per second from the
	// first webhook until everything they caused is done.
	DrainSec      float64 `json:"drain_s"`
	SettledPerSec float64 `json:"settled_per_sec"`
	Rounds        []Round `json:"rounds"`
}

// Round is one round of one load.
type Round struct {
	RequestsPerSec float64 `json:"requests_per_sec"`
	P99Ms          float64 `json:"p99_ms"`
	DrainSec       float64 `json:"drain_s"`
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Open is what the open-alerts scenario found: of Alerts opened, Queried
// were asked for their state, Open answered open and Failed did not
// answer within queryTimeout; Listed are those the server's visibility
// lists as open.
type Open struct {
	Alerts  int `json:"alerts"`
	Queried int `json:"queried"`
	Open    int `json:"open"`
	Failed  int `json:"failed"`
	Listed  int `json:"listed_open"`
	// WaitedSec is how long afbench let the server work off the backlog
	// of opening the alerts before querying (-open-drain).
	WaitedSec  float64 `json:"waited_s"`
	FirstError string  `json:"first_error,omitempty"`
	QueryP50Ms float64 `json:"query_p50_ms"`
	QueryP99Ms float64 `json:"query_p99_ms"`
	RSSMiB     float64 `json:"rss_mib"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

// Target is one performance target (docs/performance.md) and whether the run met it.
type Target struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percentiles(sorted []time.Duration) *Percentiles {
	if len(sorted) == 0 {
		return nil
	}
	return &Percentiles{N: len(sorted), P50: ms(percentile(sorted, 50)), P99: ms(percentile(sorted, 99)), Max: ms(sorted[len(sorted)-1])}
}

func mib(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// machine describes this computer from /proc.
func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	m.CPU = procField("/proc/cpuinfo", "model name")
	var kb int
	fmt.Sscanf(procField("/proc/meminfo", "MemTotal"), "%d", &kb)
	m.MemoryGiB = (kb + 1<<19) >> 20
	return m
}

// procField is the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func loadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:min(3, len(strings.Fields(string(b))))], " ")
}

// evaluate checks the results against the performance targets.
func (r *Results) evaluate() {
	for _, s := range r.Scenarios {
		switch {
		case s.Name == "spread" && s.SameCalls != nil:
			// The yardstick is the raw SDK making the calls alertflow
			// makes; the bare baseline shows what those calls' search
			// attributes, memo and summary cost the server.
			r.Targets = append(r.Targets,
				Target{"spread throughput", "alertflow >= 0.90 x the same raw SDK calls", fmt.Sprintf("%.2f x (%.2f x bare signal-with-start)", s.SameCallsThroughputRatio, s.ThroughputRatio), s.SameCallsThroughputRatio >= 0.90},
				Target{"spread p99", "alertflow <= 1.2 x the same raw SDK calls", fmt.Sprintf("%.2f x (%.2f x bare signal-with-start)", s.SameCallsP99Ratio, s.P99Ratio), s.SameCallsP99Ratio > 0 && s.SameCallsP99Ratio <= 1.2})
		case s.Name == "spread" && s.Baseline != nil:
			r.Targets = append(r.Targets,
				Target{"spread throughput", "alertflow >= 0.90 x baseline", fmt.Sprintf("%.2f x", s.ThroughputRatio), s.ThroughputRatio >= 0.90},
				Target{"spread p99", "alertflow <= 1.2 x baseline", fmt.Sprintf("%.2f x", s.P99Ratio), s.P99Ratio > 0 && s.P99Ratio <= 1.2})
		case s.Name == "mixed":
			got, met := "no access log", false
			p := s.Alertflow.NoAlertMs
			if p == nil {
				// Results from before the intake answered none.
				p = s.Alertflow.IngressMs[ignored]
			}
			if p != nil {
				got, met = fmt.Sprintf("p99 %.3f ms at the ingress (%d webhooks)", p.P99, p.N), p.P99 < 1
			}
			r.Targets = append(r.Targets, Target{"mixed no alert", "webhooks that touch no alert (ignored, none): p99 < 1 ms at the ingress", got, met})
		case s.Name == "notify":
			r.Targets = append(r.Targets, notifyTargets(s.Notify, s.Sustained)...)
		case s.Name == "burst" && s.Burst != nil:
			r.Targets = append(r.Targets, burstTargets(s.Burst)...)
		case s.Name == "silences" && s.Silences != nil:
			r.Targets = append(r.Targets, silencesTarget(s.Silences))
		case s.Name == "flood":
			r.Targets = append(r.Targets, floodTargets(s.Floods)...)
		case s.Name == "memory" && s.Memory != nil:
			r.Targets = append(r.Targets, memoryTargets(s.Memory)...)
		case s.Name == "open10k" && s.Open != nil:
			o := s.Open
			rss := fmt.Sprintf("%.0f MiB", o.PeakRSSMiB)
			if o.WaitedSec == 0 {
				rss += " (before the worker worked off the backlog: -open-drain waits for it)"
			}
			r.Targets = append(r.Targets,
				Target{"open alerts RSS", fmt.Sprintf("peak RSS < 1024 MiB with %d open alerts", o.Alerts), rss, o.Alerts >= 10_000 && o.PeakRSSMiB < 1024},
				Target{"open alerts queryable", fmt.Sprintf("every alert listed open; every queried alert answers open within %s", queryTimeout),
					fmt.Sprintf("%d of %d listed open; %d queried: %d open, %d failed", o.Listed, o.Alerts, o.Queried, o.Open, o.Failed),
					o.Listed == o.Alerts && o.Open == o.Queried && o.Failed == 0})
		}
	}
	if t, ok := stallTarget(r.Scenarios); ok {
		r.Targets = append(r.Targets, t)
	}
}

// print writes the table make bench shows.
func (r *Results) print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\nalertflow load benchmark, %s\n", r.Date.Format(time.RFC3339))
	fmt.Fprintf(w, "machine: %d cores, %s, %d GiB, %s; load average before %s, after %s\n",
		m.Cores, m.CPU, m.MemoryGiB, m.GoVersion, r.LoadAverage[0], r.LoadAverage[1])
	fmt.Fprintf(w, "server: %s; concurrency %d, %d rounds per load, alternating; %d jobs, %d bytes per failed pipeline\n",
		m.Server, r.Settings.Concurrency, r.Settings.Rounds, r.Settings.Jobs, r.Settings.PayloadBytes)
	fmt.Fprintf(w, "baseline: raw SDK signal-with-start, %s", r.Settings.Baseline)
	if r.Settings.SameCalls != "" {
		fmt.Fprintf(w, "; same-calls: %s", r.Settings.SameCalls)
	}
	fmt.Fprint(w, "\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if slices.ContainsFunc(r.Scenarios, func(s Scenario) bool { return s.Alertflow != nil }) {
		fmt.Fprintln(tw, "scenario\tload\twebhooks\terrors\treq/s\tp50 ms\tp95 ms\tp99 ms\tCPU s/1k\tserver CPU s/1k\tpeak RSS MiB\tdrain s\tsettled/s\t")
	}
	row := func(name, load string, l *Load) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%.1f\t%.1f\t\n", name, load, l.Webhooks, l.Errors,
			l.RequestsPerSec, l.P50Ms, l.P95Ms, l.P99Ms, l.CPUPer1000, l.ServerCPUPer1000, l.PeakRSSMiB, l.DrainSec, l.SettledPerSec)
	}
	ratio := func(name, load string, a, b *Load, throughput, p99 float64) {
		fmt.Fprintf(tw, "%s\t%s\t\t\t%.2f\t\t\t%.2f\t%.2f\t%.2f\t%.2f\t\t%.2f\t\n", name, load, throughput, p99,
			a.CPUPer1000/b.CPUPer1000, a.ServerCPUPer1000/b.ServerCPUPer1000, a.PeakRSSMiB/b.PeakRSSMiB, a.SettledPerSec/b.SettledPerSec)
	}
	for _, s := range r.Scenarios {
		if s.Baseline != nil {
			row(s.Name, "baseline", s.Baseline)
		}
		if s.SameCalls != nil {
			row(s.Name, "same-calls", s.SameCalls)
		}
		if s.Alertflow != nil {
			row(s.Name, "alertflow", s.Alertflow)
		}
		if s.Baseline != nil {
			ratio(s.Name, "/ baseline", s.Alertflow, s.Baseline, s.ThroughputRatio, s.P99Ratio)
		}
		if s.SameCalls != nil {
			ratio(s.Name, "/ same-calls", s.Alertflow, s.SameCalls, s.SameCallsThroughputRatio, s.SameCallsP99Ratio)
		}
	}
	tw.Flush()
	for _, s := range r.Scenarios {
		if m := s.Memory; m != nil {
			fmt.Fprintln(w)
			printMemory(w, m)
		}
		if len(s.Floods) > 0 {
			fmt.Fprintln(w)
			printFloods(w, s.Floods)
		}
		if len(s.Notify) > 0 {
			fmt.Fprintln(w)
			if s.FloorCalls != "" {
				fmt.Fprintf(w, "floor: %s\n", s.FloorCalls)
			}
			printNotify(w, s.Notify, s.Sustained)
		}
		if s.Burst != nil {
			fmt.Fprintln(w)
			printBurst(w, s.Burst)
		}
		if s.Silences != nil {
			fmt.Fprintln(w)
			if s.FloorCalls != "" {
				fmt.Fprintf(w, "floor: %s\n", s.FloorCalls)
			}
			printSilences(w, s.Silences)
		}
		if s.Alertflow == nil {
			continue
		}
		if p := s.Alertflow.Ignored; p != nil {
			fmt.Fprintf(w, "\n%s: %d webhooks of pipelines under way (pending, running) answered in p50 %.3f ms, p99 %.3f ms at the sender", s.Name, p.N, p.P50, p.P99)
			if a := s.Alertflow.All; a != nil {
				fmt.Fprintf(w, "; all %d webhooks p50 %.3f ms, p99 %.3f ms", a.N, a.P50, a.P99)
			}
			fmt.Fprintln(w)
			outcomes := slices.Sorted(maps.Keys(s.Alertflow.IngressMs))
			for _, o := range outcomes {
				q := s.Alertflow.IngressMs[o]
				fmt.Fprintf(w, "  at the ingress, answered %-9s %6d: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", o, q.N, q.P50, q.P99, q.Max)
			}
			if q := s.Alertflow.NoAlertMs; q != nil {
				fmt.Fprintf(w, "  at the ingress, touching no alert %6d: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", q.N, q.P50, q.P99, q.Max)
			}
		}
		if o := s.Open; o != nil {
			fmt.Fprintf(w, "\n%s: %d alerts opened, %d listed open by visibility; %d queried (p50 %.1f ms, p99 %.1f ms): %d open, %d failed; alertflow RSS %.0f MiB, peak %.0f MiB\n",
				s.Name, o.Alerts, o.Listed, o.Queried, o.QueryP50Ms, o.QueryP99Ms, o.Open, o.Failed, o.RSSMiB, o.PeakRSSMiB)
		}
	}
	fmt.Fprintln(w, "\ntargets:")
	for _, t := range r.Targets {
		mark := "MET    "
		if !t.Met {
			mark = "NOT MET"
		}
		fmt.Fprintf(w, "  %s  %-22s want %s; got %s\n", mark, t.Name, t.Want, t.Got)
	}
}

// merged returns the results stored at path with the scenarios of now in
// place of those of the same name, each marked with now's date and load
// average; the targets are evaluated again.
func merged(path string, now *Results) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results to merge into: %w", err)
	}
	var old Results
	if err := json.Unmarshal(b, &old); err != nil {
		return nil, fmt.Errorf("decode results to merge into (%s): %w", path, err)
	}
	for _, s := range now.Scenarios {
		s.Date, s.LoadAverage = &now.Date, &now.LoadAverage
		if i := slices.IndexFunc(old.Scenarios, func(o Scenario) bool { return o.Name == s.Name }); i >= 0 {
			old.Scenarios[i] = s
		} else {
			old.Scenarios = append(old.Scenarios, s)
		}
	}
	old.Targets = nil
	return &old, nil
}

// reevaluate evaluates the targets of the results stored at path again,
// prints them and stores them.
func reevaluate(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("decode results (%s): %w", path, err)
	}
	r.Targets = nil
	r.evaluate()
	r.print(os.Stdout)
	return r.write(path)
}

// write stores the results as indented JSON at path.
func (r *Results) write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}
