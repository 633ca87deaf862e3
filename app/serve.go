package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/worker"
	"github.com/alertflow/alertflow/workflows"
)

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
func serveAs(r roles) mode {
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
		stop, err := startWorker(ctx, c, cfg, metrics, logger)
		if err != nil {
			return err
		}
		// Stopped once the HTTP server has: no alert or silence starts
		// after it that nothing would run.
		defer stop()
	}
	if r.silences {
		if !r.worker {
			// The cache is one per process: only a process of silences
			// alone keeps it small.
			sdkworker.SetStickyWorkflowCacheSize(worker.SilenceCacheSize)
		}
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
		handler = ingress.New(intakeConfig(cfg, reg), c, logger)
	}
	return serveHTTP(ctx, ln, handler, logger, httpLimitsOf(cfg), reg)
}

// startWorker starts the alert worker of cfg on c, with the notification
// activities of its routing and the monitors it follows, and the silence
// worker's child process when cfg asks for one. stop stops them all.
func startWorker(ctx context.Context, c client.Client, cfg config, metrics client.MetricsHandler, logger *slog.Logger) (stop func(), err error) {
	if err := worker.EnsureSearchAttributes(ctx, c, cfg.Namespace); err != nil {
		return nil, err
	}
	apis, err := gitLabClients(cfg.GitLabAPIs)
	if err != nil {
		return nil, err
	}
	w := worker.NewWith(c, cfg.TaskQueue, Sinks(cfg.routing, notify.DefaultHTTPClient(), logger), metrics, logger, worker.GitLab{APIs: apis, Alert: alertInput(cfg)})
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start worker on task queue %s: %w", cfg.TaskQueue, err)
	}
	if err := worker.FollowMonitors(ctx, c, cfg.TaskQueue, monitorsOf(cfg.routing), apis, worker.DefaultScheduleRefresh, logger); err != nil {
		w.Stop()
		return nil, err
	}
	logger.Info("worker started", "task_queue", cfg.TaskQueue, "namespace", cfg.Namespace,
		"routing_file", cfg.ConfigFile, "receivers", receiverNames(cfg.routing))
	if cfg.SilenceWorker != silenceWorkerProcess {
		return w.Stop, nil
	}
	child, err := startSilenceWorker(ctx, cfg, logger)
	if err != nil {
		w.Stop()
		return nil, err
	}
	// The child first: no silence starts after the worker stopped.
	return func() { child.stop(); w.Stop() }, nil
}

// intakeConfig is the HTTP intake of cfg: its tokens and limits, what
// alerts start with, and what the routing file says of change events and
// Slack's people; metrics go to reg.
func intakeConfig(cfg config, reg *prometheus.Registry) ingress.Config {
	return ingress.Config{
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
		ChangeEvents:        ChangeEvents(cfg.ChangeEvents, cfg.routing),
		SlackSigningSecret:  cfg.SlackSigningSecret,
		SlackPeople:         peopleOf(cfg.routing),
		Registry:            reg,
	}
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
