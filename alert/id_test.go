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

func TestInstanceIDKeepsHomeIDsAndSetsOtherInstancesApart(t *testing.T) {
	if got := InstanceID("", 1, "main"); got != "1-main" {
		t.Fatalf("the home instance's ID is %q, want 1-main as always", got)
	}
	for _, tt := range []struct {
		instance string
		project  int64
		ref      string
		id       string
	}{
		{"", 1, "main", "1-main"},
		{"gitlab-b", 1, "main", "gitlab-b:1-main"},
		{"b", 42, "feature/ümlaut", "b:42-feature/%C3%BCmlaut"},
	} {
		id := InstanceID(tt.instance, tt.project, tt.ref)
		if id != tt.id {
			t.Errorf("InstanceID(%q, %d, %q) = %q, want %q", tt.instance, tt.project, tt.ref, id, tt.id)
		}
		instance, project, ref, err := ParseInstanceID(id)
		if err != nil || instance != tt.instance || project != tt.project || ref != tt.ref {
			t.Errorf("ParseInstanceID(%q) = %q, %d, %q, %v", id, instance, project, ref, err)
		}
	}
	for _, bad := range []string{"gitlab-b", "gitlab-b:", "gitlab-b:main", "Gitlab:1-main", "b:0-main", "-1-main", ":1-main"} {
		if _, _, _, err := ParseInstanceID(bad); !errors.Is(err, ErrBadID) {
			t.Errorf("ParseInstanceID(%q) = %v, want ErrBadID", bad, err)
		}
	}
	for _, bad := range []string{"", "B", "1b", "b_c", "b:c", strings.Repeat("b", 33)} {
		if CheckInstance(bad) == nil {
			t.Errorf("CheckInstance(%q) accepted it", bad)
		}
	}
}
