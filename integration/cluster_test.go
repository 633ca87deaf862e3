package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
)

// clusterRecoveryBound is how long alerts may take to move again once the
// restarted Temporal server answers its health check. Measured on a loaded
// two-core machine at 0.1 to 0.4 s (5.3 s before the clients' polls
// waited for the connection); the rest is margin for a slower machine.
const clusterRecoveryBound = 20 * time.Second

// cluster is one run of cluster/cluster.sh: PostgreSQL, the Temporal
// server, two workers and two ingresses, each a real process.
type cluster struct {
	t        *testing.T
	root     string
	env      []string
	ingress  [2]string // base URLs
	frontend string
}

func (c *cluster) do(args ...string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(c.root, "cluster", "cluster.sh")}, args...)...)
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Should a process it starts keep the output pipe open, do not wait
	// for it.
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("cluster.sh %v: %v\n%s", args, err, out.String())
	}
}

// freePortRange finds n consecutive ports free on 127.0.0.1.
func freePortRange(t *testing.T, n int) int {
	t.Helper()
	for range 200 {
		// Below 32768: Temporal keeps its membership ports in a smallint.
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
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}

// countingReceiver is the generic webhook sink the workers notify: it
// counts every delivery by notification ID and by alert and kind.
type countingReceiver struct {
	mu         sync.Mutex
	deliveries map[string]int                 // notification ID -> times received
	byAlert    map[string]map[string][]string // alert ID -> kind -> distinct notification IDs
}

func (r *countingReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var n struct {
		ID    string `json:"id"`
		Kind  string `json:"kind"`
		Alert struct {
			ID string `json:"id"`
		} `json:"alert"`
	}
	if err := json.NewDecoder(req.Body).Decode(&n); err != nil || n.ID == "" {
		http.Error(w, "bad notification", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliveries[n.ID]++
	if r.deliveries[n.ID] == 1 {
		if r.byAlert[n.Alert.ID] == nil {
			r.byAlert[n.Alert.ID] = map[string][]string{}
		}
		r.byAlert[n.Alert.ID][n.Kind] = append(r.byAlert[n.Alert.ID][n.Kind], n.ID)
	}
	w.WriteHeader(http.StatusNoContent)
}

// clusterDelivery is one webhook of the load and what the intake answered.
type clusterDelivery struct {
	alertID  string
	pipeline int64
	status   string
	body     []byte
	action   string
}

// TestClusterLosesNothingThroughAWorkerCrashAnIngressStopAndAServerRestart
// drives the production topology (make cluster) with 200 branches of
// failed and successful pipelines spread over both ingresses, and
// meanwhile kills a worker with SIGKILL and starts it again, stops one
// ingress (GitLab's deliveries go to the other, as behind a load
// balancer), and restarts the Temporal server.
func TestClusterLosesNothingThroughAWorkerCrashAnIngressStopAndAServerRestart(t *testing.T) {
	if os.Getenv("ALERTFLOW_TEST_CLUSTER") == "" {
		t.Skip("needs PostgreSQL and bin/temporal-server: run make test-cluster, which builds and installs them")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"alertflow", "temporal", "temporal-server", "temporal-sql-tool"} {
		if _, err := os.Stat(filepath.Join(root, "bin", b)); err != nil {
			t.Fatalf("bin/%s is missing: make test-cluster builds it (%v)", b, err)
		}
	}
	recv := &countingReceiver{deliveries: map[string]int{}, byAlert: map[string]map[string][]string{}}
	sink := httptest.NewServer(recv)
	t.Cleanup(sink.Close)

	base := freePortRange(t, 15)
	c := &cluster{t: t, root: root, frontend: "127.0.0.1:" + strconv.Itoa(base+1)}
	c.ingress = [2]string{"http://127.0.0.1:" + strconv.Itoa(base+11), "http://127.0.0.1:" + strconv.Itoa(base+12)}
	c.env = append(os.Environ(),
		"CLUSTER_DIR="+t.TempDir(),
		"CLUSTER_PORT_BASE="+strconv.Itoa(base),
		"TEMPORAL_NAMESPACE=default",
		"ALERTFLOW_SOURCE_TOKENS=gitlab="+sourceToken,
		"ALERTFLOW_API_TOKEN="+apiToken,
		"ALERTFLOW_NOTIFY_WEBHOOK_URL="+sink.URL,
	)
	started := time.Now()
	t.Cleanup(func() { c.do("destroy") })
	c.do("start")
	t.Logf("cluster up in %s", time.Since(started).Round(time.Millisecond))

	httpc := &http.Client{Timeout: 10 * time.Second}
	// deliver sends one webhook like GitLab behind a load balancer: to the
	// preferred ingress, to the other when that one is down, again after a
	// 503 (GitLab's resend) until it is taken or the deadline passes.
	deliver := func(ctx context.Context, d *clusterDelivery, prefer int) error {
		var last error
		for attempt := 0; ; attempt++ {
			url := c.ingress[(prefer+attempt)%2] + "/webhooks/gitlab?token=" + sourceToken
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.body))
			req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
			resp, err := httpc.Do(req)
			if err == nil {
				var a ingress.WebhookAnswer
				_ = json.NewDecoder(resp.Body).Decode(&a)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK {
					d.action = a.Action
					return nil
				}
				last = fmt.Errorf("%s answered %d", url, resp.StatusCode)
			} else {
				last = err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s %d never taken: %w", d.alertID, d.pipeline, last)
			case <-time.After(100 * time.Millisecond): // a resend, not a wait for something
			}
		}
	}

	// The load: 200 branches; each opens with a failed pipeline, and every
	// other one resolves with a success after it.
	const branches = 200
	project := int64(77000 + rand.IntN(1000))
	var plan [][]*clusterDelivery
	for i := range branches {
		ref := fmt.Sprintf("fault-%03d", i)
		id := fmt.Sprintf("%d-%s", project, ref)
		seq := []*clusterDelivery{{alertID: id, pipeline: int64(100000 + 10*i), status: "failed"}}
		if i%2 == 0 {
			seq = append(seq, &clusterDelivery{alertID: id, pipeline: int64(100000 + 10*i + 1), status: "success"})
		}
		for _, d := range seq {
			d.body = payload(t, project, ref, d.pipeline, d.status)
		}
		plan = append(plan, seq)
	}
	total := 0
	for _, seq := range plan {
		total += len(seq)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var done atomic.Int64
	progress := make(chan int64, total)
	errs := make(chan error, branches)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				for k, d := range plan[i] {
					if err := deliver(ctx, d, (i+k)%2); err != nil {
						errs <- err
						return
					}
					progress <- done.Add(1)
				}
			}
		}()
	}
	go func() {
		// Paced, so that the faults land in the middle of the load.
		tick := time.NewTicker(60 * time.Millisecond)
		defer tick.Stop()
		defer close(jobs)
		for i := range plan {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			jobs <- i
		}
	}()

	waitProgress := func(n int64) {
		for done.Load() < n {
			select {
			case <-progress:
			case err := <-errs:
				t.Fatal(err)
			case <-ctx.Done():
				t.Fatalf("load stalled at %d of %d deliveries", done.Load(), total)
			}
		}
	}

	waitProgress(int64(total) / 5)
	c.do("kill-one", "worker1")
	t.Logf("worker1 killed with SIGKILL at %d of %d deliveries", done.Load(), total)
	c.do("start-one", "worker1")

	waitProgress(int64(total) * 2 / 5)
	c.do("stop-one", "ingress2")
	t.Logf("ingress2 stopped at %d of %d deliveries", done.Load(), total)

	waitProgress(int64(total) * 3 / 5)
	down := time.Now()
	c.do("stop-one", "temporal")
	t.Logf("Temporal server stopped at %d of %d deliveries", done.Load(), total)
	c.do("start-one", "temporal")
	up := time.Now()
	t.Logf("Temporal server answering again after %s down", up.Sub(down).Round(time.Millisecond))

	// Recovery: a new alert, opened once the server is back, must move
	// through the workflow (the worker runs it) before the bound.
	probe := &clusterDelivery{alertID: fmt.Sprintf("%d-probe", project), pipeline: 99, status: "failed"}
	probe.body = payload(t, project, "probe", probe.pipeline, probe.status)
	pctx, pcancel := context.WithTimeout(ctx, clusterRecoveryBound)
	if err := deliver(pctx, probe, 0); err != nil {
		pcancel()
		t.Fatalf("no webhook taken within %s of the restart: %v", clusterRecoveryBound, err)
	}
	var st *alert.State
	err = pollCtx(pctx, func() error {
		var err error
		st, err = apiState(pctx, httpc, c.ingress[0], probe.alertID)
		if err != nil {
			return err
		}
		if st.Status != alert.StatusOpen {
			return fmt.Errorf("status %s", st.Status)
		}
		return nil
	})
	pcancel()
	recovery := time.Since(up)
	if err != nil {
		t.Fatalf("alerts did not resume within %s of the server restart: %v", clusterRecoveryBound, err)
	}
	t.Logf("RECOVERY: alerts resumed %s after the restarted Temporal server answered (bound %s)", recovery.Round(time.Millisecond), clusterRecoveryBound)

	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	c.do("start-one", "ingress2")
	t.Logf("all %d deliveries taken in %s; ingress2 started again", total, time.Since(started).Round(time.Millisecond))

	// Every webhook answered signaled is in its alert's timeline, and every
	// alert is in the state its newest pipeline says.
	signaled := 0
	for _, seq := range plan {
		for _, d := range seq {
			if d.action != ingress.ActionSignaled {
				t.Errorf("%s pipeline %d answered %q, want %q", d.alertID, d.pipeline, d.action, ingress.ActionSignaled)
			}
			signaled++
		}
	}
	check := func(seq []*clusterDelivery) error {
		id := seq[0].alertID
		st, err := apiState(ctx, httpc, c.ingress[len(id)%2], id)
		if err != nil {
			return err
		}
		want := alert.StatusOpen
		if seq[len(seq)-1].status == "success" {
			want = alert.StatusResolved
		}
		if st.Status != want {
			return fmt.Errorf("%s is %s, its newest pipeline says %s", id, st.Status, want)
		}
		var seen []int64
		for _, e := range st.Timeline {
			seen = append(seen, e.PipelineID)
		}
		for _, d := range seq {
			if !slices.Contains(seen, d.pipeline) {
				return fmt.Errorf("%s: pipeline %d was answered signaled but is not in the timeline %v", id, d.pipeline, seen)
			}
		}
		return nil
	}
	for _, seq := range plan {
		if err := pollCtx(ctx, func() error { return check(seq) }); err != nil {
			t.Fatal(err)
		}
	}

	// One notification per transition: opened for every alert, resolved
	// for every other one; none lost, none twice.
	var dupDeliveries int
	err = pollCtx(ctx, func() error {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		for _, seq := range plan {
			id := seq[0].alertID
			kinds := recv.byAlert[id]
			want := map[string]int{"opened": 1}
			if seq[len(seq)-1].status == "success" {
				want["resolved"] = 1
			}
			for kind, ids := range kinds {
				if len(ids) > want[kind] {
					return errTerminal{fmt.Errorf("%s: %d %s notifications %v, want %d", id, len(ids), kind, ids, want[kind])}
				}
			}
			for kind, n := range want {
				if len(kinds[kind]) != n {
					return fmt.Errorf("%s: %d %s notifications so far, want %d", id, len(kinds[kind]), kind, n)
				}
			}
		}
		dupDeliveries = 0
		for _, n := range recv.deliveries {
			dupDeliveries += n - 1
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A notification resent with the same ID (an activity retried after a
	// crash hid its success) is one notification to a receiver that
	// dedupes on the ID, as the webhook contract asks.
	t.Logf("notifications: %d distinct, %d resent with the same ID", len(recv.deliveries), dupDeliveries)

	// The REST API of either ingress lists the same alerts.
	var lists [2]map[string]string
	err = pollCtx(ctx, func() error {
		for i, base := range c.ingress {
			l, err := apiList(ctx, httpc, base, project)
			if err != nil {
				return err
			}
			lists[i] = l
		}
		for _, seq := range plan {
			id := seq[0].alertID
			want := string(alert.StatusOpen)
			if seq[len(seq)-1].status == "success" {
				want = string(alert.StatusResolved)
			}
			for i := range lists {
				if lists[i][id] != want {
					return fmt.Errorf("ingress%d lists %s as %q, want %s", i+1, id, lists[i][id], want)
				}
			}
		}
		if len(lists[0]) != len(lists[1]) {
			return fmt.Errorf("ingress1 lists %d alerts, ingress2 %d", len(lists[0]), len(lists[1]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d webhooks signaled, %d alerts in the state their newest pipeline says, listed alike by both ingresses", signaled, branches)
}

// errTerminal stops pollCtx at once: waiting cannot make it right.
type errTerminal struct{ error }

// pollCtx calls f until it succeeds, returns errTerminal, or ctx ends.
func pollCtx(ctx context.Context, f func() error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return nil
		}
		var term errTerminal
		if errors.As(err, &term) {
			return term.error
		}
		select {
		case <-ctx.Done():
			return err
		case <-tick.C:
		}
	}
}

func apiGet(ctx context.Context, c *http.Client, url string, into any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

func apiState(ctx context.Context, c *http.Client, base, id string) (*alert.State, error) {
	var st alert.State
	if err := apiGet(ctx, c, base+"/api/v1/alerts/"+id, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// apiList is alert ID -> status of every alert of project the API lists.
func apiList(ctx context.Context, c *http.Client, base string, project int64) (map[string]string, error) {
	var l ingress.AlertList
	if err := apiGet(ctx, c, fmt.Sprintf("%s/api/v1/alerts?status=all&project_id=%d&page_size=1000", base, project), &l); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, a := range l.Alerts {
		out[a.ID] = a.Status
	}
	return out, nil
}
