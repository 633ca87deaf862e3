package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// redacted is what a Secret prints as, wherever it goes.
const redacted = "<secret>"

// Secret holds a secret value: a routing key, an HMAC key, or a URL that
// is itself a credential (a Slack incoming webhook). It never prints: every
// fmt verb, String, GoString, MarshalJSON, MarshalText, MarshalYAML and
// slog's LogValue all give "<secret>". Value returns it.
//
// So a Secret does not survive serialisation either: one passed to a
// Temporal activity arrives as "<secret>". Pass the receiver's name and
// look the Secret up in the worker's configuration instead; that also
// keeps it out of workflow history.
//
// The value sits behind a pointer: where fmt bypasses Format (a struct
// holding a Secret printed with a verb it does not suit, %s of a
// *Webhook), it then prints an address, not the value.
type Secret struct{ v *string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{&v} }

// Value is the secret itself, for the one place that must send it.
func (s Secret) Value() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether the secret is empty (absent).
func (s Secret) IsZero() bool { return s.Value() == "" }

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return redacted }

// Format makes every verb print "<secret>": without it %d or %x of a
// struct holding a Secret would print the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (s Secret) MarshalYAML() (any, error)    { return redacted, nil }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
