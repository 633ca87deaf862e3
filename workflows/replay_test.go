package workflows

import (
	"log/slog"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
)

// TestRecordedHistoriesReplay replays histories recorded from the
// integration tests (make histories) against today's AlertWorkflow: a
// change that would break alerts already running fails here. The
// subdirectories keep histories of earlier revisions (v0: RevisionFirst,
// v1: RevisionLean, v2: RevisionGitLab, v3: RevisionRouted, v4:
// RevisionSilenced, v5: RevisionFlapping, v6: RevisionFinished, v7:
// RevisionPrompt), which running alerts may still have. Histories of silences replay SilenceWorkflow.
func TestRecordedHistoriesReplay(t *testing.T) {
	var files []string
	for _, pattern := range []string{"*.json", "*/*.json"} {
		found, err := filepath.Glob(filepath.Join("..", "testdata", "histories", pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, found...)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/histories: run make histories")
	}
	logger := log.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for _, f := range files {
		name, _ := filepath.Rel(filepath.Join("..", "testdata", "histories"), f)
		t.Run(name, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(AlertWorkflow)
			r.RegisterWorkflow(SilenceWorkflow)
			if err := r.ReplayWorkflowHistoryFromJSONFile(logger, f); err != nil {
				t.Fatalf("replay: %v", err)
			}
		})
	}
}
