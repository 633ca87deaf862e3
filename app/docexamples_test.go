package app

// The docs' runnable examples run against a real alertflow dev and must
// print what the docs show, so that the first hour's steps cannot drift
// from the product. The rule a doc follows is in
// docs/development.md, "Docs examples are tested".

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/internal/testkit"
)

// runnableMark, on the line right before a ```sh or ```console fence,
// makes the block runnable; GitHub does not show it.
const runnableMark = "<!-- runnable -->"

// docCommand is one command of a runnable example, and what the doc shows
// it prints.
type docCommand struct {
	file     string // as reports name it: README.md, docs/api.md
	line     int    // the command's first line in file
	text     string // the shell text, continuation lines included, without a prompt
	hasWant  bool   // the doc shows an output; without one only the exit status counts
	want     string
	wantLine int
	// mayFail: the next command is `echo $?`, which shows the status
	// the doc expects; any other command must exit 0.
	mayFail bool
}

// parseRunnable returns the commands of src's runnable blocks, in order.
func parseRunnable(file, src string) ([]docCommand, error) {
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	var cmds []docCommand
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != runnableMark {
			continue
		}
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			return nil, fmt.Errorf("%s:%d: %s is not directly followed by a fenced block", file, i+1, runnableMark)
		}
		lang := strings.TrimSpace(strings.TrimPrefix(lines[i+1], "```"))
		start := i + 2
		end := start
		for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
			end++
		}
		if end == len(lines) {
			return nil, fmt.Errorf("%s:%d: the runnable block is never closed", file, i+2)
		}
		var block []docCommand
		var err error
		switch lang {
		case "sh":
			block = parseShBlock(file, lines[start:end], start+1)
		case "console":
			block, err = parseConsoleBlock(file, lines[start:end], start+1)
		default:
			err = fmt.Errorf("%s:%d: only ```sh and ```console blocks run, not ```%s", file, i+2, lang)
		}
		if err != nil {
			return nil, err
		}
		if len(block) == 0 {
			return nil, fmt.Errorf("%s:%d: a runnable block without a command", file, i+2)
		}
		for k := 0; k+1 < len(block); k++ {
			block[k].mayFail = strings.TrimSpace(block[k+1].text) == "echo $?"
		}
		cmds = append(cmds, block...)
		i = end
	}
	return cmds, nil
}

// continued reads the lines a command's trailing backslashes continue,
// from lines[j]; it returns the text and the index of its last line.
func continued(lines []string, j int, first string) (string, int) {
	text := first
	for strings.HasSuffix(strings.TrimRight(lines[j], " \t"), `\`) && j+1 < len(lines) {
		j++
		text += "\n" + lines[j]
	}
	return text, j
}

// addWant appends one line of output the doc shows to c.
func (c *docCommand) addWant(line string, n int) {
	if !c.hasWant {
		c.hasWant, c.wantLine = true, n
		c.want = line
		return
	}
	c.want += "\n" + line
}

// parseShBlock reads a ```sh block: comment lines right after a command
// (no blank line between) are its output; other comments are prose.
func parseShBlock(file string, lines []string, first int) []docCommand {
	var cmds []docCommand
	output := false
	for j := 0; j < len(lines); j++ {
		l := strings.TrimSpace(lines[j])
		switch {
		case l == "":
			output = false
		case strings.HasPrefix(l, "#"):
			if output {
				cmds[len(cmds)-1].addWant(strings.TrimPrefix(strings.TrimPrefix(l, "#"), " "), first+j)
			}
		default:
			c := docCommand{file: file, line: first + j}
			c.text, j = continued(lines, j, lines[j])
			cmds = append(cmds, c)
			output = true
		}
	}
	return cmds
}

// parseConsoleBlock reads a ```console block: "$ " starts a command, and
// the lines up to the next one are its output.
func parseConsoleBlock(file string, lines []string, first int) ([]docCommand, error) {
	var cmds []docCommand
	for j := 0; j < len(lines); j++ {
		l := lines[j]
		switch rest, isCommand := strings.CutPrefix(l, "$ "); {
		case isCommand:
			c := docCommand{file: file, line: first + j}
			c.text, j = continued(lines, j, rest)
			cmds = append(cmds, c)
		case len(cmds) == 0 && strings.TrimSpace(l) != "":
			return nil, fmt.Errorf("%s:%d: output before the first \"$ \" command", file, first+j)
		case len(cmds) > 0 && (strings.TrimSpace(l) != "" || cmds[len(cmds)-1].hasWant):
			cmds[len(cmds)-1].addWant(l, first+j)
		}
	}
	return cmds, nil
}

// ellipsis in an output the doc shows matches any run of characters.
const ellipsis = "…"

// wildcardMatch reports whether s is pattern, each … in it standing for
// any run of characters (line breaks too).
func wildcardMatch(pattern, s string) bool {
	parts := strings.Split(pattern, ellipsis)
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile(`^(?s:` + strings.Join(parts, ".*") + `)$`).MatchString(s)
}

// normalizeOutput is an output as a reader compares it: blank lines, and
// the spacing at the ends of and within lines, do not count.
func normalizeOutput(s string) string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, strings.Join(f, " "))
		}
	}
	return strings.Join(out, "\n")
}

