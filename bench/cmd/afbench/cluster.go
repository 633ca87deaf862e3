package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// startCluster runs make cluster's topology (cluster/cluster.sh) in a
// directory of afbench's own: PostgreSQL and the Temporal server v1.32.1
// on it. afbench measures against its frontend with its own alertflow
// processes; the cluster's own workers and ingresses stay idle on their
// task queue. The returned stop deletes the cluster with its data.
func (b *bench) startCluster(ctx context.Context) (stop func(), err error) {
	script, err := filepath.Abs(b.o.clusterScript)
	if err != nil {
		return nil, err
	}
	base, err := freePortRange(15)
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(),
		"CLUSTER_DIR="+filepath.Join(b.tmp, "cluster"),
		"CLUSTER_PORT_BASE="+strconv.Itoa(base),
		"ALERTFLOW_SOURCE_TOKENS=bench="+b.token,
	)
	do := func(ctx context.Context, args ...string) error {
		arg := args[0]
		cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
		cmd.Env = env
		out, err := os.OpenFile(filepath.Join(b.tmp, "cluster-"+arg+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer out.Close()
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("cluster.sh %s (log in %s): %w", arg, out.Name(), err)
		}
		return nil
	}
	b.logf("starting the cluster (PostgreSQL, Temporal server) with %s, ports from %d", b.o.clusterScript, base)
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := do(ctx, "destroy"); err != nil {
			b.logf("%v", err)
		}
	}
	b.clusterDo = do
	if err := do(ctx, "start"); err != nil {
		stop()
		return nil, err
	}
	b.address = "127.0.0.1:" + strconv.Itoa(base+1)
	pid, err := os.ReadFile(filepath.Join(b.tmp, "cluster", "temporal.pid"))
	if err == nil {
		b.server, err = strconv.Atoi(strings.TrimSpace(string(pid)))
	}
	if err != nil {
		stop()
		return nil, fmt.Errorf("find the cluster's Temporal server: %w", err)
	}
	return stop, nil
}

// freePortRange finds n consecutive free ports on 127.0.0.1 below 32750:
// Temporal keeps its membership ports in a smallint.
func freePortRange(n int) (int, error) {
	for range 200 {
		base := 20000 + rand.IntN(12000)
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no %d consecutive free ports", n)
}

// printBeside prints this run's alertflow figures beside those of an
// earlier run (the dev server's, from bench/results.json), scenario by
// scenario: what the production persistence costs and gains.
func printBeside(w io.Writer, res *Results, otherPath string) error {
	raw, err := os.ReadFile(otherPath)
	if err != nil {
		return fmt.Errorf("read the figures to print beside: %w", err)
	}
	var other Results
	if err := json.Unmarshal(raw, &other); err != nil {
		return fmt.Errorf("read %s: %w", otherPath, err)
	}
	fmt.Fprintf(w, "\nalertflow on the dev server (%s, %s) and on this run's server (%s):\n", otherPath, other.Date.Format(time.DateTime), res.Machine.Server)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tserver\twebhooks/s\tp50 ms\tp99 ms\tsettled/s\tserver CPU s/1000\talertflow CPU s/1000\t")
	for _, s := range res.Scenarios {
		for _, o := range other.Scenarios {
			if o.Name != s.Name || o.Alertflow == nil || s.Alertflow == nil {
				continue
			}
			for _, row := range []struct {
				server string
				l      *Load
			}{{"dev (SQLite)", o.Alertflow}, {"PostgreSQL", s.Alertflow}} {
				fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.1f\t%.1f\t%.0f\t%.2f\t%.2f\t\n", s.Name, row.server, row.l.RequestsPerSec, row.l.P50Ms, row.l.P99Ms, row.l.SettledPerSec, row.l.ServerCPUPer1000, row.l.CPUPer1000)
			}
		}
	}
	return tw.Flush()
}
