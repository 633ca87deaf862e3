package main

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// An intake that refuses every delivery for longer than the settle time
// (a leaked budget) halts the senders with a problem named, instead of
// keeping the run in retries for ever; one delivery taken in between
// starts the count again, an answer to another request does not.
func TestTheSoakSendersStopWhenTheIntakeRefusesEverythingPastTheSettleTime(t *testing.T) {
	var refuse atomic.Bool
	refuse.Store(true)
	intake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":"too many webhook bodies in flight"}`, http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer intake.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) }))
	defer other.Close()
	s := &soakRun{b: &bench{started: time.Now()}, o: soakOptions{settle: 1500 * time.Millisecond}}
	ctx := context.Background()

	// Refused for a second, then answered: no halt, and the count restarts.
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for s.refusedSince.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		refuse.Store(false)
	}()
	code, _, unavailable, err := s.postCounting(ctx, intake.Client(), http.MethodPost, intake.URL, nil, nil, true)
	if err != nil || code != http.StatusAccepted || unavailable == 0 {
		t.Fatalf("refused once then answered: %d after %d refusals (%v), want 202 after at least one", code, unavailable, err)
	}
	if s.halted.Load() || s.refusedSince.Load() != 0 {
		t.Fatalf("halted=%v refusedSince=%d after an answer, want neither", s.halted.Load(), s.refusedSince.Load())
	}

	refuse.Store(true)
	start := time.Now()
	// Other requests answered meanwhile (silences, actions) do not count.
	go func() {
		for !s.halted.Load() && time.Since(start) < 10*time.Second {
			_, _, _, _ = s.postCounting(ctx, intake.Client(), http.MethodPost, other.URL, nil, nil, false)
		}
	}()
	code, _, _, err = s.postCounting(ctx, intake.Client(), http.MethodPost, intake.URL, nil, nil, true)
	if err != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("refused for ever: %d (%v), want the 503 back", code, err)
	}
	if !s.halted.Load() {
		t.Fatalf("not halted after %s of refusals", time.Since(start))
	}
	if len(s.problems) != 1 || !strings.Contains(s.problems[0], "refused every delivery") || !strings.Contains(s.problems[0], "too many webhook bodies in flight") {
		t.Fatalf("problems %q, want one naming the refusal and its answer", s.problems)
	}
	// Once halted, a sender gives up at the first refusal.
	if code, _, unavailable, _ := s.postCounting(ctx, intake.Client(), http.MethodPost, intake.URL, nil, nil, true); code != http.StatusServiceUnavailable || unavailable != 0 {
		t.Fatalf("after the halt: %d after %d retries, want the first 503 back", code, unavailable)
	}
}