// decodeJSON reads s as exactly one JSON value, numbers kept as written.
func decodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more after the first JSON value")
	}
	return v, nil
}

// matchOutput compares what a command printed with what its doc shows.
// An object or array the doc shows is compared as JSON, so that key order
// and spacing do not count; why then says where the two differ.
func matchOutput(want, got string) (ok bool, why string) {
	w := strings.TrimSpace(want)
	if strings.HasPrefix(w, "{") || strings.HasPrefix(w, "[") {
		if wv, err := decodeJSON(w); err == nil {
			gv, err := decodeJSON(got)
			if err != nil {
				return false, "the doc shows JSON, and the output is not one JSON value: " + err.Error()
			}
			if why := jsonMismatch(wv, gv, "$"); why != "" {
				return false, why
			}
			return true, ""
		}
	}
	return wildcardMatch(normalizeOutput(want), normalizeOutput(got)), ""
}

// jsonMismatch says where got differs from want, "" when it does not.
// In want, the string "…" is any value, a string holding … a pattern, an
// object member "…" allows members it does not name, and an array ending
// in "…" allows more elements.
func jsonMismatch(want, got any, path string) string {
	differ := func() string {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		return fmt.Sprintf("%s is %s where the doc shows %s", path, g, w)
	}
	switch w := want.(type) {
	case string:
		g, ok := got.(string)
		switch {
		case w == ellipsis:
			return ""
		case !ok:
			return differ()
		case strings.Contains(w, ellipsis) && wildcardMatch(w, g), w == g:
			return ""
		}
		return differ()
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return differ()
		}
		for _, k := range slices.Sorted(maps.Keys(w)) {
			if k == ellipsis {
				continue
			}
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s has no %q, which the doc shows", path, k)
			}
			if why := jsonMismatch(w[k], gv, path+"."+k); why != "" {
				return why
			}
		}
		if _, more := w[ellipsis]; !more {
			for _, k := range slices.Sorted(maps.Keys(g)) {
				if _, shown := w[k]; !shown {
					return fmt.Sprintf("%s.%s is printed and the doc does not show it (a member \"…\": \"…\" allows more)", path, k)
				}
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return differ()
		}
		n := len(w)
		more := n > 0 && w[n-1] == ellipsis
		if more {
			n--
		}
		if len(g) < n || (!more && len(g) != n) {
			return fmt.Sprintf("%s has %d elements where the doc shows %d", path, len(g), n)
		}
		for i := range n {
			if why := jsonMismatch(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); why != "" {
				return why
			}
		}
		return ""
	case json.Number:
		g, ok := got.(json.Number)
		if ok && g == w {
			return ""
		}
		if ok {
			wf, _, err1 := big.ParseFloat(string(w), 10, 200, big.ToNearestEven)
			gf, _, err2 := big.ParseFloat(string(g), 10, 200, big.ToNearestEven)
			if err1 == nil && err2 == nil && wf.Cmp(gf) == 0 {
				return ""
			}
		}
		return differ()
	default: // true, false, null
		if want == got {
			return ""
		}
		return differ()
	}
}

