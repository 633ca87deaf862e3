package main

// Checks of the production shape: docker-compose.yml, .env.example and the
// Dockerfile, held against the settings and subcommands of this binary.
//
// docker-compose.yml is read the way Compose reads it: `docker-compose
// config` (or `docker compose config`) interpolates .env.example into it and
// prints the resolved stack as plain block YAML, which yamlTree below turns
// into maps, lists and strings. No engine is needed for that. Without
// docker-compose the stack checks skip, unless CI is set; `make test`
// installs it.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// stackRoot is where docker-compose.yml, .env.example and the Dockerfile
// live, seen from this package.
const stackRoot = "../.."

// The services of the production stack, and what each runs.
var stackServices = []string{
	"postgresql",           // Temporal's database
	"temporal",             // the Temporal server (auto-setup)
	"temporal-ui",          // the Web UI
	"temporal-admin-tools", // temporal and tctl for `docker compose exec`
	"temporal-namespace",   // one-shot: namespace and its retention
	"alertflow-worker",     // alertflow worker
	"alertflow-ingress",    // alertflow ingress
}

// alertflowServices run this binary, with the command each must run.
var alertflowServices = map[string]string{
	"alertflow-worker":  "worker",
	"alertflow-ingress": "ingress",
}

// stackVariables are the variables of .env.example that are not alertflow
// settings but the stack's own.
var stackVariables = map[string]bool{
	"POSTGRES_PASSWORD": true,
}

// stackTemporalAddress is where every Temporal client of the stack must connect:
// the temporal service's frontend.
const stackTemporalAddress = "temporal:7233"

func settingsByName() map[string]setting {
	m := make(map[string]setting)
	for _, s := range settings() {
		m[s.env] = s
	}
	return m
}

// binaryKnowsCommand says whether the binary accepts cmd as its subcommand: a
// known one answers -h with exit code 0, an unknown one with 2.
func binaryKnowsCommand(cmd string) bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return run(ctx, []string{cmd, "-h"}, func(string) string { return "" }, io.Discard, io.Discard) == 0
}

// --- .env.example ---

// envExampleLine is one assignment in .env.example; commented out ones
// ("# NAME=value") document variables the stack does not read from .env.
type envExampleLine struct {
	name, value string
	commented   bool
	line        int
}

var envAssignment = regexp.MustCompile(`^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$`)

