package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var datedHeading = regexp.MustCompile(`(?m)^#+ .*\b20\d\d-\d\d-\d\d\b.*$`)

// The reference docs say how things are; a dated run belongs in the
// results history (bench/history.md), where it stays as it was written.
func TestReferenceDocsHoldNoDatedRun(t *testing.T) {
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../README.md")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range datedHeading.FindAllString(string(data), -1) {
			t.Errorf("%s: %q is a dated run: move it to bench/history.md", f, h)
		}
	}
	if _, err := os.Stat("../bench/history.md"); err != nil {
		t.Errorf("the results history: %v", err)
	}
}
