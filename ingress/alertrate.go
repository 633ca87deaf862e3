package ingress

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// alertRates limits how fast deliveries reach any one alert. An alert's run
// takes its signals one workflow task at a time and must continue as new
// before its history grows past the server's limits; a flood on one branch
// (a loop in a CI config, a hostile sender with a token) faster than that
// is answered 429 rather than accepted and put at risk. Other alerts are
// not slowed down.
type alertRates struct {
	perSecond rate.Limit
	burst     int

	mu      sync.Mutex
	byAlert map[string]*rate.Limiter
	swept   time.Time
}

// maxTrackedAlerts bounds the limiters kept: past it, those of alerts that
// have been quiet long enough to have a full bucket again are dropped at
// once rather than at the next sweep.
const maxTrackedAlerts = 10_000

// sweepEvery is how often the intake's per-alert caches drop what has
// expired, whatever their size: after a busy hour they come back to idle
// instead of keeping every alert they ever saw up to their bound.
const sweepEvery = 10 * time.Second

// newAlertRates allows perSecond deliveries a second to each alert, in
// bursts of up to burst; perSecond zero allows everything.
func newAlertRates(perSecond float64, burst int) *alertRates {
	return &alertRates{perSecond: rate.Limit(perSecond), burst: max(burst, 1), byAlert: map[string]*rate.Limiter{}}
}

// allow takes one delivery to alertID, or says how long to wait.
func (a *alertRates) allow(alertID string, now time.Time) (ok bool, retryAfter time.Duration) {
	if a == nil || a.perSecond <= 0 {
		return true, 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	lim := a.byAlert[alertID]
	if lim == nil {
		a.sweep(now)
		lim = rate.NewLimiter(a.perSecond, a.burst)
		a.byAlert[alertID] = lim
	}
	if lim.AllowN(now, 1) {
		return true, 0
	}
	return false, time.Duration(float64(time.Second) / float64(a.perSecond))
}

// sweep drops the limiters of alerts whose bucket has filled up again (for
// them a fresh limiter is the same): every sweepEvery, or every second
// once maxTrackedAlerts are kept.
func (a *alertRates) sweep(now time.Time) {
	every := sweepEvery
	if len(a.byAlert) >= maxTrackedAlerts {
		every = time.Second
	}
	if now.Sub(a.swept) < every {
		return
	}
	a.swept = now
	for id, lim := range a.byAlert {
		if lim.TokensAt(now) >= float64(a.burst) {
			delete(a.byAlert, id)
		}
	}
}

// tracked counts the limiters of alerts whose bucket is not full at now:
// the alerts being slowed down or recently sent to. Zero at rest.
func (a *alertRates) tracked(now time.Time) int {
	if a == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, lim := range a.byAlert {
		if lim.TokensAt(now) < float64(a.burst) {
			n++
		}
	}
	return n
}

// retryAfterSeconds renders d as a Retry-After value, at least one second.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
