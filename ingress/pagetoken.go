package ingress

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
)

// pageTokenCheck is the length of the checksum a page token carries.
const pageTokenCheck = 8

// sealPageToken wraps Temporal's opaque next-page token with a checksum,
// so that a token this API did not give out is refused at once: Temporal
// fails on a malformed one only after retries, as if it were down. A
// checksum rather than a keyed MAC: any intake replica must accept the
// tokens of another, and a caller with the API token can list anyway.
func sealPageToken(token []byte) string {
	if len(token) == 0 {
		return ""
	}
	sum := sha256.Sum256(token)
	return base64.RawURLEncoding.EncodeToString(append(sum[:pageTokenCheck:pageTokenCheck], token...))
}

// openPageToken returns the Temporal token inside s, nil for none, or false
// when s is not a token sealPageToken made.
func openPageToken(s string) ([]byte, bool) {
	if s == "" {
		return nil, true
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) <= pageTokenCheck {
		return nil, false
	}
	sum := sha256.Sum256(raw[pageTokenCheck:])
	if !bytes.Equal(sum[:pageTokenCheck], raw[:pageTokenCheck]) {
		return nil, false
	}
	return raw[pageTokenCheck:], true
}
