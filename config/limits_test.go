package config

import (
	"strings"
	"testing"
)

// Routes and silences share the matcher limits: a routing file is refused
// naming the line, the key and the limit.
func TestParseRefusesMatchersOverTheirLimitsNamingTheLine(t *testing.T) {
	head := goodReceivers + "route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      match:\n"
	for _, tt := range []struct {
		name, match, want string
	}{
		{"a glob of 30 000 nested braces", "        project: \"" + strings.Repeat("{", 15000) + strings.Repeat("}", 15000) + "\"\n",
			"alertflow.yaml:13: route.routes[0].match.project: glob too long: 30000 bytes, at most 256 (MaxGlobLength)"},
		{"a ref glob of exponential braces", "        ref: \"" + strings.Repeat("{*,**}/", 8) + "c\"\n",
			"alertflow.yaml:13: route.routes[0].match.ref: glob \"" + strings.Repeat("{*,**}/", 8) + "c\" expands to more than 32 patterns ({a,b}/{c,d} is 4): at most 32 (MaxGlobAlternatives)"},
		{"a regular expression too large", "        ref_regex: \"[a-z]{1000}\"\n",
			"alertflow.yaml:13: route.routes[0].match.ref_regex: regular expression too large: it compiles to more than 128 instructions (MaxRefRegexInstructions; a repetition such as {10} repeats what it counts)"},
		{"a regular expression too long", "        ref_regex: " + strings.Repeat("a", 513) + "\n",
			"alertflow.yaml:13: route.routes[0].match.ref_regex: regular expression too long: 513 bytes, at most 512 (MaxRefRegexLength)"},
		{"65 values", "        project_id: [" + strings.TrimSuffix(strings.Repeat("1, ", 64), ", ") + "]\n        tag: true\n",
			"alertflow.yaml:13: route.routes[0].match: 65 values in one set of matchers: at most 64 (MaxMatcherValues)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(head + tt.match)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n%v\nwant:\n%s", err, tt.want)
			}
		})
	}
	if _, err := parse(head + "        project_id: [" + strings.TrimSuffix(strings.Repeat("1, ", 63), ", ") + "]\n        tag: true\n"); err != nil {
		t.Errorf("64 values refused: %v", err)
	}
}
