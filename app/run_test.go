package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

// TestMain lets the test binary stand in for alertflow when a test's serve
// or dev starts the silence worker as a child process: os.Executable is
// then this binary, started with alertflow's arguments.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// run is alertflow as its command line (cmd/alertflow) runs it: the first
// argument names the command, the rest are its own. The command line's
// own cases (no command, help) are tested there.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		PrintUsage(stdout)
		return 2
	}
	command, ok := Lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "alertflow: unknown command %q\n", args[0])
		return 2
	}
	return command(ctx, args[1:], getenv, stdout, stderr)
}