// checkRun says how one run of c differs from what its doc shows, naming
// the doc's line and both outputs; nil when it does not.
func checkRun(c docCommand, got string, status int) error {
	if status != 0 && !c.mayFail {
		return fmt.Errorf("%s:%d: %s\nexited %d (show a failing command's status with `echo $?` right after it), printing:\n%s",
			c.file, c.line, c.text, status, indent(got))
	}
	if !c.hasWant {
		return nil
	}
	ok, why := matchOutput(c.want, got)
	if ok {
		return nil
	}
	msg := fmt.Sprintf("%s:%d: %s\nprinted:\n%s\nwhere %s:%d shows:\n%s", c.file, c.line, c.text, indent(got), c.file, c.wantLine, indent(c.want))
	if why != "" {
		msg += "\n" + why
	}
	return errors.New(msg)
}

func indent(s string) string {
	if strings.TrimSpace(s) == "" {
		return "    (nothing)"
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// readOnlyCommand matches the commands that only read: curl without a
// method or body, and the temporal CLI's reading workflow commands.
var (
	readOnlyCommand = regexp.MustCompile(`^(curl\s|(bin/)?temporal workflow (list|count|query|describe|show|result)\s)`)
	curlWrites      = regexp.MustCompile(`\s(-X|--request|-d|--data\S*|-F|--form|-T|--upload-file)\s`)
)

// readsOnly reports whether running text again changes nothing. A person
// runs the next command seconds after the last, by when Temporal's
// visibility has caught up; the test runs it at once, so a reading
// command that does not answer as shown yet is asked again, for a while.
func readsOnly(text string) bool {
	text = strings.TrimSpace(text)
	if !readOnlyCommand.MatchString(text) {
		return false
	}
	return !strings.HasPrefix(text, "curl") || !curlWrites.MatchString(text+" ")
}

// docShell is one bash session: the commands of one document run in it,
// one at a time, so that variables carry from block to block.
type docShell struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	lines    chan string
	stderr   *testkit.Buffer
	dir      string
	sentinel string
	n        int
}

func startDocShell(t *testing.T, dir string, environ []string) *docShell {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	s := &docShell{
		cmd:      exec.Command(bash, "--noprofile", "--norc"),
		lines:    make(chan string, 256),
		stderr:   &testkit.Buffer{},
		dir:      t.TempDir(),
		sentinel: fmt.Sprintf("docs-example-done-%d-%d", os.Getpid(), time.Now().UnixNano()),
	}
	s.cmd.Dir, s.cmd.Env, s.cmd.Stderr = dir, environ, s.stderr
	// A command still running when the shell is stopped may hold the
	// pipes open; they are closed this long after bash ends.
	s.cmd.WaitDelay = 5 * time.Second
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		s.stdin.Close()
		done := make(chan error, 1)
		go func() { done <- s.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
	})
	// pipefail: a failing curl is not hidden by the tee it pipes into.
	// $__rc carries each command's status to the next, for `echo $?`.
	s.send(t, "set -o pipefail; __rc=0")
	return s
}

func (s *docShell) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		t.Fatalf("bash: %v; its stderr:\n%s", err, s.stderr.String())
	}
}

// run runs text as the next command of the session, its stdin empty and
// its stderr in its stdout as a terminal shows them, and returns what it
// printed and its exit status.
func (s *docShell) run(t *testing.T, text string, timeout time.Duration) (string, int) {
	t.Helper()
	s.n++
	path := filepath.Join(s.dir, fmt.Sprintf("command-%d.sh", s.n))
	if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.send(t, fmt.Sprintf(`(exit $__rc); . '%s' </dev/null 2>&1; __rc=$?; printf '\n%s %%d\n' "$__rc"`, path, s.sentinel))
	var got []string
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("bash ended during\n%s\nhaving printed:\n%s\nits stderr:\n%s", text, indent(strings.Join(got, "\n")), s.stderr.String())
			}
			if rest, done := strings.CutPrefix(l, s.sentinel+" "); done {
				status, err := strconv.Atoi(rest)
				if err != nil {
					t.Fatalf("bash: %q", l)
				}
				// The line break printed before the sentinel.
				if n := len(got); n > 0 && got[n-1] == "" {
					got = got[:n-1]
				}
				return strings.Join(got, "\n"), status
			}
			got = append(got, l)
		case <-timer.C:
			t.Fatalf("still running after %s:\n%s\nhaving printed:\n%s", timeout, text, indent(strings.Join(got, "\n")))
		}
	}
}

