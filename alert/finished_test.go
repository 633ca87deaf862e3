package alert

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Table tests of RulesFinished: only the newest finished pipeline on the
// ref (success, failed or canceled, as GitLab's own ref status counts
// them) may resolve an alert or change its verdict.

var finishedRules = Rules{Version: RulesFinished, Hold: testHold}

// retried is a pipeline that ran again and finished, an hour after t0:
// later than anything ev makes for the ids these tests use.
func retried(id int64, status string) Event {
	return withFinished(ev(id, status), t0.Add(time.Hour))
}

func TestOnlyTheNewestFinishedPipelineSpeaksForTheRef(t *testing.T) {
	tests := []struct {
		name     string
		rules    Rules
		steps    []delivery
		status   Status
		severity Severity
		heard    []Outcome
		// finished is the newest finished pipeline the memory keeps.
		finished int64
		// staleNote is the note the stale delivery leaves, if any.
		staleNote string
	}{
		{
			name:  "a retried older pipeline that passes after a newer cancel resolves nothing; the next pipeline's success does",
			rules: finishedRules,
			steps: []delivery{
				{ev: ev(31, "failed"), want: OutcomeOpened},
				{ev: ev(32, "canceled"), at: time.Minute, want: OutcomeNoVerdict},
				{ev: running(31, ev(31, "failed").Pipeline.FinishedAt), at: 2 * time.Minute, want: OutcomeIgnored},
				{ev: retried(31, "success"), at: 3 * time.Minute, want: OutcomeStale},
				{ev: ev(33, "success"), at: 10 * time.Minute, want: OutcomeResolved},
			},
			status: StatusResolved, severity: SeverityHigh, heard: []Outcome{OutcomeOpened, OutcomeResolved},
			finished: 33, staleNote: "older than pipeline #32, the newest finished",
		},
		{
			name:  "the issue's sequence leaves the alert open and HIGH",
			rules: finishedRules,
			steps: []delivery{
				{ev: ev(31, "failed"), want: OutcomeOpened},
				{ev: ev(32, "canceled"), at: time.Minute, want: OutcomeNoVerdict},
				{ev: retried(31, "success"), at: 3 * time.Minute, want: OutcomeStale},
			},
			status: StatusOpen, severity: SeverityHigh, heard: []Outcome{OutcomeOpened},
			finished: 32, staleNote: "older than pipeline #32, the newest finished",
		},
		{
			name:  "a newer pipeline that is only running blocks nothing: the retry's success resolves",
			rules: finishedRules,
			steps: []delivery{
				{ev: ev(31, "failed"), want: OutcomeOpened},
				{ev: running(32, time.Time{}), at: time.Minute, want: OutcomeProgress},
				{ev: running(31, ev(31, "failed").Pipeline.FinishedAt), at: 2 * time.Minute, want: OutcomeIgnored},
				{ev: retried(31, "success"), at: 3 * time.Minute, want: OutcomeResolved},
			},
			status: StatusResolved, severity: SeverityHigh, heard: []Outcome{OutcomeOpened, OutcomeResolved},
			finished: 31,
		},
		{
			name:  "a newer skipped pipeline is not finished to GitLab: the retry's success resolves",
			rules: finishedRules,
			steps: []delivery{
				{ev: ev(31, "failed"), want: OutcomeOpened},
				{ev: skippedCI(32), at: time.Minute, want: OutcomeNoVerdict},
				{ev: retried(31, "success"), at: 3 * time.Minute, want: OutcomeResolved},
			},
			status: StatusResolved, severity: SeverityHigh, heard: []Outcome{OutcomeOpened, OutcomeResolved},
			finished: 31,
		},
		{
			name:  "a retried older pipeline that fails again after a newer cancel changes nothing",
			rules: finishedRules,
			steps: []delivery{
				{ev: skippedCI(30), want: OutcomeHeld},
				{at: testHold, hold: true, want: OutcomeOpened},
				{ev: ev(32, "canceled"), at: 2 * time.Minute, want: OutcomeSeverityChanged},
				{ev: retried(31, "failed"), at: 3 * time.Minute, want: OutcomeStale},
			},
			status: StatusOpen, severity: SeverityMedium, heard: []Outcome{OutcomeOpened, OutcomeSeverityChanged},
			finished: 32, staleNote: "older than pipeline #32, the newest finished",
		},
		{
			name:  "a cancel superseded by a newer pipeline still finished",
			rules: finishedRules,
			steps: []delivery{
				{ev: ev(31, "failed"), want: OutcomeOpened},
				{ev: running(33, time.Time{}), at: time.Minute, want: OutcomeProgress},
				{ev: ev(32, "canceled"), at: 2 * time.Minute, want: OutcomeSuperseded},
				{ev: retried(31, "success"), at: 3 * time.Minute, want: OutcomeStale},
				{ev: ev(33, "success"), at: 4 * time.Minute, want: OutcomeResolved},
			},
			status: StatusResolved, severity: SeverityHigh, heard: []Outcome{OutcomeOpened, OutcomeResolved},
			finished: 33, staleNote: "older than pipeline #32, the newest finished",
		},
		{
			name:  "under RulesGitLab the retry's success still resolves, as recorded alerts did",
			rules: Rules{Version: RulesGitLab, Hold: testHold},
			steps: []delivery{
				{ev: ev(31, "failed"), want: OutcomeOpened},
				{ev: ev(32, "canceled"), at: time.Minute, want: OutcomeNoVerdict},
				{ev: retried(31, "success"), at: 3 * time.Minute, want: OutcomeResolved},
			},
			status: StatusResolved, severity: SeverityHigh, heard: []Outcome{OutcomeOpened, OutcomeResolved},
		},
		{
			name:  "under RulesFirst the newest pipeline of any status decides, as recorded alerts did",
			rules: Rules{Version: RulesFirst},
			steps: []delivery{
				{ev: ev(31, "failed"), want: OutcomeOpened},
				{ev: ev(32, "canceled"), at: time.Minute, want: OutcomeSeverityChanged},
				{ev: retried(31, "success"), at: 3 * time.Minute, want: OutcomeStale},
			},
			status: StatusOpen, severity: SeverityMedium, heard: []Outcome{OutcomeOpened, OutcomeSeverityChanged},
			staleNote: "older than pipeline #32",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewWith(Limits{}, tt.rules, Memory{})
			heard := play(t, s, tt.steps)
			if s.Status != tt.status || s.Severity != tt.severity {
				t.Errorf("status %q severity %q, want %q %q", s.Status, s.Severity, tt.status, tt.severity)
			}
			if !slices.Equal(heard, tt.heard) {
				t.Errorf("people heard %v, want %v", heard, tt.heard)
			}
			if s.Memory.Finished != tt.finished {
				t.Errorf("memory's newest finished pipeline %d, want %d", s.Memory.Finished, tt.finished)
			}
			stale := 0
			for _, e := range s.Timeline {
				if e.Kind != OutcomeStale {
					continue
				}
				stale++
				if e.Note != tt.staleNote {
					t.Errorf("stale entry's note %q, want %q", e.Note, tt.staleNote)
				}
			}
			if s.Counts.Stale != stale || (tt.staleNote != "") != (stale == 1) {
				t.Errorf("counts %+v and %d stale entries, want one exactly when a delivery is stale", s.Counts, stale)
			}
		})
	}
}

