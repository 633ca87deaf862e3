package app

// The Dockerfile builds the binary the stack runs, the way it must run.

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

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
