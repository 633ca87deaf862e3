package ingress

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/alertflow/alertflow/bench/payload"
)

// pipelineBody is a failed pipeline built from a real delivery in
// testdata/, with jobs jobs of which failed failed.
func pipelineBody(tb testing.TB, jobs, failed int) []byte {
	tb.Helper()
	b, err := payload.Load(filepath.Join("..", "testdata", "pipeline-failed-branch.json"))
	if err != nil {
		tb.Fatal(err)
	}
	body, err := b.Build(payload.Pipeline{
		ProjectID: 17, Ref: "main", ID: 1042, Status: "failed",
		Jobs: jobs, FailedJobs: failed,
		FinishedAt: time.Date(2026, 11, 20, 9, 21, 47, 0, time.UTC),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// BenchmarkParsePipelineEvent parses and validates a typical delivery (20
// jobs, about 20 KB) and a large one (about 2 MB).
func BenchmarkParsePipelineEvent(b *testing.B) {
	for _, jobs := range []int{20, 2150} {
		body := pipelineBody(b, jobs, 2)
		b.Run(fmt.Sprintf("%dKB-%djobs", len(body)>>10, jobs), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				ev, _, err := ParsePipelineEvent(body)
				if err != nil || len(ev.Pipeline.FailedJobs) != 2 {
					b.Fatalf("parse: %v, %d failed jobs", err, len(ev.Pipeline.FailedJobs))
				}
			}
		})
	}
}
