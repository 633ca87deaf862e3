package alert

import (
	"strings"
	"testing"
	"time"
)

// fromAPI is a pipeline as GitLab's API describes it: no project path, and
// a finished_at to the millisecond.
func fromAPI(id int64, status string) *Event {
	e := ev(id, status)
	e.Project = Project{ID: 1}
	e.Pipeline.FinishedAt = e.Pipeline.FinishedAt.Add(250 * time.Millisecond)
	e.User = "Alice"
	return &e
}

func openedAlert(t *testing.T) *State {
	t.Helper()
	s := NewWith(DefaultLimits(), finishedRules, Memory{})
	if out := s.Apply(ev(31, "failed"), t0); out != OutcomeOpened {
		t.Fatalf("opening delivery: %s", out)
	}
	return s
}

func TestReconcileResolvesWhenTheDroppedSuccessIsTheNewestFinished(t *testing.T) {
	s := openedAlert(t)
	at := t0.Add(30 * time.Minute)
	if out := s.Reconcile(Reconciled{Newest: fromAPI(32, "success")}, ResolvedByAlertflow, at); out != OutcomeResolved {
		t.Fatalf("outcome = %s, want resolved", out)
	}
	last := s.Timeline[len(s.Timeline)-1]
	if last.Via != ViaReconciled || !strings.Contains(last.Note, "GitLab's API: pipeline #32 success") {
		t.Errorf("timeline entry = %+v, want it marked reconciled", last)
	}
	if s.Project.Path != "gitlab-org/gitlab-test" {
		t.Errorf("project path = %q: the API's pipeline must not wipe what deliveries said", s.Project.Path)
	}
	if !s.LastReconciledAt.Equal(at) || s.Counts.Events != 2 {
		t.Errorf("last reconciled %v, events %d", s.LastReconciledAt, s.Counts.Events)
	}
}

func TestReconcileOfWhatWasDeliveredLeavesNoEntry(t *testing.T) {
	s := openedAlert(t)
	before := len(s.Timeline)
	// The same state as the delivery: the API's finished_at has
	// milliseconds, the webhook's has none; the content key is the same.
	if out := s.Reconcile(Reconciled{Newest: fromAPI(31, "failed")}, ResolvedByAlertflow, t0.Add(time.Hour)); out != OutcomeDuplicate {
		t.Fatalf("outcome = %s, want duplicate", out)
	}
	if len(s.Timeline) != before || s.Counts.Events != 1 {
		t.Errorf("timeline %d entries (was %d), events %d: a check that finds nothing new must leave nothing", len(s.Timeline), before, s.Counts.Events)
	}
}

func TestReconcileFollowsTheRulesForAnOlderSuccess(t *testing.T) {
	s := openedAlert(t)
	s.Apply(ev(32, "canceled"), t0.Add(time.Minute))
	// A success of #31's retry is older than #32, the newest finished.
	retry := fromAPI(31, "success")
	retry.Pipeline.FinishedAt = t0.Add(time.Hour)
	if out := s.Reconcile(Reconciled{Newest: retry}, "ops", t0.Add(2*time.Hour)); out != OutcomeStale {
		t.Fatalf("outcome = %s, want stale", out)
	}
	if s.Status != StatusOpen {
		t.Errorf("status = %s, want open", s.Status)
	}
}

func TestReconcileOfADeletedBranchResolves(t *testing.T) {
	s := openedAlert(t)
	if out := s.Reconcile(Reconciled{Gone: true}, ResolvedByAlertflow, t0.Add(time.Hour)); out != OutcomeResolved {
		t.Fatalf("outcome = %s, want resolved", out)
	}
	last := s.Timeline[len(s.Timeline)-1]
	if s.ResolvedBy != ResolvedByGitLab || last.Via != ViaReconciled || !strings.Contains(last.Note, "branch does not exist") {
		t.Errorf("resolved by %q, entry %+v", s.ResolvedBy, last)
	}
}

func TestReconcileThatFailedIsRecordedAndChangesNothing(t *testing.T) {
	s := openedAlert(t)
	out := s.Reconcile(Reconciled{Failed: "GitLab answered 503"}, ResolvedByAlertflow, t0.Add(time.Hour))
	if out != OutcomeReconcileFailed || s.Status != StatusOpen || s.Counts.Events != 1 {
		t.Fatalf("outcome %s, status %s, events %d", out, s.Status, s.Counts.Events)
	}
	if last := s.Timeline[len(s.Timeline)-1]; last.Kind != OutcomeReconcileFailed || last.Note != "GitLab answered 503" {
		t.Errorf("entry = %+v", last)
	}
}

func TestReconcileKeepsTheInstanceOfTheAlert(t *testing.T) {
	s := NewWith(DefaultLimits(), finishedRules, Memory{})
	open := ev(31, "failed")
	open.Instance = "b"
	s.Apply(open, t0)
	s.Reconcile(Reconciled{Newest: fromAPI(32, "success")}, ResolvedByAlertflow, t0.Add(time.Hour))
	if s.ID != "b:1-master" || s.Status != StatusResolved {
		t.Errorf("id %q status %s", s.ID, s.Status)
	}
}
