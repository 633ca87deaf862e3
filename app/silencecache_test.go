package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/alertflow/alertflow/internal/testkit"
	"github.com/alertflow/alertflow/silence"
	"github.com/alertflow/alertflow/worker"
	"github.com/alertflow/alertflow/workflows"
)

// The silence worker's process keeps at most worker.SilenceCacheSize
// silences in its workflow cache, however many it ran: a thousand
// silences leave it full at its size, not a thousand, and the first of
// them, long evicted, is still expired as asked.
func TestTheSilenceWorkerCachesAtMostSilenceCacheSizeOfAThousandSilences(t *testing.T) {
	const silences = 1000
	bin := temporalBin(t)
	addr := testDevServer(t, bin)
	e := serveEnv(t, addr, "cache-test")
	base, stderr := serving(t, e)
	waitChildPIDs(t, stderr, 1)
	child := childAddr(t, stderr, e["ALERTFLOW_LISTEN"])

	c, err := client.Dial(client.Options{HostPort: addr, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Started as the REST API starts them, eight at a time.
	ids := make([]string, silences)
	var wg sync.WaitGroup
	errs := make(chan error, silences)
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				sl, err := silence.New(silence.IDPrefix+uuid.NewString(), silence.Request{
					Matchers: json.RawMessage(fmt.Sprintf(`{"project_id":[%d]}`, 7_100_000+i)), Duration: "1h",
					CreatedBy: "alice", Comment: "cache test",
				}, time.Now())
				if err == nil {
					_, err = c.ExecuteWorkflow(context.Background(), workflows.SilenceStartOptions("cache-test-silences", sl), workflows.SilenceWorkflowType, sl)
				}
				if err != nil {
					errs <- fmt.Errorf("silence %d: %w", i, err)
					continue
				}
				ids[i] = sl.ID
			}
		})
	}
	for i := range silences {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every silence ran its first workflow task (the start, its task
	// scheduled and started: three events before the task completes).
	deadline := time.Now().Add(2 * time.Minute)
	for _, id := range ids {
		for {
			desc, err := c.DescribeWorkflowExecution(context.Background(), id, "")
			if err == nil && desc.GetWorkflowExecutionInfo().GetHistoryLength() > 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("silence %s has not run its first workflow task after 2 minutes (%v)", id, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The gauge is set as each task begins: after a thousand, the cache
	// was full at its size.
	cached := stickyCacheSize(t, "http://"+child+"/metrics")
	if cached > worker.SilenceCacheSize || cached < worker.SilenceCacheSize-1 {
		t.Errorf("the silence worker's cache holds %v workflows after %d silences, want %d", cached, silences, worker.SilenceCacheSize)
	}

	code, body := apiDo(t, http.MethodDelete, base+"/api/v1/silences/"+ids[0]+"?by=bob", "")
	if code != http.StatusOK || !strings.Contains(string(body), `"expired_by":"bob"`) {
		t.Fatalf("expire the first silence, evicted from the cache: %d %s", code, body)
	}
}

// childAddr is the address the silence worker's HTTP server (health and
// metrics) listens on: the one logged that is not the parent's.
func childAddr(t *testing.T, logs *testkit.Buffer, parent string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		for l := range strings.SplitSeq(logs.String(), "\n") {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "http listening" && line.Addr != parent {
				return line.Addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the silence worker logged no address it listens on within a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stickyCacheSize reads the SDK's sticky cache gauge from metrics.
func stickyCacheSize(t *testing.T, metrics string) float64 {
	t.Helper()
	resp, err := http.Get(metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !strings.HasPrefix(name, "temporal_sticky_cache_size") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value[strings.LastIndex(value, " ")+1:]), 64)
		if err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		return v
	}
	t.Fatalf("%s has no temporal_sticky_cache_size", metrics)
	return 0
}
