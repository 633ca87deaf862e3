package alertmodel

import (
	"fmt"
	"slices"
	"strconv"
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

// DedupKeys is rule 3: the keys an event is known by, its pipeline state
// (the content) and, when GitLab sent one, its delivery's Idempotency-Key.
func DedupKeys(ev alert.Event) []string {
	p := ev.Pipeline
	finished := "none"
	if !p.FinishedAt.IsZero() {
		finished = strconv.FormatInt(p.FinishedAt.Unix(), 10)
	}
	keys := []string{fmt.Sprintf("state %d %s %s", p.ID, p.Status, finished)}
	if ev.IdempotencyKey != "" {
		keys = append(keys, "delivery "+ev.IdempotencyKey)
	}
	return keys
}

// Remembers reports whether any of keys is among the remembered ones.
func Remembers(remembered, keys []string) bool {
	return slices.ContainsFunc(keys, func(k string) bool { return slices.Contains(remembered, k) })
}

// Remember adds keys to the remembered ones, oldest first, and forgets the
// oldest beyond capacity.
func Remember(remembered, keys []string, capacity int) []string {
	remembered = append(remembered, keys...)
	return remembered[max(0, len(remembered)-capacity):]
}

// Count is rule 12: it tallies an event's outcome in the bucket of
// alert.Counts it belongs to.
func Count(c *alert.Counts, out alert.Outcome) {
	c.Events++
	switch out {
	case alert.OutcomeStale:
		c.Stale++
	case alert.OutcomeDuplicate:
		c.Duplicates++
	case alert.OutcomeSuperseded:
		c.Superseded++
	case alert.OutcomeChild:
		c.Children++
	case alert.OutcomeIgnored, alert.OutcomeReopen, alert.OutcomeNoVerdict:
		c.Ignored++
	default:
		c.Applied++
	}
}
