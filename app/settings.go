package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/alertflow/alertflow/alert"
	routeconfig "github.com/alertflow/alertflow/config"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/notify"
)

// The per-alert rate cannot be turned off or set high: while signals keep
// arriving during every workflow task, the server refuses the task that
// would continue the run as new, and ends the run at its history limit,
// accepted events and all (make bench's flood measured it at 200 a
// second). A burst of the largest events (some 44 KB each) must stay far
// below the 50 MB limit.
const (
	maxAlertRate  = 50
	maxAlertBurst = 500
)

// config is everything alertflow reads from its environment and flags.
type config struct {
	TemporalAddress string
	Namespace       string
	// Gzip compresses calls to Temporal.
	Gzip      bool
	TaskQueue string
	// SilenceTaskQueue is where silences run; SilenceWorker says who
	// serves it: a child process of each worker, or one run apart.
	SilenceTaskQueue string
	SilenceWorker    string
	Listen           string
	SourceTokens     ingress.Tokens
	// sourceTokensSet is false when ALERTFLOW_SOURCE_TOKENS was empty, so
	// that dev can make one up.
	sourceTokensSet bool
	APIToken        ingress.Tokens
	// GitLabAPIs are the GitLab APIs alerts are reconciled with, by
	// instance; ReconcileInterval is how often.
	GitLabAPIs        []ingress.GitLabAPI
	ReconcileInterval time.Duration
	// ChangeEvents, when set, says whether the intake starts change
	// workflows; nil leaves it to the routing file, when it is read.
	ChangeEvents *bool
	// apiTokenSet is false when ALERTFLOW_API_TOKEN was empty.
	apiTokenSet      bool
	ReminderInterval time.Duration
	// Hold, AutoResolveAfter and Children shape the alerts the intake
	// starts (rules for real GitLab traffic).
	Hold             time.Duration
	AutoResolveAfter time.Duration
	Children         alert.ChildMode
	// FlapThreshold and FlapWindow say when an alert ID is flapping.
	FlapThreshold int
	FlapWindow    time.Duration
	// ConfigFile is the routing configuration (receivers and the route
	// tree); "" when the notification variables make one default receiver.
	ConfigFile string
	// routing is the loaded ConfigFile, or the receiver the webhook and
	// Slack variables make without one; set for the commands that run a
	// worker.
	routing       *routeconfig.Config
	WebhookURL    string
	WebhookSecret string
	SlackURL      string
	// SlackSigningSecret verifies the Slack app's buttons and command.
	SlackSigningSecret []byte
	MaxBody            int64
	MaxBodyInFlight    int64
	// AlertRate and AlertBurst bound the deliveries a second to one alert.
	AlertRate      float64
	AlertBurst     int
	MaxConnections int
	IdleTimeout    time.Duration
	Retention      time.Duration
	TemporalBin    string
	DataDir        string
	DevPort        int
	UIPort         int
	// temporal is the rest of the Temporal connection (TLS, API key,
	// headers) from Temporal's environment configuration; its address and
	// namespace are moved to TemporalAddress and Namespace.
	temporal envconfig.ClientConfigProfile
	// logTo is where the process logs, and where a child process it
	// starts logs too.
	logTo io.Writer
}

// setting is one configuration variable: its environment name is also the
// name of its flag, lower-cased with dashes (TEMPORAL_ADDRESS is
// -temporal-address).
type setting struct {
	env   string
	def   string
	help  string
	parse func(c *config, v string) error
}

