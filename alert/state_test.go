package alert

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// ev builds an event for project 1, ref master: pipeline id, status, and a
// finished time derived from the id so that content keys differ.
func ev(id int64, status string) Event {
	return Event{
		Project: Project{ID: 1, Path: "gitlab-org/gitlab-test"},
		Pipeline: Pipeline{
			ID:         id,
			Ref:        "master",
			Status:     status,
			FinishedAt: t0.Add(time.Duration(id) * time.Minute),
		},
		User: "alice",
	}
}

func withFinished(e Event, at time.Time) Event {
	e.Pipeline.FinishedAt = at
	return e
}

func withIdem(e Event, key string) Event {
	e.IdempotencyKey = key
	return e
}

func TestSeverityOfMapsStatuses(t *testing.T) {
	tests := []struct {
		status string
		want   Severity
		bad    bool
	}{
		{"failed", SeverityHigh, true},
		{"canceled", SeverityMedium, true},
		{"skipped", SeverityLow, true},
		{"success", SeverityNone, false},
		{"running", SeverityNone, false},
		{"canceling", SeverityNone, false},
		{"some-future-status", SeverityNone, false},
		{"", SeverityNone, false},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			got, bad := SeverityOf(tt.status)
			if got != tt.want || bad != tt.bad {
				t.Fatalf("SeverityOf(%q) = %q, %v; want %q, %v", tt.status, got, bad, tt.want, tt.bad)
			}
		})
	}
}

func TestRouteOf(t *testing.T) {
	tests := map[string]Route{
		"failed": RouteOpen, "canceled": RouteOpen, "skipped": RouteOpen,
		"success": RouteResolve,
		"created": RouteIgnore, "pending": RouteIgnore, "running": RouteIgnore,
		"manual": RouteIgnore, "scheduled": RouteIgnore, "canceling": RouteIgnore, "waiting_for_resource": RouteIgnore,
	}
	for status, want := range tests {
		if got := RouteOf(status); got != want {
			t.Errorf("RouteOf(%q) = %v, want %v", status, got, want)
		}
	}
}

// step is one event applied in a sequence and what it must do.
type step struct {
	ev       Event
	want     Outcome
	status   Status
	severity Severity
	peak     Severity
	newest   int64
}

