package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/monitor"
)

// ActivityOpenMissed opens (or updates) the alert of a scheduled pipeline
// that did not run by its deadline.
const ActivityOpenMissed = "OpenMissed"

// MissedRequest is the input of ActivityOpenMissed.
type MissedRequest struct {
	Spec monitor.Spec `json:"spec"`
	Due  time.Time    `json:"due"`
}

// Opener signals an event to its alert, starting the alert when there is
// none; source says in the alert's memo what opened it.
type Opener interface {
	Open(ctx context.Context, ev alert.Event, source string) error
}

// MissedRuns is the activity of monitor workflows: it opens alerts as the
// intake does, through the opener it is given.
type MissedRuns struct {
	opener Opener
}

// NewMissedRuns returns the activity that opens the alerts of missed runs
// through o.
func NewMissedRuns(o Opener) *MissedRuns {
	return &MissedRuns{opener: o}
}

// OpenMissed signals the missed run to its alert, starting the alert when
// there is none, as a failed pipeline's delivery does.
func (m *MissedRuns) OpenMissed(ctx context.Context, req MissedRequest) error {
	sp := req.Spec
	ev := alert.Event{
		Project:    alert.Project{ID: sp.Project, Path: sp.Path},
		Pipeline:   alert.Pipeline{Ref: sp.Ref},
		Instance:   sp.Instance,
		ReceivedAt: time.Now().UTC(),
		Missed:     &alert.Missed{Monitor: sp.Name, Due: req.Due, Severity: sp.Severity},
	}
	if err := m.opener.Open(ctx, ev, "monitor "+sp.Name); err != nil {
		return fmt.Errorf("open the alert of monitor %s's missed run: %w", sp.Name, err)
	}
	activity.GetLogger(ctx).Info("Scheduled pipeline did not run", "Monitor", sp.Name, "AlertID", ev.AlertID(), "Due", req.Due)
	return nil
}
