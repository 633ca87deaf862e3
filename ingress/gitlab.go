package ingress

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alertflow/alertflow/alert"
)

// maxIDLength is Temporal's default limit on workflow ID length; a ref that
// makes a longer alert ID could never be signalled.
const maxIDLength = 1000

// PayloadError is a GitLab payload that cannot be turned into an event. Field
// names the offending JSON field ("object_attributes.ref") when there is one.
type PayloadError struct {
	Field  string
	Reason string
}

func (e *PayloadError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// pipelineHook is the part of GitLab's pipeline webhook that alertflow keeps.
// Everything else in the payload (variables, stages, runners, job users,
// environments, ...) and every job that did not fail is passed over by a
// scan that neither allocates nor decodes, so neither time nor memory grows
// with what alertflow does not keep.
type pipelineHook struct {
	ObjectKind       string
	ObjectAttributes struct {
		ID                    *int64
		IID                   int64
		Name, SHA             string
		Ref, Status           *string
		Tag                   bool
		Source, URL           string
		CreatedAt, FinishedAt gitlabTime
		Duration              *float64
	}
	Project struct {
		ID                                       *int64
		PathWithNamespace, WebURL, DefaultBranch string
	}
	User         *hookUser
	Commit       *hookCommit
	MergeRequest *hookMergeRequest
	// ParentID is source_pipeline.pipeline_id: the parent of a child
	// pipeline, or the upstream pipeline of a multi-project one.
	ParentID int64
	// FailedJobs are the builds with status "failed", the only ones kept.
	FailedJobs []failedJob
}

type (
	hookUser         struct{ Name, Username string }
	hookCommit       struct{ Title, Message, URL string }
	hookMergeRequest struct {
		IID        int64
		Title, URL string
	}
)

// failedJob is what alertflow keeps of a failed entry of builds.
type failedJob struct {
	Name, Stage   string
	FailureReason *string
	AllowFailure  bool
}

// gitlabTime accepts both timestamp formats GitLab sends: "2016-08-12
// 15:26:29 UTC" in real deliveries and RFC 3339 from the "Test" button.
// A bad value is kept as err rather than returned, because encoding/json
// drops the field path from errors of custom unmarshalers and the 400 must
// name the field.
type gitlabTime struct {
	time.Time
	err error
}

var gitlabTimeLayouts = []string{
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05 -0700",
	time.RFC3339Nano,
}

func (t *gitlabTime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	s, ok := unquote(b)
	if !ok {
		t.err = errors.New("must be a timestamp string")
		return nil
	}
	if s == "" {
		return nil
	}
	for _, layout := range gitlabTimeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			// A time whose UTC year has not four digits cannot be encoded
			// into the signal: refuse it here, naming the field, rather
			// than as a 503 from the Temporal call.
			if y := v.UTC().Year(); y < 1 || y > 9999 {
				t.err = fmt.Errorf("%q is outside the years 0001 to 9999", s)
				return nil
			}
			t.Time = v.UTC()
			return nil
		}
	}
	t.err = fmt.Errorf("%q is neither \"2006-01-02 15:04:05 UTC\" nor RFC 3339", s)
	return nil
}

// ParsePipelineEvent decodes a GitLab pipeline webhook body into an event.
// It reports whether the body is a pipeline event at all (object_kind
// "pipeline", or none), and a *PayloadError naming the field when the body is
// malformed or lacks what alertflow needs.
func ParsePipelineEvent(body []byte) (ev alert.Event, isPipeline bool, err error) {
	var h pipelineHook
	if err := h.decode(body); err != nil {
		return alert.Event{}, false, err
	}
	if h.ObjectKind != "" && h.ObjectKind != "pipeline" {
		return alert.Event{}, false, nil
	}
	if err := h.validate(); err != nil {
		return alert.Event{}, true, err
	}
	return h.event(), true, nil
}