func TestApplyFollowsTheRules(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "a failed pipeline opens a HIGH alert",
			steps: []step{
				{ev(10, "failed"), OutcomeOpened, StatusOpen, SeverityHigh, SeverityHigh, 10},
			},
		},
		{
			name: "a canceled pipeline opens a MEDIUM alert",
			steps: []step{
				{ev(10, "canceled"), OutcomeOpened, StatusOpen, SeverityMedium, SeverityMedium, 10},
			},
		},
		{
			name: "a skipped pipeline opens a LOW alert",
			steps: []step{
				{ev(10, "skipped"), OutcomeOpened, StatusOpen, SeverityLow, SeverityLow, 10},
			},
		},
		{
			name: "a newer pipeline moves severity down while peak stays",
			steps: []step{
				{ev(10, "failed"), OutcomeOpened, StatusOpen, SeverityHigh, SeverityHigh, 10},
				{ev(11, "skipped"), OutcomeSeverityChanged, StatusOpen, SeverityLow, SeverityHigh, 11},
			},
		},
		{
			name: "a newer pipeline moves severity up and raises peak",
			steps: []step{
				{ev(10, "skipped"), OutcomeOpened, StatusOpen, SeverityLow, SeverityLow, 10},
				{ev(11, "canceled"), OutcomeSeverityChanged, StatusOpen, SeverityMedium, SeverityMedium, 11},
				{ev(12, "failed"), OutcomeSeverityChanged, StatusOpen, SeverityHigh, SeverityHigh, 12},
			},
		},
		{
			name: "a newer pipeline with the same severity only updates",
			steps: []step{
				{ev(10, "failed"), OutcomeOpened, StatusOpen, SeverityHigh, SeverityHigh, 10},
				{ev(11, "failed"), OutcomeUpdated, StatusOpen, SeverityHigh, SeverityHigh, 11},
			},
		},
		{
			name: "an event from an older pipeline is stale and changes nothing",
			steps: []step{
				{ev(12, "skipped"), OutcomeOpened, StatusOpen, SeverityLow, SeverityLow, 12},
				{ev(11, "failed"), OutcomeStale, StatusOpen, SeverityLow, SeverityLow, 12},
			},
		},
		{
			name: "the same pipeline id changing status sets severity",
			steps: []step{
				{ev(10, "failed"), OutcomeOpened, StatusOpen, SeverityHigh, SeverityHigh, 10},
				{withFinished(ev(10, "canceled"), t0.Add(time.Hour)), OutcomeSeverityChanged, StatusOpen, SeverityMedium, SeverityHigh, 10},
			},
		},
		{
			name: "the same delivery twice is a duplicate",
			steps: []step{
				{ev(10, "failed"), OutcomeOpened, StatusOpen, SeverityHigh, SeverityHigh, 10},
				{ev(11, "canceled"), OutcomeSeverityChanged, StatusOpen, SeverityMedium, SeverityHigh, 11},
				{ev(11, "canceled"), OutcomeDuplicate, StatusOpen, SeverityMedium, SeverityHigh, 11},
			},
		},
		{
			name: "a resend with the same idempotency key but other content is a duplicate",
			steps: []step{
				{withIdem(ev(10, "failed"), "k1"), OutcomeOpened, StatusOpen, SeverityHigh, SeverityHigh, 10},
				{withIdem(ev(11, "skipped"), "k1"), OutcomeDuplicate, StatusOpen, SeverityHigh, SeverityHigh, 10},
			},
		},
		{
			name: "a success from the newest pipeline resolves",
			steps: []step{
				{ev(10, "failed"), OutcomeOpened, StatusOpen, SeverityHigh, SeverityHigh, 10},
				{ev(11, "success"), OutcomeResolved, StatusResolved, SeverityHigh, SeverityHigh, 11},
			},
		},
		{
			name: "a retried pipeline resolves on its own id",
			steps: []step{
				{ev(10, "failed"), OutcomeOpened, StatusOpen, SeverityHigh, SeverityHigh, 10},
				{withFinished(ev(10, "success"), t0.Add(time.Hour)), OutcomeResolved, StatusResolved, SeverityHigh, SeverityHigh, 10},
			},
		},
		{
			name: "a success from an older pipeline does not resolve",
			steps: []step{
				{ev(12, "failed"), OutcomeOpened, StatusOpen, SeverityHigh, SeverityHigh, 12},
				{ev(11, "success"), OutcomeStale, StatusOpen, SeverityHigh, SeverityHigh, 12},
			},
		},
		{
			name: "a delivery of the same pipeline delayed past its successor state is stale",
			steps: []step{
				{withFinished(ev(10, "failed"), t0.Add(2*time.Hour)), OutcomeOpened, StatusOpen, SeverityHigh, SeverityHigh, 10},
				{withFinished(ev(10, "canceled"), t0.Add(time.Hour)), OutcomeStale, StatusOpen, SeverityHigh, SeverityHigh, 10},
			},
		},
		{
			name: "a success before any bad pipeline opens nothing",
			steps: []step{
				{ev(10, "success"), OutcomeIgnored, StatusNone, SeverityNone, SeverityNone, 10},
				{ev(9, "failed"), OutcomeStale, StatusNone, SeverityNone, SeverityNone, 10},
			},
		},
		{
			name: "a failure after the resolve belongs to a new alert",
			steps: []step{
				{ev(10, "failed"), OutcomeOpened, StatusOpen, SeverityHigh, SeverityHigh, 10},
				{ev(11, "success"), OutcomeResolved, StatusResolved, SeverityHigh, SeverityHigh, 11},
				{ev(12, "failed"), OutcomeReopen, StatusResolved, SeverityHigh, SeverityHigh, 11},
			},
		},
		{
			name: "an older failure after the resolve is stale and opens nothing",
			steps: []step{
				{ev(10, "failed"), OutcomeOpened, StatusOpen, SeverityHigh, SeverityHigh, 10},
				{ev(11, "success"), OutcomeResolved, StatusResolved, SeverityHigh, SeverityHigh, 11},
				{ev(9, "failed"), OutcomeStale, StatusResolved, SeverityHigh, SeverityHigh, 11},
			},
		},
		{
			name: "a second success after the resolve is ignored",
			steps: []step{
				{ev(10, "failed"), OutcomeOpened, StatusOpen, SeverityHigh, SeverityHigh, 10},
				{ev(11, "success"), OutcomeResolved, StatusResolved, SeverityHigh, SeverityHigh, 11},
				{ev(12, "success"), OutcomeIgnored, StatusResolved, SeverityHigh, SeverityHigh, 11},
			},
		},
		{
			name: "a progress status for the newest pipeline changes nothing",
			steps: []step{
				{ev(10, "failed"), OutcomeOpened, StatusOpen, SeverityHigh, SeverityHigh, 10},
				{ev(11, "running"), OutcomeIgnored, StatusOpen, SeverityHigh, SeverityHigh, 10},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Limits{})
			for i, st := range tt.steps {
				got := s.Apply(st.ev, t0.Add(time.Duration(i)*time.Second))
				if got != st.want {
					t.Fatalf("step %d: outcome %q, want %q", i, got, st.want)
				}
				if s.Status != st.status || s.Severity != st.severity || s.PeakSeverity != st.peak {
					t.Fatalf("step %d: status/severity/peak = %q/%q/%q, want %q/%q/%q",
						i, s.Status, s.Severity, s.PeakSeverity, st.status, st.severity, st.peak)
				}
				if s.Pipeline == nil || s.Pipeline.ID != st.newest {
					t.Fatalf("step %d: newest pipeline %+v, want id %d", i, s.Pipeline, st.newest)
				}
			}
			if len(s.Timeline) != len(tt.steps) || s.Counts.Events != len(tt.steps) {
				t.Fatalf("timeline has %d entries and counts %d events, want %d of each", len(s.Timeline), s.Counts.Events, len(tt.steps))
			}
			for i, st := range tt.steps {
				if s.Timeline[i].Kind != st.want || s.Timeline[i].PipelineID != st.ev.Pipeline.ID {
					t.Errorf("timeline[%d] = %+v, want kind %q for pipeline %d", i, s.Timeline[i], st.want, st.ev.Pipeline.ID)
				}
			}
		})
	}
}

