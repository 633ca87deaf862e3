package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/alertflow/alertflow/internal/testkit"
)

// runDevWithHeldPort runs alertflow dev with one of its ports held by this
// test process, and returns its exit code and output.
func runDevWithHeldPort(t *testing.T, held string) (code int, stdout, stderr string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port = ln.Addr().(*net.TCPAddr).Port
	free := testkit.FreePorts(t, 3)
	e := env{
		// Never started: every port is checked first.
		"ALERTFLOW_TEMPORAL_BIN": filepath.Join(t.TempDir(), "no-temporal-here"),
		"ALERTFLOW_DATA_DIR":     t.TempDir(),
		"ALERTFLOW_DEV_PORT":     strconv.Itoa(free[0]),
		"ALERTFLOW_UI_PORT":      strconv.Itoa(free[1]),
		"ALERTFLOW_LISTEN":       "127.0.0.1:" + strconv.Itoa(free[2]),
	}
	if held == "ALERTFLOW_LISTEN" {
		e[held] = "127.0.0.1:" + strconv.Itoa(port)
	} else {
		e[held] = strconv.Itoa(port)
	}
	var out, errOut testkit.Buffer
	code = run(context.Background(), []string{"dev"}, e.get, &out, &errOut)
	return code, out.String(), errOut.String(), port
}

func TestDevRefusesAPortAnotherProcessHoldsNamingItAndTheHolderBeforeTheBanner(t *testing.T) {
	for _, held := range []string{"ALERTFLOW_DEV_PORT", "ALERTFLOW_UI_PORT", "ALERTFLOW_LISTEN"} {
		t.Run(held, func(t *testing.T) {
			code, stdout, stderr, port := runDevWithHeldPort(t, held)
			if code == 0 {
				t.Fatalf("alertflow dev exited 0 with %s held", held)
			}
			want := []string{held, fmt.Sprintf("127.0.0.1:%d is already in use", port), "choose another port with " + held}
			if _, err := os.Stat("/proc/net/tcp"); err == nil {
				// Linux names the holder: this test's own process.
				want = append(want, fmt.Sprintf("by PID %d (", os.Getpid()))
			}
			if held != "ALERTFLOW_LISTEN" {
				want = append(want, "set TEMPORAL_ADDRESS")
			}
			for _, w := range want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stdout, "is running") {
				t.Errorf("the banner was printed although %s was held:\n%s", held, stdout)
			}
			if strings.Contains(stderr, "temporal dev server starting") {
				t.Errorf("the dev server was started although %s was held:\n%s", held, stderr)
			}
		})
	}
}
