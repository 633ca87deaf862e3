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

// Silences are the silences that may hold notifications back: those not
// expired (the active and those still to start), indexed for matching.
type Silences func(ctx context.Context) (*silence.Set, error)

// SilenceWith makes the routing of s check silences from active. A
// function, not a method: every exported method of Sinks is an activity.
func SilenceWith(s *Sinks, active Silences) {
	s.silences = active
}

// Recheck reads one silence afresh, from where it is kept rather than from
// a list that may be some seconds old; ok is false when it is gone.
type Recheck func(ctx context.Context, id string) (a silence.Active, ok bool, err error)

// RecheckWith makes the routing of s read a silence afresh before letting
// it hold a notification back: one expired early a moment ago may still be
// in the list, and would hold back a notification that the silence's own
// record (and so the replay) says goes out.
func RecheckWith(s *Sinks, recheck Recheck) {
	s.recheck = recheck
}

// silencing finds the silence holding a notification of the alert labelled
// l back at now. A silence store that cannot be read silences nothing:
// a page too many is better than a page lost, and the error is logged.
func (s *Sinks) silencing(ctx context.Context, l route.Labels, alertID string, ended []string, now time.Time) *Silencing {
	if s.silences == nil {
		return nil
	}
	all, err := s.silences(ctx)
	if err != nil {
		s.logger.ErrorContext(ctx, "Silences could not be read: the notification goes out", "alert_id", alertID, "error", err)
		return nil
	}
	set := slices.DeleteFunc(all.Candidates(l), func(a silence.Active) bool { return slices.Contains(ended, a.ID) })
	for range len(set) {
		found, ok := silence.Silencing(set, l, now)
		if !ok {
			return nil
		}
		fresh, stale := s.fresh(ctx, found)
		if !stale {
			return &Silencing{ID: fresh.ID, Until: fresh.EndsAt}
		}
		// The list was behind: judge again with what the silence says now.
		i := slices.IndexFunc(set, func(a silence.Active) bool { return a.ID == found.ID })
		if fresh.ID == "" {
			set = slices.Delete(set, i, i+1)
		} else {
			set[i] = fresh
		}
	}
	return nil
}

// fresh is silence a as it stands now, and whether the list had it
// otherwise. A silence that cannot be read afresh is taken as listed.
func (s *Sinks) fresh(ctx context.Context, a silence.Active) (silence.Active, bool) {
	if s.recheck == nil {
		return a, false
	}
	now, ok, err := s.recheck(ctx, a.ID)
	switch {
	case err != nil:
		s.logger.WarnContext(ctx, "a silence could not be read afresh: its listed state holds", "silence_id", a.ID, "error", err)
		return a, false
	case !ok:
		return silence.Active{}, true
	}
	return now, !now.EndsAt.Equal(a.EndsAt) || !now.ExpiredAt.Equal(a.ExpiredAt) || !now.StartsAt.Equal(a.StartsAt)
}
