package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/monitor"
)

// goodRoute follows goodReceivers in the files of the monitor tests: the
// monitors start on line 10.
const goodRoute = goodReceivers + "route:\n  receiver: chat\n"

func TestParseReadsMonitors(t *testing.T) {
	c, err := parse(goodRoute + `monitors:
  - name: nightly
    project: 42
    path: team-a/app
    ref: main
    every: 24h
    grace: 30m
    severity: medium
    instance: b
  - project: 7
    ref: release/1.0
    cron: "0 2 * * 1-5"
  - project: 7
    ref: release/1.0
    name: release-hourly
    every: 20m
    severity: LOW
  - project: 7
    ref: main
    cron: "@daily"
    grace: 0s
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []monitor.Spec{
		{Name: "nightly", Instance: "b", Project: 42, Path: "team-a/app", Ref: "main", Every: 24 * time.Hour, Grace: 30 * time.Minute, Severity: alert.SeverityMedium},
		// Defaults: the alert ID as name, 1h of grace for a cron, HIGH.
		{Name: "7-release/1.0", Project: 7, Ref: "release/1.0", Cron: "0 2 * * 1-5", Grace: time.Hour, Severity: alert.SeverityHigh},
		// A second monitor of one alert ID; an every shorter than 1h is its own grace.
		{Name: "release-hourly", Project: 7, Ref: "release/1.0", Every: 20 * time.Minute, Grace: 20 * time.Minute, Severity: alert.SeverityLow},
		// A grace of 0 given is 0, not the default.
		{Name: "7-main", Project: 7, Ref: "main", Cron: "@daily", Grace: 0, Severity: alert.SeverityHigh},
	}
	if !slices.Equal(c.Monitors, want) {
		t.Errorf("monitors:\n%+v\nwant:\n%+v", c.Monitors, want)
	}
	for _, s := range c.Monitors {
		if err := s.Check(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
	if c.Monitors[0].Name != "nightly" || c.Monitors[0].AlertID() != "b:42-main" {
		t.Errorf("the first monitor: %q, %q", c.Monitors[0].Name, c.Monitors[0].AlertID())
	}
}

func TestParseWithoutMonitors(t *testing.T) {
	for _, src := range []string{goodRoute, goodRoute + "monitors:\n", goodRoute + "monitors: []\n"} {
		c, err := parse(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if c.Monitors != nil {
			t.Errorf("%s: monitors %+v, want none", src, c.Monitors)
		}
		if len(c.Receivers) != 2 || c.Route.Receiver != "chat" {
			t.Errorf("%s: read as %+v", src, c)
		}
	}
}

func TestParseRefusesBadMonitors(t *testing.T) {
	// Each file is goodRoute, then "monitors:" on line 10, then these.
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"not a list", "  name: x\n", []string{
			`alertflow.yaml:11: monitors: want a list of monitors, not a mapping`}},
		{"a monitor that is not a mapping", "  - nightly\n", []string{
			`alertflow.yaml:11: monitors[0]: want a mapping of name, project, path, ref, every, cron, schedules, grace, severity, instance, not a single value`}},
		{"an unknown key", "  - project: 1\n    ref: main\n    every: 24h\n    branch: main\n", []string{
			`alertflow.yaml:14: monitors[0].branch: unknown key "branch": want one of name, project, path, ref, every, cron, schedules, grace, severity, instance`}},
		{"a key given twice", "  - project: 1\n    ref: main\n    every: 24h\n    ref: dev\n", []string{
			`alertflow.yaml:14: monitors[0].ref: given twice (first on line 12)`}},
		{"no project and no ref", "  - every: 24h\n", []string{
			`alertflow.yaml:11: monitors[0].project: required: the GitLab project ID`,
			`alertflow.yaml:11: monitors[0].ref: required: the branch or tag the schedule runs on`}},
		{"a project that is not an integer", "  - project: team-a/app\n    ref: main\n    every: 24h\n", []string{
			`alertflow.yaml:11: monitors[0].project: want an integer project ID`}},
		{"a project of 0", "  - project: 0\n    ref: main\n    every: 24h\n", []string{
			`alertflow.yaml:11: monitors[0].project: 0: want a GitLab project ID, a positive integer`}},
		{"an empty ref", "  - project: 1\n    ref: \"\"\n    every: 24h\n", []string{
			`alertflow.yaml:12: monitors[0].ref: is empty`}},
		{"a ref with a control character", "  - project: 1\n    ref: \"main\\u0007\"\n    every: 24h\n", []string{
			`alertflow.yaml:12: monitors[0].ref: "main\a": want no control characters`}},
		{"neither every nor cron", "  - project: 1\n    ref: main\n", []string{
			`alertflow.yaml:11: monitors[0]: no schedule: want every (an interval such as 24h) or cron (such as "0 2 * * *")`}},
		{"schedules with a ref", "  - project: 1\n    schedules: true\n    ref: main\n", []string{
			`alertflow.yaml:13: monitors[0].ref: not with schedules: each pipeline schedule gives its own (named schedule-<id>)`}},
		{"schedules that is not true", "  - project: 1\n    schedules: yes\n", []string{
			`alertflow.yaml:12: monitors[0].schedules: "yes": want true, or leave it out and give ref and every or cron`}},
		{"schedules without a project", "  - schedules: true\n", []string{
			`alertflow.yaml:11: monitors[0].project: required: the GitLab project ID`}},
		{"both every and cron", "  - project: 1\n    ref: main\n    every: 24h\n    cron: \"0 2 * * *\"\n", []string{
			`alertflow.yaml:14: monitors[0].cron: give every or cron, not both`}},
		{"a bad every", "  - project: 1\n    ref: main\n    every: 1d\n", []string{
			`alertflow.yaml:13: monitors[0].every: "1d": want a duration such as 24h, 30m or 1h30m`}},
		{"an every of 0", "  - project: 1\n    ref: main\n    every: 0s\n", []string{
			`alertflow.yaml:13: monitors[0].every: 0: want an interval from 1m to 744h (31 days)`}},
		{"a short every", "  - project: 1\n    ref: main\n    every: 30s\n", []string{
			`alertflow.yaml:13: monitors[0].every: 30s: want an interval from 1m to 744h (31 days)`}},
		{"a long every", "  - project: 1\n    ref: main\n    every: 800h\n", []string{
			`alertflow.yaml:13: monitors[0].every: 800h: want an interval from 1m to 744h (31 days)`}},
		{"a bad cron", "  - project: 1\n    ref: main\n    cron: \"0 2 * *\"\n", []string{
			`alertflow.yaml:13: monitors[0].cron: "0 2 * *": expected exactly 5 fields, found 4: [0 2 * *]: want five fields (minute hour day-of-month month day-of-week), such as "0 2 * * *"`}},
		{"a cron that never fires", "  - project: 1\n    ref: main\n    cron: \"0 0 31 4 *\"\n", []string{
			`alertflow.yaml:13: monitors[0].cron: "0 0 31 4 *" never fires, or not every year: want a schedule that fires at least once in 366 days`}},
		{"a cron that is a list", "  - project: 1\n    ref: main\n    cron: [\"0 2 * * *\"]\n", []string{
			`alertflow.yaml:13: monitors[0].cron: want a single value, not a list`}},
		{"a bad grace", "  - project: 1\n    ref: main\n    every: 24h\n    grace: soon\n", []string{
			`alertflow.yaml:14: monitors[0].grace: "soon": want a duration such as 24h, 30m or 1h30m`}},
		{"a long grace", "  - project: 1\n    ref: main\n    every: 24h\n    grace: 200h\n", []string{
			`alertflow.yaml:14: monitors[0].grace: 200h: want from 0 to 168h (7 days)`}},
		{"a negative grace", "  - project: 1\n    ref: main\n    every: 24h\n    grace: -1m\n", []string{
			`alertflow.yaml:14: monitors[0].grace: -1m: want from 0 to 168h (7 days)`}},
		{"an unknown severity", "  - project: 1\n    ref: main\n    every: 24h\n    severity: critical\n", []string{
			`alertflow.yaml:14: monitors[0].severity: unknown severity "critical": want HIGH, MEDIUM or LOW`}},
		{"a bad instance", "  - project: 1\n    ref: main\n    every: 24h\n    instance: GitLab-B\n", []string{
			`alertflow.yaml:14: monitors[0].instance: "GitLab-B": want a lower-case letter, then up to 31 lower-case letters, digits and '-'`}},
		{"a name with a space", "  - name: night ly\n    project: 1\n    ref: main\n    every: 24h\n", []string{
			`alertflow.yaml:11: monitors[0].name: "night ly": want printable ASCII without spaces`}},
		{"a default name that is no name", "  - project: 1\n    ref: \"main \"\n    every: 24h\n", []string{
			`alertflow.yaml:11: monitors[0].name: required here: the default, the alert ID, is no valid name: "1-main ": want printable ASCII without spaces`}},
		{"a path with a control character", "  - project: 1\n    path: \"team-a/\\tapp\"\n    ref: main\n    every: 24h\n", []string{
			`alertflow.yaml:12: monitors[0].path: "team-a/\tapp": want no control characters`}},
		{"two monitors of one name", "  - name: nightly\n    project: 1\n    ref: main\n    every: 24h\n  - name: nightly\n    project: 2\n    ref: main\n    every: 24h\n", []string{
			`alertflow.yaml:15: monitors[1].name: duplicate monitor "nightly" (first on line 11)`}},
		{"two monitors of one alert ID without names", "  - project: 1\n    ref: main\n    every: 24h\n  - project: 1\n    ref: main\n    cron: \"0 2 * * *\"\n", []string{
			`alertflow.yaml:14: monitors[1].name: duplicate monitor "1-main" (first on line 11): its default name, the alert ID, is taken; give it a name`}},
		{"a name that is another's default", "  - project: 1\n    ref: main\n    every: 24h\n  - name: 1-main\n    project: 2\n    ref: main\n    every: 24h\n", []string{
			`alertflow.yaml:14: monitors[1].name: duplicate monitor "1-main" (first on line 11)`}},
		{"every problem of one monitor, in file order", "  - name: \"\"\n    project: x\n    ref: main\n    every: 10s\n    grace: 8d\n    severity: urgent\n", []string{
			`alertflow.yaml:11: monitors[0].name: is empty`,
			`alertflow.yaml:12: monitors[0].project: want an integer project ID`,
			`alertflow.yaml:14: monitors[0].every: 10s: want an interval from 1m to 744h (31 days)`,
			`alertflow.yaml:15: monitors[0].grace: "8d": want a duration such as 24h, 30m or 1h30m`,
			`alertflow.yaml:16: monitors[0].severity: unknown severity "urgent": want HIGH, MEDIUM or LOW`}},
		{"merge keys", "  - &m\n    project: 1\n    ref: main\n    every: 24h\n  - <<: *m\n    name: other\n", []string{
			`alertflow.yaml:15: monitors[1]: merge keys (<<) are not supported; write the keys out`,
			`alertflow.yaml:15: monitors[1].project: required: the GitLab project ID`,
			`alertflow.yaml:15: monitors[1].ref: required: the branch or tag the schedule runs on`,
			`alertflow.yaml:15: monitors[1]: no schedule: want every (an interval such as 24h) or cron (such as "0 2 * * *")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := goodRoute + "monitors:\n" + tt.src
			c, err := parse(src)
			if err == nil {
				t.Fatalf("accepted:\n%s\nas %+v", src, c.Monitors)
			}
			if c != nil {
				t.Errorf("returned a configuration with the error")
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("the error holds no *Error")
			}
		})
	}
}

