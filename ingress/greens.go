package ingress

import (
	"slices"
	"sync"
	"time"

	"github.com/alertflow/alertflow/alert"
)

// greens remembers the newest success the intake delivered on each
// ref, so that the alert a later failure opens knows its last green
// pipeline even when no alert was open to see the success (an alert
// carries the greens it saw to the next one on its ID itself). It lives
// in memory: after a restart, or on an intake that did not receive the
// success, the alert falls back to what its ID remembers, an older green
// that still comes before the culprit, or says that it knows none.
type greens struct {
	mu    sync.Mutex
	last  map[string]greenSeen
	swept time.Time
}

type greenSeen struct {
	green alert.Green
	at    time.Time
}

// greenFor is how long a green is remembered: a branch that stays green
// longer and then fails is told its last green by its ID's memory, or
// told that none is known.
const greenFor = 7 * 24 * time.Hour

// maxGreens bounds the refs remembered (a few hundred bytes each); past
// it, the ones remembered longest go first.
const maxGreens = 100_000

func newGreens() *greens { return &greens{last: map[string]greenSeen{}} }

// note remembers g as the newest green of id, unless a newer one is
// remembered already (GitLab delivers out of order).
func (g *greens) note(id string, green alert.Green, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.swept) >= sweepEvery || len(g.last) >= maxGreens {
		g.swept = now
		g.sweep(now)
	}
	if old, ok := g.last[id]; ok && now.Sub(old.at) < greenFor && old.green.PipelineID > green.PipelineID {
		return
	}
	g.last[id] = greenSeen{green: green, at: now}
}

// sweep drops the expired entries and, while the map is full, the
// oldest. Called with mu held.
func (g *greens) sweep(now time.Time) {
	for id, s := range g.last {
		if now.Sub(s.at) >= greenFor {
			delete(g.last, id)
		}
	}
	if len(g.last) < maxGreens {
		return
	}
	// Full: the oldest tenth goes at once, so that a full map is not
	// scanned at every note.
	ats := make([]time.Time, 0, len(g.last))
	for _, s := range g.last {
		ats = append(ats, s.at)
	}
	slices.SortFunc(ats, time.Time.Compare)
	cut := ats[len(ats)/10]
	for id, s := range g.last {
		if !s.at.After(cut) {
			delete(g.last, id)
		}
	}
}

// get returns the newest green remembered for id, or nil.
func (g *greens) get(id string, now time.Time) *alert.Green {
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.last[id]
	if !ok || now.Sub(s.at) >= greenFor {
		return nil
	}
	green := s.green
	return &green
}

// live counts the refs whose green is still remembered at now.
func (g *greens) live(now time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, s := range g.last {
		if now.Sub(s.at) < greenFor {
			n++
		}
	}
	return n
}

// size is how many refs are kept, live or expired, for tests.
func (g *greens) size() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.last)
}
