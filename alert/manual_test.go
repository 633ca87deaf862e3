package alert

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func opened(t *testing.T) *State {
	t.Helper()
	s := New(Limits{})
	if out := s.Apply(ev(31, "failed"), t0); out != OutcomeOpened {
		t.Fatalf("setup: %s", out)
	}
	return s
}

func resolved(t *testing.T) *State {
	t.Helper()
	s := opened(t)
	s.Apply(ev(32, "success"), t0)
	return s
}

func acknowledged(t *testing.T) *State {
	t.Helper()
	s := opened(t)
	if _, err := s.Acknowledge(Acknowledgement{By: "alice"}, t0); err != nil {
		t.Fatalf("setup: %v", err)
	}
	return s
}

func TestManualActionsAreCheckedAgainstInputAndState(t *testing.T) {
	tests := []struct {
		name    string
		state   func(t *testing.T) *State
		ack     *Acknowledgement
		resolve *Resolution
		wantErr error
		says    string
	}{
		{"an acknowledgement without by is invalid", opened, &Acknowledgement{Note: "on it"}, nil, ErrInvalidInput, `"by" is required`},
		{"a by of only spaces is invalid", opened, &Acknowledgement{By: "   "}, nil, ErrInvalidInput, `"by" is required`},
		{"a resolution without by is invalid", opened, nil, &Resolution{Reason: "flaky"}, ErrInvalidInput, `"by" is required`},
		{"an overlong by is invalid", opened, &Acknowledgement{By: strings.Repeat("a", 201)}, nil, ErrInvalidInput, "longer than 200"},
		{"an overlong reason is invalid", opened, nil, &Resolution{By: "bob", Reason: strings.Repeat("r", 2001)}, ErrInvalidInput, `"reason" is longer`},
		{"acknowledging a resolved alert is refused", resolved, &Acknowledgement{By: "alice"}, nil, ErrResolved, "already resolved"},
		{"resolving a resolved alert is refused", resolved, nil, &Resolution{By: "alice"}, ErrResolved, "pipeline #32 succeeded"},
		{"acknowledging an alert never opened is refused", func(*testing.T) *State { return New(Limits{}) }, &Acknowledgement{By: "alice"}, nil, ErrNotOpened, "not open"},
		{"resolving an alert never opened is refused", func(*testing.T) *State { return New(Limits{}) }, nil, &Resolution{By: "alice"}, ErrNotOpened, "not open"},
		{"acknowledging an open alert is fine", opened, &Acknowledgement{By: "alice"}, nil, nil, ""},
		{"acknowledging again is fine", acknowledged, &Acknowledgement{By: "bob"}, nil, nil, ""},
		{"resolving an acknowledged alert is fine", acknowledged, nil, &Resolution{By: "bob"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.state(t)
			var err error
			if tt.ack != nil {
				err = s.CheckAcknowledge(*tt.ack)
			} else {
				err = s.CheckResolve(*tt.resolve)
			}
			if !errors.Is(err, tt.wantErr) || (err != nil && !strings.Contains(err.Error(), tt.says)) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.wantErr, tt.says)
			}
		})
	}
}

func TestAcknowledgeStopsRemindersAndIsIdempotent(t *testing.T) {
	s := opened(t)
	s.Remind(t0.Add(4*time.Hour), t0.Add(8*time.Hour))
	at := t0.Add(5 * time.Hour)
	changed, err := s.Acknowledge(Acknowledgement{By: " alice ", Note: "looking"}, at)
	if err != nil || !changed {
		t.Fatalf("acknowledge: %v %v", changed, err)
	}
	if s.Status != StatusAcknowledged || s.AcknowledgedBy != "alice" || s.AckNote != "looking" || !s.AcknowledgedAt.Equal(at) {
		t.Fatalf("state %s by %q note %q at %v", s.Status, s.AcknowledgedBy, s.AckNote, s.AcknowledgedAt)
	}
	if s.RemindersDue() || !s.NextReminderAt.IsZero() {
		t.Fatal("an acknowledged alert must not be reminded")
	}
	entries := len(s.Timeline)
	changed, err = s.Acknowledge(Acknowledgement{By: "bob"}, at.Add(time.Minute))
	if err != nil || changed || s.AcknowledgedBy != "alice" || len(s.Timeline) != entries {
		t.Fatalf("second acknowledge: changed %v err %v by %q", changed, err, s.AcknowledgedBy)
	}
}

func TestAnAcknowledgedAlertStillFollowsItsPipelines(t *testing.T) {
	s := acknowledged(t)
	if out := s.Apply(ev(33, "canceled"), t0); out != OutcomeSeverityChanged || s.Status != StatusAcknowledged {
		t.Fatalf("outcome %s status %s", out, s.Status)
	}
	if out := s.Apply(ev(34, "success"), t0); out != OutcomeResolved || s.Status != StatusResolved {
		t.Fatalf("outcome %s status %s", out, s.Status)
	}
}

func TestResolveByHandRecordsWhoAndWhy(t *testing.T) {
	s := opened(t)
	if err := s.Resolve(Resolution{By: "bob", Reason: "flaky runner"}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusResolved || s.ResolvedBy != "bob" || s.Resolution != "resolved by hand: flaky runner" {
		t.Fatalf("state %s by %q: %q", s.Status, s.ResolvedBy, s.Resolution)
	}
	last := s.Timeline[len(s.Timeline)-1]
	if last.Kind != OutcomeResolved || last.Actor != "bob" || last.Note != "flaky runner" {
		t.Fatalf("timeline entry %+v", last)
	}
	// A failure after a manual resolve belongs to a new alert.
	if out := s.Apply(ev(33, "failed"), t0); out != OutcomeReopen {
		t.Fatalf("outcome %s", out)
	}
}

func TestRemindRecordsEachReminder(t *testing.T) {
	s := opened(t)
	s.Remind(t0.Add(4*time.Hour), t0.Add(8*time.Hour))
	s.Remind(t0.Add(8*time.Hour), t0.Add(12*time.Hour))
	if s.Reminders != 2 || !s.NextReminderAt.Equal(t0.Add(12*time.Hour)) {
		t.Fatalf("reminders %d next %v", s.Reminders, s.NextReminderAt)
	}
	if last := s.Timeline[len(s.Timeline)-1]; last.Kind != OutcomeReminder || last.Note != "reminder 2" {
		t.Fatalf("timeline entry %+v", last)
	}
}
