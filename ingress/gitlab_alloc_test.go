package ingress

import "testing"

// A delivery with a thousand successful jobs must cost no more allocations
// than one with ten: the parser keeps failed jobs only and passes over the
// others without decoding them.
func TestParseAllocationsDoNotGrowWithSuccessfulJobs(t *testing.T) {
	allocs := func(successful int) float64 {
		body := pipelineBody(t, successful+2, 2)
		return testing.AllocsPerRun(20, func() {
			ev, _, err := ParsePipelineEvent(body)
			if err != nil || len(ev.Pipeline.FailedJobs) != 2 {
				t.Fatalf("parse: %v, %d failed jobs", err, len(ev.Pipeline.FailedJobs))
			}
		})
	}
	few, many := allocs(10), allocs(1000)
	if many > few {
		t.Fatalf("%v allocations with 1000 successful jobs, %v with 10: parsing materialises jobs it does not keep", many, few)
	}
}
