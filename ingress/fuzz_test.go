package ingress

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"go.temporal.io/sdk/converter"

	"github.com/alertflow/alertflow/alert"
)

// Fuzz targets of the intake. Their seed corpus runs with every plain
// `go test` (and so `make test`); to search further, one target at a time:
//
//	go test -run '^$' -fuzz '^FuzzPipelineEventProperties$' -fuzztime 20s -fuzzminimizetime 2s ./ingress
//	go test -run '^$' -fuzz '^FuzzTokenMatch$' -fuzztime 20s -fuzzminimizetime 2s ./ingress
//
// The seeds are whole GitLab payloads of several KB: with the default
// minimisation budget (60 s an input) a short run spends its time
// minimising the first new input instead of fuzzing.
//
// FuzzParsePipelineEvent (gitlab_decode_test.go) holds the parser to the
// encoding/json decoder it replaced; FuzzPipelineEventProperties holds it to
// what the rest of alertflow relies on, whatever the body.

// FuzzPipelineEventProperties checks that ParsePipelineEvent never panics,
// that every error it returns is a *PayloadError, and that every event it
// accepts can become a signal: a positive project and pipeline id, a ref and
// a status, an alert ID of printable ASCII within Temporal's 1000 bytes that
// parses back to the same project and ref, and a payload Temporal's data
// converter encodes and decodes to the same event.
func FuzzPipelineEventProperties(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no payloads in ../testdata: %v", err)
	}
	for _, file := range files {
		f.Add(readPayload(f, filepath.Base(file)))
	}
	for _, seed := range []string{
		``, ` `, `{`, `}`, `[]`, `null`, `"pipeline"`, `{}`, `{"object_kind":"pipeline"}`, `{"object_kind":"push"}`,
		`{"object_kind":7}`, "\ufeff{}", `{"object_kind":"pipeline"} {}`,
		`{"project":{"id":1},"object_attributes":{"id":2,"ref":"main","status":"failed"}}`,
		`{"project":{"id":1},"object_attributes":{"id":2,"ref":"feature/\u00fcmlaut","status":"failed"}}`,
		`{"project":{"id":1},"object_attributes":{"id":2,"ref":"a\u0000b","status":"failed"}}`,
		`{"project":{"id":1},"object_attributes":{"id":2,"ref":"\ud800","status":"failed"}}`,
		"{\"project\":{\"id\":1},\"object_attributes\":{\"id\":2,\"ref\":\"\xff\xfe\",\"status\":\"failed\"}}",
		`{"project":{"id":1},"object_attributes":{"id":2,"ref":"100%","status":"success","finished_at":"2026-11-20T09:21:47+01:00"}}`,
		`{"project":{"id":0},"object_attributes":{"id":-1,"ref":"main","status":"failed"}}`,
		`{"project":{"id":9223372036854775807},"object_attributes":{"id":9223372036854775808,"ref":"m","status":"failed"}}`,
		`{"project":{"id":1.5},"object_attributes":{"id":1e3,"ref":"m","status":"failed"}}`,
		`{"project":{"id":"1"},"object_attributes":{"id":[],"ref":{},"status":true}}`,
		`{"project":{"id":1},"object_attributes":{"id":2,"ref":"m","status":"failed","duration":1e400}}`,
		`{"project":{"id":1},"object_attributes":{"id":2,"ref":"m","status":"failed","created_at":"2016-08-12 15:23:28 UTC","finished_at":"2016-08-12 15:26:29 +0200"}}`,
		`{"project":{"id":1},"object_attributes":{"id":2,"ref":"m","status":"failed"},"builds":[{"status":"failed","name":7}]}`,
		`{"project":{"id":1},"object_attributes":{"id":2,"ref":"m","status":"failed"},"builds":[null,{"status":null},{"status":"failed"}]}`,
		`{"project":{"id":1},"object_attributes":{"id":2,"ref":"m","status":"failed"},"builds":{"status":"failed"}}`,
		`{"PROJECT":{"ID":1},"Object_Attributes":{"Id":2,"REF":"m","Status":"failed"},"\u0075ser":{"name":"x"}}`,
		`{"project":{"id":1},"project":{"id":2},"object_attributes":{"id":2,"ref":"m","status":"failed"}}`,
		`{"project":{"id":1},"object_attributes":{"id":2,"ref":"` + strings.Repeat("r", 998) + `","status":"failed"}}`,
		`{"project":{"id":1},"object_attributes":{"id":2,"ref":"` + strings.Repeat("r", 999) + `","status":"failed"}}`,
		`{"x":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `,"project":{"id":1}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(checkParsedEvent)
}