// docsDev is the alertflow dev the examples run against, and what its
// banner printed.
type docsDev struct {
	url          string // the GitLab webhook URL, token included
	api          string // the REST API's base, http://127.0.0.1:PORT/api/v1
	apiToken     string
	temporalAddr string
}

// startDocsDev runs alertflow dev in this process on free ports (startDev)
// until the test ends, and reads what its banner printed.
func startDocsDev(t *testing.T, bin string) docsDev {
	t.Helper()
	dev := startDev(t, bin)
	listen, stdout := dev.listen, &dev.stdout
	webhookLine := regexp.MustCompile(`GitLab webhook URL:\s+(\S+)`)
	apiLine := regexp.MustCompile(`REST API:\s+curl -H 'Authorization: Bearer ([^']+)' (\S+)/alerts`)
	client := &http.Client{Timeout: 5 * time.Second}
	var d docsDev
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for healthy := false; !healthy; {
		dev.watch()
		w, a := webhookLine.FindStringSubmatch(stdout.String()), apiLine.FindStringSubmatch(stdout.String())
		if w != nil && a != nil {
			d = docsDev{url: w[1], apiToken: a[1], api: a[2], temporalAddr: "127.0.0.1:" + strconv.Itoa(dev.devPort)}
			if resp, err := client.Get("http://" + listen + "/readyz"); err == nil {
				resp.Body.Close()
				healthy = resp.StatusCode == http.StatusOK
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertflow dev not ready within 60s")
		}
		select {
		case code := <-dev.done:
			dev.returned = true
			t.Fatalf("alertflow dev returned %d before it was ready", code)
		case <-tick.C:
		}
	}
	if dev.pid == 0 {
		t.Fatal(`no "temporal dev server starting" log line with a pid on stderr`)
	}
	return d
}

// toolOrSkip skips the test, or fails it in CI, when a tool the examples
// use is missing.
func toolOrSkip(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		msg := "the docs' examples need " + name + ", which is not installed"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// docExamples are the runnable commands of one document. readDocExamples
// returns the documents that hold any: README.md first, then docs/ by
// name (the order a reader follows the links in).
type docExamples struct {
	file string
	cmds []docCommand
}

func readDocExamples(t *testing.T, root string) []docExamples {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	var docs []docExamples
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, path)
		cmds, err := parseRunnable(filepath.ToSlash(rel), string(src))
		if err != nil {
			t.Fatal(err)
		}
		if len(cmds) > 0 {
			docs = append(docs, docExamples{file: filepath.ToSlash(rel), cmds: cmds})
		}
	}
	return docs
}

// The test binary stands in for bin/alertflow in the examples: the same
// run as the binary's main, with no build of the binary needed.
const docsHelperEnv = "ALERTFLOW_DOCS_EXAMPLES_HELPER"

func TestHelperProcessIsTheAlertflowOfTheDocsExamples(t *testing.T) {
	if os.Getenv(docsHelperEnv) != "1" {
		t.Skip("run by the docs' examples as alertflow")
	}
	args := os.Args
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[i+1:]
	}
	os.Exit(run(context.Background(), args, os.Getenv, os.Stdout, os.Stderr))
}

