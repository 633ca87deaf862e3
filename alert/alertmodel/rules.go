package alertmodel

import (
	"strings"

	"github.com/alertflow/alertflow/alert"
)

// severities is rule 1: the bad pipeline statuses and the severity each
// opens an alert with.
var severities = map[string]alert.Severity{
	alert.PipelineFailed:   alert.SeverityHigh,
	alert.PipelineCanceled: alert.SeverityMedium,
	alert.PipelineSkipped:  alert.SeverityLow,
}

// SeverityOf is rule 1: the severity a pipeline status stands for, and
// whether the status is bad at all.
func SeverityOf(status string) (alert.Severity, bool) {
	s, bad := severities[status]
	return s, bad
}

// Rank orders severities, none lowest, so that a peak can only rise.
func Rank(s alert.Severity) int {
	switch s {
	case alert.SeverityLow:
		return 1
	case alert.SeverityMedium:
		return 2
	case alert.SeverityHigh:
		return 3
	}
	return 0
}

// ValidManual is rule 5's check of a manual action (acknowledge or resolve
// by hand) by who, with a note or reason text, on an alert in status: the
// error the domain must answer with, or nil. Acknowledging a pending alert
// is refused too under RulesGitLab; GitLab.Acknowledge adds that.
func ValidManual(status alert.Status, by, text string) error {
	if strings.TrimSpace(by) == "" || len(by) > 200 || len(text) > 2000 {
		return alert.ErrInvalidInput
	}
	switch status {
	case alert.StatusNone:
		return alert.ErrNotOpened
	case alert.StatusResolved:
		return alert.ErrResolved
	}
	return nil
}
