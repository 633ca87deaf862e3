package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/alertflow/alertflow/internal/testkit"
	"github.com/alertflow/alertflow/notify/pagerduty/pagerdutytest"
	"github.com/alertflow/alertflow/notify/slack"
	"github.com/alertflow/alertflow/notify/webhook/contract"
)

// The platform-team case of docs/routing.md, end to end: alertflow serve
// with the example routing file, on a dev server, three failures and
// their lifecycles, and each receiver gets exactly its notifications.
func TestTheExampleRoutingFileSendsEachTeamItsOwnNotifications(t *testing.T) {
	bin := temporalBin(t)
	addr := testDevServer(t, bin)

	pd := pagerdutytest.New(t)
	chat := newRecorder(t, func(body []byte, _ http.Header) (string, error) {
		return slackLine(body)
	})
	const auditSecret = "audit-hmac-secret"
	audit := newRecorder(t, func(body []byte, h http.Header) (string, error) {
		if !contract.Verify(auditSecret, body, h.Get(contract.HeaderSignature)) {
			return "", fmt.Errorf("bad signature")
		}
		var p contract.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			return "", err
		}
		return p.Alert.ID + " " + string(p.Kind), nil
	})
	file := exampleWithPagerDutyAt(t, pd.URL())

	e := serveEnv(t, addr, "routing-e2e")
	maps.Copy(e, env{
		"ALERTFLOW_CONFIG":            file,
		"PD_TEAM_A":                   "0123456789abcdef0123456789abcdef",
		"SLACK_TEAM_A":                chat.URL,
		"AUDIT_WEBHOOK_URL":           audit.URL,
		"AUDIT_WEBHOOK_SECRET":        auditSecret,
		"ALERTFLOW_REMINDER_INTERVAL": "0",
	})
	base, _ := serving(t, e)

	pager := gitlabPayload(t, "pipeline-failed-branch.json", 501, "team-a/api", true, 9001, "failed")
	mr := gitlabPayload(t, "pipeline-merge-request.json", 501, "team-a/api", false, 9002, "failed")
	other := gitlabPayload(t, "pipeline-failed-branch.json", 502, "team-b/web", true, 9003, "failed")
	ids := []string{"501-main", "501-feature/retry-budget", "502-main"}
	for _, body := range [][]byte{pager, mr, other} {
		postHook(t, base, body)
	}
	chat.waitFor(t, 2)
	audit.waitFor(t, 1)
	pd.WaitFor(t, 1, time.Minute)
	for _, id := range ids {
		apiPost(t, base, "/api/v1/alerts/"+id+"/acknowledge", `{"by":"alice","note":"on it"}`)
	}
	postHook(t, base, gitlabPayload(t, "pipeline-failed-branch.json", 501, "team-a/api", true, 9011, "success"))
	postHook(t, base, gitlabPayload(t, "pipeline-merge-request.json", 501, "team-a/api", false, 9012, "success"))
	postHook(t, base, gitlabPayload(t, "pipeline-failed-branch.json", 502, "team-b/web", true, 9013, "success"))

	events := pd.WaitFor(t, 3, time.Minute)
	var actions []string
	for _, ev := range events {
		actions = append(actions, ev.DedupKey+" "+ev.EventAction)
	}
	if want := []string{"501-main trigger", "501-main acknowledge", "501-main resolve"}; !slices.Equal(actions, want) {
		t.Errorf("PagerDuty got %v, want %v", actions, want)
	}
	if v := pd.Violations(); len(v) > 0 {
		t.Errorf("PagerDuty schema violations: %v", v)
	}
	got := chat.waitFor(t, 6)
	wantChat := []string{
		"501-main Opened", "501-main Acknowledged", "501-main Resolved",
		"501-feature/retry-budget Opened", "501-feature/retry-budget Acknowledged", "501-feature/retry-budget Resolved",
	}
	if !sameItems(got, wantChat) {
		t.Errorf("Slack got %q, want %q in any interleaving", got, wantChat)
	}
	if got := audit.waitFor(t, 3); !slices.Equal(got, []string{"502-main opened", "502-main acknowledged", "502-main resolved"}) {
		t.Errorf("the audit webhook got %q", got)
	}

	// Nothing more arrives once every alert has completed.
	for _, id := range ids {
		waitAlertClosed(t, base, id)
	}
	if n := len(pd.Events()); n != 3 {
		t.Errorf("PagerDuty got %d events in all, want 3", n)
	}
	if n := len(chat.lines()); n != 6 {
		t.Errorf("Slack got %d messages in all, want 6", n)
	}
	if n := len(audit.lines()); n != 3 {
		t.Errorf("the audit webhook got %d notifications in all, want 3", n)
	}

	// routes test gives the same answers.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--project", "team-a/api", "--ref", "main", "--severity", "HIGH", "--source", "push", "--protected", "--default-branch", "main"}, "team-a-pager\nteam-a-chat\n"},
		{[]string{"--project", "team-a/api", "--ref", "feature/retry-budget", "--severity", "HIGH", "--source", "merge_request_event", "--default-branch", "main"}, "team-a-chat\n"},
		{[]string{"--project", "team-b/web", "--ref", "main", "--severity", "HIGH", "--source", "push", "--protected", "--default-branch", "main"}, "audit\n"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), append([]string{"routes", "test", file}, tt.args...), e.get, &out, &errOut); code != 0 || out.String() != tt.want {
			t.Errorf("routes test %v: exit %d, printed %q (stderr %q), want %q", tt.args, code, out.String(), errOut.String(), tt.want)
		}
	}
}