func TestApplyKeepsIdentityAndResolution(t *testing.T) {
	s := New(Limits{})
	first := ev(31, "failed")
	first.Pipeline.FailedJobs = []Job{{Name: "test-build", Stage: "test", FailureReason: "script_failure"}}
	first.Commit = Commit{Title: "fix the build", URL: "http://example.com/c/1"}
	s.Apply(first, t0)
	if s.ID != "1-master" || s.Ref != "master" || s.Project.ID != 1 {
		t.Fatalf("identity = %q %q %d", s.ID, s.Ref, s.Project.ID)
	}
	if s.OpenedAt != t0 || s.OpenedBy != "alice" {
		t.Fatalf("opened = %v by %q", s.OpenedAt, s.OpenedBy)
	}
	if got, want := s.Title(), "Pipeline #31 failed on gitlab-org/gitlab-test@master"; got != want {
		t.Fatalf("Title() = %q, want %q", got, want)
	}
	if got, want := s.FailedJobsLine(), "test-build (test, script_failure)"; got != want {
		t.Fatalf("FailedJobsLine() = %q, want %q", got, want)
	}
	if s.Pipeline.CommitTitle != "fix the build" {
		t.Fatalf("commit title not kept: %+v", s.Pipeline)
	}

	green := ev(32, "success")
	green.User = "bob"
	s.Apply(green, t0.Add(time.Minute))
	if s.ResolvedBy != "bob" || s.ResolvedAt != t0.Add(time.Minute) || s.Resolution != "pipeline #32 succeeded" {
		t.Fatalf("resolution = %q at %v: %q", s.ResolvedBy, s.ResolvedAt, s.Resolution)
	}
	if got, want := s.Title(), "Pipeline #32 succeeded on gitlab-org/gitlab-test@master"; got != want {
		t.Fatalf("Title() = %q, want %q", got, want)
	}
	if s.Counts != (Counts{Events: 2, Applied: 2}) {
		t.Fatalf("counts = %+v", s.Counts)
	}
}