// checkParsedEvent is the property FuzzPipelineEventProperties checks of
// one body.
func checkParsedEvent(t *testing.T, body []byte) {
	t.Helper()
	ev, isPipeline, err := ParsePipelineEvent(body)
	if err != nil {
		pe, ok := err.(*PayloadError)
		if !ok || pe == nil {
			t.Fatalf("error %v (%T) is not a *PayloadError", err, err)
		}
		if pe.Error() == "" {
			t.Fatal("a *PayloadError with no message")
		}
		if !reflect.DeepEqual(ev, alert.Event{}) {
			t.Fatalf("an error came with an event: %+v", ev)
		}
		return
	}
	if !isPipeline {
		if !reflect.DeepEqual(ev, alert.Event{}) {
			t.Fatalf("not a pipeline, yet an event: %+v", ev)
		}
		return
	}
	p := ev.Pipeline
	switch {
	case ev.Project.ID <= 0 || p.ID <= 0:
		t.Fatalf("project %d pipeline %d: ids must be positive", ev.Project.ID, p.ID)
	case p.Ref == "" || p.Status == "":
		t.Fatalf("ref %q status %q: both are required", p.Ref, p.Status)
	case !utf8.ValidString(p.Ref) || strings.ContainsFunc(p.Ref, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		t.Fatalf("ref %q is not UTF-8 without control characters", p.Ref)
	}
	id := ev.AlertID()
	if len(id) > 1000 {
		t.Fatalf("alert id of %d bytes, Temporal takes 1000", len(id))
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			t.Fatalf("alert id %q has byte %#x outside printable ASCII", id, id[i])
		}
	}
	if project, ref, err := alert.ParseID(id); err != nil || project != ev.Project.ID || ref != p.Ref {
		t.Fatalf("ParseID(%q) = %d, %q, %v; want %d, %q", id, project, ref, err, ev.Project.ID, p.Ref)
	}
	// The event is the signal's argument: it must survive the trip.
	dc := converter.GetDefaultDataConverter()
	payload, err := dc.ToPayload(ev)
	if err != nil {
		t.Fatalf("Temporal's data converter cannot encode the event: %v\n%+v", err, ev)
	}
	var back alert.Event
	if err := dc.FromPayload(payload, &back); err != nil || !reflect.DeepEqual(back, ev) {
		t.Fatalf("the event does not survive the data converter (%v)\n got %+v\nwant %+v", err, back, ev)
	}
	if again, _, _ := ParsePipelineEvent(body); !reflect.DeepEqual(again, ev) {
		t.Fatalf("parsing twice gave two events:\n%+v\n%+v", ev, again)
	}
}

// FuzzTokenMatch checks Tokens.Match against a configured pair of sources:
// a token matches exactly when it equals a configured one, the empty string
// never matches, and neither does a token one byte away from a configured
// one: its last byte changed, one byte more, or one byte less.
func FuzzTokenMatch(f *testing.F) {
	for _, seed := range [][3]string{
		{testToken, "another-token", testToken},
		{testToken, "another-token", testToken[:len(testToken)-1] + "X"},
		{testToken, "another-token", ""},
		{"a", "b", "a "},
		{"same", "same", "same"},
		{"x=y", "z", "x=y"},
		{"tök€n", "\x00", "tök€n"},
		{"ab", "aa", "ab"},
		{"s3cret", "another", "S3CRET"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, a, b, candidate string) {
		// ParseTokens trims and splits on commas: configure what it can hold.
		a, b = strings.TrimSpace(a), strings.TrimSpace(b)
		if a == "" || b == "" || strings.Contains(a, ",") || strings.Contains(b, ",") {
			return
		}
		tokens, err := ParseTokens("one=" + a + ",two=" + b)
		if err != nil || tokens.Len() != 2 {
			t.Fatalf("ParseTokens(one=%q,two=%q): %d sources, %v", a, b, tokens.Len(), err)
		}
		check := func(tok string) {
			t.Helper()
			name, ok := tokens.Match(tok)
			want := tok == a || tok == b
			if ok != want {
				t.Fatalf("Match(%q) = %q, %v with tokens %q and %q; want a match: %v", tok, name, ok, a, b, want)
			}
			switch {
			case ok && a != b && tok == a && name != "one", ok && a != b && tok == b && name != "two":
				t.Fatalf("Match(%q) named source %q", tok, name)
			case !ok && name != "":
				t.Fatalf("Match(%q) named source %q without a match", tok, name)
			}
		}
		lastByte := func(s string, change func(byte) byte) string {
			bs := []byte(s)
			bs[len(bs)-1] = change(bs[len(bs)-1])
			return string(bs)
		}
		for _, tok := range []string{candidate, a, b, "", a + "x", a[:len(a)-1],
			lastByte(a, func(c byte) byte { return c ^ 0x01 }), lastByte(a, func(c byte) byte { return c + 1 }),
			lastByte(b, func(c byte) byte { return c ^ 0x80 })} {
			check(tok)
		}
		if _, ok := (Tokens{}).Match(candidate); ok {
			t.Fatalf("no source configured, yet %q matches", candidate)
		}
	})
}
