package ingress

// Signed webhooks, the Standard Webhooks way GitLab signs them when a hook
// has a signing token: webhook-id, webhook-timestamp, and webhook-signature
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>", keyed with the secret
// that follows "whsec_".

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SignatureTolerance is how far a delivery's webhook-timestamp may be from
// the intake's clock, either way: the specification's five minutes. An
// older signed delivery may be a replay.
const SignatureTolerance = 5 * time.Minute

// minSigningKey is the shortest key accepted, in bytes: the specification
// asks for 24 to 64 random bytes.
const minSigningKey = 16

// SigningKey is a source's Standard Webhooks signing secret.
type SigningKey struct {
	key []byte
}

// ParseSigningKey reads "whsec_<base64>". Errors never quote the key.
func ParseSigningKey(s string) (SigningKey, error) {
	s = strings.TrimSpace(s)
	raw, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return SigningKey{}, errors.New(`want the signing token as GitLab shows it, "whsec_" and base64`)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return SigningKey{}, errors.New(`what follows "whsec_" is not base64`)
	}
	if len(key) < minSigningKey {
		return SigningKey{}, fmt.Errorf("the key is %d bytes: want at least %d", len(key), minSigningKey)
	}
	return SigningKey{key: key}, nil
}

// Verify checks a delivery's signature over body at now and returns its
// webhook-id, which GitLab sets to the event's Idempotency-Key. Of the
// signatures webhook-signature lists (several while a key is rotated),
// one "v1" must match; comparisons take constant time.
func (k SigningKey) Verify(h http.Header, body []byte, now time.Time) (id string, err error) {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return "", errors.New("this source signs its deliveries: webhook-id, webhook-timestamp and webhook-signature are required")
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", errors.New("webhook-timestamp is not a number of seconds")
	}
	if at := time.Unix(secs, 0); at.Before(now.Add(-SignatureTolerance)) || at.After(now.Add(SignatureTolerance)) {
		return "", fmt.Errorf("webhook-timestamp is more than %s from now: a replay, or a clock far off", SignatureTolerance)
	}
	want := k.sign(id, ts, body)
	for _, entry := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return id, nil
		}
	}
	return "", errors.New("webhook-signature does not match: wrong signing token, or the body was changed")
}

// Sign returns the webhook-signature of body for id at ts, as GitLab
// computes it: for tests and tools that play GitLab.
func (k SigningKey) Sign(id string, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	return timestamp, "v1," + base64.StdEncoding.EncodeToString(k.sign(id, timestamp, body))
}

func (k SigningKey) sign(id, ts string, body []byte) []byte {
	mac := hmac.New(sha256.New, k.key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// SetSigningKeys reads ALERTFLOW_SOURCE_SIGNING_KEYS, "name=whsec_…,…":
// each names a source of t, whose deliveries must then be signed with
// that key. Errors name the source, never a key.
func (t *Tokens) SetSigningKeys(spec string) error {
	return t.perSource(spec, "name=whsec_…", func(src *source, key string) error {
		k, err := ParseSigningKey(key)
		if err != nil {
			return err
		}
		src.signing = &k
		return nil
	})
}