// exampleWithPagerDutyAt is the example routing file with its PagerDuty
// receiver pointed at url, written to a temporary file.
func exampleWithPagerDutyAt(t *testing.T, url string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "deploy", "alertflow.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "pagerduty" && n.Content[i+1].Kind == yaml.MappingNode {
					pdNode := n.Content[i+1]
					pdNode.Content = append(pdNode.Content,
						&yaml.Node{Kind: yaml.ScalarNode, Value: "url"}, &yaml.Node{Kind: yaml.ScalarNode, Value: url})
					found = true
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	if !found {
		t.Fatal("the example file has no pagerduty receiver")
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "alertflow.yaml")
	if err := os.WriteFile(file, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// gitlabPayload is a real GitLab payload of project id/path, protected or
// not, with the given pipeline id and status.
func gitlabPayload(t *testing.T, name string, project int64, path string, protected bool, pipeline int64, status string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	p := m["project"].(map[string]any)
	p["id"], p["path_with_namespace"], p["default_branch"] = project, path, "main"
	oa := m["object_attributes"].(map[string]any)
	oa["id"], oa["status"], oa["protected_ref"] = pipeline, status, protected
	oa["finished_at"] = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC).Add(time.Duration(pipeline) * time.Second).Format("2006-01-02 15:04:05 UTC")
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func postHook(t *testing.T, base string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/webhooks/gitlab", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
	req.Header.Set("X-Gitlab-Token", "source-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("webhook answered %d %s", resp.StatusCode, b)
	}
}

func apiPost(t *testing.T, base, path, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer api-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s answered %d %s", path, resp.StatusCode, b)
	}
}

// serveEnv is the environment of a serve on the dev server at addr, with
// task queue queue, listening on a free loopback port.
func serveEnv(t *testing.T, addr, queue string) env {
	return env{
		"TEMPORAL_ADDRESS":        addr,
		"ALERTFLOW_TASK_QUEUE":    queue,
		"ALERTFLOW_LISTEN":        "127.0.0.1:" + strconv.Itoa(testkit.FreePorts(t, 1)[0]),
		"ALERTFLOW_SOURCE_TOKENS": "gitlab=source-token",
		"ALERTFLOW_API_TOKEN":     "api-token",
	}
}

// serving runs serve with e until the test ends, once it is healthy, and
// returns its base URL and what it logs. The silence workers it started
// are killed at the end, should serve have left one.
func serving(t *testing.T, e env) (string, *testkit.Buffer) {
	t.Helper()
	var stdout, stderr testkit.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, e.get, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not return within 30s of the cancel")
		}
		for _, pid := range childPIDs(stderr.String()) {
			killProcess(pid)
		}
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr.String())
		}
	})
	base := "http://" + e["ALERTFLOW_LISTEN"]
	waitHealthy(t, base, done)
	return base, &stderr
}

// waitHealthy polls /healthz until serve answers, or fails if it exits.
func waitHealthy(t *testing.T, base string, done <-chan int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d before it was healthy", code)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("serve not healthy after 30s")
		}
	}
}

// waitAlertClosed polls the REST API until the alert is resolved.
func waitAlertClosed(t *testing.T, base, id string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/alerts/"+id, nil)
		req.Header.Set("Authorization", "Bearer api-token")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			var st struct {
				Status string `json:"status"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if st.Status == "resolved" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not resolved after a minute", id)
		}
		time.Sleep(100 * time.Millisecond) // poll interval, bounded by the deadline
	}
}

// recorder is a receiver that records one line per request, made by read.
type recorder struct {
	*httptest.Server
	read func([]byte, http.Header) (string, error)
	mu   sync.Mutex
	got  []string
}

func newRecorder(t *testing.T, read func([]byte, http.Header) (string, error)) *recorder {
	t.Helper()
	rc := &recorder{read: read}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		line, err := rc.read(body, r.Header)
		if err != nil {
			t.Errorf("receiver at %s: %v: %s", r.URL.Path, err, body)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.got = append(rc.got, line)
		rc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *recorder) lines() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func (rc *recorder) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if got := rc.lines(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver got %q after a minute, want %d", rc.lines(), n)
		}
		time.Sleep(50 * time.Millisecond) // poll interval, bounded by the deadline
	}
}

var slackAlert = regexp.MustCompile(`Alert ([^"\s]+)`)

// slackLine reads a Slack message as "<alert id> <the word that leads its
// action line>", such as "501-main Opened".
func slackLine(body []byte) (string, error) {
	var m slack.Message
	if err := json.Unmarshal(body, &m); err != nil {
		return "", err
	}
	if len(m.Blocks) < 2 || m.Blocks[1].Text == nil {
		return "", fmt.Errorf("no action line")
	}
	id := slackAlert.FindStringSubmatch(string(body))
	words := strings.Fields(m.Blocks[1].Text.Text)
	if id == nil || len(words) == 0 {
		return "", fmt.Errorf("no alert id or action")
	}
	return id[1] + " " + strings.Trim(words[0], "*"), nil
}

func sameItems(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
