package notify

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClipKeepsWithinTheLimitOnARuneBoundary(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer text", 8, "a lon…"},
		{"ééééé", 8, "éé…"}, // 10 bytes; 5 left for text: two é, not half of a third
		{strings.Repeat("x", 2000), 300, strings.Repeat("x", 297) + "…"},
	} {
		got := Clip(tt.s, tt.n)
		if got != tt.want || len(got) > tt.n || !utf8.ValidString(got) {
			t.Errorf("Clip(%q, %d) = %q (%d bytes), want %q", tt.s, tt.n, got, len(got), tt.want)
		}
	}
	if got := Cut("é", 1); got != "" {
		t.Errorf("Cut(é, 1) = %q, want nothing rather than half a rune", got)
	}
}