func TestTimelineIsCappedAndCountsWhatItDrops(t *testing.T) {
	s := New(Limits{TimelineCap: 5, KeyCap: 4})
	for i := int64(1); i <= 12; i++ {
		s.Apply(ev(i, "failed"), t0)
	}
	if len(s.Timeline) != 5 || s.TimelineDropped != 7 {
		t.Fatalf("timeline len %d dropped %d, want 5 and 7", len(s.Timeline), s.TimelineDropped)
	}
	if s.Timeline[0].PipelineID != 8 || s.Timeline[4].PipelineID != 12 {
		t.Fatalf("kept entries %d..%d, want the newest 8..12", s.Timeline[0].PipelineID, s.Timeline[4].PipelineID)
	}
	if len(s.RecentKeys) != 4 {
		t.Fatalf("recent keys %d, want the cap of 4", len(s.RecentKeys))
	}
	if got := s.Apply(ev(12, "failed"), t0); got != OutcomeDuplicate {
		t.Fatalf("a recent key must still dedup, got %q", got)
	}
}

func TestNewFillsDefaultLimits(t *testing.T) {
	s := New(Limits{TimelineCap: -1})
	if s.Limits != DefaultLimits() {
		t.Fatalf("limits = %+v, want defaults", s.Limits)
	}
}

func TestOutcomeNotifiesOnlyForLifecycleTransitions(t *testing.T) {
	for _, o := range []Outcome{OutcomeOpened, OutcomeSeverityChanged, OutcomeResolved, OutcomeAcknowledged, OutcomeReminder} {
		if !o.Notifies() {
			t.Errorf("%s must notify", o)
		}
	}
	for _, o := range []Outcome{OutcomeUpdated, OutcomeStale, OutcomeDuplicate, OutcomeIgnored, OutcomeReopen, OutcomeRejected} {
		if o.Notifies() {
			t.Errorf("%s must not notify", o)
		}
	}
}

func ExampleState_Apply() {
	s := New(Limits{})
	fmt.Println(s.Apply(ev(31, "failed"), t0), s.Severity)
	fmt.Println(s.Apply(ev(30, "success"), t0), s.Status)
	fmt.Println(s.Apply(ev(32, "success"), t0), s.Status)
	// Output:
	// opened HIGH
	// stale open
	// resolved resolved
}

func TestBoundKeepsAnEventSmall(t *testing.T) {
	e := ev(1, "failed")
	for i := 0; i < MaxFailedJobs+7; i++ {
		e.Pipeline.FailedJobs = append(e.Pipeline.FailedJobs, Job{Name: "job", Stage: "test"})
	}
	e.Commit.Title = strings.Repeat("é", MaxText) // 2 bytes a rune
	e.Pipeline.FailedJobs[0].Name = strings.Repeat("x", 3*MaxText)
	e.Bound()
	if len(e.Pipeline.FailedJobs) != MaxFailedJobs || e.Pipeline.FailedJobsOmitted != 7 {
		t.Fatalf("kept %d jobs, omitted %d", len(e.Pipeline.FailedJobs), e.Pipeline.FailedJobsOmitted)
	}
	if len(e.Commit.Title) > MaxText+len("…") || !utf8.ValidString(e.Commit.Title) || len(e.Pipeline.FailedJobs[0].Name) > MaxText+len("…") {
		t.Fatalf("strings not clipped on rune boundaries: %d / %d bytes", len(e.Commit.Title), len(e.Pipeline.FailedJobs[0].Name))
	}
	s := New(Limits{})
	s.Apply(e, t0)
	if !strings.HasSuffix(s.FailedJobsLine(), "and 7 more") {
		t.Fatalf("FailedJobsLine() = %q", s.FailedJobsLine())
	}
}
