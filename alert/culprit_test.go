package alert

import (
	"strings"
	"testing"
	"time"
)

var insightRules = Rules{Version: RulesInsight, Hold: testHold}

// commit gives e the sha, commit title and author of a change.
func commit(e Event, sha, title, author string) Event {
	e.Pipeline.SHA, e.Commit.Title, e.Commit.Author = sha, title, author
	e.Project.URL = "https://gitlab.example.com/gitlab-org/gitlab-test"
	return e
}

func failedWith(e Event, class FailureClass, jobs ...Job) Event {
	e.Pipeline.FailedJobs, e.Pipeline.FailureClass = jobs, class
	return e
}

func TestAnAlertNamesTheCulpritAgainstTheLastGreenAndHowItRecovered(t *testing.T) {
	// A success with no alert open reached only the intake, which hands
	// it to the failure that opens the next alert.
	green := commit(ev(1, "success"), "aaaaaaaa11", "Green", "Ann")
	broke := commit(failedWith(ev(2, "failed"), ClassCode, Job{Name: "test", FailureReason: "script_failure"}), "bbbbbbbb22", "Break it", "Xavier")
	broke.LastGreen = GreenOf(green)
	broke.User = "Xena"
	again := commit(failedWith(ev(3, "failed"), ClassCode, Job{Name: "test"}), "cccccccc33", "Try again", "Xavier")
	fixed := commit(ev(4, "success"), "dddddddd44", "Fix it", "Dana")

	s := NewWith(Limits{}, insightRules, Memory{})
	for i, e := range []Event{broke, again, fixed} {
		s.Apply(e, t0.Add(time.Duration(i)*time.Hour))
	}
	c := s.Culprit
	if c == nil || c.PipelineID != 2 || c.SHA != "bbbbbbbb22" || c.CommitAuthor != "Xavier" || c.User != "Xena" || c.CommitTitle != "Break it" {
		t.Fatalf("culprit %+v: want pipeline #2, sha B, by Xavier, run by Xena", c)
	}
	if s.LastGreen == nil || s.LastGreen.SHA != "aaaaaaaa11" {
		t.Fatalf("last green %+v, want pipeline #1 (sha A)", s.LastGreen)
	}
	if got, want := s.CompareURL(), "https://gitlab.example.com/gitlab-org/gitlab-test/-/compare/aaaaaaaa11...bbbbbbbb22"; got != want {
		t.Errorf("compare %q, want %q", got, want)
	}
	r := s.Recovery()
	if r == nil || r.RedFor != 2*time.Hour || r.FailedPipelines != 2 || r.Fix == nil || r.Fix.SHA != "dddddddd44" || r.Fix.CommitAuthor != "Dana" || r.Flaky {
		t.Fatalf("recovery %+v: want 2h red, 2 failed pipelines, fixed by D", r)
	}
	if line := s.RecoveryLine(); !strings.Contains(line, "red for 2h0m, 2 failed pipelines, fixed by pipeline #4: commit dddddddd") {
		t.Errorf("recovery line %q", line)
	}
	if s.Memory.Green == nil || s.Memory.Green.PipelineID != 4 {
		t.Errorf("the ID remembers green %+v, want the fix, #4, for the next alert", s.Memory.Green)
	}

	// The next alert on the ID finds its last green in that memory.
	next := NewWith(Limits{}, insightRules, s.Memory)
	next.Apply(commit(ev(5, "failed"), "eeeeeeee55", "Again", "Eve"), t0.Add(5*time.Hour))
	if next.LastGreen == nil || next.LastGreen.PipelineID != 4 || next.FailedPipelines != 1 {
		t.Errorf("next alert: last green %+v, %d failed pipelines; want #4 and 1", next.LastGreen, next.FailedPipelines)
	}
}

func TestAnAlertWithoutAKnownGreenSaysSo(t *testing.T) {
	s := NewWith(Limits{}, insightRules, Memory{})
	s.Apply(commit(ev(7, "failed"), "bbbb", "Break", "X"), t0)
	if s.LastGreen != nil || s.CompareURL() != "" || !strings.Contains(s.CulpritLine(), "last green pipeline unknown") {
		t.Fatalf("last green %+v, compare %q, line %q", s.LastGreen, s.CompareURL(), s.CulpritLine())
	}
}

