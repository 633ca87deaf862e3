package main

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alertview"
	"github.com/alertflow/alertflow/bench/payload"
	"github.com/alertflow/alertflow/route"
	"github.com/alertflow/alertflow/silence"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestSilencesLoad(t *testing.T) {
	without := []NotifyPair{{AlertflowP99: 300, FloorP99: 100}, {AlertflowP99: 280, FloorP99: 120}, {AlertflowP99: 310, FloorP99: 90}}
	with := []NotifyPair{{AlertflowP99: 330, FloorP99: 100}, {AlertflowP99: 900, FloorP99: 130}, {AlertflowP99: 320, FloorP99: 110}}
	a := silencesLoad(without, with, true)
	if !near(a.WithoutP99Ms, 300) || !near(a.WithP99Ms, 330) || !near(a.Ratio, 1.1) {
		t.Errorf("alertflow medians %v, %v, ratio %v; want 300, 330, 1.1", a.WithoutP99Ms, a.WithP99Ms, a.Ratio)
	}
	if a.WithoutP99MinMs != 280 || a.WithoutP99MaxMs != 310 || a.WithP99MinMs != 320 || a.WithP99MaxMs != 900 {
		t.Errorf("alertflow spreads %v–%v, %v–%v; want 280–310, 320–900", a.WithoutP99MinMs, a.WithoutP99MaxMs, a.WithP99MinMs, a.WithP99MaxMs)
	}
	f := silencesLoad(without, with, false)
	if !near(f.WithoutP99Ms, 100) || !near(f.WithP99Ms, 110) || !near(f.Ratio, 1.1) || f.WithP99MaxMs != 130 {
		t.Errorf("floor %+v", f)
	}
	// Two rounds: the median is their mean.
	two := silencesLoad(without[:2], with[:2], true)
	if !near(two.WithoutP99Ms, 290) || !near(two.WithP99Ms, 615) || !near(two.Ratio, 615.0/290) {
		t.Errorf("two rounds: %+v", two)
	}
	// No rounds, or a load that measured nothing: no ratio.
	if l := silencesLoad(nil, with, true); l.Ratio != 0 || l.WithoutP99Ms != 0 {
		t.Errorf("no rounds without: %+v", l)
	}
	if l := silencesLoad([]NotifyPair{{}}, with, true); l.Ratio != 0 {
		t.Errorf("a p99 of 0 without: ratio %v", l.Ratio)
	}
}

func TestSilencesTarget(t *testing.T) {
	result := func(count int, without, with []NotifyPair, missing int) *SilencesResult {
		r := &SilencesResult{Count: count, Without: without, With: with,
			Alertflow: silencesLoad(without, with, true), Floor: silencesLoad(without, with, false)}
		r.Alertflow.WithoutAll, r.Alertflow.WithAll = &NotifyLoad{}, &NotifyLoad{Missing: missing}
		return r
	}
	without := []NotifyPair{{AlertflowP99: 297, FloorP99: 100}, {AlertflowP99: 297, FloorP99: 100}}
	for _, c := range []struct {
		name    string
		r       *SilencesResult
		met     bool
		got     string
		missing bool
	}{
		{"within", result(10_000, without, []NotifyPair{{AlertflowP99: 312, FloorP99: 101}, {AlertflowP99: 312, FloorP99: 101}}, 0),
			true, "1.05 x (p99 312 ms with, 297 ms without; floor 1.01 x)", false},
		{"at 1.2", result(10_000, []NotifyPair{{AlertflowP99: 100, FloorP99: 1}}, []NotifyPair{{AlertflowP99: 120, FloorP99: 1}}, 0),
			true, "1.20 x (p99 120 ms with, 100 ms without; floor 1.00 x)", false},
		{"over", result(10_000, without, []NotifyPair{{AlertflowP99: 400, FloorP99: 100}, {AlertflowP99: 360, FloorP99: 100}}, 0),
			false, "1.28 x (p99 380 ms with, 297 ms without; floor 1.00 x)", false},
		{"fewer silences", result(500, without, without, 0),
			false, "1.00 x (p99 297 ms with, 297 ms without; floor 1.00 x); only 500 silences, not 10000", false},
		{"an alert never opened", result(10_000, without, without, 3),
			false, "1.00 x (p99 297 ms with, 297 ms without; floor 1.00 x); with silences 3 never opened, 0 not accepted", true},
		{"nothing measured", result(10_000, nil, nil, 0), false, "0.00 x (p99 0 ms with, 0 ms without; floor 0.00 x)", false},
	} {
		tg := silencesTarget(c.r)
		if tg.Met != c.met || tg.Got != c.got {
			t.Errorf("%s: met %v, got %q; want %v, %q", c.name, tg.Met, tg.Got, c.met, c.got)
		}
		if tg.Name != "notify with 10 000 silences" || tg.Want != "alertflow p99 with 10 000 silences <= 1.2 x without (median of rounds)" {
			t.Errorf("%s: target %q, %q", c.name, tg.Name, tg.Want)
		}
	}
	// evaluate picks it up.
	r := &Results{Scenarios: []Scenario{{Name: "silences", Silences: result(10_000, without, without, 0)}}}
	r.evaluate()
	if len(r.Targets) != 1 || r.Targets[0].Name != "notify with 10 000 silences" || !r.Targets[0].Met {
		t.Errorf("evaluate: %+v", r.Targets)
	}
}

