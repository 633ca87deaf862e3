package app

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	routeconfig "github.com/alertflow/alertflow/config"
)

// exampleFile is the routing configuration users copy; make test checks it
// through these tests.
var exampleFile = filepath.Join(stackRoot, "deploy", "alertflow.example.yaml")

// Secret values of exampleEnv: no output of the commands may hold one.
const (
	examplePDKey    = "pd-key-0123456789abcdef"
	exampleSlackURL = "https://hooks.slack.com/services/T0/B0/slack-secret"
	exampleAuditURL = "https://audit.example.com/hook?k=audit-url-secret"
	exampleAuditKey = "audit-hmac-secret"
)

// exampleEnv fills the ${VAR}s of the example file with dummy values.
var exampleEnv = env{
	"PD_TEAM_A":            examplePDKey,
	"SLACK_TEAM_A":         exampleSlackURL,
	"AUDIT_WEBHOOK_URL":    exampleAuditURL,
	"AUDIT_WEBHOOK_SECRET": exampleAuditKey,
}

func envWith(e env, k, v string) env {
	out := env{}
	for kk, vv := range e {
		out[kk] = vv
	}
	out[k] = v
	return out
}

// runCmd runs alertflow with args in the environment e.
func runCmd(t *testing.T, e env, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // nothing here may wait on anything
	code = run(ctx, args, e.get, &out, &errOut)
	for _, s := range []string{examplePDKey, exampleSlackURL, exampleAuditURL, exampleAuditKey, "slack-secret", "audit-url-secret"} {
		if strings.Contains(out.String()+errOut.String(), s) {
			t.Errorf("alertflow %s printed the secret %q:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), s, &out, &errOut)
		}
	}
	return code, out.String(), errOut.String()
}

func writeConfig(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "alertflow.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigCheckAcceptsTheExampleFile(t *testing.T) {
	code, stdout, stderr := runCmd(t, exampleEnv, "config", "check", exampleFile)
	if code != 0 {
		t.Fatalf("alertflow config check %s exited %d:\n%s%s", exampleFile, code, stdout, stderr)
	}
	if want := exampleFile + ": ok (3 receivers, 3 routes)\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
}

func TestConfigCheckReadsTheFileALERTFLOW_CONFIGNames(t *testing.T) {
	code, stdout, stderr := runCmd(t, envWith(exampleEnv, "ALERTFLOW_CONFIG", exampleFile), "config", "check")
	if code != 0 || !strings.HasPrefix(stdout, exampleFile+": ok") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestConfigCheckNamesEveryUnsetVariableOfTheExampleFile(t *testing.T) {
	code, _, stderr := runCmd(t, env{}, "config", "check", exampleFile)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, v := range []string{"PD_TEAM_A", "SLACK_TEAM_A", "AUDIT_WEBHOOK_URL", "AUDIT_WEBHOOK_SECRET"} {
		if want := "${" + v + "} is not set"; !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
}

// head is a valid start of a file; the route begins on line 8.
const head = `receivers:
  - name: chat
    slack:
      url: ${SLACK_TEAM_A}
  - name: pager
    pagerduty:
      routing_key: ${PD_TEAM_A}
`

func TestConfigCheckRefusesBadFiles(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // lines of stderr, after the file name
	}{
		{"an empty file", "", []string{":1: the file is empty: want receivers and route"}},
		{"an unknown key", head + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      continu: true\n",
			[]string{`:12: route.routes[0].continu: unknown key "continu": want one of receiver, match, continue, routes, escalate_to, escalate_after`}},
		{"an unknown receiver", head + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n    - receiver: team-b\n",
			[]string{`:12: route.routes[1].receiver: unknown receiver "team-b"`}},
		{"a duplicate receiver", head + "  - name: chat\n    webhook:\n      url: https://example.com\nroute:\n  receiver: chat\n",
			[]string{`:8: receivers[2].name: duplicate receiver "chat" (first on line 2)`}},
		{"a receiver with no integration", head + "  - name: quiet\nroute:\n  receiver: quiet\n",
			[]string{`:8: receivers[2]: no integration: want one or more of ` + strings.Join(routeconfig.IntegrationKinds(), ", ")}},
		{"both a value and its file", "receivers:\n  - name: chat\n    slack:\n      url: ${SLACK_TEAM_A}\n      url_file: /run/secrets/slack\nroute:\n  receiver: chat\n",
			[]string{`:5: receivers[0].slack.url_file: give url or url_file, not both`}},
		{"neither a value nor its file", "receivers:\n  - name: hook\n    webhook:\n      secret: ${AUDIT_WEBHOOK_SECRET}\nroute:\n  receiver: hook\n",
			[]string{`:3: receivers[0].webhook: url or url_file is required`}},
		{"a file that cannot be read", "receivers:\n  - name: pager\n    pagerduty:\n      routing_key_file: /nonexistent/pd-key\nroute:\n  receiver: pager\n",
			[]string{`:4: receivers[0].pagerduty.routing_key_file: cannot read /nonexistent/pd-key: no such file or directory`}},
		{"an unset variable", "receivers:\n  - name: pager\n    pagerduty:\n      routing_key: ${PD_TEAM_B}\nroute:\n  receiver: pager\n",
			[]string{`:4: receivers[0].pagerduty.routing_key: ${PD_TEAM_B} is not set (or empty) in the environment`}},
		{"a URL that is not http(s)", "receivers:\n  - name: hook\n    webhook:\n      url: ftp://${AUDIT_WEBHOOK_SECRET}/x\nroute:\n  receiver: hook\n",
			[]string{`:4: receivers[0].webhook.url: the URL must start with https:// or http://`}},
		{"a bad glob, regex, branches, severity, project_id and tag", head + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      match:\n        project: team-a/[x\n        ref_regex: (main\n        branches: protected_only\n        severity: CRITICAL\n        project_id: [x]\n        tag: maybe\n",
			[]string{
				`:13: route.routes[0].match.project: bad glob "team-a/[x"`,
				":14: route.routes[0].match.ref_regex: bad regular expression: error parsing regexp: missing closing ): `(main`",
				`:15: route.routes[0].match.branches: unknown branches "protected_only": want all, default, protected or default_and_protected`,
				`:16: route.routes[0].match.severity: unknown severity "CRITICAL": want HIGH, MEDIUM or LOW`,
				`:17: route.routes[0].match.project_id: want an integer project ID`,
				`:18: route.routes[0].match.tag: want true or false`,
			}},
		{"a root with match, continue and no receiver", head + "route:\n  match:\n    project: a/*\n  continue: true\n",
			[]string{
				`:8: route.receiver: required at the root: the receiver of every alert no child route takes`,
				`:9: route.match: not allowed at the root, which matches every alert; put it in a child route`,
				`:11: route.continue: not allowed at the root, which has no siblings`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.src)
			code, stdout, stderr := runCmd(t, exampleEnv, "config", "check", path)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			var want strings.Builder
			for _, l := range tt.want {
				want.WriteString(path + l + "\n")
			}
			if stderr != want.String() {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want.String())
			}
		})
	}
}

func TestConfigCheckCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		env        env
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"without a file or ALERTFLOW_CONFIG exits 2 saying so", env{}, []string{"config", "check"}, 2, "", "no file: give FILE or set ALERTFLOW_CONFIG"},
		{"without a subcommand exits 2", env{}, []string{"config"}, 2, "", "want the subcommand check"},
		{"with an unknown subcommand exits 2", env{}, []string{"config", "lint"}, 2, "", "want the subcommand check"},
		{"with two files exits 2", env{}, []string{"config", "check", "a.yaml", "b.yaml"}, 2, "", `unexpected argument "b.yaml": one FILE only`},
		{"with a file that does not exist exits 1 naming it", env{}, []string{"config", "check", "no/such.yaml"}, 1, "", "no/such.yaml"},
		{"-config names the file", exampleEnv, []string{"config", "check", "-config", exampleFile}, 0, exampleFile + ": ok", ""},
		{"FILE wins over -config and ALERTFLOW_CONFIG", envWith(exampleEnv, "ALERTFLOW_CONFIG", "no/such.yaml"), []string{"config", "check", "-config", "no/such.yaml", exampleFile}, 0, exampleFile + ": ok", ""},
		{"-config wins over ALERTFLOW_CONFIG", envWith(exampleEnv, "ALERTFLOW_CONFIG", "no/such.yaml"), []string{"config", "check", "-config", exampleFile}, 0, exampleFile + ": ok", ""},
		{"an unknown flag exits 2 naming it", env{}, []string{"config", "check", "-strict", exampleFile}, 2, "", "-strict"},
		{"-h prints the usage and exits 0", env{}, []string{"config", "check", "-h"}, 0, "Usage: alertflow config check [FILE", ""},
		{"config -h prints the usage and exits 0", env{}, []string{"config", "-h"}, 0, "Usage: alertflow config check [FILE", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tt.env, tt.args...)
			if code != tt.wantCode || !strings.Contains(stdout, tt.wantStdout) || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exit %d (want %d)\nstdout:\n%s(want %q)\nstderr:\n%s(want %q)", code, tt.wantCode, stdout, tt.wantStdout, stderr, tt.wantStderr)
			}
		})
	}
}

