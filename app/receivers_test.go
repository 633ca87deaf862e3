package app

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alertflow/alertflow/activities"
	routeconfig "github.com/alertflow/alertflow/config"
	"github.com/alertflow/alertflow/internal/testkit"
	"github.com/alertflow/alertflow/notify"
)

// A worker's routing is read before it connects to anything: a bad file,
// or a file beside the variables it replaces, stops start-up with a
// message that names what is wrong, and exit status 2.
func TestAWorkerWithABadRoutingSetUpDoesNotStart(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "alertflow.yaml")
	if err := os.WriteFile(bad, []byte("receivers:\n  - name: chat\n    slack:\n      url: https://hooks.slack.com/services/x\nroute:\n  receiver: nobody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	example := filepath.Join("..", "deploy", "alertflow.example.yaml")
	vars := env{"PD_TEAM_A": "k", "SLACK_TEAM_A": "https://hooks.slack.com/services/secret-path", "AUDIT_WEBHOOK_URL": "https://audit.example.com/x", "AUDIT_WEBHOOK_SECRET": "s"}
	tests := []struct {
		name string
		env  env
		want []string
	}{
		{"an unknown receiver", env{"ALERTFLOW_CONFIG": bad},
			[]string{"alertflow worker: ALERTFLOW_CONFIG: ", "alertflow.yaml:6: route.receiver: unknown receiver \"nobody\""}},
		{"a file beside the webhook variable", overlay(vars, env{"ALERTFLOW_CONFIG": example, "ALERTFLOW_NOTIFY_WEBHOOK_URL": "https://example.com/hook"}),
			[]string{"ALERTFLOW_NOTIFY_WEBHOOK_URL is set alongside ALERTFLOW_CONFIG"}},
		{"a file beside the Slack variable", overlay(vars, env{"ALERTFLOW_CONFIG": example, "ALERTFLOW_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/y"}),
			[]string{"ALERTFLOW_SLACK_WEBHOOK_URL is set alongside ALERTFLOW_CONFIG"}},
		{"a variable the file needs is unset", env{"ALERTFLOW_CONFIG": example},
			[]string{"${PD_TEAM_A} is not set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// TEMPORAL_ADDRESS points nowhere: the worker must stop before
			// it dials.
			e := overlay(tt.env, env{"TEMPORAL_ADDRESS": "127.0.0.1:1"})
			if code := run(context.Background(), []string{"worker"}, e.get, &stdout, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), "secret-path") {
				t.Errorf("stderr gives away a Slack URL:\n%s", stderr.String())
			}
		})
	}
}

// A Slack receiver with a token is the Slack app, which keeps one message
// per alert; one with a URL is the incoming webhook, which does not.
func TestSinksMakeASlackAppOfATokenAndAWebhookOfAURL(t *testing.T) {
	rc := testkit.Routing(t, "receivers:\n"+
		"  - name: app\n    slack:\n      token: xoxb-1\n      channel: '#ci'\n"+
		"  - name: hook\n    slack:\n      url: https://hooks.slack.com/services/x\n"+
		"route:\n  receiver: app\n", nil)
	r, _ := receiversOf(rc, http.DefaultClient)
	if _, ok := r["app"][activities.IntegrationSlack].(notify.Messenger); !ok {
		t.Errorf("the token made no Slack app")
	}
	if _, ok := r["hook"][activities.IntegrationSlack].(notify.Messenger); ok {
		t.Errorf("the URL made a Slack app")
	}
}

// An intake alone reads the routing file only for the Slack app's people:
// one that takes no Slack buttons starts without the file's variables.
func TestOnlyAnIntakeTakingSlackButtonsReadsTheRoutingFile(t *testing.T) {
	file := config{ConfigFile: "alertflow.yaml"}
	slackApp := config{ConfigFile: "alertflow.yaml", SlackSigningSecret: []byte("s")}
	for _, tt := range []struct {
		cmd  string
		cfg  config
		want bool
	}{
		{"worker", config{}, true},
		{"serve", file, true},
		{"dev", config{}, true},
		{"silence-worker", file, false},
		{"ingress", file, false},
		{"ingress", config{SlackSigningSecret: []byte("s")}, false},
		{"ingress", slackApp, true},
	} {
		if got := readsRouting(tt.cmd, tt.cfg); got != tt.want {
			t.Errorf("readsRouting(%s, file %q, signing secret %v) = %v, want %v", tt.cmd, tt.cfg.ConfigFile, len(tt.cfg.SlackSigningSecret) > 0, got, tt.want)
		}
	}
}

// The registry and the routing file know the same kinds: a kind the file
// reads but the registry cannot build would be accepted and never heard.
func TestTheRegistryBuildsEveryKindTheRoutingFileReads(t *testing.T) {
	built := map[string]bool{}
	for _, k := range receiverKinds {
		if built[k.name] {
			t.Errorf("kind %q has two rows", k.name)
		}
		built[k.name] = true
	}
	for _, name := range routeconfig.IntegrationKinds() {
		if !built[name] {
			t.Errorf("the routing file reads %q, which the registry does not build", name)
		}
		delete(built, name)
	}
	for name := range built {
		t.Errorf("the registry builds %q, which the routing file does not read", name)
	}
}