// TestBenchSilencesMatchNoBenchAlert: the scenario's silences hold none of
// the bench's alerts back, as alertflow's worker checks them (the set's
// candidates, then Silencing), nor any when checked one by one; and each
// does hold the alert it was made for, so the check is not vacuous.
func TestBenchSilencesMatchNoBenchAlert(t *testing.T) {
	made := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	now := made.Add(time.Minute)
	all := make([]silence.Active, silencesWant)
	for i := range all {
		sl, err := benchSilence(i, made)
		if err != nil {
			t.Fatalf("silence %d: %v", i, err)
		}
		if all[i], err = silence.Activate(sl); err != nil {
			t.Fatal(err)
		}
	}
	set := silence.NewSet(all)
	if set.Len() != silencesWant {
		t.Fatalf("set holds %d", set.Len())
	}
	// Each silences what it names.
	for _, i := range []int{0, 1, 8, 9, 19, silencesWant - 1} {
		l := route.Labels{ProjectID: silenceProjectIDs + int64(i), Project: "afbench-silenced/group-" + fmt.Sprint(i) + "/api", Ref: "main"}
		if _, ok := silence.Silencing(set.Candidates(l), l, now); !ok {
			t.Errorf("silence %d holds nothing back: the check below proves nothing", i)
		}
	}

	// The labels of the bench's real deliveries, as the worker makes
	// them: the project path is the payload's.
	builder, err := payload.Load("../../../testdata/pipeline-failed-branch.json")
	if err != nil {
		t.Fatal(err)
	}
	gen := &generator{builder: builder, jobs: 2, now: made}
	labelsOf := func(project int64, ref string) route.Labels {
		r, err := gen.webhook(project, ref, "failed", false)
		if err != nil {
			t.Fatal(err)
		}
		s := alert.New(alert.DefaultLimits())
		s.Apply(r.event, now)
		return route.LabelsOf(alertview.Of(s))
	}
	check := func(l route.Labels) {
		t.Helper()
		if found, ok := silence.Silencing(set.Candidates(l), l, now); ok {
			t.Fatalf("silence %s (%s) holds back the bench's alert %+v", found.ID, found.Matchers, l)
		}
	}
	// The lowest and highest offsets a run takes, every scenario index
	// and load, the warm-up round and the highest round, every ref.
	var sample []route.Labels
	for _, offset := range []int64{0, 999 * 100_000_000} {
		b := &bench{offset: offset}
		for scenario := range 12 {
			for load := range 3 {
				for _, round := range []int{0, 1, 29, 99} {
					for i := range 2 * len(refs) {
						project, ref := branch(b.base(scenario, load, round), i*5_000)
						sample = append(sample, labelsOf(project, ref))
					}
				}
			}
		}
	}
	for _, l := range sample {
		if !strings.HasPrefix(l.Project, "acme/") || l.ProjectID <= 0 {
			t.Fatalf("the bench's alerts are no longer acme/project-<id>: %+v; see silenceMatchers", l)
		}
		check(l)
		// Every silence, not only the set's candidates.
		if found, ok := silence.Silencing(set.All(), l, now); ok {
			t.Fatalf("silence %s (%s) holds back the bench's alert %+v", found.ID, found.Matchers, l)
		}
	}
	// Every project id of a whole run's range, built as the payload
	// builds its path, checked as the worker checks.
	b := &bench{offset: 999 * 100_000_000}
	for id := b.base(0, 0, 0); id < b.base(12, 0, 0); id += 997 {
		l := sample[0]
		l.ProjectID, l.Project = id, fmt.Sprintf("acme/project-%d", id)
		check(l)
	}
}

func TestGaugeOf(t *testing.T) {
	page := `# HELP alertflow_silences x
# TYPE alertflow_silences gauge
alertflow_silences{namespace="default"} 9998
alertflow_silences{namespace="other"} 10000
alertflow_silences_total 5
alertflow_silence_refresh_failures_total 0
`
	if n, err := gaugeOf(strings.NewReader(page), "alertflow_silences"); err != nil || n != 10000 {
		t.Errorf("gauge %d, %v; want 10000", n, err)
	}
	if n, err := gaugeOf(strings.NewReader("alertflow_silences 3\n"), "alertflow_silences"); err != nil || n != 3 {
		t.Errorf("gauge without labels %d, %v; want 3", n, err)
	}
	if _, err := gaugeOf(strings.NewReader("alertflow_silences_total 3\n"), "alertflow_silences"); err == nil {
		t.Error("another metric read as the gauge")
	}
}