// The answers of the example file are the platform team's case: a HIGH
// failure on team-a's protected or default branch pages and chats, a
// merge-request pipeline only chats, anything else goes to audit.
func TestRoutesTestAnswersForTheExampleFile(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a HIGH failure on team-a's default branch reaches the pager, then the chat",
			[]string{"--project", "team-a/api", "--ref", "main", "--default-branch", "main", "--severity", "HIGH"}, "team-a-pager\nteam-a-chat\n"},
		{"a HIGH failure on a protected branch of a team-a subgroup reaches the pager, then the chat",
			[]string{"--project", "team-a/backend/api", "--ref", "stable", "--protected", "--default-branch", "main", "--severity", "HIGH", "--project-id", "7"}, "team-a-pager\nteam-a-chat\n"},
		{"a HIGH failure on a protected tag of team-a reaches the pager, then the chat",
			[]string{"--project", "team-a/api", "--ref", "v1.2.0", "--tag", "--protected", "--severity", "high"}, "team-a-pager\nteam-a-chat\n"},
		{"a failed merge-request pipeline of team-a reaches the chat only",
			[]string{"--project", "team-a/api", "--ref", "feature-x", "--default-branch", "main", "--source", "merge_request_event", "--severity", "HIGH"}, "team-a-chat\n"},
		{"a HIGH failure on a feature branch of team-a reaches the chat only",
			[]string{"--project", "team-a/api", "--ref", "feature-x", "--default-branch", "main", "--severity", "HIGH"}, "team-a-chat\n"},
		{"a canceled pipeline on team-a's default branch reaches the chat only",
			[]string{"--project", "team-a/api", "--ref", "main", "--default-branch", "main", "--severity", "MEDIUM"}, "team-a-chat\n"},
		{"an old GitLab without protected_ref: a protected branch that is not the default reaches the chat only",
			[]string{"--project", "team-a/api", "--ref", "stable", "--default-branch", "main", "--severity", "HIGH"}, "team-a-chat\n"},
		{"a HIGH failure elsewhere reaches audit",
			[]string{"--project", "team-b/web", "--ref", "main", "--default-branch", "main", "--protected", "--severity", "HIGH"}, "audit\n"},
		{"a project whose path only starts like team-a's reaches audit",
			[]string{"--project", "team-ab/web", "--ref", "main", "--default-branch", "main", "--severity", "HIGH"}, "audit\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, exampleEnv, append([]string{"routes", "test", exampleFile}, tt.args...)...)
			if code != 0 || stdout != tt.want {
				t.Errorf("exit %d, stdout:\n%s\nwant:\n%s\nstderr:\n%s", code, stdout, tt.want, stderr)
			}
		})
	}
}

