package alertmodel

import "slices"

// Shrink removes steps from a failing sequence, one at a time, for as long
// as what is left still fails, and returns the shorter sequence: what a
// model test prints so that a failure reads as the few steps that matter.
// Steps must be whole (an event, not "the event of step 3"), so that any
// subsequence is still a sequence.
func Shrink[T any](steps []T, fails func([]T) bool) []T {
	for removed := true; removed; {
		removed = false
		for i := 0; i < len(steps); i++ {
			shorter := slices.Delete(slices.Clone(steps), i, i+1)
			if fails(shorter) {
				steps, removed = shorter, true
				i--
			}
		}
	}
	return steps
}
