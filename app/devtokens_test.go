package app

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/alertflow/alertflow/internal/testkit"
)

func TestApplyDevTokensKeepsWhatItMadeUpAndTheEnvironmentWins(t *testing.T) {
	dir := t.TempDir()
	cfg := config{DataDir: filepath.Join(dir, "data")}
	src1, api1, err := applyDevTokens(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.SourceTokens.Match(src1); !ok {
		t.Fatalf("the printed source token %q is not the one the intake takes", src1)
	}
	if _, ok := cfg.APIToken.Match(api1); !ok {
		t.Fatalf("the printed API token %q is not the one the API takes", api1)
	}
	path := filepath.Join(cfg.DataDir, devTokensFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, st.Mode().Perm())
	}

	again := config{DataDir: cfg.DataDir}
	src2, api2, err := applyDevTokens(&again)
	if err != nil {
		t.Fatal(err)
	}
	if src2 != src1 || api2 != api1 {
		t.Fatalf("second start made up new tokens: %s %s, first %s %s", src2, api2, src1, api1)
	}

	env := config{DataDir: cfg.DataDir, sourceTokensSet: true, apiTokenSet: true}
	src3, api3, err := applyDevTokens(&env)
	if err != nil {
		t.Fatal(err)
	}
	if src3 == src1 || api3 == api1 {
		t.Fatal("tokens given in the environment lost to the kept ones")
	}

	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := applyDevTokens(&config{DataDir: cfg.DataDir}); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Errorf("a world-readable tokens file stayed %v", st.Mode().Perm())
		}
	}

	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := applyDevTokens(&config{DataDir: cfg.DataDir}); err == nil {
		t.Fatal("a damaged tokens file was taken")
	}
}

// TestDevPrintsTheSameWebhookURLAfterARestart runs alertflow dev twice on
// the same data directory, as two make run in a row: the second prints the
// URL the first printed, so a hook configured with it keeps working.
func TestDevPrintsTheSameWebhookURLAfterARestart(t *testing.T) {
	bin := temporalBin(t)
	addr := testDevServer(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dataDir := t.TempDir()
	listen := "127.0.0.1:" + strconv.Itoa(testkit.FreePorts(t, 1)[0])
	webhookLine := regexp.MustCompile(`GitLab webhook URL:\s+(\S+)`)
	apiLine := regexp.MustCompile(`Bearer ([^']+)'`)
	start := func() (webhook, api string) {
		t.Helper()
		e := env{
			"TEMPORAL_ADDRESS":   addr,
			"ALERTFLOW_DATA_DIR": dataDir,
			"ALERTFLOW_LISTEN":   listen,
		}
		var stdout, stderr testkit.Buffer
		rctx, stop := context.WithCancel(ctx)
		done := make(chan int, 1)
		go func() { done <- run(rctx, []string{"dev"}, e.get, &stdout, &stderr) }()
		defer func() {
			stop()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("dev did not stop within 30s")
			}
		}()
		deadline := time.Now().Add(30 * time.Second)
		for {
			w, a := webhookLine.FindStringSubmatch(stdout.String()), apiLine.FindStringSubmatch(stdout.String())
			if w != nil && a != nil {
				return w[1], a[1]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no webhook URL printed within 30s\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			}
			select {
			case code := <-done:
				t.Fatalf("dev returned %d before printing\nstderr:\n%s", code, stderr.String())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	w1, a1 := start()
	w2, a2 := start()
	if w1 != w2 || a1 != a2 {
		t.Fatalf("after a restart dev printed\n  %s (API token %s)\nwhere it first printed\n  %s (API token %s)", w2, a2, w1, a1)
	}
}
