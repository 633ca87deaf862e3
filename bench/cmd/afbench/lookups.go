package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// "afbench lookups" times visibility queries against a running server, one
// after the other, as the server answers them: how the slowdown of a
// filling dev server was found (docs/performance.md). Each -query is run
// -n times with %d replaced by the attempt, so that every lookup asks for
// an ID of its own, and the count of rows visibility holds is printed
// beside the figures, as the cost of a query that scans grows with it.

// lookupQueries are the queries timed unless -query is given: the recall's
// lookup of an alert ID's runs as it was, and as it is.
var lookupQueries = []string{
	"WorkflowId = 'afbench-lookup-%d'",
	"WorkflowId = 'afbench-lookup-%d' AND " + noDivision,
}

// noDivision is visibility.Division: kept apart so that afbench times
// the query it names, not whatever the code does today.
const noDivision = "(TemporalNamespaceDivision IS NULL OR TemporalNamespaceDivision = '')"

type queryList []string

func (q *queryList) String() string     { return fmt.Sprint(*q) }
func (q *queryList) Set(s string) error { *q = append(*q, s); return nil }

func lookupsCommand(args []string) int {
	fs := flag.NewFlagSet("afbench lookups", flag.ExitOnError)
	var queries queryList
	fs.Var(&queries, "query", "a visibility query to time, %d replaced by the attempt; repeatable (default: the recall's lookup, as it was and as it is)")
	n := fs.Int("n", 50, "times each query is run")
	pageSize := fs.Int("page-size", 5, "page size of each list, as the recall asks")
	_ = fs.Parse(args)
	if len(queries) == 0 {
		queries = lookupQueries
	}
	ctx := context.Background()
	c, err := client.DialContext(ctx, client.Options{HostPort: os.Getenv("TEMPORAL_ADDRESS"), Namespace: os.Getenv("TEMPORAL_NAMESPACE"), Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "afbench lookups: connect to temporal:", err)
		return 1
	}
	defer c.Close()
	count, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "afbench lookups: count runs:", err)
		return 1
	}
	fmt.Printf("%d runs in visibility, load average %s\n", count.GetCount(), loadAverage())
	for _, q := range queries {
		lats := make([]time.Duration, 0, *n)
		for i := range *n {
			query := q
			if strings.Contains(q, "%d") {
				query = fmt.Sprintf(q, i)
			}
			start := time.Now()
			_, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: int32(*pageSize), Query: query})
			if err != nil {
				fmt.Fprintf(os.Stderr, "afbench lookups: %s: %v\n", q, err)
				return 1
			}
			lats = append(lats, time.Since(start))
		}
		slices.Sort(lats)
		fmt.Printf("p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  %s\n",
			ms(percentile(lats, 50)), ms(percentile(lats, 99)), ms(lats[len(lats)-1]), q)
	}
	return 0
}
