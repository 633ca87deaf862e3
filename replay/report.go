package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a replay.
type Report struct {
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	Project string    `json:"project,omitempty"`
	// Alerts and Runs count the alert IDs and recorded runs replayed.
	Alerts int `json:"alerts"`
	Runs   int `json:"runs"`
	// Changed counts the alerts with at least one change.
	Changed int `json:"changed"`
	// Differences are the alerts with changes or notes.
	Differences []AlertDiff `json:"differences"`
	// Failed are alerts that could not be replayed, and why; they are
	// left out of the totals.
	Failed []Failure `json:"failed,omitempty"`
	Totals []Total   `json:"totals"`
}

// Failure is an alert the replay could not re-run.
type Failure struct {
	ID    string `json:"alert_id"`
	Error string `json:"error"`
}

// Replay reads the alerts f picks and re-runs each under sim's policy.
func Replay(ctx context.Context, r Reader, f Filter, sim Simulation) (Report, error) {
	histories, err := r.Read(ctx, f)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Since: f.Since, Until: sim.Until, Project: f.Project, Alerts: len(histories), Differences: []AlertDiff{}}
	var all []AlertDiff
	for _, h := range histories {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		rep.Runs += len(h.Runs)
		would, notes, err := sim.Simulate(h)
		if err != nil {
			rep.Failed = append(rep.Failed, Failure{ID: h.ID, Error: err.Error()})
			continue
		}
		d := AlertDiff{ID: h.ID, Project: h.Project, Ref: h.Ref, Runs: len(h.Runs), Sent: h.Sent(), Would: would, Notes: notes}
		d.Changes = Diff(d.Sent, d.Would)
		all = append(all, d)
		if len(d.Changes) > 0 {
			rep.Changed++
		}
		if len(d.Changes) > 0 || len(d.Notes) > 0 {
			rep.Differences = append(rep.Differences, d)
		}
	}
	rep.Totals = Totals(all)
	return rep, nil
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, rep Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteText writes the report for people: the alerts with changes, then
// the totals per receiver.
func WriteText(w io.Writer, rep Report) error {
	ew := &errWriter{w: w}
	scope := "every project"
	if rep.Project != "" {
		scope = "projects " + rep.Project
	}
	ew.printf("Replayed %d alerts (%d runs) of %s started since %s, up to %s.\n",
		rep.Alerts, rep.Runs, scope, rep.Since.UTC().Format(time.RFC3339), rep.Until.UTC().Format(time.RFC3339))
	ew.printf("A notification counts as sent once it was scheduled, once per receiver however many of its integrations it went to.\n\n")
	if rep.Changed == 0 {
		ew.printf("No differences: the candidate would have sent the same notifications to the same receivers.\n")
	} else {
		ew.printf("%d of %d alerts would have notified differently:\n", rep.Changed, rep.Alerts)
	}
	for _, d := range rep.Differences {
		ew.printf("\n%s", d.ID)
		if d.Project != "" {
			ew.printf("  %s@%s", d.Project, d.Ref)
		}
		ew.printf("\n")
		for _, c := range d.Changes {
			switch c.Op {
			case Rerouted:
				ew.printf("  ~ rerouted  %s #%d: %s -> %s\n", c.Kind, c.N, c.From, c.Receiver)
			case Removed:
				ew.printf("  - removed   %s #%d to %s\n", c.Kind, c.N, c.Receiver)
			default:
				ew.printf("  + added     %s #%d to %s\n", c.Kind, c.N, c.Receiver)
			}
		}
		for _, n := range d.Notes {
			ew.printf("  note: %s\n", n)
		}
	}
	for _, f := range rep.Failed {
		ew.printf("\n%s could not be replayed: %s\n", f.ID, f.Error)
	}
	ew.printf("\nPer receiver, notifications sent -> would have been sent:\n")
	if len(rep.Totals) == 0 {
		ew.printf("  (none either way)\n")
	}
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	for _, t := range rep.Totals {
		fmt.Fprintf(tw, "  %s:\t%d -> %d\t%s\n", t.Receiver, t.Sent, t.Would, delta(t.Sent, t.Would))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return ew.err
}

func delta(sent, would int) string {
	switch {
	case would > sent:
		return fmt.Sprintf("(+%d)", would-sent)
	case would < sent:
		return fmt.Sprintf("(%d)", would-sent)
	}
	return "(same)"
}

// errWriter keeps the first write error, so the report reads as prose.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}
