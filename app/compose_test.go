package app

// docker-compose.yml, read the way Compose reads it: `docker-compose config`
// (or `docker compose config`) interpolates .env.example into it and prints
// the resolved stack, which go.yaml.in/yaml/v3 decodes. No engine is needed
// for that. Without docker-compose these checks skip, unless CI is set;
// `make test` installs it.
//
// The checks read the services from the file: alertflow's are the ones
// built from the repository's Dockerfile, each known by the command it runs, and
// Temporal's is the one their TEMPORAL_ADDRESS names.

import (
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The commands of the binary that run a worker, and an intake.
var (
	workerCommands = []string{"worker", "serve"}
	intakeCommands = []string{"ingress", "serve"}
)

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

// composeFile is the part of a resolved docker-compose.yml the checks
// look at.
type composeFile struct {
	Services map[string]composeServiceYAML `yaml:"services"`
}

// composeServiceYAML is one service as Compose prints it. Fields that
// Compose may print in a short or a long form stay yaml.Node or any.
type composeServiceYAML struct {
	Image       string    `yaml:"image"`
	Build       any       `yaml:"build"`
	Command     yaml.Node `yaml:"command"`
	Environment yaml.Node `yaml:"environment"`
	Ports       []any     `yaml:"ports"`
	DependsOn   yaml.Node `yaml:"depends_on"`
	Healthcheck struct {
		Test yaml.Node `yaml:"test"`
	} `yaml:"healthcheck"`
	Volumes []any `yaml:"volumes"`
}

var stackOnce struct {
	sync.Once
	services map[string]composeService
	err      error
}

// composeService is the part of one service the checks look at.
type composeService struct {
	image string
	build bool
	// ownImage says that it is built from the repository's Dockerfile:
	// the image of this binary.
	ownImage    bool
	command     []string
	environment map[string]string
	ports       []composePort
	dependsOn   map[string]string // service -> condition
	healthcheck string            // the test, joined by spaces
	mounts      []string          // host paths of bind mounts
}

type composePort struct{ published, target string }

// composeServices are the services of docker-compose.yml as Compose
// resolves it with .env.example.
func composeServices(t *testing.T) map[string]composeService {
	t.Helper()
	envFile, err := filepath.Abs(filepath.Join(stackRoot, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	composeCommand(t) // skips, or fails in CI, before the Once
	stackOnce.Do(func() {
		out, err := composeConfig(t, envFile)
		if err != nil {
			stackOnce.err = err
			return
		}
		var f composeFile
		if err := yaml.Unmarshal([]byte(out), &f); err != nil {
			stackOnce.err = fmt.Errorf("reading the output of docker-compose config: %w\n%s", err, out)
			return
		}
		if len(f.Services) == 0 {
			stackOnce.err = fmt.Errorf("docker-compose config printed no services:\n%s", out)
			return
		}
		stackOnce.services = make(map[string]composeService)
		for name, s := range f.Services {
			if stackOnce.services[name], err = s.service(); err != nil {
				stackOnce.err = fmt.Errorf("service %s: %w", name, err)
				return
			}
		}
	})
	if stackOnce.err != nil {
		t.Fatal(stackOnce.err)
	}
	return stackOnce.services
}

// service turns what Compose printed into what the checks look at.
func (y composeServiceYAML) service() (composeService, error) {
	s := composeService{
		image:       y.Image,
		build:       y.Build != nil,
		ownImage:    y.ownImage(),
		environment: make(map[string]string),
		dependsOn:   make(map[string]string),
	}
	var err error
	if s.command, err = words(y.Command); err != nil {
		return s, fmt.Errorf("command: %w", err)
	}
	test, err := words(y.Healthcheck.Test)
	if err != nil {
		return s, fmt.Errorf("healthcheck: %w", err)
	}
	s.healthcheck = strings.Join(test, " ")
	// environment: a map, or a list of NAME=value.
	switch y.Environment.Kind {
	case yaml.MappingNode:
		var env map[string]*string
		if err := y.Environment.Decode(&env); err != nil {
			return s, fmt.Errorf("environment: %w", err)
		}
		for k, v := range env {
			if v != nil {
				s.environment[k] = *v
			} else {
				s.environment[k] = ""
			}
		}
	case yaml.SequenceNode:
		var env []string
		if err := y.Environment.Decode(&env); err != nil {
			return s, fmt.Errorf("environment: %w", err)
		}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			s.environment[k] = v
		}
	}
	// depends_on: a map of service to {condition}, or a list of services.
	switch y.DependsOn.Kind {
	case yaml.MappingNode:
		var deps map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := y.DependsOn.Decode(&deps); err != nil {
			return s, fmt.Errorf("depends_on: %w", err)
		}
		for dep, o := range deps {
			s.dependsOn[dep] = o.Condition
		}
	case yaml.SequenceNode:
		var deps []string
		if err := y.DependsOn.Decode(&deps); err != nil {
			return s, fmt.Errorf("depends_on: %w", err)
		}
		for _, dep := range deps {
			s.dependsOn[dep] = "service_started"
		}
	}
	for _, p := range y.Ports {
		s.ports = append(s.ports, parsePort(p))
	}
	for _, v := range y.Volumes {
		switch v := v.(type) {
		case string: // /host/path:/container/path:ro, or volume:/path
			if src, _, ok := strings.Cut(v, ":"); ok && filepath.IsAbs(src) {
				s.mounts = append(s.mounts, src)
			}
		case map[string]any:
			if fmt.Sprint(v["type"]) == "bind" {
				s.mounts = append(s.mounts, fmt.Sprint(v["source"]))
			}
		}
	}
	return s, nil
}

// ownImage reports whether the service is built from the Dockerfile at the
// root of the repository, which builds this binary. Compose prints build
// as a context path, or as {context, dockerfile}.
func (y composeServiceYAML) ownImage() bool {
	root, err := filepath.Abs(stackRoot)
	if err != nil {
		return false
	}
	context, dockerfile := "", "Dockerfile"
	switch b := y.Build.(type) {
	case string:
		context = b
	case map[string]any:
		context = fmt.Sprint(b["context"])
		if d, ok := b["dockerfile"].(string); ok {
			dockerfile = d
		}
	}
	if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(context, dockerfile)
	}
	return filepath.Clean(context) == root && filepath.Clean(dockerfile) == filepath.Join(root, "Dockerfile")
}

// words is a command or a healthcheck test, given as a list or a string.
func words(n yaml.Node) ([]string, error) {
	switch n.Kind {
	case 0:
		return nil, nil
	case yaml.ScalarNode:
		return strings.Fields(n.Value), nil
	}
	var list []string
	err := n.Decode(&list)
	return list, err
}

// parsePort reads "8080:8080", "127.0.0.1:7233:7233/tcp" or the long
// form {published, target}.
func parsePort(v any) composePort {
	if m, ok := v.(map[string]any); ok {
		return composePort{published: fmt.Sprint(m["published"]), target: fmt.Sprint(m["target"])}
	}
	s, _, _ := strings.Cut(fmt.Sprint(v), "/")
	parts := strings.Split(s, ":")
	p := composePort{target: parts[len(parts)-1]}
	if len(parts) > 1 {
		p.published = parts[len(parts)-2]
	}
	return p
}

// theStack is docker-compose.yml's services sorted by role.
type theStack struct {
	services map[string]composeService
	// alertflow are the services built from this repository's Dockerfile.
	alertflow []string
	// workers and intakes are those of them that run a worker or an intake.
	workers, intakes []string
	// temporal is the service whose frontend alertflow's services reach,
	// and temporalAddress that address.
	temporal, temporalAddress string
}

func readStack(t *testing.T) theStack {
	t.Helper()
	st := theStack{services: composeServices(t)}
	for name, s := range st.services {
		if !s.ownImage {
			continue
		}
		st.alertflow = append(st.alertflow, name)
		if len(s.command) == 1 && slices.Contains(workerCommands, s.command[0]) {
			st.workers = append(st.workers, name)
		}
		if len(s.command) == 1 && slices.Contains(intakeCommands, s.command[0]) {
			st.intakes = append(st.intakes, name)
		}
	}
	slices.Sort(st.alertflow)
	slices.Sort(st.workers)
	slices.Sort(st.intakes)
	if len(st.workers) == 0 || len(st.intakes) == 0 {
		t.Fatalf("docker-compose.yml builds %q from the Dockerfile: want a service that runs a worker (%q) and one that runs the intake (%q)",
			st.alertflow, workerCommands, intakeCommands)
	}
	st.temporalAddress = st.services[st.alertflow[0]].environment["TEMPORAL_ADDRESS"]
	host, _, err := net.SplitHostPort(st.temporalAddress)
	if err != nil {
		t.Fatalf("%s: TEMPORAL_ADDRESS=%q is not host:port: %v", st.alertflow[0], st.temporalAddress, err)
	}
	if _, ok := st.services[host]; !ok {
		t.Fatalf("%s: TEMPORAL_ADDRESS=%q names no service of docker-compose.yml", st.alertflow[0], st.temporalAddress)
	}
	st.temporal = host
	return st
}

// composeConfigOf is the configuration the binary makes of a service's
// environment.
func composeConfigOf(t *testing.T, name string, s composeService) config {
	t.Helper()
	// .env.example's CHANGE-ME, which alertflow refuses, as a person
	// who followed its first line replaced it.
	edited := func(k string) string {
		return strings.ReplaceAll(s.environment[k], "CHANGE-ME", "0f3a9c1d2e4b5a6978c0d1e2f3a4b5c6")
	}
	cfg, _, err := loadConfig(s.command[0], nil, edited, io.Discard)
	if err != nil {
		t.Fatalf("alertflow %s refuses the environment of %s: %v", s.command[0], name, err)
	}
	return cfg
}

func TestComposeStackRunsAlertflowTheWayTheBinaryExpects(t *testing.T) {
	st := readStack(t)
	svcs := st.services
	known := settingsByName()
	for _, name := range st.alertflow {
		s := svcs[name]
		t.Run(name+" runs a command the binary knows", func(t *testing.T) {
			if len(s.command) != 1 || !binaryKnowsCommand(s.command[0]) {
				t.Fatalf("%s runs %q, want one command of alertflow", name, s.command)
			}
		})
		if len(s.command) != 1 {
			continue
		}
		t.Run(name+" sets only variables that alertflow reads", func(t *testing.T) {
			for k := range s.environment {
				if _, ok := known[k]; !ok {
					t.Errorf("%s sets %s, which no setting of alertflow reads; a typo?", name, k)
				}
			}
		})
		t.Run(name+" has an environment alertflow "+s.command[0]+" accepts", func(t *testing.T) {
			composeConfigOf(t, name, s)
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
		{"every intake publishes the port ALERTFLOW_LISTEN listens on", func(t *testing.T) {
			for _, name := range st.intakes {
				s := svcs[name]
				_, port, err := net.SplitHostPort(composeConfigOf(t, name, s).Listen)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.ContainsFunc(s.ports, func(p composePort) bool { return p.target == port }) {
					t.Errorf("%s publishes %+v, none to container port %s of ALERTFLOW_LISTEN=%q", name, s.ports, port, s.environment["ALERTFLOW_LISTEN"])
				}
			}
		}},
		{"every Temporal client of the stack connects to the same frontend, which is health-checked", func(t *testing.T) {
			for name, s := range svcs {
				for _, k := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_CLI_ADDRESS"} {
					if v, ok := s.environment[k]; ok && v != st.temporalAddress {
						t.Errorf("%s: %s=%q, want %q as %s has", name, k, v, st.temporalAddress, st.alertflow[0])
					}
				}
			}
			_, port, _ := net.SplitHostPort(st.temporalAddress)
			if !strings.Contains(svcs[st.temporal].healthcheck, ":"+port) {
				t.Errorf("the %s service's healthcheck %q does not probe its frontend on %s", st.temporal, svcs[st.temporal].healthcheck, port)
			}
		}},
		{"the intake gets the webhook and API tokens and a worker alone does not", func(t *testing.T) {
			for _, k := range []string{"ALERTFLOW_SOURCE_TOKENS", "ALERTFLOW_API_TOKEN"} {
				for _, name := range st.intakes {
					if svcs[name].environment[k] == "" {
						t.Errorf("%s does not get %s", name, k)
					}
				}
				for _, name := range st.workers {
					if _, ok := svcs[name].environment[k]; ok && !slices.Contains(st.intakes, name) {
						t.Errorf("%s gets %s, which only the intake uses", name, k)
					}
				}
			}
		}},
		{"the worker gets the notification settings and an intake alone does not", func(t *testing.T) {
			for _, k := range []string{"ALERTFLOW_NOTIFY_WEBHOOK_URL", "ALERTFLOW_NOTIFY_WEBHOOK_SECRET", "ALERTFLOW_SLACK_WEBHOOK_URL"} {
				for _, name := range st.workers {
					if _, ok := svcs[name].environment[k]; !ok {
						t.Errorf("%s does not get %s", name, k)
					}
				}
				for _, name := range st.intakes {
					if _, ok := svcs[name].environment[k]; ok && !slices.Contains(st.workers, name) {
						t.Errorf("%s gets %s, which only the worker uses", name, k)
					}
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
		{"every service of alertflow's image builds it from this repository", func(t *testing.T) {
			image := svcs[st.alertflow[0]].image
			for name, s := range svcs {
				if image != "" && s.image == image && !s.ownImage {
					t.Errorf("%s runs %s without build: it would not run this code", name, image)
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
	st := readStack(t)
	svcs := st.services
	// setUp are the services others wait on to complete: one-shot steps
	// such as creating the schemas or the namespace. Those that depend on
	// Temporal run against it; the others prepare it.
	var setUp, onTemporal []string
	for _, s := range svcs {
		for dep, cond := range s.dependsOn {
			if cond == "service_completed_successfully" && !slices.Contains(setUp, dep) {
				setUp = append(setUp, dep)
				if _, ok := svcs[dep].dependsOn[st.temporal]; ok {
					onTemporal = append(onTemporal, dep)
				}
			}
		}
	}
	waits := func(t *testing.T, service, dependency, condition string) {
		t.Helper()
		got, ok := svcs[service].dependsOn[dependency]
		if !ok {
			t.Errorf("%s does not depend on %s", service, dependency)
		} else if got != condition {
			t.Errorf("%s depends on %s with condition %q, want %q", service, dependency, got, condition)
		}
	}
	t.Run("every service that depends on Temporal waits until it is healthy", func(t *testing.T) {
		for name, s := range svcs {
			if cond, ok := s.dependsOn[st.temporal]; ok && cond != "service_healthy" {
				t.Errorf("%s depends on %s with condition %q, want service_healthy", name, st.temporal, cond)
			}
		}
	})
	t.Run("Temporal waits until what it depends on is healthy or has completed", func(t *testing.T) {
		if len(svcs[st.temporal].dependsOn) == 0 {
			t.Errorf("%s depends on nothing: it would start before its database", st.temporal)
		}
		for dep, cond := range svcs[st.temporal].dependsOn {
			if cond != "service_healthy" && cond != "service_completed_successfully" {
				t.Errorf("%s depends on %s with condition %q, want service_healthy or service_completed_successfully", st.temporal, dep, cond)
			}
		}
	})
	t.Run("a worker waits until Temporal is healthy and every set-up step on it has completed", func(t *testing.T) {
		for _, name := range st.workers {
			waits(t, name, st.temporal, "service_healthy")
			for _, o := range onTemporal {
				waits(t, name, o, "service_completed_successfully")
			}
		}
	})
	t.Run("an intake alone waits until a worker is healthy, which registers the search attributes it sets", func(t *testing.T) {
		for _, name := range st.intakes {
			if slices.Contains(st.workers, name) {
				continue
			}
			if !slices.ContainsFunc(st.workers, func(w string) bool { return svcs[name].dependsOn[w] == "service_healthy" }) {
				t.Errorf("%s waits for none of the workers %q to be healthy: %v", name, st.workers, svcs[name].dependsOn)
			}
			for _, o := range onTemporal {
				waits(t, name, o, "service_completed_successfully")
			}
		}
	})
	t.Run("every set-up step waits until what it depends on is healthy or has completed", func(t *testing.T) {
		for _, o := range setUp {
			for dep, cond := range svcs[o].dependsOn {
				if cond != "service_healthy" && cond != "service_completed_successfully" {
					t.Errorf("%s depends on %s with condition %q, want service_healthy or service_completed_successfully", o, dep, cond)
				}
			}
		}
	})
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

func TestComposeStackWithAnUneditedEnvExampleStopsNamingEachSecret(t *testing.T) {
	st := readStack(t)
	for _, name := range st.intakes {
		s := st.services[name]
		for _, secret := range []string{"ALERTFLOW_SOURCE_TOKENS", "ALERTFLOW_API_TOKEN"} {
			env := maps.Clone(s.environment)
			env[secret] = strings.ReplaceAll(env[secret], "0f3a9c1d2e4b5a6978c0d1e2f3a4b5c6", "CHANGE-ME")
			for k, v := range env {
				if k != secret {
					env[k] = strings.ReplaceAll(v, "CHANGE-ME", "0f3a9c1d2e4b5a6978c0d1e2f3a4b5c6")
				}
			}
			_, _, err := loadConfig(s.command[0], nil, func(k string) string { return env[k] }, io.Discard)
			if err == nil || !strings.HasPrefix(err.Error(), secret+":") || !strings.Contains(err.Error(), "placeholder") {
				t.Errorf("%s with %s left at CHANGE-ME: %v; want a start-up error naming %s", name, secret, err, secret)
			}
		}
	}
	// The database password: the stack's schema step stops before any
	// database is made with it (the tool is one that would succeed).
	cmd := exec.Command("sh", filepath.Join(stackRoot, "deploy", "temporal-schema.sh"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "POSTGRES_SEEDS=127.0.0.1", "POSTGRES_PWD=CHANGE-ME", "TEMPORAL_SQL_TOOL=true"}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "POSTGRES_PASSWORD") || !strings.Contains(string(out), "placeholder") {
		t.Errorf("deploy/temporal-schema.sh with POSTGRES_PWD=CHANGE-ME: %v, %s; want it to stop naming POSTGRES_PASSWORD", err, out)
	}
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