// TestTheDocsRunnableExamplesAnswerAsTheDocsShow runs every runnable
// example of README.md and docs/*.md against one alertflow dev, each
// document in a bash session of its own started in the repository root,
// and compares what each command prints with what the doc shows.
// Documents run one after another, in reading order: docs/api.md works on
// the alert the README's "Try it" leaves. Not parallel, as none of this
// package's tests that start a Temporal server are.
func TestTheDocsRunnableExamplesAnswerAsTheDocsShow(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the docs' examples are bash")
	}
	for _, tool := range []string{"bash", "curl", "sed", "grep", "date"} {
		toolOrSkip(t, tool)
	}
	root, err := filepath.Abs(stackRoot)
	if err != nil {
		t.Fatal(err)
	}
	docs := readDocExamples(t, root)
	// The first hour's documents: losing their marks would pass silently.
	for _, want := range []string{"README.md", "docs/api.md", "docs/silences.md"} {
		if !slices.ContainsFunc(docs, func(d docExamples) bool { return d.file == want }) {
			t.Errorf("%s has no runnable example (%s before a ```sh block)", want, runnableMark)
		}
	}
	bin := temporalBin(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	dev := startDocsDev(t, bin)
	t.Logf("alertflow dev ready in %s", time.Since(started).Round(time.Millisecond))

	// alertflow and temporal on the PATH, and bin/alertflow and
	// bin/temporal as the docs spell them (bash takes a function's name
	// with a slash before a file's): the test binary and the CLI the
	// test was given, whatever the repository's bin/ holds.
	tools := t.TempDir()
	wrapper := fmt.Sprintf("#!/bin/sh\n%s=1 exec '%s' -test.run='^TestHelperProcessIsTheAlertflowOfTheDocsExamples$' -- \"$@\"\n", docsHelperEnv, self)
	if err := os.WriteFile(filepath.Join(tools, "alertflow"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(tools, "temporal")); err != nil {
		t.Fatal(err)
	}
	// The reader's environment, but none of this machine's Temporal or
	// alertflow settings, nor its HOME (the temporal CLI's profile).
	var environ []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TEMPORAL_") || strings.HasPrefix(k, "ALERTFLOW_") ||
			slices.Contains([]string{"HOME", "PATH", "URL", "API", "API_TOKEN", "BASH_ENV", "ENV", "CDPATH"}, k) {
			continue
		}
		environ = append(environ, kv)
	}
	environ = append(environ,
		"HOME="+t.TempDir(),
		"PATH="+tools+string(os.PathListSeparator)+os.Getenv("PATH"),
		// What alertflow dev printed, as the README has the reader set it.
		"URL="+dev.url, "API="+dev.api, "API_TOKEN="+dev.apiToken,
		"TEMPORAL_ADDRESS="+dev.temporalAddr)

	for _, doc := range docs {
		t.Run(doc.file, func(t *testing.T) {
			began := time.Now()
			sh := startDocShell(t, root, environ)
			sh.send(t, `bin/alertflow() { alertflow "$@"; }; bin/temporal() { temporal "$@"; }`)
			for _, c := range doc.cmds {
				if err := runDocCommand(t, sh, c); err != nil {
					// What follows builds on this command.
					t.Fatal(err)
				}
			}
			t.Logf("%d commands in %s", len(doc.cmds), time.Since(began).Round(time.Millisecond))
		})
	}
}

// runDocCommand runs c and checks it; a command that only reads is asked
// again, for up to 15 s, until it answers as its doc shows.
func runDocCommand(t *testing.T, sh *docShell, c docCommand) error {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		got, status := sh.run(t, c.text, time.Minute)
		err := checkRun(c, got, status)
		if err == nil || !readsOnly(c.text) || time.Now().After(deadline) {
			return err
		}
		<-tick.C
	}
}

