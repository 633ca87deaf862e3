package alert

import (
	"errors"
	"testing"
)

// Fuzz targets of alert IDs. Their seed corpus runs with every plain
// `go test`; to search further:
//
//	go test -run '^$' -fuzz '^FuzzIDRoundTrip$' -fuzztime 20s -fuzzminimizetime 2s ./alert
//	go test -run '^$' -fuzz '^FuzzParseID$' -fuzztime 20s -fuzzminimizetime 2s ./alert

// FuzzIDRoundTrip checks that ID builds only printable ASCII (gRPC refuses
// anything else in the header the workflow ID travels in) and that ParseID
// gives back exactly the project and ref it was built from, whatever the
// bytes of the ref, so two alerts never share an ID.
func FuzzIDRoundTrip(f *testing.F) {
	for _, seed := range []struct {
		project int64
		ref     string
	}{
		{1, "master"}, {12, "a"}, {1, "2-a"}, {1, "feature/ümlaut"}, {7, "100%"}, {7, "%41"}, {7, "%"},
		{3, "a\tb\x7f"}, {3, "\xff\xfe"}, {1, "-"}, {1, "1-2-3"}, {9223372036854775807, "x"}, {1, ""}, {0, "x"}, {-1, "x"},
	} {
		f.Add(seed.project, seed.ref)
	}
	f.Fuzz(func(t *testing.T, project int64, ref string) {
		id := ID(project, ref)
		for i := 0; i < len(id); i++ {
			if id[i] < 0x20 || id[i] > 0x7e {
				t.Fatalf("ID(%d, %q) = %q has byte %#x outside printable ASCII", project, ref, id, id[i])
			}
		}
		p, r, err := ParseID(id)
		if project <= 0 || ref == "" {
			if !errors.Is(err, ErrBadID) {
				t.Fatalf("ParseID(ID(%d, %q) = %q) = %d, %q, %v; want ErrBadID", project, ref, id, p, r, err)
			}
			return
		}
		if err != nil || p != project || r != ref {
			t.Fatalf("ParseID(ID(%d, %q) = %q) = %d, %q, %v", project, ref, id, p, r, err)
		}
	})
}

// FuzzParseID checks that ParseID takes any string without panicking, and
// that whatever it accepts names the alert whose ID parses back to it: the
// readable form a person types and the encoded form are the same alert.
func FuzzParseID(f *testing.F) {
	for _, id := range []string{"1-master", "1-feature/%C3%BCmlaut", "1-feature/ümlaut", "1-50%-off", "1-%", "1-%4", "1-%zz",
		"12-a", "1-2-a", "0-a", "01-a", "+1-a", "-1-a", "1-", "-", "", "9223372036854775808-a", "1-\x00"} {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		p, r, err := ParseID(id)
		if err != nil {
			if !errors.Is(err, ErrBadID) {
				t.Fatalf("ParseID(%q) err = %v, want ErrBadID", id, err)
			}
			return
		}
		if p <= 0 || r == "" {
			t.Fatalf("ParseID(%q) = %d, %q: accepted without a positive project and a ref", id, p, r)
		}
		canonical := ID(p, r)
		p2, r2, err := ParseID(canonical)
		if err != nil || p2 != p || r2 != r {
			t.Fatalf("ParseID(%q) = %d, %q, but its ID %q parses to %d, %q, %v", id, p, r, canonical, p2, r2, err)
		}
	})
}
