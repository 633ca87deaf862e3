// Command alertflow turns GitLab pipeline webhooks into durable alerts, each
// a Temporal workflow. See "alertflow --help".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	// Monitors may read their cron in a time zone (CRON_TZ=Europe/Paris):
	// the container image has no zone database of its own.
	_ "time/tzdata"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/worker"
	"github.com/alertflow/alertflow/workflows"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole program, with its outside world passed in.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help" {
		printUsage(stdout, "")
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd := args[0]
	switch cmd {
	case "config":
		return runConfigCommand(args[1:], getenv, stdout, stderr)
	case "routes":
		return runRoutesCommand(args[1:], getenv, stdout, stderr)
	case "replay":
		return runReplayCommand(ctx, args[1:], getenv, stdout, stderr)
	case "reconcile":
		return runReconcileCommand(ctx, args[1:], getenv, stdout, stderr)
	}
	var mode func(context.Context, config, bool, *slog.Logger, io.Writer) error
	switch cmd {
	case "dev":
		mode = runDev
	case "serve":
		mode = serveAs(roles{ingress: true, worker: true})
	case "ingress":
		mode = serveAs(roles{ingress: true})
	case "worker":
		mode = serveAs(roles{worker: true})
	case "silence-worker":
		mode = serveAs(roles{silences: true})
	default:
		fmt.Fprintf(stderr, "alertflow: unknown command %q\n\n", cmd)
		printUsage(stderr, "")
		return 2
	}
	cfg, addressSet, err := loadConfig(cmd, args[1:], getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil && !cfg.sourceTokensSet && (cmd == "serve" || cmd == "ingress") {
		err = errors.New("ALERTFLOW_SOURCE_TOKENS: required: name=token[,name=token...]")
	}
	if err == nil && cmd != "ingress" && cmd != "silence-worker" {
		// A worker reads GitLab's API; an intake alone only needs to know
		// which instances have one.
		err = ingress.CheckTokens(cfg.GitLabAPIs)
	}
	if err == nil && readsRouting(cmd, cfg) {
		// A bad routing file stops the process before it connects to
		// anything.
		cfg.routing, err = routingOf(cfg, getenv)
	}
	if err != nil {
		fmt.Fprintf(stderr, "alertflow %s: %v\n", cmd, err)
		return 2
	}
	cfg.logTo = stderr
	logger := newLogger(stderr)
	if err := mode(ctx, cfg, addressSet, logger, stdout); err != nil {
		logger.Error("alertflow stopped", "command", cmd, "error", err)
		return 1
	}
	return 0
}

// newLogger logs JSON for machines, and text when a person is watching.
func newLogger(w io.Writer) *slog.Logger {
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return slog.New(slog.NewTextHandler(w, nil))
		}
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

// roles are what one alertflow process runs: the HTTP intake (webhook,
// REST API), the Temporal worker, or both; or the worker of the silences
// alone.
type roles struct {
	ingress, worker, silences bool
}

// serveAs is the mode of a command that serves r.
func serveAs(r roles) func(context.Context, config, bool, *slog.Logger, io.Writer) error {
	return func(ctx context.Context, cfg config, _ bool, logger *slog.Logger, _ io.Writer) error {
		return serve(ctx, cfg, logger, r, nil)
	}
}

// serve runs the intake, the worker, or both, until ctx is done, then stops
// them in order: first the HTTP server stops taking requests and finishes
// those in flight, then the worker finishes its tasks. It serves HTTP on
// ln, or listens on ALERTFLOW_LISTEN itself when ln is nil.
func serve(ctx context.Context, cfg config, logger *slog.Logger, r roles, ln net.Listener) error {
	// Listen first: a port already taken is the most common start-up
	// failure, and it should not leave a worker registered behind it.
	if ln == nil {
		var err error
		if ln, err = listen("ALERTFLOW_LISTEN", cfg.Listen); err != nil {
			return err
		}
	}
	defer ln.Close()
	reg, metrics, err := newMetrics(logger)
	if err != nil {
		return err
	}
	c, err := dial(ctx, cfg, logger, metrics)
	if err != nil {
		return err
	}
	defer c.Close()

	if r.worker {
		if err := worker.EnsureSearchAttributes(ctx, c, cfg.Namespace); err != nil {
			return err
		}
		apis, err := gitLabClients(cfg.GitLabAPIs)
		if err != nil {
			return err
		}
		w := worker.NewWith(c, cfg.TaskQueue, sinks(cfg.routing, logger), metrics, logger, worker.GitLab{APIs: apis, Alert: alertInput(cfg)})
		if err := w.Start(); err != nil {
			return fmt.Errorf("start worker on task queue %s: %w", cfg.TaskQueue, err)
		}
		defer w.Stop()
		if err := worker.FollowMonitors(ctx, c, cfg.TaskQueue, monitorsOf(cfg.routing), apis, worker.DefaultScheduleRefresh, logger); err != nil {
			return err
		}
		logger.Info("worker started", "task_queue", cfg.TaskQueue, "namespace", cfg.Namespace,
			"routing_file", cfg.ConfigFile, "receivers", receiverNames(cfg.routing))
		if cfg.SilenceWorker == silenceWorkerProcess {
			child, err := startSilenceWorker(ctx, cfg, logger)
			if err != nil {
				return err
			}
			// Stopped once the HTTP server has: no silence starts after
			// it that the child would not run.
			defer child.stop()
		}
	}
	if r.silences {
		if err := worker.EnsureSearchAttributes(ctx, c, cfg.Namespace); err != nil {
			return err
		}
		w := worker.NewSilences(c, cfg.SilenceTaskQueue, logger)
		if err := w.Start(); err != nil {
			return fmt.Errorf("start silence worker on task queue %s: %w", cfg.SilenceTaskQueue, err)
		}
		defer w.Stop()
		logger.Info("silence worker started", "task_queue", cfg.SilenceTaskQueue, "namespace", cfg.Namespace)
	}

	handler := workerMux(c, reg, logger)
	if r.ingress {
		handler = ingress.New(ingress.Config{
			TaskQueue:           cfg.TaskQueue,
			SilenceTaskQueue:    cfg.SilenceTaskQueue,
			Tokens:              cfg.SourceTokens,
			APIToken:            cfg.APIToken,
			MaxBody:             cfg.MaxBody,
			MaxBodyInFlight:     cfg.MaxBodyInFlight,
			AlertRate:           cfg.AlertRate,
			AlertBurst:          cfg.AlertBurst,
			Workflow:            alertInput(cfg),
			ReconciledInstances: reconciledInstances(cfg.GitLabAPIs),
			ChangeEvents:        changeEvents(cfg.ChangeEvents, cfg.routing),
			SlackSigningSecret:  cfg.SlackSigningSecret,
			SlackPeople:         peopleOf(cfg.routing),
			Registry:            reg,
		}, c, logger)
	}
	return serveHTTP(ctx, ln, handler, logger, httpLimitsOf(cfg), reg)
}

// alertInput is what new alerts start with, wherever they start: at the
// intake, or at a monitor whose scheduled pipeline did not run.
func alertInput(cfg config) workflows.Input {
	return workflows.Input{
		ReminderInterval: cfg.ReminderInterval,
		Rules:            alert.Rules{Hold: cfg.Hold, Children: cfg.Children, FlapThreshold: cfg.FlapThreshold, FlapWindow: cfg.FlapWindow},
		AutoResolveAfter: cfg.AutoResolveAfter,
		Reconcile:        &workflows.Reconcile{Every: cfg.ReconcileInterval},
	}
}
