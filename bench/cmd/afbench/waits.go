package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// "afbench waits -query Q" reads the histories of the workflows a
// visibility query finds and prints how long their workflow tasks waited
// to be started, and every stretch of at least -idle during which no
// workflow task of theirs started while some waited: the signature of a
// worker that polls nothing on its normal queue, as opposed to a worker
// that is merely slow. It is how the stalls of make bench were told apart
// from load (docs/performance.md).

// taskWait is one workflow task, from scheduled to started.
type taskWait struct {
	id                 string
	sticky             bool
	scheduled, started time.Time
}

func waitsCommand(args []string) int {
	fs := flag.NewFlagSet("afbench waits", flag.ExitOnError)
	query := fs.String("query", "", "visibility query of the workflows to read, such as TaskQueue='afbench-205-spread-baseline'")
	idle := fs.Duration("idle", 5*time.Second, "report stretches at least this long with no workflow task started while some waited")
	_ = fs.Parse(args)
	if *query == "" {
		fmt.Fprintln(os.Stderr, "afbench waits: -query is required")
		return 2
	}
	ctx := context.Background()
	c, err := client.DialContext(ctx, client.Options{HostPort: os.Getenv("TEMPORAL_ADDRESS"), Namespace: os.Getenv("TEMPORAL_NAMESPACE"), Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "afbench waits: connect to temporal:", err)
		return 1
	}
	defer c.Close()
	ws, timeouts, err := readWaits(ctx, c, *query)
	if err != nil {
		fmt.Fprintln(os.Stderr, "afbench waits:", err)
		return 1
	}
	printWaits(os.Stdout, ws, timeouts, *idle)
	return 0
}

// readWaits reads the workflow tasks of every run the query finds, and
// counts the sticky tasks that timed out before a worker started them.
func readWaits(ctx context.Context, c client.Client, query string) ([]taskWait, int, error) {
	type run struct{ id, runID string }
	var runs []run
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token, PageSize: 1000})
		if err != nil {
			return nil, 0, fmt.Errorf("list workflows: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			runs = append(runs, run{e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()})
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	var (
		mu       sync.Mutex
		ws       []taskWait
		timeouts int
		firstErr error
		wg       sync.WaitGroup
		work     = make(chan run)
	)
	for range 16 {
		wg.Go(func() {
			for r := range work {
				var pending *taskWait
				var mine []taskWait
				stickyTimeouts := 0
				it := c.GetWorkflowHistory(ctx, r.id, r.runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
				for it.HasNext() {
					e, err := it.Next()
					if err != nil {
						mu.Lock()
						firstErr = cmpOr(firstErr, fmt.Errorf("history of %s: %w", r.id, err))
						mu.Unlock()
						break
					}
					switch e.GetEventType() {
					case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
						a := e.GetWorkflowTaskScheduledEventAttributes()
						pending = &taskWait{id: r.id, sticky: a.GetTaskQueue().GetKind() == enumspb.TASK_QUEUE_KIND_STICKY, scheduled: e.GetEventTime().AsTime()}
					case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
						if pending != nil {
							pending.started = e.GetEventTime().AsTime()
							mine = append(mine, *pending)
							pending = nil
						}
					case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
						if e.GetWorkflowTaskTimedOutEventAttributes().GetTimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START {
							stickyTimeouts++
						}
					}
				}
				mu.Lock()
				ws, timeouts = append(ws, mine...), timeouts+stickyTimeouts
				mu.Unlock()
			}
		})
	}
	for _, r := range runs {
		work <- r
	}
	close(work)
	wg.Wait()
	return ws, timeouts, firstErr
}

func cmpOr(err, next error) error {
	if err != nil {
		return err
	}
	return next
}

// printWaits prints the waits' percentiles by queue kind, then the idle
// stretches.
func printWaits(w io.Writer, ws []taskWait, timeouts int, idle time.Duration) {
	for _, sticky := range []bool{false, true} {
		var ds []time.Duration
		for _, t := range ws {
			if t.sticky == sticky {
				ds = append(ds, t.started.Sub(t.scheduled))
			}
		}
		slices.Sort(ds)
		kind := map[bool]string{false: "normal", true: "sticky"}[sticky]
		if p := percentiles(ds); p != nil {
			fmt.Fprintf(w, "%s queue: %d workflow tasks waited p50 %.0f ms, p99 %.0f ms, max %.0f ms to start\n", kind, p.N, p.P50, p.P99, p.Max)
		}
	}
	fmt.Fprintf(w, "sticky tasks that timed out unstarted (moved to the normal queue): %d\n", timeouts)
	starts := make([]time.Time, 0, len(ws))
	for _, t := range ws {
		starts = append(starts, t.started)
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	found := 0
	for i := 1; i < len(starts); i++ {
		from, to := starts[i-1], starts[i]
		if to.Sub(from) < idle {
			continue
		}
		// Waiting through the stretch: scheduled before it began (within
		// a second) and started at its end or later.
		waiting := 0
		for _, t := range ws {
			if t.scheduled.Before(from.Add(time.Second)) && !t.started.Before(to) {
				waiting++
			}
		}
		if waiting > 0 {
			found++
			fmt.Fprintf(w, "idle %.1f s from %s: no workflow task started while %d waited\n", to.Sub(from).Seconds(), from.UTC().Format("15:04:05.000"), waiting)
		}
	}
	if found == 0 {
		fmt.Fprintf(w, "no stretch of %s or more with no workflow task started while some waited\n", idle)
	}
}