// decode checks that body is well-formed JSON and collects the members
// alertflow keeps in the same pass, then decodes them. Other events are
// recognised by object_kind before anything else of them is decoded.
func (h *pipelineHook) decode(body []byte) *PayloadError {
	var m members
	off, msg := checkJSON(body, func(key, value []byte) {
		switch {
		case keyIs(key, "object_kind"):
			m.kind = value
		case keyIs(key, "object_attributes"):
			m.attributes = value
		case keyIs(key, "project"):
			m.project = value
		case keyIs(key, "user"):
			m.user = value
		case keyIs(key, "commit"):
			m.commit = value
		case keyIs(key, "merge_request"):
			m.mergeRequest = value
		case keyIs(key, "builds"):
			m.builds = value
		case keyIs(key, "source_pipeline"):
			m.sourcePipeline = value
		}
	})
	switch {
	case msg != "":
		return &PayloadError{Reason: fmt.Sprintf("malformed JSON at byte %d: %s", off, msg)}
	case body[skipSpace(body, 0)] != '{':
		return &PayloadError{Reason: "malformed JSON: the body is not a JSON object"}
	}
	if m.kind != nil {
		if reason := decodeValue(m.kind, &h.ObjectKind); reason != "" {
			return &PayloadError{Field: "object_kind", Reason: reason}
		}
		if h.ObjectKind != "" && h.ObjectKind != "pipeline" {
			return nil
		}
	}
	oa, p := &h.ObjectAttributes, &h.Project
	err := decodeObject(m.attributes, "object_attributes",
		field{"id", &oa.ID}, field{"iid", &oa.IID}, field{"name", &oa.Name}, field{"ref", &oa.Ref},
		field{"tag", &oa.Tag}, field{"sha", &oa.SHA}, field{"source", &oa.Source}, field{"status", &oa.Status},
		field{"url", &oa.URL}, field{"created_at", &oa.CreatedAt}, field{"finished_at", &oa.FinishedAt},
		field{"duration", &oa.Duration})
	if err == nil {
		err = decodeObject(m.project, "project", field{"id", &p.ID}, field{"path_with_namespace", &p.PathWithNamespace},
			field{"web_url", &p.WebURL}, field{"default_branch", &p.DefaultBranch})
	}
	if err == nil && present(m.user) {
		u := &hookUser{}
		h.User, err = u, decodeObject(m.user, "user", field{"name", &u.Name}, field{"username", &u.Username})
	}
	if err == nil && present(m.commit) {
		c := &hookCommit{}
		h.Commit, err = c, decodeObject(m.commit, "commit", field{"title", &c.Title}, field{"message", &c.Message}, field{"url", &c.URL})
	}
	if err == nil {
		err = decodeObject(m.sourcePipeline, "source_pipeline", field{"pipeline_id", &h.ParentID})
	}
	if err == nil && present(m.mergeRequest) {
		mr := &hookMergeRequest{}
		h.MergeRequest, err = mr, decodeObject(m.mergeRequest, "merge_request", field{"iid", &mr.IID}, field{"title", &mr.Title}, field{"url", &mr.URL})
	}
	// A pipeline that opens and resolves nothing (pending, running, ...)
	// is answered without a look at its jobs: most webhooks GitLab sends
	// are such, and their jobs were a third of the time to parse them.
	if err == nil && (oa.Status == nil || alert.RouteOf(*oa.Status) != alert.RouteIgnore) {
		err = h.decodeBuilds(m.builds)
	}
	return err
}

// members are the raw values of the top-level members alertflow keeps.
type members struct {
	kind, attributes, project, user, commit, mergeRequest, builds, sourcePipeline []byte
}

