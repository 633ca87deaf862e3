package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/webhook"
	"github.com/alertflow/alertflow/notify/webhook/contract"
)

func severityIs(want alert.Severity) func(*alert.State) error {
	return func(st *alert.State) error {
		if st.Status != alert.StatusOpen || st.Severity != want {
			return fmt.Errorf("%s %s, want open %s", st.Status, st.Severity, want)
		}
		return nil
	}
}

// TestAlertsMoveOnWhileTheReceiverFailsOrHangsAndEveryNotificationArrivesOnce
// points the real webhook notifier at a receiver that first answers 500,
// then hangs, then recovers. While it fails or hangs, pipeline events are
// still applied; once it recovers, every notification arrives, each exactly
// once, and the resolved alert completes.
func TestAlertsMoveOnWhileTheReceiverFailsOrHangsAndEveryNotificationArrivesOnce(t *testing.T) {
	t.Parallel() // own task queue and project ids
	requireServer(t)
	const secret = "reliability-secret"
	rc, receiver := newScriptedReceiver(t, secret)
	rc.setMode(modeFail)
	s := newStackWith(t, webhook.New(receiver.URL+rc.path, secret, notify.DefaultHTTPClient()))
	const id = "150-main"

	// Phase 1: every delivery answered 500.
	opened := s.mustSignal(payload(t, 150, "main", 1, alert.PipelineSkipped))
	s.waitState(id, severityIs(alert.SeverityLow))
	rc.waitReceiver(t, "a 500", func(failed, _ int, _ []contract.Payload) bool { return failed > 0 })
	s.mustSignal(payload(t, 150, "main", 2, alert.PipelineCanceled))
	s.waitState(id, severityIs(alert.SeverityMedium))
	// A second 500: the opened notification's retry.
	rc.waitReceiver(t, "a second 500", func(failed, _ int, _ []contract.Payload) bool { return failed > 1 })

	// Phase 2: every delivery hangs.
	rc.setMode(modeHang)
	s.mustSignal(payload(t, 150, "main", 3, alert.PipelineFailed))
	rc.waitReceiver(t, "a hanging request", func(_, hung int, _ []contract.Payload) bool { return hung > 0 })
	s.waitState(id, severityIs(alert.SeverityHigh))
	// A cancel after the failure carries no verdict and notifies nobody.
	s.mustSignal(payload(t, 150, "main", 4, alert.PipelineCanceled))
	s.waitState(id, func(st *alert.State) error {
		if st.Counts.Events != 4 || st.Severity != alert.SeverityHigh {
			return fmt.Errorf("events %d severity %s", st.Counts.Events, st.Severity)
		}
		return nil
	})
	if _, _, _, accepted, _, _ := rc.snapshot(); len(accepted) != 0 {
		t.Fatalf("the receiver accepted %v while failing", accepted)
	}

	// Phase 3: the receiver recovers; the hung requests get a 503.
	rc.setMode(modeAccept)
	rc.releaseAll()
	s.mustSignal(payload(t, 150, "main", 5, alert.PipelineSuccess))
	waitRunStatus(t, s.client, id, opened.RunID, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	var final alert.State
	if err := s.client.GetWorkflow(context.Background(), id, opened.RunID).Get(context.Background(), &final); err != nil {
		t.Fatal(err)
	}
	if final.Status != alert.StatusResolved || final.Counts.Events != 5 {
		t.Fatalf("completed %s with %+v, want resolved after 5 events", final.Status, final.Counts)
	}

	// The run completes only once its notifications are delivered, so
	// they all are by now: each exactly once, in order.
	failed, hung, attempts, accepted, payloads, refused := rc.snapshot()
	t.Logf("receiver: %d answered 500, %d hung, attempts per notification %v", failed, hung, attempts)
	if len(refused) > 0 {
		t.Fatalf("the receiver refused %q", refused)
	}
	type transition struct {
		kind     contract.Kind
		from, to string
	}
	var got []transition
	for _, p := range payloads {
		got = append(got, transition{p.Kind, p.PreviousSeverity, p.Alert.Severity})
	}
	want := []transition{
		{contract.KindOpened, "", "LOW"},
		{contract.KindSeverityChanged, "LOW", "MEDIUM"},
		{contract.KindSeverityChanged, "MEDIUM", "HIGH"},
		{contract.KindResolved, "", "HIGH"},
	}
	// In the order they happened: each waits for the one before to reach
	// the receiver.
	if !slices.Equal(got, want) {
		t.Errorf("accepted %v, want %v", got, want)
	}
	for id, n := range attempts {
		if accepted[id] != 1 {
			t.Errorf("notification %s: %d attempts, accepted %d times, want once", id, n, accepted[id])
		}
	}
	if len(accepted) != len(want) {
		t.Errorf("%d notifications accepted, want %d", len(accepted), len(want))
	}
}

// TestAFailureWhileTheResolvedNotificationIsSentOpensAFreshAlertUnderTheSameID
// holds the resolved notification at the receiver, so the resolved run
// cannot complete, and sends a newer failed pipeline meanwhile: it is
// signaled into the resolved run, which must continue as new into a fresh
// alert with it rather than drop it.
func TestAFailureWhileTheResolvedNotificationIsSentOpensAFreshAlertUnderTheSameID(t *testing.T) {
	t.Parallel() // own task queue and project ids
	requireServer(t)
	const id = "155-main"
	ctx := context.Background()
	s, rc, first := holdResolvedNotification(t, 155, 10, 11)
	// The run is resolved but cannot complete while its notification is
	// held, so the failure is signaled into it.
	late := s.mustSignal(payload(t, 155, "main", 12, alert.PipelineFailed))
	if late.RunID != first.RunID {
		t.Fatalf("the failure went to run %s, want the resolved run %s", late.RunID, first.RunID)
	}
	rc.releaseAll()

	waitRunStatus(t, s.client, id, first.RunID, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW)
	next, err := continuedAs(ctx, s.client, id, first.RunID)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.client.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.GetWorkflowExecutionInfo(); got.GetExecution().GetRunId() != next || got.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("current run %s is %s, want %s running", got.GetExecution().GetRunId(), got.GetStatus(), next)
	}
	st := s.waitState(id, severityIs(alert.SeverityHigh))
	if pipelineOf(st) != "#12 failed" || st.Counts.Events != 1 || st.PeakSeverity != alert.SeverityHigh || len(st.Timeline) != 1 || st.Timeline[0].Kind != alert.OutcomeOpened {
		t.Fatalf("the fresh alert: pipeline %s, counts %+v, timeline %+v", pipelineOf(st), st.Counts, st.Timeline)
	}
	old, err := runState(ctx, s.client, id, first.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if old.Status != alert.StatusResolved || pipelineOf(old) != "#11 success" || !slices.ContainsFunc(old.Timeline, func(e alert.Entry) bool {
		return e.Kind == alert.OutcomeReopen && e.PipelineID == 12
	}) {
		t.Fatalf("the first run: %s by %s, timeline %+v", old.Status, pipelineOf(old), old.Timeline)
	}

	rc.waitReceiver(t, "the resolved and the new opened", func(_, _ int, ps []contract.Payload) bool {
		return slices.ContainsFunc(ps, func(p contract.Payload) bool { return p.Kind == contract.KindResolved && pipelineIDOf(p) == 11 }) &&
			slices.ContainsFunc(ps, func(p contract.Payload) bool {
				return p.Kind == contract.KindOpened && p.Alert.ID == id && pipelineIDOf(p) == 12 && p.Alert.Status == "open"
			})
	})
	_, _, _, _, payloads, _ := rc.snapshot()
	if payloads[0].Kind != contract.KindOpened || slices.ContainsFunc(payloads[1:], func(p contract.Payload) bool { return p.ID == payloads[0].ID }) {
		t.Fatalf("the two alerts' opened notifications share an id: %s", kindsOf(payloads))
	}
}
