package alertmodel

import (
	"slices"
	"testing"
)

func TestShrinkKeepsOnlyTheStepsTheFailureNeeds(t *testing.T) {
	// Fails while a 3 comes before a 7, whatever else is there.
	fails := func(steps []int) bool {
		i := slices.Index(steps, 3)
		return i >= 0 && slices.Contains(steps[i:], 7)
	}
	steps := []int{7, 1, 3, 4, 7, 3, 9, 7, 2}
	if got := Shrink(steps, fails); !slices.Equal(got, []int{3, 7}) {
		t.Errorf("Shrink(%v) = %v, want [3 7]", steps, got)
	}
	if len(steps) != 9 || steps[0] != 7 {
		t.Errorf("Shrink changed its argument: %v", steps)
	}
}
