// Package config reads alertflow's routing configuration: the receivers
// (each with one or more integrations, receivers.go), the routing tree
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

	"github.com/alertflow/alertflow/monitor"
	"github.com/alertflow/alertflow/route"
)

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