// decodeBuilds keeps the failed jobs of builds. A job that did not fail
// costs a scan for its status and nothing else: no allocation, no decoding.
func (h *pipelineHook) decodeBuilds(builds []byte) *PayloadError {
	if builds == nil || builds[0] == 'n' {
		return nil
	}
	if builds[0] != '[' {
		return &PayloadError{Field: "builds", Reason: "must be an array"}
	}
	for i := skipSpace(builds, 1); builds[i] != ']'; {
		var status []byte
		end := i + len("null")
		switch builds[i] {
		case '{':
			end = eachMember(builds, i, func(key, value []byte) {
				if keyIs(key, "status") {
					status = value
				}
			})
		case 'n':
		default:
			return &PayloadError{Field: "builds", Reason: "must be an object"}
		}
		switch {
		case len(status) > 0 && status[0] != '"' && status[0] != 'n':
			return &PayloadError{Field: "builds.status", Reason: "must be a string"}
		case isFailed(status):
			var j failedJob
			if err := decodeObject(builds[i:end], "builds", field{"name", &j.Name}, field{"stage", &j.Stage},
				field{"failure_reason", &j.FailureReason}, field{"allow_failure", &j.AllowFailure}); err != nil {
				return err
			}
			h.FailedJobs = append(h.FailedJobs, j)
		}
		if i = skipSpace(builds, end); builds[i] == ',' {
			i = skipSpace(builds, i+1)
		}
	}
	return nil
}

// isFailed reports whether the status of a job says "failed".
func isFailed(status []byte) bool {
	if bytes.IndexByte(status, '\\') < 0 {
		return string(status) == `"failed"`
	}
	s, _ := unquote(status)
	return s == "failed"
}

// field is a member of a JSON object and where its value goes: a *string,
// **string, *int64, **int64, *bool, **float64 or *gitlabTime.
type field struct {
	name string
	into any
}

// present reports whether a member is there and not null.
func present(value []byte) bool { return len(value) > 0 && value[0] != 'n' }

// decodeObject decodes the members of obj, the well-formed JSON value of the
// member at path, that fields name, and skips the others. Absent or null,
// obj leaves every field as it is.
func decodeObject(obj []byte, path string, fields ...field) *PayloadError {
	if obj == nil || obj[0] == 'n' {
		return nil
	}
	if obj[0] != '{' {
		return &PayloadError{Field: path, Reason: "must be an object"}
	}
	var err *PayloadError
	eachMember(obj, 0, func(key, value []byte) {
		for _, f := range fields {
			if err == nil && keyIs(key, f.name) {
				if reason := decodeValue(value, f.into); reason != "" {
					err = &PayloadError{Field: path + "." + f.name, Reason: reason}
				}
			}
		}
	})
	return err
}

// decodeValue decodes the well-formed JSON value into into (see field) and
// says what is wrong when its type does not fit. Like encoding/json, null
// leaves a value as it is and sets a pointer to nil.
func decodeValue(value []byte, into any) (reason string) {
	null := value[0] == 'n'
	switch p := into.(type) {
	case *string:
		if s, ok := unquote(value); ok {
			*p = s
		} else if !null {
			return "must be a string"
		}
	case **string:
		if s, ok := unquote(value); ok {
			*p = &s
		} else if *p = nil; !null {
			return "must be a string"
		}
	case *int64:
		if !null {
			n, reason := integer(value)
			if reason != "" {
				return reason
			}
			*p = n
		}
	case **int64:
		if *p = nil; !null {
			n, reason := integer(value)
			if reason != "" {
				return reason
			}
			*p = &n
		}
	case *bool:
		switch value[0] {
		case 't', 'f':
			*p = value[0] == 't'
		case 'n':
		default:
			return "must be a boolean"
		}
	case **float64:
		if *p = nil; null {
			return ""
		}
		if c := value[0]; c != '-' && (c < '0' || c > '9') {
			return "must be a number"
		}
		f, err := strconv.ParseFloat(string(value), 64)
		if err != nil {
			return "must be a number"
		}
		*p = &f
	case *gitlabTime:
		_ = p.UnmarshalJSON(value)
	default:
		panic(fmt.Sprintf("ingress: cannot decode into %T", into))
	}
	return ""
}

