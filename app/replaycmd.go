package app

// alertflow replay: what a candidate policy would have done to the alerts
// recorded in Temporal.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/alertflow/alertflow/replay"
	"github.com/alertflow/alertflow/silence"
)

const replayUsage = `Usage: alertflow replay --config FILE [--since 720h] [--project GLOB] [--silences FILE] [--json] [flags]

Replays the alerts recorded in Temporal (AlertWorkflow runs, open and
closed, started within --since) under a candidate policy: the routing of
FILE, and the alert settings given as flags (unset, each keeps what the
alert was recorded with). Each alert's recorded pipeline events and manual
actions are re-run, at their recorded times, through the same workflow the
worker runs, in memory; then it prints, per alert, the notifications that
would have been added, removed or sent to another receiver, and the totals
per receiver. A notification counts as sent once it was scheduled. It never
contacts a receiver and never changes an alert. It connects to Temporal as
the worker does (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, the TEMPORAL_*
profile), and reads FILE's ${VAR} and *_file as the worker does.

Flags:
`

// replayPolicySettings are the worker settings a replay may override, by
// their setting's name; the flag is the name without "alertflow-" (-hold).
// Only flags count: the environment a replay runs in is likely the
// worker's, whose values the recorded alerts already have.
var replayPolicySettings = []string{"ALERTFLOW_HOLD", "ALERTFLOW_REMINDER_INTERVAL", "ALERTFLOW_AUTO_RESOLVE_AFTER", "ALERTFLOW_CHILD_PIPELINES",
	"ALERTFLOW_FLAP_THRESHOLD", "ALERTFLOW_FLAP_WINDOW"}

// replayArgs are the parsed arguments of alertflow replay.
type replayArgs struct {
	file, fileFlag string
	since          time.Duration
	project        string
	json           bool
	address        string
	namespace      string
	policy         replay.Policy
	// silences are the candidate's own, added to the server's.
	silences []silence.Active
}

func replayFlags(fs *flag.FlagSet) (since, project, address, namespace, silences *string, asJSON *bool, overrides map[string]*string) {
	configFlag(fs)
	silences = fs.String("silences", "", "a JSON file of candidate silences, added to those the server kept: [{\"matchers\":{…},\"starts_at\":…,\"ends_at\":…,\"created_by\":…}]")
	since = fs.String("since", "720h", "replay the alerts started within this long before now")
	project = fs.String("project", "", "only the projects whose path matches this glob, as the routing's project matcher reads it (team-a/*)")
	asJSON = fs.Bool("json", false, "print the report as JSON")
	address = fs.String(flagName("TEMPORAL_ADDRESS"), "", "Temporal frontend host:port (default $TEMPORAL_ADDRESS, else the profile's, else 127.0.0.1:7233)")
	namespace = fs.String(flagName("TEMPORAL_NAMESPACE"), "", "Temporal namespace of the alerts (default $TEMPORAL_NAMESPACE, else the profile's, else default)")
	overrides = map[string]*string{}
	for _, s := range settings() {
		for _, env := range replayPolicySettings {
			if s.env != env {
				continue
			}
			v := fs.String(strings.TrimPrefix(flagName(env), "alertflow-"), "", "candidate "+env+": "+s.help+"; unset keeps each alert's recorded value")
			overrides[env] = v
		}
	}
	return since, project, address, namespace, silences, asJSON, overrides
}

