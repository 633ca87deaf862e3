package alert

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSnoozeValidatesWhoAndHowLong(t *testing.T) {
	s := openAlert(t)
	tests := []struct {
		req  SnoozeRequest
		want string
	}{
		{SnoozeRequest{For: "2h"}, `"by" is required`},
		{SnoozeRequest{By: "alice"}, `"for" is required`},
		{SnoozeRequest{By: "alice", For: "soon"}, `not a duration`},
		{SnoozeRequest{By: "alice", For: "-1h"}, `must be positive`},
		{SnoozeRequest{By: "alice", For: "0s"}, `must be positive`},
		{SnoozeRequest{By: "alice", For: "169h"}, `at most`},
		{SnoozeRequest{By: "alice", For: "8d"}, `at most`},
		{SnoozeRequest{By: "alice", For: "1.5d"}, `not a duration`},
	}
	for _, tt := range tests {
		err := s.CheckSnooze(tt.req)
		if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want invalid input saying %q", tt.req, err, tt.want)
		}
	}
	for _, week := range []string{"168h", "7d"} {
		if err := s.CheckSnooze(SnoozeRequest{By: "alice", For: week}); err != nil {
			t.Errorf("a week as %q: %v", week, err)
		}
	}
}

func TestOnlyAnAlertPeopleHeardOfCanBeSnoozed(t *testing.T) {
	req := SnoozeRequest{By: "alice", For: "1h"}
	if err := New(Limits{}).CheckSnooze(req); !errors.Is(err, ErrNotOpened) {
		t.Errorf("no alert: %v", err)
	}
	s := openAlert(t)
	if err := s.Resolve(Resolution{By: "bob"}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckSnooze(req); !errors.Is(err, ErrResolved) {
		t.Errorf("resolved: %v", err)
	}
}

func TestASnoozeStopsRemindersUntilItEnds(t *testing.T) {
	s := openAlert(t)
	now := t0.Add(time.Minute)
	if err := s.SnoozeFor(SnoozeRequest{By: "alice", For: "2h", Note: "runner migration"}, now); err != nil {
		t.Fatal(err)
	}
	if s.RemindersDue() || !s.SnoozedAt(now.Add(time.Hour)) || s.SnoozedAt(now.Add(2*time.Hour)) {
		t.Fatalf("snoozed until %v: reminders due %v", s.Snoozed.Until, s.RemindersDue())
	}
	// A second snooze replaces the first.
	if err := s.SnoozeFor(SnoozeRequest{By: "bob", For: "30m"}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if want := now.Add(90 * time.Minute); !s.Snoozed.Until.Equal(want) || s.Snoozed.By != "bob" {
		t.Fatalf("snooze %+v, want until %v by bob", s.Snoozed, want)
	}
	if !s.EndSnooze(now.Add(90*time.Minute), "the snooze is over") {
		t.Fatal("an open alert coming out of its snooze is not announced again")
	}
	if s.Snoozed != nil || !s.RemindersDue() {
		t.Fatalf("after the snooze: %+v, reminders due %v", s.Snoozed, s.RemindersDue())
	}
	last := s.Timeline[len(s.Timeline)-1]
	if last.Kind != OutcomeSnoozeEnded || last.Note != "the snooze is over" {
		t.Fatalf("timeline ends with %+v", last)
	}
}

func TestASnoozedAlertThatWasAcknowledgedStaysQuietWhenTheSnoozeEnds(t *testing.T) {
	s := openAlert(t)
	if err := s.SnoozeFor(SnoozeRequest{By: "alice", For: "1h"}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Acknowledge(Acknowledgement{By: "alice"}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s.EndSnooze(t0.Add(time.Hour), "the snooze is over") {
		t.Fatal("an acknowledged alert was announced again at the end of its snooze")
	}
	if s.EndSnooze(t0.Add(time.Hour), "again") {
		t.Fatal("ending no snooze announced the alert")
	}
}

func TestSeveritiesRankFromLowToHigh(t *testing.T) {
	if !SeverityHigh.Above(SeverityMedium) || !SeverityMedium.Above(SeverityLow) || !SeverityLow.Above(SeverityNone) || SeverityLow.Above(SeverityLow) {
		t.Fatal("severity order")
	}
}

// openAlert is an alert a failed pipeline opened at t0.
func openAlert(t *testing.T) *State {
	t.Helper()
	s := New(Limits{})
	if out := s.Apply(ev(1, "failed"), t0); out != OutcomeOpened {
		t.Fatalf("the failure %s", out)
	}
	return s
}
