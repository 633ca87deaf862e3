package ingress

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// noAlerts remembers, for a few seconds, the alert IDs that Temporal just
// said have no alert, so that the pipelines still under way on such a
// branch (pending, running, ... : most of what GitLab sends) are answered
// without asking Temporal again. They only tell an alert that a newer
// pipeline exists; with none to tell, a call per delivery made the intake
// many times slower for nothing (make bench's mixed load). Successes and
// bad outcomes always reach Temporal.
type noAlerts struct {
	mu    sync.Mutex
	seen  map[string]time.Time // alert ID → when Temporal said there was none
	swept time.Time
}

// noAlertFor is how long a "no alert" answer is trusted: far below the
// hold of a canceled pipeline (a minute by default), so a successor's
// later hooks still reach an alert another intake opened meanwhile.
const noAlertFor = 5 * time.Second

// maxNoAlerts bounds what is remembered; past it, expired entries go.
const maxNoAlerts = 100_000

func newNoAlerts() *noAlerts { return &noAlerts{seen: map[string]time.Time{}} }

// none reports whether Temporal said within noAlertFor that id has no alert.
func (n *noAlerts) none(id string, now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	at, ok := n.seen[id]
	return ok && now.Sub(at) < noAlertFor
}

// note remembers that Temporal said id has no alert.
func (n *noAlerts) note(id string, now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	// Expired entries go every sweepEvery, so that the cache comes back
	// to idle, and at once when it is full.
	if len(n.seen) >= maxNoAlerts || now.Sub(n.swept) >= sweepEvery {
		n.swept = now
		for k, at := range n.seen {
			if now.Sub(at) >= noAlertFor {
				delete(n.seen, k)
			}
		}
	}
	if len(n.seen) < maxNoAlerts {
		n.seen[id] = now
	}
}

// forget drops what is remembered of id: this intake just started its alert.
func (n *noAlerts) forget(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.seen, id)
}

// live counts the IDs whose "no alert" is still trusted at now; zero at rest.
func (n *noAlerts) live(now time.Time) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, at := range n.seen {
		if now.Sub(at) < noAlertFor {
			c++
		}
	}
	return c
}

// size is how many IDs are kept, live or expired, for tests.
func (n *noAlerts) size() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.seen)
}

// registerCacheGauges exports what the per-alert caches hold that is still
// in force, so that an endurance run can see them come back to idle.
func registerCacheGauges(reg prometheus.Registerer, rates *alertRates, none *noAlerts, greens *greens) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "alertflow_webhook_alert_limiters_active",
		Help: "Alerts whose delivery rate limiter has not refilled yet (ALERTFLOW_ALERT_RATE).",
	}, func() float64 { return float64(rates.tracked(time.Now())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "alertflow_webhook_no_alert_entries",
			Help: "Alert IDs for which Temporal's recent \"no alert\" is still trusted.",
		}, func() float64 { return float64(none.live(time.Now())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "alertflow_webhook_last_green_entries",
			Help: "Refs whose newest delivered success the intake remembers, for the culprit of their next alert.",
		}, func() float64 { return float64(greens.live(time.Now())) }))
}
