package visibility

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/alertflow/alertflow/alert"
)

func TestQuoteEscapesTheQuoteAndTheBackslashOnly(t *testing.T) {
	for in, want := range map[string]string{
		`main`:         `'main'`,
		`it's`:         `'it\'s'`,
		`a\b`:          `'a\\b'`,
		`\' OR 1=1 --`: `'\\\' OR 1=1 --'`,
		`"quoted"`:     `'"quoted"'`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestTimeIsUTCWithNanoseconds(t *testing.T) {
	at := time.Date(2026, 12, 7, 23, 0, 0, 5, time.FixedZone("CET", 3600))
	if got, want := Time(at), "'2026-12-07T22:00:00.000000005Z'"; got != want {
		t.Errorf("Time = %s, want %s", got, want)
	}
}

// events is a history reader that answers one run's close event.
type events []*historypb.HistoryEvent

func (e events) GetWorkflowHistory(context.Context, string, string, bool, enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	return &iterator{events: e}
}

type iterator struct {
	events []*historypb.HistoryEvent
	err    error
}

func (it *iterator) HasNext() bool { return len(it.events) > 0 || it.err != nil }
func (it *iterator) Next() (*historypb.HistoryEvent, error) {
	if it.err != nil {
		return nil, it.err
	}
	ev := it.events[0]
	it.events = it.events[1:]
	return ev, nil
}

type failing struct{}

func (failing) GetWorkflowHistory(context.Context, string, string, bool, enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	return &iterator{err: errors.New("connection refused")}
}

func payloads(t *testing.T, v any) *historypb.HistoryEvent_WorkflowExecutionCompletedEventAttributes {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayloads(v)
	if err != nil {
		t.Fatal(err)
	}
	return &historypb.HistoryEvent_WorkflowExecutionCompletedEventAttributes{
		WorkflowExecutionCompletedEventAttributes: &historypb.WorkflowExecutionCompletedEventAttributes{Result: p},
	}
}

func continued(t *testing.T, v any) *historypb.HistoryEvent_WorkflowExecutionContinuedAsNewEventAttributes {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayloads(v)
	if err != nil {
		t.Fatal(err)
	}
	return &historypb.HistoryEvent_WorkflowExecutionContinuedAsNewEventAttributes{
		WorkflowExecutionContinuedAsNewEventAttributes: &historypb.WorkflowExecutionContinuedAsNewEventAttributes{Input: p},
	}
}

func TestEndReadsHowARunEnded(t *testing.T) {
	done := alert.State{ID: "1-main", Status: alert.StatusResolved}
	for _, tt := range []struct {
		name      string
		ev        *historypb.HistoryEvent
		result    bool
		carriedOn bool
	}{
		{"completed", &historypb.HistoryEvent{Attributes: payloads(t, done)}, true, false},
		{"continued with its alert", &historypb.HistoryEvent{Attributes: continued(t, map[string]any{"state": done, "limits": map[string]any{}})}, false, true},
		{"continued with a new alert's events", &historypb.HistoryEvent{Attributes: continued(t, map[string]any{"pending": []any{}})}, false, false},
		{"terminated", &historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_WorkflowExecutionTerminatedEventAttributes{}}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			end, err := End(context.Background(), events{tt.ev}, "1-main", "r1")
			if err != nil {
				t.Fatal(err)
			}
			if (end.Result != nil) != tt.result || end.CarriedOn != tt.carriedOn {
				t.Fatalf("End = %+v, want a result %v and carried on %v", end, tt.result, tt.carriedOn)
			}
			if tt.result && end.Result.ID != "1-main" {
				t.Errorf("result decoded as %+v", end.Result)
			}
		})
	}
}

func TestEndNamesTheRunWhenItCannotRead(t *testing.T) {
	_, err := End(context.Background(), failing{}, "1-main", "r1")
	if err == nil || err.Error() != "read the end of run r1 of 1-main: connection refused" {
		t.Fatalf("End = %v", err)
	}
	bad := &historypb.HistoryEvent{Attributes: payloads(t, "not a state")}
	if _, err := End(context.Background(), events{bad}, "1-main", "r2"); err == nil {
		t.Fatal("a result that is no state was decoded")
	}
}

func TestNotFoundKnowsTheServersAnswer(t *testing.T) {
	if !NotFound(fmt.Errorf("describe: %w", serviceerror.NewNotFound("gone"))) {
		t.Error("a wrapped NotFound is not found")
	}
	if NotFound(errors.New("deadline exceeded")) || NotFound(nil) {
		t.Error("another error is not found")
	}
}
