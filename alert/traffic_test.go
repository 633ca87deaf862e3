package alert

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// Table tests of the rules for real GitLab traffic (RulesGitLab), one
// delivery sequence per case as GitLab's own code produces it.

const testHold = time.Minute

var gitlabRules = Rules{Version: RulesGitLab, Hold: testHold}

// delivery is one thing that happens to an alert in a sequence.
type delivery struct {
	ev Event
	// at is when it happens, after t0; the steps of a case run in order.
	at time.Duration
	// hold ends the hold (EndHold) instead of applying an event.
	hold bool
	// deleted deletes the branch instead of applying an event.
	deleted bool
	want    Outcome
}

// running is a delivery of a pipeline that has not finished; finished
// carries the finished time a retried pipeline still has.
func running(id int64, finished time.Time) Event {
	e := ev(id, "running")
	e.Pipeline.FinishedAt = finished
	return e
}

func skippedCI(id int64) Event {
	e := ev(id, "skipped")
	e.Pipeline.FinishedAt = time.Time{}
	return e
}

func child(id, parent int64, status string) Event {
	e := ev(id, status)
	e.Pipeline.Source, e.Pipeline.ParentID = SourceParentPipeline, parent
	return e
}

// play applies the steps to s, checks each outcome, and returns the
// outcomes people heard of.
func play(t *testing.T, s *State, steps []delivery) []Outcome {
	t.Helper()
	var heard []Outcome
	for i, st := range steps {
		now := t0.Add(st.at)
		var out Outcome
		switch {
		case st.hold:
			out, _ = s.EndHold(now)
		case st.deleted:
			out = s.DeleteBranch(Deletion{By: "bob"}, now)
		default:
			out = s.Apply(st.ev, now)
		}
		if out != st.want {
			t.Fatalf("step %d (pipeline %d %s): outcome %q, want %q; timeline %+v", i, st.ev.Pipeline.ID, st.ev.Pipeline.Status, out, st.want, s.Timeline)
		}
		if s.Heard(out) {
			heard = append(heard, out)
		}
	}
	return heard
}

