package app

// alertflow reconcile: check an alert against GitLab's API now.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/user"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/workflows"
)

const reconcileUsage = `Usage: alertflow reconcile [--by NAME] [flags] ALERT_ID

Asks GitLab's API about the alert's ref now (the worker reads it, with the
token it holds) and applies what GitLab says through the same rules as a
delivery: a green newest finished pipeline or a deleted branch resolves the
alert. Prints the alert's status and what the check added to its timeline.
It connects to Temporal as the worker does (TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, the TEMPORAL_* profile).

Flags:
`

func runReconcileCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("alertflow reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, reconcileUsage); fs.PrintDefaults() }
	by := fs.String("by", "", "who asks, as the timeline records it (default: the user running alertflow)")
	address := fs.String(flagName("TEMPORAL_ADDRESS"), "", "Temporal frontend host:port (default $TEMPORAL_ADDRESS, else the profile's, else 127.0.0.1:7233)")
	namespace := fs.String(flagName("TEMPORAL_NAMESPACE"), "", "Temporal namespace of the alerts (default $TEMPORAL_NAMESPACE, else the profile's, else default)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "alertflow reconcile: want one alert ID, such as 42-main")
		return 2
	}
	id := fs.Arg(0)
	if _, _, _, err := alert.ParseInstanceID(id); err != nil {
		fmt.Fprintf(stderr, "alertflow reconcile: %v\n", err)
		return 2
	}
	if *by == "" {
		*by = "cli"
		if u, err := user.Current(); err == nil && u.Username != "" {
			*by = "cli:" + u.Username
		}
	}
	cfg, err := replayConnection(replayArgs{address: *address, namespace: *namespace}, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "alertflow reconcile: %v\n", err)
		return 2
	}
	c, err := dial(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		fmt.Fprintf(stderr, "alertflow reconcile: %v\n", err)
		return 1
	}
	defer c.Close()
	st, err := reconcileAlert(ctx, c, id, *by)
	if err != nil {
		fmt.Fprintf(stderr, "alertflow reconcile: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s", st.ID, st.Status)
	if st.Severity != "" {
		fmt.Fprintf(stdout, " %s", st.Severity)
	}
	fmt.Fprintln(stdout)
	for _, e := range st.Timeline {
		if !e.Time.Before(st.LastReconciledAt) {
			fmt.Fprintf(stdout, "  %s %s %s\n", e.Time.UTC().Format(time.RFC3339), e.Kind, e.Note)
		}
	}
	return 0
}

// reconcileAlert runs the reconcile update and answers the alert after it.
func reconcileAlert(ctx context.Context, c client.Client, id, by string) (*alert.State, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := workflows.UpdateAlert(ctx, c, id, workflows.UpdateReconcile, alert.ReconcileRequest{By: by})
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		return st, nil
	case errors.As(err, &appErr):
		return nil, errors.New(appErr.Message())
	}
	return nil, fmt.Errorf("reconcile %s: %w", id, err)
}