func TestRoutesTestCommandLine(t *testing.T) {
	labels := []string{"--project", "team-a/api", "--ref", "main", "--default-branch", "main", "--severity", "HIGH"}
	both := "team-a-pager\nteam-a-chat\n"
	tests := []struct {
		name       string
		env        env
		args       []string
		wantCode   int
		wantStdout string // exactly, when wantCode is 0
		wantStderr string
	}{
		{"FILE after the flags", exampleEnv, append(append([]string{"routes", "test"}, labels...), exampleFile), 0, both, ""},
		{"FILE between the flags", exampleEnv, append(append(append([]string{"routes", "test"}, labels[:4]...), exampleFile), labels[4:]...), 0, both, ""},
		{"single-dash flags", exampleEnv, []string{"routes", "test", exampleFile, "-project", "team-b/x", "-ref", "main", "-severity", "LOW"}, 0, "audit\n", ""},
		{"FILE from -config", exampleEnv, append([]string{"routes", "test", "--config", exampleFile}, labels...), 0, both, ""},
		{"FILE from ALERTFLOW_CONFIG", envWith(exampleEnv, "ALERTFLOW_CONFIG", exampleFile), append([]string{"routes", "test"}, labels...), 0, both, ""},
		{"without a file or ALERTFLOW_CONFIG exits 2 saying so", exampleEnv, append([]string{"routes", "test"}, labels...), 2, "", "no file: give FILE or set ALERTFLOW_CONFIG"},
		{"without --project exits 2 naming it", exampleEnv, []string{"routes", "test", exampleFile, "--ref", "main", "--severity", "HIGH"}, 2, "", "-project is required"},
		{"without --ref exits 2 naming it", exampleEnv, []string{"routes", "test", exampleFile, "--project", "a/b", "--severity", "HIGH"}, 2, "", "-ref is required"},
		{"without --severity exits 2 naming it", exampleEnv, []string{"routes", "test", exampleFile, "--project", "a/b", "--ref", "main"}, 2, "", "-severity is required"},
		{"a bad --severity exits 2 naming it", exampleEnv, []string{"routes", "test", exampleFile, "--project", "a/b", "--ref", "main", "--severity", "CRITICAL"}, 2, "", `-severity "CRITICAL": want HIGH, MEDIUM or LOW`},
		{"a bad --project-id exits 2 naming it", exampleEnv, []string{"routes", "test", exampleFile, "--project-id", "abc"}, 2, "", "-project-id"},
		{"an unknown flag exits 2 naming it", exampleEnv, []string{"routes", "test", exampleFile, "--branch", "main"}, 2, "", "-branch"},
		{"two files exit 2", exampleEnv, append([]string{"routes", "test", exampleFile, exampleFile}, labels...), 2, "", "one FILE only"},
		{"without the subcommand exits 2", exampleEnv, []string{"routes"}, 2, "", "want the subcommand test"},
		{"a bad file exits 1 with its errors", env{}, append([]string{"routes", "test", exampleFile}, labels...), 1, "", "${PD_TEAM_A} is not set"},
		{"-h prints the flags and exits 0", env{}, []string{"routes", "test", "-h"}, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tt.env, tt.args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s(want %q)", code, tt.wantCode, stdout, stderr, tt.wantStderr)
			}
			if tt.wantStdout != "" && stdout != tt.wantStdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, tt.wantStdout)
			}
			if code == 2 && !strings.Contains(stderr, "Usage: alertflow routes test") {
				t.Errorf("exit 2 without the usage:\n%s", stderr)
			}
		})
	}
	t.Run("-h lists every flag", func(t *testing.T) {
		_, stdout, _ := runCmd(t, env{}, "routes", "test", "-h")
		for _, f := range []string{"-project", "-project-id", "-ref", "-severity", "-source", "-protected", "-default-branch", "-tag", "-config"} {
			if !strings.Contains(stdout, "  "+f+" ") && !strings.Contains(stdout, "  "+f+"\n") {
				t.Errorf("the usage does not list %s:\n%s", f, stdout)
			}
		}
	})
}

