package alert

import (
	"testing"
	"time"
)

func TestAnAlertSilencedBeforeAnyoneHeardIsAnnouncedWhenTheSilenceEnds(t *testing.T) {
	s := New(Limits{})
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s.Status = StatusOpen
	until := now.Add(time.Hour)
	s.Suppress(now, "opened", true, "silence-a", until)
	s.Suppress(now.Add(time.Minute), "reminder", false, "silence-a", until)
	if s.Silenced == nil || !s.Silenced.Unheard || s.Silenced.Suppressed != 2 || s.HeardOf() {
		t.Fatalf("silenced %+v", s.Silenced)
	}
	if out := s.EndSilence(until, "over"); out != OutcomeOpened {
		t.Fatalf("end: %q, want the opening handed over", out)
	}
	if s.Silenced != nil || len(s.SilencesEnded) != 1 || !s.HeardOf() {
		t.Fatalf("after: silenced %+v, ended %v", s.Silenced, s.SilencesEnded)
	}
	if got := s.Timeline[len(s.Timeline)-1]; got.Kind != OutcomeSilenceEnded || got.Note != "over" {
		t.Fatalf("last entry %+v", got)
	}
}

func TestAnAlertPeopleHeardOfGetsAReminderWhenItsSilenceEnds(t *testing.T) {
	s := New(Limits{})
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s.Status = StatusAcknowledged
	s.Suppress(now, "reminder", false, "silence-b", now.Add(time.Hour))
	if !s.HeardOf() {
		t.Fatal("people heard of it before the silence")
	}
	// Another silence taking over keeps what was suppressed apart.
	s.Suppress(now, "reminder", false, "silence-c", now.Add(2*time.Hour))
	if s.Silenced.ID != "silence-c" || s.Silenced.Suppressed != 1 {
		t.Fatalf("silenced %+v", s.Silenced)
	}
	if out := s.EndSilence(now.Add(2*time.Hour), "over"); out != OutcomeReminder {
		t.Fatalf("end: %q, want a reminder", out)
	}
}

func TestAResolvedAlertHandsNothingOverAndRemembersFewEndedSilences(t *testing.T) {
	s := New(Limits{})
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i := range maxEnded + 3 {
		s.Status = StatusOpen
		s.Suppress(now, "opened", true, string(rune('a'+i)), now.Add(time.Hour))
		s.Status = StatusResolved
		if out := s.EndSilence(now, "over"); out != "" {
			t.Fatalf("resolved alert handed over %q", out)
		}
	}
	if len(s.SilencesEnded) != maxEnded || s.SilencesEnded[maxEnded-1] != string(rune('a'+maxEnded+2)) {
		t.Fatalf("ended %v", s.SilencesEnded)
	}
	if out := s.EndSilence(now, "again"); out != "" {
		t.Fatalf("no silence, yet %q", out)
	}
}
