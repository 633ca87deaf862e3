package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
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
// headers are sent as given. Errors name the URL by its scheme only: a
// Slack webhook URL carries its token in the path, and any receiver's host
// may be a secret too (a tenant's subdomain, an internal name). net/http's
// *url.Error, which quotes the whole URL, is replaced, not wrapped; a
// transport failure is told in words of Post's own (see transportError),
// and the URL's host, path, query and user info are redacted from the
// receiver's answer, which may echo them: none of it reaches the error
// chain that is logged and that Temporal stores in the history. Transport
// failures (refused, reset, timed out) are retryable. secrets are further
// credentials to redact the same way, for a receiver whose key travels in
// the body rather than the URL (a PagerDuty routing key).
func Post(ctx context.Context, client *http.Client, rawURL string, header http.Header, body []byte, secrets ...string) error {
	_, err := post(ctx, client, rawURL, header, body, 0, secrets)
	return err
}

// PostJSON is Post of v encoded as JSON, with the headers every JSON
// receiver sends; v that cannot be encoded is a permanent failure.
func PostJSON(ctx context.Context, client *http.Client, rawURL string, v any, secrets ...string) error {
	body, err := json.Marshal(v)
	if err != nil {
		return Permanent(fmt.Errorf("encode the body: %w", err))
	}
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("User-Agent", "alertflow")
	return Post(ctx, client, rawURL, header, body, secrets...)
}

// AnswerLimit bounds the 2xx answer PostForAnswer returns: Slack's Web API
// echoes the posted message, a few kilobytes.
const AnswerLimit = 256 << 10

// PostForAnswer is Post for a receiver whose 2xx answer says more than its
// status (Slack's Web API answers {"ok":false,...} with a 200): it returns
// the answer, at most AnswerLimit bytes, with secrets redacted. A longer
// answer is an error.
func PostForAnswer(ctx context.Context, client *http.Client, rawURL string, header http.Header, body []byte, secrets ...string) ([]byte, error) {
	return post(ctx, client, rawURL, header, body, AnswerLimit, secrets)
}

// post sends body and classifies the answer; keep > 0 reads and returns up
// to keep bytes of a 2xx answer.
func post(ctx context.Context, client *http.Client, rawURL string, header http.Header, body []byte, keep int, secrets []string) ([]byte, error) {
	where := RedactURL(rawURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		// The parse error quotes the URL; say only that it is bad.
		return nil, Permanent(fmt.Errorf("POST %s: invalid URL", where))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	red := newRedactor(rawURL, secrets...)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", where, transportError(err, red))
	}
	defer resp.Body.Close()
	limit := readLimit
	if keep > 0 && resp.StatusCode/100 == 2 {
		limit = keep
	}
	start, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	// A cut answer may end in the first half of a secret; red.body drops it.
	cut := len(start) > limit || err != nil
	start = red.body(start[:min(len(start), limit)], cut)
	if err != nil && resp.StatusCode/100 != 2 {
		// The status is known; the body was only wanted for the message.
		start = append(start, " [body unreadable]"...)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	if err := CheckStatus(resp.StatusCode, resp.Header, start, time.Now()); err != nil {
		return nil, fmt.Errorf("POST %s: %w", where, err)
	}
	if keep > 0 && cut {
		// Transient: a proxy or a hiccup, not what the receiver means.
		return nil, fmt.Errorf("POST %s: the answer was cut short or longer than %d bytes", where, keep)
	}
	return start, nil
}

// transportError says what went wrong with an exchange that got no answer.
// The errors of net and net/http quote the host, the address it resolved
// to, a proxy's, or the names a TLS certificate is valid for; what they
// mean is said here in fixed words, with the operation ("dial", "read")
// and the system's reason ("connection refused"), which name no host. An
// error of another kind keeps its message with the URL's parts and the
// secrets redacted. A timeout or a cancellation stays one for errors.Is.
func transportError(err error, red redactor) error {
	var kind error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		kind = context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		kind = context.Canceled
	}
	msg := transportReason(err)
	if msg == "" {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return red.err(err)
	}
	if op, ok := errors.AsType[*net.OpError](err); ok && op.Op != "" {
		msg = op.Op + ": " + msg
	}
	return &redactedError{msg: msg, kind: kind}
}

// transportReason is what went wrong in words that name no host, or ""
// when err is of no kind it knows.
func transportReason(err error) string {
	var (
		errno   syscall.Errno
		dns     *net.DNSError
		host    x509.HostnameError
		unknown x509.UnknownAuthorityError
		invalid x509.CertificateInvalidError
		record  tls.RecordHeaderError
		alert   tls.AlertError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &dns):
		switch {
		case dns.IsNotFound:
			return "DNS lookup: no such host"
		case dns.IsTimeout:
			return "DNS lookup timed out"
		}
		return "DNS lookup failed"
	case errors.As(err, &host):
		return "TLS: the certificate is not valid for the receiver's host"
	case errors.As(err, &unknown):
		return "TLS: the certificate is signed by an unknown authority"
	case errors.As(err, &invalid):
		return "TLS: the certificate is not valid (expired, not yet valid, or not for this use)"
	case errors.As(err, &record):
		return "TLS: the receiver did not answer TLS"
	case errors.As(err, &alert):
		return "TLS: " + alert.Error()
	case errors.As(err, &errno):
		return errno.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection closed before the answer"
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return "timed out"
	}
	return ""
}

// RedactURL returns what of a URL may be shown: its scheme. The host,
// path, query and user info may all hold secrets (a Slack webhook's path
// is its token; a host can name a tenant) and are replaced.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "<invalid URL>"
	}
	return u.Scheme + "://" + redactedText
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
