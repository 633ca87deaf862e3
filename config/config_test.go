package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/route"
)

// Secret values the tests put in the environment and in files; no error
// and no printed configuration may ever contain one.
const (
	pdKey       = "pd-routing-key-0123456789abcdef"
	slackURL    = "https://hooks.slack.com/services/T000/B000/slack-secret-path"
	auditURL    = "https://audit.example.com/alertflow?token=audit-url-secret"
	auditSecret = "audit-hmac-secret"
	fileKey     = "pd-key-from-a-file"
)

var secrets = []string{pdKey, slackURL, auditURL, auditSecret, fileKey, "slack-secret-path", "audit-url-secret"}

var testEnv = map[string]string{
	"PD_TEAM_A":            pdKey,
	"SLACK_TEAM_A":         slackURL,
	"AUDIT_WEBHOOK_URL":    auditURL,
	"AUDIT_WEBHOOK_SECRET": auditSecret,
	"EMPTY":                "",
	"NOT_A_URL":            "hooks.slack.com/services/T000/B000/slack-secret-path",
}

func lookup(k string) (string, bool) { v, ok := testEnv[k]; return v, ok }

// testFiles are the files *_file may read.
var testFiles = map[string]string{
	"/run/secrets/pd":        fileKey + "\n",
	"/run/secrets/two-lines": fileKey + "\n\n",
	"/run/secrets/crlf":      fileKey + "\r\n",
	"/run/secrets/empty":     "\n",
	"/run/secrets/slack":     slackURL + "\n",
}

func readFile(name string) ([]byte, error) {
	if v, ok := testFiles[name]; ok {
		return []byte(v), nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func parse(src string) (*Config, error) {
	return Parse("alertflow.yaml", []byte(src), lookup, readFile)
}

// noSecrets fails the test if s holds any secret value.
func noSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			t.Errorf("%s contains the secret %q:\n%s", what, sec, s)
		}
	}
}

