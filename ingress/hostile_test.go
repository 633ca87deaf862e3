package ingress

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/alertflow/alertflow/alert"
)

// Hostile input: every request here carries a valid source token (or
// tests the token itself), so only the intake's own checks stand between
// it and Temporal. Each must get its documented answer and reach no
// Temporal call. Slow-loris bodies are the HTTP server's timeouts' matter,
// tested with the server.

// endlessBody streams size bytes without holding them: a JSON object that
// opens a string and never closes it within what a limit lets through. It
// counts what the server read.
type endlessBody struct {
	size, read int64
}

func (b *endlessBody) Read(p []byte) (int, error) {
	if b.read >= b.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), b.size-b.read)]
	const head = `{"object_kind":"pipeline","padding":"`
	for i := range p {
		if at := b.read + int64(i); at < int64(len(head)) {
			p[i] = head[at]
		} else {
			p[i] = 'a'
		}
	}
	b.read += int64(len(p))
	return len(p), nil
}

func TestABodyOverTheLimitIsRefusedWithoutReadingItWhole(t *testing.T) {
	const streamed = 64 << 20
	const slack = 64 << 10
	tests := []struct {
		name    string
		maxBody int64
		limit   int64
		length  int64 // the Content-Length sent; -1 for none (chunked)
		code    int
	}{
		{"a 64 MiB chunked body against the default 25 MiB limit", 0, DefaultMaxBody, -1, http.StatusRequestEntityTooLarge},
		{"a 64 MiB body with an honest Content-Length against the default limit", 0, 0, streamed, http.StatusRequestEntityTooLarge},
		{"a 64 MiB chunked body against a 1 MiB limit", 1 << 20, 1 << 20, -1, http.StatusRequestEntityTooLarge},
		// net/http never passes on more than the Content-Length; a handler
		// given such a body still reads no more than announced, and one byte.
		{"a 64 MiB body claiming to be 10 bytes long against a 1 MiB limit", 1 << 20, 11, 10, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.maxBody)
			body := &endlessBody{size: streamed}
			req := httptest.NewRequest(http.MethodPost, "/webhooks/gitlab?token="+testToken, body)
			req.ContentLength = tt.length
			req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
			rec := httptest.NewRecorder()
			h.server.ServeHTTP(rec, req)
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), `"error"`) {
				t.Fatalf("%d %s, want %d with an error", rec.Code, rec.Body.String(), tt.code)
			}
			t.Logf("read %d bytes of %d before answering %d", body.read, body.size, rec.Code)
			if body.read > tt.limit+slack {
				t.Fatalf("the server read %d bytes of a body limited to %d: it buffers more than the limit", body.read, tt.limit)
			}
			if h.temporal.calls() != 0 {
				t.Fatal("an oversized body reached Temporal")
			}
		})
	}
}

// postHostile posts body as a pipeline event with a valid token and
// returns the status and the JSON answer.
func postHostile(t *testing.T, h *harness, body []byte) (code int, answer map[string]any) {
	t.Helper()
	rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, pipelineHeader, body)
	return rec.Code, answer
}

func TestDeeplyNestedJSONIsRefusedWith400(t *testing.T) {
	const depth = 100000
	open, closed := strings.Repeat("[", depth), strings.Repeat("]", depth)
	objects := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	failed := string(withStatus(t, "failed"))
	tests := []struct {
		name string
		body []byte
	}{
		{"arrays nested 100 000 deep at the top level", []byte(open + closed)},
		{"arrays opened 100 000 deep and never closed", []byte(open)},
		{"objects nested 100 000 deep at the top level", []byte(objects)},
		{"arrays nested 100 000 deep in object_attributes.ref", withRawMember(t, failed, "object_attributes", `{"id":1,"status":"failed","ref":`+open+closed+`}`)},
		{"arrays nested 100 000 deep in project", withRawMember(t, failed, "project", open+closed)},
		{"arrays nested 100 000 deep in builds", withRawMember(t, failed, "builds", "["+open+closed+"]")},
		{"objects nested 100 000 deep in a member alertflow does not keep", withRawMember(t, failed, "variables", objects)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 0)
			code, answer := postHostile(t, h, tt.body)
			if code != http.StatusBadRequest || answer["error"] == "" {
				t.Fatalf("%d %v, want 400 with an error", code, answer)
			}
			if h.temporal.calls() != 0 {
				t.Fatal("a deeply nested body reached Temporal")
			}
		})
	}
}

