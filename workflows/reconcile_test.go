package workflows

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
)

// gitLabSays answers every reconcile with what answer returns, and counts
// the calls.
func (e *alertEnv) gitLabSays(answer func(n int) (alert.Reconciled, error)) *atomic.Int32 {
	var calls atomic.Int32
	e.OnActivity(activities.ActivityReconcile, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req activities.ReconcileRequest) (alert.Reconciled, error) {
			return answer(int(calls.Add(1)))
		})
	return &calls
}

func reconciledInput(every time.Duration) Input {
	return Input{Revision: CurrentRevision, Reconcile: &Reconcile{Every: every}, ReminderInterval: 4 * time.Hour}
}

func TestReconcileOneIntervalAfterTheOpenResolvesByTheSuccessGitLabNeverDelivered(t *testing.T) {
	e := newAlertEnv(t)
	green := pipelineEvent(32, "success")
	green.Project = alert.Project{ID: 1}
	calls := e.gitLabSays(func(int) (alert.Reconciled, error) { return alert.Reconciled{Newest: &green}, nil })
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.ExecuteWorkflow(AlertWorkflow, reconciledInput(30*time.Minute))
	st := e.result(t)
	if st.Status != alert.StatusResolved || st.Resolution != "pipeline #32 succeeded" {
		t.Fatalf("status %s (%s), want resolved by #32", st.Status, st.Resolution)
	}
	if at := st.ResolvedAt.Sub(st.OpenedAt); at < 30*time.Minute || at > 31*time.Minute {
		t.Errorf("resolved %s after the open, want at the first check, 30m", at)
	}
	last := st.Timeline[len(st.Timeline)-1]
	if last.Via != alert.ViaReconciled || st.Project.Path != "gitlab-org/gitlab-test" {
		t.Errorf("last entry %+v, project %+v", last, st.Project)
	}
	if calls.Load() != 1 {
		t.Errorf("%d checks, want 1", calls.Load())
	}
	if got := e.kinds(); len(got) != 2 || got[1] != notify.KindResolved {
		t.Errorf("notifications %v, want opened then resolved", got)
	}
}

func TestReconcileRepeatsWhileGitLabSaysNothingNewAndLeavesNoEntries(t *testing.T) {
	e := newAlertEnv(t)
	red := pipelineEvent(31, "failed")
	calls := e.gitLabSays(func(n int) (alert.Reconciled, error) { return alert.Reconciled{Newest: &red}, nil })
	e.signalAt(time.Second, red)
	var entries, checks int
	e.stateAt(t, 3*time.Hour+time.Minute, func(s *alert.State) { entries, checks = len(s.Timeline), int(calls.Load()) })
	e.SetTestTimeout(time.Minute)
	e.SetWorkflowRunTimeout(3*time.Hour + 2*time.Minute)
	e.ExecuteWorkflow(AlertWorkflow, reconciledInput(30*time.Minute))
	if checks != 6 {
		t.Errorf("%d checks in 3h at 30m, want 6", checks)
	}
	if entries != 1 {
		t.Errorf("%d timeline entries, want the opening alone: a check that finds what was delivered records nothing", entries)
	}
}

func TestReconcileThatGitLabRefusesIsRecordedAndTheAlertStaysOpen(t *testing.T) {
	e := newAlertEnv(t)
	e.gitLabSays(func(int) (alert.Reconciled, error) {
		return alert.Reconciled{}, temporal.NewNonRetryableApplicationError("list pipelines of project 1 on master: 403 Forbidden", activities.ErrTypeGitLabAPI, nil)
	})
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	var st alert.State
	e.stateAt(t, 40*time.Minute, func(s *alert.State) { st = *s })
	e.SetWorkflowRunTimeout(time.Hour)
	e.ExecuteWorkflow(AlertWorkflow, reconciledInput(30*time.Minute))
	if st.Status != alert.StatusOpen {
		t.Fatalf("status %s, want open", st.Status)
	}
	last := st.Timeline[len(st.Timeline)-1]
	if last.Kind != alert.OutcomeReconcileFailed || last.Note != "GitLab's API: list pipelines of project 1 on master: 403 Forbidden" {
		t.Errorf("last entry %+v", last)
	}
}

func TestReconcileOnDemandAnswersWithTheAlertGitLabResolved(t *testing.T) {
	e := newAlertEnv(t)
	e.gitLabSays(func(int) (alert.Reconciled, error) { return alert.Reconciled{Gone: true}, nil })
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	res := e.updateAt(time.Minute, UpdateReconcile, alert.ReconcileRequest{By: "dana"})
	// Off on a schedule: only asked for.
	e.ExecuteWorkflow(AlertWorkflow, reconciledInput(0))
	st := e.result(t)
	if res.rejected != nil || res.state == nil || res.state.Status != alert.StatusResolved {
		t.Fatalf("update answered %+v, rejected %v", res.state, res.rejected)
	}
	if st.ResolvedBy != alert.ResolvedByGitLab || st.Resolution != "branch deleted" {
		t.Errorf("resolved by %q: %q", st.ResolvedBy, st.Resolution)
	}
}

func TestReconcileOnDemandIsRefusedWithoutAnAPI(t *testing.T) {
	e := newAlertEnv(t)
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	res := e.updateAt(time.Minute, UpdateReconcile, alert.ReconcileRequest{By: "dana"})
	e.SetWorkflowRunTimeout(time.Hour)
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	var appErr *temporal.ApplicationError
	if !errors.As(res.rejected, &appErr) || appErr.Type() != ErrTypeNotReconciled {
		t.Fatalf("refusal %v, want %s", res.rejected, ErrTypeNotReconciled)
	}
}
