package route

// Bounds on what a matcher may cost. Routes and silences share them: a
// silence is made through the REST API by anyone who can reach it, and its
// matchers run against every alert that notifies while it lasts.

import (
	"fmt"
	"regexp/syntax"

	"github.com/bmatcuk/doublestar/v4"
)

// The limits on a glob (project, ref). doublestar tries each pattern a
// glob's braces expand to in turn, and each costs up to its length times
// the path's length ("**" retries at every "/", "*" at every byte), so
// bounding the expanded patterns bounds a match: the worst glob these allow
// takes about 0.15 ms against a 255-byte path (BenchmarkWorstAllowedGlob).
const (
	// MaxGlobLength bounds a glob as written, and the patterns its braces
	// expand to together ({a,b}/c is a/c and b/c: 6 bytes).
	MaxGlobLength = 256
	// MaxGlobBraceDepth bounds the nesting of braces: {a,{b,c}} is 2 deep.
	MaxGlobBraceDepth = 2
	// MaxGlobAlternatives bounds the patterns a glob's braces expand to:
	// {a,b}/{c,d} is 4.
	MaxGlobAlternatives = 32
	// MaxGlobDoublestars bounds the "**" in any pattern a glob expands to.
	// doublestar returns to the last "**" only, so today more would cost
	// little; the bound keeps that true should it ever backtrack over each.
	MaxGlobDoublestars = 4
)

// The limits on a ref_regex. Go's regular expressions match in time linear
// in the ref, times the size of the compiled program, which a counted
// repetition multiplies: \pL{1,1000} is 11 bytes and 2 000 instructions,
// and 40 of them take 85 ms to compile and 35 ms a match. The worst
// program these allow takes about 0.2 ms against a 255-byte ref
// (BenchmarkWorstAllowedRefRegex).
const (
	// MaxRefRegexLength bounds a regular expression as written.
	MaxRefRegexLength = 512
	// MaxRefRegexInstructions bounds its compiled program: about one
	// instruction per character (a class such as [a-z0-9._-] is one),
	// and a repetition such as {10} repeats what it counts
	// (main|release/.* is 19, [a-z0-9._-]{1,64} is 131).
	MaxRefRegexInstructions = 128
)

// MaxMatcherValues bounds one set of matchers (a route's match, a
// silence's matchers): each key given counts one, and each element of a
// list (project_id, source, severity) one.
const MaxMatcherValues = 64

// checkGlob says whether glob is well formed and within the glob limits.
// A glob over a limit is quoted only when short enough to read.
func checkGlob(glob string) error {
	if len(glob) > MaxGlobLength {
		return fmt.Errorf("glob too long: %d bytes, at most %d (MaxGlobLength)", len(glob), MaxGlobLength)
	}
	if !doublestar.ValidatePattern(glob) {
		return fmt.Errorf("bad glob %q", glob)
	}
	g := globExpander{s: glob}
	patterns := g.seq()
	switch {
	case g.maxDepth > MaxGlobBraceDepth:
		return fmt.Errorf("glob %q nests braces %d deep: at most %d (MaxGlobBraceDepth)", glob, g.maxDepth, MaxGlobBraceDepth)
	case g.tooMany:
		return fmt.Errorf("glob %q expands to more than %d patterns ({a,b}/{c,d} is 4): at most %d (MaxGlobAlternatives)",
			glob, MaxGlobAlternatives, MaxGlobAlternatives)
	}
	total := 0
	for _, p := range patterns {
		total += len(p)
		if n := doublestars(p); n > MaxGlobDoublestars {
			return fmt.Errorf("glob %q has %d \"**\": at most %d (MaxGlobDoublestars)", glob, n, MaxGlobDoublestars)
		}
	}
	if total > MaxGlobLength {
		return fmt.Errorf("glob %q expands to %d patterns of %d bytes in all: at most %d (MaxGlobLength)",
			glob, len(patterns), total, MaxGlobLength)
	}
	return nil
}

// globExpander expands a glob's braces, reading it as doublestar does: a
// backslash escapes the next byte, and a character class ([...]) holds no
// braces or commas. It runs on a glob doublestar validated (braces closed,
// classes closed) and stops once there are more than MaxGlobAlternatives
// patterns.
type globExpander struct {
	s               string
	i               int
	depth, maxDepth int
	tooMany         bool
}