// withRawMember sets the top-level member key of body, an encoded JSON
// object, to raw, placed first: edit cannot hold values encoding/json
// refuses.
func withRawMember(t *testing.T, body, key, raw string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, key)
	rest, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(`{"` + key + `":` + raw + "," + string(rest[1:]))
}

func TestNestingJustUnderTheLimitInAMemberNotKeptIsAnswered(t *testing.T) {
	h := newHarness(t, 0)
	const depth = 9000
	body := withRawMember(t, string(withStatus(t, "failed")), "variables", strings.Repeat("[", depth)+strings.Repeat("]", depth))
	code, answer := postHostile(t, h, body)
	if code != http.StatusAccepted && code != http.StatusBadRequest {
		t.Fatalf("%d %v, want 202 or 400", code, answer)
	}
}

func TestAMillionUnknownKeysAreAnsweredWithoutCrashing(t *testing.T) {
	const keys = 1000000
	many := func(value string) string {
		var b strings.Builder
		b.Grow(keys * 16)
		for i := range keys {
			fmt.Fprintf(&b, `"k%d":%s,`, i, value)
		}
		return b.String()
	}
	failed := string(withStatus(t, "failed"))
	attrsRaw := func() string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(failed), &m); err != nil {
			t.Fatal(err)
		}
		return string(m["object_attributes"])
	}()
	tests := []struct {
		name string
		body []byte
	}{
		{"a million unknown keys at the top level", []byte("{" + many("0") + failed[1:])},
		{"a million unknown keys in object_attributes", withRawMember(t, failed, "object_attributes", "{"+many("null")+attrsRaw[1:])},
		{"a million copies of project.id", withRawMember(t, failed, "project", "{"+strings.Repeat(`"id":1,`, keys)+`"id":1}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.body) >= DefaultMaxBody {
				t.Fatalf("the body is %d bytes, over the limit it must stay under", len(tt.body))
			}
			h := newHarness(t, 0)
			code, answer := postHostile(t, h, tt.body)
			t.Logf("a %d-byte body: %d %v", len(tt.body), code, answer)
			switch code {
			case http.StatusAccepted:
				if answer["action"] != ActionSignaled || answer["alert_id"] != "1-master" || h.temporal.calls() != 1 {
					t.Fatalf("%v with %d calls", answer, h.temporal.calls())
				}
			case http.StatusBadRequest:
				if h.temporal.calls() != 0 {
					t.Fatal("a refused body reached Temporal")
				}
			default:
				t.Fatalf("%d %v, want 202 or 400", code, answer)
			}
		})
	}
}

// keptField is a field alertflow keeps, and the JSON type it must have.
type keptField struct {
	path string // dotted; "builds.x" is x of a failed job
	kind string // "integer", "string", "boolean", "timestamp", "number", "object", "array"
}

var keptFields = []keptField{
	{"project", "object"},
	{"project.id", "integer"}, {"project.path_with_namespace", "string"}, {"project.web_url", "string"}, {"project.default_branch", "string"},
	{"object_attributes", "object"},
	{"object_attributes.id", "integer"}, {"object_attributes.iid", "integer"}, {"object_attributes.name", "string"},
	{"object_attributes.ref", "string"}, {"object_attributes.tag", "boolean"}, {"object_attributes.sha", "string"},
	{"object_attributes.source", "string"}, {"object_attributes.status", "string"}, {"object_attributes.url", "string"},
	{"object_attributes.created_at", "timestamp"}, {"object_attributes.finished_at", "timestamp"},
	{"object_attributes.duration", "number"},
	{"user.name", "string"}, {"user.username", "string"},
	{"commit.title", "string"}, {"commit.message", "string"}, {"commit.url", "string"},
	{"merge_request.iid", "integer"}, {"merge_request.title", "string"}, {"merge_request.url", "string"},
	{"builds", "array"},
	{"builds.status", "string"}, {"builds.name", "string"}, {"builds.stage", "string"},
	{"builds.failure_reason", "string"}, {"builds.allow_failure", "boolean"},
}

// wrongValues are values of every JSON type but kind.
func wrongValues(kind string) map[string]any {
	all := map[string]any{
		"a string": "31", "an integer": 7, "a fraction": 1.5, "a boolean": true,
		"an object": map[string]any{"id": 1}, "an array": []any{1},
	}
	drop := map[string][]string{
		"integer":   {"an integer"},
		"number":    {"an integer", "a fraction"},
		"string":    {"a string"},
		"timestamp": {"a string"},
		"boolean":   {"a boolean"},
		"object":    {"an object"},
		"array":     {"an array"},
	}
	for _, d := range drop[kind] {
		delete(all, d)
	}
	if kind == "integer" {
		all["a number too large for 64 bits"] = json.Number("9223372036854775808")
	}
	return all
}

// setPath sets a dotted path in a decoded payload; "builds.x" sets x of a
// single failed job.
func setPath(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	if parts[0] == "builds" && len(parts) == 2 {
		job := map[string]any{"name": "unit", "stage": "test", "status": "failed", "failure_reason": "script_failure", "allow_failure": false}
		job[parts[1]] = v
		m["builds"] = []any{job}
		return
	}
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

func TestAWrongJSONTypeInAnyKeptFieldIs400NamingTheField(t *testing.T) {
	base := readPayload(t, "pipeline-docs-example.json")
	for _, f := range keptFields {
		for what, v := range wrongValues(f.kind) {
			t.Run(f.path+" as "+what, func(t *testing.T) {
				body := edit(t, base, func(m map[string]any) {
					attrs(m)["status"] = "failed"
					setPath(m, f.path, v)
				})
				h := newHarness(t, 0)
				code, answer := postHostile(t, h, body)
				if code != http.StatusBadRequest || answer["field"] != f.path {
					t.Fatalf("%d %v, want 400 naming %s", code, answer, f.path)
				}
				if h.temporal.calls() != 0 {
					t.Fatal("a mistyped body reached Temporal")
				}
			})
		}
	}
}

func TestFailedJobsMustBeObjects(t *testing.T) {
	for _, job := range []any{7, "unit", true, []any{}} {
		t.Run(fmt.Sprintf("%T", job), func(t *testing.T) {
			body := edit(t, withStatus(t, "failed"), func(m map[string]any) { m["builds"] = []any{job} })
			h := newHarness(t, 0)
			code, answer := postHostile(t, h, body)
			if code != http.StatusBadRequest || answer["field"] != "builds" || h.temporal.calls() != 0 {
				t.Fatalf("%d %v with %d calls, want 400 naming builds", code, answer, h.temporal.calls())
			}
		})
	}
}

func TestIdsThatAreNotPositiveAre400(t *testing.T) {
	for _, field := range []string{"project.id", "object_attributes.id"} {
		for _, id := range []int64{0, -1, -9223372036854775808} {
			t.Run(fmt.Sprintf("%s %d", field, id), func(t *testing.T) {
				body := edit(t, withStatus(t, "failed"), func(m map[string]any) { setPath(m, field, id) })
				h := newHarness(t, 0)
				code, answer := postHostile(t, h, body)
				if code != http.StatusBadRequest || answer["field"] != field || !strings.Contains(answer["error"].(string), "positive") {
					t.Fatalf("%d %v, want 400 naming %s", code, answer, field)
				}
				if h.temporal.calls() != 0 {
					t.Fatal("a bad id reached Temporal")
				}
			})
		}
	}
}

func TestRefsAreCheckedBeforeTheyBecomeWorkflowIDs(t *testing.T) {
	tests := []struct {
		name string
		ref  string
		id   string // the SignalWithStart ID; "" for a 400 naming the ref
	}{
		{"a 5 000-character ref is too long", strings.Repeat("r", 5000), ""},
		{"a ref making an ID of exactly 1000 bytes is fine", strings.Repeat("r", 998), "1-" + strings.Repeat("r", 998)},
		{"a ref making an ID of 1001 bytes is too long", strings.Repeat("r", 999), ""},
		{"encoded non-ASCII counts at its encoded length", strings.Repeat("ü", 166), "1-" + strings.Repeat("%C3%BC", 166)},
		{"encoded non-ASCII over the limit is too long", strings.Repeat("ü", 167), ""},
		{"a NUL", "main\x00", ""},
		{"a newline", "main\nX-Injected: 1", ""},
		{"a carriage return", "main\r", ""},
		{"a tab", "ma\tin", ""},
		{"an escape", "\x1b[31mred", ""},
		{"a unit separator", "a\x1fb", ""},
		{"a DEL", "main\x7f", ""},
		{"an umlaut is encoded", "feature/ümlaut", "1-feature/%C3%BCmlaut"},
		{"an emoji is encoded", "🚀-launch", "1-%F0%9F%9A%80-launch"},
		{"CJK is encoded", "功能/日本語", "1-%E5%8A%9F%E8%83%BD/%E6%97%A5%E6%9C%AC%E8%AA%9E"},
		{"a right-to-left override is encoded", "main\u202etxt.exe", "1-main%E2%80%AEtxt.exe"},
		{"a percent sign is encoded", "100%", "1-100%25"},
		{"what looks encoded is encoded again", "a%20b", "1-a%2520b"},
		{"a space stays", "release 1", "1-release 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := edit(t, withStatus(t, "failed"), func(m map[string]any) { attrs(m)["ref"] = tt.ref })
			h := newHarness(t, 0)
			code, answer := postHostile(t, h, body)
			if tt.id == "" {
				if code != http.StatusBadRequest || answer["field"] != "object_attributes.ref" || h.temporal.calls() != 0 {
					t.Fatalf("%d %v with %d calls, want 400 naming object_attributes.ref", code, answer, h.temporal.calls())
				}
				return
			}
			if code != http.StatusAccepted || answer["alert_id"] != tt.id || len(h.temporal.starts) != 1 {
				t.Fatalf("%d %v, want 202 for %q", code, answer, tt.id)
			}
			call := h.temporal.starts[0]
			if call.id != tt.id || call.options.ID != tt.id || call.event.Pipeline.Ref != tt.ref {
				t.Fatalf("signal-with-start %q (options %q) with ref %q", call.id, call.options.ID, call.event.Pipeline.Ref)
			}
		})
	}
}

func TestAControlCharacterRawInAJSONStringIsMalformed(t *testing.T) {
	body := bytes.Replace(withStatus(t, "failed"), []byte(`"ref":"master"`), []byte("\"ref\":\"mas\nter\""), 1)
	h := newHarness(t, 0)
	code, answer := postHostile(t, h, body)
	if code != http.StatusBadRequest || h.temporal.calls() != 0 {
		t.Fatalf("%d %v with %d calls, want 400", code, answer, h.temporal.calls())
	}
}

func TestProject12RefAAndProject1Ref2AAreDifferentAlerts(t *testing.T) {
	h := newHarness(t, 0)
	for _, c := range []struct {
		project int64
		ref     string
	}{{12, "a"}, {1, "2-a"}} {
		body := edit(t, withStatus(t, "failed"), func(m map[string]any) {
			m["project"].(map[string]any)["id"] = c.project
			attrs(m)["ref"] = c.ref
		})
		if code, answer := postHostile(t, h, body); code != http.StatusAccepted {
			t.Fatalf("%d %v", code, answer)
		}
	}
	if len(h.temporal.starts) != 2 || h.temporal.starts[0].id != "12-a" || h.temporal.starts[1].id != "1-2-a" {
		t.Fatalf("signal-with-start IDs %+v, want 12-a and 1-2-a", h.temporal.starts)
	}
	for _, call := range h.temporal.starts {
		if p, r, err := alert.ParseID(call.id); err != nil || p != call.event.Project.ID || r != call.event.Pipeline.Ref {
			t.Fatalf("ParseID(%q) = %d, %q, %v", call.id, p, r, err)
		}
	}
}

func TestTokensThatAreAlmostRightAre401(t *testing.T) {
	lastByte := testToken[:len(testToken)-1] + string(rune(testToken[len(testToken)-1]+1))
	tests := []struct {
		name   string
		query  string
		header string
	}{
		{"the last byte differs in the URL", lastByte, ""},
		{"the last byte differs in the header", "", lastByte},
		{"one byte more in the URL", testToken + "x", ""},
		{"a NUL more in the URL", testToken + "\x00", ""},
		{"one byte less in the header", "", testToken[:len(testToken)-1]},
		{"upper case in the header", "", strings.ToUpper(testToken)},
		{"right in the URL, wrong in the header", testToken, lastByte},
		{"wrong in the URL, right in the header", lastByte, testToken},
		{"two configured tokens that disagree", testToken, "another-token"},
		{"right in the URL, the API token in the header", testToken, testAPIToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 0)
			target := "/webhooks/gitlab"
			if tt.query != "" {
				target += "?token=" + url.QueryEscape(tt.query)
			}
			headers := map[string]string{"X-Gitlab-Event": "Pipeline Hook"}
			if tt.header != "" {
				headers["X-Gitlab-Token"] = tt.header
			}
			rec, answer := h.post(t, target, headers, withStatus(t, "failed"))
			if rec.Code != http.StatusUnauthorized || answer["error"] == "" {
				t.Fatalf("%d %v, want 401", rec.Code, answer)
			}
			if h.temporal.calls() != 0 {
				t.Fatal("an unauthorised webhook reached Temporal")
			}
		})
	}
}

// visibilityLiterals splits a visibility query into its code, with each
// string literal replaced by ?, and the literals' values, decoded as
// Temporal's SQL parser decodes them (MySQL escapes: a backslash escapes
// the next byte, and \0 \b \n \r \t \Z stand for control characters).
func visibilityLiterals(q string) (code string, literals []string, ok bool) {
	decoded := map[byte]byte{'0': 0, 'b': '\b', 'n': '\n', 'r': '\r', 't': '\t', 'Z': 26}
	var c strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] != '\'' {
			c.WriteByte(q[i])
			continue
		}
		var lit strings.Builder
		for i++; ; {
			if i >= len(q) {
				return "", nil, false
			}
			ch := q[i]
			if ch == '\\' {
				if i++; i >= len(q) {
					return "", nil, false
				}
				if d, special := decoded[q[i]]; special {
					lit.WriteByte(d)
				} else {
					lit.WriteByte(q[i])
				}
				i++
				continue
			}
			if ch == '\'' {
				if i+1 < len(q) && q[i+1] == '\'' {
					lit.WriteByte('\'')
					i += 2
					continue
				}
				break
			}
			lit.WriteByte(ch)
			i++
		}
		c.WriteByte('?')
		literals = append(literals, lit.String())
	}
	return c.String(), literals, true
}

// The literals below were checked against github.com/temporalio/sqlparser,
// the parser of Temporal's visibility queries, which reads them the same.
func TestVisibilityLiteralsReadsLiteralsAsTemporalDoes(t *testing.T) {
	tests := []struct {
		query, code string
		literals    []string
	}{
		{`A = 'x' AND B = 7`, `A = ? AND B = 7`, []string{"x"}},
		{`A = 'it\'s'`, `A = ?`, []string{"it's"}},
		{`A = 'it''s'`, `A = ?`, []string{"it's"}},
		{`A = 'a\\' OR B = 'c'`, `A = ? OR B = ?`, []string{`a\`, "c"}},
		{`A = '\n\0\q'`, `A = ?`, []string{"\n\x00q"}},
	}
	for _, tt := range tests {
		code, literals, ok := visibilityLiterals(tt.query)
		if !ok || code != tt.code || !slices.Equal(literals, tt.literals) {
			t.Errorf("visibilityLiterals(%q) = %q, %q, %v; want %q, %q", tt.query, code, literals, ok, tt.code, tt.literals)
		}
	}
	if _, _, ok := visibilityLiterals(`A = 'x\'`); ok {
		t.Error("an unterminated literal must not scan")
	}
}

func TestListFilterInjectionIsRefusedOrStaysOneLiteral(t *testing.T) {
	baseline := func(t *testing.T, param, value string) string {
		h := newHarness(t, 0)
		rec, answer := h.api(t, http.MethodGet, "/api/v1/alerts?"+url.Values{param: {value}}.Encode(), testAPIToken, "")
		if rec.Code != http.StatusOK || len(h.temporal.queries) != 1 {
			t.Fatalf("baseline %s=%s: %d %v", param, value, rec.Code, answer)
		}
		return h.temporal.queries[0]
	}
	hostile := []string{
		`x' OR '1'='1`, `x\' OR 1=1 --`, `\`, `\\'`, `'`, `''`, `"`, `a) OR (b`, `x' OR AlertStatus = 'resolved`,
		"line\nbreak", "line\r\nbreak", "nul\x00byte", "\x00", `%' OR GitLabRef LIKE '%`, `x'; DROP TABLE executions; --`,
		`\0`, `\n`, `\'`, `\\`, "tab\there", "ümlaut'", strings.Repeat(`'\`, 500), ` OR `, `)`, `(`,
	}
	legit := map[string]string{"status": "open", "severity": "HIGH", "project_id": "42", "ref": "main"}
	for _, param := range []string{"status", "severity", "project_id", "ref"} {
		wantCode, _, ok := visibilityLiterals(baseline(t, param, legit[param]))
		if !ok {
			t.Fatalf("the baseline query for %s does not scan", param)
		}
		values := append([]string{legit[param] + "' OR '1'='1", legit[param] + ")", legit[param] + "\x00",
			legit[param] + " OR 1=1", legit[param] + "\\"}, hostile...)
		for _, v := range values {
			t.Run(fmt.Sprintf("%s=%.40q", param, v), func(t *testing.T) {
				h := newHarness(t, 0)
				rec, answer := h.api(t, http.MethodGet, "/api/v1/alerts?"+url.Values{param: {v}}.Encode(), testAPIToken, "")
				switch rec.Code {
				case http.StatusBadRequest:
					if answer["field"] != param || len(h.temporal.queries) != 0 {
						t.Fatalf("400 %v with %d queries, want it to name %s and reach no Temporal call", answer, len(h.temporal.queries), param)
					}
					if param == "ref" && !strings.ContainsFunc(v, unicode.IsControl) {
						t.Fatalf("a ref filter is a literal, yet %q was refused: %v", v, answer)
					}
				case http.StatusOK:
					if len(h.temporal.queries) != 1 {
						t.Fatalf("%d queries", len(h.temporal.queries))
					}
					// A ref with a backslash or a double quote is looked
					// for by its prefix before them (refClause).
					wantCode, wantRef := wantCode, v
					if i := strings.IndexAny(v, `\"`); param == "ref" && i >= 0 {
						wantCode, wantRef = strings.Replace(wantCode, "GitLabRef = ?", "GitLabRef STARTS_WITH ?", 1), v[:i]
						if i == 0 {
							wantCode, wantRef = strings.Replace(wantCode, " AND GitLabRef STARTS_WITH ?", "", 1), ""
						}
					}
					q := h.temporal.queries[0]
					code, literals, ok := visibilityLiterals(q)
					if !ok || code != wantCode {
						t.Fatalf("the value changed the query's shape:\n got %q\nfrom %q\nwant the shape %q", q, v, wantCode)
					}
					if param == "ref" && wantRef != "" && literals[len(literals)-1] != wantRef {
						t.Fatalf("the ref literal of %q reads back as %q, want %q", q, literals[len(literals)-1], wantRef)
					}
				default:
					t.Fatalf("%d %v, want 400 or 200", rec.Code, answer)
				}
			})
		}
	}
}

