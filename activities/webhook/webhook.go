// Package webhook delivers alertflow notifications to a generic HTTP
// receiver: a JSON POST of Payload, signed with HMAC-SHA256 when a secret
// is set. The receiver configured by ALERTFLOW_NOTIFY_WEBHOOK_URL and
// ALERTFLOW_NOTIFY_WEBHOOK_SECRET is one of these.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/alertflow/alertflow/activities"
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

// Notifier posts notifications to one webhook URL. It implements
// activities.Notifier.
type Notifier struct {
	url    string
	secret string
	client *http.Client
}

// New returns a notifier posting to url, signing with secret when it is not
// empty. A nil client means activities.DefaultHTTPClient().
func New(url, secret string, client *http.Client) *Notifier {
	if client == nil {
		client = activities.DefaultHTTPClient()
	}
	return &Notifier{url: url, secret: secret, client: client}
}

// Notify posts n as a Payload. A 2xx answer is a delivery; 408, 429, 5xx
// and transport failures are worth retrying; any other answer is permanent.
// Errors name the receiver by scheme and host only, and never the secret.
func (w *Notifier) Notify(ctx context.Context, n activities.Notification) error {
	body, err := json.Marshal(NewPayload(n))
	if err != nil {
		return activities.Permanent(fmt.Errorf("encode webhook notification %s: %w", n.ID, err))
	}
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("User-Agent", "alertflow")
	header.Set(HeaderEvent, string(n.Kind))
	header.Set(HeaderIdempotencyKey, n.ID)
	if w.secret != "" {
		header.Set(HeaderSignature, Sign(w.secret, body))
	}
	if err := activities.Post(ctx, w.client, w.url, header, body); err != nil {
		return fmt.Errorf("send webhook notification %s: %w", n.ID, err)
	}
	return nil
}

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
