package gitlabapi

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/monitor"
)

func TestSchedulesListsTheActiveSchedulesOfEveryPage(t *testing.T) {
	s := fake(t)
	next := time.Date(2026, 12, 8, 2, 0, 0, 0, time.UTC)
	for id := int64(1); id <= 130; id++ {
		s.AddSchedule(project, monitor.Schedule{ID: id, Ref: "refs/heads/main", Cron: "0 2 * * *", CronTimezone: "UTC", NextRunAt: next, Active: id%10 != 0})
	}
	got, err := client(t, s.URL()).Schedules(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	// 117 active ones: more than the 100 of one page.
	if len(got) != 117 {
		t.Fatalf("%d schedules, want 117", len(got))
	}
	for _, sc := range got {
		if !sc.Active || sc.Ref != "refs/heads/main" || sc.Cron != "0 2 * * *" || !sc.NextRunAt.Equal(next) {
			t.Fatalf("schedule %+v", sc)
		}
	}
	if n := s.Requests(); n != 2 {
		t.Errorf("%d requests, want 2 pages", n)
	}
}

func TestSchedulesOfAProjectTheTokenCannotSeeIsPermanent(t *testing.T) {
	s := fake(t)
	_, err := client(t, s.URL()).Schedules(context.Background(), 404)
	if !errors.Is(err, ErrPermanent) || strings.Contains(err.Error(), testToken) {
		t.Fatalf("error %v, want a permanent one without the token", err)
	}
}
