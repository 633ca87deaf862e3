// Package visibility is the one place alertflow reads runs off the
// Temporal server rather than through a workflow: the literals of a
// visibility query, and the state a closed run ended with. The worker's
// activities (recall, silences) and the intake's API (list, stats) share it,
// so that quoting and the reading of a run's end are written once.
package visibility

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/alertflow/alertflow/alert"
)

// Quote makes s a visibility-query string literal. Values are never pasted
// into a query as they come: the quote and the backslash, the only
// characters with meaning inside a literal, are escaped.
func Quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Time is t as a visibility query's datetime literal.
func Time(t time.Time) string {
	return "'" + t.UTC().Format(time.RFC3339Nano) + "'"
}

// Division names the namespace division the server would otherwise add as
// "TemporalNamespaceDivision IS NULL". On SQLite (the dev server) that added
// equality led the planner to the division's index, which every run shares,
// so a lookup by workflow ID scanned the whole visibility table on the
// server's one database connection, and alerts slowed down as the server
// filled. Written as an OR it is no index equality, and the lookup goes by
// the workflow ID's index; no run carries an empty division, so the runs
// found are the same.
const Division = "(TemporalNamespaceDivision IS NULL OR TemporalNamespaceDivision = '')"

// HistoryReader is the part of client.Client that End needs.
type HistoryReader interface {
	GetWorkflowHistory(ctx context.Context, workflowID, runID string, isLongPoll bool,
		filterType enumspb.HistoryEventFilterType) client.HistoryEventIterator
}

// Ending is how a closed run of an alert ended, read from its close event.
type Ending struct {
	// Result is the state the run completed with; nil when it did not
	// complete (it continued as new, was terminated, or is still open).
	Result *alert.State
	// CarriedOn is set when the run continued as new and handed its alert
	// to the next run; a run that continued with the events of a new alert
	// ended its own alert first, and carries nothing on.
	CarriedOn bool
}

// End reads how run runID of workflowID ended. Only the close event is
// read, so the cost does not grow with the run's history.
func End(ctx context.Context, h HistoryReader, workflowID, runID string) (Ending, error) {
	it := h.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return Ending{}, fmt.Errorf("read the end of run %s of %s: %w", runID, workflowID, err)
		}
		if end, ok, err := ending(ev); ok || err != nil {
			if err != nil {
				return Ending{}, fmt.Errorf("decode the end of run %s of %s: %w", runID, workflowID, err)
			}
			return end, nil
		}
	}
	return Ending{}, nil
}

func ending(ev *historypb.HistoryEvent) (Ending, bool, error) {
	dc := converter.GetDefaultDataConverter()
	if done := ev.GetWorkflowExecutionCompletedEventAttributes(); done != nil {
		var st alert.State
		if err := dc.FromPayloads(done.GetResult(), &st); err != nil {
			return Ending{}, true, fmt.Errorf("the result: %w", err)
		}
		return Ending{Result: &st}, true, nil
	}
	if next := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); next != nil {
		// Only the alert the input carries matters here; the rest of the
		// workflow's input is its own.
		var in struct {
			State *alert.State `json:"state,omitempty"`
		}
		if err := dc.FromPayloads(next.GetInput(), &in); err != nil {
			return Ending{}, true, fmt.Errorf("what it continued with: %w", err)
		}
		return Ending{CarriedOn: in.State != nil}, true, nil
	}
	return Ending{}, false, nil
}

// NotFound says err is the server's answer for a workflow that does not
// exist, or no longer does: it completed and its retention passed, or it
// completed between being listed and being asked.
func NotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
