package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/alertflow/alertflow/internal/testkit"
)

func TestDevServerArgsMatchTheDesign(t *testing.T) {
	args := devServerArgs("127.0.0.1", 7233, 8233, "default", "data/temporal.db")
	if len(args) < 2 || args[0] != "server" || args[1] != "start-dev" {
		t.Fatalf("args do not start with server start-dev: %q", args)
	}
	for _, p := range [][2]string{
		{"--ip", "127.0.0.1"},
		{"--port", "7233"},
		{"--ui-port", "8233"},
		{"--namespace", "default"},
		{"--db-filename", "data/temporal.db"},
		{"--sqlite-pragma", "journal_mode=wal"},
		{"--sqlite-pragma", "synchronous=normal"},
		{"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1"},
		{"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1"},
		{"--dynamic-config-value", "system.forceSearchAttributesCacheRefreshOnRead=false"},
	} {
		if !hasPair(args, p[0], p[1]) {
			t.Errorf("args lack %s %s: %q", p[0], p[1], args)
		}
	}
	want := []string{
		"AlertStatus=Keyword", "AlertSeverity=Keyword",
		"GitLabProjectID=Int", "GitLabProject=Keyword",
		"GitLabRef=Keyword", "PipelineID=Int", "AlertSilencedBy=Keyword",
		"SilenceExpired=Bool", "AlertFailureClass=Keyword", "AlertRevision=Int",
	}
	for _, sa := range want {
		if !hasPair(args, "--search-attribute", sa) {
			t.Errorf("args lack --search-attribute %s: %q", sa, args)
		}
	}
	if n := strings.Count(strings.Join(args, " "), "--search-attribute "); n != len(want) {
		t.Errorf("%d search attributes, want %d: %q", n, len(want), args)
	}
}

// hasPair reports whether flag is followed by value somewhere in args.
func hasPair(args []string, flag, value string) bool {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag && args[i+1] == value {
			return true
		}
	}
	return false
}

// TestDevRunsEverythingAndStopsEverything runs "alertflow dev" end to end:
// it starts bin/temporal and the silence worker as children, serves the
// webhook at the URL it prints, and on cancel stops, taking the children
// with it.
// devRun is alertflow dev run in this process on free ports, with
// TEMPORAL_ADDRESS unset (that would mean "use that running server"), until
// the test ends: its cleanup cancels it, waits for run to return and
// makes sure the dev server child is gone, killing it if not.
type devRun struct {
	listen, dataDir string
	devPort, uiPort int
	stdout, stderr  testkit.Buffer
	cancel          context.CancelFunc
	done            chan int
	// returned is set once the test took run's exit code from done.
	returned bool
	// pid is the dev server child's, once it has logged it (see watch).
	pid int
}