func TestParseTheExampleFile(t *testing.T) {
	data, err := os.ReadFile("../deploy/alertflow.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("alertflow.example.yaml", data, lookup, readFile)
	if err != nil {
		t.Fatalf("the example file is refused:\n%v", err)
	}
	names := []string{}
	for _, r := range c.Receivers {
		names = append(names, r.Name)
	}
	if want := []string{"team-a-pager", "team-a-chat", "audit"}; !slices.Equal(names, want) {
		t.Errorf("receivers %q, want %q", names, want)
	}
	pager, _ := c.Receiver("team-a-pager")
	if pager.PagerDuty == nil || pager.PagerDuty.RoutingKey.Value() != pdKey || pager.PagerDuty.URL != DefaultPagerDutyURL {
		t.Errorf("team-a-pager: want PagerDuty with ${PD_TEAM_A} at the default URL, got %+v", pager.PagerDuty)
	}
	chat, _ := c.Receiver("team-a-chat")
	if chat.Slack == nil || chat.Slack.URL.Value() != slackURL {
		t.Errorf("team-a-chat: want Slack at ${SLACK_TEAM_A}")
	}
	audit, _ := c.Receiver("audit")
	if audit.Webhook == nil || audit.Webhook.URL.Value() != auditURL || audit.Webhook.Secret.Value() != auditSecret {
		t.Errorf("audit: want the webhook at ${AUDIT_WEBHOOK_URL} signed with ${AUDIT_WEBHOOK_SECRET}")
	}
	if got := c.Route.Count(); got != 3 {
		t.Errorf("%d routes, want 3", got)
	}
	l := route.Labels{Project: "team-a/api", Ref: "main", DefaultBranch: "main", Severity: alert.SeverityHigh, Source: "push"}
	if got, want := c.Route.Receivers(l), []string{"team-a-pager", "team-a-chat"}; !slices.Equal(got, want) {
		t.Errorf("a HIGH on team-a's default branch reaches %q, want %q", got, want)
	}
}

func TestParseReadsEveryKey(t *testing.T) {
	c, err := parse(`
receivers:
  - name: all-three
    webhook:
      url_file: /run/secrets/slack
      secret_file: /run/secrets/pd
    slack:
      url_file: /run/secrets/slack
    pagerduty:
      routing_key_file: /run/secrets/two-lines
      url: http://127.0.0.1:9999/v2/enqueue
  - name: crlf
    pagerduty:
      routing_key_file: /run/secrets/crlf
  - name: no-secret.hook_1
    webhook:
      url: https://example.com/${PD_TEAM_A}/hook
route:
  receiver: all-three
  routes:
    - match:
        project: "team-a/**"
        project_id: [1, 2]
        ref: release/*
        ref_regex: 'release/[0-9]+'
        branches: protected
        tag: false
        source: [push, web]
        severity: [high, MEDIUM]
      continue: true
      routes:
        - match:
            project_id: 3
            source: schedule
            severity: LOW
            tag: true
          receiver: crlf
    - receiver: no-secret.hook_1
      match:
`)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := c.Receiver("all-three")
	if got := r.Integrations(); !slices.Equal(got, []string{"webhook", "slack", "pagerduty"}) {
		t.Errorf("Integrations() = %q", got)
	}
	if r.Webhook.URL.Value() != slackURL || r.Webhook.Secret.Value() != fileKey {
		t.Error("webhook: url_file and secret_file not read, or not trimmed of their newline")
	}
	if r.PagerDuty.RoutingKey.Value() != fileKey+"\n" {
		t.Errorf("routing_key_file: want one trailing newline trimmed only, got %q", r.PagerDuty.RoutingKey.Value())
	}
	if r.PagerDuty.URL != "http://127.0.0.1:9999/v2/enqueue" {
		t.Errorf("pagerduty url = %q", r.PagerDuty.URL)
	}
	if crlf, _ := c.Receiver("crlf"); crlf.PagerDuty.RoutingKey.Value() != fileKey {
		t.Errorf("a file ending in CRLF: got %q", crlf.PagerDuty.RoutingKey.Value())
	}
	if h, _ := c.Receiver("no-secret.hook_1"); h.Webhook.URL.Value() != "https://example.com/"+pdKey+"/hook" || !h.Webhook.Secret.IsZero() {
		t.Error("${VAR} inside a value is not expanded, or a webhook without secret got one")
	}
	if got := r.Integrations(); len(got) != 3 {
		t.Fatal(got)
	}
	first := c.Route.Routes[0]
	m := first.Match
	if m.Project != "team-a/**" || !slices.Equal(m.ProjectID, []int64{1, 2}) || m.Ref != "release/*" ||
		m.RefRegex == nil || m.Branches != route.BranchesProtected || m.Tag == nil || *m.Tag ||
		!slices.Equal(m.Source, []string{"push", "web"}) ||
		!slices.Equal(m.Severity, []alert.Severity{alert.SeverityHigh, alert.SeverityMedium}) || !first.Continue {
		t.Errorf("first route read as %+v (continue %v)", m, first.Continue)
	}
	if first.Receiver != "all-three" {
		t.Errorf("a child without receiver got %q, want its parent's all-three", first.Receiver)
	}
	g := first.Routes[0].Match
	if !slices.Equal(g.ProjectID, []int64{3}) || !slices.Equal(g.Source, []string{"schedule"}) ||
		!slices.Equal(g.Severity, []alert.Severity{alert.SeverityLow}) || g.Tag == nil || !*g.Tag {
		t.Errorf("single values are not read as lists of one: %+v", g)
	}
	if c.Route.Routes[1].Receiver != "no-secret.hook_1" || c.Route.Routes[1].Continue {
		t.Errorf("second route: %+v", c.Route.Routes[1])
	}
	if c.Route.Count() != 4 {
		t.Errorf("Count() = %d, want 4", c.Route.Count())
	}
}

// goodReceivers heads the files of the error cases, so that each shows its
// own error only; the route starts on line 8.
const goodReceivers = `receivers:
  - name: chat
    slack:
      url: ${SLACK_TEAM_A}
  - name: pager
    pagerduty:
      routing_key: ${PD_TEAM_A}
`

func TestParseRefusesBadFiles(t *testing.T) {
	// The kinds of integration, as the errors list them; that the first
	// three come first, in this order, is checked by itself.
	kinds := strings.Join(IntegrationKinds(), ", ")
	if !strings.HasPrefix(kinds, "webhook, slack, pagerduty") {
		t.Errorf("IntegrationKinds() = %s, want webhook, slack, pagerduty first", kinds)
	}
	tests := []struct {
		name string
		src  string
		want []string // the error, one line each
	}{
		{"an empty file", "", []string{"alertflow.yaml:1: the file is empty: want receivers and route"}},
		{"a file of comments only", "# nothing yet\n", []string{"alertflow.yaml:1: the file is empty: want receivers and route"}},
		{"not YAML", "receivers: [\n", []string{"alertflow.yaml:1: not valid YAML: did not find expected node content"}},
		{"not a mapping", "- a\n- b\n", []string{"alertflow.yaml:1: want a mapping of receivers, route, people, monitors, not a list"}},
		{"two documents", goodReceivers + "route:\n  receiver: chat\n---\nroute: {}\n", []string{"alertflow.yaml:10: a second YAML document: want one"}},
		{"a second document that does not parse", goodReceivers + "route:\n  receiver: chat\n---\nroute: [\n", []string{"alertflow.yaml:11: not valid YAML: did not find expected node content"}},
		{"no receivers and no route", "{}\n", []string{
			"alertflow.yaml:1: receivers: required: the list of receivers",
			"alertflow.yaml:1: route: required: the root of the routing tree"}},
		{"an unknown key at the top", goodReceivers + "route:\n  receiver: chat\nroutes: []\n", []string{
			`alertflow.yaml:10: routes: unknown key "routes": want one of receivers, route, people, monitors`}},
		{"an unknown key in a receiver", "receivers:\n  - name: chat\n    slak:\n      url: ${SLACK_TEAM_A}\nroute:\n  receiver: chat\n", []string{
			`alertflow.yaml:2: receivers[0]: no integration: want one or more of ` + kinds,
			`alertflow.yaml:3: receivers[0].slak: unknown key "slak": want one of name, ` + kinds}},
		{"an unknown key in an integration", goodReceivers + "  - name: hook\n    webhook:\n      url: https://example.com\n      secert: x\nroute:\n  receiver: chat\n", []string{
			`alertflow.yaml:11: receivers[2].webhook.secert: unknown key "secert": want one of url, url_file, secret, secret_file`}},
		{"an unknown key in a route", goodReceivers + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      contine: true\n", []string{
			`alertflow.yaml:12: route.routes[0].contine: unknown key "contine": want one of receiver, match, continue, routes, escalate_to, escalate_after`}},
		{"an unknown key in a match", goodReceivers + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      match:\n        branch: default\n", []string{
			`alertflow.yaml:13: route.routes[0].match.branch: unknown key "branch": want one of project, project_id, ref, ref_regex, branches, tag, source, severity, failure_class`}},
		{"a key given twice", goodReceivers + "route:\n  receiver: chat\n  receiver: pager\n", []string{
			`alertflow.yaml:10: route.receiver: given twice (first on line 9)`}},
		{"an unknown receiver", goodReceivers + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n    - receiver: team-b\n", []string{
			`alertflow.yaml:12: route.routes[1].receiver: unknown receiver "team-b"`}},
		{"escalate_to without escalate_after", goodReceivers + "route:\n  receiver: chat\n  escalate_to: pager\n", []string{
			`alertflow.yaml:10: route.escalate_after: required with escalate_to: a number of unacknowledged reminders (2) or a duration after the alert opened (30m)`}},
		{"escalate_after without escalate_to", goodReceivers + "route:\n  receiver: chat\n  escalate_after: 2\n", []string{
			`alertflow.yaml:10: route.escalate_to: required with escalate_after: the receiver an unacknowledged alert escalates to`}},
		{"an escalation to an unknown receiver", goodReceivers + "route:\n  receiver: chat\n  escalate_to: boss\n  escalate_after: 30m\n", []string{
			`alertflow.yaml:10: route.escalate_to: unknown receiver "boss"`}},
		{"an escalation after no reminders", goodReceivers + "route:\n  receiver: chat\n  escalate_to: pager\n  escalate_after: 0\n", []string{
			`alertflow.yaml:11: route.escalate_after: 0 reminders: want at least 1`}},
		{"an escalation after something that is not a time", goodReceivers + "route:\n  receiver: chat\n  escalate_to: pager\n  escalate_after: soon\n", []string{
			`alertflow.yaml:11: route.escalate_after: "soon" is neither a number of reminders (2) nor a positive duration (30m)`}},
		{"an unknown receiver at the root", goodReceivers + "route:\n  receiver: nobody\n", []string{
			`alertflow.yaml:9: route.receiver: unknown receiver "nobody"`}},
		{"a duplicate receiver name", goodReceivers + "  - name: chat\n    webhook:\n      url: https://example.com\nroute:\n  receiver: chat\n", []string{
			`alertflow.yaml:8: receivers[2].name: duplicate receiver "chat" (first on line 2)`}},
		{"a receiver with no integration", goodReceivers + "  - name: nothing\nroute:\n  receiver: nothing\n", []string{
			`alertflow.yaml:8: receivers[2]: no integration: want one or more of ` + kinds}},
		{"a receiver without a name", goodReceivers + "  - slack:\n      url: ${SLACK_TEAM_A}\nroute:\n  receiver: chat\n", []string{
			`alertflow.yaml:8: receivers[2].name: required`}},
		{"a receiver name with a space", goodReceivers + "  - name: team a\n    slack:\n      url: ${SLACK_TEAM_A}\nroute:\n  receiver: chat\n", []string{
			`alertflow.yaml:8: receivers[2].name: "team a": want letters, digits, '.', '_' and '-', starting with a letter or digit`}},
		{"no receivers", "receivers: []\nroute:\n  receiver: chat\n", []string{
			`alertflow.yaml:1: receivers: is empty: want at least one receiver`,
			`alertflow.yaml:3: route.receiver: unknown receiver "chat"`}},
		{"both a value and its file", "receivers:\n  - name: pager\n    pagerduty:\n      routing_key: ${PD_TEAM_A}\n      routing_key_file: /run/secrets/pd\nroute:\n  receiver: pager\n", []string{
			`alertflow.yaml:5: receivers[0].pagerduty.routing_key_file: give routing_key or routing_key_file, not both`}},
		{"neither a value nor its file", "receivers:\n  - name: pager\n    pagerduty:\n      url: https://events.eu.pagerduty.com/v2/enqueue\nroute:\n  receiver: pager\n", []string{
			`alertflow.yaml:3: receivers[0].pagerduty: routing_key or routing_key_file is required`}},
		{"an integration with nothing under it", "receivers:\n  - name: chat\n    slack:\nroute:\n  receiver: chat\n", []string{
			`alertflow.yaml:3: receivers[0].slack: url or url_file is required`}},
		{"a file that cannot be read", "receivers:\n  - name: pager\n    pagerduty:\n      routing_key_file: /run/secrets/missing\nroute:\n  receiver: pager\n", []string{
			`alertflow.yaml:4: receivers[0].pagerduty.routing_key_file: cannot read /run/secrets/missing: file does not exist`}},
		{"an empty file of a secret", "receivers:\n  - name: pager\n    pagerduty:\n      routing_key_file: /run/secrets/empty\nroute:\n  receiver: pager\n", []string{
			`alertflow.yaml:4: receivers[0].pagerduty.routing_key_file: /run/secrets/empty is empty`}},
		{"an unset variable", "receivers:\n  - name: pager\n    pagerduty:\n      routing_key: ${PD_TEAM_B}\nroute:\n  receiver: pager\n", []string{
			`alertflow.yaml:4: receivers[0].pagerduty.routing_key: ${PD_TEAM_B} is not set (or empty) in the environment`}},
		{"a variable set empty", "receivers:\n  - name: pager\n    pagerduty:\n      routing_key: ${EMPTY}\nroute:\n  receiver: pager\n", []string{
			`alertflow.yaml:4: receivers[0].pagerduty.routing_key: ${EMPTY} is not set (or empty) in the environment`}},
		{"two unset variables in one value", "receivers:\n  - name: hook\n    webhook:\n      url: https://${HOST}/${PATH_PART}\nroute:\n  receiver: hook\n", []string{
			`alertflow.yaml:4: receivers[0].webhook.url: ${HOST} is not set (or empty) in the environment`,
			`alertflow.yaml:4: receivers[0].webhook.url: ${PATH_PART} is not set (or empty) in the environment`}},
		{"a variable in a file name", "receivers:\n  - name: pager\n    pagerduty:\n      routing_key_file: ${SECRETS_DIR}/pd\nroute:\n  receiver: pager\n", []string{
			`alertflow.yaml:4: receivers[0].pagerduty.routing_key_file: ${SECRETS_DIR} is not set (or empty) in the environment`}},
		{"an unclosed ${", "receivers:\n  - name: pager\n    pagerduty:\n      routing_key: ${PD_TEAM_A\nroute:\n  receiver: pager\n", []string{
			`alertflow.yaml:4: receivers[0].pagerduty.routing_key: a ${ without its }: write ${NAME}`}},
		{"a malformed ${...}", "receivers:\n  - name: pager\n    pagerduty:\n      routing_key: ${pd key}\nroute:\n  receiver: pager\n", []string{
			`alertflow.yaml:4: receivers[0].pagerduty.routing_key: a malformed ${...}: write ${NAME}, NAME of letters, digits and _`}},
		{"an empty value", "receivers:\n  - name: pager\n    pagerduty:\n      routing_key: \"\"\nroute:\n  receiver: pager\n", []string{
			`alertflow.yaml:4: receivers[0].pagerduty.routing_key: is empty`}},
		{"a URL without a scheme", "receivers:\n  - name: chat\n    slack:\n      url: ${NOT_A_URL}\nroute:\n  receiver: chat\n", []string{
			`alertflow.yaml:4: receivers[0].slack.url: the URL must start with https:// or http://`}},
		{"a URL of another scheme", "receivers:\n  - name: hook\n    webhook:\n      url: ftp://example.com/x\nroute:\n  receiver: hook\n", []string{
			`alertflow.yaml:4: receivers[0].webhook.url: the URL must start with https:// or http://`}},
		{"a URL without a host", "receivers:\n  - name: pager\n    pagerduty:\n      routing_key: ${PD_TEAM_A}\n      url: https:///v2/enqueue\nroute:\n  receiver: pager\n", []string{
			`alertflow.yaml:5: receivers[0].pagerduty.url: the URL has no host`}},
		{"a URL read from a file is checked too", "receivers:\n  - name: hook\n    webhook:\n      url_file: /run/secrets/pd\nroute:\n  receiver: hook\n", []string{
			`alertflow.yaml:4: receivers[0].webhook.url_file: the URL must start with https:// or http://`}},
		{"a root without a receiver", goodReceivers + "route:\n  routes:\n    - receiver: chat\n", []string{
			`alertflow.yaml:8: route.receiver: required at the root: the receiver of every alert no child route takes`}},
		{"a root with match and continue", goodReceivers + "route:\n  receiver: chat\n  match:\n    project: a/*\n  continue: true\n", []string{
			`alertflow.yaml:10: route.match: not allowed at the root, which matches every alert; put it in a child route`,
			`alertflow.yaml:12: route.continue: not allowed at the root, which has no siblings`}},
		{"routes not a list", goodReceivers + "route:\n  receiver: chat\n  routes:\n    receiver: pager\n", []string{
			`alertflow.yaml:11: route.routes: want a list of routes, not a mapping`}},
		{"a bad project glob", goodReceivers + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      match:\n        project: team-a/[api\n", []string{
			`alertflow.yaml:13: route.routes[0].match.project: bad glob "team-a/[api"`}},
		{"a bad ref glob", goodReceivers + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      match:\n        ref: release/{a,b\n", []string{
			`alertflow.yaml:13: route.routes[0].match.ref: bad glob "release/{a,b"`}},
		{"a bad regex", goodReceivers + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      match:\n        ref_regex: release-(\n", []string{
			"alertflow.yaml:13: route.routes[0].match.ref_regex: bad regular expression: error parsing regexp: missing closing ): `release-(`"}},
		{"a bad branches value", goodReceivers + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      match:\n        branches: protected_only\n", []string{
			`alertflow.yaml:13: route.routes[0].match.branches: unknown branches "protected_only": want all, default, protected or default_and_protected`}},
		{"a bad severity", goodReceivers + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      match:\n        severity: [HIGH, CRITICAL]\n", []string{
			`alertflow.yaml:13: route.routes[0].match.severity: unknown severity "CRITICAL": want HIGH, MEDIUM or LOW`}},
		{"an empty source", goodReceivers + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      match:\n        source: [push, \"\"]\n", []string{
			`alertflow.yaml:13: route.routes[0].match.source: is empty`}},
		{"an empty list", goodReceivers + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      match:\n        source: []\n", []string{
			`alertflow.yaml:13: route.routes[0].match.source: is empty: leave the key out to match anything`}},
		{"a project_id that is not an integer", goodReceivers + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      match:\n        project_id: [12, team-a]\n", []string{
			`alertflow.yaml:13: route.routes[0].match.project_id: want an integer project ID`}},
		{"tag not a boolean", goodReceivers + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      match:\n        tag: yes\n", []string{
			`alertflow.yaml:13: route.routes[0].match.tag: want true or false`}},
		{"continue not a boolean", goodReceivers + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      continue: 1\n", []string{
			`alertflow.yaml:12: route.routes[0].continue: want true or false`}},
		{"errors in a grandchild route", goodReceivers + "route:\n  receiver: chat\n  routes:\n    - match:\n        project: a/**\n      routes:\n        - receiver: ghost\n", []string{
			`alertflow.yaml:14: route.routes[0].routes[0].receiver: unknown receiver "ghost"`}},
		{"a route that contains itself", goodReceivers + "route: &r\n  receiver: chat\n  routes: [*r]\n", []string{
			`alertflow.yaml:10: route.routes[0]: a route that contains itself (through an alias)`}},
		{"aliases that multiply the tree", goodReceivers + "route:\n  receiver: chat\n  routes:\n" +
			"    - &a {receiver: pager}\n" +
			"    - &b {routes: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]}\n" +
			"    - &c {routes: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]}\n" +
			"    - &d {routes: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]}\n" +
			"    - &e {routes: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]}\n" +
			"    - &f {routes: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]}\n" +
			"    - {routes: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]}\n", []string{
			`alertflow.yaml:12: route.routes[4].routes[7].routes[8].routes[8].routes[8]: more than 10000 routes`}},
		{"merge keys", goodReceivers + "route:\n  receiver: chat\n  routes:\n    - &r\n      receiver: pager\n    - <<: *r\n", []string{
			`alertflow.yaml:13: route.routes[1]: merge keys (<<) are not supported; write the keys out`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(tt.src)
			if err == nil {
				t.Fatalf("accepted:\n%s\nas %+v", tt.src, c)
			}
			if c != nil {
				t.Errorf("returned a configuration with the error")
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
			noSecrets(t, "the error", err.Error())
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("the error holds no *Error")
			}
		})
	}
}

