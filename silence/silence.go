// Package silence holds silences: matchers over alerts, a time span, who
// made them and why. A notification of an alert a silence matches while it
// is active is not sent. The package is pure (no I/O, no clock): Temporal
// keeps each silence as a workflow, and the worker and the REST API use
// this package to validate, match and describe them.
package silence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/route"
)

// MaxDuration bounds a silence: a quarter. A silence meant to last longer
// is a routing rule, which is reviewed; a forgotten silence is a team that
// stopped being paged.
const MaxDuration = 90 * 24 * time.Hour

// MaxSilences bounds the silences active or pending at once. Every worker
// keeps all of them in view and a notification is checked against those
// of its project (silence.Set); a team that needs more is describing a
// route.
const MaxSilences = 10000

// MaxStartAhead bounds how far ahead a silence may start: a year. Each
// silence waiting to start is a running workflow, so starts in the year
// 9999 would pile up pending silences.
const MaxStartAhead = 365 * 24 * time.Hour

// IDPrefix starts every silence ID, so that silences and alerts (whose IDs
// start with a project ID, a digit) never share a workflow ID.
const IDPrefix = "silence-"

// MaxIDLength bounds a silence ID: the API makes IDs of 44 bytes; one
// started with the temporal CLI is a workflow ID and a search attribute
// value, which Temporal bounds.
const MaxIDLength = 200

// CheckID says whether id can name a silence: the prefix, a bounded
// length, and printable ASCII only.
func CheckID(id string) error {
	switch {
	case !strings.HasPrefix(id, IDPrefix):
		return fmt.Errorf("%w: a silence ID starts with %q", ErrInvalid, IDPrefix)
	case len(id) > MaxIDLength:
		return fmt.Errorf("%w: a silence ID is at most %d bytes, not %d", ErrInvalid, MaxIDLength, len(id))
	case strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r > '~' }):
		// Temporal's SDK sends the workflow ID in a gRPC header, which
		// takes printable ASCII only: another ID could not be looked up.
		return fmt.Errorf("%w: a silence ID holds printable ASCII characters only, no spaces (not %q)", ErrInvalid, id)
	}
	return nil
}

// ErrInvalid is wrapped by every error about what someone asked for.
var ErrInvalid = errors.New("invalid silence")

