package app

// alertflow config check and alertflow routes test: the routing
// configuration, checked offline, before it is deployed.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/alertflow/alertflow/alert"
	routeconfig "github.com/alertflow/alertflow/config"
	"github.com/alertflow/alertflow/route"
)

const configCheckUsage = `Usage: alertflow config check [FILE | -config FILE]

Validates the routing configuration FILE (else -config, else the file
ALERTFLOW_CONFIG names) as start-up does: every key, receiver, glob and regular expression,
and every ${VAR} and *_file it reads. It connects to nothing. It prints
"FILE: ok (N receivers, M routes)" and exits 0, or every problem as
FILE:LINE: where: what, and exits 1; it never prints a secret.
`

const routesTestUsage = `Usage: alertflow routes test [FILE] --project PATH --ref REF --severity SEVERITY [--failure-class CLASS] [flags]

Prints the receivers an alert with these labels reaches under the routing
configuration FILE (else -config, else the file ALERTFLOW_CONFIG names), in
order, one a line. It connects to nothing.

Flags:
`

// configFileArg is the file a command works on: its argument, else its
// -config flag, else ALERTFLOW_CONFIG.
func configFileArg(arg, flagValue string, getenv func(string) string) string {
	for _, f := range []string{arg, flagValue, getenv("ALERTFLOW_CONFIG")} {
		if f = strings.TrimSpace(f); f != "" {
			return f
		}
	}
	return ""
}

// loadRouting loads the file, printing what is wrong with it to stderr.
func loadRouting(file string, getenv func(string) string, stderr io.Writer) (*routeconfig.Config, bool) {
	// ${VAR} comes from run's environment; a variable set empty counts as
	// unset, as everywhere in alertflow.
	c, err := routeconfig.Load(file, envLookup(getenv).LookupEnv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, false
	}
	return c, true
}

// runConfigCommand is "alertflow config check [FILE]".
func runConfigCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stdout, configCheckUsage)
		return 0
	}
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, "alertflow config: want the subcommand check\n\n"+configCheckUsage)
		return 2
	}
	fs := flag.NewFlagSet("alertflow config check", flag.ContinueOnError)
	fileFlag := configFlag(fs)
	file, err := parseWithFile(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, configCheckUsage)
		return 0
	}
	if err == nil {
		if file = configFileArg(file, *fileFlag, getenv); file == "" {
			err = errors.New("no file: give FILE or set ALERTFLOW_CONFIG")
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "alertflow config check: %v\n\n%s", err, configCheckUsage)
		return 2
	}
	c, ok := loadRouting(file, getenv, stderr)
	if !ok {
		return 1
	}
	monitors := ""
	if n := len(c.Monitors); n > 0 {
		monitors = fmt.Sprintf(", %d monitors", n)
	}
	fmt.Fprintf(stdout, "%s: ok (%d receivers, %d routes%s)\n", file, len(c.Receivers), c.Route.Count(), monitors)
	return 0
}

// configFlag declares -config, the flag of ALERTFLOW_CONFIG, on fs.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String(configFlagName, "", "the routing configuration, when FILE is not given (default $ALERTFLOW_CONFIG)")
}

// parseWithFile parses fs's flags in args, and one FILE before, between
// or after them.
func parseWithFile(fs *flag.FlagSet, args []string) (file string, _ error) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for {
		if err := fs.Parse(args); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			return file, nil
		}
		if file != "" {
			return "", fmt.Errorf("unexpected argument %q: one FILE only", fs.Arg(0))
		}
		file, args = fs.Arg(0), fs.Args()[1:]
	}
}

func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// runRoutesCommand is "alertflow routes test [FILE] --project ... ".
func runRoutesCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isHelp(args[0]) {
		printRoutesTestUsage(stdout)
		return 0
	}
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprintln(stderr, "alertflow routes: want the subcommand test")
		fmt.Fprintln(stderr)
		printRoutesTestUsage(stderr)
		return 2
	}
	file, fileFlag, labels, err := parseRoutesTest(args[1:])
	if errors.Is(err, flag.ErrHelp) {
		printRoutesTestUsage(stdout)
		return 0
	}
	if err == nil {
		if file = configFileArg(file, fileFlag, getenv); file == "" {
			err = errors.New("no file: give FILE or set ALERTFLOW_CONFIG")
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "alertflow routes test: %v\n\n", err)
		printRoutesTestUsage(stderr)
		return 2
	}
	c, ok := loadRouting(file, getenv, stderr)
	if !ok {
		return 1
	}
	for _, r := range c.Route.Receivers(labels) {
		fmt.Fprintln(stdout, r)
	}
	return 0
}

// routesTestFlags declares the flags of routes test on fs.
func routesTestFlags(fs *flag.FlagSet) (l *route.Labels, severity, class *string) {
	l = &route.Labels{}
	fs.StringVar(&l.Project, "project", "", "the project's path with its namespace, such as team-a/api (required)")
	fs.StringVar(&l.Ref, "ref", "", "the branch or tag of the pipeline (required)")
	severity = fs.String("severity", "", "HIGH (failed), MEDIUM (canceled) or LOW (skipped) (required)")
	fs.Int64Var(&l.ProjectID, "project-id", 0, "the project's numeric ID")
	fs.StringVar(&l.Source, "source", "push", "GitLab's pipeline source: push, web, schedule, merge_request_event, ...")
	fs.BoolVar(&l.Protected, "protected", false, "the ref is protected (GitLab's protected_ref)")
	fs.StringVar(&l.DefaultBranch, "default-branch", "", "the project's default branch; without it no ref is the default branch")
	fs.BoolVar(&l.Tag, "tag", false, "the ref is a tag")
	class = fs.String("failure-class", "", "infra, config or code: what failed a failed pipeline; none for a canceled or skipped one")
	configFlag(fs)
	return l, severity, class
}

func printRoutesTestUsage(w io.Writer) {
	fmt.Fprint(w, routesTestUsage)
	fs := flag.NewFlagSet("alertflow routes test", flag.ContinueOnError)
	routesTestFlags(fs)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// parseRoutesTest reads the arguments of routes test: FILE, -config and
// the labels.
func parseRoutesTest(args []string) (file, fileFlag string, _ route.Labels, _ error) {
	fs := flag.NewFlagSet("alertflow routes test", flag.ContinueOnError)
	l, severity, class := routesTestFlags(fs)
	cf := fs.Lookup(configFlagName)
	file, err := parseWithFile(fs, args)
	if err != nil {
		return "", "", route.Labels{}, err
	}
	for _, name := range []string{"project", "ref", "severity"} {
		if strings.TrimSpace(fs.Lookup(name).Value.String()) == "" {
			return "", "", route.Labels{}, fmt.Errorf("-%s is required", name)
		}
	}
	switch s := alert.Severity(strings.ToUpper(*severity)); s {
	case alert.SeverityHigh, alert.SeverityMedium, alert.SeverityLow:
		l.Severity = s
	default:
		return "", "", route.Labels{}, fmt.Errorf("-severity %q: want HIGH, MEDIUM or LOW", *severity)
	}
	if *class != "" {
		c, ok := alert.ParseFailureClass(strings.ToLower(*class))
		if !ok {
			return "", "", route.Labels{}, fmt.Errorf("-failure-class %q: want infra, config or code", *class)
		}
		l.FailureClass = c
	}
	return file, cf.Value.String(), *l, nil
}