func printReplayUsage(w io.Writer) {
	fmt.Fprint(w, replayUsage)
	fs := flag.NewFlagSet("alertflow replay", flag.ContinueOnError)
	replayFlags(fs)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// parseReplay reads the arguments; the policy it returns has no routing
// yet. A bad value is an error naming its flag.
func parseReplay(args []string) (replayArgs, error) {
	fs := flag.NewFlagSet("alertflow replay", flag.ContinueOnError)
	since, project, address, namespace, silences, asJSON, overrides := replayFlags(fs)
	file, err := parseWithFile(fs, args)
	if err != nil {
		return replayArgs{}, err
	}
	a := replayArgs{file: file, fileFlag: fs.Lookup(configFlagName).Value.String(), project: *project, json: *asJSON,
		address: *address, namespace: *namespace}
	a.since, err = time.ParseDuration(*since)
	if err != nil || a.since <= 0 {
		return replayArgs{}, fmt.Errorf("-since %q: want a positive duration, such as 720h", *since)
	}
	if a.project != "" && !replay.ValidProjectGlob(a.project) {
		return replayArgs{}, fmt.Errorf("-project %q: not a valid glob", a.project)
	}
	if *silences != "" {
		data, err := os.ReadFile(*silences)
		if err != nil {
			return replayArgs{}, fmt.Errorf("-silences: %w", err)
		}
		if a.silences, err = replay.CandidateSilences(data); err != nil {
			return replayArgs{}, fmt.Errorf("-silences %s: %w", *silences, err)
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, s := range settings() {
		v, ok := overrides[s.env]
		short := strings.TrimPrefix(flagName(s.env), "alertflow-")
		if !ok || !set[short] {
			continue
		}
		var c config
		if err := s.parse(&c, *v); err != nil {
			return replayArgs{}, fmt.Errorf("-%s: %w", short, err)
		}
		switch s.env {
		case "ALERTFLOW_HOLD":
			a.policy.Hold = &c.Hold
		case "ALERTFLOW_REMINDER_INTERVAL":
			a.policy.ReminderInterval = &c.ReminderInterval
		case "ALERTFLOW_AUTO_RESOLVE_AFTER":
			a.policy.AutoResolveAfter = &c.AutoResolveAfter
		case "ALERTFLOW_CHILD_PIPELINES":
			a.policy.Children = &c.Children
		case "ALERTFLOW_FLAP_THRESHOLD":
			a.policy.FlapThreshold = &c.FlapThreshold
		case "ALERTFLOW_FLAP_WINDOW":
			a.policy.FlapWindow = &c.FlapWindow
		}
	}
	return a, nil
}

// replayConnection is the Temporal connection of a replay: flag, else the
// environment, else the Temporal profile, else the default, as the worker
// reads it.
func replayConnection(a replayArgs, getenv func(string) string) (config, error) {
	prof, err := loadTemporalProfile(getenv)
	if err != nil {
		return config{}, err
	}
	var cfg config
	for _, s := range settings() {
		var v, from string
		switch s.env {
		case "TEMPORAL_ADDRESS":
			v, from = a.address, "-"+flagName(s.env)
			if v == "" {
				v, from = firstSet(getenv(s.env), prof.Address, s.def), s.env
			}
		case "TEMPORAL_NAMESPACE":
			v, from = a.namespace, "-"+flagName(s.env)
			if v == "" {
				v, from = firstSet(getenv(s.env), prof.Namespace, s.def), s.env
			}
		case "ALERTFLOW_TEMPORAL_COMPRESSION":
			v, from = firstSet(getenv(s.env), s.def), s.env
		default:
			continue
		}
		if err := s.parse(&cfg, v); err != nil {
			return config{}, fmt.Errorf("%s: %w", from, err)
		}
	}
	prof.Address, prof.Namespace = "", ""
	cfg.temporal = prof
	return cfg, nil
}

func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// runReplayCommand is "alertflow replay".
func runReplayCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		printReplayUsage(stdout)
		return 0
	}
	a, err := parseReplay(args)
	if errors.Is(err, flag.ErrHelp) {
		printReplayUsage(stdout)
		return 0
	}
	if err == nil {
		if a.file = configFileArg(a.file, a.fileFlag, getenv); a.file == "" {
			err = errors.New("no candidate: give --config FILE or set ALERTFLOW_CONFIG")
		}
	}
	var cfg config
	if err == nil {
		cfg, err = replayConnection(a, getenv)
	}
	if err != nil {
		fmt.Fprintf(stderr, "alertflow replay: %v (alertflow replay -h lists the flags)\n", err)
		return 2
	}
	rc, ok := loadRouting(a.file, getenv, stderr)
	if !ok {
		return 1
	}
	policy := replay.PolicyOf(rc)
	policy.Hold, policy.ReminderInterval, policy.AutoResolveAfter, policy.Children =
		a.policy.Hold, a.policy.ReminderInterval, a.policy.AutoResolveAfter, a.policy.Children
	policy.FlapThreshold, policy.FlapWindow = a.policy.FlapThreshold, a.policy.FlapWindow

	// Warnings only: the report is what stdout is for.
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := dial(ctx, cfg, logger, nil)
	if err != nil {
		fmt.Fprintf(stderr, "alertflow replay: %v\n", err)
		return 1
	}
	defer c.Close()
	until := time.Now().UTC()
	reader := replay.Reader{Client: c, Namespace: cfg.Namespace, LegacyReceiver: rc.Route.Receiver}
	if policy.Silences, err = reader.Silences(ctx); err != nil {
		fmt.Fprintf(stderr, "alertflow replay: %v\n", err)
		return 1
	}
	policy.Silences = append(policy.Silences, a.silences...)
	rep, err := replay.Replay(ctx, reader,
		replay.Filter{Since: until.Add(-a.since), Project: a.project},
		replay.Simulation{Policy: policy, Until: until})
	if err != nil {
		fmt.Fprintf(stderr, "alertflow replay: %v\n", err)
		return 1
	}
	if a.json {
		err = replay.WriteJSON(stdout, rep)
	} else {
		err = replay.WriteText(stdout, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "alertflow replay: write the report: %v\n", err)
		return 1
	}
	return 0
}
