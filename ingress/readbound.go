package ingress

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// maxConcurrentReads is how many requests each expensive read endpoint
// (GET /api/v1/stats, GET /api/v1/silences, GET /api/v1/alerts) answers at
// once. Unbounded,
// 16 concurrent stats requests doubled the intake's memory and timed
// most of them out: a few at a time answer sooner than many together.
const maxConcurrentReads = 4

// readBound bounds the requests one endpoint serves at once; beyond the
// bound it answers 429 at once rather than queueing work on Temporal.
type readBound struct {
	endpoint string
	slots    chan struct{}
	refused  prometheus.Counter
}

// newReadBound returns the bound of endpoint, with its gauge of requests
// in flight and its counter of refusals registered with reg.
func newReadBound(endpoint string, size int, reg prometheus.Registerer) *readBound {
	b := &readBound{endpoint: endpoint, slots: make(chan struct{}, size)}
	labels := prometheus.Labels{"endpoint": endpoint}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "alertflow_api_reads_in_flight",
		Help:        "Requests an expensive REST API read endpoint is answering, at most its bound.",
		ConstLabels: labels,
	}, func() float64 { return float64(b.inFlight()) }))
	b.refused = prometheus.NewCounter(prometheus.CounterOpts{
		Name:        "alertflow_api_reads_refused_total",
		Help:        "Requests an expensive REST API read endpoint answered 429 because it was at its bound.",
		ConstLabels: labels,
	})
	reg.MustRegister(b.refused)
	return b
}

// inFlight is how many slots are taken.
func (b *readBound) inFlight() int { return len(b.slots) }

// wrap serves next while a slot is free and answers 429 with Retry-After
// otherwise.
func (b *readBound) wrap(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case b.slots <- struct{}{}:
		default:
			b.refused.Inc()
			w.Header().Set("Retry-After", retryAfter)
			writeError(w, http.StatusTooManyRequests, "", fmt.Sprintf(
				"%s answers at most %d requests at once and is answering that many; retry later", b.endpoint, cap(b.slots)))
			return
		}
		// Deferred, so that the slot comes back on every path, a panic
		// below included: a slot lost per panic would close the
		// endpoint for good after a few.
		defer func() { <-b.slots }()
		next(w, r)
	})
}
