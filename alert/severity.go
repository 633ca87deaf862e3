// Package alert holds alertflow's domain: what a GitLab pipeline event means
// for an alert, and how an alert's state moves. It knows nothing of Temporal
// or HTTP, so every rule can be tested with plain tables.
package alert

// Severity ranks how bad the newest pipeline of an alert is.
type Severity string

// Severities, from least to most urgent. The zero value means "none".
const (
	SeverityNone   Severity = ""
	SeverityLow    Severity = "LOW"
	SeverityMedium Severity = "MEDIUM"
	SeverityHigh   Severity = "HIGH"
)

// rank orders severities so that peak severity can only rise.
func (s Severity) rank() int {
	switch s {
	case SeverityLow:
		return 1
	case SeverityMedium:
		return 2
	case SeverityHigh:
		return 3
	default:
		return 0
	}
}

// Above reports whether s is more urgent than o.
func (s Severity) Above(o Severity) bool { return s.rank() > o.rank() }

// Status is where an alert is in its lifecycle.
type Status string

// Alert statuses. The zero value is an alert that has not been opened yet:
// the state of a run before its first bad pipeline.
const (
	StatusNone Status = ""
	// StatusPending: opened by a canceled or skipped pipeline and held for
	// a while, in case a newer pipeline supersedes it; nobody is told yet.
	StatusPending      Status = "pending"
	StatusOpen         Status = "open"
	StatusAcknowledged Status = "acknowledged"
	StatusResolved     Status = "resolved"
)

// Active reports whether the alert is open or acknowledged, that is, whether
// a person may still need to act on it.
func (s Status) Active() bool {
	return s == StatusOpen || s == StatusAcknowledged
}

// GitLab pipeline statuses that alertflow acts on. GitLab sends many more
// (created, pending, running, canceling, manual, scheduled, ...); those are
// progress, not outcomes, and are ignored.
const (
	PipelineFailed   = "failed"
	PipelineCanceled = "canceled"
	PipelineSkipped  = "skipped"
	PipelineSuccess  = "success"
)

// SeverityOf maps a pipeline status to the severity of the alert it opens.
// The second result is false for statuses that open no alert.
func SeverityOf(pipelineStatus string) (Severity, bool) {
	switch pipelineStatus {
	case PipelineFailed:
		return SeverityHigh, true
	case PipelineCanceled:
		return SeverityMedium, true
	case PipelineSkipped:
		return SeverityLow, true
	default:
		return SeverityNone, false
	}
}

// Route says what the intake must do with a pipeline status.
type Route int

// Routes of a pipeline status.
const (
	// RouteIgnore: a status that neither opens nor resolves an alert.
	RouteIgnore Route = iota
	// RouteOpen: a bad outcome; open the alert or update the open one.
	RouteOpen
	// RouteResolve: a green pipeline; resolve the open alert, if any.
	RouteResolve
)

// RouteOf tells the intake how to route a pipeline status.
func RouteOf(pipelineStatus string) Route {
	if _, bad := SeverityOf(pipelineStatus); bad {
		return RouteOpen
	}
	if pipelineStatus == PipelineSuccess {
		return RouteResolve
	}
	return RouteIgnore
}
