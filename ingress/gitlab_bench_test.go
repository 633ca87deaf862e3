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
	return pipelineBodyWith(tb, "failed", jobs, failed)
}

// pipelineBodyWith is pipelineBody with another status.
func pipelineBodyWith(tb testing.TB, status string, jobs, failed int) []byte {
	tb.Helper()
	b, err := payload.Load(filepath.Join("..", "testdata", "pipeline-failed-branch.json"))
	if err != nil {
		tb.Fatal(err)
	}
	body, err := b.Build(payload.Pipeline{
		ProjectID: 17, Ref: "main", ID: 1042, Status: status,
		Jobs: jobs, FailedJobs: failed,
		FinishedAt: time.Date(2026, 11, 20, 9, 21, 47, 0, time.UTC),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// BenchmarkParsePipelineEvent parses and validates a typical delivery (20
// jobs, about 20 KB) and a large one (about 2 MB), and a typical running
// pipeline, which is ignored and whose jobs are not looked at.
func BenchmarkParsePipelineEvent(b *testing.B) {
	for _, c := range []struct {
		status     string
		jobs, kept int
	}{{"failed", 20, 2}, {"failed", 2150, 2}, {"running", 20, 0}} {
		body := pipelineBodyWith(b, c.status, c.jobs, 2)
		b.Run(fmt.Sprintf("%dKB-%djobs-%s", len(body)>>10, c.jobs, c.status), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				ev, _, err := ParsePipelineEvent(body)
				if err != nil || len(ev.Pipeline.FailedJobs) != c.kept {
					b.Fatalf("parse: %v, %d failed jobs, want %d", err, len(ev.Pipeline.FailedJobs), c.kept)
				}
			}
		})
	}
}
