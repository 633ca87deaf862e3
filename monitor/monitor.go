// Package monitor holds heartbeat monitors: when a scheduled pipeline must
// have finished by, so that one that never ran opens an alert.
package monitor

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/robfig/cron/v3"

	"github.com/alertflow/alertflow/alert"
)

// Spec is one monitor: project Project's ref Ref must see a scheduled
// pipeline finish every Every, or after each time of Cron, within Grace.
// It travels as JSON in a workflow's input, so it holds only plain values:
// the cron schedule is parsed again where it is used.
type Spec struct {
	// Name identifies the monitor in the alert it opens and in errors.
	// Default: the alert ID it watches (InstanceID(instance, project, ref)).
	Name     string `json:"name"`
	Instance string `json:"instance,omitempty"` // "" is the home GitLab instance
	Project  int64  `json:"project"`            // GitLab project ID
	Path     string `json:"path,omitempty"`     // project path with namespace, e.g. team-a/app: shown in the alert and matched by routes
	Ref      string `json:"ref"`
	// Every and Cron: exactly one of them. Every is an interval from 1m to
	// 31 days, counted from the last run seen.
	Every time.Duration `json:"every,omitempty"`
	// Cron is a five-field cron expression ("0 2 * * *") or a descriptor
	// (@daily, @weekly, ...; not @every, which is Every), in UTC unless
	// it starts with CRON_TZ=<zone> ("CRON_TZ=Europe/Paris 0 2 * * *").
	Cron string `json:"cron,omitempty"`
	// Grace is how long after the expected time the pipeline may finish,
	// from 0 to 7 days. Default (DefaultGrace): 1h for Cron; for Every,
	// the smaller of 1h and Every, so that a short interval is not
	// dwarfed by its grace.
	Grace    time.Duration  `json:"grace,omitempty"`
	Severity alert.Severity `json:"severity"` // LOW, MEDIUM or HIGH; default HIGH (DefaultSeverity)
}

// DefaultSeverity is the severity of a monitor that gives none: a schedule
// that stopped running is as bad as a failed pipeline.
const DefaultSeverity = alert.SeverityHigh

// The bounds Check holds a Spec to.
const (
	minEvery  = time.Minute
	maxEvery  = 31 * 24 * time.Hour
	maxGrace  = 7 * 24 * time.Hour
	maxName   = 200
	maxRef    = 255
	maxPath   = 1024
	cronGrace = time.Hour // the grace of a cron monitor that gives none
	// fallback is Deadline's interval for a Spec that fails Check.
	fallback = 24 * time.Hour
)

// DefaultGrace is the grace of s when it gives none: 1h for Cron, the
// smaller of 1h and Every for Every.
func (s Spec) DefaultGrace() time.Duration {
	if s.Every > 0 {
		return min(time.Hour, s.Every)
	}
	return cronGrace
}

// AlertID is the alert the monitor opens when its deadline passes.
func (s Spec) AlertID() string { return alert.InstanceID(s.Instance, s.Project, s.Ref) }

// FieldError is one rule a Spec breaks: Field is its JSON name (the key
// of the routing file), Msg what is wanted.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Check says whether s is a monitor alertflow can run. The error joins
// (errors.Join) one *FieldError per rule broken, in the order of the
// fields.
func (s Spec) Check() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	// The name is a workflow ID's part, sent in a gRPC header: printable
	// ASCII only, and no space so that it reads as one word in logs.
	switch {
	case s.Name == "":
		bad("name", "required: up to %d bytes of printable ASCII without spaces", maxName)
	case len(s.Name) > maxName:
		bad("name", "%d bytes: want at most %d", len(s.Name), maxName)
	case strings.IndexFunc(s.Name, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
		bad("name", "%q: want printable ASCII without spaces", s.Name)
	}
	if s.Instance != "" {
		if err := alert.CheckInstance(s.Instance); err != nil {
			// CheckInstance names the field itself.
			bad("instance", "%s", strings.TrimPrefix(err.Error(), "instance "))
		}
	}
	if s.Project <= 0 {
		bad("project", "%d: want a GitLab project ID, a positive integer", s.Project)
	}
	switch {
	case len(s.Path) > maxPath:
		bad("path", "%d bytes: want at most %d", len(s.Path), maxPath)
	case strings.IndexFunc(s.Path, unicode.IsControl) >= 0:
		bad("path", "%q: want no control characters", s.Path)
	}
	switch {
	case s.Ref == "":
		bad("ref", "required: the branch or tag the schedule runs on")
	case len(s.Ref) > maxRef:
		bad("ref", "%d bytes: want at most %d", len(s.Ref), maxRef)
	case strings.IndexFunc(s.Ref, unicode.IsControl) >= 0:
		bad("ref", "%q: want no control characters", s.Ref)
	}
	switch {
	case s.Every != 0 && s.Cron != "":
		bad("cron", "give every or cron, not both")
	case s.Cron != "":
		if _, err := parseCron(s.Cron); err != nil {
			bad("cron", "%v", err)
		}
	case s.Every == 0:
		bad("every", "want an interval from 1m to 744h (31 days), or cron instead")
	case s.Every < minEvery || s.Every > maxEvery:
		bad("every", "%s: want an interval from 1m to 744h (31 days)", format(s.Every))
	}
	if s.Grace < 0 || s.Grace > maxGrace {
		bad("grace", "%s: want from 0 to 168h (7 days)", format(s.Grace))
	}
	switch s.Severity {
	case alert.SeverityLow, alert.SeverityMedium, alert.SeverityHigh:
	case "":
		bad("severity", "required: HIGH, MEDIUM or LOW")
	default:
		bad("severity", "unknown severity %q: want HIGH, MEDIUM or LOW", s.Severity)
	}
	return errors.Join(errs...)
}