// Silence is one silence as it is kept: in the input and memo of its
// workflow, and in REST answers. Matchers are kept as they were written
// (JSON, with the keys of the routing file), so that a silence reads back
// the way it was made.
type Silence struct {
	ID        string          `json:"id"`
	Matchers  json.RawMessage `json:"matchers"`
	StartsAt  time.Time       `json:"starts_at"`
	EndsAt    time.Time       `json:"ends_at"`
	CreatedBy string          `json:"created_by"`
	Comment   string          `json:"comment,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	// ExpiredAt and ExpiredBy are set when someone expired it early.
	ExpiredAt time.Time `json:"expired_at,omitzero"`
	ExpiredBy string    `json:"expired_by,omitempty"`
}

// Request is what someone asks for: matchers, a start (default now), and
// an end or a duration.
type Request struct {
	Matchers  json.RawMessage `json:"matchers"`
	Duration  string          `json:"duration,omitempty"`
	StartsAt  *time.Time      `json:"starts_at,omitempty"`
	EndsAt    *time.Time      `json:"ends_at,omitempty"`
	CreatedBy string          `json:"created_by"`
	Comment   string          `json:"comment,omitempty"`
}

// New validates r and makes the silence id it asks for, at now.
func New(id string, r Request, now time.Time) (Silence, error) {
	s := Silence{ID: id, CreatedBy: strings.TrimSpace(r.CreatedBy), Comment: r.Comment, CreatedAt: now, StartsAt: now}
	if err := checkText("created_by", s.CreatedBy, true, false); err != nil {
		return Silence{}, err
	}
	if err := checkText("comment", s.Comment, false, true); err != nil {
		return Silence{}, err
	}
	if _, err := Compile(r.Matchers); err != nil {
		return Silence{}, err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, r.Matchers); err != nil {
		return Silence{}, fmt.Errorf("%w: matchers: %v", ErrInvalid, err)
	}
	s.Matchers = compact.Bytes()
	if r.StartsAt != nil && r.StartsAt.After(now) {
		s.StartsAt = r.StartsAt.UTC()
	}
	if err := s.checkStart(); err != nil {
		return Silence{}, err
	}
	switch {
	case r.Duration != "" && r.EndsAt != nil:
		return Silence{}, fmt.Errorf("%w: give either \"duration\" or \"ends_at\", not both", ErrInvalid)
	case r.Duration != "":
		d, err := alert.ParseDuration(r.Duration)
		if err != nil {
			return Silence{}, fmt.Errorf("%w: \"duration\": %q is not a duration such as \"2h\", \"30m\" or \"2d\"", ErrInvalid, r.Duration)
		}
		if d <= 0 {
			return Silence{}, fmt.Errorf("%w: \"duration\" must be positive, not %s", ErrInvalid, r.Duration)
		}
		s.EndsAt = s.StartsAt.Add(d)
	case r.EndsAt != nil:
		s.EndsAt = r.EndsAt.UTC()
		if !s.EndsAt.After(s.StartsAt) {
			return Silence{}, fmt.Errorf("%w: \"ends_at\" %s is not after the start %s", ErrInvalid,
				s.EndsAt.Format(time.RFC3339), s.StartsAt.Format(time.RFC3339))
		}
	default:
		return Silence{}, fmt.Errorf("%w: \"duration\" (such as \"2h\") or \"ends_at\" (RFC 3339) is required", ErrInvalid)
	}
	if s.EndsAt.Sub(s.StartsAt) > MaxDuration {
		return Silence{}, fmt.Errorf("%w: a silence lasts at most %s (90 days), not %s", ErrInvalid, MaxDuration, s.EndsAt.Sub(s.StartsAt))
	}
	return s, nil
}

// Check validates a silence as kept, for one that did not come through New
// (started from the temporal CLI). Having no clock, it bounds starts_at by
// created_at, which such a silence may lack: then starts_at goes unbounded.
func (s Silence) Check() error {
	if !strings.HasPrefix(s.ID, IDPrefix) {
		return fmt.Errorf("%w: its ID %q must start with %q", ErrInvalid, s.ID, IDPrefix)
	}
	if err := checkText("created_by", s.CreatedBy, true, false); err != nil {
		return err
	}
	if err := checkText("comment", s.Comment, false, true); err != nil {
		return err
	}
	if _, err := Compile(s.Matchers); err != nil {
		return err
	}
	if s.StartsAt.IsZero() || !s.EndsAt.After(s.StartsAt) {
		return fmt.Errorf("%w: \"ends_at\" must be after \"starts_at\"", ErrInvalid)
	}
	if err := s.checkStart(); err != nil {
		return err
	}
	if s.EndsAt.Sub(s.StartsAt) > MaxDuration {
		return fmt.Errorf("%w: a silence lasts at most %s (90 days)", ErrInvalid, MaxDuration)
	}
	return nil
}

// checkStart refuses a start more than MaxStartAhead after the silence was
// made; one without created_at passes.
func (s Silence) checkStart() error {
	if !s.CreatedAt.IsZero() && s.StartsAt.Sub(s.CreatedAt) > MaxStartAhead {
		return fmt.Errorf("%w: \"starts_at\" %s is more than %s (365 days, MaxStartAhead) after the silence was made at %s",
			ErrInvalid, s.StartsAt.Format(time.RFC3339), MaxStartAhead, s.CreatedAt.Format(time.RFC3339))
	}
	return nil
}

// CheckExpiredBy checks who expires a silence as created_by is checked
// (at most 1024 bytes, no control characters): it is kept in the silence's
// memo and shown wherever the silence is.
func CheckExpiredBy(by string) error {
	return checkText("by", by, false, false)
}

// checkText checks a free-text field. Control characters are refused (but
// newlines and tabs in a comment): they reach logs and terminals, where
// they could forge lines or colours; so are bidirectional controls.
func checkText(name, v string, required, multiline bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return fmt.Errorf("%w: %q is required: who is silencing", ErrInvalid, name)
	case len(v) > 1024:
		return fmt.Errorf("%w: %q is longer than 1024 bytes", ErrInvalid, name)
	}
	for i, r := range v {
		if unicode.Is(unicode.Bidi_Control, r) {
			// Not control characters to Go, but they reorder what a
			// terminal, the Web UI or Slack shows: "expires 2027" could
			// read as another date.
			return fmt.Errorf("%w: %q holds the bidirectional control %U at byte %d: it makes text read otherwise than it is", ErrInvalid, name, r, i)
		}
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t')) {
			allowed := "no control characters"
			if multiline {
				allowed = "no control characters but newlines and tabs"
			}
			return fmt.Errorf("%w: %q holds the control character %U at byte %d: %s", ErrInvalid, name, r, i, allowed)
		}
	}
	return nil
}

// Compile reads matchers as the routing file's match key reads them.
func Compile(matchers json.RawMessage) (route.Matchers, error) {
	if len(bytes.TrimSpace(matchers)) == 0 {
		return route.Matchers{}, fmt.Errorf("%w: \"matchers\" is required, such as {\"project\":\"team-a/*\",\"ref\":\"main\"}", ErrInvalid)
	}
	m, err := route.ParseMatchers("matchers", matchers)
	if err != nil {
		return route.Matchers{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return m, nil
}

// State is where a silence stands at a time.
type State string

const (
	StatePending State = "pending"
	StateActive  State = "active"
	StateExpired State = "expired"
)

// StateAt says whether s has not started, is active or is over at now.
// An early expiry counts from its time on: a replay of the days before it
// finds the silence active then.
func (s Silence) StateAt(now time.Time) State {
	switch {
	case !s.ExpiredAt.IsZero() && !now.Before(s.ExpiredAt), !now.Before(s.EndsAt):
		return StateExpired
	case now.Before(s.StartsAt):
		return StatePending
	}
	return StateActive
}

// Active is a silence with its matchers compiled, for matching alerts.
type Active struct {
	Silence
	match route.Matchers
}

// Activate compiles s's matchers.
func Activate(s Silence) (Active, error) {
	m, err := Compile(s.Matchers)
	if err != nil {
		return Active{}, fmt.Errorf("silence %s: %w", s.ID, err)
	}
	return Active{Silence: s, match: m}, nil
}

// Silencing returns the silence among set that silences an alert labelled
// l at now: the one that lasts longest, so that the alert is handed over
// once, when the last of them ends. ok is false when none does.
func Silencing(set []Active, l route.Labels, now time.Time) (found Active, ok bool) {
	for _, a := range set {
		if a.StateAt(now) != StateActive || !a.match.Matches(l) {
			continue
		}
		if !ok || a.EndsAt.After(found.EndsAt) || a.EndsAt.Equal(found.EndsAt) && a.ID < found.ID {
			found, ok = a, true
		}
	}
	return found, ok
}
