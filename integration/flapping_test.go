package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/webhook"
	"github.com/alertflow/alertflow/workflows"
)

// flapTestWindow stands in for the hour of ALERTFLOW_FLAP_WINDOW: long
// enough for the first three flips to land within it on a loaded machine,
// short enough to wait for the branch to be stable.
const flapTestWindow = 40 * time.Second

// TestABranchFlippingFiveTimesSendsOneFlappingAndOneStable drives a branch
// red and green five times (pipelines that finished over ten minutes)
// through the real intake, with the worker stopped and a new one started
// between the second and third flip, and checks that people hear the first
// three alerts open and resolve, then one flapping and one stable.
func TestABranchFlippingFiveTimesSendsOneFlappingAndOneStable(t *testing.T) {
	t.Parallel() // own task queue and project ids
	requireServer(t)
	rc, receiver := newScriptedReceiver(t, "flapping-secret")
	in := workflows.Input{Rules: alert.Rules{FlapThreshold: alert.DefaultFlapThreshold, FlapWindow: flapTestWindow}}
	s := newStackConfig(t, webhook.New(receiver.URL+rc.path, rc.secret, notify.DefaultHTTPClient()), in)
	g := &gitlab{t: t, s: s, project: 1515}
	const ref = "main"
	id := alert.ID(g.project, ref)

	began := time.Now()
	red := func(i int) {
		g.pipeline(delivery{ref: ref, id: int64(1000 + 2*i), status: "failed", finished: at(2 * i)})
	}
	green := func(i int) {
		g.pipeline(delivery{ref: ref, id: int64(1001 + 2*i), status: "success", finished: at(2*i + 1)})
	}
	// The first three alerts each open and resolve, and their runs
	// complete: the next one recalls the memory from the last one's end.
	for i := range 3 {
		if i == 2 {
			// A new worker replays nothing of the memory: it is in the
			// completed runs' histories, where the recall reads it.
			s.stopWorker()
			red(i)
			s.startWorker()
		} else {
			red(i)
		}
		s.waitState(id, isOpen)
		green(i)
		g.waitCompleted(id)
	}
	// The fourth failure opens the flapping alert; the flips after it
	// page nobody.
	red(3)
	s.waitState(id, func(st *alert.State) error {
		if st.FlappedAt.IsZero() {
			return fmt.Errorf("%s, not flapping (memory %v)", st.Status, st.Memory.Resolves)
		}
		return nil
	})
	took := time.Since(began)
	if took >= flapTestWindow {
		t.Fatalf("the first flips took %s, longer than the flapping window %s: the machine is too slow for this test", took, flapTestWindow)
	}
	t.Logf("three alerts, a worker restart and the flapping one took %s", took.Round(time.Millisecond))
	green(3)
	red(4)
	green(4)
	st := s.waitState(id, func(st *alert.State) error {
		if st.GreenSince.IsZero() || st.Flips != 3 {
			return fmt.Errorf("%s, green since %v, %d flips", st.Status, st.GreenSince, st.Flips)
		}
		return nil
	})
	if st.Status != alert.StatusOpen {
		t.Fatalf("the flapping alert is %s while green, want open until stable", st.Status)
	}

	// Stable once green for the window: the run resolves and completes.
	final := waitStable(t, s, id)
	if final.ResolvedBy != alert.ResolvedByAlertflow || final.ResolvedAt.Sub(final.GreenSince) < flapTestWindow {
		t.Fatalf("resolved by %s at %v, green since %v: want stable a window after the last success", final.ResolvedBy, final.ResolvedAt, final.GreenSince)
	}
	want := []string{
		"opened HIGH", "resolved HIGH",
		"opened HIGH", "resolved HIGH",
		"opened HIGH", "resolved HIGH",
		"flapping HIGH", "stable HIGH",
	}
	if got := notified(rc, id); !slices.Equal(got, want) {
		t.Fatalf("people heard %v, want %v", got, want)
	}
	var flips []alert.Outcome
	for _, e := range final.Timeline {
		if e.Kind == alert.OutcomeFlipped {
			flips = append(flips, e.Kind)
		}
	}
	if len(flips) != 3 {
		t.Fatalf("the timeline records %d flips, want 3: %+v", len(flips), final.Timeline)
	}
	recordHistory(t, "flapping-then-stable", id)
}

// waitStable waits, for a little more than the flapping window, until the
// alert's run has completed, and returns its result.
func waitStable(t *testing.T, s *stack, id string) *alert.State {
	t.Helper()
	var st alert.State
	err := poll(context.Background(), flapTestWindow+30*time.Second, func() error {
		d, err := s.client.DescribeWorkflowExecution(context.Background(), id, "")
		if err != nil {
			return err
		}
		if status := d.GetWorkflowExecutionInfo().GetStatus(); status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			return fmt.Errorf("run is %s", status)
		}
		if err := s.client.GetWorkflow(context.Background(), id, "").Get(context.Background(), &st); err != nil {
			return err
		}
		if st.Status != alert.StatusResolved || st.Timeline[len(st.Timeline)-1].Kind != alert.OutcomeStable {
			return errors.New("completed, but not stable")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s never became stable: %v", id, err)
	}
	return &st
}
