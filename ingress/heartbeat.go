package ingress

import (
	"context"
	"net/http"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/visibility"
	"github.com/alertflow/alertflow/workflows"
)

// sourceSchedule is GitLab's source of a pipeline that a pipeline
// schedule started: only those are the runs heartbeat monitors wait for,
// since a push pipeline on the branch says nothing of the schedule.
const sourceSchedule = "schedule"

// heartbeat tells the ref's monitors, if it has any, that a scheduled
// pipeline finished, once its alert took the delivery: the alert comes
// first, and a monitor that missed a run pages at its deadline at worst. A
// ref nobody monitors answers "not found", which costs one call per
// scheduled pipeline: those are few. A failure is logged and counted;
// GitLab has its answer already.
func (s *Server) heartbeat(r *http.Request, ev alert.Event) {
	p := ev.Pipeline
	if p.Source != sourceSchedule || !finished(p.Status) {
		return
	}
	run := workflows.MonitorRun{PipelineID: p.ID, Status: p.Status, FinishedAt: p.FinishedAt}
	if run.FinishedAt.IsZero() {
		run.FinishedAt = time.Now().UTC()
	}
	ctx, cancel := context.WithTimeout(r.Context(), temporalTimeout)
	defer cancel()
	err := s.temporal.SignalWorkflow(ctx, workflows.MonitorID(ev.AlertID()), "", workflows.SignalMonitorRun, run)
	if err != nil && !visibility.NotFound(err) {
		s.metrics.temporalError("signal_monitor")
		s.logger.ErrorContext(r.Context(), "temporal call failed", "operation", "signal_monitor", "alert_id", ev.AlertID(),
			"pipeline_id", p.ID, "request_id", RequestID(r.Context()), "error", err)
	}
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
