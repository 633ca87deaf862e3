package notify

import (
	"cmp"
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
)

// redactedText replaces a secret in anything kept from a delivery.
const redactedText = "[redacted]"

// minSecretPart is the shortest path segment, query value or user-info part
// redacted on its own. Shorter ones ("v1", "hooks") are common words that
// would garble the rest of a message; they are still redacted as part of
// the whole path or query.
const minSecretPart = 6

// redactor hides the secret parts of a receiver's URL (its host, path,
// query and user info, as a whole and piece by piece, raw and decoded),
// and any other credential the receiver is sent (whole), in what a
// delivery keeps from the receiver's answer or from the transport. A receiver, or a proxy in
// front of it, may echo the request in an error body, and that body ends
// up in logs and the workflow history.
type redactor struct {
	// secrets are longest first, so a whole URL is replaced before the
	// path inside it.
	secrets []string
}

// jsonEscapes writes a string as the most escaping JSON encoders do.
var jsonEscapes = strings.NewReplacer("/", `\/`, "&", `\u0026`)

func newRedactor(rawURL string, extra ...string) redactor {
	secrets := []string{rawURL}
	add := func(least int, parts ...string) {
		for _, p := range parts {
			if len(p) >= least && p != "/" {
				secrets = append(secrets, p)
			}
		}
	}
	for _, e := range extra {
		// Whole, however short: the caller says it is a secret.
		add(1, e, jsonEscapes.Replace(e))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return redactor{secrets: sortSecrets(secrets)}
	}
	whole := []string{rawURL, u.String(), u.EscapedPath(), u.Path, u.RawQuery, u.RequestURI()}
	if q, err := url.QueryUnescape(u.RawQuery); err == nil {
		whole = append(whole, q)
	}
	for _, w := range whole {
		if w == "" || w == "/" {
			// No path: nothing to hide, and "/" is in every message.
			continue
		}
		// As JSON encoders may write it: "\/" for "/" (PHP, Ruby's
		// escape_slash), "\u0026" for "&" (Go).
		add(1, w, jsonEscapes.Replace(w), strings.ReplaceAll(w, "&", `\u0026`))
	}
	add(minSecretPart, strings.Split(u.EscapedPath(), "/")...)
	add(minSecretPart, strings.Split(u.Path, "/")...)
	for _, pair := range strings.Split(u.RawQuery, "&") {
		add(minSecretPart, pair)
		if _, v, ok := strings.Cut(pair, "="); ok {
			add(minSecretPart, v)
			if dv, err := url.QueryUnescape(v); err == nil {
				add(minSecretPart, dv)
			}
		}
	}
	// The host too: a receiver may echo it, and it may be a secret.
	add(1, u.Host, u.Hostname())
	if u.User != nil {
		pass, _ := u.User.Password()
		add(1, u.User.String())
		add(minSecretPart, u.User.Username(), pass)
	}
	return redactor{secrets: sortSecrets(secrets)}
}

// sortSecrets puts the longest first and drops repeats.
func sortSecrets(secrets []string) []string {
	slices.SortFunc(secrets, func(a, b string) int {
		return cmp.Or(len(b)-len(a), strings.Compare(a, b))
	})
	return slices.Compact(secrets)
}

// text returns s with every secret replaced.
func (r redactor) text(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redactedText)
	}
	return s
}

// body returns the start of a receiver's answer with every secret
// replaced. When the answer was cut (truncated), a secret may have been cut
// with it: a tail that begins any secret is dropped too.
func (r redactor) body(b []byte, truncated bool) []byte {
	s := r.text(string(b))
	if truncated {
		for _, secret := range r.secrets {
			for n := min(len(secret)-1, len(s)); n > 0; n-- {
				if strings.HasSuffix(s, secret[:n]) {
					s = s[:len(s)-n]
					break
				}
			}
		}
	}
	return []byte(s)
}

// err returns err unchanged when no error in its chain says a secret, and
// otherwise an error of the redacted message that keeps only whether it was
// a timeout or a cancellation: the rest of the chain is dropped, because
// Temporal stores every error of a chain in the history.
func (r redactor) err(err error) error {
	if err == nil {
		return nil
	}
	clean := true
	for e := range chain(err) {
		if r.text(e.Error()) != e.Error() {
			clean = false
			break
		}
	}
	if clean {
		return err
	}
	re := &redactedError{msg: r.text(err.Error())}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		re.kind = context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		re.kind = context.Canceled
	}
	return re
}

// chain yields err and every error it wraps, depth first.
func chain(err error) func(yield func(error) bool) {
	return func(yield func(error) bool) {
		var walk func(error) bool
		walk = func(e error) bool {
			if e == nil {
				return true
			}
			if !yield(e) {
				return false
			}
			switch u := e.(type) {
			case interface{ Unwrap() error }:
				return walk(u.Unwrap())
			case interface{ Unwrap() []error }:
				for _, inner := range u.Unwrap() {
					if !walk(inner) {
						return false
					}
				}
			}
			return true
		}
		walk(err)
	}
}

// redactedError is an error whose message had secrets in it.
type redactedError struct {
	msg  string
	kind error // context.DeadlineExceeded, context.Canceled or nil
}

func (e *redactedError) Error() string { return e.msg }

// Unwrap keeps errors.Is(err, context.DeadlineExceeded) true for a
// redacted timeout. The sentinels say nothing of the URL.
func (e *redactedError) Unwrap() error { return e.kind }