func settings() []setting {
	return []setting{
		{"TEMPORAL_ADDRESS", "127.0.0.1:7233", "Temporal frontend host:port; for dev, setting it uses that server instead of starting one",
			func(c *config, v string) error {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return errors.New("want host:port")
				}
				c.TemporalAddress = v
				return nil
			}},
		{"TEMPORAL_NAMESPACE", "default", "Temporal namespace alerts live in", nonEmpty(func(c *config) *string { return &c.Namespace })},
		{"ALERTFLOW_TEMPORAL_COMPRESSION", "none", "compression of the gRPC calls to Temporal: none, or gzip for a server across a slow link",
			func(c *config, v string) error {
				switch v {
				case "none":
					c.Gzip = false
				case "gzip":
					c.Gzip = true
				default:
					return errors.New("want none or gzip")
				}
				return nil
			}},
		{"ALERTFLOW_TASK_QUEUE", "alertflow", "task queue of the alert workflows", nonEmpty(func(c *config) *string { return &c.TaskQueue })},
		// After ALERTFLOW_TASK_QUEUE, which its default is made from.
		{"ALERTFLOW_SILENCE_TASK_QUEUE", "", "task queue of the silence workflows the REST API starts (default: ALERTFLOW_TASK_QUEUE's name with -silences)",
			func(c *config, v string) error {
				v = strings.TrimSpace(v)
				if v == "" {
					v = c.TaskQueue + "-silences"
				}
				if v == c.TaskQueue {
					return errors.New("want a task queue apart from ALERTFLOW_TASK_QUEUE's: silences kept by the alert worker slow every notification")
				}
				c.SilenceTaskQueue = v
				return nil
			}},
		{"ALERTFLOW_SILENCE_WORKER", silenceWorkerProcess, "who runs the silence workflows: process, a child process each worker (serve, worker, dev) starts and restarts; external, `alertflow silence-worker` run apart",
			func(c *config, v string) error {
				switch v {
				case silenceWorkerProcess, silenceWorkerExternal:
					c.SilenceWorker = v
					return nil
				}
				return fmt.Errorf("want %s or %s", silenceWorkerProcess, silenceWorkerExternal)
			}},
		{"ALERTFLOW_LISTEN", ":8080", "address the HTTP server (webhook, health) listens on",
			func(c *config, v string) error {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return errors.New("want [host]:port")
				}
				c.Listen = v
				return nil
			}},
		{"ALERTFLOW_SOURCE_TOKENS", "", "webhook sources and their secret tokens, name1=tok1,name2=tok2; name1:team-a/**|1234 limits a source to the projects it names by path glob or ID, a source without one acts on any project (required but for dev, which makes one up)",
			func(c *config, v string) error {
				if strings.TrimSpace(v) == "" {
					return nil
				}
				t, err := ingress.ParseTokens(v)
				if err != nil {
					return err
				}
				c.SourceTokens, c.sourceTokensSet = t, true
				return nil
			}},
		// After ALERTFLOW_SOURCE_TOKENS, whose sources it names.
		{"ALERTFLOW_SOURCE_SIGNING_KEYS", "", "signing tokens of sources whose GitLab hooks sign their deliveries, name1=whsec_…,…: each source must be in ALERTFLOW_SOURCE_TOKENS, and its deliveries then need a valid webhook-signature within 5 minutes, or are answered 401",
			func(c *config, v string) error {
				if strings.TrimSpace(v) == "" {
					return nil
				}
				return c.SourceTokens.SetSigningKeys(v)
			}},
		{"ALERTFLOW_SOURCE_INSTANCES", "", "sources whose deliveries come from another GitLab instance than the home one, name1=instance,…: their alert IDs are <instance>:<project_id>-<ref>, so that two instances' projects never share an alert; the home instance's sources keep <project_id>-<ref>",
			func(c *config, v string) error {
				if strings.TrimSpace(v) == "" {
					return nil
				}
				return c.SourceTokens.SetInstances(v)
			}},
		// After ALERTFLOW_SOURCE_INSTANCES: a source's API is its instance's.
		{"ALERTFLOW_SOURCE_GITLAB_API", "", "base URL of the GitLab each source's deliveries come from, name1=https://gitlab.example.com,…: with a token in ALERTFLOW_SOURCE_GITLAB_API_TOKENS, its API reconciles the alerts of the source's instance (what GitLab never delivered: a green pipeline, a deleted branch); sources of one instance share one API",
			func(c *config, v string) error {
				if strings.TrimSpace(v) == "" {
					return nil
				}
				return c.SourceTokens.SetGitLabAPIURLs(v)
			}},
		{"ALERTFLOW_SOURCE_GITLAB_API_TOKENS", "", "GitLab tokens with the read_api scope, name1=glpat-…,…, one for each source in ALERTFLOW_SOURCE_GITLAB_API (read where the worker runs)",
			func(c *config, v string) error {
				if strings.TrimSpace(v) != "" {
					if err := c.SourceTokens.SetGitLabAPITokens(v); err != nil {
						return err
					}
				}
				apis, err := c.SourceTokens.GitLabAPIs()
				c.GitLabAPIs = apis
				return err
			}},
		{"ALERTFLOW_RECONCILE_INTERVAL", "30m", "how long after an alert opens, and then how often while it is open, GitLab's API is asked about its ref, for the instances that have one (ALERTFLOW_SOURCE_GITLAB_API); it is also asked at each reminder and on demand; 0 asks only then (read where alerts start)",
			func(c *config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < 0 || (d > 0 && d < time.Minute) || d > 24*time.Hour {
					return errors.New("want 0 or a duration from 1m to 24h, such as 30m")
				}
				c.ReconcileInterval = d
				return nil
			}},
		{"ALERTFLOW_CHANGE_EVENTS", "", "true makes the intake start a change workflow for each successful pipeline on a project's default branch, false never; unset asks the routing file whether a PagerDuty receiver takes change events, which an intake run alone (without the Slack app) does not read: set it to true there when the worker's file has change_events",
			func(c *config, v string) error {
				switch strings.TrimSpace(v) {
				case "":
					c.ChangeEvents = nil
				case "true":
					c.ChangeEvents = new(true)
				case "false":
					c.ChangeEvents = new(false)
				default:
					return errors.New("want true, false or nothing")
				}
				return nil
			}},
		{"ALERTFLOW_API_TOKEN", "", "bearer token of the REST API under /api/v1; unset turns the API off (dev makes one up)",
			func(c *config, v string) error {
				if strings.TrimSpace(v) == "" {
					return nil
				}
				if ingress.Placeholder(v) {
					return errors.New("a placeholder, not a secret: make one with `openssl rand -hex 32`")
				}
				// One token, whatever it holds: read as a source list, a
				// comma in it would add tokens.
				c.APIToken, c.apiTokenSet = ingress.SingleToken("api", strings.TrimSpace(v)), true
				return nil
			}},
		{"ALERTFLOW_REMINDER_INTERVAL", "4h", "how often an open, unacknowledged alert notifies again; 0 turns reminders off (read where alerts start: serve, ingress, dev)",
			func(c *config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < 0 || (d > 0 && d < time.Minute) {
					return errors.New("want 0 or a duration of at least 1m, such as 4h")
				}
				c.ReminderInterval = d
				return nil
			}},
		{"ALERTFLOW_HOLD", "1m", "how long a canceled or skipped pipeline that would open an alert waits for a newer pipeline to supersede it before anyone is told; 0 tells at once (read where alerts start)",
			func(c *config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < 0 || d > time.Hour {
					return errors.New("want a duration from 0 to 1h, such as 1m")
				}
				c.Hold = d
				return nil
			}},
		{"ALERTFLOW_AUTO_RESOLVE_AFTER", "168h", "an alert that has had no pipeline event for this long resolves itself; 0 never (read where alerts start)",
			func(c *config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < 0 || (d > 0 && d < time.Hour) {
					return errors.New("want 0 or a duration of at least 1h, such as 168h")
				}
				c.AutoResolveAfter = d
				return nil
			}},
		{"ALERTFLOW_CHILD_PIPELINES", "parent", "child pipelines (source parent_pipeline): parent lets the parent speak for them, as GitLab does; alert lets them open and resolve alerts (for triggers without strategy: depend)",
			func(c *config, v string) error {
				m, err := alert.ParseChildMode(v)
				c.Children = m
				return err
			}},
		{"ALERTFLOW_FLAP_THRESHOLD", strconv.Itoa(alert.DefaultFlapThreshold), "an ID whose alerts opened and resolved this often within ALERTFLOW_FLAP_WINDOW is flapping: its next alert sends one flapping notification, then stable once the branch stays green for the window; 0 turns flapping detection off (read where alerts start)",
			func(c *config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 || n > 100 {
					return errors.New("want a number of alerts from 0 (off) to 100, such as 3")
				}
				c.FlapThreshold = n
				return nil
			}},
		{"ALERTFLOW_FLAP_WINDOW", alert.DefaultFlapWindow.String(), "how far back ALERTFLOW_FLAP_THRESHOLD counts resolves, and how long a flapping branch must stay green to be stable (read where alerts start)",
			func(c *config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < time.Second || d > 7*24*time.Hour {
					return errors.New("want a duration from 1s to 168h, such as 1h")
				}
				c.FlapWindow = d
				return nil
			}},
		{"ALERTFLOW_CONFIG", "", "routing configuration file (YAML: receivers and the route tree; see docs/routing.md; flag -config too); unset, the three notification settings below make one receiver for every alert (worker)",
			func(c *config, v string) error { c.ConfigFile = strings.TrimSpace(v); return nil }},
		{"ALERTFLOW_NOTIFY_WEBHOOK_URL", "", "generic webhook that receives every notification as signed JSON (worker)",
			notifyURL(func(c *config) *string { return &c.WebhookURL })},
		{"ALERTFLOW_NOTIFY_WEBHOOK_SECRET", "", "HMAC-SHA256 key of the X-Alertflow-Signature header of the generic webhook (worker)",
			func(c *config, v string) error { c.WebhookSecret = v; return nil }},
		{"ALERTFLOW_SLACK_WEBHOOK_URL", "", "Slack incoming webhook that receives every notification (worker)",
			notifyURL(func(c *config) *string { return &c.SlackURL })},
		{"ALERTFLOW_SLACK_SIGNING_SECRET", "", "signing secret of the Slack app (its Basic Information page): turns on POST /slack/interactions (the buttons) and /slack/commands (/alertflow), which must carry Slack's signature; unset, neither is served (read where the intake runs)",
			func(c *config, v string) error {
				v = strings.TrimSpace(v)
				if v == "" {
					return nil
				}
				if ingress.Placeholder(v) {
					return errors.New("a placeholder, not the app's signing secret")
				}
				c.SlackSigningSecret = []byte(v)
				return nil
			}},
		{"ALERTFLOW_MAX_BODY", strconv.Itoa(ingress.DefaultMaxBody), "largest webhook body accepted, in bytes",
			func(c *config, v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n <= 0 {
					return errors.New("want a positive number of bytes")
				}
				c.MaxBody = n
				return nil
			}},
		// After ALERTFLOW_MAX_BODY, which it is checked against.
		{"ALERTFLOW_MAX_BODY_IN_FLIGHT", strconv.Itoa(ingress.DefaultMaxBodyInFlight), "webhook body bytes held at once across requests; beyond it the intake answers 503 with Retry-After (at least ALERTFLOW_MAX_BODY)",
			func(c *config, v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n <= 0 {
					return errors.New("want a positive number of bytes")
				}
				if n < c.MaxBody {
					return fmt.Errorf("want at least ALERTFLOW_MAX_BODY (%d bytes), or the largest bodies are refused for ever", c.MaxBody)
				}
				c.MaxBodyInFlight = n
				return nil
			}},
		{"ALERTFLOW_ALERT_RATE", "20", "deliveries a second that reach any one alert through this intake, in bursts of ALERTFLOW_ALERT_BURST; beyond it the intake answers 429 with Retry-After (at most 50: faster, an alert's run cannot continue as new and the server ends it)",
			func(c *config, v string) error {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || !(f > 0 && f <= maxAlertRate) || math.IsInf(f, 0) {
					return fmt.Errorf("want a number of deliveries a second above 0 and at most %d, such as 20", maxAlertRate)
				}
				c.AlertRate = f
				return nil
			}},
		{"ALERTFLOW_ALERT_BURST", "200", "deliveries that may reach one alert at once before ALERTFLOW_ALERT_RATE applies (at most 500)",
			func(c *config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > maxAlertBurst {
					return fmt.Errorf("want a number of deliveries from 1 to %d, such as 200", maxAlertBurst)
				}
				c.AlertBurst = n
				return nil
			}},
		{"ALERTFLOW_MAX_CONNECTIONS", strconv.Itoa(defaultMaxConnections), "HTTP connections open at once; further ones wait to be accepted",
			func(c *config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n <= 0 {
					return errors.New("want a positive number")
				}
				c.MaxConnections = n
				return nil
			}},
		{"ALERTFLOW_HTTP_IDLE_TIMEOUT", defaultIdleTimeout.String(), "how long an idle keep-alive connection stays open; keep it above a load balancer's own idle timeout",
			func(c *config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < time.Second {
					return errors.New("want a duration of at least 1s, such as 30s")
				}
				c.IdleTimeout = d
				return nil
			}},
		{"ALERTFLOW_RETENTION", "720h", "dev: how long closed alerts stay visible (namespace retention)",
			func(c *config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < 24*time.Hour {
					return errors.New("want a duration of at least 24h, such as 720h")
				}
				c.Retention = d
				return nil
			}},
		{"ALERTFLOW_TEMPORAL_BIN", "bin/temporal", "dev: the Temporal CLI binary that runs the dev server", nonEmpty(func(c *config) *string { return &c.TemporalBin })},
		{"ALERTFLOW_DATA_DIR", "data", "dev: where the dev server keeps its SQLite database and log", nonEmpty(func(c *config) *string { return &c.DataDir })},
		{"ALERTFLOW_DEV_PORT", "7233", "dev: port the dev server it starts listens on, on 127.0.0.1 (when TEMPORAL_ADDRESS is unset)",
			port(func(c *config) *int { return &c.DevPort })},
		{"ALERTFLOW_UI_PORT", "8233", "dev: port of the Temporal Web UI", port(func(c *config) *int { return &c.UIPort })},
	}
}

