package route

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
)

// pad repeats s to exactly n bytes.
func pad(s string, n int) string {
	return strings.Repeat(s, n/len(s)+1)[:n]
}

func TestCheckProjectRefusesEachGlobShapeOverALimit(t *testing.T) {
	for _, tt := range []struct {
		name, glob, want string
	}{
		{"30 000 nested braces", strings.Repeat("{", 15000) + strings.Repeat("}", 15000), "30000 bytes, at most 256 (MaxGlobLength)"},
		{"one byte too long", pad("a", MaxGlobLength+1), "257 bytes, at most 256 (MaxGlobLength)"},
		{"braces 3 deep", "{a,{b,{c,d}}}/**", "nests braces 3 deep: at most 2 (MaxGlobBraceDepth)"},
		{"33 alternatives in one group", "{" + strings.Repeat("a,", 32) + "a}", "more than 32 patterns ({a,b}/{c,d} is 4): at most 32 (MaxGlobAlternatives)"},
		{"groups that multiply past 32", strings.Repeat("{a,b}", 6), "more than 32 patterns"},
		{"exponential {*,**}/", strings.Repeat("{*,**}/", 8) + "c", "more than 32 patterns"},
		{"braces that expand past 256 bytes", "{a,b}/" + pad("x", 200), "expands to 2 patterns of 404 bytes in all: at most 256 (MaxGlobLength)"},
		{"5 **", "**/a/**/b/**/c/**/d/**/e", `has 5 "**": at most 4 (MaxGlobDoublestars)`},
		{"5 ** once expanded", "**/a/**/b/**/c/**/d/{**/e,f}", `has 5 "**"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for check, f := range map[string]func(string) error{"CheckProject": CheckProject, "CheckRef": CheckRef} {
				err := f(tt.glob)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: %v, want an error naming %q", check, err, tt.want)
				}
				if err != nil && len(err.Error()) > 2*MaxGlobLength+200 {
					t.Errorf("%s: an error of %d bytes: it quotes a glob over the limit", check, len(err.Error()))
				}
			}
		})
	}
}

func TestCheckProjectAcceptsGlobsAtTheLimits(t *testing.T) {
	for _, glob := range []string{
		pad("a", MaxGlobLength),
		"{a,{b,c}}/**",
		"{" + strings.Repeat("a,", 31) + "a}",
		strings.Repeat("{a,b}", 5),
		"{a,b}/" + pad("x", 122),
		"**/a/**/b/**/c/**/d",
		"{**/a/**/b/**/c/**/d,e}",
		// Escaped braces and those in a class are literal: one pattern.
		`\{a,b\}/\{c,d\}/\{e,f\}/\{g,h\}/\{i,j\}/\{k,l\}`,
		"[{][{][{]a,b[}][}][}]",
		"{a,[,]}/" + strings.Repeat("[,{]", 20),
	} {
		if err := CheckProject(glob); err != nil {
			t.Errorf("CheckProject(%q): %v", glob, err)
		}
	}
}

func TestCompileRefRegexRefusesAnExpressionOverALimit(t *testing.T) {
	for _, tt := range []struct {
		name, expr, want string
	}{
		{"one byte too long", pad("a", MaxRefRegexLength+1), "513 bytes, at most 512 (MaxRefRegexLength)"},
		{"a counted repetition that compiles large", strings.Repeat(`\pL{1,1000}`, 40), "more than 128 instructions (MaxRefRegexInstructions"},
		{"a short expression over the instructions", "[a-z0-9._-]{1,64}", "compiles to more than 128 instructions"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileRefRegex(tt.expr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%v, want an error naming %q", err, tt.want)
			}
		})
	}
	for _, expr := range []string{"main|release/.*", "[a-z0-9._-]{1,60}", pad("a", 120), strings.Repeat("[a-z0-9._-]", 46)} {
		if _, err := CompileRefRegex(expr); err != nil {
			t.Errorf("CompileRefRegex(%q): %v", expr, err)
		}
	}
}

// The limit is checked on a count made from the parse, before compiling:
// it must not fall short of the program Go compiles, or the benchmark's
// worst would not be the worst allowed.
func TestRefRegexInstructionsCountWhatGoCompiles(t *testing.T) {
	for _, expr := range []string{
		"main|release/.*", "[a-z0-9._-]{1,64}", "(?:feature|bugfix)/[A-Z]{2,10}-[0-9]+", `v[0-9]+\.[0-9]+(-rc[0-9]+)?`,
		"(?i)main|master", "a{2,}", "(a{1,30}){1,8}", "x{0}", "(?:)", "[a-z]{3,9}?", "(?:ab){3}", `\bv\d+$`,
		strings.Repeat("a*", 126), strings.Repeat("(a*)*", 51), strings.Repeat("(a|a)*", 63), "(?:.?){84}.{84}",
	} {
		anchored := `^(?:` + expr + `)$`
		re, err := syntax.Parse(anchored, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := 2+instructions(re, 1<<20), len(prog.Inst); got < want || got > want+2 {
			t.Errorf("%q: counted %d instructions, Go compiles %d", expr, got, want)
		}
	}
}

// worstPath is the path the worst globs are matched against: the longest
// GitLab allows, with a "/" every other byte for "**" to retry at, and
// failing at its last byte.
var worstPath = pad("a/", 254) + "b"

// BenchmarkWorstAllowedGlob matches the costliest globs the limits allow
// against a 255-byte path that fails at the end, so every pattern is tried
// in full: identical alternatives ({,} twice is 4 patterns, all alike)
// before a "**" that retries at every "/". Eight patterns of 32 bytes cost
// the most; on the 2-core development machine, about 0.13 ms a match.
func BenchmarkWorstAllowedGlob(b *testing.B) {
	for _, bb := range []struct{ name, glob string }{
		{"one 256-byte pattern", "**/" + pad("a/", 252) + "c"},
		{"8 patterns of 32 bytes", "{,}{,}{,}**/" + pad("a/", 28) + "c"},
		{"32 patterns of 8 bytes", "{,}{,}{,}{,}{,}**/" + pad("a/", 4) + "c"},
		{"8 patterns of stars", "{,}{,}{,}**/" + pad("*a*/", 28) + "c"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			if err := CheckProject(bb.glob); err != nil {
				b.Fatalf("not allowed: %v", err)
			}
			m := Matchers{Project: bb.glob}
			l := Labels{Project: worstPath}
			for b.Loop() {
				if m.Matches(l) {
					b.Fatal("matched")
				}
			}
		})
	}
}

// BenchmarkWorstAllowedRefRegex matches the costliest regular expressions
// the limits allow against a 255-byte ref: Go matches in time linear in
// the ref times the program, so each repeats what keeps the most threads
// alive as often as MaxRefRegexInstructions allows. On the 2-core
// development machine, about 0.2 ms a match at most.
func BenchmarkWorstAllowedRefRegex(b *testing.B) {
	for _, unit := range []string{"a*", "(a*)*", "(a|a)*", "(.*a)"} {
		// The most copies the limits allow.
		var re *regexp.Regexp
		for k := 1; ; k++ {
			next, err := CompileRefRegex(strings.Repeat(unit, k))
			if err != nil {
				break
			}
			re = next
		}
		b.Run(unit+" repeated", func(b *testing.B) {
			m := Matchers{RefRegex: re}
			l := Labels{Ref: pad("a", 254) + "b"}
			for b.Loop() {
				if m.Matches(l) {
					b.Fatal("matched")
				}
			}
		})
	}
}

// An expression that does not stand alone could close the group that
// anchors it and match every ref: it is refused, its error quoting it.
func TestCompileRefRegexRefusesAnExpressionThatEscapesItsAnchors(t *testing.T) {
	for _, expr := range []string{`main)|(.*`, `x)|(?:.*`, `main)|.*|(x`} {
		re, err := CompileRefRegex(expr)
		if err == nil {
			t.Errorf("CompileRefRegex(%q) accepted it: %q matches %q: %v", expr, re, "any-branch", re.MatchString("any-branch"))
			continue
		}
		if !strings.Contains(err.Error(), "bad regular expression") {
			t.Errorf("CompileRefRegex(%q): %v, want a bad regular expression", expr, err)
		}
	}
	if _, err := CompileRefRegex(`(main|release-.*)`); err != nil {
		t.Errorf("a balanced group is refused: %v", err)
	}
}
