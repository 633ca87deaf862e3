package alert

import (
	"errors"
	"strings"
	"testing"
)

func TestIDEncodesOnlyWhatGRPCRefuses(t *testing.T) {
	tests := []struct {
		name    string
		project int64
		ref     string
		want    string
	}{
		{"a plain branch stays readable", 1, "master", "1-master"},
		{"slashes and dashes stay readable", 1, "team/feature-x", "1-team/feature-x"},
		{"a ref that starts with digits and a dash stays readable", 1, "2-a", "1-2-a"},
		{"non-ASCII bytes are percent-encoded", 1, "feature/ümlaut", "1-feature/%C3%BCmlaut"},
		{"a percent sign is encoded so decoding is unambiguous", 7, "100%", "7-100%25"},
		{"control characters are encoded", 3, "a\tb\x7f", "3-a%09b%7F"},
		{"spaces are printable ASCII and stay", 3, "a b", "3-a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ID(tt.project, tt.ref)
			if got != tt.want {
				t.Fatalf("ID(%d, %q) = %q, want %q", tt.project, tt.ref, got, tt.want)
			}
			for i := 0; i < len(got); i++ {
				if got[i] < 0x20 || got[i] > 0x7e {
					t.Fatalf("ID %q has byte %#x outside printable ASCII", got, got[i])
				}
			}
			p, r, err := ParseID(got)
			if err != nil || p != tt.project || r != tt.ref {
				t.Fatalf("ParseID(%q) = %d, %q, %v; want %d, %q", got, p, r, err, tt.project, tt.ref)
			}
		})
	}
}

func TestParseIDAcceptsTheReadableForm(t *testing.T) {
	p, r, err := ParseID("1-feature/ümlaut")
	if err != nil || p != 1 || r != "feature/ümlaut" {
		t.Fatalf("ParseID = %d, %q, %v", p, r, err)
	}
	p, r, err = ParseID("1-50%-off")
	if err != nil || p != 1 || r != "50%-off" {
		t.Fatalf("a lone percent sign must be literal: %d, %q, %v", p, r, err)
	}
}

func TestParseIDRejectsWhatIDCannotBuild(t *testing.T) {
	for _, id := range []string{"", "master", "1-", "-master", "0-master", "-1-master", "+1-master", "01-master", "x-master", strings.Repeat("9", 30) + "-a"} {
		if _, _, err := ParseID(id); !errors.Is(err, ErrBadID) {
			t.Errorf("ParseID(%q) err = %v, want ErrBadID", id, err)
		}
	}
}

func TestProjectTwelveRefAAndProjectOneRefTwoDashANeverCollide(t *testing.T) {
	a, b := ID(12, "a"), ID(1, "2-a")
	if a == b {
		t.Fatalf("both are %q", a)
	}
	if a != "12-a" || b != "1-2-a" {
		t.Fatalf("IDs %q and %q", a, b)
	}
}
