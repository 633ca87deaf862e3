package alert

import (
	"slices"
	"testing"
	"time"
)

// Tests of the flapping rule: alerts on one ID, each a State of its own
// that starts from the memory the one before it left.

var flapRules = Rules{Version: RulesGitLab, FlapThreshold: DefaultFlapThreshold, FlapWindow: DefaultFlapWindow}

// flipper plays alerts on one ID, handing the memory on as the workflow
// does from run to run.
type flipper struct {
	t     *testing.T
	rules Rules
	mem   Memory
	next  int64
}

// alert starts the ID's next alert.
func (f *flipper) alert() *State {
	return NewWith(DefaultLimits(), f.rules, f.mem)
}

// event is the ID's next pipeline with status.
func (f *flipper) event(status string) Event {
	f.next++
	return ev(f.next, status)
}

// flip opens an alert with a failure at at and resolves it with a success
// a minute later, checking both outcomes.
func (f *flipper) flip(at time.Time) {
	f.t.Helper()
	s := f.alert()
	if out := s.Apply(f.event("failed"), at); out != OutcomeOpened {
		f.t.Fatalf("failure at %s: %q, want opened", at.Format(time.TimeOnly), out)
	}
	if out := s.Apply(f.event("success"), at.Add(time.Minute)); out != OutcomeResolved {
		f.t.Fatalf("success at %s: %q, want resolved", at.Add(time.Minute).Format(time.TimeOnly), out)
	}
	f.mem = s.Memory
}

func TestFlappingTakesThresholdResolvesWithinTheWindow(t *testing.T) {
	tests := []struct {
		name  string
		flips int
		want  Outcome
	}{
		{"two flips are not flapping", 2, OutcomeOpened},
		{"three flips are flapping", 3, OutcomeFlapping},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flipper{t: t, rules: flapRules}
			for i := range tt.flips {
				f.flip(t0.Add(time.Duration(i) * 5 * time.Minute))
			}
			s := f.alert()
			now := t0.Add(30 * time.Minute)
			if out := s.Apply(f.event("failed"), now); out != tt.want {
				t.Fatalf("the next failure: %q, want %q", out, tt.want)
			}
			if flapping := !s.FlappedAt.IsZero(); flapping != (tt.want == OutcomeFlapping) || flapping && !s.FlappedAt.Equal(now) {
				t.Fatalf("flapped at %v", s.FlappedAt)
			}
			if s.Status != StatusOpen || s.Severity != SeverityHigh || !s.Heard(tt.want) {
				t.Fatalf("%s %s, heard %v", s.Status, s.Severity, s.Heard(tt.want))
			}
		})
	}
}

func TestResolvesOlderThanTheWindowAreNotCountedAndNotKept(t *testing.T) {
	f := &flipper{t: t, rules: flapRules}
	f.flip(t0)
	f.flip(t0.Add(30 * time.Minute))
	f.flip(t0.Add(50 * time.Minute))
	// The first resolve (t0+1m) is an hour old at t0+61m: two remain.
	s := f.alert()
	if out := s.Apply(f.event("failed"), t0.Add(61*time.Minute)); out != OutcomeOpened {
		t.Fatalf("a failure with one resolve out of the window: %q, want opened", out)
	}
	// Just before, all three counted.
	early := NewWith(DefaultLimits(), flapRules, f.mem)
	if !early.FlappingAt(t0.Add(61*time.Minute - time.Nanosecond)) {
		t.Fatal("three resolves within the window are not flapping")
	}
	s.Apply(f.event("success"), t0.Add(62*time.Minute))
	want := []time.Time{t0.Add(31 * time.Minute), t0.Add(51 * time.Minute), t0.Add(62 * time.Minute)}
	if !slices.EqualFunc(s.Memory.Resolves, want, time.Time.Equal) {
		t.Fatalf("memory keeps %v, want %v (the old one pruned)", s.Memory.Resolves, want)
	}
	// More resolves than the threshold are never kept.
	f.mem = s.Memory
	s = f.alert()
	s.Apply(f.event("failed"), t0.Add(63*time.Minute))
	s.Resolve(Resolution{By: "bob"}, t0.Add(64*time.Minute))
	if len(s.Memory.Resolves) != flapRules.FlapThreshold {
		t.Fatalf("memory keeps %d resolves, want %d", len(s.Memory.Resolves), flapRules.FlapThreshold)
	}
}

