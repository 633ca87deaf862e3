package gitlabapi

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRefSendsNothingWhileTheRateLimitIsUsedUp(t *testing.T) {
	s := fake(t)
	s.AddBranch(project, "main")
	s.AddPipeline(project, pipe(1, "success"))
	now := time.Now().Truncate(time.Second)
	clk := &clock{t: now}
	c := client(t, s.URL())
	c.clock = clk.now
	reset := now.Add(42 * time.Second)
	s.RateLimit(0, reset)

	// Remaining 0 refuses nothing by itself: the first request goes, and
	// its answer closes the gate for the rest of the Ref.
	_, err := c.Ref(context.Background(), project, "main", false)
	wantWait(t, err, 42*time.Second)
	if n := s.Requests(); n != 1 {
		t.Fatalf("%d requests, want the list only", n)
	}

	sent := s.Requests()
	_, err = c.Ref(context.Background(), project, "main", false)
	wantWait(t, err, 42*time.Second)
	clk.advance(40 * time.Second)
	_, err = c.Ref(context.Background(), project, "main", false)
	wantWait(t, err, 2*time.Second)
	if n := s.Requests(); n != sent {
		t.Fatalf("%d requests with the rate limit used up, want none", n-sent)
	}

	// After the reset, Ref asks again.
	s.RateLimit(1999, reset.Add(time.Minute))
	clk.advance(3 * time.Second)
	got, err := c.Ref(context.Background(), project, "main", false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Newest == nil || got.Newest.Pipeline.ID != 1 {
		t.Errorf("Newest = %+v, want pipeline 1", got.Newest)
	}
	if n := s.Requests() - sent; n != 3 {
		t.Errorf("%d requests after the reset, want 3", n)
	}
}

func wantWait(t *testing.T, err error, after time.Duration) {
	t.Helper()
	var re *RetryError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a *RetryError", err)
	}
	if re.After != after {
		t.Errorf("After = %s, want %s", re.After, after)
	}
}

func TestTheGateIgnoresAResetThatHasPassedAndAnyRemaining(t *testing.T) {
	tests := []struct {
		name      string
		remaining int
		reset     time.Duration
	}{
		{name: "remaining 0, reset passed", remaining: 0, reset: -time.Second},
		{name: "remaining 0, reset now", remaining: 0, reset: 0},
		{name: "remaining 1, reset to come", remaining: 1, reset: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fake(t)
			s.AddBranch(project, "main")
			s.AddPipeline(project, pipe(1, "success"))
			now := time.Now().Truncate(time.Second)
			c := client(t, s.URL())
			c.clock = (&clock{t: now}).now
			s.RateLimit(tt.remaining, now.Add(tt.reset))
			for range 2 {
				if _, err := c.Ref(context.Background(), project, "main", false); err != nil {
					t.Fatal(err)
				}
			}
			if n := s.Requests(); n != 6 {
				t.Errorf("%d requests, want 6", n)
			}
		})
	}
}
