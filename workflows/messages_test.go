package workflows

import "testing"

// The loop's selector is one list; a signal or timer kind missing from it
// would never be taken, one there twice taken in two places.
func TestTheLoopSelectsEverySignalAndEveryTimerKindOnce(t *testing.T) {
	signals, timers := map[string]int{}, map[timerKind]int{}
	wakes := 0
	for _, lc := range loopOrder {
		switch {
		case lc.wake:
			wakes++
		case lc.signal != "":
			signals[lc.signal]++
		default:
			timers[lc.timer]++
			if lc.arm == nil || lc.fire == nil {
				t.Errorf("timer %s: no arm or fire", lc.timer)
			}
		}
	}
	if wakes != 1 {
		t.Errorf("the wake-up is in the loop %d times, want once", wakes)
	}
	for _, s := range alertSignals {
		if signals[s.name] != 1 {
			t.Errorf("signal %s is in the loop %d times, want once", s.name, signals[s.name])
		}
		delete(signals, s.name)
	}
	for name := range signals {
		t.Errorf("the loop takes signal %s, which alertSignals does not have", name)
	}
	for kind := range alertTimerKinds {
		if timers[kind] != 1 {
			t.Errorf("timer %s is in the loop %d times, want once", kind, timers[kind])
		}
		delete(timers, kind)
	}
	for kind := range timers {
		t.Errorf("the loop has timer %s, which alertTimerKinds does not have", kind)
	}
}
