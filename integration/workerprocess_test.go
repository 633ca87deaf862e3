package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alertflow/alertflow/internal/testkit"
)

// The real `alertflow worker` as a child process, for the tests that kill
// and restart it.

// workerProcess is `alertflow worker` running as a child process.
type workerProcess struct {
	cmd    *exec.Cmd
	addr   string
	log    string
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// alertflowBinary builds the real binary into the test's temporary
// directory.
func alertflowBinary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "alertflow")
	cmd := exec.Command("go", "build", "-o", path, "./cmd/alertflow")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/alertflow: %v\n%s", err, out)
	}
	return path
}

// startWorkerProcess runs `alertflow worker` on taskQueue against the
// shared dev server, with env added to its environment, and waits until
// its /healthz answers, which it serves only once the worker has started.
func startWorkerProcess(t *testing.T, bin, taskQueue, name string, env ...string) *workerProcess {
	t.Helper()
	w := &workerProcess{addr: testkit.FreeAddr(), log: filepath.Join(t.TempDir(), name+".log"), exited: make(chan struct{})}
	logFile, err := os.Create(w.log)
	if err != nil {
		t.Fatal(err)
	}
	w.cmd = exec.Command(bin, "worker")
	for _, kv := range os.Environ() {
		// Nothing of the caller's alertflow or Temporal settings.
		if !strings.HasPrefix(kv, "ALERTFLOW_") && !strings.HasPrefix(kv, "TEMPORAL_") {
			w.cmd.Env = append(w.cmd.Env, kv)
		}
	}
	w.cmd.Env = append(w.cmd.Env,
		"TEMPORAL_ADDRESS="+devServer.FrontendHostPort(),
		"TEMPORAL_NAMESPACE=default",
		"ALERTFLOW_TASK_QUEUE="+taskQueue,
		"ALERTFLOW_LISTEN="+w.addr,
	)
	w.cmd.Env = append(w.cmd.Env, env...)
	w.cmd.Stdout, w.cmd.Stderr = logFile, logFile
	if err := w.cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		w.err = w.cmd.Wait()
		logFile.Close()
		close(w.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-w.exited:
		default:
			_ = w.cmd.Process.Kill() // this test's own child, by PID
			<-w.exited
		}
	})
	err = poll(context.Background(), time.Minute, func() error {
		select {
		case <-w.exited:
			return nil
		default:
		}
		resp, err := http.Get("http://" + w.addr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("healthz %d", resp.StatusCode)
		}
		return nil
	})
	select {
	case <-w.exited:
		t.Fatalf("%s exited at start: %v\n%s", name, w.err, w.tail())
	default:
	}
	if err != nil {
		t.Fatalf("%s (pid %d) never became healthy: %v\n%s", name, w.cmd.Process.Pid, err, w.tail())
	}
	t.Logf("%s started: pid %d, task queue %s, listening on %s", name, w.cmd.Process.Pid, taskQueue, w.addr)
	return w
}

// tail is the end of the process's log.
func (w *workerProcess) tail() string {
	b, _ := os.ReadFile(w.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// kill ends the process at once, as a crash or an OOM kill would.
func (w *workerProcess) kill(t *testing.T) {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL pid %d: %v", w.cmd.Process.Pid, err)
	}
	<-w.exited
	var exit *exec.ExitError
	if !errors.As(w.err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("pid %d ended with %v, want killed by SIGKILL", w.cmd.Process.Pid, w.err)
	}
}

// stop asks the process to stop (SIGTERM) and waits for it.
func (w *workerProcess) stop(t *testing.T) {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM pid %d: %v", w.cmd.Process.Pid, err)
	}
	select {
	case <-w.exited:
	case <-time.After(time.Minute):
		t.Errorf("pid %d did not stop within a minute of SIGTERM; killing it\n%s", w.cmd.Process.Pid, w.tail())
		_ = w.cmd.Process.Kill()
		<-w.exited
		return
	}
	if w.err != nil {
		t.Errorf("pid %d stopped with %v after SIGTERM, want exit 0\n%s", w.cmd.Process.Pid, w.err, w.tail())
	}
}