func TestGitLabRulesFollowRealDeliverySequences(t *testing.T) {
	t1 := t0.Add(10 * time.Minute)
	tests := []struct {
		name     string
		rules    Rules
		steps    []delivery
		status   Status
		severity Severity
		heard    []Outcome
	}{
		{
			name: "a retry keeps the pipeline id and its success resolves",
			steps: []delivery{
				{ev: withFinished(ev(10, "failed"), t1), want: OutcomeOpened},
				{ev: running(10, t1), at: time.Minute, want: OutcomeProgress},
				{ev: withFinished(ev(10, "success"), t1.Add(5*time.Minute)), at: 6 * time.Minute, want: OutcomeResolved},
			},
			status: StatusResolved, severity: SeverityHigh, heard: []Outcome{OutcomeOpened, OutcomeResolved},
		},
		{
			name: "a retry that fails again stays one alert",
			steps: []delivery{
				{ev: withFinished(ev(10, "failed"), t1), want: OutcomeOpened},
				{ev: running(10, t1), at: time.Minute, want: OutcomeProgress},
				{ev: withFinished(ev(10, "failed"), t1.Add(5*time.Minute)), at: 6 * time.Minute, want: OutcomeUpdated},
			},
			status: StatusOpen, severity: SeverityHigh, heard: []Outcome{OutcomeOpened},
		},
		{
			name: "an auto-cancel superseded by a success pages nobody",
			steps: []delivery{
				{ev: ev(10, "canceled"), want: OutcomeHeld},
				{ev: running(11, time.Time{}), at: 10 * time.Second, want: OutcomeProgress},
				{at: 2 * time.Minute, hold: true, want: ""},
				{ev: ev(11, "success"), at: 5 * time.Minute, want: OutcomeResolved},
			},
			status: StatusResolved, severity: SeverityMedium, heard: nil,
		},
		{
			name: "an auto-cancel superseded by a failure pages once, HIGH",
			steps: []delivery{
				{ev: ev(10, "canceled"), want: OutcomeHeld},
				{ev: running(11, time.Time{}), at: 10 * time.Second, want: OutcomeProgress},
				{ev: ev(11, "failed"), at: 5 * time.Minute, want: OutcomeOpened},
			},
			status: StatusOpen, severity: SeverityHigh, heard: []Outcome{OutcomeOpened},
		},
		{
			name: "a failure of the successor during the hold opens HIGH at once",
			steps: []delivery{
				{ev: ev(10, "canceled"), want: OutcomeHeld},
				{ev: ev(11, "failed"), at: 20 * time.Second, want: OutcomeOpened},
				{at: 2 * time.Minute, hold: true, want: ""},
			},
			status: StatusOpen, severity: SeverityHigh, heard: []Outcome{OutcomeOpened},
		},
		{
			name: "a cancel that arrives after its successor was seen is superseded",
			steps: []delivery{
				{ev: ev(9, "failed"), want: OutcomeOpened},
				{ev: running(11, time.Time{}), at: time.Second, want: OutcomeProgress},
				{ev: ev(10, "canceled"), at: 2 * time.Second, want: OutcomeSuperseded},
			},
			status: StatusOpen, severity: SeverityHigh, heard: []Outcome{OutcomeOpened},
		},
		{
			name: "a user's cancel with no successor opens MEDIUM after the hold",
			steps: []delivery{
				{ev: ev(10, "canceled"), want: OutcomeHeld},
				{at: 30 * time.Second, hold: true, want: ""},
				{at: testHold, hold: true, want: OutcomeOpened},
			},
			status: StatusOpen, severity: SeverityMedium, heard: []Outcome{OutcomeOpened},
		},
		{
			name:  "without a hold a cancel opens at once",
			rules: Rules{Version: RulesGitLab},
			steps: []delivery{
				{ev: ev(10, "canceled"), want: OutcomeOpened},
			},
			status: StatusOpen, severity: SeverityMedium, heard: []Outcome{OutcomeOpened},
		},
		{
			name: "[skip ci] on a HIGH alert changes nothing but the timeline",
			steps: []delivery{
				{ev: ev(10, "failed"), want: OutcomeOpened},
				{ev: skippedCI(11), at: time.Minute, want: OutcomeNoVerdict},
			},
			status: StatusOpen, severity: SeverityHigh, heard: []Outcome{OutcomeOpened},
		},
		{
			name: "a cancel never lowers an open alert",
			steps: []delivery{
				{ev: ev(10, "failed"), want: OutcomeOpened},
				{ev: ev(11, "canceled"), at: time.Minute, want: OutcomeNoVerdict},
			},
			status: StatusOpen, severity: SeverityHigh, heard: []Outcome{OutcomeOpened},
		},
		{
			name: "a cancel raises a skipped alert from LOW to MEDIUM",
			steps: []delivery{
				{ev: skippedCI(10), want: OutcomeHeld},
				{at: testHold, hold: true, want: OutcomeOpened},
				{ev: ev(11, "canceled"), at: 2 * testHold, want: OutcomeSeverityChanged},
			},
			status: StatusOpen, severity: SeverityMedium, heard: []Outcome{OutcomeOpened, OutcomeSeverityChanged},
		},
		{
			name: "a project hook and a group hook for one event are one delivery",
			steps: []delivery{
				{ev: withIdem(ev(10, "failed"), "project-hook"), want: OutcomeOpened},
				{ev: withIdem(ev(10, "failed"), "group-hook"), at: time.Second, want: OutcomeDuplicate},
			},
			status: StatusOpen, severity: SeverityHigh, heard: []Outcome{OutcomeOpened},
		},
		{
			name: "a success that arrives before the older failure leaves it stale",
			steps: []delivery{
				{ev: ev(8, "failed"), want: OutcomeOpened},
				{ev: ev(10, "success"), at: time.Minute, want: OutcomeResolved},
				{ev: ev(9, "failed"), at: 2 * time.Minute, want: OutcomeStale},
			},
			status: StatusResolved, severity: SeverityHigh, heard: []Outcome{OutcomeOpened, OutcomeResolved},
		},
		{
			name: "a child pipeline is recorded and changes nothing",
			steps: []delivery{
				{ev: ev(10, "failed"), want: OutcomeOpened},
				{ev: child(11, 10, "failed"), at: time.Second, want: OutcomeChild},
				{ev: child(11, 10, "success"), at: time.Minute, want: OutcomeChild},
			},
			status: StatusOpen, severity: SeverityHigh, heard: []Outcome{OutcomeOpened},
		},
		{
			name: "a child alone opens nothing",
			steps: []delivery{
				{ev: child(11, 10, "failed"), want: OutcomeChild},
			},
			status: StatusNone, heard: nil,
		},
		{
			name:  "children that alert, with strategy depend: one page, one resolve",
			rules: Rules{Version: RulesGitLab, Hold: testHold, Children: ChildAlert},
			steps: []delivery{
				{ev: child(11, 10, "failed"), want: OutcomeOpened},
				{ev: withFinished(ev(10, "failed"), t0.Add(12*time.Minute)), at: time.Second, want: OutcomeUpdated},
				{ev: running(12, time.Time{}), at: time.Minute, want: OutcomeProgress},
				{ev: child(13, 12, "success"), at: 2 * time.Minute, want: OutcomeResolved},
				{ev: withFinished(ev(12, "success"), t0.Add(14*time.Minute)), at: 3 * time.Minute, want: OutcomeIgnored},
			},
			status: StatusResolved, severity: SeverityHigh, heard: []Outcome{OutcomeOpened, OutcomeResolved},
		},
		{
			name:  "children that alert: the parent's success does not clear its child's failure",
			rules: Rules{Version: RulesGitLab, Children: ChildAlert},
			steps: []delivery{
				{ev: child(11, 10, "failed"), want: OutcomeOpened},
				// The parent's other jobs finish after the child failed.
				{ev: withFinished(ev(10, "success"), t0.Add(20*time.Minute)), at: time.Second, want: OutcomeNoVerdict},
				{ev: withFinished(child(11, 10, "success"), t0.Add(30*time.Minute)), at: time.Minute, want: OutcomeResolved},
			},
			status: StatusResolved, severity: SeverityHigh, heard: []Outcome{OutcomeOpened, OutcomeResolved},
		},
		{
			name:  "children that alert: an older family's success never resolves a newer family's alert",
			rules: Rules{Version: RulesGitLab, Children: ChildAlert},
			steps: []delivery{
				{ev: ev(20, "failed"), want: OutcomeOpened},
				{ev: child(15, 14, "success"), at: time.Second, want: OutcomeStale},
			},
			status: StatusOpen, severity: SeverityHigh, heard: []Outcome{OutcomeOpened},
		},
		{
			name: "deleting the branch resolves its alert",
			steps: []delivery{
				{ev: ev(10, "failed"), want: OutcomeOpened},
				{deleted: true, at: time.Hour, want: OutcomeResolved},
				{deleted: true, at: 2 * time.Hour, want: OutcomeIgnored},
			},
			status: StatusResolved, severity: SeverityHigh, heard: []Outcome{OutcomeOpened, OutcomeResolved},
		},
		{
			name: "progress that was sent before the pipeline finished is stale",
			steps: []delivery{
				{ev: ev(10, "failed"), want: OutcomeOpened},
				{ev: running(10, time.Time{}), at: time.Second, want: OutcomeStale},
			},
			status: StatusOpen, severity: SeverityHigh, heard: []Outcome{OutcomeOpened},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := tt.rules
			if rules.Version == 0 {
				rules = gitlabRules
			}
			s := NewWith(Limits{}, rules, Memory{})
			heard := play(t, s, tt.steps)
			if s.Status != tt.status || s.Severity != tt.severity {
				t.Errorf("status %q severity %q, want %q %q", s.Status, s.Severity, tt.status, tt.severity)
			}
			if !slices.Equal(heard, tt.heard) {
				t.Errorf("people heard %v, want %v", heard, tt.heard)
			}
			deliveries := 0
			for _, st := range tt.steps {
				if !st.hold {
					deliveries++
				}
			}
			c := s.Counts
			if c.Events != deliveries || c.Events != c.Applied+c.Stale+c.Duplicates+c.Ignored+c.Superseded+c.Children {
				t.Errorf("counts %+v do not account for %d deliveries", c, deliveries)
			}
		})
	}
}

