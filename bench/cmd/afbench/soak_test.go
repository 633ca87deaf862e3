package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTheSoakPlotIsAnSVGOfEverySample(t *testing.T) {
	dir := t.TempDir()
	var samples []SoakSample
	for i := range 50 {
		samples = append(samples, SoakSample{Seconds: float64(2 * i), IntakeRSS: 40 << 20, WorkerRSS: int64(45+i%3) << 20, IntakeGoroutines: 15, WorkerGoroutines: 60})
	}
	if err := writeSoakPlot(filepath.Join(dir, "results-soak.json"), samples); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "results-soak.svg"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName   xml.Name `xml:"svg"`
		Polylines []struct {
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
	}
	if err := xml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	if len(doc.Polylines) != 4 {
		t.Fatalf("%d lines, want RSS and goroutines of the intake and the worker", len(doc.Polylines))
	}
	for _, l := range doc.Polylines {
		if n := len(strings.Fields(l.Points)); n != len(samples) {
			t.Fatalf("a line of %d points, want %d", n, len(samples))
		}
	}
}

func TestRSSFlatJudgesTheLastThirdAgainstTheFirstAfterWarmUp(t *testing.T) {
	flat, growing := make([]SoakSample, 40), make([]SoakSample, 40)
	for i := range flat {
		flat[i] = SoakSample{IntakeRSS: int64(40+i%2) << 20}
		growing[i] = SoakSample{IntakeRSS: int64(40+i) << 20}
	}
	rss := func(x SoakSample) int64 { return x.IntakeRSS }
	if v := rssFlat("intake", flat, rss); !v.Held {
		t.Fatalf("flat memory judged growing: %s", v.Detail)
	}
	if v := rssFlat("intake", growing, rss); v.Held {
		t.Fatalf("memory growing a MiB a sample judged flat: %s", v.Detail)
	}
}

func TestARepeatedDeliveryIsNamedWithTheFaultThatExplainsItAndStillFailsExactlyOnce(t *testing.T) {
	kill := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	s := &soakRun{faults: []fault{{"the worker kill", kill, kill.Add(2 * time.Second)}}}
	v := s.exactlyOnce([]repeat{
		{"primary", "n1", []time.Time{kill.Add(-time.Second), kill.Add(12 * time.Second)}},
		{"flaky", "n2", []time.Time{kill.Add(-10 * time.Minute), kill.Add(-9 * time.Minute)}},
	})
	if v.Held {
		t.Fatalf("two repeats held exactly once: %+v", v)
	}
	for _, want := range []string{"1 sent before the worker kill", "1 outside any fault: flaky got n2 2 times"} {
		if !strings.Contains(v.Detail, want) {
			t.Errorf("detail %q does not say %q", v.Detail, want)
		}
	}
	if v := s.exactlyOnce(nil); !v.Held {
		t.Fatalf("no repeats did not hold: %+v", v)
	}
}
