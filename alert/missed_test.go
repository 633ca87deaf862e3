package alert

import (
	"strings"
	"testing"
	"time"
)

func missedRun(due time.Time, sev Severity) Event {
	return Event{
		Project:  Project{ID: 1, Path: "gitlab-org/gitlab-test"},
		Pipeline: Pipeline{Ref: "master"},
		Missed:   &Missed{Monitor: "nightly", Due: due, Severity: sev},
	}
}

func TestMissedRunOpensAnAlertEvenAfterNewerPipelines(t *testing.T) {
	// The ID remembers a green pipeline #40: a missed run is no pipeline,
	// so pipeline order cannot make it stale.
	s := NewWith(DefaultLimits(), finishedRules, Memory{Verdict: Mark{ID: 40, Family: 40}, Closed: Mark{ID: 40, Family: 40}, Newest: 40, Finished: 40})
	if out := s.Apply(missedRun(t0, SeverityHigh), t0.Add(time.Second)); out != OutcomeOpened {
		t.Fatalf("outcome = %s, want opened", out)
	}
	if s.Severity != SeverityHigh || s.Title() != "Scheduled pipeline did not run on gitlab-org/gitlab-test@master" {
		t.Errorf("severity %s, title %q", s.Severity, s.Title())
	}
	if note := s.Timeline[0].Note; !strings.Contains(note, "did not run by 2026-11-25T12:00:00Z (monitor nightly)") {
		t.Errorf("note = %q", note)
	}
	if s.ID != "1-master" {
		t.Errorf("id = %q", s.ID)
	}
}

func TestMissedRunCountsOncePerDeadline(t *testing.T) {
	s := NewWith(DefaultLimits(), finishedRules, Memory{})
	s.Apply(missedRun(t0, SeverityMedium), t0)
	if out := s.Apply(missedRun(t0, SeverityMedium), t0.Add(time.Minute)); out != OutcomeDuplicate {
		t.Errorf("same deadline again: %s, want duplicate", out)
	}
	if out := s.Apply(missedRun(t0.Add(24*time.Hour), SeverityMedium), t0.Add(24*time.Hour)); out != OutcomeUpdated {
		t.Errorf("next deadline: %s, want updated", out)
	}
}

func TestMissedRunResolvesOnTheNextSuccess(t *testing.T) {
	s := NewWith(DefaultLimits(), finishedRules, Memory{Verdict: Mark{ID: 40, Family: 40}, Newest: 40, Finished: 40})
	s.Apply(missedRun(t0, SeverityHigh), t0)
	if out := s.Apply(ev(41, "success"), t0.Add(time.Hour)); out != OutcomeResolved {
		t.Fatalf("success: %s, want resolved", out)
	}
	if s.Missed != nil || !strings.HasPrefix(s.Title(), "Pipeline #41 succeeded") {
		t.Errorf("missed %v, title %q", s.Missed, s.Title())
	}
}

func TestMissedRunRaisesAnOpenAlertButNeverLowersIt(t *testing.T) {
	s := NewWith(DefaultLimits(), finishedRules, Memory{})
	s.Apply(ev(31, "failed"), t0)
	if out := s.Apply(missedRun(t0, SeverityLow), t0.Add(time.Hour)); out != OutcomeUpdated || s.Severity != SeverityHigh {
		t.Errorf("LOW miss on a HIGH alert: %s, severity %s", out, s.Severity)
	}
	s = NewWith(DefaultLimits(), Rules{Version: RulesFinished}, Memory{})
	s.Apply(ev(31, "skipped"), t0)
	if out := s.Apply(missedRun(t0, SeverityHigh), t0.Add(time.Hour)); out != OutcomeSeverityChanged || s.Severity != SeverityHigh {
		t.Errorf("HIGH miss on a LOW alert: %s, severity %s", out, s.Severity)
	}
}

func TestMissedRunAfterTheResolveOpensANewAlert(t *testing.T) {
	s := NewWith(DefaultLimits(), finishedRules, Memory{})
	s.Apply(ev(31, "failed"), t0)
	s.Apply(ev(32, "success"), t0.Add(time.Minute))
	if out := s.Apply(missedRun(t0.Add(time.Hour), SeverityHigh), t0.Add(time.Hour)); out != OutcomeReopen {
		t.Errorf("outcome = %s, want reopen", out)
	}
}
