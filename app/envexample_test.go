package app

// .env.example: every setting of alertflow is in it, and nothing else.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

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

// docs/operations.md's settings table is the operator's list of every
// setting: one the code reads that the table lacks is a drift.
func TestTheOperationsSettingsTableListsEverySetting(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(stackRoot, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings() {
		if !strings.Contains(string(page), "\n| `"+s.env+"` |") {
			t.Errorf("docs/operations.md's settings table has no row for %s (default %q: %s)", s.env, s.def, s.help)
		}
	}
}
