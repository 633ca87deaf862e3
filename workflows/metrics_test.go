package workflows

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
)

// timerRecorder is a metrics handler that keeps what the alert histograms
// record, with the tags of the handler they were recorded through.
type timerRecorder struct {
	mu   *sync.Mutex
	tags map[string]string
	got  *[]string
}

func newTimerRecorder() *timerRecorder {
	return &timerRecorder{mu: &sync.Mutex{}, tags: map[string]string{}, got: &[]string{}}
}

func (h *timerRecorder) WithTags(tags map[string]string) client.MetricsHandler {
	merged := map[string]string{}
	for k, v := range h.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[k] = v
	}
	return &timerRecorder{mu: h.mu, tags: merged, got: h.got}
}

func (h *timerRecorder) Counter(name string) client.MetricsCounter {
	return client.MetricsNopHandler.Counter(name)
}

func (h *timerRecorder) Gauge(name string) client.MetricsGauge {
	return client.MetricsNopHandler.Gauge(name)
}

func (h *timerRecorder) Timer(name string) client.MetricsTimer {
	if name != MetricTimeToAcknowledge && name != MetricTimeToResolve {
		return client.MetricsNopHandler.Timer(name)
	}
	return timerFunc(func(d time.Duration) {
		h.mu.Lock()
		defer h.mu.Unlock()
		*h.got = append(*h.got, fmt.Sprintf("%s %s %s", name, h.tags[MetricSeverityTag], d))
	})
}

func (h *timerRecorder) recorded() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(*h.got)
}

// newMeasuredEnv is newAlertEnv with the recorder as the metrics handler.
func newMeasuredEnv(t *testing.T) (*alertEnv, *timerRecorder) {
	t.Helper()
	m := newTimerRecorder()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	s.SetMetricsHandler(m)
	e := &alertEnv{TestWorkflowEnvironment: s.NewTestWorkflowEnvironment()}
	e.RegisterWorkflow(AlertWorkflow)
	e.RegisterActivity(activities.NewSinks(slog.New(slog.DiscardHandler), nil, nil))
	recallNothing(e.TestWorkflowEnvironment)
	e.OnActivity(activities.ActivityNotifyLog, mock.Anything, mock.Anything).Return(nil, nil)
	e.OnActivity(activities.ActivityRouteNotification, mock.Anything, mock.Anything).Return(activities.RouteAnswer{}, nil)
	return e, m
}

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }

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
	if got := m.recorded(); !slices.Equal(got, want) {
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
	if got := m.recorded(); !slices.Equal(got, want) {
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
	if got := m.recorded(); len(got) != 0 {
		t.Fatalf("recorded %q for an alert nobody was told of", got)
	}
}