func readEnvExample(t *testing.T) []envExampleLine {
	t.Helper()
	f, err := os.Open(filepath.Join(stackRoot, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []envExampleLine
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		m := envAssignment.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		out = append(out, envExampleLine{name: m[2], value: m[3], commented: m[1] != "", line: n})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal(".env.example has no NAME=value lines")
	}
	return out
}

func TestComposeEnvExampleListsEverySettingAndNothingElse(t *testing.T) {
	lines := readEnvExample(t)
	known := settingsByName()
	seen := make(map[string]int)
	for _, l := range lines {
		seen[l.name]++
	}
	for _, s := range settings() {
		t.Run(s.env+" is in .env.example", func(t *testing.T) {
			if seen[s.env] == 0 {
				t.Errorf(".env.example does not mention %s (default %q: %s); add it, commented out if the stack does not read it", s.env, s.def, s.help)
			}
		})
	}
	for _, l := range lines {
		t.Run(fmt.Sprintf("%s on line %d is a setting of alertflow or of the stack", l.name, l.line), func(t *testing.T) {
			if _, ok := known[l.name]; !ok && !stackVariables[l.name] {
				t.Errorf(".env.example:%d: %s is neither a setting of alertflow (settings()) nor a variable of the stack; a typo?", l.line, l.name)
			}
			if seen[l.name] > 1 {
				t.Errorf(".env.example names %s %d times", l.name, seen[l.name])
			}
		})
	}
}

// --- Dockerfile ---

// dockerInstruction is one instruction of the Dockerfile, continuation
// lines joined.
type dockerInstruction struct {
	stage   int // index of the FROM it belongs to
	keyword string
	args    string
}

func readDockerfile(t *testing.T) []dockerInstruction {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(stackRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstruction
	stage := -1
	var cur strings.Builder
	flush := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		keyword, args, _ := strings.Cut(text, " ")
		keyword = strings.ToUpper(keyword)
		if keyword == "FROM" {
			stage++
		}
		out = append(out, dockerInstruction{stage: stage, keyword: keyword, args: strings.TrimSpace(args)})
	}
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return out
}

// finalStage returns the instructions of the image's last stage with the
// given keyword.
func finalStage(all []dockerInstruction, keyword string) []dockerInstruction {
	last := all[len(all)-1].stage
	var out []dockerInstruction
	for _, in := range all {
		if in.stage == last && in.keyword == keyword {
			out = append(out, in)
		}
	}
	return out
}

func goModVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(stackRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go\s+(\S+)\s*$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}

func TestComposeDockerfileBuildsTheBinaryTheStackRuns(t *testing.T) {
	ins := readDockerfile(t)
	if len(ins) == 0 {
		t.Fatal("Dockerfile has no instructions")
	}
	execForm := func(keyword string) []string {
		t.Helper()
		list := finalStage(ins, keyword)
		if len(list) == 0 {
			t.Fatalf("the final stage of the Dockerfile has no %s", keyword)
		}
		var argv []string
		if err := json.Unmarshal([]byte(list[len(list)-1].args), &argv); err != nil {
			t.Fatalf("%s %s: want the exec form, a JSON list: %v", keyword, list[len(list)-1].args, err)
		}
		return argv
	}
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"the build stage uses the Go version of go.mod", func(t *testing.T) {
			want := goModVersion(t)
			var tags []string
			for _, in := range ins {
				if in.keyword != "FROM" {
					continue
				}
				image, _, _ := strings.Cut(in.args, " ")
				if tag, ok := strings.CutPrefix(image, "golang:"); ok {
					tags = append(tags, tag)
				}
			}
			if len(tags) == 0 {
				t.Fatal("no stage is FROM golang:<version>")
			}
			for _, tag := range tags {
				v, _, _ := strings.Cut(tag, "-")
				v, _, _ = strings.Cut(v, "@")
				// golang:1.26 is fine for go 1.26.8; golang:1.26.7 is not.
				if v != want && !strings.HasPrefix(want, v+".") {
					t.Errorf("FROM golang:%s, but go.mod says go %s", tag, want)
				}
			}
		}},
		{"the binary is built static, trimmed and stripped", func(t *testing.T) {
			var build strings.Builder
			for _, in := range ins {
				if in.keyword == "RUN" || in.keyword == "ENV" || in.keyword == "ARG" {
					build.WriteString(in.args + "\n")
				}
			}
			for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, "./cmd/alertflow"} {
				if !strings.Contains(build.String(), want) {
					t.Errorf("no RUN or ENV of the Dockerfile has %s", want)
				}
			}
		}},
		{"the entrypoint is the alertflow binary", func(t *testing.T) {
			if got := execForm("ENTRYPOINT"); !slices.Equal(got, []string{"/alertflow"}) {
				t.Errorf(`ENTRYPOINT %q, want ["/alertflow"]`, got)
			}
		}},
		{"the default command is serve, a subcommand the binary knows", func(t *testing.T) {
			got := execForm("CMD")
			if !slices.Equal(got, []string{"serve"}) {
				t.Errorf(`CMD %q, want ["serve"]`, got)
			}
			if len(got) > 0 && !binaryKnowsCommand(got[0]) {
				t.Errorf("CMD %q: alertflow has no such command", got[0])
			}
		}},
		{"the runtime image runs as a user other than root", func(t *testing.T) {
			users := finalStage(ins, "USER")
			if len(users) == 0 {
				t.Fatal("the final stage has no USER: it would run as root")
			}
			user, _, _ := strings.Cut(users[len(users)-1].args, ":")
			if user == "root" || user == "0" {
				t.Errorf("USER %s", users[len(users)-1].args)
			}
		}},
		{"the image exposes the port ALERTFLOW_LISTEN listens on by default", func(t *testing.T) {
			_, port, err := net.SplitHostPort(settingsByName()["ALERTFLOW_LISTEN"].def)
			if err != nil {
				t.Fatal(err)
			}
			var exposed []string
			for _, in := range finalStage(ins, "EXPOSE") {
				for _, p := range strings.Fields(in.args) {
					exposed = append(exposed, strings.TrimSuffix(p, "/tcp"))
				}
			}
			if !slices.Contains(exposed, port) {
				t.Errorf("EXPOSE %q does not include %s, the port of ALERTFLOW_LISTEN's default", exposed, port)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

// --- docker-compose.yml ---

// composeCommand finds docker-compose, or Compose v2 as a docker plugin.
// Without either the test skips, or fails when CI is set.
func composeCommand(t *testing.T) []string {
	t.Helper()
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	if p, err := exec.LookPath("docker"); err == nil && exec.Command(p, "compose", "version").Run() == nil {
		return []string{p, "compose"}
	}
	const missing = "neither docker-compose nor the docker compose plugin is installed"
	if os.Getenv("CI") != "" {
		t.Fatalf("%s; in CI it must be (make test installs it)", missing)
	}
	t.Skipf("%s: skipping the docker-compose.yml checks (make test installs docker-compose; or apt-get install docker-compose)", missing)
	return nil
}

// composeConfig runs `docker-compose config` on docker-compose.yml with the
// given env file, in an environment of PATH and HOME only, so that
// variables of whoever runs the test cannot fill the ${...} in.
func composeConfig(t *testing.T, envFile string) (string, error) {
	t.Helper()
	cmd := composeCommand(t)
	root, err := filepath.Abs(stackRoot)
	if err != nil {
		t.Fatal(err)
	}
	args := append(cmd[1:], "--env-file", envFile, "-f", filepath.Join(root, "docker-compose.yml"), "config")
	c := exec.Command(cmd[0], args...)
	c.Dir = root
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	out, err := c.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", cmd[0], strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

var stackOnce struct {
	sync.Once
	stack map[string]any
	err   error
}

// resolvedStack is docker-compose.yml as Compose resolves it with
// .env.example: the top-level map of `docker-compose config`.
func resolvedStack(t *testing.T) map[string]any {
	t.Helper()
	envFile, err := filepath.Abs(filepath.Join(stackRoot, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	composeCommand(t) // skips, or fails in CI, before the Once
	stackOnce.Do(func() {
		var out string
		out, stackOnce.err = composeConfig(t, envFile)
		if stackOnce.err != nil {
			return
		}
		var tree any
		if tree, stackOnce.err = yamlTree(out); stackOnce.err != nil {
			stackOnce.err = fmt.Errorf("reading the output of docker-compose config: %w\n%s", stackOnce.err, out)
			return
		}
		m, ok := tree.(map[string]any)
		if !ok {
			stackOnce.err = fmt.Errorf("docker-compose config printed no map:\n%s", out)
			return
		}
		stackOnce.stack = m
	})
	if stackOnce.err != nil {
		t.Fatal(stackOnce.err)
	}
	return stackOnce.stack
}

// composeService is the part of one service the checks look at.
type composeService struct {
	image       string
	build       bool
	command     []string
	environment map[string]string
	ports       []composePort
	dependsOn   map[string]string // service -> condition
	healthcheck string            // the test, joined by spaces
	mounts      []string          // host paths of bind mounts
}

type composePort struct{ published, target string }

func composeServices(t *testing.T) map[string]composeService {
	t.Helper()
	stack := resolvedStack(t)
	raw, ok := stack["services"].(map[string]any)
	if !ok {
		t.Fatal("docker-compose config has no services")
	}
	out := make(map[string]composeService)
	for name, v := range raw {
		m, _ := v.(map[string]any)
		s := composeService{
			image:       yamlScalar(m["image"]),
			build:       m["build"] != nil,
			command:     yamlWords(m["command"]),
			environment: make(map[string]string),
			dependsOn:   make(map[string]string),
		}
		switch env := m["environment"].(type) {
		case map[string]any:
			for k, v := range env {
				s.environment[k] = yamlScalar(v)
			}
		case []any:
			for _, kv := range env {
				k, v, _ := strings.Cut(yamlScalar(kv), "=")
				s.environment[k] = v
			}
		}
		for _, p := range yamlList(m["ports"]) {
			s.ports = append(s.ports, parsePort(p))
		}
		switch deps := m["depends_on"].(type) {
		case map[string]any:
			for dep, opts := range deps {
				o, _ := opts.(map[string]any)
				s.dependsOn[dep] = yamlScalar(o["condition"])
			}
		case []any:
			for _, dep := range deps {
				s.dependsOn[yamlScalar(dep)] = "service_started"
			}
		}
		if hc, ok := m["healthcheck"].(map[string]any); ok {
			s.healthcheck = strings.Join(yamlWords(hc["test"]), " ")
		}
		for _, v := range yamlList(m["volumes"]) {
			switch v := v.(type) {
			case string: // /host/path:/container/path:ro, or volume:/path
				if src, _, ok := strings.Cut(v, ":"); ok && filepath.IsAbs(src) {
					s.mounts = append(s.mounts, src)
				}
			case map[string]any:
				if yamlScalar(v["type"]) == "bind" {
					s.mounts = append(s.mounts, yamlScalar(v["source"]))
				}
			}
		}
		out[name] = s
	}
	return out
}

func yamlScalar(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

func yamlList(v any) []any {
	l, _ := v.([]any)
	return l
}

// yamlWords is a command or a healthcheck test, given as a list or a string.
func yamlWords(v any) []string {
	if s, ok := v.(string); ok {
		return strings.Fields(s)
	}
	var out []string
	for _, w := range yamlList(v) {
		out = append(out, yamlScalar(w))
	}
	return out
}

// parsePort reads "8080:8080", "127.0.0.1:7233:7233/tcp" or the long
// form {published, target}.
func parsePort(v any) composePort {
	if m, ok := v.(map[string]any); ok {
		return composePort{published: yamlScalar(m["published"]), target: yamlScalar(m["target"])}
	}
	s, _, _ := strings.Cut(yamlScalar(v), "/")
	parts := strings.Split(s, ":")
	p := composePort{target: parts[len(parts)-1]}
	if len(parts) > 1 {
		p.published = parts[len(parts)-2]
	}
	return p
}

// composeConfigOf is the configuration the binary makes of a service's
// environment.
func composeConfigOf(t *testing.T, name string, s composeService) config {
	t.Helper()
	cfg, _, err := loadConfig(alertflowServices[name], nil, func(k string) string { return s.environment[k] }, io.Discard)
	if err != nil {
		t.Fatalf("alertflow %s refuses the environment of %s: %v", alertflowServices[name], name, err)
	}
	return cfg
}

func TestComposeStackRunsAlertflowTheWayTheBinaryExpects(t *testing.T) {
	svcs := composeServices(t)
	known := settingsByName()
	for _, name := range stackServices {
		t.Run("the stack has the service "+name, func(t *testing.T) {
			if _, ok := svcs[name]; !ok {
				t.Errorf("docker-compose.yml has no service %s", name)
			}
		})
	}
	for name, command := range alertflowServices {
		s := svcs[name]
		t.Run(name+" is built from this repository and runs the command "+command, func(t *testing.T) {
			if !s.build {
				t.Errorf("%s has no build: it would not run this code", name)
			}
			if !slices.Equal(s.command, []string{command}) {
				t.Errorf("%s runs %q, want [%q]", name, s.command, command)
			}
			if !binaryKnowsCommand(command) {
				t.Errorf("alertflow has no command %q", command)
			}
		})
		t.Run(name+" sets only variables that alertflow reads", func(t *testing.T) {
			for k := range s.environment {
				if _, ok := known[k]; !ok {
					t.Errorf("%s sets %s, which no setting of alertflow reads; a typo?", name, k)
				}
			}
		})
		t.Run(name+" has an environment alertflow "+command+" accepts", func(t *testing.T) {
			composeConfigOf(t, name, s)
		})
		t.Run(name+" reaches Temporal at the temporal service's port 7233", func(t *testing.T) {
			if got := s.environment["TEMPORAL_ADDRESS"]; got != stackTemporalAddress {
				t.Errorf("%s: TEMPORAL_ADDRESS=%q, want %q", name, got, stackTemporalAddress)
			}
		})
		t.Run(name+" is health-checked on the port ALERTFLOW_LISTEN listens on", func(t *testing.T) {
			_, port, err := net.SplitHostPort(composeConfigOf(t, name, s).Listen)
			if err != nil {
				t.Fatal(err)
			}
			if want := ":" + port + "/healthz"; !strings.Contains(s.healthcheck, want) {
				t.Errorf("%s: healthcheck %q does not probe %s", name, s.healthcheck, want)
			}
		})
	}
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"the ingress publishes the port ALERTFLOW_LISTEN listens on", func(t *testing.T) {
			s := svcs["alertflow-ingress"]
			_, port, err := net.SplitHostPort(composeConfigOf(t, "alertflow-ingress", s).Listen)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range s.ports {
				found = found || p.target == port
			}
			if !found {
				t.Errorf("alertflow-ingress publishes %+v, none to container port %s of ALERTFLOW_LISTEN=%q", s.ports, port, s.environment["ALERTFLOW_LISTEN"])
			}
		}},
		{"every Temporal client of the stack connects to the temporal service's 7233", func(t *testing.T) {
			for name, s := range svcs {
				for _, k := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_CLI_ADDRESS"} {
					if v, ok := s.environment[k]; ok && v != stackTemporalAddress {
						t.Errorf("%s: %s=%q, want %q", name, k, v, stackTemporalAddress)
					}
				}
			}
			if !strings.Contains(svcs["temporal"].healthcheck, ":7233") {
				t.Errorf("the temporal service's healthcheck %q does not probe its frontend on 7233", svcs["temporal"].healthcheck)
			}
		}},
		{"the ingress gets the webhook and API tokens and the worker does not", func(t *testing.T) {
			for _, k := range []string{"ALERTFLOW_SOURCE_TOKENS", "ALERTFLOW_API_TOKEN"} {
				if svcs["alertflow-ingress"].environment[k] == "" {
					t.Errorf("alertflow-ingress does not get %s", k)
				}
				if _, ok := svcs["alertflow-worker"].environment[k]; ok {
					t.Errorf("alertflow-worker gets %s, which only the ingress uses", k)
				}
			}
		}},
		{"the worker gets the notification settings and the ingress does not", func(t *testing.T) {
			for _, k := range []string{"ALERTFLOW_NOTIFY_WEBHOOK_URL", "ALERTFLOW_NOTIFY_WEBHOOK_SECRET", "ALERTFLOW_SLACK_WEBHOOK_URL"} {
				if _, ok := svcs["alertflow-worker"].environment[k]; !ok {
					t.Errorf("alertflow-worker does not get %s", k)
				}
				if _, ok := svcs["alertflow-ingress"].environment[k]; ok {
					t.Errorf("alertflow-ingress gets %s, which only the worker uses", k)
				}
			}
		}},
		{"every variable .env.example sets reaches a container", func(t *testing.T) {
			for _, l := range readEnvExample(t) {
				if l.commented {
					continue
				}
				found := false
				for _, s := range svcs {
					_, ok := s.environment[l.name]
					found = found || ok
				}
				if !found {
					t.Errorf(".env.example:%d sets %s, but no service of docker-compose.yml gets it; comment it out or pass it on", l.line, l.name)
				}
			}
		}},
		{"every image other than alertflow's own is pinned to a version", func(t *testing.T) {
			for name, s := range svcs {
				if s.build {
					continue
				}
				_, tag, ok := strings.Cut(s.image, ":")
				if !ok || tag == "latest" || !strings.ContainsAny(tag, "0123456789") {
					t.Errorf("%s: image %q is not pinned to a version", name, s.image)
				}
			}
		}},
		{"every file the stack mounts exists", func(t *testing.T) {
			for name, s := range svcs {
				for _, m := range s.mounts {
					if _, err := os.Stat(m); err != nil {
						t.Errorf("%s mounts %s: %v", name, m, err)
					}
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

func TestComposeStackStartsInOrder(t *testing.T) {
	svcs := composeServices(t)
	tests := []struct{ service, dependency, condition string }{
		{"temporal", "postgresql", "service_healthy"},
		{"temporal-ui", "temporal", "service_healthy"},
		{"temporal-admin-tools", "temporal", "service_healthy"},
		{"temporal-namespace", "temporal", "service_healthy"},
		{"alertflow-worker", "temporal", "service_healthy"},
		{"alertflow-worker", "temporal-namespace", "service_completed_successfully"},
		// The worker registers the search attributes the intake sets.
		{"alertflow-ingress", "alertflow-worker", "service_healthy"},
		{"alertflow-ingress", "temporal-namespace", "service_completed_successfully"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s waits until %s is %s", tt.service, tt.dependency, strings.TrimPrefix(tt.condition, "service_")), func(t *testing.T) {
			got, ok := svcs[tt.service].dependsOn[tt.dependency]
			if !ok {
				t.Fatalf("%s does not depend on %s", tt.service, tt.dependency)
			}
			if got != tt.condition {
				t.Errorf("%s depends on %s with condition %q, want %q", tt.service, tt.dependency, got, tt.condition)
			}
		})
	}
	t.Run("every service waited on as healthy has a healthcheck", func(t *testing.T) {
		for name, s := range svcs {
			for dep, cond := range s.dependsOn {
				if cond == "service_healthy" && svcs[dep].healthcheck == "" {
					t.Errorf("%s waits for %s to be healthy, but docker-compose.yml gives %s no healthcheck", name, dep, dep)
				}
			}
		}
	})
}

func TestComposeStackRefusesToStartWithoutItsSecrets(t *testing.T) {
	lines := readEnvExample(t)
	for _, secret := range []string{"ALERTFLOW_SOURCE_TOKENS", "ALERTFLOW_API_TOKEN", "POSTGRES_PASSWORD"} {
		t.Run("docker-compose config fails naming "+secret+" when .env lacks it", func(t *testing.T) {
			var b strings.Builder
			for _, l := range lines {
				if !l.commented && l.name != secret {
					fmt.Fprintf(&b, "%s=%s\n", l.name, l.value)
				}
			}
			envFile := filepath.Join(t.TempDir(), "env")
			if err := os.WriteFile(envFile, []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := composeConfig(t, envFile)
			if err == nil {
				t.Fatalf("docker-compose config accepted a .env without %s", secret)
			}
			if !strings.Contains(out, secret) {
				t.Errorf("the error does not name %s:\n%s", secret, out)
			}
		})
	}
}

// --- a reader of the YAML that `docker-compose config` prints ---

// yamlTree reads block YAML as Compose prints it (PyYAML for v1, go-yaml
// for v2) into map[string]any, []any and string: block mappings and
// sequences (also sequences not indented under their key), plain and quoted
// scalars folded over several lines, | and > block scalars, and the empty
// flow collections {} and []. Anything else is an error, not a guess.
// Blank lines inside block scalars are dropped: no check reads those.
func yamlTree(src string) (any, error) {
	p := &yamlParser{}
	for i, raw := range strings.Split(src, "\n") {
		text := strings.TrimRight(raw, " \r")
		content := strings.TrimLeft(text, " ")
		if content == "" || content == "---" || strings.HasPrefix(content, "#") {
			continue
		}
		if strings.HasPrefix(content, "\t") {
			return nil, fmt.Errorf("line %d: tab indentation", i+1)
		}
		p.lines = append(p.lines, yamlLine{indent: len(text) - len(content), text: content, num: i + 1})
	}
	if len(p.lines) == 0 {
		return nil, nil
	}
	v, err := p.node(p.lines[0].indent, -1)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.lines) {
		l := p.lines[p.pos]
		return nil, fmt.Errorf("line %d: unexpected %q", l.num, l.text)
	}
	return v, nil
}

type yamlLine struct {
	indent int
	text   string
	num    int
}

type yamlParser struct {
	lines []yamlLine
	pos   int
}

func yamlIsSeqItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

// yamlSplitKey splits "key: value" or "key:"; ok is false for a scalar.
func yamlSplitKey(text string) (key, rest string, ok bool) {
	if text[0] == '"' || text[0] == '\'' {
		end := yamlClosingQuote(text)
		if end < 0 {
			return "", "", false
		}
		after := text[end+1:]
		if after != ":" && !strings.HasPrefix(after, ": ") {
			return "", "", false
		}
		k, err := yamlUnquote(text[:end+1])
		if err != nil {
			return "", "", false
		}
		return k, strings.TrimSpace(strings.TrimPrefix(after, ":")), true
	}
	if i := strings.Index(text, ": "); i > 0 {
		return text[:i], strings.TrimSpace(text[i+2:]), true
	}
	if strings.HasSuffix(text, ":") && len(text) > 1 {
		return strings.TrimSuffix(text, ":"), "", true
	}
	return "", "", false
}

// yamlClosingQuote is the index of the quote that closes the scalar text
// starts with, or -1.
func yamlClosingQuote(text string) int {
	q := text[0]
	for i := 1; i < len(text); i++ {
		switch {
		case q == '"' && text[i] == '\\':
			i++
		case text[i] == q && q == '\'' && i+1 < len(text) && text[i+1] == '\'':
			i++
		case text[i] == q:
			return i
		}
	}
	return -1
}

func yamlUnquote(s string) (string, error) {
	switch {
	case len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'':
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		return strconv.Unquote(s)
	}
	return "", fmt.Errorf("not a quoted scalar: %s", s)
}

// node reads the value starting at the current line, which is indented by
// indent; parent is the indentation of the key or dash that owns it.
func (p *yamlParser) node(indent, parent int) (any, error) {
	l := p.lines[p.pos]
	if yamlIsSeqItem(l.text) {
		return p.sequence(indent)
	}
	if _, _, ok := yamlSplitKey(l.text); ok {
		return p.mapping(indent)
	}
	p.pos++
	return p.scalar(l, l.text, parent)
}

func (p *yamlParser) sequence(indent int) (any, error) {
	out := []any{}
	for p.pos < len(p.lines) && p.lines[p.pos].indent == indent && yamlIsSeqItem(p.lines[p.pos].text) {
		l := p.lines[p.pos]
		rest := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		var item any
		var err error
		if rest == "" {
			p.pos++
			if p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
				item, err = p.node(p.lines[p.pos].indent, indent)
			}
		} else {
			// "- key: value" opens a mapping whose keys line up with "key".
			p.lines[p.pos] = yamlLine{indent: indent + len(l.text) - len(rest), text: rest, num: l.num}
			item, err = p.node(p.lines[p.pos].indent, indent)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	return out, nil
}

func (p *yamlParser) mapping(indent int) (any, error) {
	out := map[string]any{}
	for p.pos < len(p.lines) && p.lines[p.pos].indent == indent && !yamlIsSeqItem(p.lines[p.pos].text) {
		l := p.lines[p.pos]
		key, rest, ok := yamlSplitKey(l.text)
		if !ok {
			return nil, fmt.Errorf("line %d: want key: value, got %q", l.num, l.text)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("line %d: key %q twice", l.num, key)
		}
		p.pos++
		var v any
		var err error
		switch {
		case rest != "":
			v, err = p.scalar(l, rest, indent)
		case p.pos < len(p.lines) && p.lines[p.pos].indent > indent:
			v, err = p.node(p.lines[p.pos].indent, indent)
		case p.pos < len(p.lines) && p.lines[p.pos].indent == indent && yamlIsSeqItem(p.lines[p.pos].text):
			v, err = p.sequence(indent)
		}
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	return out, nil
}

// scalar reads a scalar that starts with text on line l, with its
// continuation lines: those indented deeper than parent.
func (p *yamlParser) scalar(l yamlLine, text string, parent int) (any, error) {
	var more []yamlLine
	for p.pos < len(p.lines) && p.lines[p.pos].indent > parent {
		more = append(more, p.lines[p.pos])
		p.pos++
	}
	switch {
	case text == "{}":
		return map[string]any{}, nil
	case text == "[]":
		return []any{}, nil
	case text[0] == '{' || text[0] == '[':
		return nil, fmt.Errorf("line %d: flow collections are not supported: %q", l.num, text)
	case text[0] == '&' || text[0] == '*' || text[0] == '!':
		return nil, fmt.Errorf("line %d: anchors, aliases and tags are not supported: %q", l.num, text)
	case text[0] == '|' || text[0] == '>':
		var b strings.Builder
		base := -1
		for i, m := range more {
			if base < 0 {
				base = m.indent
			}
			if i > 0 {
				if text[0] == '|' {
					b.WriteByte('\n')
				} else {
					b.WriteByte(' ')
				}
			}
			b.WriteString(strings.Repeat(" ", max(0, m.indent-base)) + m.text)
		}
		if !strings.HasSuffix(text, "-") && len(more) > 0 {
			b.WriteByte('\n')
		}
		return b.String(), nil
	}
	whole := text
	for _, m := range more {
		whole += " " + m.text
	}
	if whole[0] == '"' || whole[0] == '\'' {
		s, err := yamlUnquote(whole)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", l.num, err)
		}
		return s, nil
	}
	return whole, nil
}

func TestComposeYAMLReaderReadsWhatDockerComposeConfigPrints(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // the tree as JSON
	}{
		{
			name: "docker-compose v1 prints sequences level with their key and folds long scalars",
			src: `services:
  temporal:
    command:
    - worker
    environment:
      DB_PORT: '5432'
      EMPTY: ''
      LISTEN: :8080
      SKIP: "true"
    healthcheck:
      test:
      - CMD-SHELL
      - temporal operator cluster health --address $$(hostname -i):7233 | grep -q
        SERVING
    ports:
    - 127.0.0.1:7233:7233/tcp
    - published: 8080
      target: 8080
version: '3.9'
volumes:
  data: {}
`,
			want: `{"services":{"temporal":{"command":["worker"],"environment":{"DB_PORT":"5432","EMPTY":"","LISTEN":":8080","SKIP":"true"},` +
				`"healthcheck":{"test":["CMD-SHELL","temporal operator cluster health --address $$(hostname -i):7233 | grep -q SERVING"]},` +
				`"ports":["127.0.0.1:7233:7233/tcp",{"published":"8080","target":"8080"}]}},"version":"3.9","volumes":{"data":{}}}`,
		},
		{
			name: "docker compose v2 indents sequences and writes block scalars",
			src: `name: alertflow
services:
  one:
    command:
      - sh
      - -c
      - |-
        set -eu
          echo "it's"
    depends_on:
      two:
        condition: service_healthy
        required: true
    ports:
      - mode: ingress
        target: 8080
        published: "8080"
        protocol: tcp
    entrypoint: []
`,
			want: `{"name":"alertflow","services":{"one":{"command":["sh","-c","set -eu\n  echo \"it's\""],` +
				`"depends_on":{"two":{"condition":"service_healthy","required":"true"}},"entrypoint":[],` +
				`"ports":[{"mode":"ingress","protocol":"tcp","published":"8080","target":"8080"}]}}}`,
		},
		{
			name: "quoted keys and escapes",
			src:  "\"a: b\": 'it''s'\nc: \"x\\ty\"\n",
			want: `{"a: b":"it's","c":"x\ty"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := yamlTree(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			var want any
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			if string(g) != string(w) {
				t.Errorf("got  %s\nwant %s", g, w)
			}
		})
	}
	for _, bad := range []string{"a: [1, 2]\n", "a: &x 1\n", "a: 1\na: 2\n", "a:\n  b: 1\n c: 2\n"} {
		t.Run(fmt.Sprintf("%q is refused, not guessed", bad), func(t *testing.T) {
			if got, err := yamlTree(bad); err == nil {
				t.Errorf("read as %v", got)
			}
		})
	}
}