func TestAGreenNewerThanTheCulpritIsNotItsLastGreen(t *testing.T) {
	broke := commit(ev(7, "failed"), "bbbb", "Break", "X")
	broke.LastGreen = &Green{PipelineID: 9, SHA: "later"} // delivered out of order
	s := NewWith(Limits{}, insightRules, Memory{Green: &Green{PipelineID: 5, SHA: "older"}})
	s.Apply(broke, t0)
	if s.LastGreen == nil || s.LastGreen.PipelineID != 5 {
		t.Fatalf("last green %+v, want #5: #9 came after the culprit", s.LastGreen)
	}
}

func TestTheFirstFailureIsTheCulpritEvenAfterACancelOpenedTheAlert(t *testing.T) {
	s := NewWith(Limits{}, Rules{Version: RulesInsight}, Memory{})
	s.Apply(commit(ev(3, "canceled"), "cccc", "Cancelled", "C"), t0)
	if s.Culprit == nil || s.Culprit.PipelineID != 3 || s.FailureClass != "" {
		t.Fatalf("after the cancel: culprit %+v, class %q", s.Culprit, s.FailureClass)
	}
	s.Apply(commit(failedWith(ev(4, "failed"), ClassInfra, Job{Name: "build", FailureReason: "runner_system_failure"}), "dddd", "Build", "D"), t0.Add(time.Minute))
	s.Apply(commit(failedWith(ev(5, "failed"), ClassCode, Job{Name: "test"}), "eeee", "Test", "E"), t0.Add(2*time.Minute))
	if s.Culprit.PipelineID != 4 || s.FailureClass != ClassCode || s.FailedPipelines != 2 {
		t.Fatalf("culprit #%d, class %q, %d failed: want the first failure #4, the newest class code, 2 failed",
			s.Culprit.PipelineID, s.FailureClass, s.FailedPipelines)
	}
}

func TestAFailureReadFromTheAPIKeepsTheClassItCannotTell(t *testing.T) {
	s := NewWith(Limits{}, insightRules, Memory{})
	s.Apply(failedWith(ev(4, "failed"), ClassInfra, Job{Name: "build", FailureReason: "runner_system_failure"}), t0)
	s.Apply(ev(5, "failed"), t0.Add(time.Minute)) // no jobs, no class: as reconciliation reads it
	if s.FailureClass != ClassInfra {
		t.Fatalf("class %q, want infra kept", s.FailureClass)
	}
}

func TestAPipelineWhoseFailuresPassedOnRetryIsFlakyNotBroken(t *testing.T) {
	s := NewWith(Limits{}, insightRules, Memory{})
	failed := failedWith(ev(8, "failed"), ClassCode,
		Job{Name: "rspec 3/4", Stage: "test", FailureReason: "script_failure"},
		Job{Name: "lint", Stage: "test", FailureReason: "script_failure", AllowFailure: true})
	s.Apply(failed, t0)
	retry := withFinished(ev(8, "success"), t0.Add(time.Hour))
	retry.Pipeline.FailedJobs = []Job{{Name: "lint", Stage: "test", AllowFailure: true}} // still failing, allowed to
	if out := s.Apply(retry, t0.Add(time.Hour)); out != OutcomeResolved {
		t.Fatalf("the retry's success: %s", out)
	}
	if !s.Flaky || len(s.FlakyJobs) != 1 || s.FlakyJobs[0].Name != "rspec 3/4" || s.FlakyJobs[0].PipelineID != 8 {
		t.Fatalf("flaky %v, jobs %+v: want rspec 3/4 of #8 flaky", s.Flaky, s.FlakyJobs)
	}
	if s.Resolution != "pipeline #8 succeeded" || !s.Recovery().Flaky || !strings.Contains(s.RecoveryLine(), "flaky, not broken") {
		t.Errorf("resolution %q, recovery %+v, %q", s.Resolution, s.Recovery(), s.RecoveryLine())
	}
}

