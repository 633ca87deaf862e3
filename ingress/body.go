package ingress

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxBodyInFlight bounds the webhook body bytes held at once, across
// all requests: two bodies of GitLab's largest size, or some three
// thousand ordinary 20 KB deliveries.
const DefaultMaxBodyInFlight = 64 << 20

// OutcomeBusy is a webhook answered 503 because the body bytes in flight
// were at their bound.
const OutcomeBusy = "busy"

// chunkedStep is the first reservation of a body sent without a
// Content-Length; it doubles from there as the bytes arrive.
const chunkedStep = 64 << 10

// bodyBudget bounds the body bytes the intake holds at once. Bytes are
// reserved before they are read and never waited for: when the budget is
// spent the sender is told to come back, so that memory stays bounded
// whatever arrives at once. (Never waiting is why this is a counter and
// not a semaphore.)
type bodyBudget struct {
	mu         sync.Mutex
	size, held int64
	// peak is the most ever held, for tests.
	peak int64
}

func newBodyBudget(size int64, reg prometheus.Registerer) *bodyBudget {
	b := &bodyBudget{size: size}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "alertflow_webhook_body_bytes_in_flight",
		Help: "Webhook body bytes held at once, bounded by ALERTFLOW_MAX_BODY_IN_FLIGHT.",
	}, func() float64 {
		b.mu.Lock()
		defer b.mu.Unlock()
		return float64(b.held)
	}))
	return b
}

// tryReserve reserves n bytes if the budget has them.
func (b *bodyBudget) tryReserve(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held+n > b.size {
		return false
	}
	b.held += n
	b.peak = max(b.peak, b.held)
	return true
}

func (b *bodyBudget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held -= n
}

// bodyRefusal is a body that was not read whole, and the answer it gets.
type bodyRefusal struct {
	status  int
	outcome string
	msg     string
}

// readBody reads the webhook body within the body limit and the budget,
// deciding from the announced Content-Length before reading a byte where
// it can: a body over the limit is refused with 413 and one the budget
// cannot hold with 503, both before an "Expect: 100-continue" sender is
// told to send it. done gives the bytes back; the body must not be used
// after it.
func (s *Server) readBody(r *http.Request) (body []byte, done func(), refused *bodyRefusal) {
	n, limit := r.ContentLength, s.cfg.MaxBody
	if n > limit {
		return nil, nil, tooLarge(limit)
	}
	if n < 0 {
		return s.readChunked(r)
	}
	if n <= maxPooledBody {
		// A pooled buffer may be larger than the body: what is reserved is
		// the memory it holds.
		buf := s.buffer(n)
		held := int64(buf.Cap())
		if !s.inflight.tryReserve(held) {
			s.recycle(buf)
			return nil, nil, busy()
		}
		release := func() { s.inflight.release(held) }
		// One byte more than announced tells a body that runs on; net/http
		// never lets one through, other callers of the handler might.
		_, err := buf.ReadFrom(io.LimitReader(r.Body, n+1))
		if refused := checkRead(err, int64(buf.Len()), n); refused != nil {
			s.recycle(buf)
			release()
			return nil, nil, refused
		}
		return buf.Bytes(), func() { s.recycle(buf); release() }, nil
	}
	if !s.inflight.tryReserve(n) {
		return nil, nil, busy()
	}
	release := func() { s.inflight.release(n) }
	// Allocated once at its announced size, not doubled up to it: a
	// doubling buffer holds up to twice the body, and the copies besides.
	b := make([]byte, n+1)
	got, err := io.ReadFull(r.Body, b)
	if errors.Is(err, io.ErrUnexpectedEOF) && int64(got) == n {
		err = nil
	}
	if refused := checkRead(err, int64(got), n); refused != nil {
		release()
		return nil, nil, refused
	}
	return b[:n], release, nil
}

// readChunked reads a body of unknown length, reserving its buffer's
// capacity from the budget each time it has to grow.
func (s *Server) readChunked(r *http.Request) (body []byte, done func(), refused *bodyRefusal) {
	limit := s.cfg.MaxBody
	var buf []byte
	var reserved int64
	release := func() { s.inflight.release(reserved) }
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				release()
				return nil, nil, tooLarge(limit)
			}
			grown := min(max(2*int64(cap(buf)), chunkedStep), limit+1)
			if !s.inflight.tryReserve(grown) {
				release()
				return nil, nil, busy()
			}
			next := make([]byte, len(buf), grown)
			copy(next, buf)
			s.inflight.release(reserved)
			buf, reserved = next, grown
		}
		got, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+got]
		if err == io.EOF {
			break
		}
		if err != nil {
			release()
			return nil, nil, readFailed(err)
		}
	}
	if int64(len(buf)) > limit {
		release()
		return nil, nil, tooLarge(limit)
	}
	return buf, release, nil
}

// checkRead turns the end of reading a body announced as n bytes into a
// refusal, or nil when exactly n bytes came.
func checkRead(err error, got, n int64) *bodyRefusal {
	switch {
	case err != nil:
		return readFailed(err)
	case got > n:
		return &bodyRefusal{http.StatusBadRequest, OutcomeBadRequest, "the body is longer than its Content-Length"}
	case got < n:
		return &bodyRefusal{http.StatusBadRequest, OutcomeBadRequest, "the body ended before its Content-Length"}
	}
	return nil
}

func tooLarge(limit int64) *bodyRefusal {
	return &bodyRefusal{http.StatusRequestEntityTooLarge, OutcomeTooLarge, "body larger than " + strconv.FormatInt(limit, 10) + " bytes"}
}

func busy() *bodyRefusal {
	return &bodyRefusal{http.StatusServiceUnavailable, OutcomeBusy, "too many webhook bodies in flight, retry later"}
}

// readFailed describes a failed read without the error's own text, which
// names the server's and the client's socket addresses.
func readFailed(err error) *bodyRefusal {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return &bodyRefusal{http.StatusBadRequest, OutcomeBadRequest, "the body did not arrive within the read timeout"}
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return &bodyRefusal{http.StatusBadRequest, OutcomeBadRequest, "the body ended before its Content-Length"}
	}
	return &bodyRefusal{http.StatusBadRequest, OutcomeBadRequest, "reading the body failed"}
}

// refuse answers a refused body.
func refuse(w http.ResponseWriter, refused *bodyRefusal) {
	if refused.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter)
	}
	writeError(w, refused.status, "", refused.msg)
}
