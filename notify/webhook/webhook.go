// Package webhook delivers alertflow notifications to a generic HTTP
// receiver: a JSON POST of contract.Payload, signed with HMAC-SHA256 when a
// secret is set. The receiver configured by ALERTFLOW_NOTIFY_WEBHOOK_URL and
// ALERTFLOW_NOTIFY_WEBHOOK_SECRET is one of these. What goes on the wire is
// defined in the contract package, which receivers can import on its own.
package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/webhook/contract"
)

// Notifier posts notifications to one webhook URL. It implements
// notify.Notifier.
type Notifier struct {
	url    string
	secret string
	client *http.Client
}

// New returns a notifier posting to url, signing with secret when it is not
// empty. A nil client means notify.DefaultHTTPClient().
func New(url, secret string, client *http.Client) *Notifier {
	if client == nil {
		client = notify.DefaultHTTPClient()
	}
	return &Notifier{url: url, secret: secret, client: client}
}

// Notify posts n as a Payload. A 2xx answer is a delivery; 408, 429, 5xx
// and transport failures are worth retrying; any other answer is permanent.
// Errors name the receiver by its scheme only, and never the secret.
func (w *Notifier) Notify(ctx context.Context, n notify.Notification) error {
	p, err := NewPayload(n)
	if err != nil {
		return notify.Permanent(fmt.Errorf("build webhook notification %s: %w", n.ID, err))
	}
	body, err := json.Marshal(p)
	if err != nil {
		return notify.Permanent(fmt.Errorf("encode webhook notification %s: %w", n.ID, err))
	}
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("User-Agent", "alertflow")
	header.Set(contract.HeaderEvent, string(p.Kind))
	header.Set(contract.HeaderIdempotencyKey, n.ID)
	if w.secret != "" {
		header.Set(contract.HeaderSignature, contract.Sign(w.secret, body))
	}
	if err := notify.Post(ctx, w.client, w.url, header, body); err != nil {
		return fmt.Errorf("send webhook notification %s: %w", n.ID, err)
	}
	return nil
}
