package gitlabapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Waits a RetryError asks for.
const (
	// defaultWait is the wait after a 5xx or a failed connection that named
	// none: long enough for a restarting GitLab, short next to an alert's
	// life.
	defaultWait = 30 * time.Second
	// maxWait caps any wait GitLab names, so that a wrong clock or a
	// confused proxy cannot park the reconciliation for hours.
	maxWait = 15 * time.Minute
)

// noteLimit remembers what a response said of the rate limit. A response
// without the headers forgets what an earlier one said: the newest answer
// is the one to go by.
func (c *Client) noteLimit(h http.Header) {
	remaining, errRemaining := strconv.Atoi(strings.TrimSpace(h.Get("RateLimit-Remaining")))
	reset, errReset := strconv.ParseInt(strings.TrimSpace(h.Get("RateLimit-Reset")), 10, 64)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limitKnown = errRemaining == nil && errReset == nil
	c.remaining, c.reset = remaining, time.Unix(reset, 0)
}

// exhausted is a RetryError when the last response said no request is left
// until a reset still to come, and nil when a request may go.
func (c *Client) exhausted() *RetryError {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.limitKnown || c.remaining > 0 {
		return nil
	}
	now := c.clock()
	if !c.reset.After(now) {
		return nil
	}
	return &RetryError{
		After:  capWait(c.reset.Sub(now)),
		Reason: "GitLab's rate limit is used up until " + c.reset.UTC().Format(time.RFC3339),
	}
}

// waitOf is how long h asks to wait: Retry-After (seconds or an HTTP
// date), else RateLimit-Reset when RateLimit-Remaining is 0, else def.
func (c *Client) waitOf(h http.Header, def time.Duration) time.Duration {
	now := c.clock()
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil {
			if s > int64(maxWait/time.Second) {
				return maxWait
			}
			return capWait(time.Duration(s) * time.Second)
		}
		if t, err := http.ParseTime(v); err == nil {
			return capWait(t.Sub(now))
		}
	}
	if strings.TrimSpace(h.Get("RateLimit-Remaining")) == "0" {
		if s, err := strconv.ParseInt(strings.TrimSpace(h.Get("RateLimit-Reset")), 10, 64); err == nil {
			if d := time.Unix(s, 0).Sub(now); d > 0 {
				return capWait(d)
			}
		}
	}
	return def
}

func capWait(d time.Duration) time.Duration {
	return min(max(d, 0), maxWait)
}

// noLimiter stands in for the GitLab client's own rate limiter, which would
// sleep, once it has seen RateLimit-Limit, for as long as its guess of the
// rate says; the Client's gate refuses instead, and Temporal waits.
type noLimiter struct{}

func (noLimiter) Wait(ctx context.Context) error { return ctx.Err() }
