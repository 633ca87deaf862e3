package activities

import (
	"context"
	"slices"
	"time"

	"github.com/alertflow/alertflow/route"
	"github.com/alertflow/alertflow/silence"
)

// Silencing names the silence that holds a notification back, and until
// when it does.
type Silencing struct {
	ID    string    `json:"id"`
	Until time.Time `json:"until"`
}

// Silences lists the silences that may hold notifications back: those
// not expired (the active and those still to start).
type Silences func(ctx context.Context) ([]silence.Active, error)

// SilenceWith makes the routing of s check silences from active. A
// function, not a method: every exported method of Sinks is an activity.
func SilenceWith(s *Sinks, active Silences) {
	s.silences = active
}

// silencing finds the silence holding a notification of the alert labelled
// l back at now. A silence store that cannot be read silences nothing:
// a page too many is better than a page lost, and the error is logged.
func (s *Sinks) silencing(ctx context.Context, l route.Labels, alertID string, ended []string, now time.Time) *Silencing {
	if s.silences == nil {
		return nil
	}
	set, err := s.silences(ctx)
	if err != nil {
		s.logger.ErrorContext(ctx, "Silences could not be read: the notification goes out", "alert_id", alertID, "error", err)
		return nil
	}
	set = slices.DeleteFunc(slices.Clone(set), func(a silence.Active) bool { return slices.Contains(ended, a.ID) })
	found, ok := silence.Silencing(set, l, now)
	if !ok {
		return nil
	}
	return &Silencing{ID: found.ID, Until: found.EndsAt}
}