// integer decodes a JSON number that has neither a fraction nor an exponent.
func integer(value []byte) (n int64, reason string) {
	if c := value[0]; c != '-' && (c < '0' || c > '9') {
		return 0, "must be a number"
	}
	n, err := strconv.ParseInt(string(value), 10, 64)
	if err != nil {
		return 0, "must be an integer"
	}
	return n, ""
}

// unquote returns the string value is, if it is one.
func unquote(value []byte) (string, bool) {
	if value[0] != '"' {
		return "", false
	}
	if inner := value[1 : len(value)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	// Escapes, or bytes that are not UTF-8, which encoding/json replaces.
	var s string
	return s, json.Unmarshal(value, &s) == nil
}

func (h *pipelineHook) validate() error {
	oa := &h.ObjectAttributes
	switch {
	case h.Project.ID == nil:
		return &PayloadError{Field: "project.id", Reason: "is required"}
	case *h.Project.ID <= 0:
		return &PayloadError{Field: "project.id", Reason: "must be a positive integer"}
	case oa.ID == nil:
		return &PayloadError{Field: "object_attributes.id", Reason: "is required"}
	case *oa.ID <= 0:
		return &PayloadError{Field: "object_attributes.id", Reason: "must be a positive integer"}
	case oa.Ref == nil || *oa.Ref == "":
		return &PayloadError{Field: "object_attributes.ref", Reason: "is required"}
	case oa.Status == nil || *oa.Status == "":
		return &PayloadError{Field: "object_attributes.status", Reason: "is required"}
	}
	if oa.CreatedAt.err != nil {
		return &PayloadError{Field: "object_attributes.created_at", Reason: oa.CreatedAt.err.Error()}
	}
	if oa.FinishedAt.err != nil {
		return &PayloadError{Field: "object_attributes.finished_at", Reason: oa.FinishedAt.err.Error()}
	}
	return validateRef("object_attributes.ref", *h.Project.ID, *oa.Ref)
}

// validateRef checks that ref, from the payload field named, can name an
// alert of project projectID.
func validateRef(field string, projectID int64, ref string) error {
	if !utf8.ValidString(ref) {
		return &PayloadError{Field: field, Reason: "must be valid UTF-8"}
	}
	// Git refuses control characters in ref names; one here is not a ref.
	if strings.ContainsFunc(ref, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return &PayloadError{Field: field, Reason: "must not contain control characters"}
	}
	if len(alert.ID(projectID, ref)) > maxIDLength {
		return &PayloadError{Field: field, Reason: fmt.Sprintf("is too long for an alert id (at most %d bytes once encoded)", maxIDLength)}
	}
	return nil
}

func (h *pipelineHook) event() alert.Event {
	oa := &h.ObjectAttributes
	ev := alert.Event{
		Project: alert.Project{
			ID:            *h.Project.ID,
			Path:          h.Project.PathWithNamespace,
			URL:           h.Project.WebURL,
			DefaultBranch: h.Project.DefaultBranch,
		},
		Pipeline: alert.Pipeline{
			ID:         *oa.ID,
			IID:        oa.IID,
			Name:       oa.Name,
			Ref:        *oa.Ref,
			Tag:        oa.Tag,
			SHA:        oa.SHA,
			Source:     oa.Source,
			Status:     *oa.Status,
			URL:        oa.URL,
			CreatedAt:  oa.CreatedAt.Time,
			FinishedAt: oa.FinishedAt.Time,
		},
	}
	if oa.Duration != nil {
		ev.Pipeline.Duration = *oa.Duration
	}
	if ev.Pipeline.URL == "" && ev.Project.URL != "" {
		// Older GitLab versions send no pipeline URL; it is derivable.
		ev.Pipeline.URL = fmt.Sprintf("%s/-/pipelines/%d", ev.Project.URL, ev.Pipeline.ID)
	}
	if h.User != nil {
		ev.User = h.User.Name
		if ev.User == "" {
			ev.User = h.User.Username
		}
	}
	if h.Commit != nil {
		ev.Commit = alert.Commit{Title: h.Commit.Title, URL: h.Commit.URL}
		if ev.Commit.Title == "" {
			// Older payloads carry only the message; its first line is the title.
			ev.Commit.Title, _, _ = strings.Cut(h.Commit.Message, "\n")
		}
	}
	if h.MergeRequest != nil {
		ev.MergeRequest = &alert.MergeRequest{IID: h.MergeRequest.IID, Title: h.MergeRequest.Title, URL: h.MergeRequest.URL}
	}
	if ev.Pipeline.IsChild() {
		// Only a child's parent matters: a multi-project pipeline is an
		// ordinary pipeline of its own project.
		ev.Pipeline.ParentID = h.ParentID
	}
	for _, b := range h.FailedJobs {
		job := alert.Job{Name: b.Name, Stage: b.Stage, AllowFailure: b.AllowFailure}
		if b.FailureReason != nil {
			job.FailureReason = *b.FailureReason
		}
		ev.Pipeline.FailedJobs = append(ev.Pipeline.FailedJobs, job)
	}
	return ev
}

// The rest of this file is the JSON scanning behind ParsePipelineEvent:
// checkJSON validates a body in one pass without allocating, and eachMember
// and skipValue walk JSON that checkJSON has accepted, so they need not
// check anything.

// maxDepth is how deeply JSON values may nest, as in encoding/json.
const maxDepth = 10000

// checkJSON reports where and why data is not one well-formed JSON value,
// or an empty msg when it is. It follows RFC 8259 as encoding/json does:
// control characters in strings and bad escapes are errors, bytes that are
// not UTF-8 are not. When data is an object, top sees the raw key (without
// quotes) and the value of each of its members.
func checkJSON(data []byte, top func(key, value []byte)) (offset int, msg string) {
	c := jsonChecker{data: data, top: top}
	i := c.value(skipSpace(data, 0), 0)
	if c.msg == "" {
		if i = skipSpace(data, i); i < len(data) {
			c.fail(i, "data after the top-level value")
		}
	}
	return c.off, c.msg
}

// jsonChecker is the state of checkJSON: the input, the callback on
// top-level members and the first error.
type jsonChecker struct {
	data []byte
	top  func(key, value []byte)
	off  int
	msg  string
}

// fail records the error at offset i; it returns i for the callers' sake.
func (c *jsonChecker) fail(i int, msg string) int {
	if i >= len(c.data) {
		msg = "unexpected end of JSON input"
	}
	c.off, c.msg = i, msg
	return i
}

// value checks the value at data[i] and returns the offset after it.
func (c *jsonChecker) value(i, depth int) int {
	if i >= len(c.data) {
		return c.fail(i, "")
	}
	switch b := c.data[i]; {
	case b == '{', b == '[':
		return c.container(i, depth+1)
	case b == '"':
		return c.str(i)
	case b == 't':
		return c.literal(i, "true")
	case b == 'f':
		return c.literal(i, "false")
	case b == 'n':
		return c.literal(i, "null")
	case b == '-', '0' <= b && b <= '9':
		return c.number(i)
	default:
		return c.fail(i, fmt.Sprintf("invalid character %q looking for a value", b))
	}
}

// container checks the object or array at data[i].
func (c *jsonChecker) container(i, depth int) int {
	if depth > maxDepth {
		return c.fail(i, "exceeded max depth")
	}
	object := c.data[i] == '{'
	end := byte(']')
	if object {
		end = '}'
	}
	i = skipSpace(c.data, i+1)
	if i < len(c.data) && c.data[i] == end {
		return i + 1
	}
	for {
		var key []byte
		if object {
			if i >= len(c.data) || c.data[i] != '"' {
				return c.fail(i, "expected a string object key")
			}
			keyEnd := c.str(i)
			if c.msg != "" {
				return keyEnd
			}
			key = c.data[i+1 : keyEnd-1]
			if i = skipSpace(c.data, keyEnd); i >= len(c.data) || c.data[i] != ':' {
				return c.fail(i, "expected ':' after an object key")
			}
			i = skipSpace(c.data, i+1)
		}
		valueEnd := c.value(i, depth)
		if c.msg != "" {
			return valueEnd
		}
		if object && depth == 1 && c.top != nil {
			c.top(key, c.data[i:valueEnd])
		}
		switch i = skipSpace(c.data, valueEnd); {
		case i < len(c.data) && c.data[i] == ',':
			i = skipSpace(c.data, i+1)
		case i < len(c.data) && c.data[i] == end:
			return i + 1
		default:
			return c.fail(i, fmt.Sprintf("expected ',' or '%c'", end))
		}
	}
}

// str checks the string at data[i], which starts with its quote.
func (c *jsonChecker) str(i int) int {
	d := c.data
	for i++; i < len(d); i++ {
		switch b := d[i]; {
		case b == '"':
			return i + 1
		case b < 0x20:
			return c.fail(i, "control character in a string")
		case b == '\\':
			i++
			if i >= len(d) {
				return c.fail(i, "")
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for range 4 {
					if i++; i >= len(d) || !isHex(d[i]) {
						return c.fail(i, "invalid \\u escape in a string")
					}
				}
			default:
				return c.fail(i, fmt.Sprintf("invalid escape %q in a string", d[i]))
			}
		}
	}
	return c.fail(i, "")
}

// number checks the number at data[i]: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (c *jsonChecker) number(i int) int {
	d := c.data
	digits := func(i int) int {
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		return i
	}
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = digits(i)
	default:
		return c.fail(i, "invalid number")
	}
	if i < len(d) && d[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return c.fail(j, "invalid number")
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return c.fail(j, "invalid number")
		}
		i = j
	}
	return i
}

