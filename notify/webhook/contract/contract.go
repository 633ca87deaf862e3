// Package contract is what alertflow's generic webhook puts on the wire:
// the JSON body (Payload), the headers, and the HMAC-SHA256 signature
// (Sign, Verify). Receivers written in Go can import it to parse and verify
// notifications; it imports only the standard library, so doing so pulls
// in nothing else of alertflow's.
package contract

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Headers of a webhook notification besides Content-Type and User-Agent.
const (
	// HeaderEvent carries the notification's kind, so a receiver can route
	// without parsing the body.
	HeaderEvent = "X-Alertflow-Event"
	// HeaderSignature carries "sha256=<hex HMAC-SHA256 of the body>" when
	// a secret is set.
	HeaderSignature = "X-Alertflow-Signature"
	// HeaderIdempotencyKey carries the notification ID, the same on every
	// retry.
	HeaderIdempotencyKey = "Idempotency-Key"
)

// signaturePrefix names the algorithm, as GitHub's X-Hub-Signature-256
// does, so another one can be added without breaking receivers.
const signaturePrefix = "sha256="

// Sign returns the X-Alertflow-Signature value of body under secret:
// "sha256=" and the hex HMAC-SHA256 of the exact bytes sent.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether header, an X-Alertflow-Signature value, is the
// signature of body under secret. It compares in constant time. An empty
// secret verifies nothing: a receiver that has no secret must not accept a
// signature as proof.
func Verify(secret string, body []byte, header string) bool {
	if secret == "" {
		return false
	}
	got, ok := strings.CutPrefix(strings.TrimSpace(header), signaturePrefix)
	if !ok {
		return false
	}
	sig, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(sig, mac.Sum(nil))
}
