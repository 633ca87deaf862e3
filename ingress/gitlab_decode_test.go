package ingress

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/alertflow/alertflow/alert"
)

// ParsePipelineEvent reads JSON with jsontext; these tests hold it to what
// encoding/json, which it replaced, accepts and decodes.

// UnmarshalJSON lets the reference parser below decode timestamps as
// ParsePipelineEvent does.
func (t *gitlabTime) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		t.err = errors.New("must be a timestamp string")
		return nil
	}
	if s != nil {
		t.parse(*s)
	}
	return nil
}

func TestParseFindsMalformedWhatEncodingJSONFindsMalformed(t *testing.T) {
	inputs := []string{
		``, ` `, `{}`, `[]`, `{`, `}`, `[`, `]`, `{"a":1}`, ` {"a" : [1, 2.5, -3e2, true, false, null] } `,
		`{"a":1,}`, `[1,]`, `{"a"}`, `{"a":}`, `{a:1}`, `{"a":1 "b":2}`, `[1 2]`, `{} {}`, `{}x`, `"\u00e9"`,
		`"\x"`, `"\u12"`, `"\u12G4"`, "\"a\tb\"", "\"a\x01b\"", `"\"\\\/\b\f\n\r\t"`, "\"\xff\xfe\"", `"\ud800"`,
		`-`, `-0`, `01`, `1.`, `.5`, `1e`, `1e+`, `1E-5`, `-1.5e+10`, `+1`, `0x10`, `1.5.5`,
		`tru`, `true`, `truex`, `nul`, `null`, `nulll`, `[true,false,null]`, `"unterminated`, `"a\`,
		strings.Repeat("[", 9999) + strings.Repeat("]", 9999),
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		`{"builds":[{"name":"a]}\"{[","status":"failed"}]}`,
	}
	for _, in := range inputs {
		// Inside a member, so that what is not an object is read too.
		body := []byte(`{"object_kind":"pipeline","x":` + in + `}`)
		_, _, err := ParsePipelineEvent(body)
		var pe *PayloadError
		malformed := errors.As(err, &pe) && strings.HasPrefix(pe.Reason, "malformed JSON")
		if want := !json.Valid(body); malformed != want {
			t.Errorf("%.40q: err %v, want malformed: %v", in, err, want)
		}
	}
	for _, in := range []string{``, ` `, `[]`, `"x"`, `{} {}`, `{}x`, `{"object_kind":"pipeline"} {}`} {
		_, _, err := ParsePipelineEvent([]byte(in))
		var pe *PayloadError
		if !errors.As(err, &pe) || !strings.HasPrefix(pe.Reason, "malformed JSON") {
			t.Errorf("%q: err %v, want malformed JSON", in, err)
		}
	}
}

func TestADuplicateMemberIs400SayingSo(t *testing.T) {
	for _, tt := range []struct{ body, field string }{
		{`{"project":{"id":1},"project":{"id":2},"object_attributes":{"id":2,"ref":"m","status":"failed"}}`, "project"},
		{`{"project":{"id":1},"object_attributes":{"id":2,"id":3,"ref":"m","status":"failed"}}`, "object_attributes.id"},
		{`{"project":{"id":1},"object_attributes":{"id":2,"ref":"m","status":"running"},"builds":[{"name":"a","name":"b"}]}`, "builds.0.name"},
	} {
		_, _, err := ParsePipelineEvent([]byte(tt.body))
		var pe *PayloadError
		if !errors.As(err, &pe) || pe.Field != tt.field || !strings.Contains(pe.Reason, "duplicate") {
			t.Errorf("%s: err %v, want a PayloadError naming %s as a duplicate", tt.body, err, tt.field)
		}
	}
}

func TestParseFindsFailedJobsWhateverTheirText(t *testing.T) {
	body := []byte(`{"object_kind":"pipeline","project":{"id":1},
		"object_attributes":{"id":2,"ref":"main","status":"failed"},
		"builds":[
			{"name":"quote \" and ] and } and [ and {","status":"success","runner":{"tags":["a]","b}"]}},
			{"name":"back\\slash\\","stage":"t\u00e9st","status":"failed","failure_reason":null},
			{"st\u0061tus":"f\u0061iled","name":"escaped"},
			null,
			{"name":"upper","Status":"failed","allow_failure":true},
			{"name":"not me","status":"Failed"}
		]}`)
	ev, _, err := ParsePipelineEvent(body)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range ev.Pipeline.FailedJobs {
		names = append(names, j.Name+"/"+j.Stage)
	}
	if want := []string{`back\slash\/tést`, "escaped/", "upper/"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("failed jobs %q, want %q", names, want)
	}
}

func TestParseNamesKeptObjectsOfTheWrongType(t *testing.T) {
	for _, field := range []string{"object_attributes", "project", "user", "commit", "merge_request", "builds"} {
		for _, v := range []string{`5`, `"x"`, `true`, `[]`, `{}`} {
			if v == `{}` && field != "builds" || v == `[]` && field == "builds" {
				continue
			}
			body := []byte(`{"object_kind":"pipeline","project":{"id":1},"object_attributes":{"id":2,"ref":"main","status":"failed"},"` + field + `":` + v + `}`)
			_, _, err := ParsePipelineEvent(body)
			var pe *PayloadError
			if !errors.As(err, &pe) || pe.Field != field {
				t.Errorf("%s as %s: err %v, want a PayloadError naming %s", field, v, err, field)
			}
		}
	}
}

// referenceHook is the parser ParsePipelineEvent replaced: encoding/json
// decoding every job.
type referenceHook struct {
	ObjectKind       string `json:"object_kind"`
	ObjectAttributes struct {
		ID         *int64     `json:"id"`
		IID        int64      `json:"iid"`
		Name       string     `json:"name"`
		Ref        *string    `json:"ref"`
		Tag        bool       `json:"tag"`
		Protected  bool       `json:"protected_ref"`
		SHA        string     `json:"sha"`
		Source     string     `json:"source"`
		Status     *string    `json:"status"`
		URL        string     `json:"url"`
		CreatedAt  gitlabTime `json:"created_at"`
		FinishedAt gitlabTime `json:"finished_at"`
		Duration   *float64   `json:"duration"`
	} `json:"object_attributes"`
	Project struct {
		ID                *int64 `json:"id"`
		PathWithNamespace string `json:"path_with_namespace"`
		WebURL            string `json:"web_url"`
		DefaultBranch     string `json:"default_branch"`
	} `json:"project"`
	User   *hookUser `json:"user"`
	Commit *struct {
		Title, Message, URL string
		Author              *struct{ Name string }
	} `json:"commit"`
	MergeRequest *hookMergeRequest `json:"merge_request"`
	Builds       []struct {
		Name          string  `json:"name"`
		Stage         string  `json:"stage"`
		Status        string  `json:"status"`
		FailureReason *string `json:"failure_reason"`
		AllowFailure  bool    `json:"allow_failure"`
	} `json:"builds"`
}

// referenceParse is the replaced ParsePipelineEvent, for valid pipeline
// events: ok is false where it reported any error, typeErr is its error
// when a value had the wrong type.
func referenceParse(body []byte) (h pipelineHook, ok bool, typeErr *json.UnmarshalTypeError) {
	var r referenceHook
	if err := json.Unmarshal(body, &r); err != nil {
		errors.As(err, &typeErr)
		return h, false, typeErr
	}
	if r.ObjectKind != "" && r.ObjectKind != "pipeline" {
		return h, false, nil
	}
	h.ObjectKind = r.ObjectKind
	a, oa := r.ObjectAttributes, &h.ObjectAttributes
	oa.ID, oa.IID, oa.Name, oa.SHA, oa.Ref, oa.Status = a.ID, a.IID, a.Name, a.SHA, a.Ref, a.Status
	oa.Tag, oa.Source, oa.URL, oa.Duration = a.Tag, a.Source, a.URL, a.Duration
	oa.ProtectedRef = a.Protected
	oa.CreatedAt, oa.FinishedAt = a.CreatedAt, a.FinishedAt
	p := r.Project
	h.Project.ID, h.Project.PathWithNamespace, h.Project.WebURL, h.Project.DefaultBranch = p.ID, p.PathWithNamespace, p.WebURL, p.DefaultBranch
	h.User, h.MergeRequest = r.User, r.MergeRequest
	if c := r.Commit; c != nil {
		h.Commit = &hookCommit{Title: c.Title, Message: c.Message, URL: c.URL}
		if c.Author != nil {
			h.Commit.Author = c.Author.Name
		}
	}
	h.Jobs, h.buildsRead = len(r.Builds), r.Builds != nil
	for _, b := range r.Builds {
		if b.Status == "failed" {
			h.FailedJobs = append(h.FailedJobs, failedJob{b.Name, b.Stage, b.FailureReason, b.AllowFailure})
		}
	}
	return h, h.validate() == nil, nil
}

// FuzzParsePipelineEvent checks, from real payloads and their mutations,
// that ParsePipelineEvent agrees with encoding/json on what is well-formed
// JSON, and that every pipeline event the replaced parser accepted still
// parses to the same event.
func FuzzParsePipelineEvent(f *testing.F) {
	for _, name := range []string{"pipeline-docs-example.json", "pipeline-failed-branch.json", "pipeline-go-gitlab.json",
		"pipeline-merge-request.json", "pipeline-tag-canceled.json", "pipeline-test-button-rfc3339.json"} {
		f.Add(readPayload(f, name))
	}
	f.Add(pipelineBody(f, 30, 3))
	f.Add([]byte(`{"object_kind":"pipeline","project":{"id":1,"ID":2},"object_attributes":{"id":2,"ref":"m\u00fc","status":"failed","duration":1.5},"builds":null,"user":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, isPipeline, err := ParsePipelineEvent(body)
		if pe, ok := err.(*PayloadError); ok && strings.HasPrefix(pe.Reason, "duplicate member") {
			// encoding/json takes the last of two members of one name;
			// jsontext refuses them, and so does the parser.
			if jsontext.Value(body).IsValid(jsontext.AllowInvalidUTF8(true)) {
				t.Fatalf("%v, but jsontext finds no duplicate", err)
			}
			return
		}
		if _, malformed := err.(*PayloadError); malformed && strings.HasPrefix(err.(*PayloadError).Reason, "malformed JSON") {
			if json.Valid(body) && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
				t.Fatalf("%v, but encoding/json finds the body well-formed", err)
			}
		} else if !json.Valid(body) {
			t.Fatalf("accepted a body encoding/json finds malformed (err %v)", err)
		}
		ref, ok, typeErr := referenceParse(body)
		if typeErr != nil && typeErr.Field != "" && !strings.HasPrefix(typeErr.Field, "builds") && isPipeline && err == nil {
			// Values of jobs that did not fail are not decoded any more;
			// every other value of the wrong type is still refused.
			t.Fatalf("the replaced parser refused %s (%v), now accepted", typeErr.Field, typeErr)
		}
		if !ok {
			return
		}
		if err != nil || !isPipeline {
			t.Fatalf("the replaced parser accepted the body, now pipeline=%v err=%v", isPipeline, err)
		}
		want := ref.event()
		if alert.RouteOf(want.Pipeline.Status) == alert.RouteIgnore {
			// The jobs of a pipeline that is ignored are not looked at.
			want.Pipeline.FailedJobs = nil
		}
		if !reflect.DeepEqual(ev, want) {
			t.Fatalf("event differs from the replaced parser's\n got %+v\nwant %+v", ev, want)
		}
	})
}