func startDev(t *testing.T, bin string) *devRun {
	t.Helper()
	ports := testkit.FreePorts(t, 3)
	d := &devRun{listen: "127.0.0.1:" + strconv.Itoa(ports[2]), dataDir: t.TempDir(), devPort: ports[0], uiPort: ports[1], done: make(chan int, 1)}
	e := env{
		"ALERTFLOW_TEMPORAL_BIN": bin,
		"ALERTFLOW_DATA_DIR":     d.dataDir,
		"ALERTFLOW_DEV_PORT":     strconv.Itoa(d.devPort),
		"ALERTFLOW_UI_PORT":      strconv.Itoa(d.uiPort),
		"ALERTFLOW_LISTEN":       d.listen,
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() { d.done <- run(ctx, []string{"dev"}, e.get, &d.stdout, &d.stderr) }()
	t.Cleanup(func() {
		cancel()
		if !d.returned {
			select {
			case <-d.done:
			case <-time.After(30 * time.Second):
				t.Errorf("alertflow dev did not return within 30s of the cancel")
			}
		}
		d.watch()
		if err := d.waitGone(10 * time.Second); err != nil {
			t.Errorf("%v; killing it", err)
			killProcess(d.pid)
		}
		if t.Failed() {
			t.Logf("alertflow dev's stdout:\n%s\nits stderr:\n%s", d.stdout.String(), d.stderr.String())
			if b, err := os.ReadFile(filepath.Join(d.dataDir, "temporal.log")); err == nil {
				t.Logf("temporal.log:\n%s", b)
			}
		}
	})
	return d
}

// watch notes the dev server's pid once run has logged it.
func (d *devRun) watch() {
	if d.pid == 0 {
		d.pid = devServerPID(d.stderr.String())
	}
}

// waitGone polls until the dev server child has exited, for up to limit.
func (d *devRun) waitGone(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for d.pid > 0 {
		gone, err := processGone(d.pid)
		if gone {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("temporal dev server (pid %d) still there %s after alertflow dev returned: %v", d.pid, limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func TestDevRunsEverythingAndStopsEverything(t *testing.T) {
	d := startDev(t, temporalBin(t))
	listen, ports, dataDir := d.listen, []int{d.devPort, d.uiPort}, d.dataDir
	stdout, done := &d.stdout, d.done

	client := &http.Client{Timeout: 5 * time.Second}
	webhookLine := regexp.MustCompile(`GitLab webhook URL:\s+(\S+)`)
	var webhookURL string
	healthy := false
	deadline := time.Now().Add(25 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for webhookURL == "" || !healthy {
		d.watch()
		if m := webhookLine.FindStringSubmatch(stdout.String()); m != nil {
			webhookURL = m[1]
		}
		if webhookURL != "" && !healthy {
			if resp, err := client.Get("http://" + listen + "/healthz"); err == nil {
				resp.Body.Close()
				healthy = resp.StatusCode == http.StatusOK
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 25s (webhook URL %q, healthy %v)", webhookURL, healthy)
		}
		select {
		case code := <-done:
			d.returned = true
			t.Fatalf("run returned %d before it was ready", code)
		case <-tick.C:
		}
	}
	if d.pid == 0 {
		t.Fatal(`no "temporal dev server starting" log line with a pid on stderr`)
	}
	if !strings.HasPrefix(webhookURL, "http://"+listen+"/webhooks/gitlab?token=") {
		t.Errorf("webhook URL %q is not on %s with a token", webhookURL, listen)
	}
	if !strings.Contains(stdout.String(), "http://127.0.0.1:"+strconv.Itoa(ports[1])+"/namespaces/default/workflows") {
		t.Errorf("stdout does not show the Web UI URL:\n%s", stdout.String())
	}

	// A failed pipeline through the printed URL opens an alert.
	raw, err := os.ReadFile("../testdata/pipeline-docs-example.json")
	if err != nil {
		t.Fatal(err)
	}
	var payload map[string]any
	if err := json.Unmarshal(raw, &payload); err != nil {
		t.Fatal(err)
	}
	payload["object_attributes"].(map[string]any)["status"] = "failed"
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		Action  string `json:"action"`
		AlertID string `json:"alert_id"`
		RunID   string `json:"run_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("decode answer: %v", err)
	}
	if resp.StatusCode != http.StatusAccepted || answer.Action != "signaled" || answer.AlertID != "1-master" || answer.RunID == "" {
		t.Errorf("webhook answered %d %+v, want 202 signaled 1-master with a run id", resp.StatusCode, answer)
	}

	// The same process serves readiness and metrics: its own and the SDK's.
	for path, want := range map[string][]string{
		"/readyz":  {`"status":"ready"`},
		"/metrics": {`alertflow_webhooks_total{outcome="signaled"} 1`, "temporal_worker_task_slots_available", "temporal_request_latency_seconds_bucket"},
	} {
		resp, err := client.Get("http://" + listen + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, w := range want {
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), w) {
				t.Errorf("GET %s: %d, want 200 with %q", path, resp.StatusCode, w)
			}
		}
	}

	// Ctrl-C: run returns 0 and the child is gone.
	d.cancel()
	select {
	case code := <-done:
		d.returned = true
		if code != 0 {
			t.Errorf("run returned %d after cancel, want 0", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30s of the cancel")
	}
	if err := d.waitGone(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	// The silence worker ran as a child too, and went with run.
	silenceWorkers := childPIDs(d.stderr.String())
	if len(silenceWorkers) == 0 {
		t.Error(`no "silence worker starting" log line with a pid on stderr`)
	}
	for _, pid := range silenceWorkers {
		if gone, err := processGone(pid); !gone {
			t.Errorf("the silence worker (pid %d) is still there after alertflow dev returned: %v", pid, err)
			killProcess(pid)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "temporal.db")); err != nil {
		t.Errorf("data dir has no temporal.db: %v", err)
	}
}

// temporalBin is the Temporal CLI the end-to-end test runs: the Makefile
// passes it in ALERTFLOW_TEST_TEMPORAL_BIN.
func temporalBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("ALERTFLOW_TEST_TEMPORAL_BIN")
	if bin == "" {
		if _, err := os.Stat("../bin/temporal"); err == nil {
			bin = "../bin/temporal"
		}
	}
	if bin == "" {
		msg := "no Temporal CLI: run make test, which builds bin/temporal, or set ALERTFLOW_TEST_TEMPORAL_BIN"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("ALERTFLOW_TEST_TEMPORAL_BIN: %v", err)
	}
	return abs
}

// testDevServer starts a Temporal dev server from bin on a free port for
// the test and returns its address; it stops when the test ends.
func testDevServer(t *testing.T, bin string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePorts(t, 1)[0])
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  bin,
		ClientOptions: &client.Options{HostPort: addr, Logger: quietLogger()},
		LogLevel:      "error",
		Stdout:        io.Discard,
		Stderr:        io.Discard,
	})
	if err != nil {
		t.Fatalf("start dev server: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return addr
}

// devServerPID finds the child's pid in the JSON log line run writes when
// it starts the dev server; 0 while there is none.
func devServerPID(logs string) int {
	for _, l := range strings.Split(logs, "\n") {
		var line struct {
			Msg string `json:"msg"`
			PID int    `json:"pid"`
		}
		if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "temporal dev server starting" {
			return line.PID
		}
	}
	return 0
}
