package workflows

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/workflows/metricstest"
)

// newMeasuredEnv is newAlertEnv with the recorder as the metrics handler.
func newMeasuredEnv(t *testing.T) (*alertEnv, *metricstest.Recorder) {
	t.Helper()
	return newMeasuredEnvWithRecall(t, nil)
}

// newMeasuredEnvWithRecall is newMeasuredEnv on an ID that remembers mem.
func newMeasuredEnvWithRecall(t *testing.T, mem *alert.Memory) (*alertEnv, *metricstest.Recorder) {
	t.Helper()
	m := metricstest.New(MetricSeverityTag, MetricTimeToAcknowledge, MetricTimeToResolve)
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	s.SetMetricsHandler(m)
	e := &alertEnv{TestWorkflowEnvironment: s.NewTestWorkflowEnvironment()}
	e.RegisterWorkflow(AlertWorkflow)
	e.RegisterActivity(activities.NewSinks(slog.New(slog.DiscardHandler), nil, nil))
	recall(e.TestWorkflowEnvironment, mem)
	e.OnActivity(activities.ActivityNotifyLog, mock.Anything, mock.Anything).Return(nil, nil)
	e.OnActivity(activities.ActivityRouteNotification, mock.Anything, mock.Anything).Return(activities.RouteAnswer{}, nil)
	return e, m
}

func TestTheHistogramsGetTheTimesToAcknowledgeAndResolveAtTheSeverityOfThatMoment(t *testing.T) {
	e, m := newMeasuredEnv(t)
	// A cancel opens a MEDIUM alert at once (no hold), acknowledged two
	// minutes later; a failure raises it to HIGH, and a success resolves
	// it an hour after it opened.
	e.signalAt(time.Second, pipelineEvent(31, "canceled"))
	e.signalActionAt(2*time.Minute+time.Second, SignalAcknowledge, alert.Acknowledgement{By: "alice"})
	e.signalAt(10*time.Minute, pipelineEvent(32, "failed"))
	e.signalAt(time.Hour+time.Second, pipelineEvent(33, "success"))
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	if s := e.result(t); s.Status != alert.StatusResolved {
		t.Fatalf("final status %s", s.Status)
	}
	want := []string{
		MetricTimeToAcknowledge + " MEDIUM 2m0s",
		MetricTimeToResolve + " HIGH 1h0m0s",
	}
	if got := m.Recorded(); !slices.Equal(got, want) {
		t.Fatalf("recorded %q, want %q", got, want)
	}
}

func TestTheHistogramsRecordAHandResolveOfAnUnacknowledgedAlertOnly(t *testing.T) {
	e, m := newMeasuredEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.signalActionAt(45*time.Minute+time.Second, SignalResolve, alert.Resolution{By: "bob"})
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	e.result(t)
	want := []string{MetricTimeToResolve + " HIGH 45m0s"}
	if got := m.Recorded(); !slices.Equal(got, want) {
		t.Fatalf("recorded %q, want %q", got, want)
	}
}

func TestTheHistogramsLeaveOutAnAlertNobodyWasToldOf(t *testing.T) {
	e, m := newMeasuredEnv(t)
	// A held cancel that a newer success supersedes ends quietly.
	e.signalAt(time.Second, pipelineEvent(31, "canceled"))
	e.signalAt(10*time.Second, pipelineEvent(32, "success"))
	e.ExecuteWorkflow(AlertWorkflow, gitlabInput())
	if s := e.result(t); s.Status != alert.StatusResolved || !s.Quiet {
		t.Fatalf("final status %s quiet %v, want a quiet resolve", s.Status, s.Quiet)
	}
	if got := m.Recorded(); len(got) != 0 {
		t.Fatalf("recorded %q for an alert nobody was told of", got)
	}
}

func TestAFlappingAlertThatTurnsStableRecordsItsTimeToResolve(t *testing.T) {
	e, m := newMeasuredEnvWithRecall(t, flappingMemory())
	e.SetStartTime(t0)
	e.flips(2) // red, then green: stable a window later
	e.ExecuteWorkflow(AlertWorkflow, flappingInput())
	s := e.result(t)
	want := []string{fmt.Sprintf("%s %s %s", MetricTimeToResolve, s.Severity, s.ResolvedAt.Sub(s.OpenedAt))}
	if s.FlappedAt.IsZero() || !slices.Equal(m.Recorded(), want) {
		t.Fatalf("flapped at %v, recorded %q, want %q", s.FlappedAt, m.Recorded(), want)
	}
}
