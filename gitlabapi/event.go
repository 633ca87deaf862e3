package gitlabapi

import (
	"cmp"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/alertflow/alertflow/alert"
)

// finished reports whether a pipeline with status has finished in the sense
// alert.RulesFinished counts: success, failed or canceled. Skipped is not
// finished to GitLab, and the rest are still to run or running.
func finished(status string) bool {
	switch status {
	case "success", "failed", "canceled":
		return true
	}
	return false
}

// eventOf is the event the webhook intake would have built from a delivery
// about p, as far as the API tells it: the API has no failed jobs, commit or
// merge request in a pipeline, and the ref is the one asked about.
func eventOf(projectID int64, ref string, p *gitlab.Pipeline) *alert.Event {
	ev := &alert.Event{
		Project: alert.Project{ID: projectID},
		Pipeline: alert.Pipeline{
			ID:         p.ID,
			IID:        p.IID,
			Ref:        ref,
			Tag:        p.Tag,
			SHA:        p.SHA,
			Source:     string(p.Source),
			Status:     p.Status,
			URL:        p.WebURL,
			CreatedAt:  timeOf(p.CreatedAt),
			FinishedAt: timeOf(p.FinishedAt),
			Duration:   float64(p.Duration),
		},
	}
	if p.User != nil {
		// As the intake does: the display name, else the username.
		ev.User = cmp.Or(p.User.Name, p.User.Username)
	}
	ev.Bound()
	return ev
}

// timeOf is *t, or the zero time GitLab's null means.
func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
