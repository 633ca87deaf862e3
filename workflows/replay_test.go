package workflows

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/silence"
)

// TestRecordedHistoriesReplay replays histories recorded from the
// integration tests (make histories) against today's AlertWorkflow: a
// change that would break alerts already running fails here. The
// subdirectories keep histories of earlier revisions (v0: RevisionFirst,
// v1: RevisionLean, v2: RevisionGitLab, v3: RevisionRouted, v4:
// RevisionSilenced, v5: RevisionFlapping, v6: RevisionFinished, v7:
// RevisionPrompt, v8: RevisionFaithful, v9: RevisionConsole, v10:
// RevisionReconciled, v11: RevisionInsight), which running
// alerts may still have; monitor-* are MonitorWorkflow's, change-* ChangeWorkflow's. Histories of silences replay SilenceWorkflow;
// silence-v1 keeps one expired early before it set SilenceExpired.
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
			r.RegisterWorkflowWithOptions(MonitorWorkflow, workflow.RegisterOptions{Name: MonitorWorkflowType})
			r.RegisterWorkflowWithOptions(ChangeWorkflow, workflow.RegisterOptions{Name: ChangeWorkflowType})
			raw, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			history, err := client.HistoryFromJSON(raw, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatalf("read %s: %v", f, err)
			}
			// A silence checks that its ID is its workflow's: replay it
			// under the ID it ran under, which its input names.
			var opts worker.ReplayWorkflowHistoryOptions
			started := history.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
			if started.GetWorkflowType().GetName() == SilenceWorkflowType {
				var sl silence.Silence
				if err := converter.GetDefaultDataConverter().FromPayloads(started.GetInput(), &sl); err != nil {
					t.Fatalf("read the silence of %s: %v", f, err)
				}
				opts.OriginalExecution = workflow.Execution{ID: sl.ID, RunID: started.GetOriginalExecutionRunId()}
			}
			if err := r.ReplayWorkflowHistoryWithOptions(logger, history, opts); err != nil {
				t.Fatalf("replay: %v", err)
			}
		})
	}
}
