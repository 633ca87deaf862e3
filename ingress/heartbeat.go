package ingress

import (
	"context"
	"fmt"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/workflows"
)

// sourceSchedule is GitLab's source of a pipeline that a pipeline
// schedule started: only those are the runs heartbeat monitors wait for,
// since a push pipeline on the branch says nothing of the schedule.
const sourceSchedule = "schedule"

// heartbeat tells the ref's monitors, if it has any, that a scheduled
// pipeline finished. A ref nobody monitors answers "not found", which
// costs one call per scheduled pipeline: those are few.
func (s *Server) heartbeat(ctx context.Context, ev alert.Event) error {
	p := ev.Pipeline
	if p.Source != sourceSchedule || !finished(p.Status) {
		return nil
	}
	run := workflows.MonitorRun{PipelineID: p.ID, Status: p.Status, FinishedAt: p.FinishedAt}
	if run.FinishedAt.IsZero() {
		run.FinishedAt = time.Now().UTC()
	}
	err := s.temporal.SignalWorkflow(ctx, workflows.MonitorID(ev.AlertID()), "", workflows.SignalMonitorRun, run)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("tell the monitors of %s of pipeline #%d: %w", ev.AlertID(), p.ID, err)
	}
	return nil
}

// finished says whether a pipeline status is the end of a run: a failed
// or canceled scheduled pipeline ran too (its failure is an alert of its
// own); skipped ran no job.
func finished(status string) bool {
	switch status {
	case alert.PipelineSuccess, alert.PipelineFailed, alert.PipelineCanceled:
		return true
	}
	return false
}
