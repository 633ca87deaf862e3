package ingress

import "testing"

// A delivery with a thousand successful jobs must cost no more allocations
// than one with ten: the parser keeps failed jobs only and passes over the
// others without decoding them.
func TestParseAllocationsDoNotGrowWithSuccessfulJobs(t *testing.T) {
	allocs := func(successful int) float64 {
		body := pipelineBody(t, successful+2, 2)
		return testing.AllocsPerRun(100, func() {
			ev, _, err := ParsePipelineEvent(body)
			if err != nil || len(ev.Pipeline.FailedJobs) != 2 {
				t.Fatalf("parse: %v, %d failed jobs", err, len(ev.Pipeline.FailedJobs))
			}
		})
	}
	// The decoder comes from a sync.Pool, which the race detector makes
	// drop a quarter of its items at random: a parse now and then
	// allocates a fresh one, about 40 allocations, so the average over 100
	// parses moves by a few. A job materialised would cost at least one
	// allocation each, 990 more.
	const slack = 10
	few, many := allocs(10), allocs(1000)
	if many > few+slack {
		t.Fatalf("%v allocations with 1000 successful jobs, %v with 10: parsing materialises jobs it does not keep", many, few)
	}
}