// flappingAlert is an alert found flapping at t0+30m after three flips.
func flappingAlert(t *testing.T) (*flipper, *State) {
	t.Helper()
	f := &flipper{t: t, rules: flapRules}
	for i := range 3 {
		f.flip(t0.Add(time.Duration(i) * 5 * time.Minute))
	}
	s := f.alert()
	if out := s.Apply(f.event("failed"), t0.Add(30*time.Minute)); out != OutcomeFlapping {
		t.Fatalf("after three flips: %q, want flapping", out)
	}
	return f, s
}

func TestAFlappingAlertIsStableAfterExactlyTheWindowGreen(t *testing.T) {
	f, s := flappingAlert(t)
	green := t0.Add(40 * time.Minute)
	if out := s.Apply(f.event("success"), green); out != OutcomeFlipped || s.Status != StatusOpen || !s.GreenSince.Equal(green) {
		t.Fatalf("a success while flapping: %q, %s, green since %v; want flipped, still open", out, s.Status, s.GreenSince)
	}
	if out := s.Apply(f.event("success"), green.Add(10*time.Minute)); out != OutcomeUpdated || !s.GreenSince.Equal(green) {
		t.Fatalf("another success: %q, green since %v; want updated, green since the first", out, s.GreenSince)
	}
	if out := s.Stabilize(green.Add(time.Hour - time.Nanosecond)); out != "" || s.Status != StatusOpen {
		t.Fatalf("just before the window is over: %q %s, want nothing", out, s.Status)
	}
	stable := green.Add(time.Hour)
	if !s.StableAt().Equal(stable) {
		t.Fatalf("stable at %v, want %v", s.StableAt(), stable)
	}
	out := s.Stabilize(stable)
	if out != OutcomeStable || s.Status != StatusResolved || s.ResolvedBy != ResolvedByAlertflow || !s.ResolvedAt.Equal(stable) {
		t.Fatalf("green for the window: %q %s by %s at %v, want stable", out, s.Status, s.ResolvedBy, s.ResolvedAt)
	}
	if !s.Heard(out) || s.Timeline[len(s.Timeline)-1].Kind != OutcomeStable {
		t.Fatalf("the stable resolve is not heard or not in the timeline: %+v", s.Timeline[len(s.Timeline)-1])
	}
	if got := s.Memory.Resolves; len(got) != 1 || !got[0].Equal(stable) {
		t.Fatalf("memory after stable: %v, want only the stable resolve within the window", got)
	}
}

func TestAFailureJustBeforeTheWindowEndsKeepsTheAlertFlapping(t *testing.T) {
	f, s := flappingAlert(t)
	green := t0.Add(40 * time.Minute)
	s.Apply(f.event("success"), green)
	if out := s.Apply(f.event("failed"), green.Add(time.Hour-time.Second)); out != OutcomeFlipped || !s.GreenSince.IsZero() {
		t.Fatalf("a failure while green: %q, green since %v; want flipped, red", out, s.GreenSince)
	}
	if out := s.Stabilize(green.Add(time.Hour)); out != "" || s.Status != StatusOpen || !s.StableAt().IsZero() {
		t.Fatalf("at the old stable time: %q %s, want nothing: the branch is red", out, s.Status)
	}
	// Green again: the window starts over.
	again := green.Add(2 * time.Hour)
	s.Apply(f.event("success"), again)
	if out := s.Stabilize(again.Add(time.Hour)); out != OutcomeStable {
		t.Fatalf("green for a window after the last failure: %q, want stable", out)
	}
	if s.Flips != 3 {
		t.Fatalf("%d flips, want 3 (green, red, green)", s.Flips)
	}
}

