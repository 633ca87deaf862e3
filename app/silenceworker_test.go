package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/internal/testkit"
	"github.com/alertflow/alertflow/silence"
)

// The child reads, from its arguments, the connection its parent uses,
// whatever the environment it inherits says; it listens on loopback only.
func TestSilenceWorkerArgsGiveTheChildItsParentsConnectionAndALoopbackPort(t *testing.T) {
	parent, _, err := loadConfig("serve", []string{"-temporal-address", "10.0.0.7:7300", "-alertflow-task-queue", "q", "-alertflow-temporal-compression", "gzip"},
		env{"TEMPORAL_NAMESPACE": "alerts", "ALERTFLOW_LISTEN": ":9090"}.get, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	args := silenceWorkerArgs(parent)
	if args[0] != "silence-worker" {
		t.Fatalf("command %q, want silence-worker", args[0])
	}
	// The child's environment says otherwise: its arguments win.
	child, _, err := loadConfig(args[0], args[1:], env{"TEMPORAL_ADDRESS": "elsewhere:1", "ALERTFLOW_TASK_QUEUE": "other", "ALERTFLOW_LISTEN": ":9090"}.get, io.Discard)
	if err != nil {
		t.Fatalf("the child refuses its arguments %q: %v", args, err)
	}
	if child.TemporalAddress != "10.0.0.7:7300" || child.Namespace != "alerts" || !child.Gzip ||
		child.TaskQueue != "q" || child.SilenceTaskQueue != "q-silences" || child.Listen != "127.0.0.1:0" {
		t.Errorf("the child reads address %q, namespace %q, gzip %v, task queues %q and %q, listen %q; want its parent's and 127.0.0.1:0",
			child.TemporalAddress, child.Namespace, child.Gzip, child.TaskQueue, child.SilenceTaskQueue, child.Listen)
	}
}

// serve runs the silences the REST API makes in a child process on their
// own task queue: the child runs them (a silence is only expired through
// an update that a worker answers), is started again when it dies, and is
// gone once serve returns.
func TestServeRunsTheSilencesInAChildProcessThatItRestartsAndStops(t *testing.T) {
	bin := temporalBin(t)
	addr := testDevServer(t, bin)
	e := serveEnv(t, addr, "child-test")
	listen := e["ALERTFLOW_LISTEN"]
	var stdout, stderr testkit.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, e.get, &stdout, &stderr) }()
	returned := false
	t.Cleanup(func() {
		cancel()
		if !returned {
			<-done
		}
		for _, pid := range childPIDs(stderr.String()) {
			killProcess(pid)
		}
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr.String())
		}
	})
	base := "http://" + listen
	waitHealthy(t, base, done)
	first := waitChildPIDs(t, &stderr, 1)[0]

	c, err := client.Dial(client.Options{HostPort: addr, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	made := func() silence.Silence {
		t.Helper()
		code, body := apiDo(t, http.MethodPost, base+"/api/v1/silences", `{"matchers":{"project_id":[4242]},"duration":"1h","created_by":"alice","comment":"child test"}`)
		if code != http.StatusCreated {
			t.Fatalf("create silence: %d %s", code, body)
		}
		var sl silence.Silence
		if err := json.Unmarshal(body, &sl); err != nil {
			t.Fatal(err)
		}
		desc, err := c.DescribeWorkflowExecution(context.Background(), sl.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if q := desc.GetExecutionConfig().GetTaskQueue().GetName(); q != "child-test-silences" {
			t.Fatalf("silence %s runs on task queue %q, want child-test-silences", sl.ID, q)
		}
		return sl
	}
	expired := func(id string) {
		t.Helper()
		code, body := apiDo(t, http.MethodDelete, base+"/api/v1/silences/"+id+"?by=bob", "")
		if code != http.StatusOK || !strings.Contains(string(body), `"expired_by":"bob"`) {
			t.Fatalf("expire silence %s: %d %s", id, code, body)
		}
	}

	expired(made().ID)

	// Killed, the child is started again, and the silences run on.
	killProcess(first)
	second := waitChildPIDs(t, &stderr, 2)[1]
	if second == first {
		t.Fatalf("the silence worker was not started again after pid %d was killed", first)
	}
	if !strings.Contains(stderr.String(), "The silence worker stopped; starting it again") {
		t.Errorf("nothing logged that the silence worker stopped")
	}
	expired(made().ID)

	cancel()
	select {
	case code := <-done:
		returned = true
		if code != 0 {
			t.Errorf("serve exited %d, want 0", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return within 30s of the cancel")
	}
	if gone, err := processGone(second); !gone {
		t.Errorf("the silence worker (pid %d) is still there after serve returned: %v", second, err)
	}
}

// childPIDs are the pids of the silence workers serve logged starting, in
// order.
func childPIDs(logs string) []int {
	var pids []int
	for l := range strings.SplitSeq(logs, "\n") {
		var line struct {
			Msg string `json:"msg"`
			PID int    `json:"pid"`
		}
		if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "silence worker starting" {
			pids = append(pids, line.PID)
		}
	}
	return pids
}

// waitChildPIDs polls the log until n silence workers were started, and
// the last one logged that its worker runs.
func waitChildPIDs(t *testing.T, logs *testkit.Buffer, n int) []int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		pids := childPIDs(logs.String())
		if len(pids) >= n && strings.Count(logs.String(), `"msg":"silence worker started"`) >= n {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d silence workers started after a minute, want %d", len(pids), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// apiDo calls the REST API with its token and returns the status and body.
func apiDo(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer api-token")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}