func TestUsageListsTheRoutingCommands(t *testing.T) {
	// What alertflow --help prints.
	var usage strings.Builder
	PrintUsage(&usage)
	for _, want := range []string{"config check [FILE]", "routes test [FILE]", "ALERTFLOW_CONFIG"} {
		if !strings.Contains(usage.String(), want) {
			t.Errorf("alertflow --help does not mention %q", want)
		}
	}
}

func TestLoadConfigReadsALERTFLOW_CONFIG(t *testing.T) {
	tests := []struct {
		name string
		env  env
		args []string
		want string
	}{
		{"unset: no file", env{}, nil, ""},
		{"from the environment", env{"ALERTFLOW_CONFIG": "/etc/alertflow/alertflow.yaml"}, nil, "/etc/alertflow/alertflow.yaml"},
		{"from -config", env{}, []string{"-config", "a.yaml"}, "a.yaml"},
		{"from -alertflow-config", env{}, []string{"-alertflow-config", "a.yaml"}, "a.yaml"},
		{"the flag wins over the environment", env{"ALERTFLOW_CONFIG": "env.yaml"}, []string{"-config", "flag.yaml"}, "flag.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := loadConfig("worker", tt.args, tt.env.get, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ConfigFile != tt.want {
				t.Errorf("ConfigFile = %q, want %q", cfg.ConfigFile, tt.want)
			}
		})
	}
}
