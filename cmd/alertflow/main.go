// Command alertflow turns GitLab pipeline webhooks into durable alerts, each
// a Temporal workflow. See "alertflow --help". What each command does lives
// in package app; this is only the command line in front of it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	// Monitors may read their cron in a time zone (CRON_TZ=Europe/Paris):
	// the container image has no zone database of its own.
	_ "time/tzdata"

	"github.com/alertflow/alertflow/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole program, with its outside world passed in: the first
// argument names the command, the rest are its own.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) {
		app.PrintUsage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	command, ok := app.Lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "alertflow: unknown command %q\n\n", args[0])
		app.PrintUsage(stderr)
		return 2
	}
	return command(ctx, args[1:], getenv, stdout, stderr)
}

func isHelp(arg string) bool {
	switch arg {
	case "-h", "--help", "-help", "help":
		return true
	}
	return false
}
