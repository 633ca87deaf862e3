package monitor

import (
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
)

func TestSchedulesMonitorEachActiveScheduleAtItsOwnHours(t *testing.T) {
	s := Schedules{Project: 29, Path: "team-a/app", Grace: 30 * time.Minute, Severity: alert.SeverityMedium}
	specs, skipped := s.Specs([]Schedule{
		{ID: 13, Description: "nightly", Ref: "refs/heads/main", Cron: "0 2 * * *", CronTimezone: "Asia/Tokyo", Active: true},
		{ID: 14, Description: "weekly", Ref: "release/1.0", Cron: "0 6 * * 1", CronTimezone: "UTC", Active: true},
		{ID: 15, Description: "switched off", Ref: "main", Cron: "0 3 * * *", Active: false},
		{ID: 16, Description: "odd zone", Ref: "main", Cron: "0 4 * * *", CronTimezone: "Pacific Time (US & Canada)", Active: true},
	})
	if len(specs) != 2 {
		t.Fatalf("specs %+v, want the two active schedules that read", specs)
	}
	nightly := specs[0]
	if nightly.Name != "schedule-13" || nightly.Ref != "main" || nightly.Cron != "CRON_TZ=Asia/Tokyo 0 2 * * *" ||
		nightly.Grace != 30*time.Minute || nightly.Severity != alert.SeverityMedium || nightly.AlertID() != "29-main" {
		t.Errorf("nightly %+v", nightly)
	}
	// 02:00 in Tokyo is 17:00 UTC the day before; with 30m of grace.
	after := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	if got, want := nightly.Deadline(after), time.Date(2026, 12, 7, 17, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("nightly deadline %s, want %s", got, want)
	}
	if specs[1].Cron != "0 6 * * 1" || specs[1].Ref != "release/1.0" {
		t.Errorf("weekly %+v", specs[1])
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0], "pipeline schedule 16") {
		t.Errorf("skipped %q, want the schedule whose time zone does not read", skipped)
	}
}

func TestSchedulesOfAnotherInstanceAreNamedWithIt(t *testing.T) {
	specs, _ := Schedules{Instance: "b", Project: 1, Grace: time.Hour, Severity: alert.SeverityHigh}.Specs(
		[]Schedule{{ID: 7, Ref: "main", Cron: "@daily", Active: true}})
	if len(specs) != 1 || specs[0].Name != "b:schedule-7" || specs[0].AlertID() != "b:1-main" {
		t.Fatalf("specs %+v", specs)
	}
}
