package gitlabapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// RetryError: GitLab asked to wait (429 with Retry-After, or
// RateLimit-Remaining 0 with a RateLimit-Reset to come), or answered 5xx, or
// the connection failed. Trying again after After may well work.
type RetryError struct {
	// After is how long to wait before trying again: from Retry-After
	// (seconds or an HTTP date), or from RateLimit-Reset (a Unix time);
	// 30 s for a 5xx or a failed connection that named none; never more
	// than 15 min.
	After time.Duration
	// Reason says what GitLab answered, for logs.
	Reason string
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("GitLab asks to try again in %s: %s", e.After, e.Reason)
}

// ErrPermanent is wrapped by errors that trying again will not fix: 401 or
// 403 (the token lacks read_api, or access to the project), 404 Project Not
// Found, any other 4xx but 429, an answer that is not the JSON GitLab
// documents, and a redirect to another host (which would be sent the
// token).
var ErrPermanent = errors.New("permanent GitLab API error")

// classify turns what the GitLab client returned for one request into a
// *RetryError, an error wrapping ErrPermanent, or ctx's error. The
// client's errors name the method and the URL path, never the token, which
// travels in a header.
func (c *Client) classify(ctx context.Context, resp *gitlab.Response, err error, a *answer) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		// Canceled or timed out: the caller's decision, not GitLab's.
		return ctxErr
	}
	if errors.Is(err, errOtherHost) {
		return fmt.Errorf("%w: %s", ErrPermanent, c.scrub(err.Error()))
	}
	if resp == nil || resp.Response == nil {
		return &RetryError{After: defaultWait, Reason: "no answer: " + c.scrub(err.Error())}
	}
	status := resp.StatusCode
	var er *gitlab.ErrorResponse
	switch {
	case status == http.StatusTooManyRequests:
		return &RetryError{After: c.waitOf(resp.Header, defaultWait), Reason: "429 Too Many Requests"}
	case status >= 500:
		return &RetryError{After: c.waitOf(resp.Header, defaultWait), Reason: fmt.Sprintf("%d %s", status, http.StatusText(status))}
	case status == http.StatusNotFound:
		if a != nil && a.err != nil {
			// The answer broke off: the connection, not GitLab, failed.
			return &RetryError{After: defaultWait, Reason: "404 answer cut short: " + c.scrub(a.err.Error())}
		}
		return fmt.Errorf("%w: %s %s: %s", ErrPermanent, resp.Request.Method, resp.Request.URL.Path, cmp.Or(c.scrub(a.notFound()), "404"))
	case errors.As(err, &er):
		return fmt.Errorf("%w: %s", ErrPermanent, c.scrub(err.Error()))
	}
	// A 2xx whose body did not decode: not GitLab's JSON, or cut short.
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syntax) || errors.As(err, &typ) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %d answer is not the JSON GitLab documents: %s", ErrPermanent, status, c.scrub(err.Error()))
	}
	return &RetryError{After: defaultWait, Reason: "answer cut short: " + c.scrub(err.Error())}
}

// maxQuote bounds what an error quotes of a server's answer: a proxy's
// error page can be long.
const maxQuote = 1 << 10

// scrub readies s, an error text that quotes a server, for an error: without
// the token, and cut to maxQuote bytes.
func (c *Client) scrub(s string) string {
	s = strings.ReplaceAll(s, c.token, "[token]")
	if len(s) <= maxQuote {
		return s
	}
	cut := maxQuote
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