// A ref that is not UTF-8 (?ref=%FF) cannot go into the visibility query, a
// protobuf string that would not marshal: the SDK call would fail and the
// API answer 503 "temporal unavailable".
func TestAListRefThatIsNotUTF8Is400NamingIt(t *testing.T) {
	for _, ref := range []string{"\xff", "main\xc3", "a\xed\xa0\x80b"} {
		t.Run(url.QueryEscape(ref), func(t *testing.T) {
			h := newHarness(t, 0)
			rec, answer := h.api(t, http.MethodGet, "/api/v1/alerts?ref="+url.QueryEscape(ref), testAPIToken, "")
			if rec.Code == http.StatusBadRequest && answer["field"] == "ref" && len(h.temporal.queries) == 0 {
				return
			}
			for _, q := range h.temporal.queries {
				_, err := proto.Marshal(&workflowservice.ListWorkflowExecutionsRequest{Query: q})
				if utf8.ValidString(q) && err == nil {
					return
				}
				t.Fatalf("%d: the query %q cannot reach Temporal (%v); want 400 naming ref", rec.Code, q, err)
			}
			t.Fatalf("%d %v, want 400 naming ref", rec.Code, answer)
		})
	}
}

// Whatever a payload under the 25 MiB body limit holds, the signalled event
// stays small (or the body is refused): it is recorded in the alert's
// history and kept in its state. Temporal refuses a payload over 2 MiB
// (limit.blobSize.error; it warns from 512 KiB), and payloads just under
// that would fill the 50 MiB history limit within some 25 signals.
func TestTheSignalledEventStaysSmallWhateverThePayload(t *testing.T) {
	const warn = 512 << 10
	huge := strings.Repeat("x", 3<<20)
	manyJobs := make([]any, 50000)
	for i := range manyJobs {
		manyJobs[i] = map[string]any{"name": "job-with-a-realistic-name", "stage": "test", "status": "failed", "failure_reason": "script_failure"}
	}
	tests := []struct {
		name string
		edit func(m map[string]any)
	}{
		{"a failed job named with 3 MiB", func(m map[string]any) {
			m["builds"] = []any{map[string]any{"name": huge, "stage": "test", "status": "failed"}}
		}},
		{"50 000 failed jobs", func(m map[string]any) { m["builds"] = manyJobs }},
		{"a commit title of 3 MiB", func(m map[string]any) { m["commit"].(map[string]any)["title"] = huge }},
		{"a user name of 3 MiB", func(m map[string]any) { m["user"].(map[string]any)["name"] = huge }},
		{"a merge request title of 3 MiB", func(m map[string]any) { m["merge_request"].(map[string]any)["title"] = huge }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := edit(t, withStatus(t, "failed"), tt.edit)
			h := newHarness(t, 0)
			code, answer := postHostile(t, h, body)
			if code >= 400 && code < 500 {
				if h.temporal.calls() != 0 {
					t.Fatal("a refused body reached Temporal")
				}
				return
			}
			if code != http.StatusAccepted || len(h.temporal.starts) != 1 {
				t.Fatalf("%d %v, want 202 or a 4xx", code, answer)
			}
			p, err := converter.GetDefaultDataConverter().ToPayload(h.temporal.starts[0].event)
			if err != nil {
				t.Fatal(err)
			}
			if size := proto.Size(p); size > warn {
				t.Fatalf("a %d-byte body was signalled as a %d-byte payload; Temporal warns from %d and refuses from %d", len(body), size, warn, 2<<20)
			}
		})
	}
}