func nonEmpty(field func(c *config) *string) func(c *config, v string) error {
	return func(c *config, v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("must not be empty")
		}
		*field(c) = v
		return nil
	}
}

// notifyURL checks a receiver URL without ever quoting it: a Slack
// webhook URL is itself a secret.
func notifyURL(field func(c *config) *string) func(c *config, v string) error {
	return func(c *config, v string) error {
		if v == "" {
			return nil
		}
		if err := notify.CheckURL(v); err != nil {
			return err
		}
		*field(c) = v
		return nil
	}
}

func port(field func(c *config) *int) func(c *config, v string) error {
	return func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 65535 {
			return errors.New("want a port number")
		}
		*field(c) = n
		return nil
	}
}

// configFlagName is the short flag of ALERTFLOW_CONFIG, as the routing
// documentation writes it; -alertflow-config works too.
const configFlagName = "config"

func flagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(env), "_", "-")
}

// loadConfig reads the settings from flags, then the environment, then the
// defaults. A bad value is an error naming the variable. The returned
// addressSet says whether TEMPORAL_ADDRESS was given explicitly.
func loadConfig(cmd string, args []string, getenv func(string) string, usage io.Writer) (cfg config, addressSet bool, err error) {
	fs := flag.NewFlagSet("alertflow "+cmd, flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.Usage = func() { printUsage(usage, cmd) }
	all := settings()
	values := make([]*string, len(all))
	for i, s := range all {
		values[i] = fs.String(flagName(s.env), "", s.help)
		if s.env == "ALERTFLOW_CONFIG" {
			fs.Var(fs.Lookup(flagName(s.env)).Value, configFlagName, "short for -"+flagName(s.env))
		}
	}
	if err := fs.Parse(args); err != nil {
		return config{}, false, err
	}
	if fs.NArg() > 0 {
		return config{}, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE come from the flag, else
	// from Temporal's profile (its variables over its file), as the
	// temporal CLI reads them.
	prof, err := loadTemporalProfile(getenv)
	if err != nil {
		return config{}, false, err
	}
	fromProfile := map[string]string{"TEMPORAL_ADDRESS": prof.Address, "TEMPORAL_NAMESPACE": prof.Namespace}
	prof.Address, prof.Namespace = "", ""
	cfg.temporal = prof
	for i, s := range all {
		v, from := *values[i], "-"+flagName(s.env)
		if v == "" {
			v, from = getenv(s.env), s.env
		}
		// For dev, an address counts as given when it was asked for: by
		// flag, variable or a profile named in TEMPORAL_PROFILE or
		// TEMPORAL_CONFIG_FILE, not by a default profile file that may
		// point at production.
		explicitProfile := getenv("TEMPORAL_PROFILE") != "" || getenv("TEMPORAL_CONFIG_FILE") != ""
		if s.env == "TEMPORAL_ADDRESS" && (v != "" || explicitProfile && fromProfile[s.env] != "") {
			addressSet = true
		}
		if p, ok := fromProfile[s.env]; ok && v == "" {
			v = p
		}
		if v == "" {
			v, from = s.def, s.env
		}
		if err := s.parse(&cfg, v); err != nil {
			return config{}, false, fmt.Errorf("%s: %w", from, err)
		}
	}
	return cfg, addressSet, nil
}

func printUsage(w io.Writer, cmd string) {
	fmt.Fprintf(w, `alertflow turns GitLab pipeline webhooks into durable alerts on Temporal.

Usage: alertflow <command> [flags]

Commands:
  dev      start a Temporal dev server (SQLite in ALERTFLOW_DATA_DIR) unless
           TEMPORAL_ADDRESS is set, then run worker and ingress in one process
  serve    run worker and ingress in one process against TEMPORAL_ADDRESS
  ingress  run only the HTTP intake (scale it out behind a load balancer)
  worker   run only the Temporal worker (scale it out as load needs)
  silence-worker
           run only the worker of the silences (serve, worker and dev start
           one as a child process unless ALERTFLOW_SILENCE_WORKER=external)
  config check [FILE]
           validate the routing configuration (FILE, else ALERTFLOW_CONFIG)
           without connecting to anything; exit 0 when it is good, 1 if not
  routes test [FILE] --project P --ref R --severity S [flags]
           print the receivers an alert with these labels reaches, in
           order, one a line ("alertflow routes test -h" lists the flags)
  replay --config FILE [--since 720h] [--project GLOB] [--json]
           what a candidate policy would have notified, against what the
           recorded alerts did ("alertflow replay -h" lists the flags)
  reconcile [--by NAME] ALERT_ID
           check the alert against GitLab's API now and apply what it says
           (a green pipeline or a deleted branch resolves it)

`)
	if cmd != "" {
		fmt.Fprintf(w, "Settings of %q:\n", cmd)
	} else {
		fmt.Fprintln(w, "Settings:")
	}
	fmt.Fprintln(w, "Each is an environment variable and a flag of the same name (-temporal-address for TEMPORAL_ADDRESS); the flag wins.")
	for _, s := range settings() {
		def := s.def
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(w, "  %-26s default %s\n      %s\n", s.env, def, s.help)
	}
	fmt.Fprintln(w, "\nTemporal connection, read as the temporal CLI reads it (TEMPORAL_ADDRESS and\nTEMPORAL_NAMESPACE too, from the profile when not set; the flags above win):")
	for _, v := range temporalEnv {
		fmt.Fprintf(w, "  %s\n      %s\n", v.name, v.help)
	}
}