func (c *jsonChecker) literal(i int, lit string) int {
	if !bytes.HasPrefix(c.data[i:], []byte(lit)) {
		return c.fail(i, "invalid literal, expected "+lit)
	}
	return i + len(lit)
}

func isHex(b byte) bool {
	return '0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// eachMember calls fn with the raw key (without its quotes) and the value
// of each member of the well-formed object at data[i], and returns the
// offset just after the object.
func eachMember(data []byte, i int, fn func(key, value []byte)) (end int) {
	for i = skipSpace(data, i+1); data[i] == '"'; {
		keyEnd := skipString(data, i)
		start := skipSpace(data, skipSpace(data, keyEnd)+1) // past the ':'
		valueEnd := skipValue(data, start)
		fn(data[i+1:keyEnd-1], data[start:valueEnd])
		if i = skipSpace(data, valueEnd); data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	return i + 1
}

// brackets are the bytes skipValue looks at inside an object or array.
var brackets = [256]bool{'"': true, '{': true, '[': true, '}': true, ']': true}

// skipValue returns the offset just after the well-formed value at data[i].
func skipValue(data []byte, i int) int {
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		for depth := 0; ; i++ {
			for !brackets[data[i]] {
				i++
			}
			switch data[i] {
			case '"':
				i = skipString(data, i) - 1
			case '{', '[':
				depth++
			default:
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	default: // a number or a literal
		for i < len(data) {
			switch data[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// skipString returns the offset just after the well-formed string at
// data[i]: past the first quote that an even run of backslashes precedes.
func skipString(data []byte, i int) int {
	for i++; ; i++ {
		for data[i] != '"' {
			i++
		}
		backslashes := 0
		for data[i-1-backslashes] == '\\' {
			backslashes++
		}
		if backslashes%2 == 0 {
			return i + 1
		}
	}
}

// keyIs reports whether the raw key of a member names name. Like
// encoding/json it ignores case; escaped keys, which GitLab does not send,
// are unquoted first.
func keyIs(raw []byte, name string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return len(raw) == len(name) && strings.EqualFold(string(raw), name)
	}
	var key string
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	return json.Unmarshal(quoted, &key) == nil && strings.EqualFold(key, name)
}