// seq reads up to a ',' or '}' of the braces it is in (or the end) and
// returns the patterns that expand from it.
func (g *globExpander) seq() []string {
	out := []string{""}
	for g.i < len(g.s) && !g.tooMany {
		start := g.i
		switch c := g.s[g.i]; {
		case c == '\\':
			g.i = min(g.i+2, len(g.s))
		case c == '[':
			g.i = classEnd(g.s, g.i)
		case c == '{':
			g.i++
			alts := g.group()
			next := make([]string, 0, len(out)*len(alts))
			for _, o := range out {
				for _, a := range alts {
					next = append(next, o+a)
				}
			}
			if out = next; len(out) > MaxGlobAlternatives {
				g.tooMany = true
			}
			continue
		case (c == ',' || c == '}') && g.depth > 0:
			return out
		default:
			g.i++
		}
		for k := range out {
			out[k] += g.s[start:g.i]
		}
	}
	return out
}

// group reads the alternatives after a '{', through its '}'.
func (g *globExpander) group() []string {
	g.depth++
	g.maxDepth = max(g.maxDepth, g.depth)
	defer func() { g.depth-- }()
	var alts []string
	for !g.tooMany {
		alts = append(alts, g.seq()...)
		if len(alts) > MaxGlobAlternatives {
			g.tooMany = true
		}
		if g.i >= len(g.s) {
			break
		}
		c := g.s[g.i]
		g.i++
		if c == '}' {
			break
		}
	}
	return alts
}

// classEnd is the index just past the class that opens at s[i] ('['): its
// first unescaped ']', as doublestar finds it.
func classEnd(s string, i int) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ']':
			return i + 1
		}
	}
	return len(s)
}

// doublestars counts the runs of two or more '*' in a pattern, outside
// escapes and classes.
func doublestars(p string) int {
	n := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '[':
			i = classEnd(p, i) - 1
		case '*':
			j := i
			for j < len(p) && p[j] == '*' {
				j++
			}
			if j-i >= 2 {
				n++
			}
			i = j - 1
		}
	}
	return n
}

// checkRefRegex says whether a ref_regex, and anchored (the form it is
// compiled in), are within the regex limits; syntax errors are left to
// regexp.Compile, whose message quotes the expression as written.
func checkRefRegex(expr, anchored string) error {
	if len(expr) > MaxRefRegexLength {
		return fmt.Errorf("regular expression too long: %d bytes, at most %d (MaxRefRegexLength)", len(expr), MaxRefRegexLength)
	}
	// The flags regexp.Compile parses with.
	re, err := syntax.Parse(anchored, syntax.Perl)
	if err != nil {
		return nil
	}
	// Sized from the parse, not by compiling: a program over the limit
	// can take far longer to compile than to refuse. The 2 are the fail
	// and the match every program has.
	if n := 2 + instructions(re, MaxRefRegexInstructions); n > MaxRefRegexInstructions {
		return fmt.Errorf("regular expression too large: it compiles to more than %d instructions (MaxRefRegexInstructions; a repetition such as {10} repeats what it counts)",
			MaxRefRegexInstructions)
	}
	return nil
}

// instructions is the size of the program syntax.Compile makes of re, as
// it makes it (each rune of a literal one instruction, a capture two, a
// repetition its copies), or more than limit once it passes limit.
func instructions(re *syntax.Regexp, limit int) int {
	subs := func(extra int) int {
		n := extra
		for _, s := range re.Sub {
			if n += instructions(s, limit); n > limit {
				return n
			}
		}
		return n
	}
	switch re.Op {
	case syntax.OpLiteral:
		return max(len(re.Rune), 1)
	case syntax.OpCapture:
		return subs(2)
	case syntax.OpStar:
		// x* of an x that may match empty compiles as (x+)?.
		if nullable(re.Sub[0]) {
			return subs(2)
		}
		return subs(1)
	case syntax.OpPlus, syntax.OpQuest:
		return subs(1)
	case syntax.OpConcat:
		return max(subs(0), 1)
	case syntax.OpAlternate:
		return subs(len(re.Sub) - 1)
	case syntax.OpRepeat:
		// x{n,m} is x n times, then m-n times x?; x{n,} ends in x*.
		one := subs(0)
		if one > limit {
			return one
		}
		copies := re.Max
		if copies < 0 {
			copies = re.Min + 1
		}
		copies = max(copies, 1)
		if copies > limit/max(one, 1)+1 {
			return limit + 1
		}
		return copies*one + copies - re.Min
	}
	return 1 // a class, any character, an anchor, empty, no match
}

// nullable says whether re can match the empty string.
func nullable(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpStar, syntax.OpQuest,
		syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	case syntax.OpLiteral:
		return len(re.Rune) == 0
	case syntax.OpCapture, syntax.OpPlus:
		return nullable(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min == 0 || nullable(re.Sub[0])
	case syntax.OpConcat:
		for _, s := range re.Sub {
			if !nullable(s) {
				return false
			}
		}
		return true
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			if nullable(s) {
				return true
			}
		}
	}
	return false
}
