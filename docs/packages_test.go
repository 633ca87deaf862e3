// Package docs holds no code: its tests keep the documentation's claims
// about the code true, so that a package added, moved or removed fails
// the build until the docs say so.
package docs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/alertflow/alertflow"

// goList lists the module's packages as paths relative to its root.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	var pkgs []string
	for _, p := range strings.Fields(string(out)) {
		if rel, ok := strings.CutPrefix(p, module+"/"); ok {
			pkgs = append(pkgs, rel)
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no package of the module")
	}
	return pkgs
}

// row is one row of a table: the directories its first cell names
// (`alert/`), and its whole text.
type row struct {
	dirs []string
	text string
}

var quotedDir = regexp.MustCompile("`([a-z][a-z0-9/._-]*)`")

// table reads the rows of the first table after the line that starts
// with heading.
func table(t *testing.T, file, heading string) []row {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rows []row
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case !in && strings.HasPrefix(line, heading):
			in = true
		case in && strings.HasPrefix(line, "|"):
			cells := strings.Split(line, "|")
			if len(cells) < 3 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
				continue
			}
			var r row
			for _, m := range quotedDir.FindAllStringSubmatch(cells[1], -1) {
				// A name with a slash is a directory, and must be one;
				// one without is a directory only when it is one.
				d := m[1]
				if !strings.HasSuffix(d, "/") {
					if fi, err := os.Stat(filepath.Join("..", d)); err != nil || !fi.IsDir() {
						continue
					}
					d += "/"
				}
				r.dirs = append(r.dirs, d)
			}
			r.text = line
			rows = append(rows, r)
		case in && len(rows) > 0:
			return rows
		}
	}
	if len(rows) == 0 {
		t.Fatalf("%s has no table after %q", file, heading)
	}
	return rows
}

// Every package of the module has a row in development.md's layout: its
// own, or its parent's row names it.
func TestTheLayoutNamesEveryPackage(t *testing.T) {
	rows := table(t, "development.md", "## Layout")
	for _, pkg := range goList(t, "./...") {
		if !layoutNames(rows, pkg) {
			t.Errorf("docs/development.md's layout has no row for %s/, and no row of a parent names it", pkg)
		}
	}
	checkDirsExist(t, "development.md", rows)
}

func layoutNames(rows []row, pkg string) bool {
	for _, r := range rows {
		for _, d := range r.dirs {
			if d == pkg+"/" {
				return true
			}
			if strings.HasPrefix(pkg+"/", d) && (strings.Contains(r.text, "`"+pkg+"`") || strings.Contains(r.text, "`"+pkg+"/`") ||
				strings.Contains(r.text, "`"+strings.TrimPrefix(pkg, d)+"/`") || strings.Contains(r.text, "`"+strings.TrimPrefix(pkg, d)+"`")) {
				return true
			}
		}
	}
	return false
}

// Every package the binary is built of has its top directory in
// design.md's table of packages, which says why each is apart.
func TestTheDesignNamesEveryPackageOfTheBinary(t *testing.T) {
	rows := table(t, "design.md", "| package |")
	var listed []string
	for _, r := range rows {
		listed = append(listed, r.dirs...)
	}
	for _, pkg := range goList(t, "-deps", "./cmd/alertflow") {
		top, _, _ := strings.Cut(pkg, "/")
		if !slices.Contains(listed, top+"/") && !slices.Contains(listed, pkg+"/") {
			t.Errorf("docs/design.md's table of packages has no row for %s/ (the binary imports %s)", top, pkg)
		}
	}
	checkDirsExist(t, "design.md", rows)
}

func checkDirsExist(t *testing.T, file string, rows []row) {
	t.Helper()
	for _, r := range rows {
		for _, d := range r.dirs {
			if fi, err := os.Stat(filepath.Join("..", d)); err != nil || !fi.IsDir() {
				t.Errorf("docs/%s names %s, which is not a directory", file, d)
			}
		}
	}
}
