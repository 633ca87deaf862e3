package notify

import "unicode/utf8"

// Clip is s in at most n bytes: s itself when it fits, else its longest
// start that ends on a rune boundary followed by "…", so that what a
// pipeline or a person wrote never breaks a receiver's limit or a UTF-8
// sequence.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	return Cut(s, n-len(mark)) + mark
}

// Cut is the longest start of s of at most n bytes that ends on a rune
// boundary.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