// nextAlert is the alert a new run on the same ID starts with.
func nextAlert(prev *State) *State {
	return NewWith(prev.Limits, prev.Rules, prev.Memory)
}

func TestADeliveryOlderThanTheEndOfTheLastAlertOpensNothing(t *testing.T) {
	t1 := t0.Add(10 * time.Minute)
	tests := []struct {
		name  string
		first []delivery
		next  Event
		want  Outcome
	}{
		{
			name: "a resend of the old failure after the branch went green",
			first: []delivery{
				{ev: withIdem(ev(10, "failed"), "k10"), want: OutcomeOpened},
				{ev: ev(11, "success"), at: time.Minute, want: OutcomeResolved},
			},
			next: withIdem(ev(10, "failed"), "k10"), want: OutcomeStale,
		},
		{
			name: "the same failure after a resolve by hand, through the group hook",
			first: []delivery{
				{ev: withIdem(ev(10, "failed"), "project-hook"), want: OutcomeOpened},
			},
			next: withIdem(ev(10, "failed"), "group-hook"), want: OutcomeStale,
		},
		{
			name: "the same failure with milliseconds, as newer GitLab writes it",
			first: []delivery{
				{ev: withFinished(ev(10, "failed"), t1), want: OutcomeOpened},
			},
			next: withFinished(ev(10, "failed"), t1.Add(869*time.Millisecond)), want: OutcomeStale,
		},
		{
			name: "a cancel older than the pipeline that resolved",
			first: []delivery{
				{ev: ev(10, "failed"), want: OutcomeOpened},
				{ev: ev(12, "success"), at: time.Minute, want: OutcomeResolved},
			},
			next: ev(11, "canceled"), want: OutcomeStale,
		},
		{
			name: "a retry of the pipeline that failed again later opens a new alert",
			first: []delivery{
				{ev: withFinished(ev(10, "failed"), t1), want: OutcomeOpened},
			},
			next: withFinished(ev(10, "failed"), t1.Add(time.Hour)), want: OutcomeOpened,
		},
		{
			name: "a newer failure opens a new alert",
			first: []delivery{
				{ev: ev(10, "failed"), want: OutcomeOpened},
				{ev: ev(11, "success"), at: time.Minute, want: OutcomeResolved},
			},
			next: ev(12, "failed"), want: OutcomeOpened,
		},
		{
			name: "the failure of a deleted branch",
			first: []delivery{
				{ev: ev(10, "failed"), want: OutcomeOpened},
				{deleted: true, at: time.Minute, want: OutcomeResolved},
			},
			next: ev(10, "failed"), want: OutcomeStale,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := NewWith(Limits{}, gitlabRules, Memory{})
			play(t, first, tt.first)
			if first.Status != StatusResolved {
				if err := first.Resolve(Resolution{By: "alice", Reason: "flaky"}, t0.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			next := nextAlert(first)
			if out := next.Apply(tt.next, t0.Add(2*time.Hour)); out != tt.want {
				t.Fatalf("outcome %q, want %q (memory %+v)", out, tt.want, first.Memory)
			}
			if tt.want == OutcomeStale && (next.Status != StatusNone || next.Heard(OutcomeStale)) {
				t.Fatalf("a stale delivery left status %q", next.Status)
			}
		})
	}
}

func TestAPendingAlertCannotBeAcknowledgedButCanBeResolvedQuietly(t *testing.T) {
	s := NewWith(Limits{}, gitlabRules, Memory{})
	if out := s.Apply(ev(10, "canceled"), t0); out != OutcomeHeld {
		t.Fatalf("outcome %q", out)
	}
	if _, err := s.Acknowledge(Acknowledgement{By: "alice"}, t0); !errors.Is(err, ErrNotOpened) {
		t.Fatalf("acknowledge of a pending alert: %v, want ErrNotOpened", err)
	}
	if err := s.Resolve(Resolution{By: "alice"}, t0); err != nil {
		t.Fatal(err)
	}
	if !s.Quiet || s.Heard(OutcomeResolved) {
		t.Fatal("resolving an alert nobody heard of must stay quiet")
	}
	if _, ok := s.EndHold(t0.Add(time.Hour)); ok {
		t.Fatal("a resolved alert's hold must not announce it")
	}
}

func TestAutoResolveAfterNoEventForTheInterval(t *testing.T) {
	const after = 7 * 24 * time.Hour
	s := NewWith(Limits{}, gitlabRules, Memory{})
	s.Apply(ev(10, "failed"), t0)
	s.Apply(ev(11, "failed"), t0.Add(24*time.Hour))
	if s.AutoResolveDue(after, t0.Add(after)) {
		t.Fatal("due counted from the first event, not the last")
	}
	if out := s.AutoResolve(after, t0.Add(24*time.Hour+after-time.Second)); out != "" {
		t.Fatalf("resolved a second early: %q", out)
	}
	if out := s.AutoResolve(after, t0.Add(24*time.Hour+after)); out != OutcomeResolved || s.ResolvedBy != ResolvedByAlertflow {
		t.Fatalf("outcome %q by %q", out, s.ResolvedBy)
	}
	if s.AutoResolveDue(0, t0.Add(1000*time.Hour)) {
		t.Fatal("zero must turn auto-resolve off")
	}
}

func TestParseChildMode(t *testing.T) {
	for in, want := range map[string]ChildMode{"": ChildParent, "parent": ChildParent, "alert": ChildAlert} {
		if got, err := ParseChildMode(in); err != nil || got != want {
			t.Errorf("ParseChildMode(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseChildMode("children"); err == nil {
		t.Error("an unknown mode must be refused")
	}
}