func TestTimestampsOutsideFourDigitYearsAreRefusedNamingTheField(t *testing.T) {
	for _, tt := range []struct{ field, value string }{
		{"finished_at", "0000-01-01T00:00:00+01:00"},
		{"finished_at", "9999-12-31T23:59:59-01:00"},
		{"created_at", "0000-01-01 00:00:00 +0100"},
	} {
		t.Run(tt.field+" "+tt.value, func(t *testing.T) {
			body := edit(t, withStatus(t, "failed"), func(m map[string]any) { attrs(m)[tt.field] = tt.value })
			h := newHarness(t, 0)
			code, answer := postHostile(t, h, body)
			if code == http.StatusBadRequest && answer["field"] == "object_attributes."+tt.field && h.temporal.calls() == 0 {
				return
			}
			detail := ""
			if len(h.temporal.starts) == 1 {
				if _, err := converter.GetDefaultDataConverter().ToPayload(h.temporal.starts[0].event); err != nil {
					detail = "; the signalled event cannot be encoded: " + err.Error()
				}
			}
			t.Fatalf("%d %v, want 400 naming object_attributes.%s%s", code, answer, tt.field, detail)
		})
	}
}

// user, commit and merge_request of the wrong JSON type are a 400 naming
// them, as project and object_attributes are (the scanning parser once
// dropped them silently).
func TestUserCommitOrMergeRequestOfTheWrongTypeIs400NamingIt(t *testing.T) {
	for _, field := range []string{"user", "commit", "merge_request"} {
		for what, v := range wrongValues("object") {
			t.Run(field+" as "+what, func(t *testing.T) {
				body := edit(t, withStatus(t, "failed"), func(m map[string]any) { m[field] = v })
				h := newHarness(t, 0)
				code, answer := postHostile(t, h, body)
				if code != http.StatusBadRequest || answer["field"] != field || h.temporal.calls() != 0 {
					t.Fatalf("%d %v with %d calls, want 400 naming %s", code, answer, h.temporal.calls(), field)
				}
			})
		}
	}
}

// /readyz answers anyone who can reach the port: why Temporal is not
// ready, which names its address, is for the log only.
func TestReadyzDoesNotEchoTemporalsAddressOrError(t *testing.T) {
	h := newHarness(t, 0)
	h.temporal.healthErr = errors.New("last connection error: connection error: desc = \"transport: Error while dialing: dial tcp 10.20.30.40:7233: connect: connection refused\"")
	rec := httptest.NewRecorder()
	h.server.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("%d, want 503", rec.Code)
	}
	for _, leak := range []string{"10.20.30.40", "7233", "dial", "refused"} {
		if strings.Contains(rec.Body.String(), leak) {
			t.Errorf("the answer %q holds %q", rec.Body.String(), leak)
		}
	}
	if !strings.Contains(h.logs.String(), "10.20.30.40:7233") {
		t.Errorf("the log lacks the reason: %s", h.logs.String())
	}
}