func TestPeopleHearOnlyFlappingAndStableAcrossFlips(t *testing.T) {
	f, s := flappingAlert(t)
	heard := []Outcome{OutcomeFlapping}
	at := t0.Add(31 * time.Minute)
	for i := range 7 {
		status := "success"
		if i%2 == 1 {
			status = "failed"
		}
		if out := s.Apply(f.event(status), at); s.Heard(out) {
			heard = append(heard, out)
		}
		at = at.Add(2 * time.Minute)
	}
	if s.Flips != 7 || s.Status != StatusOpen {
		t.Fatalf("%d flips, %s; want 7, open", s.Flips, s.Status)
	}
	if out := s.Stabilize(at.Add(time.Hour)); s.Heard(out) {
		heard = append(heard, out)
	}
	if want := []Outcome{OutcomeFlapping, OutcomeStable}; !slices.Equal(heard, want) {
		t.Fatalf("people heard %v, want %v", heard, want)
	}
	flipped := 0
	for _, e := range s.Timeline {
		if e.Kind == OutcomeFlipped {
			flipped++
		}
	}
	if flipped != 7 {
		t.Fatalf("%d flips in the timeline, want 7", flipped)
	}
}

func TestAFlappingAlertIsAcknowledgedAndResolvedByHandAsAnyOther(t *testing.T) {
	f, s := flappingAlert(t)
	if changed, err := s.Acknowledge(Acknowledgement{By: "alice"}, t0.Add(31*time.Minute)); !changed || err != nil {
		t.Fatalf("acknowledge: %v %v", changed, err)
	}
	if out := s.Apply(f.event("success"), t0.Add(32*time.Minute)); out != OutcomeFlipped || s.Status != StatusAcknowledged {
		t.Fatalf("a success while acknowledged: %q %s", out, s.Status)
	}
	if err := s.Resolve(Resolution{By: "bob", Reason: "fixed the flaky test"}, t0.Add(33*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusResolved || s.ResolvedBy != "bob" || !s.StableAt().IsZero() {
		t.Fatalf("after the manual resolve: %s by %s, stable at %v", s.Status, s.ResolvedBy, s.StableAt())
	}
	// The branch is still flapping: the next alert says so at once.
	f.mem = s.Memory
	next := f.alert()
	if out := next.Apply(f.event("failed"), t0.Add(34*time.Minute)); out != OutcomeFlapping {
		t.Fatalf("the next failure: %q, want flapping", out)
	}
}

func TestFlappingIsOffWithAZeroThreshold(t *testing.T) {
	f := &flipper{t: t, rules: Rules{Version: RulesGitLab}}
	for i := range 5 {
		f.flip(t0.Add(time.Duration(i) * time.Minute * 3))
	}
	if len(f.mem.Resolves) != 0 {
		t.Fatalf("memory keeps %v with flapping off", f.mem.Resolves)
	}
	s := f.alert()
	if out := s.Apply(f.event("failed"), t0.Add(20*time.Minute)); out != OutcomeOpened {
		t.Fatalf("with flapping off: %q, want opened", out)
	}
}

func TestAlertsNobodyHeardOfDoNotCountAsFlips(t *testing.T) {
	rules := flapRules
	rules.Hold = time.Minute
	f := &flipper{t: t, rules: rules}
	for i := range 3 {
		at := t0.Add(time.Duration(i) * 5 * time.Minute)
		s := f.alert()
		// A cancel held and superseded by a success: quiet from start to end.
		if out := s.Apply(f.event("canceled"), at); out != OutcomeHeld {
			t.Fatalf("cancel: %q", out)
		}
		s.Apply(f.event("success"), at.Add(30*time.Second))
		f.mem = s.Memory
	}
	if s := f.alert(); s.FlappingAt(t0.Add(20 * time.Minute)) {
		t.Fatalf("three quiet alerts count as flapping: %v", f.mem.Resolves)
	}
}

func TestAHeldCancelOnAFlappingIDAnnouncesFlapping(t *testing.T) {
	rules := flapRules
	rules.Hold = time.Minute
	f := &flipper{t: t, rules: rules}
	for i := range 3 {
		f.flip(t0.Add(time.Duration(i) * 5 * time.Minute))
	}
	s := f.alert()
	s.Apply(f.event("canceled"), t0.Add(20*time.Minute))
	out, ok := s.EndHold(t0.Add(21 * time.Minute))
	if !ok || out != OutcomeFlapping || s.FlappedAt.IsZero() || s.Timeline[len(s.Timeline)-1].Kind != OutcomeFlapping {
		t.Fatalf("the hold's end: %q %v, flapped at %v", out, ok, s.FlappedAt)
	}
}