func TestParseAnAliasedRouteIsRead(t *testing.T) {
	c, err := parse(goodReceivers + "route:\n  receiver: chat\n  routes:\n    - &r\n      receiver: pager\n      match: {project: a/*}\n    - *r\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Route.Routes) != 2 || c.Route.Routes[1].Receiver != "pager" || c.Route.Routes[1].Match.Project != "a/*" {
		t.Errorf("the alias was not read as its anchor: %+v", c.Route.Routes)
	}
}

// Every problem is reported, in file order, so one config check run shows
// them all.
func TestParseReportsEveryErrorInFileOrder(t *testing.T) {
	_, err := parse(`route:
  receiver: ghost
  routes:
    - match: {severity: [URGENT]}
receivers:
  - name: pager
    pagerduty:
      routing_key: ${UNSET}
`)
	want := strings.Join([]string{
		`alertflow.yaml:2: route.receiver: unknown receiver "ghost"`,
		`alertflow.yaml:4: route.routes[0].match.severity: unknown severity "URGENT": want HIGH, MEDIUM or LOW`,
		`alertflow.yaml:8: receivers[0].pagerduty.routing_key: ${UNSET} is not set (or empty) in the environment`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

// A wrong value must not be quoted when it may be a secret, whatever is
// wrong with it.
func TestParseErrorsNeverQuoteSecrets(t *testing.T) {
	testEnv["BAD_URL_SECRET"] = "ftp://x/slack-secret-path"
	defer delete(testEnv, "BAD_URL_SECRET")
	srcs := []string{
		"receivers:\n  - name: a\n    slack:\n      url: ${BAD_URL_SECRET}\nroute:\n  receiver: a\n",
		"receivers:\n  - name: a\n    slack:\n      url: ftp://x/slack-secret-path\nroute:\n  receiver: a\n",
		"receivers:\n  - name: a\n    slack:\n      url: \"https://x/slack-secret-path/${bad name}\"\nroute:\n  receiver: a\n",
		"receivers:\n  - name: a\n    slack:\n      url: https://x/slack-secret-path/${UNCLOSED\nroute:\n  receiver: a\n",
		"receivers:\n  - name: a\n    slack:\n      url: [https://x/slack-secret-path]\nroute:\n  receiver: a\n",
		"receivers:\n  - name: a\n    webhook:\n      url: ${AUDIT_WEBHOOK_URL}\n      secret: " + auditSecret + "\n      secret_file: /run/secrets/pd\nroute:\n  receiver: a\n",
		"receivers:\n  - name: a\n    pagerduty:\n      routing_key: " + pdKey + "\n      url: " + slackURL + "x::\nroute:\n  receiver: a\n  bad: " + "1\n",
		"receivers:\n  - name: a\n    webhook:\n      url: \"http://[::1\"\n      secret: " + auditSecret + "\nroute:\n  receiver: a\n",
	}
	for i, src := range srcs {
		_, err := parse(src)
		if err == nil {
			t.Errorf("file %d accepted", i)
			continue
		}
		noSecrets(t, fmt.Sprintf("the error of file %d", i), err.Error())
	}
}

func TestLoadReadsRelativeFilesNextToTheConfiguration(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pd-key"), []byte(fileKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "alertflow.yaml")
	src := "receivers:\n  - name: pager\n    pagerduty:\n      routing_key_file: pd-key\nroute:\n  receiver: pager\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Receiver("pager"); r.PagerDuty.RoutingKey.Value() != fileKey {
		t.Errorf("routing_key_file read %q", r.PagerDuty.RoutingKey.Value())
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"), nil)
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("a missing file: %v, want an error naming it", err)
	}
	if err := os.WriteFile(path, []byte("receivers:\n  - name: pager\n    pagerduty:\n      routing_key_file: nope\nroute:\n  receiver: pager\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path, nil)
	if want := path + ":4: receivers[0].pagerduty.routing_key_file: cannot read nope: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestLoadRefusesASecretFileOverMaxSecretFileSize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alertflow.yaml")
	src := "receivers:\n  - name: pager\n    pagerduty:\n      routing_key_file: pd-key\nroute:\n  receiver: pager\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("k", MaxSecretFileSize)
	if err := os.WriteFile(filepath.Join(dir, "pd-key"), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, nil)
	if err != nil {
		t.Fatalf("a file of MaxSecretFileSize bytes: %v", err)
	}
	if r, _ := c.Receiver("pager"); r.PagerDuty.RoutingKey.Value() != key {
		t.Error("a file of MaxSecretFileSize bytes was not read whole")
	}
	if err := os.WriteFile(filepath.Join(dir, "pd-key"), []byte(key+"k"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path, nil)
	want := path + ":4: receivers[0].pagerduty.routing_key_file: pd-key holds more than 65536 bytes (64 KiB, MaxSecretFileSize): a routing_key_file holds one secret"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

// What a ${VAR} in a *_file path stands for is the environment's, and
// stays out of errors as every variable's value does.
func TestParseNamesASecretFileAsWrittenNotExpanded(t *testing.T) {
	testEnv["SECRETS_DIR"] = "/run/secrets"
	defer delete(testEnv, "SECRETS_DIR")
	for _, tt := range []struct{ file, want string }{
		{"${SECRETS_DIR}/missing", "alertflow.yaml:4: receivers[0].pagerduty.routing_key_file: cannot read ${SECRETS_DIR}/missing: file does not exist"},
		{"${SECRETS_DIR}/empty", "alertflow.yaml:4: receivers[0].pagerduty.routing_key_file: ${SECRETS_DIR}/empty is empty"},
	} {
		_, err := parse("receivers:\n  - name: pager\n    pagerduty:\n      routing_key_file: " + tt.file + "\nroute:\n  receiver: pager\n")
		if err == nil || err.Error() != tt.want {
			t.Errorf("error:\n%v\nwant:\n%s", err, tt.want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	c := FromEnv("https://hooks.example.com/x", auditSecret, slackURL)
	r, ok := c.Receiver(DefaultReceiver)
	if !ok || len(c.Receivers) != 1 {
		t.Fatalf("receivers %+v", c.Receivers)
	}
	if got := r.Integrations(); !slices.Equal(got, []string{"webhook", "slack"}) {
		t.Errorf("Integrations() = %q", got)
	}
	if r.Webhook.URL.Value() != "https://hooks.example.com/x" || r.Webhook.Secret.Value() != auditSecret || r.Slack.URL.Value() != slackURL {
		t.Error("FromEnv lost a value")
	}
	if got := c.Route.Receivers(route.Labels{Project: "any/thing"}); !slices.Equal(got, []string{DefaultReceiver}) {
		t.Errorf("the root routes to %q", got)
	}

	bare := FromEnv("", "", "")
	if r, _ := bare.Receiver(DefaultReceiver); r.Integrations() != nil {
		t.Errorf("no URLs: want a receiver with no integration (log only), got %q", r.Integrations())
	}
	if _, ok := bare.Receiver("other"); ok {
		t.Error("Receiver found a name that is not there")
	}
	if only, _ := FromEnv("", "", slackURL).Receiver(DefaultReceiver); !slices.Equal(only.Integrations(), []string{"slack"}) {
		t.Errorf("Slack only: %q", only.Integrations())
	}
}

func TestSecretNeverPrints(t *testing.T) {
	c := FromEnv(auditURL, auditSecret, slackURL)
	r, _ := c.Receiver(DefaultReceiver)
	s := NewSecret(pdKey)
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"} {
		out = append(out, fmt.Sprintf(verb, s), fmt.Sprintf(verb, r), fmt.Sprintf(verb, *r.Webhook), fmt.Sprintf(verb, c.Receivers))
	}
	out = append(out, s.String(), s.GoString(), fmt.Sprint(s), fmt.Sprintln(r.Slack))
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(j))
	y, err := yaml.Marshal(c.Receivers)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(y))
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "secret", s, "webhook", r.Webhook, "receiver", r)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "secret", s, "webhook", r.Webhook, "receiver", r)
	out = append(out, logs.String())
	for _, o := range out {
		noSecrets(t, "printed", o)
	}
	if !strings.Contains(string(j), `"\u003csecret\u003e"`) || !strings.Contains(logs.String(), "<secret>") {
		t.Errorf("JSON %s or the log %s do not show <secret>", j, logs.String())
	}
	if s.Value() != pdKey {
		t.Error("Value() lost the secret")
	}
	if !(Secret{}).IsZero() || s.IsZero() {
		t.Error("IsZero wrong")
	}
}

func TestParseReadsEscalations(t *testing.T) {
	c, err := parse(goodReceivers + "route:\n  receiver: chat\n  escalate_to: pager\n  escalate_after: 45m\n  routes:\n    - receiver: chat\n      escalate_to: pager\n      escalate_after: 3\n")
	if err != nil {
		t.Fatal(err)
	}
	if e := c.Route.Escalation; e == nil || e.To != "pager" || e.After != 45*time.Minute || e.Reminders != 0 {
		t.Errorf("root escalation %+v", e)
	}
	if e := c.Route.Routes[0].Escalation; e == nil || e.To != "pager" || e.Reminders != 3 || e.After != 0 {
		t.Errorf("child escalation %+v", e)
	}
}
