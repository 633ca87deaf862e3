package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/alert"
)

// Flapping (RevisionFlapping on): alert.State decides when an alert is
// flapping from the memory its ID carries from run to run; the run adds
// the timer that finds a green flapping branch stable. Only states of
// RevisionFlapping runs have flapping settings, so older histories never
// set it.

// stableTimer returns the timer that fires when a flapping alert's branch
// will have been green for the whole flapping window, starting it when the
// branch went green and starting it again when it went green anew.
func (r *run) stableTimer(ctx workflow.Context) workflow.Future {
	var at time.Time
	if r.b.flaps {
		at = r.st.StableAt()
	}
	return r.stable.until(ctx, at)
}

// stableDue resolves the flapping alert whose branch has stayed green for
// the window: people hear that it is stable.
func (r *run) stableDue(ctx workflow.Context, timer workflow.Future) {
	r.stable.fired()
	if timer.Get(ctx, nil) != nil {
		return
	}
	severity := r.st.Severity
	if out := r.st.Stabilize(workflow.Now(ctx)); out != "" {
		r.changed(ctx, out, alert.ResolvedByAlertflow, r.st.Resolution, severity)
	}
}

// flappingDetails is the Web UI's line on a flapping alert: since when,
// how often it flipped, and when it will be stable if it stays green.
func flappingDetails(s *alert.State) string {
	line := fmt.Sprintf("**Flapping** since %s, flips: %d", s.FlappedAt.UTC().Format(time.RFC3339), s.Flips)
	if at := s.StableAt(); !at.IsZero() {
		line += fmt.Sprintf("; green since %s, stable at %s unless it fails again",
			s.GreenSince.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	return line + "\n\n"
}
