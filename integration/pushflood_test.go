package integration

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/alertflow/alertflow/alert"
	gitlabpayload "github.com/alertflow/alertflow/bench/payload"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/webhook"
	"github.com/alertflow/alertflow/notify/webhook/contract"
	"github.com/alertflow/alertflow/workflows"
)

// A day of push hooks (about 1 400 of ~49 KB each once kept their body
// bytes for good) must leave the intake's budget untouched: the failed
// pipeline after 2 500 of them is accepted and notified, and the body
// gauge reads zero.
func TestAFailedPipelineAfter2500BigPushHooksIsAcceptedAndNotified(t *testing.T) {
	const secret = "pushflood-secret"
	rc, receiver := newScriptedReceiver(t, secret)
	s := newStackWith(t, webhook.New(receiver.URL+rc.path, secret, notify.DefaultHTTPClient()))
	// The stack's intake with a registry of its own, to read its gauge.
	tokens, err := ingress.ParseTokens("gitlab=" + sourceToken)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	intake := httptest.NewServer(ingress.New(ingress.Config{TaskQueue: s.taskQueue, Tokens: tokens, Registry: reg,
		Workflow: workflows.Input{}}, s.client, slog.New(slog.DiscardHandler)))
	t.Cleanup(intake.Close)

	const project = 9301
	push, err := gitlabpayload.BuildPush(gitlabpayload.Push{ProjectID: project, Ref: "main", Commits: 20, Files: 10, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if len(push) < 40_000 {
		t.Fatalf("push hook of %d bytes, want ~49 KB", len(push))
	}
	post := func(kind string, body []byte) (int, string) {
		req, err := http.NewRequest(http.MethodPost, intake.URL+"/webhooks/gitlab?token="+sourceToken, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Gitlab-Event", kind)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	for i := range 2500 {
		if code, answer := post("Push Hook", push); code != http.StatusAccepted {
			t.Fatalf("push hook %d: %d %s", i+1, code, answer)
		}
	}
	code, answer := post("Pipeline Hook", payload(t, project, "main", 930101, alert.PipelineFailed))
	if code != http.StatusAccepted || !strings.Contains(answer, `"action":"signaled"`) {
		t.Fatalf("the failed pipeline after 2 500 push hooks: %d %s", code, answer)
	}
	rc.waitReceiver(t, "the opened notification", func(_, _ int, ps []contract.Payload) bool {
		return len(ps) == 1 && ps[0].Kind == contract.KindOpened && ps[0].Alert.ID == fmt.Sprintf("%d-main", project)
	})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "alertflow_webhook_body_bytes_in_flight" {
			if v := mf.GetMetric()[0].GetGauge().GetValue(); v != 0 {
				t.Fatalf("body bytes in flight %v at rest, want 0", v)
			}
			return
		}
	}
	t.Fatal("alertflow_webhook_body_bytes_in_flight is not exported")
}
