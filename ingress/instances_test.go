package ingress

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestSourcesOfAnotherInstanceOpenAlertsOfTheirOwn(t *testing.T) {
	tokens, err := ParseTokens("gitlab=" + testToken + ",other=another-token")
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.SetInstances("other=gitlab-b"); err != nil {
		t.Fatal(err)
	}
	h := &harness{temporal: &fakeTemporal{}, logs: &bytes.Buffer{}}
	h.server = New(Config{TaskQueue: "alertflow", Tokens: tokens}, h.temporal, slog.New(slog.DiscardHandler))
	body := withStatus(t, "failed")
	for _, token := range []string{testToken, "another-token"} {
		if rec, answer := h.post(t, "/webhooks/gitlab", map[string]string{"X-Gitlab-Event": "Pipeline Hook", "X-Gitlab-Token": token}, body); rec.Code != http.StatusAccepted {
			t.Fatalf("%d %v", rec.Code, answer)
		}
	}
	if len(h.temporal.starts) != 2 {
		t.Fatalf("%d starts", len(h.temporal.starts))
	}
	home, other := h.temporal.starts[0].id, h.temporal.starts[1].id
	if home == other || "gitlab-b:"+home != other || h.temporal.starts[1].event.AlertID() != other {
		t.Fatalf("the same project and branch on two instances: %q and %q", home, other)
	}
}

func TestSourceInstancesAreCheckedAtStart(t *testing.T) {
	for _, tt := range []struct{ spec, want string }{
		{"nobody=b", `source "nobody": not in ALERTFLOW_SOURCE_TOKENS`},
		{"gitlab=B", `source "gitlab": instance "B": want a lower-case letter`},
		{"gitlab=b,gitlab=c", `source "gitlab": named twice`},
		{"=b", `entry 1: want name=instance`},
	} {
		tokens, _ := ParseTokens("gitlab=" + testToken)
		if err := tokens.SetInstances(tt.spec); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.spec, err, tt.want)
		}
	}
}