// format writes d as people write it: 5m, 1h30m, 24h rather than 5m0s,
// 1h30m0s, 24h0m0s.
func format(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Deadline is when the next scheduled pipeline must have finished by,
// counting from after (the last run seen, the last deadline that passed,
// or when the monitor started, whichever is latest): for Every,
// after+Every+Grace; for Cron, the first scheduled time strictly after
// after, plus Grace. A Spec that fails Check still gets a deadline later
// than after, never a panic: after+24h when its cron does not parse or
// it has neither Every nor Cron.
func (s Spec) Deadline(after time.Time) time.Time {
	grace := max(s.Grace, 0)
	if s.Every > 0 {
		return after.Add(s.Every + grace)
	}
	if sched, err := parseCron(s.Cron); err == nil {
		// A schedule without CRON_TZ is read in the location of the
		// time it is given: UTC, whatever the worker's.
		if next := sched.Next(after.UTC()); !next.IsZero() {
			return next.Add(grace).In(after.Location())
		}
	}
	return after.Add(fallback)
}

// yearStart is where parseCron looks for a schedule's first time: it is
// three years before a 29 February.
var yearStart = time.Date(2001, time.January, 1, 0, 0, 0, 0, time.UTC)

// parseCron parses a Cron field with the standard parser (five fields,
// descriptors, CRON_TZ=), refusing @every and a schedule that does not
// fire at least once in any 366 days.
func parseCron(spec string) (sched *cron.SpecSchedule, err error) {
	expr := spec
	if tz, ok := cutTZ(spec); ok {
		// The library slices up to the first space after "TZ=" and
		// panics when there is none.
		_, rest, ok := strings.Cut(tz, " ")
		if !ok {
			return nil, fmt.Errorf("%q: want CRON_TZ=<zone> followed by a space and the schedule", spec)
		}
		expr = strings.TrimSpace(rest)
	}
	if strings.HasPrefix(expr, "@every") {
		return nil, fmt.Errorf("%q: an interval is every, not cron", spec)
	}
	// Belt and braces: a library panic on some input is a refused
	// schedule, not a crashed config check or worker.
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("%q: not a cron schedule", spec)
		}
	}()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("%q: %v: want five fields (minute hour day-of-month month day-of-week), such as \"0 2 * * *\"", spec, err)
	}
	ss, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("%q: not a cron schedule", spec)
	}
	// A field the library read as no value at all (",") would have Next
	// walk five years minute by minute before it gave up.
	if ss.Minute&^starBit == 0 || ss.Hour&^starBit == 0 {
		return nil, fmt.Errorf("%q never fires: want a schedule that fires at least once in 366 days", spec)
	}
	// A five-field schedule fires every year, never more than a year
	// apart, unless its only day is 29 February (or a day that no month
	// it names has, and then never). One look from three years before a
	// 29 February tells them apart: the next time is within 366 days.
	if next := ss.Next(yearStart); next.IsZero() || next.Sub(yearStart) > 366*24*time.Hour {
		return nil, fmt.Errorf("%q never fires, or not every year: want a schedule that fires at least once in 366 days", spec)
	}
	return ss, nil
}

// starBit is the library's mark of a field written "*" or "?".
const starBit = 1 << 63

// cutTZ returns spec after its TZ= or CRON_TZ= prefix, if it has one.
func cutTZ(spec string) (string, bool) {
	if rest, ok := strings.CutPrefix(spec, "CRON_TZ="); ok {
		return rest, true
	}
	return strings.CutPrefix(spec, "TZ=")
}
