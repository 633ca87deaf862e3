package alert

import (
	"fmt"
	"time"
)

// Flapping: an ID whose alerts opened and resolved Rules.FlapThreshold
// times within Rules.FlapWindow is flapping. Its next alert says so once
// (OutcomeFlapping, instead of OutcomeOpened) and then stays open while
// the branch flips: a success starts GreenSince rather than resolving, a
// failure pages nobody. Once the branch has stayed green for the whole
// window the alert is stable (OutcomeStable) and resolves. The resolve
// times travel in Memory, which each alert hands to the next on its ID.

// Defaults of the flapping settings.
const (
	DefaultFlapThreshold = 3
	DefaultFlapWindow    = time.Hour
)

// Outcomes of flapping, recorded in the timeline.
const (
	// OutcomeFlapping: the alert opened on an ID that is flapping; people
	// hear this once instead of "opened".
	OutcomeFlapping Outcome = "flapping"
	// OutcomeFlipped: a flapping alert's branch went green or red again;
	// recorded only, nobody is paged.
	OutcomeFlipped Outcome = "flipped"
	// OutcomeStable: a flapping alert's branch stayed green for the whole
	// flapping window; the alert resolves.
	OutcomeStable Outcome = "stable"
)

// EffectiveFlapWindow is r.FlapWindow with its default, as the rule
// applies it; notifications say it.
func (r Rules) EffectiveFlapWindow() time.Duration {
	return r.flapWindow()
}

// flapWindow is r.FlapWindow with its default.
func (r Rules) flapWindow() time.Duration {
	if r.FlapWindow <= 0 {
		return DefaultFlapWindow
	}
	return r.FlapWindow
}

// recentResolves counts the resolves in the memory that fall within the
// window before now.
func (s *State) recentResolves(now time.Time) int {
	n := 0
	for _, t := range s.Memory.Resolves {
		if s.withinWindow(t, now) {
			n++
		}
	}
	return n
}

// withinWindow reports whether t is less than the flapping window before
// now (and not after it).
func (s *State) withinWindow(t, now time.Time) bool {
	return !t.After(now) && now.Sub(t) < s.Rules.flapWindow()
}

// FlappingAt reports whether the ID counts as flapping at now: its alerts
// opened and resolved at least Rules.FlapThreshold times within the window.
func (s *State) FlappingAt(now time.Time) bool {
	return s.Rules.FlapThreshold > 0 && s.recentResolves(now) >= s.Rules.FlapThreshold
}

// flapping reports whether the alert is a flapping one still going on.
func (s *State) flapping() bool {
	return !s.FlappedAt.IsZero() && s.Status.Active()
}

// opening names the outcome of an alert that people are about to hear
// of: OutcomeFlapping, marking it, when its ID is flapping, and
// OutcomeOpened otherwise; with a note saying why when flapping.
func (s *State) opening(now time.Time) (Outcome, string) {
	if !s.FlappingAt(now) {
		return OutcomeOpened, ""
	}
	s.FlappedAt = now
	return OutcomeFlapping, fmt.Sprintf("%d alerts on this ID opened and resolved within %s: flapping, stable once green for %s",
		s.recentResolves(now), s.Rules.flapWindow(), s.Rules.flapWindow())
}

// wentGreen applies a success to a flapping alert: the branch is green
// from now on, and the alert stays open until it is stable.
func (s *State) wentGreen(now time.Time) (Outcome, string) {
	if !s.GreenSince.IsZero() {
		return OutcomeUpdated, "still green since " + s.GreenSince.UTC().Format(time.RFC3339)
	}
	s.GreenSince = now
	s.Flips++
	return OutcomeFlipped, fmt.Sprintf("green: stable at %s unless it fails again", s.StableAt().UTC().Format(time.RFC3339))
}

// wentRed applies a failure to a flapping alert whose branch was green:
// it is red again, and nobody is paged, unless the severity rose.
func (s *State) wentRed(now time.Time) (Outcome, string) {
	s.GreenSince = time.Time{}
	s.Flips++
	prev := s.Severity
	s.raise(SeverityHigh, true)
	if s.Severity.Above(prev) {
		return OutcomeSeverityChanged, fmt.Sprintf("failed again while flapping: %s → %s", prev, s.Severity)
	}
	return OutcomeFlipped, fmt.Sprintf("failed again while flapping (flip %d)", s.Flips)
}

// StableAt is when a flapping alert whose branch is green becomes stable,
// or zero when it is not flapping or not green.
func (s *State) StableAt() time.Time {
	if !s.flapping() || s.GreenSince.IsZero() {
		return time.Time{}
	}
	return s.GreenSince.Add(s.Rules.flapWindow())
}

// Stabilize resolves a flapping alert whose branch has been green for the
// whole flapping window by now, and returns OutcomeStable; it returns ""
// and changes nothing when the alert is not stable yet.
func (s *State) Stabilize(now time.Time) Outcome {
	at := s.StableAt()
	if at.IsZero() || now.Before(at) {
		return ""
	}
	note := fmt.Sprintf("green since %s, for %s, after %d flips", s.GreenSince.UTC().Format(time.RFC3339), s.Rules.flapWindow(), s.Flips)
	s.close(now, ResolvedByAlertflow, "stable: "+note)
	s.record(Entry{Time: now, Kind: OutcomeStable, Severity: s.Severity, Note: note})
	return OutcomeStable
}

// noteResolve remembers that an alert people heard of resolved at now,
// keeping only what the flapping rule can still count: the resolves within
// the window, at most FlapThreshold of them.
func (s *State) noteResolve(now time.Time) {
	if s.Rules.FlapThreshold <= 0 || s.Quiet {
		return
	}
	kept := make([]time.Time, 0, s.Rules.FlapThreshold)
	for _, t := range s.Memory.Resolves {
		if s.withinWindow(t, now) {
			kept = append(kept, t)
		}
	}
	kept = append(kept, now)
	if over := len(kept) - s.Rules.FlapThreshold; over > 0 {
		kept = kept[over:]
	}
	s.Memory.Resolves = kept
}

// joinNotes joins the notes that are not empty with "; ".
func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