func TestRunnableBlocksAreReadIntoCommandsAndTheOutputsTheDocShows(t *testing.T) {
	src := strings.Join([]string{
		"# A doc",                           // 1
		"```sh",                             // 2
		"not run",                           // 3
		"```",                               // 4
		runnableMark,                        // 5
		"```sh",                             // 6
		"# prose before a command",          // 7
		"curl -sS -X POST \"$URL\" \\",      // 8
		"  --data-binary @x.json",           // 9
		`# {"action":"signaled",`,           // 10
		`#  "alert_id":"1-master"}`,         // 11
		"",                                  // 12
		"# prose again",                     // 13
		"export A=1",                        // 14
		"false",                             // 15
		"echo $?",                           // 16
		"# 1",                               // 17
		"```",                               // 18
		runnableMark,                        // 19
		"```console",                        // 20
		"$ alertflow routes test f.yaml \\", // 21
		"    --severity HIGH",               // 22
		"team-a-pager",                      // 23
		"",                                  // 24
		"team-a-chat",                       // 25
		"$ true",                            // 26
		"```",                               // 27
	}, "\n")
	got, err := parseRunnable("docs/x.md", src)
	if err != nil {
		t.Fatal(err)
	}
	want := []docCommand{
		{file: "docs/x.md", line: 8, text: "curl -sS -X POST \"$URL\" \\\n  --data-binary @x.json",
			hasWant: true, want: "{\"action\":\"signaled\",\n \"alert_id\":\"1-master\"}", wantLine: 10},
		{file: "docs/x.md", line: 14, text: "export A=1"},
		{file: "docs/x.md", line: 15, text: "false", mayFail: true},
		{file: "docs/x.md", line: 16, text: "echo $?", hasWant: true, want: "1", wantLine: 17},
		{file: "docs/x.md", line: 21, text: "alertflow routes test f.yaml \\\n    --severity HIGH",
			hasWant: true, want: "team-a-pager\n\nteam-a-chat", wantLine: 23},
		{file: "docs/x.md", line: 26, text: "true"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("read\n%+v\nwant\n%+v", got, want)
	}

	for name, bad := range map[string]string{
		"a mark before a yaml block":     runnableMark + "\n```yaml\na: 1\n```\n",
		"a mark before prose":            runnableMark + "\n\n```sh\ntrue\n```\n",
		"a block never closed":           runnableMark + "\n```sh\ntrue\n",
		"a block without a command":      runnableMark + "\n```sh\n# just prose\n```\n",
		"console output before a $ line": runnableMark + "\n```console\nout\n$ true\n```\n",
	} {
		if _, err := parseRunnable("docs/x.md", bad); err == nil || !strings.HasPrefix(err.Error(), "docs/x.md:") {
			t.Errorf("%s: error %v, want one naming docs/x.md and its line", name, err)
		}
	}
}

func TestAnOutputMatchesWhatTheDocShowsUpToSpacingEllipsesAndJSONMemberOrder(t *testing.T) {
	tests := []struct {
		name      string
		want, got string
		ok        bool
	}{
		{"the same text", "deploy/a.yaml: ok (3 receivers, 3 routes)", "deploy/a.yaml: ok (3 receivers, 3 routes)\n", true},
		{"other text", "team-a-pager", "audit\n", false},
		{"a line more", "team-a-pager", "team-a-pager\nteam-a-chat\n", false},
		{"spacing and blank lines do not count", "  Status   Running\nType AlertWorkflow", "\nStatus Running  \n\n  Type    AlertWorkflow\n", true},
		{"… is any run of characters", "Run ID: …, started …", "Run ID: 0a1b, started 3 seconds ago", true},
		{"… spans lines", "Status Running\n…\nType AlertWorkflow", "Status Running\nRunId x\nTaskQueue alertflow\nType AlertWorkflow", true},
		{"… needs the text around it", "Run ID: …, started …", "Run: 0a1b", false},
		{"JSON member order and spacing do not count", `{"a":1,"b":"x"}`, `{ "b": "x", "a": 1 }`, true},
		{"JSON numbers by value", `{"a":1.0}`, `{"a":1}`, true},
		{"a JSON value that differs", `{"action":"signaled"}`, `{"action":"none"}`, false},
		{`"…" is any JSON value`, `{"run_id":"…","n":"…"}`, `{"run_id":"5f0e-77","n":{"x":[1]}}`, true},
		{"a JSON string with … is a pattern", `{"id":"silence-…"}`, `{"id":"silence-6f1c2d"}`, true},
		{"a JSON string pattern that does not match", `{"id":"silence-…"}`, `{"id":"alert-6f1c2d"}`, false},
		{"a JSON member the doc does not show", `{"a":1}`, `{"a":1,"b":2}`, false},
		{`a member "…" allows more`, `{"a":1,"…":"…"}`, `{"a":1,"b":2}`, true},
		{"a JSON member missing", `{"a":1,"b":2}`, `{"a":1}`, false},
		{"a JSON array of other length", `[1,2]`, `[1,2,3]`, false},
		{`an array ending in "…" allows more`, `{"alerts":[{"id":"1-master"},"…"]}`, `{"alerts":[{"id":"1-master"},{"id":"2-main"}]}`, true},
		{"JSON shown, text printed", `{"a":1}`, "curl: (7) Failed to connect", false},
		{"JSON of another type", `{"a":true}`, `{"a":"true"}`, false},
		{"null", `{"a":null}`, `{"a":null}`, true},
	}
	for _, tt := range tests {
		if ok, why := matchOutput(tt.want, tt.got); ok != tt.ok {
			t.Errorf("%s: matchOutput(%q, %q) = %v (%s), want %v", tt.name, tt.want, tt.got, ok, why, tt.ok)
		}
	}
}

func TestAMismatchNamesTheDocsLineAndShowsBothOutputs(t *testing.T) {
	c := docCommand{file: "docs/api.md", line: 40, text: `curl -sS "$API/alerts/1-master"`,
		hasWant: true, want: `{"status":"acknowledged","…":"…"}`, wantLine: 41}
	err := checkRun(c, `{"status":"open","id":"1-master"}`, 0)
	if err == nil {
		t.Fatal("a different status passed")
	}
	for _, w := range []string{"docs/api.md:40", `curl -sS "$API/alerts/1-master"`, `{"status":"open","id":"1-master"}`,
		"docs/api.md:41", `{"status":"acknowledged","…":"…"}`, `$.status is "open" where the doc shows "acknowledged"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the report does not say %q:\n%s", w, err)
		}
	}
	if err := checkRun(c, `{"status":"acknowledged","id":"1-master"}`, 0); err != nil {
		t.Errorf("a matching output failed: %v", err)
	}

	// A non-zero exit fails, output shown or not, unless `echo $?` follows.
	quiet := docCommand{file: "README.md", line: 7, text: "bin/temporal workflow list"}
	if err := checkRun(quiet, "Error: connection refused", 1); err == nil ||
		!strings.Contains(err.Error(), "README.md:7") || !strings.Contains(err.Error(), "exited 1") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("a failing command without `echo $?` after it: %v", err)
	}
	quiet.mayFail = true
	if err := checkRun(quiet, "Error: connection refused", 1); err != nil {
		t.Errorf("a failing command with `echo $?` after it: %v", err)
	}
}

func TestOnlyCommandsThatReadAreAskedAgain(t *testing.T) {
	for text, want := range map[string]bool{
		`curl -sS -H "Authorization: Bearer $API_TOKEN" "$API/alerts?status=open"`:                                true,
		`curl -sS -X POST -H 'Content-Type: application/json' -d '{"by":"alice"}' "$API/alerts/1-master/resolve"`: false,
		"curl -sS -X POST \"$URL\" \\\n  --data-binary @/tmp/p.json":                                              false,
		`curl -sS -X DELETE "$API/silences/$ID?by=alice"`:                                                         false,
		`bin/temporal workflow list --query "AlertStatus='open'"`:                                                 true,
		`bin/temporal workflow query --workflow-id 1-master --name state`:                                         true,
		`bin/temporal workflow describe --workflow-id 1-master`:                                                   true,
		`bin/temporal workflow update execute --workflow-id 1-master --name acknowledge`:                          false,
		`bin/temporal workflow signal --workflow-id 1-master --name resolve`:                                      false,
		`sed 's/a/b/' x > y`: false,
	} {
		if got := readsOnly(text); got != want {
			t.Errorf("readsOnly(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestADocsShellKeepsVariablesAndStatusesFromCommandToCommand(t *testing.T) {
	toolOrSkip(t, "bash")
	sh := startDocShell(t, t.TempDir(), []string{"PATH=" + os.Getenv("PATH")})
	for _, step := range []struct {
		text   string
		want   string
		status int
	}{
		{"X=carried", "", 0},
		{`echo "$X"; echo to-stderr >&2`, "carried\nto-stderr", 0},
		{"printf 'no newline'", "no newline", 0},
		{"cat", "", 0}, // reads nothing: stdin is not the session's
		{"false | true", "", 1},
		{"echo $?", "1", 0},
	} {
		got, status := sh.run(t, step.text, 10*time.Second)
		if got != step.want || status != step.status {
			t.Errorf("%s: printed %q, exit %d; want %q, exit %d", step.text, got, status, step.want, step.status)
		}
	}
}

// TestTheDocsRunnableExamplesAreWellFormed needs no server: a mark on the
// wrong block, or an output that looks like JSON and is not (it would be
// compared as text, member order and all), fails here first.
func TestTheDocsRunnableExamplesAreWellFormed(t *testing.T) {
	n := 0
	for _, doc := range readDocExamples(t, stackRoot) {
		for _, c := range doc.cmds {
			n++
			w := strings.TrimSpace(c.want)
			if strings.HasPrefix(w, "{") || strings.HasPrefix(w, "[") {
				if _, err := decodeJSON(w); err != nil {
					t.Errorf("%s:%d: the output shown looks like JSON and is not: %v", c.file, c.wantLine, err)
				}
			}
		}
	}
	if n == 0 {
		t.Error("no runnable example in README.md or docs/")
	}
}
