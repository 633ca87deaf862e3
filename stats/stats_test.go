package stats

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
)

var (
	t0   = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	from = t0.Add(-time.Hour)
	to   = t0.Add(30 * 24 * time.Hour)
)

// told is an alert people were told of, opened at t0+at on project 7's ref.
func told(ref string, at time.Duration) alert.State {
	return alert.State{ID: "7-" + ref, Project: alert.Project{ID: 7, Path: "team/app"}, Ref: ref,
		Status: alert.StatusOpen, Severity: alert.SeverityHigh, OpenedAt: t0.Add(at), Counts: alert.Counts{Events: 1}}
}

func acked(s alert.State, after time.Duration) alert.State {
	s.Status, s.AcknowledgedAt = alert.StatusAcknowledged, s.OpenedAt.Add(after)
	s.Counts.Events++
	return s
}

func resolved(s alert.State, after time.Duration) alert.State {
	s.Status, s.ResolvedAt = alert.StatusResolved, s.OpenedAt.Add(after)
	s.Counts.Events++
	return s
}

func secs(p *float64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

func TestComputeOfNoAlertsIsZeroWithNullTimes(t *testing.T) {
	rep := Compute(nil, from, to, DefaultTopRefs)
	if rep.Alerts != (Counts{}) || rep.TimeToAcknowledge.Count != 0 || rep.TimeToAcknowledge.MedianSeconds != nil || rep.TimeToResolve.P90Seconds != nil {
		t.Fatalf("report of nothing: %+v", rep)
	}
	raw, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if refs, ok := back["top_refs"].([]any); !ok || len(refs) != 0 {
		t.Fatalf("top_refs must be an empty list, not %v", back["top_refs"])
	}
	if tta := back["time_to_acknowledge"].(map[string]any); tta["median_seconds"] != nil {
		t.Fatalf("median of nothing must be null: %v", tta)
	}
}

func TestComputeCountsAndSpreadsTheTimes(t *testing.T) {
	states := []alert.State{
		resolved(acked(told("main", 0), 1*time.Minute), 10*time.Minute),
		resolved(acked(told("main", time.Hour), 2*time.Minute), 20*time.Minute),
		resolved(acked(told("dev", 2*time.Hour), 3*time.Minute), 30*time.Minute),
		acked(told("dev", 3*time.Hour), 4*time.Minute),
		told("main", 4*time.Hour),
	}
	rep := Compute(states, from, to, DefaultTopRefs)
	if want := (Counts{Opened: 5, Acknowledged: 4, Resolved: 3, Active: 2}); rep.Alerts != want {
		t.Fatalf("counts %+v, want %+v", rep.Alerts, want)
	}
	// Acknowledged after 60, 120, 180, 240 s: median 150, p90 at
	// position 2.7 → 180 + 0.7×60 = 222.
	a := rep.TimeToAcknowledge
	if a.Count != 4 || secs(a.MedianSeconds) != "150" || secs(a.P90Seconds) != "222" || a.Median != "2m30s" || a.P90 != "3m42s" {
		t.Fatalf("time to acknowledge %d %s %s %q %q", a.Count, secs(a.MedianSeconds), secs(a.P90Seconds), a.Median, a.P90)
	}
	// Resolved after 600, 1200, 1800 s: median 1200, p90 at 1.8 → 1680.
	r := rep.TimeToResolve
	if r.Count != 3 || secs(r.MedianSeconds) != "1200" || secs(r.P90Seconds) != "1680" || r.Median != "20m0s" {
		t.Fatalf("time to resolve %d %s %s %q", r.Count, secs(r.MedianSeconds), secs(r.P90Seconds), r.Median)
	}
	want := []RefCount{{7, "team/app", "main", 3}, {7, "team/app", "dev", 2}}
	if fmt.Sprint(rep.TopRefs) != fmt.Sprint(want) {
		t.Fatalf("top refs %v, want %v", rep.TopRefs, want)
	}
}

func TestComputeWritesTimesUnderASecondInMilliseconds(t *testing.T) {
	rep := Compute([]alert.State{resolved(told("main", 0), 38*time.Millisecond)}, from, to, DefaultTopRefs)
	if r := rep.TimeToResolve; secs(r.MedianSeconds) != "0.038" || r.Median != "38ms" {
		t.Fatalf("time to resolve %s %q", secs(r.MedianSeconds), r.Median)
	}
}

func TestComputeOfOneAlertTakesItsTimesAsMedianAndP90(t *testing.T) {
	rep := Compute([]alert.State{resolved(told("main", 0), 90*time.Second)}, from, to, DefaultTopRefs)
	if r := rep.TimeToResolve; secs(r.MedianSeconds) != "90" || secs(r.P90Seconds) != "90" || r.P90 != "1m30s" {
		t.Fatalf("time to resolve %+v", r)
	}
}

func TestComputeLeavesOutAlertsNobodyWasToldOf(t *testing.T) {
	quiet := told("main", 0)
	quiet.Quiet, quiet.OpenedAt, quiet.Status = true, time.Time{}, alert.StatusResolved
	quiet.ResolvedAt = t0.Add(time.Minute)
	held := told("main", 0)
	held.Quiet, held.OpenedAt, held.Status = true, time.Time{}, alert.StatusPending
	never := alert.State{ID: "7-main", Status: alert.StatusNone, Counts: alert.Counts{Events: 1}}
	rep := Compute([]alert.State{quiet, held, never, resolved(told("dev", 0), time.Minute)}, from, to, DefaultTopRefs)
	if rep.Alerts != (Counts{Opened: 1, Resolved: 1}) || rep.TimeToResolve.Count != 1 || len(rep.TopRefs) != 1 || rep.TopRefs[0].Ref != "dev" {
		t.Fatalf("quiet alerts counted: %+v", rep)
	}
}

func TestComputeCountsAnAlertReadFromTwoRunsOnceAsItsFurthestState(t *testing.T) {
	// The run that continued as new carried the open alert; the last run
	// resolved it. Both orders of reading give one resolved alert.
	first := acked(told("main", 0), time.Minute)
	last := resolved(first, time.Hour)
	last.Counts.Events += 4000
	for _, states := range [][]alert.State{{first, last}, {last, first}} {
		rep := Compute(states, from, to, DefaultTopRefs)
		if rep.Alerts != (Counts{Opened: 1, Acknowledged: 1, Resolved: 1}) || rep.TopRefs[0].Alerts != 1 {
			t.Fatalf("counts %+v refs %v", rep.Alerts, rep.TopRefs)
		}
	}
	// Two alerts on one ID (it reopened) are two.
	rep := Compute([]alert.State{resolved(told("main", 0), time.Minute), told("main", time.Hour)}, from, to, DefaultTopRefs)
	if rep.Alerts.Opened != 2 || rep.TopRefs[0].Alerts != 2 {
		t.Fatalf("a reopened ID: %+v", rep.Alerts)
	}
}

func TestComputeCountsOnlyAlertsOpenedInTheWindow(t *testing.T) {
	before := resolved(told("main", -2*time.Hour), time.Minute) // opened before from
	after := told("main", 31*24*time.Hour)                      // after to
	rep := Compute([]alert.State{before, after, told("dev", 0)}, from, to, DefaultTopRefs)
	if rep.Alerts.Opened != 1 || rep.TopRefs[0].Ref != "dev" {
		t.Fatalf("window not kept: %+v %v", rep.Alerts, rep.TopRefs)
	}
}

func TestComputeCountsFlappingAlerts(t *testing.T) {
	flapped := told("main", 0)
	flapped.FlappedAt = t0.Add(time.Minute)
	rep := Compute([]alert.State{flapped, told("dev", 0)}, from, to, DefaultTopRefs)
	if rep.Alerts.Flapping != 1 {
		t.Fatalf("flapping %d, want 1", rep.Alerts.Flapping)
	}
}

func TestComputeListsTheTopRefsMostFirstUpToTheLimit(t *testing.T) {
	var states []alert.State
	for i := range 12 {
		for j := range i + 1 {
			s := told(fmt.Sprintf("ref-%02d", i), time.Duration(j)*time.Minute)
			states = append(states, s)
		}
	}
	other := told("ref-11", 0)
	other.ID, other.Project = "8-ref-11", alert.Project{ID: 8, Path: "team/other"}
	states = append(states, other)
	rep := Compute(states, from, to, 3)
	want := []RefCount{{7, "team/app", "ref-11", 12}, {7, "team/app", "ref-10", 11}, {7, "team/app", "ref-09", 10}}
	if fmt.Sprint(rep.TopRefs) != fmt.Sprint(want) {
		t.Fatalf("top refs %v, want %v", rep.TopRefs, want)
	}
}
