package workflows

import (
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alert/alertmodel"
	"github.com/alertflow/alertflow/notify"
)

// The end-to-end model predicts alerts under the rules the intake starts
// them with: a new rules version must reach it too.
func TestTheModelOfABranchRunsTheCurrentRevisionsRules(t *testing.T) {
	if got := CurrentRevision.Rules(); got != alertmodel.NewestRules {
		t.Fatalf("CurrentRevision runs rules version %d, alertmodel.Branch models %d", got, alertmodel.NewestRules)
	}
}

// Workflow tests of RevisionFinished: fresh alerts apply alert.RulesFinished,
// under which only the newest finished pipeline on the ref resolves; alerts
// of earlier revisions keep alert.RulesGitLab, continued runs included.

// retriedAt is pipeline id run again and finished with status, later than
// anything pipelineEvent makes for the ids these tests use.
func retriedAt(id int64, status string) alert.Event {
	ev := pipelineEvent(id, status)
	ev.Pipeline.FinishedAt = t0.Add(5 * time.Hour)
	return ev
}

func TestRevisionsStartAlertsUnderTheirRules(t *testing.T) {
	for rev, want := range map[Revision]alert.RulesVersion{
		RevisionFirst: alert.RulesFirst, RevisionLean: alert.RulesFirst,
		RevisionGitLab: alert.RulesGitLab, RevisionRouted: alert.RulesGitLab, RevisionSilenced: alert.RulesGitLab,
		RevisionFlapping: alert.RulesGitLab, RevisionFinished: alert.RulesFinished, RevisionReconciled: alert.RulesFinished,
		RevisionInsight: alert.RulesInsight,
	} {
		if got := rev.Rules(); got != want {
			t.Errorf("revision %d starts alerts under rules %d, want %d", rev, got, want)
		}
	}
	if CurrentRevision.Rules() != alert.RulesInsight {
		t.Errorf("the intake starts alerts under rules %d, want RulesInsight", CurrentRevision.Rules())
	}
}

func TestARetriedOlderPipelineThatPassesAfterANewerCancelResolvesOnlyBeforeRevisionFinished(t *testing.T) {
	t.Run("RevisionFinished: stale, the alert stays open until the next pipeline passes", func(t *testing.T) {
		e := newAlertEnv(t)
		e.signalAt(time.Second, pipelineEvent(31, "failed"))
		e.signalAt(time.Minute, pipelineEvent(32, "canceled"))
		e.signalAt(2*time.Minute, retriedAt(31, "success"))
		checked := false
		e.stateAt(t, time.Hour, func(s *alert.State) {
			checked = true
			if s.Rules.Version < alert.RulesFinished || s.Status != alert.StatusOpen || s.Severity != alert.SeverityHigh ||
				s.Counts.Stale != 1 || s.Memory.Finished != 32 {
				t.Errorf("rules %d, %s %s, counts %+v, memory %+v; want RulesFinished or later, open HIGH, one stale, newest finished #32",
					s.Rules.Version, s.Status, s.Severity, s.Counts, s.Memory)
			}
			if last := s.Timeline[len(s.Timeline)-1]; last.Kind != alert.OutcomeStale || last.Note != "older than pipeline #32, the newest finished" {
				t.Errorf("the retry's timeline entry is %+v", last)
			}
		})
		e.signalAt(2*time.Hour, pipelineEvent(33, "success"))
		e.ExecuteWorkflow(AlertWorkflow, gitlabInput())
		s := e.result(t)
		if !checked || s.Status != alert.StatusResolved || s.Resolution != "pipeline #33 succeeded" {
			t.Fatalf("ended %s: %q (checked while open: %v)", s.Status, s.Resolution, checked)
		}
		if got := e.kinds(); !equalKinds(got, []notify.Kind{notify.KindOpened, notify.KindResolved}) {
			t.Fatalf("notifications %v", got)
		}
	})
	t.Run("RevisionFlapping: the retry's success resolves, as recorded alerts did", func(t *testing.T) {
		e := newAlertEnv(t)
		e.signalAt(time.Second, pipelineEvent(31, "failed"))
		e.signalAt(time.Minute, pipelineEvent(32, "canceled"))
		e.signalAt(2*time.Minute, retriedAt(31, "success"))
		in := gitlabInput()
		in.Revision = RevisionFlapping
		e.ExecuteWorkflow(AlertWorkflow, in)
		s := e.result(t)
		if s.Rules.Version != alert.RulesGitLab || s.Resolution != "pipeline #31 succeeded" || s.Memory.Finished != 0 {
			t.Fatalf("rules %d, resolved %q, memory %+v; want RulesGitLab resolved by #31 and no newest finished", s.Rules.Version, s.Resolution, s.Memory)
		}
	})
}

func TestAFreshAlertRecallsTheNewestFinishedPipeline(t *testing.T) {
	// The last alert ended with #31 resolved by hand after #32 was canceled.
	end := alert.Mark{Family: 31, ID: 31, FinishedAt: pipelineEvent(31, "failed").Pipeline.FinishedAt}
	e := newAlertEnvWithRecall(t, &alert.Memory{Verdict: end, Closed: end, Newest: 32, Finished: 32})
	e.signalAt(time.Second, retriedAt(31, "failed"))
	e.ExecuteWorkflow(AlertWorkflow, gitlabInput())
	s := e.result(t)
	if s.Status != alert.StatusNone || s.Counts.Stale != 1 || len(e.kinds()) != 0 || s.Memory.Finished != 32 {
		t.Fatalf("status %q counts %+v memory %+v notifications %v; want a stale retry and nothing opened", s.Status, s.Counts, s.Memory, e.kinds())
	}
}

func TestContinueAsNewKeepsEachAlertsRulesAndTheNewestFinishedPipeline(t *testing.T) {
	tests := []struct {
		name     string
		revision Revision
		rules    alert.RulesVersion
		finished int64
		// resolved says whether the retry of #31 resolves the continued alert.
		resolved bool
	}{
		{"an alert of RevisionFlapping keeps RulesGitLab", RevisionFlapping, alert.RulesGitLab, 0, true},
		{"an alert of RevisionFinished keeps RulesFinished", RevisionFinished, alert.RulesFinished, 32, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAlertEnv(t)
			e.signalAt(time.Second, pipelineEvent(31, "failed"))
			e.signalAt(time.Minute, pipelineEvent(32, "canceled"))
			e.RegisterDelayedCallback(func() { e.SetCurrentHistoryLength(DefaultMaxHistory) }, 2*time.Minute)
			e.signalAt(3*time.Minute, pipelineEvent(32, "canceled")) // a resend, which checks the history length
			in := gitlabInput()
			in.Revision = tt.revision
			e.ExecuteWorkflow(AlertWorkflow, in)
			next := continued(t, e)
			if next.Revision != CurrentRevision || next.State == nil || next.State.Rules.Version != tt.rules || next.State.Memory.Finished != tt.finished {
				t.Fatalf("continued at revision %d with state %+v; want revision %d, rules %d, newest finished %d",
					next.Revision, next.State, CurrentRevision, tt.rules, tt.finished)
			}
			e2 := newAlertEnv(t)
			e2.signalAt(time.Second, retriedAt(31, "success"))
			e2.ExecuteWorkflow(AlertWorkflow, *next)
			if tt.resolved {
				if s := e2.result(t); s.Resolution != "pipeline #31 succeeded" {
					t.Fatalf("resolved %q, want by the retry of #31", s.Resolution)
				}
				return
			}
			e2.stillOpen(t)
		})
	}
}
