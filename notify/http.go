package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// DefaultHTTPTimeout bounds one delivery attempt, from dialling to the last
// byte of the answer. It is below the workflow's 10 s StartToCloseTimeout so
// that a hung receiver fails the attempt here, with an error this worker
// logs, rather than by a server-side activity timeout that says nothing of
// the cause.
const DefaultHTTPTimeout = 8 * time.Second

// Limits on what a receiver can make a delivery read or follow.
const (
	// readLimit is how much of an answer is read for the error message.
	readLimit = 1 << 10
	// drainLimit is how much more is read and discarded so the connection
	// can be reused; a bigger answer costs a new connection, not memory.
	drainLimit = 64 << 10
	// maxRedirects bounds same-host 307/308 redirects.
	maxRedirects = 3
)

// DefaultHTTPClient returns the client the webhook and Slack receivers use
// unless they are given one: DefaultHTTPTimeout per attempt, bounded dial,
// TLS handshake and response headers, proxies from the environment, and
// redirects followed only when they keep the method and body (307, 308)
// and stay on the same scheme and host. Anything else comes back as the
// 3xx answer, which CheckStatus treats as permanent: following a 302 would
// turn the POST into a GET and pass off a receiver's landing page as a
// delivery, and following one to another host would hand the signed body
// to whoever the Location names.
func DefaultHTTPClient() *http.Client {
	transport := &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		// Keep the standard library's tuning (idle pools, HTTP/2).
		transport = t.Clone()
	}
	transport.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	transport.TLSHandshakeTimeout = 5 * time.Second
	transport.ResponseHeaderTimeout = DefaultHTTPTimeout
	transport.MaxResponseHeaderBytes = 64 << 10
	return &http.Client{
		Transport:     transport,
		Timeout:       DefaultHTTPTimeout,
		CheckRedirect: sameHostRedirect,
	}
}

func sameHostRedirect(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	keepsBody := req.Response != nil &&
		(req.Response.StatusCode == http.StatusTemporaryRedirect || req.Response.StatusCode == http.StatusPermanentRedirect)
	if !keepsBody || len(via) > maxRedirects || req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		return http.ErrUseLastResponse
	}
	return nil
}

// Post sends body to rawURL and classifies the answer with CheckStatus. The
// headers are sent as given. Errors name the URL by scheme and host only: a
// Slack webhook URL carries its token in the path. net/http's *url.Error,
// which quotes the whole URL, is replaced, not wrapped, and the URL's path,
// query and user info are redacted from the rest of a transport error and
// from the receiver's answer, which may echo them: none of it reaches the
// error chain that is logged and that Temporal stores in the history.
// Transport failures (refused, reset, timed out) are retryable. secrets
// are further credentials to redact the same way, for a receiver whose key
// travels in the body rather than the URL (a PagerDuty routing key).
func Post(ctx context.Context, client *http.Client, rawURL string, header http.Header, body []byte, secrets ...string) error {
	where := RedactURL(rawURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		// The parse error quotes the URL; say only that it is bad.
		return Permanent(fmt.Errorf("POST %s: invalid URL", where))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	red := newRedactor(rawURL, secrets...)
	resp, err := client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("POST %s: %w", where, red.err(err))
	}
	defer resp.Body.Close()
	start, err := io.ReadAll(io.LimitReader(resp.Body, readLimit+1))
	// A cut answer may end in the first half of a secret; red.body drops it.
	cut := len(start) > readLimit || err != nil
	start = red.body(start[:min(len(start), readLimit)], cut)
	if err != nil && resp.StatusCode/100 != 2 {
		// The status is known; the body was only wanted for the message.
		start = append(start, " [body unreadable]"...)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	if err := CheckStatus(resp.StatusCode, resp.Header, start, time.Now()); err != nil {
		return fmt.Errorf("POST %s: %w", where, err)
	}
	return nil
}

// RedactURL returns what of a URL may be shown: its scheme and host. Paths,
// queries and user info may hold tokens (a Slack webhook's path is its
// secret) and are dropped.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "<invalid URL>"
	}
	return u.Scheme + "://" + u.Host
}

// CheckURL reports whether rawURL can receive notifications: absolute,
// http or https, with a host. Its errors never quote the URL, so start-up
// can print them next to the variable's name.
func CheckURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	switch {
	case err != nil:
		return errors.New("not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("the URL must start with https:// or http://")
	case u.Host == "":
		return errors.New("the URL has no host")
	}
	return nil
}
