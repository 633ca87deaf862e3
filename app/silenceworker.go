package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// The values of ALERTFLOW_SILENCE_WORKER.
const (
	// silenceWorkerProcess: each process that runs the alert worker starts
	// the silence worker as a child process, and starts it again if it
	// dies.
	silenceWorkerProcess = "process"
	// silenceWorkerExternal: the operator runs `alertflow silence-worker`.
	silenceWorkerExternal = "external"
)

// childEnv marks the environment of a child process alertflow started,
// with its parent's process ID: a test binary standing in for alertflow
// reads it to run as alertflow would.
const childEnv = "ALERTFLOW_CHILD_OF"

// Restarts of a silence worker that died wait from restartMin, doubling up
// to restartMax; one that ran for restartReset starts the wait over.
const (
	restartMin   = time.Second
	restartMax   = 30 * time.Second
	restartReset = time.Minute
	// childStopGrace is how long a child may take to stop when asked
	// before it is killed.
	childStopGrace = 10 * time.Second
)

// silenceWorker is the child process that runs the silences (see
// worker.NewSilences for why it is a process of its own), kept running
// until stop.
type silenceWorker struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startSilenceWorker starts `alertflow silence-worker` as a child process
// of this one, with this one's connection to Temporal, and keeps it
// running until ctx ends or stop is called. The child logs where this
// process logs, listens for health and metrics on a loopback port of its
// own, and dies with this process (a signal on Linux).
func startSilenceWorker(ctx context.Context, cfg config, logger *slog.Logger) (*silenceWorker, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find alertflow's own binary to start the silence worker: %w", err)
	}
	args := silenceWorkerArgs(cfg)
	ctx, cancel := context.WithCancel(ctx)
	s := &silenceWorker{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		wait := restartMin
		for {
			began := time.Now()
			err := runChild(ctx, self, args, cfg, logger)
			if ctx.Err() != nil {
				return
			}
			if time.Since(began) >= restartReset {
				wait = restartMin
			}
			logger.Error("The silence worker stopped; starting it again", "error", err, "in", wait.String())
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, restartMax)
		}
	}()
	return s, nil
}

// stop stops the child and waits until it has exited.
func (s *silenceWorker) stop() {
	s.cancel()
	<-s.done
}

// silenceWorkerArgs are the arguments of the child: every setting it needs
// that this process may have from a flag or made up itself (dev's own
// server), rather than from the environment the child inherits.
func silenceWorkerArgs(cfg config) []string {
	compression := "none"
	if cfg.Gzip {
		compression = "gzip"
	}
	return []string{"silence-worker",
		"-" + flagName("TEMPORAL_ADDRESS"), cfg.TemporalAddress,
		"-" + flagName("TEMPORAL_NAMESPACE"), cfg.Namespace,
		"-" + flagName("ALERTFLOW_TEMPORAL_COMPRESSION"), compression,
		"-" + flagName("ALERTFLOW_TASK_QUEUE"), cfg.TaskQueue,
		"-" + flagName("ALERTFLOW_SILENCE_TASK_QUEUE"), cfg.SilenceTaskQueue,
		"-" + flagName("ALERTFLOW_LISTEN"), "127.0.0.1:0",
	}
}

// runChild runs the child once, until it exits or ctx ends; then it asks
// it to stop, and kills it after childStopGrace.
func runChild(ctx context.Context, self string, args []string, cfg config, logger *slog.Logger) error {
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), childEnv+"="+strconv.Itoa(os.Getpid()))
	cmd.Stdout, cmd.Stderr = cfg.logTo, cfg.logTo
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s silence-worker: %w", self, err)
	}
	logger.Info("silence worker starting", "pid", cmd.Process.Pid, "task_queue", cfg.SilenceTaskQueue)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		return fmt.Errorf("silence worker (pid %d) exited: %w", cmd.Process.Pid, orExit0(err))
	case <-ctx.Done():
	}
	_ = interrupt(cmd.Process)
	select {
	case <-exited:
	case <-time.After(childStopGrace):
		_ = cmd.Process.Kill()
		<-exited
		logger.Warn("silence worker killed after not stopping in time", "pid", cmd.Process.Pid, "grace", childStopGrace.String())
	}
	return nil
}

// orExit0 names a clean exit, which for a worker that should run until
// told otherwise is as wrong as a failure.
func orExit0(err error) error {
	if err == nil {
		return fmt.Errorf("exit status 0")
	}
	return err
}