func TestJobsSkippedForAnEarlierStatusAreReadWhenALaterOneNeedsThem(t *testing.T) {
	// encoding/json matches member names in any case, and the last wins:
	// the jobs were skipped for "running", then the status became "failed".
	body := []byte(`{"project":{"id":1},"object_attributes":{"id":2,"ref":"m","status":"running"},
		"builds":[{"name":"unit","status":"failed"},{"name":"lint","status":"success"}],
		"Object_Attributes":{"status":"failed"}}`)
	ev, _, err := ParsePipelineEvent(body)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Pipeline.Status != "failed" || len(ev.Pipeline.FailedJobs) != 1 || ev.Pipeline.FailedJobs[0].Name != "unit" {
		t.Fatalf("status %q, failed jobs %+v; want failed with the job unit", ev.Pipeline.Status, ev.Pipeline.FailedJobs)
	}
}

func TestAWebhookWithADuplicateMemberIsAnswered400NamingIt(t *testing.T) {
	body := []byte(`{"object_kind":"pipeline","project":{"id":1},"object_attributes":{"id":2,"ref":"m","status":"failed","status":"success"}}`)
	h := newHarness(t, 0)
	code, answer := postHostile(t, h, body)
	if code != http.StatusBadRequest || answer["field"] != "object_attributes.status" || !strings.Contains(fmt.Sprint(answer["error"]), "duplicate") {
		t.Fatalf("%d %v, want 400 naming object_attributes.status as a duplicate", code, answer)
	}
	if h.temporal.calls() != 0 {
		t.Fatal("a body with a duplicate member reached Temporal")
	}
}
