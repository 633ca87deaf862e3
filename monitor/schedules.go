package monitor

import (
	"fmt"
	"strings"
	"time"

	"github.com/alertflow/alertflow/alert"
)

// Schedules asks for a monitor of each active pipeline schedule of a
// project, as GitLab's API lists them: the schedule's own ref, cron and
// time zone, so that nobody copies them into the routing file.
type Schedules struct {
	Instance string         `json:"instance,omitempty"`
	Project  int64          `json:"project"`
	Path     string         `json:"path,omitempty"`
	Grace    time.Duration  `json:"grace"`
	Severity alert.Severity `json:"severity"`
}

// Schedule is a pipeline schedule as GitLab's API lists it.
type Schedule struct {
	ID          int64
	Description string
	// Ref is as GitLab gives it: "main", or "refs/heads/main" from the
	// versions that keep the full ref.
	Ref          string
	Cron         string
	CronTimezone string
	NextRunAt    time.Time
	Active       bool
}

// DefaultScheduleGrace is how long after a schedule's time its pipeline
// may finish when the file gives no grace: GitLab starts scheduled
// pipelines when its schedule worker next runs, minutes after the time.
const DefaultScheduleGrace = time.Hour

// Specs are the monitors of the active schedules in list, one each, named
// "schedule-<id>" (with the instance's name before it, "b:schedule-7").
// A schedule whose cron or time zone cannot be read here is left out, and
// why is in skipped: it is never watched at the wrong hours.
func (s Schedules) Specs(list []Schedule) (specs []Spec, skipped []string) {
	for _, sc := range list {
		if !sc.Active {
			continue
		}
		name := fmt.Sprintf("schedule-%d", sc.ID)
		if s.Instance != "" {
			name = s.Instance + ":" + name
		}
		cron := sc.Cron
		if tz := strings.TrimSpace(sc.CronTimezone); tz != "" && tz != "UTC" && tz != "Etc/UTC" {
			cron = "CRON_TZ=" + tz + " " + cron
		}
		spec := Spec{
			Name: name, Instance: s.Instance, Project: s.Project, Path: s.Path,
			Ref: branchOf(sc.Ref), Cron: cron, Grace: s.Grace, Severity: s.Severity,
		}
		if err := spec.Check(); err != nil {
			skipped = append(skipped, fmt.Sprintf("pipeline schedule %d of project %d (%q): %v", sc.ID, s.Project, sc.Description, err))
			continue
		}
		specs = append(specs, spec)
	}
	return specs, skipped
}

// branchOf is the ref a pipeline of the schedule carries: GitLab's
// pipeline events name a branch or tag without its refs/heads/ prefix.
func branchOf(ref string) string {
	for _, prefix := range []string{"refs/heads/", "refs/tags/"} {
		if after, ok := strings.CutPrefix(ref, prefix); ok {
			return after
		}
	}
	return ref
}
