package ingress

import (
	"fmt"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
)

func TestGreensKeepTheNewestPipelineOfEachRef(t *testing.T) {
	g := newGreens()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	g.note("1-main", alert.Green{PipelineID: 5, SHA: "e"}, now)
	g.note("1-main", alert.Green{PipelineID: 3, SHA: "c"}, now.Add(time.Second)) // delivered late
	g.note("1-other", alert.Green{PipelineID: 9, SHA: "i"}, now)
	if got := g.get("1-main", now.Add(time.Minute)); got == nil || got.PipelineID != 5 {
		t.Fatalf("1-main: %+v, want pipeline 5 (a late older success must not replace it)", got)
	}
	if got := g.get("1-none", now); got != nil {
		t.Fatalf("a ref never seen green: %+v", got)
	}
	if got := g.get("1-main", now.Add(greenFor)); got != nil {
		t.Fatalf("still remembered after %v: %+v", greenFor, got)
	}
}

func TestGreensComeBackToIdleAfterThousandsOfRefs(t *testing.T) {
	g := newGreens()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for i := range 5000 {
		g.note(fmt.Sprintf("1-b%d", i), alert.Green{PipelineID: int64(i + 1)}, now.Add(time.Duration(i)*time.Millisecond))
	}
	if c := g.live(now.Add(time.Hour)); c != 5000 {
		t.Fatalf("%d live entries, want 5000", c)
	}
	later := now.Add(greenFor + time.Minute)
	if c := g.live(later); c != 0 {
		t.Fatalf("%d entries live after %v", c, greenFor)
	}
	g.note("1-last", alert.Green{PipelineID: 1}, later)
	if c := g.size(); c != 1 {
		t.Fatalf("%d entries kept after the sweep, want 1", c)
	}
}

func TestGreensStayWithinTheirBoundWhenFull(t *testing.T) {
	g := newGreens()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for i := range maxGreens + 2000 {
		g.note(fmt.Sprintf("1-b%d", i), alert.Green{PipelineID: 1}, now.Add(time.Duration(i)*time.Microsecond))
		if g.size() > maxGreens {
			t.Fatalf("%d entries after %d notes: over the bound %d", g.size(), i+1, maxGreens)
		}
	}
	last := fmt.Sprintf("1-b%d", maxGreens+1999)
	if g.get(last, now.Add(time.Second)) == nil {
		t.Fatal("the newest green was dropped; the oldest should go first")
	}
	if g.get("1-b0", now.Add(time.Second)) != nil {
		t.Fatal("the oldest green survived the map filling up")
	}
}
