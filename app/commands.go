// Package app puts alertflow together: the settings (one table drives the
// environment variables, the flags and --help), the receiver registry, the
// worker and the HTTP intake built from them, the Temporal connection,
// metrics, the silence worker's child process, the supervision of
// `alertflow dev`, and every command. cmd/alertflow only reads the command
// word and runs what Lookup gives it; tests run commands here as the
// binary would, without building it.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/alertflow/alertflow/ingress"
)

// Command is one subcommand of alertflow: args are those after its word,
// and what it returns is the process's exit code (2 for a usage error).
// Its outside world is passed in, so that tests run it as the binary does.
type Command func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int

// Lookup is the command a word names, false when alertflow has none.
func Lookup(word string) (Command, bool) {
	switch word {
	case "config":
		return withoutContext(runConfigCommand), true
	case "routes":
		return withoutContext(runRoutesCommand), true
	case "replay":
		return runReplayCommand, true
	case "reconcile":
		return runReconcileCommand, true
	case "dev":
		return modeCommand(word, runDev), true
	case "serve":
		return modeCommand(word, serveAs(roles{ingress: true, worker: true})), true
	case "ingress":
		return modeCommand(word, serveAs(roles{ingress: true})), true
	case "worker":
		return modeCommand(word, serveAs(roles{worker: true})), true
	case "silence-worker":
		return modeCommand(word, serveAs(roles{silences: true})), true
	}
	return nil, false
}

// PrintUsage writes what alertflow's commands are and every setting they
// read, with its default.
func PrintUsage(w io.Writer) { printUsage(w, "") }

func withoutContext(f func([]string, func(string) string, io.Writer, io.Writer) int) Command {
	return func(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
		return f(args, getenv, stdout, stderr)
	}
}

// mode is a command that runs until ctx is done, with the settings read
// and checked; addressSet says whether TEMPORAL_ADDRESS was given.
type mode func(ctx context.Context, cfg config, addressSet bool, logger *slog.Logger, stdout io.Writer) error

// modeCommand reads and checks the settings of cmd, and the routing file
// when cmd reads one, before m connects to anything: a bad setting exits 2
// naming it; m failing exits 1.
func modeCommand(cmd string, m mode) Command {
	return func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
		cfg, addressSet, err := loadConfig(cmd, args, getenv, stdout)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if err == nil && !cfg.sourceTokensSet && (cmd == "serve" || cmd == "ingress") {
			err = errors.New("ALERTFLOW_SOURCE_TOKENS: required: name=token[,name=token...]")
		}
		if err == nil && cmd != "ingress" && cmd != "silence-worker" {
			// A worker reads GitLab's API; an intake alone only needs to
			// know which instances have one.
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
		if err := m(ctx, cfg, addressSet, logger, stdout); err != nil {
			logger.Error("alertflow stopped", "command", cmd, "error", err)
			return 1
		}
		return 0
	}
}
