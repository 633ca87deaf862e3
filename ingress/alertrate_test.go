package ingress

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
)

func TestAlertRatesLetABurstThroughThenAskToWait(t *testing.T) {
	a := newAlertRates(2, 3)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		if ok, _ := a.allow("1-main", now); !ok {
			t.Fatalf("delivery %d of the burst refused", i+1)
		}
	}
	ok, wait := a.allow("1-main", now)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("past the burst: ok %v, wait %s; want refused, 500ms", ok, wait)
	}
	if ok, _ := a.allow("1-other", now); !ok {
		t.Fatal("another alert was slowed down by the first")
	}
	if ok, _ := a.allow("1-main", now.Add(500*time.Millisecond)); !ok {
		t.Fatal("refused after waiting as asked")
	}
	if ok, _ := newAlertRates(0, 0).allow("1-main", now); !ok {
		t.Fatal("a zero rate must let everything through")
	}
}

func TestAlertRatesForgetQuietAlertsPastTheirBound(t *testing.T) {
	a := newAlertRates(100, 1)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i := range maxTrackedAlerts {
		a.allow(fmt.Sprintf("1-b%d", i), now)
	}
	// A second later every bucket is full again: the next new alert sweeps.
	a.allow("1-new", now.Add(2*time.Second))
	if n := len(a.byAlert); n != 1 {
		t.Fatalf("%d limiters kept after the sweep, want 1", n)
	}
}

func TestAFloodOnOneAlertIsAnswered429WithoutReachingTemporal(t *testing.T) {
	h := newHarnessWith(t, Config{AlertRate: 1, AlertBurst: 2})
	for i := range 2 {
		if rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "failed")); rec.Code != http.StatusAccepted {
			t.Fatalf("delivery %d: %d %v", i+1, rec.Code, answer)
		}
	}
	rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "failed"))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" || answer["error"] == nil {
		t.Fatalf("past the burst: %d Retry-After %q %v", rec.Code, rec.Header().Get("Retry-After"), answer)
	}
	if n := h.temporal.calls(); n != 2 {
		t.Fatalf("%d Temporal calls, want the 2 admitted deliveries only", n)
	}
}

func TestPipelinesUnderWayOnABranchWithNoAlertAskTemporalOnceInAWhile(t *testing.T) {
	h := newHarness(t, 0)
	h.temporal.signalErr = serviceerror.NewNotFound("no such workflow")
	for i := range 3 {
		rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "running"))
		if rec.Code != http.StatusAccepted || answer["action"] != "none" {
			t.Fatalf("delivery %d: %d %v", i+1, rec.Code, answer)
		}
	}
	if n := h.temporal.signalTries; n != 1 {
		t.Fatalf("Temporal was asked %d times, want once", n)
	}
	// A success always asks: a resolve must never be missed.
	h.temporal.signalErr = nil
	if rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "success")); answer["action"] != "signaled" {
		t.Fatalf("success: %d %v", rec.Code, answer)
	}
	// A running pipeline within the window is answered without a call...
	if _, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "running")); answer["action"] != "none" {
		t.Fatalf("running within the window: %v", answer)
	}
	// ...until this intake starts the alert itself.
	if _, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "failed")); answer["action"] != "signaled" {
		t.Fatalf("failed: %v", answer)
	}
	if _, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, withStatus(t, "running")); answer["action"] != "signaled" {
		t.Fatalf("running once the alert exists: %v", answer)
	}
	if len(h.temporal.signals) != 2 {
		t.Fatalf("%d plain signals, want the success and the last running", len(h.temporal.signals))
	}
}

func TestNoAlertsForgetsAfterTheWindow(t *testing.T) {
	n := newNoAlerts()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	n.note("1-main", now)
	if !n.none("1-main", now.Add(noAlertFor-time.Millisecond)) || n.none("1-main", now.Add(noAlertFor)) || n.none("1-other", now) {
		t.Fatal("remembered the wrong IDs or for the wrong time")
	}
}

func TestAlertRatesComeBackToIdleAfterThousandsOfAlerts(t *testing.T) {
	a := newAlertRates(1, 2)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i := range 5000 {
		a.allow(fmt.Sprintf("1-b%d", i), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := a.tracked(now.Add(5 * time.Second)); n == 0 {
		t.Fatal("no limiter counted while deliveries were recent")
	}
	later := now.Add(time.Minute)
	if n := a.tracked(later); n != 0 {
		t.Fatalf("%d limiters counted as active a minute after the last delivery", n)
	}
	// The next delivery after a sweep interval drops every refilled one.
	a.allow("1-last", later)
	if n := len(a.byAlert); n != 1 {
		t.Fatalf("%d limiters kept after the sweep, want 1", n)
	}
}

func TestNoAlertsComeBackToIdleAfterThousandsOfIDs(t *testing.T) {
	n := newNoAlerts()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i := range 5000 {
		n.note(fmt.Sprintf("1-b%d", i), now)
	}
	if c := n.live(now); c != 5000 {
		t.Fatalf("%d live entries, want 5000", c)
	}
	later := now.Add(sweepEvery + noAlertFor)
	if c := n.live(later); c != 0 {
		t.Fatalf("%d entries still trusted after the window", c)
	}
	n.note("1-last", later)
	if c := n.size(); c != 1 {
		t.Fatalf("%d entries kept after the sweep, want 1", c)
	}
}