// An aliased monitor is read as its anchor, and so is a second
// monitor of the same name.
func TestParseAnAliasedMonitor(t *testing.T) {
	c, err := parse(goodRoute + "monitors:\n  - &m {project: 1, ref: main, every: 24h}\n  - {name: other, project: 1, ref: main, every: 12h}\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Monitors) != 2 || c.Monitors[0].Name != "1-main" || c.Monitors[1].Every != 12*time.Hour {
		t.Errorf("monitors %+v", c.Monitors)
	}
	_, err = parse(goodRoute + "monitors:\n  - &m {project: 1, ref: main, every: 24h}\n  - *m\n")
	if want := `alertflow.yaml:11: monitors[1].name: duplicate monitor "1-main" (first on line 11): its default name, the alert ID, is taken; give it a name`; err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

// FuzzParseMonitors: whatever the monitors, Parse does not panic, and
// what it accepts passes Check with names unique.
func FuzzParseMonitors(f *testing.F) {
	f.Add("  - {project: 1, ref: main, every: 24h}\n")
	f.Add("  - {name: n, project: 42, path: a/b, ref: main, cron: \"CRON_TZ=UTC 0 2 * * *\", grace: 0s, severity: low, instance: b}\n")
	f.Add("  - {project: 1, ref: main, cron: \"0 0 29 2 *\"}\n  - {project: 1, ref: main, every: 1m}\n")
	f.Fuzz(func(t *testing.T, monitors string) {
		c, err := parse(goodRoute + "monitors:\n" + monitors)
		if err != nil {
			return
		}
		names := map[string]bool{}
		for _, s := range c.Monitors {
			if err := s.Check(); err != nil {
				t.Fatalf("accepted %+v, which Check refuses: %v", s, err)
			}
			if names[s.Name] {
				t.Fatalf("accepted two monitors named %q", s.Name)
			}
			names[s.Name] = true
		}
	})
}

func TestParseReadsScheduleMonitors(t *testing.T) {
	c, err := parse(goodRoute + `monitors:
  - project: 29
    path: team-a/app
    schedules: true
    severity: low
  - project: 30
    schedules: true
    grace: 10m
    instance: b
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []monitor.Schedules{
		{Project: 29, Path: "team-a/app", Grace: monitor.DefaultScheduleGrace, Severity: alert.SeverityLow},
		{Instance: "b", Project: 30, Grace: 10 * time.Minute, Severity: alert.SeverityHigh},
	}
	if !slices.Equal(c.ScheduleMonitors, want) || len(c.Monitors) != 0 {
		t.Errorf("schedule monitors %+v, monitors %+v; want %+v", c.ScheduleMonitors, c.Monitors, want)
	}
}
