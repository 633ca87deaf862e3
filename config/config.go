// Package config reads alertflow's routing configuration: the receivers
// (each with a signed webhook, Slack and/or PagerDuty), the routing tree
// that picks them (package route) and the heartbeat monitors of scheduled
// pipelines (package monitor). It validates the whole file, naming the
// file, the line and what is wrong, and never quotes a secret.
package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/alertflow/alertflow/monitor"
	"github.com/alertflow/alertflow/route"
)

// DefaultPagerDutyURL is PagerDuty's Events API v2 endpoint; EU accounts
// and tests set their own.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// DefaultReceiver is the name of the one receiver FromEnv makes.
const DefaultReceiver = "default"

// Config is the routing configuration.
type Config struct {
	Receivers []Receiver
	// People name the Slack users who press a button or run a command,
	// by Slack user ID or user name, as alertflow records them ("by").
	// A user not listed is recorded by their Slack user name.
	People map[string]string
	// Route is the root of the tree. In a loaded file every node names
	// its receiver: a child written without one gets its parent's.
	Route *route.Route
	// Monitors are the heartbeat monitors of scheduled pipelines, in file
	// order, each passing Check with its defaults filled; none when the
	// file has no monitors key.
	Monitors []monitor.Spec
	// ScheduleMonitors are the projects whose pipeline schedules, as
	// GitLab's API lists them, are each a monitor ("schedules: true").
	ScheduleMonitors []monitor.Schedules
}

// Receiver is a named set of integrations that hear the same alerts.
type Receiver struct {
	Name      string
	Webhook   *Webhook // nil when absent
	Slack     *Slack
	PagerDuty *PagerDuty
}

// Webhook is alertflow's signed JSON webhook.
type Webhook struct {
	URL Secret
	// Secret is the HMAC-SHA256 key of X-Alertflow-Signature; zero when
	// the file gives none.
	Secret Secret
}

// Slack is a Slack incoming webhook (URL, itself a credential), or a Slack
// app (Token, a bot token, posting to Channel): the app keeps one message
// per alert, updates it in place and carries buttons to act on it.
type Slack struct {
	URL Secret
	// Token is the app's bot token (xoxb-…); zero for an incoming webhook.
	Token Secret
	// Channel is where the app posts: a name (#ci) or an ID (C0123).
	Channel string
	// APIURL is Slack's Web API; "" means https://slack.com/api.
	APIURL string
}

// App says the integration is a Slack app rather than an incoming webhook.
func (s *Slack) App() bool { return s.Token.Value() != "" }

// PagerDuty is one PagerDuty service, through the Events API v2.
type PagerDuty struct {
	RoutingKey Secret
	URL        string // DefaultPagerDutyURL unless the file says otherwise
	// ChangeEvents sends each successful pipeline on a project's default
	// branch that routes here to the Change Events API, so that the
	// service's timeline shows fixes and deploys next to its incidents.
	ChangeEvents bool
	// ChangeURL is the Change Events endpoint: the file's change_url, or
	// else URL with /v2/enqueue made /v2/change/enqueue; "" when neither
	// says one (then ChangeEvents is false, or the file is refused).
	ChangeURL string
}

// ChangeURLOf is the Change Events endpoint beside an Events API v2
// endpoint: the same URL with its /v2/enqueue made /v2/change/enqueue, as
// PagerDuty serves both (the EU region too); "" when url does not end in
// /v2/enqueue, since then nothing says where its change events go.
func ChangeURLOf(url string) string {
	if base, ok := strings.CutSuffix(url, "/v2/enqueue"); ok {
		return base + "/v2/change/enqueue"
	}
	return ""
}

// The integrations, in the order Integrations lists them.
const (
	IntegrationWebhook   = "webhook"
	IntegrationSlack     = "slack"
	IntegrationPagerDuty = "pagerduty"
)

// Integrations names a receiver's integrations in a fixed order:
// "webhook", "slack", "pagerduty".
func (r Receiver) Integrations() []string {
	var out []string
	if r.Webhook != nil {
		out = append(out, IntegrationWebhook)
	}
	if r.Slack != nil {
		out = append(out, IntegrationSlack)
	}
	if r.PagerDuty != nil {
		out = append(out, IntegrationPagerDuty)
	}
	return out
}

// Receiver finds a receiver by name.
func (c *Config) Receiver(name string) (Receiver, bool) {
	for _, r := range c.Receivers {
		if r.Name == name {
			return r, true
		}
	}
	return Receiver{}, false
}

// FromEnv is the configuration when no file is given: one receiver named
// "default" with the webhook (if webhookURL != "") and Slack (if slackURL !=
// ""), and the root route to it. A receiver with no integration is allowed
// here (notifications are only logged), not in a file.
func FromEnv(webhookURL, webhookSecret, slackURL string) *Config {
	r := Receiver{Name: DefaultReceiver}
	if webhookURL != "" {
		r.Webhook = &Webhook{URL: NewSecret(webhookURL), Secret: NewSecret(webhookSecret)}
	}
	if slackURL != "" {
		r.Slack = &Slack{URL: NewSecret(slackURL)}
	}
	return &Config{Receivers: []Receiver{r}, Route: &route.Route{Receiver: DefaultReceiver}}
}

// Load reads and validates the file at path. lookup expands ${VAR}
// (os.LookupEnv in production). A relative *_file path is read relative to
// the directory of the file at path, as Alertmanager reads its own. Errors
// name the file, the line and what is wrong, one per line:
//
//	alertflow.yaml:14: route.routes[1].receiver: unknown receiver "team-b"
func Load(path string, lookup func(string) (string, bool)) (*Config, error) {
	data, err := readAtMost(path, MaxConfigFileSize)
	if err != nil {
		return nil, fmt.Errorf("reading the routing configuration: %w", err)
	}
	if len(data) > MaxConfigFileSize {
		return nil, fmt.Errorf("reading the routing configuration: %s holds more than %d bytes (1 MiB, MaxConfigFileSize): a routing file is far smaller", path, MaxConfigFileSize)
	}
	dir := filepath.Dir(path)
	return Parse(path, data, lookup, func(p string) ([]byte, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return readAtMost(p, MaxSecretFileSize)
	})
}

// MaxSecretFileSize bounds what a *_file holds: a secret or a URL is far
// smaller, and a path to /dev/zero or a huge file must not exhaust memory.
const MaxSecretFileSize = 64 << 10

// errNotRegular refuses a named pipe, a device or a directory.
var errNotRegular = errors.New("not a regular file: a named pipe would wait for a writer for ever, a device never ends")

// MaxConfigFileSize bounds the routing file: thousands of routes fit in
// far less, and a path to /dev/zero or a huge file must not exhaust memory.
const MaxConfigFileSize = 1 << 20

// readAtMost reads the regular file at p, but no more than limit+1 bytes:
// enough for Parse to tell that it holds more than limit. Anything but a
// regular file (a symbolic link to one is one) is refused before it is
// opened: opening a named pipe would wait for a writer for ever, and a
// device never ends.
func readAtMost(p string, limit int64) ([]byte, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		// A PathError, as the open's would be: callers name the file as
		// written rather than p.
		return nil, &fs.PathError{Op: "read", Path: p, Err: errNotRegular}
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}
