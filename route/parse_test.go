package route

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/yamlnode"
)

func TestParseMatchersReadsEveryJSONEscape(t *testing.T) {
	for _, tt := range []struct {
		name, json, project string
	}{
		{`an escaped slash`, `{"project":"team-a\/api"}`, "team-a/api"},
		{`a surrogate pair`, `{"project":"team-\ud83d\ude00/*"}`, "team-\U0001F600/*"},
		{`an escaped key`, `{"pro\u006aect":"team-a/*"}`, "team-a/*"},
		{`tabs between tokens`, "{\t\"project\":\t\"team-a/*\"\t}", "team-a/*"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMatchers("matchers", []byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if m.Project != tt.project {
				t.Errorf("project %q, want %q", m.Project, tt.project)
			}
		})
	}
	m, err := ParseMatchers("matchers", []byte(`{"project_id":[12,"13"],"tag":false,"severity":["high","LOW"],"source":"push","ref":"main"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.ProjectID, []int64{12, 13}) || m.Tag == nil || *m.Tag || m.Ref != "main" ||
		!slices.Equal(m.Severity, []alert.Severity{alert.SeverityHigh, alert.SeverityLow}) || !slices.Equal(m.Source, []string{"push"}) {
		t.Errorf("JSON read as %+v", m)
	}
}

// Read as JSON, matchers still get the routing file's errors, on the
// line they are on.
func TestParseMatchersNamesTheKeyAndLineOfJSONErrors(t *testing.T) {
	for _, tt := range []struct {
		name, json, want string
	}{
		{"an unknown escaped key", `{"pro\u006aekt":"x"}`, `line 1: matchers.projekt: unknown key "projekt": want one of project, project_id, ref, ref_regex, branches, tag, source, severity, failure_class`},
		{"a bad value on line 3", "{\n  \"ref\": \"main\",\n  \"severity\": [\"URGENT\"]\n}", `line 3: matchers.severity: unknown severity "URGENT": want HIGH, MEDIUM or LOW`},
		{"a key given twice", "{\"ref\":\"a\",\n\"ref\":\"b\"}", `line 2: matchers.ref: given twice (first on line 1)`},
		{"a number for tag", `{"tag":1}`, `line 1: matchers.tag: want true or false`},
		{"a string for tag", `{"tag":"true"}`, `line 1: matchers.tag: want true or false`},
		{"a fraction for project_id", `{"project_id":[1.5]}`, `line 1: matchers.project_id: want an integer project ID`},
		{"an empty object", `{}`, `matchers: at least one matcher is required`},
		{"null", `null`, `matchers: at least one matcher is required`},
		{"a list", `[{"ref":"main"}]`, `line 1: matchers: want a mapping of project, project_id, ref, ref_regex, branches, tag, source, severity, failure_class, not a list`},
		{"a nested object", `{"ref":{"a":"b"}}`, `line 1: matchers.ref: want a single value, not a mapping`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMatchers("matchers", []byte(tt.json))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseMatchersRefusesASilenceOverTheMatcherLimits(t *testing.T) {
	_, err := ParseMatchers("matchers", []byte(`{"source":[`+strings.TrimSuffix(strings.Repeat(`"push",`, 65), ",")+`]}`))
	var e *yamlnode.Error
	if !errors.As(err, &e) || err.Error() != "line 1: matchers: 65 values in one set of matchers: at most 64 (MaxMatcherValues)" {
		t.Errorf("error %v", err)
	}
}
