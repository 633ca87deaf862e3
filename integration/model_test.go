package integration

import (
	"fmt"
	"testing"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alert/alertmodel"
	"github.com/alertflow/alertflow/ingress"
)

// The end-to-end tests predict what alertflow does with a branch's
// deliveries with alertmodel.Branch (whose comment says how), under the
// settings the intake starts alerts with when given none.
type (
	branchModel    = alertmodel.Branch
	expectedAnswer = alertmodel.Answer
)

const (
	answerSignaled = alertmodel.AnswerSignaled
	answerNone     = alertmodel.AnswerNone
	answerEither   = alertmodel.AnswerEither
)

// pipelineEvent is one pipeline state of a branch; both copies of a
// delivery carry the same one.
type pipelineEvent struct {
	pipeline int64
	status   string
}

// opens says whether the intake may start an alert for the event.
func (e pipelineEvent) opens() bool { return alert.RouteOf(e.status) == alert.RouteOpen }

func (e pipelineEvent) String() string { return fmt.Sprintf("#%d %s", e.pipeline, e.status) }

// intakeEvent is the event the intake hands an alert for a delivery of
// body with the given Idempotency-Key: what the model applies.
func intakeEvent(t *testing.T, body []byte, key string) alert.Event {
	t.Helper()
	ev, isPipeline, err := ingress.ParsePipelineEvent(body)
	if err != nil || !isPipeline {
		t.Fatalf("the intake would not take the body (pipeline event %v): %v", isPipeline, err)
	}
	ev.IdempotencyKey = key
	return ev
}

func pipelineOf(st *alert.State) string { return alertmodel.PipelineOf(st) }