func TestANewerPipelinesSuccessIsAFixNotAFlake(t *testing.T) {
	s := NewWith(Limits{}, insightRules, Memory{})
	s.Apply(failedWith(ev(8, "failed"), ClassCode, Job{Name: "test"}), t0)
	s.Apply(ev(9, "success"), t0.Add(time.Hour))
	if s.Flaky || len(s.FlakyJobs) != 0 || s.Resolution != "pipeline #9 succeeded" {
		t.Fatalf("flaky %v %+v, resolution %q", s.Flaky, s.FlakyJobs, s.Resolution)
	}
}

func TestARetryThatPassedAfterAnotherPipelineFailedIsFlakyButTheBranchWasBroken(t *testing.T) {
	s := NewWith(Limits{}, insightRules, Memory{})
	s.Apply(failedWith(ev(8, "failed"), ClassCode, Job{Name: "a"}), t0)
	s.Apply(failedWith(ev(9, "failed"), ClassCode, Job{Name: "b"}), t0.Add(time.Minute))
	s.Apply(withFinished(ev(9, "success"), t0.Add(time.Hour)), t0.Add(time.Hour))
	if s.Status != StatusResolved || len(s.FlakyJobs) != 1 || s.FlakyJobs[0].Name != "b" || s.Flaky {
		t.Fatalf("%s, flaky jobs %+v, flaky %v: want b flaky but the alert not (two pipelines failed)", s.Status, s.FlakyJobs, s.Flaky)
	}
}

func TestRulesBeforeInsightKeepNoneOfIt(t *testing.T) {
	s := NewWith(Limits{}, finishedRules, Memory{})
	broke := commit(failedWith(ev(2, "failed"), ClassCode, Job{Name: "t"}), "bb", "B", "X")
	broke.LastGreen = &Green{PipelineID: 1, SHA: "aa"}
	s.Apply(broke, t0)
	s.Apply(withFinished(ev(2, "success"), t0.Add(time.Hour)), t0.Add(time.Hour))
	if s.Culprit != nil || s.LastGreen != nil || s.FailureClass != "" || s.FailedPipelines != 0 || s.FlakyJobs != nil ||
		s.Flaky || s.Memory.Green != nil || s.Recovery() != nil || s.Resolution != "pipeline #2 succeeded" {
		t.Fatalf("an alert under RulesFinished kept %+v", s)
	}
}

func TestFlakyJobsStayWithinTheirBound(t *testing.T) {
	s := NewWith(Limits{}, Rules{Version: RulesInsight, FlapThreshold: 0}, Memory{})
	s.Apply(failedWith(ev(1, "failed"), ClassCode, Job{Name: "first"}), t0)
	for i := int64(2); i < 200; i++ {
		jobs := []Job{{Name: "j"}}
		s.Apply(failedWith(withFinished(ev(i, "failed"), t0.Add(time.Duration(i)*time.Hour)), ClassCode, jobs...), t0.Add(time.Duration(i)*time.Hour))
		s.noteFlaky(withFinished(ev(i, "success"), t0.Add(time.Duration(i)*time.Hour+time.Minute)), t0)
	}
	if len(s.FlakyJobs) != MaxFlakyJobs || s.FlakyJobs[len(s.FlakyJobs)-1].PipelineID != 199 {
		t.Fatalf("%d flaky jobs kept, last #%d: want the newest %d", len(s.FlakyJobs), s.FlakyJobs[len(s.FlakyJobs)-1].PipelineID, MaxFlakyJobs)
	}
}

func TestACulpritOnTheCommitThatWasGreenBlamesNoChange(t *testing.T) {
	s := NewWith(Limits{}, insightRules, Memory{Green: &Green{PipelineID: 5, SHA: "same"}})
	s.Apply(commit(ev(6, "failed"), "same", "Same", "S"), t0)
	if s.CompareURL() != "" || !strings.Contains(s.CulpritLine(), "the same commit passed in green #5") {
		t.Fatalf("compare %q, line %q", s.CompareURL(), s.CulpritLine())
	}
}
