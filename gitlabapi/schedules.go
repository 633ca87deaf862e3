package gitlabapi

import (
	"context"
	"fmt"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/alertflow/alertflow/monitor"
)

// maxSchedulePages bounds the schedules read of one project: 500 is far
// more than a project keeps.
const maxSchedulePages = 5

// Schedules lists the project's active pipeline schedules
// (GET /projects/:id/pipeline_schedules?scope=active), every page.
func (c *Client) Schedules(ctx context.Context, projectID int64) ([]monitor.Schedule, error) {
	what := fmt.Sprintf("list pipeline schedules of project %d", projectID)
	if projectID <= 0 {
		return nil, fmt.Errorf("%s: %w: no such project", what, ErrPermanent)
	}
	opt := &gitlab.ListPipelineSchedulesOptions{
		ListOptions: gitlab.ListOptions{PerPage: 100},
		Scope:       gitlab.Ptr(gitlab.PipelineScheduleActive),
	}
	var out []monitor.Schedule
	err := c.eachPage(ctx, what, maxSchedulePages, func(options []gitlab.RequestOptionFunc) (*gitlab.Response, bool, error) {
		list, resp, err := c.api.PipelineSchedules.ListPipelineSchedules(projectID, opt, options...)
		for _, sc := range list {
			if sc != nil {
				out = append(out, monitor.Schedule{
					ID: sc.ID, Description: sc.Description, Ref: sc.Ref, Cron: sc.Cron,
					CronTimezone: sc.CronTimezone, NextRunAt: timeOf(sc.NextRunAt), Active: sc.Active,
				})
			}
		}
		return resp, false, err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
