package notify

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxRetryAfter caps how long a receiver's Retry-After may hold a
// notification back. A receiver asking for an hour would otherwise push the
// next attempt past the workflow's whole retry window, and an alert that
// reaches people five minutes late is still worth sending.
const MaxRetryAfter = 5 * time.Minute

// maxSnippet bounds how much of a receiver's answer goes into an error
// message: enough for Slack's "invalid_token" or a short JSON error, not
// enough for an HTML error page to flood the log and the workflow history.
const maxSnippet = 200

// DeliveryError is a failed delivery that says whether retrying can help.
// Receivers build it with Permanent or RetryAfter; the Sinks activities turn
// it into the matching Temporal error.
type DeliveryError struct {
	// Err is what went wrong. Its message must not contain secrets: it is
	// logged and stored in the workflow history.
	Err error
	// Permanent means the receiver refused the notification and would
	// refuse it again (a 400, a revoked Slack token).
	Permanent bool
	// After is how long the receiver asked to wait before the next attempt,
	// at most MaxRetryAfter; zero leaves the delay to the retry policy.
	After time.Duration
}

// Error returns the cause and, when the receiver asked for one, the delay.
func (e *DeliveryError) Error() string {
	if e.After > 0 {
		return fmt.Sprintf("%v (receiver asked to retry after %s)", e.Err, e.After)
	}
	return e.Err.Error()
}

// Unwrap returns the cause.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &DeliveryError{Err: err, Permanent: true}
}

// RetryAfter marks err as worth retrying, not before d (capped at
// MaxRetryAfter). A d of zero or less leaves the delay to the retry policy.
// RetryAfter(nil, d) is nil.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &DeliveryError{Err: err, After: min(max(d, 0), MaxRetryAfter)}
}

// HTTPError is a receiver's non-2xx answer.
type HTTPError struct {
	StatusCode int
	// Body is the start of the answer, sanitised to one printable line;
	// Post has redacted the receiver URL's secrets from it.
	Body string
}

// Error says the status and the start of the body, never the URL: the URL
// of a Slack webhook is its credential.
func (e *HTTPError) Error() string {
	msg := "receiver answered HTTP " + strconv.Itoa(e.StatusCode)
	if text := http.StatusText(e.StatusCode); text != "" {
		msg += " " + text
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// CheckStatus classifies a receiver's answer, as alertmanager's
// notify.Retrier does. It returns nil for 2xx; a retryable error for 408,
// 429 and 5xx, delayed by the Retry-After header when there is one; and a
// permanent error for everything else, 3xx included (only redirects to the
// same host are followed, see DefaultHTTPClient). body is the start of the
// answer; only a bounded, sanitised snippet of it is kept. now is the time
// an HTTP-date Retry-After is measured from.
func CheckStatus(status int, header http.Header, body []byte, now time.Time) error {
	if status >= 200 && status <= 299 {
		return nil
	}
	err := &HTTPError{StatusCode: status, Body: snippet(body)}
	switch {
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		d, _ := ParseRetryAfter(header.Get("Retry-After"), now)
		if d > 0 {
			return RetryAfter(err, d)
		}
		return &DeliveryError{Err: err}
	default:
		return Permanent(err)
	}
}

// ParseRetryAfter reads a Retry-After header value, either delay-seconds or
// an HTTP-date (RFC 9110, section 10.2.3), as a delay from now capped at
// MaxRetryAfter. A date in the past is a delay of zero. ok is false when the
// value is empty or malformed.
func ParseRetryAfter(value string, now time.Time) (d time.Duration, ok bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(value, 10, 64); err == nil {
		// Compare in seconds first: a huge value would overflow a Duration.
		if secs >= uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	return min(max(at.Sub(now), 0), MaxRetryAfter), true
}

// snippet makes the start of a receiver's answer safe to log: valid UTF-8,
// control characters and runs of white space folded to one space, at most
// maxSnippet bytes.
func snippet(body []byte) string {
	var b strings.Builder
	space := false
	for len(body) > 0 && b.Len() < maxSnippet {
		r, size := utf8.DecodeRune(body)
		body = body[size:]
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	s := b.String()
	if len(body) > 0 {
		s += "…"
	}
	return s
}