func TestAStaleVerdictChangesNothingButTheTimelineAndCounts(t *testing.T) {
	s := NewWith(Limits{}, finishedRules, Memory{})
	s.Apply(ev(31, "failed"), t0)
	s.Apply(ev(32, "canceled"), t0.Add(time.Minute))
	before := *s
	before.Timeline, before.RecentKeys = slices.Clone(s.Timeline), slices.Clone(s.RecentKeys)
	if out := s.Apply(retried(31, "success"), t0.Add(2*time.Minute)); out != OutcomeStale {
		t.Fatalf("outcome %q, want stale", out)
	}
	if s.Heard(OutcomeStale) {
		t.Error("people must hear nothing of a stale delivery")
	}
	after := *s
	// What every delivery changes whatever its outcome.
	for _, st := range []*State{&before, &after} {
		st.Counts, st.Timeline, st.RecentKeys, st.LastEventAt = Counts{}, nil, nil, time.Time{}
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("a stale delivery changed the alert:\n before %+v\n after  %+v", before, after)
	}
	if s.Pipeline.ID != 31 || s.Pipeline.Status != PipelineFailed || s.Cause.Family != 31 {
		t.Errorf("the alert is about %+v (cause %+v), want still #31 failed", s.Pipeline, s.Cause)
	}
}

func TestTheNewestFinishedPipelineIsRememberedByTheNextAlert(t *testing.T) {
	first := NewWith(Limits{}, finishedRules, Memory{})
	play(t, first, []delivery{
		{ev: ev(31, "failed"), want: OutcomeOpened},
		{ev: ev(32, "canceled"), at: time.Minute, want: OutcomeNoVerdict},
	})
	if err := first.Resolve(Resolution{By: "alice", Reason: "looked into it"}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The memory reaches the next alert inside a run's result (the recall)
	// or its continue-as-new input: both are JSON.
	raw, err := json.Marshal(first)
	if err != nil {
		t.Fatal(err)
	}
	var ended State
	if err := json.Unmarshal(raw, &ended); err != nil {
		t.Fatal(err)
	}
	if ended.Memory.Finished != 32 {
		t.Fatalf("the memory's newest finished pipeline is %d after a round trip, want 32: %s", ended.Memory.Finished, raw)
	}
	next := nextAlert(&ended)
	if out := next.Apply(retried(31, "failed"), t0.Add(2*time.Hour)); out != OutcomeStale || next.Status != StatusNone {
		t.Fatalf("a retry of #31 failing after #32 was canceled: %q, status %q; want stale and no alert", out, next.Status)
	}
	if out := next.Apply(ev(33, "failed"), t0.Add(3*time.Hour)); out != OutcomeOpened {
		t.Fatalf("a newer failure: %q, want opened", out)
	}
}

func TestAnAlertOfEarlierRulesRemembersNoFinishedPipeline(t *testing.T) {
	for _, v := range []RulesVersion{RulesFirst, RulesGitLab} {
		s := NewWith(Limits{}, Rules{Version: v}, Memory{})
		s.Apply(ev(31, "failed"), t0)
		s.Apply(ev(32, "canceled"), t0.Add(time.Minute))
		s.Apply(ev(33, "success"), t0.Add(2*time.Minute))
		if s.Memory.Finished != 0 {
			t.Errorf("rules version %d remembers pipeline #%d as the newest finished: its states must stay as recorded", v, s.Memory.Finished)
		}
		if raw, err := json.Marshal(s.Memory); err != nil || strings.Contains(string(raw), "finished\"") {
			t.Errorf("rules version %d: memory %s (%v) names a finished pipeline", v, raw, err)
		}
	}
}
