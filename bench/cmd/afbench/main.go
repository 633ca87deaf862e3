// Command afbench is alertflow's load benchmark, run by make bench.
//
// It starts a Temporal dev server exactly as alertflow dev configures one,
// by running bin/alertflow dev on free ports with a fresh data directory
// (or uses TEMPORAL_ADDRESS), and then, scenario by scenario, measures two
// loads in alternating rounds against it:
//
//   - baseline: raw SDK SignalWithStartWorkflow calls, made by afbench
//     itself, of a trivial signal-receiving workflow (package baseline)
//     whose worker runs in a process of its own;
//   - alertflow: the same webhooks as real GitLab payloads posted to the
//     intake of bin/alertflow serve, whose worker runs AlertWorkflow.
//
// Both loads send the same webhooks to the same number of alerts with the
// same concurrency. afbench prints a table, the ratios and the performance
// targets (docs/performance.md), and writes them as JSON.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/alertflow/alertflow/bench/baseline"
	"github.com/alertflow/alertflow/bench/payload"
	alertworker "github.com/alertflow/alertflow/worker"
)

// options are afbench's flags.
type options struct {
	scenarios            string
	rounds               int
	concurrency          int
	branches             int
	hotEvents            int
	mixedBranches        int
	openAlerts           int
	querySample          int
	openDrain            time.Duration
	floodDeliveries      int
	floodFor             time.Duration
	floodSenders         int
	floodDrain           time.Duration
	jobs                 int
	sameCalls            bool
	split                bool
	settleTimeout        time.Duration
	alertflowBin         string
	temporalBin          string
	template             string
	cluster              bool
	clusterScript        string
	beside               string
	out                  string
	keep                 bool
	merge                bool
	notifyRates          []float64
	notifyRounds         int
	notifyFor            time.Duration
	notifyWarmup         time.Duration
	notifySearch         []float64
	notifySearchFor      time.Duration
	notifySearchWarmup   time.Duration
	burst                int
	notifyFloorSameCalls bool
	baselineSDKDefaults  bool
	burstWithin          time.Duration
	silences             int
	silencesRate         float64
	soak                 soakOptions
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "baseline-worker" {
		os.Exit(baselineWorker(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "waits" {
		os.Exit(waitsCommand(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "lookups" {
		os.Exit(lookupsCommand(os.Args[2:]))
	}
	var o options
	flag.StringVar(&o.scenarios, "scenarios", "spread,hot,mixed,open10k,memory,flood,notify,burst", "comma-separated scenarios: spread, hot, mixed, open10k, memory, flood, notify, burst (notify,burst alone are the time-to-notify scenarios), silences (time to notify with -silences silences running, never run unless named), or soak alone (make soak); empty evaluates the targets of the -json results again, running nothing")
	flag.IntVar(&o.rounds, "rounds", 3, "measured rounds of each load per scenario, alternating")
	flag.IntVar(&o.concurrency, "concurrency", 16, "webhooks in flight at once, for both loads")
	flag.IntVar(&o.branches, "branches", 1000, "spread: project-branches per round")
	flag.IntVar(&o.hotEvents, "hot-events", hotBurst, "hot: webhooks on the one branch per round (at most the 500 one alert takes at once)")
	flag.IntVar(&o.mixedBranches, "mixed-branches", 200, "mixed: project-branches per round (20 webhooks each)")
	flag.IntVar(&o.openAlerts, "open-alerts", 10_000, "open10k: alerts opened and left open")
	flag.IntVar(&o.querySample, "query-sample", 1000, "open10k: alerts to query, evenly spread; 0 queries every one")
	flag.DurationVar(&o.openDrain, "open-drain", 0, "open10k: wait up to this long for the server to work off the backlog before querying (0 queries at once)")
	flag.IntVar(&o.floodDeliveries, "flood-deliveries", 4000, "flood: deliveries of the largest events to one branch, per flood")
	flag.DurationVar(&o.floodFor, "flood-for", 13*time.Second, "flood: how long the deliveries are spread over, evenly")
	flag.IntVar(&o.floodSenders, "flood-senders", 64, "flood: deliveries in flight at most, so a slow intake does not slow the flood down")
	flag.DurationVar(&o.floodDrain, "flood-drain", 5*time.Minute, "flood: how long the alert may take after the last answer to count every accepted delivery")
	rates := flag.String("notify-rates", "10,30,50", "notify: failed pipelines a second, on distinct branches, one rate after the other")
	flag.IntVar(&o.notifyRounds, "notify-rounds", 2, "notify: rounds of each load at each of -notify-rates, alternating")
	flag.DurationVar(&o.notifyFor, "notify-for", 30*time.Second, "notify: how long each round of each load sends at its rate")
	flag.DurationVar(&o.notifyWarmup, "notify-warmup", 10*time.Second, "notify: how much of the start of each round is left out of the figures")
	search := flag.String("notify-search", "70,100,140,200", "notify: the rates above -notify-rates tried, one round each, until both loads miss p99 < 2 s; empty for none")
	flag.DurationVar(&o.notifySearchFor, "notify-search-for", 20*time.Second, "notify: how long each round of the search sends")
	flag.DurationVar(&o.notifySearchWarmup, "notify-search-warmup", 5*time.Second, "notify: how much of the start of each round of the search is left out")
	flag.BoolVar(&o.baselineSDKDefaults, "baseline-sdk-defaults", false, "run the baseline's and the floor's worker with the SDK's default worker options (two pollers shared by the normal and sticky queues, which stall now and then) instead of alertflow's")
	flag.BoolVar(&o.notifyFloorSameCalls, "notify-floor-same-calls", false, "notify, burst: the floor starts its workflows with alertflow's start options (search attributes, memo, summary), the same-calls yardstick, instead of an ID and a task queue only")
	flag.IntVar(&o.burst, "burst", 2000, "burst: failed pipelines on distinct branches")
	flag.DurationVar(&o.burstWithin, "burst-within", 20*time.Second, "burst: the time they all arrive within, evenly spread")
	flag.IntVar(&o.silences, "silences", silencesWant, "silences: silences running in the rounds with them (none matches the bench's alerts); the target asks 10 000")
	flag.Float64Var(&o.silencesRate, "silences-rate", 30, "silences: failed pipelines a second, on distinct branches, in every round (-notify-rounds rounds of -notify-for per load, without and then with the silences)")
	flag.IntVar(&o.soak.deliveries, "soak-deliveries", 200_000, "soak: deliveries of the compressed GitLab day (about 20 000 for the short soak)")
	flag.IntVar(&o.soak.projects, "soak-projects", 200, "soak: projects, in nested groups")
	flag.IntVar(&o.soak.senders, "soak-senders", 32, "soak: deliveries in flight at most (each branch's in order)")
	flag.Float64Var(&o.soak.rate, "soak-rate", 150, "soak: deliveries a second at most; 0 sends as fast as the senders go")
	flag.DurationVar(&o.soak.settle, "soak-settle", 3*time.Minute, "soak: how long alerts and receivers may take to settle after the last delivery")
	flag.Uint64Var(&o.soak.seed, "soak-seed", 1, "soak: seed of the day's traffic")
	flag.IntVar(&o.jobs, "jobs", 20, "jobs in the builds array of every webhook")
	flag.BoolVar(&o.split, "split", false, "run alertflow's intake and worker in processes of their own, as docker-compose.yml does, rather than both in one (alertflow serve, as make run runs them)")
	flag.BoolVar(&o.sameCalls, "same-calls", true, "also run the baseline with the start options alertflow sends (search attributes, memo, summary, details): the yardstick of the spread targets")
	flag.DurationVar(&o.settleTimeout, "settle-timeout", 3*time.Minute, "how long a round's alerts may take to close after the last webhook")
	flag.StringVar(&o.alertflowBin, "alertflow", "bin/alertflow", "the alertflow binary under test")
	flag.StringVar(&o.temporalBin, "temporal", "bin/temporal", "the Temporal CLI alertflow dev runs the dev server with")
	flag.StringVar(&o.template, "template", "testdata/pipeline-failed-branch.json", "the GitLab payload webhooks are built from")
	flag.StringVar(&o.out, "json", "bench/results.json", "where to write the results")
	flag.BoolVar(&o.merge, "merge", false, "keep the other scenarios of the results file, replacing only those run now (each merged one carries its own date and load average)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory with the logs of every process")
	flag.BoolVar(&o.cluster, "cluster", false, "measure against make cluster's Temporal server on PostgreSQL (cluster/cluster.sh, started and deleted by afbench) instead of the dev server")
	flag.StringVar(&o.clusterScript, "cluster-script", "cluster/cluster.sh", "-cluster: the script that starts the cluster")
	flag.StringVar(&o.beside, "beside", "", "print this run's alertflow figures beside those of an earlier run's JSON (the dev server's bench/results.json)")
	flag.Parse()
	var err error
	if o.notifyRates, err = parseRates("-notify-rates", *rates); err != nil {
		fmt.Fprintln(os.Stderr, "afbench:", err)
		os.Exit(2)
	}
	if *search != "" {
		if o.notifySearch, err = parseRates("-notify-search", *search); err != nil {
			fmt.Fprintln(os.Stderr, "afbench:", err)
			os.Exit(2)
		}
	}

	if o.scenarios == "" {
		// Only the targets again, of the stored results, as the code
		// evaluates them now.
		if err := reevaluate(o.out); err != nil {
			fmt.Fprintln(os.Stderr, "afbench:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "afbench:", err)
		os.Exit(1)
	}
}

// bench is one run of afbench.
type bench struct {
	o         options
	tmp       string
	token     string
	offset    int64 // added to every project id, so runs against one server do not meet
	address   string
	namespace string
	client    client.Client
	server    int // PID of the Temporal server when afbench started it
	gen       *generator
	external  bool
	// serverName says which Temporal server the run measured.
	serverName string
	// clusterDo runs cluster/cluster.sh with args, with -cluster.
	clusterDo func(ctx context.Context, args ...string) error
	started   time.Time
}

// logf reports progress on stderr, with the time since the start.
func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "afbench %4.0fs: %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, o options) (err error) {
	b := &bench{o: o, namespace: "default", started: time.Now(), offset: (time.Now().Unix() / 60 % 1000) * 100_000_000}
	if b.tmp, err = os.MkdirTemp("", "afbench-"); err != nil {
		return fmt.Errorf("create temporary directory: %w", err)
	}
	defer func() {
		switch {
		case err != nil:
			err = fmt.Errorf("%w (logs kept in %s)", err, b.tmp)
		case o.keep:
			b.logf("logs kept in %s", b.tmp)
		default:
			os.RemoveAll(b.tmp)
		}
	}()
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	b.token = hex.EncodeToString(tok)
	builder, err := payload.Load(o.template)
	if err != nil {
		return err
	}
	b.gen = &generator{builder: builder, jobs: o.jobs, now: time.Now().UTC().Truncate(time.Second)}
	sampleHook, err := b.gen.webhook(1, "main", "failed", false)
	if err != nil {
		return err
	}
	res := &Results{
		Date:     time.Now().UTC().Truncate(time.Second),
		Machine:  machine(),
		Settings: Settings{Concurrency: o.concurrency, Rounds: o.rounds, Jobs: o.jobs, PayloadBytes: len(sampleHook.body), Baseline: "workflow ID and task queue only"},
	}
	if o.sameCalls {
		res.Settings.SameCalls = "the same calls, with alertflow's start options (search attributes, memo, summary, details)"
	}
	res.LoadAverage[0] = loadAverage()

	if b.address = os.Getenv("TEMPORAL_ADDRESS"); b.address != "" {
		b.external = true
		if ns := os.Getenv("TEMPORAL_NAMESPACE"); ns != "" {
			b.namespace = ns
		}
		res.Machine.Server = "TEMPORAL_ADDRESS=" + b.address
	} else if o.cluster {
		stop, err := b.startCluster(ctx)
		if err != nil {
			return err
		}
		defer stop()
		res.Machine.Server = "Temporal server v1.32.1 on PostgreSQL, as make cluster runs it (server CPU: the server process, PostgreSQL not counted)"
	} else {
		dev, err := b.startDev(ctx)
		if err != nil {
			return err
		}
		defer dev.stop(30 * time.Second)
		res.Machine.Server = "Temporal dev server started by bin/alertflow dev (SQLite with WAL, as alertflow dev configures it)"
	}
	if b.client, err = client.DialContext(ctx, client.Options{HostPort: b.address, Namespace: b.namespace, Logger: quietLogger()}); err != nil {
		return fmt.Errorf("connect to temporal at %s: %w", b.address, err)
	}
	defer b.client.Close()
	b.serverName = res.Machine.Server
	if o.scenarios == "soak" {
		// The soak is a run of its own, with its own results file.
		return b.soak(ctx, o.soak)
	}

	for i, name := range strings.Split(o.scenarios, ",") {
		s, err := b.scenario(ctx, i, strings.TrimSpace(name))
		if err != nil {
			return fmt.Errorf("scenario %s: %w", name, err)
		}
		res.Scenarios = append(res.Scenarios, *s)
	}
	res.LoadAverage[1] = loadAverage()
	if o.merge {
		if res, err = merged(o.out, res); err != nil {
			return err
		}
	}
	res.evaluate()
	res.print(os.Stdout)
	if o.beside != "" {
		if err := printBeside(os.Stdout, res, o.beside); err != nil {
			return err
		}
	}
	return res.write(o.out)
}

// startDev runs bin/alertflow dev, which starts the Temporal dev server as
// alertflow dev always does; only its ports and data directory differ. Its
// own worker and intake stay idle on a task queue of their own.
func (b *bench) startDev(ctx context.Context) (*proc, error) {
	var addrs [3]string
	for i := range addrs {
		var err error
		if addrs[i], err = freeAddr(); err != nil {
			return nil, err
		}
	}
	temporalBin, err := filepath.Abs(b.o.temporalBin)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", b.o.temporalBin, err)
	}
	_, devPort, _ := net.SplitHostPort(addrs[0])
	_, uiPort, _ := net.SplitHostPort(addrs[1])
	env := []string{
		"ALERTFLOW_DEV_PORT=" + devPort, "ALERTFLOW_UI_PORT=" + uiPort, "ALERTFLOW_LISTEN=" + addrs[2],
		"ALERTFLOW_DATA_DIR=" + filepath.Join(b.tmp, "data"), "ALERTFLOW_TEMPORAL_BIN=" + temporalBin,
		"ALERTFLOW_TASK_QUEUE=afbench-dev-idle", "ALERTFLOW_SOURCE_TOKENS=bench=" + b.token,
	}
	b.logf("starting %s dev (dev server on %s, data in %s)", b.o.alertflowBin, addrs[0], filepath.Join(b.tmp, "data"))
	dev, err := startProc("alertflow dev", filepath.Join(b.tmp, "alertflow-dev.log"), env, b.o.alertflowBin, "dev")
	if err != nil {
		return nil, err
	}
	if err := waitHealthy(ctx, dev, "http://"+addrs[2]+"/healthz", 2*time.Minute); err != nil {
		dev.stop(30 * time.Second)
		return nil, err
	}
	b.address = addrs[0]
	if b.server, err = childOf(dev.pid(), "temporal"); err != nil {
		dev.stop(30 * time.Second)
		return nil, err
	}
	return dev, nil
}

// alertflowProc is alertflow under test: its intake and its worker in
// processes of their own, as docker-compose.yml runs them, or both in one
// (alertflow serve) without -split.
type alertflowProc struct {
	intake, worker *proc // worker is nil when intake runs both
	url            string
	logPath        string // the intake's, with its access log
	// metricsURL is the /metrics page of the process running the worker.
	metricsURL string
}

// pids are the processes whose CPU time is alertflow's.
func (a *alertflowProc) pids() []int {
	if a.worker == nil {
		return []int{a.intake.pid()}
	}
	return []int{a.intake.pid(), a.worker.pid()}
}

// rssPID is the process whose memory holds the alerts: the worker's.
func (a *alertflowProc) rssPID() int {
	if a.worker == nil {
		return a.intake.pid()
	}
	return a.worker.pid()
}

// stop stops the intake first, then the worker, as a rolling shutdown would.
func (a *alertflowProc) stop(grace time.Duration) {
	a.intake.stop(grace)
	if a.worker != nil {
		a.worker.stop(grace)
	}
}

// startAlertflow starts alertflow on queue with its default settings and
// extra, a scenario's own settings (NAME=value).
func (b *bench) startAlertflow(ctx context.Context, scenario, queue string, extra ...string) (*alertflowProc, error) {
	env := append([]string{
		"TEMPORAL_ADDRESS=" + b.address, "TEMPORAL_NAMESPACE=" + b.namespace, "ALERTFLOW_TASK_QUEUE=" + queue,
		"ALERTFLOW_SOURCE_TOKENS=bench=" + b.token,
	}, extra...)
	start := func(name, command, logPath string) (*proc, string, error) {
		listen, err := freeAddr()
		if err != nil {
			return nil, "", err
		}
		p, err := startProc(name, logPath, append(env, "ALERTFLOW_LISTEN="+listen), b.o.alertflowBin, command)
		if err != nil {
			return nil, "", err
		}
		if err := waitHealthy(ctx, p, "http://"+listen+"/healthz", time.Minute); err != nil {
			p.stop(15 * time.Second)
			return nil, "", err
		}
		return p, listen, nil
	}
	a := &alertflowProc{logPath: filepath.Join(b.tmp, "alertflow-"+scenario+".log")}
	intake := "serve"
	if b.o.split {
		w, wl, err := start("alertflow worker", "worker", filepath.Join(b.tmp, "alertflow-"+scenario+"-worker.log"))
		if err != nil {
			return nil, err
		}
		a.worker, intake, a.metricsURL = w, "ingress", "http://"+wl+"/metrics"
	}
	p, listen, err := start("alertflow "+intake, intake, a.logPath)
	if err != nil {
		if a.worker != nil {
			a.worker.stop(15 * time.Second)
		}
		return nil, err
	}
	a.intake, a.url = p, "http://"+listen+"/webhooks/gitlab"
	if a.worker == nil {
		a.metricsURL = "http://" + listen + "/metrics"
	}
	return a, nil
}

// startBaselineWorker runs the baseline's worker in a process of its own,
// afbench itself with the baseline-worker command, as alertflow's worker
// runs in alertflow's.
func (b *bench) startBaselineWorker(ctx context.Context, scenario, queue string) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find afbench's binary: %w", err)
	}
	logPath := filepath.Join(b.tmp, "baseline-"+scenario+".log")
	p, err := startProc("baseline worker", logPath, []string{"TEMPORAL_ADDRESS=" + b.address, "TEMPORAL_NAMESPACE=" + b.namespace},
		self, "baseline-worker", "-task-queue", queue, "-sdk-defaults="+strconv.FormatBool(b.o.baselineSDKDefaults))
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(time.Minute); ; {
		if log, _ := os.ReadFile(logPath); strings.Contains(string(log), "ready\n") {
			return p, nil
		}
		if err := p.exited(); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) {
			p.stop(15 * time.Second)
			return nil, fmt.Errorf("baseline worker not ready after a minute (log %s)", logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// baselineWorker is "afbench baseline-worker -task-queue Q": the worker of
// the baseline, until interrupted.
func baselineWorker(args []string) int {
	fs := flag.NewFlagSet("afbench baseline-worker", flag.ExitOnError)
	queue := fs.String("task-queue", "afbench-baseline", "task queue of the baseline workflow")
	sdkDefaults := fs.Bool("sdk-defaults", false, "run with the SDK's default worker options rather than alertflow's")
	_ = fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := client.DialContext(ctx, client.Options{HostPort: os.Getenv("TEMPORAL_ADDRESS"), Namespace: os.Getenv("TEMPORAL_NAMESPACE"), Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline worker: connect to temporal:", err)
		return 1
	}
	defer c.Close()
	opts := alertworker.Options()
	if *sdkDefaults {
		opts = worker.Options{}
	}
	w := baseline.NewWorker(c, *queue, opts)
	if err := w.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "baseline worker: start:", err)
		return 1
	}
	defer w.Stop()
	fmt.Println("ready")
	<-ctx.Done()
	return 0
}

func quietLogger() tlog.Logger {
	return tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
}

// base is the first project id of a round of a load in a scenario: no two
// rounds, loads or scenarios share an alert. Round 0 is the warm-up.
func (b *bench) base(scenario, load, round int) int64 {
	return b.offset + int64(scenario+1)*10_000_000 + int64(load)*1_000_000 + int64(round)*10_000
}

// reversed returns loads in the other order.
func reversed[T any](s []T) []T {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}
