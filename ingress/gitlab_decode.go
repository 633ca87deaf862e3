package ingress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/alertflow/alertflow/alert"
)

// The JSON side of ParsePipelineEvent: jsontext reads the body token by
// token, checking that it is well-formed as it goes, and this file only
// says where each member GitLab sends goes. Members alertflow does not
// keep, and jobs that did not fail, are skipped by jsontext without being
// decoded, so neither time nor memory grows with them.

// decodeOptions make jsontext read what encoding/json reads: bytes that
// are not UTF-8 are taken (and become U+FFFD when kept). Duplicate member
// names stay refused, jsontext's default: a payload that says two things
// about one field is not GitLab's.
var decodeOptions = []jsontext.Options{jsontext.AllowInvalidUTF8(true)}

// hookDecoder is a jsontext decoder over one body, and scratch space for
// the raw values of a job until its status is known. Pooled: a decoder is
// a few KB, and one parse per webhook would otherwise allocate one.
type hookDecoder struct {
	body    bytes.Buffer
	dec     jsontext.Decoder
	scratch []byte
	// unquoted holds a string with escapes while it is unquoted.
	unquoted []byte
	// err is the first member of the wrong type: the body is still read to
	// its end, because malformed JSON anywhere is reported first.
	err *PayloadError
}

var hookDecoders = sync.Pool{New: func() any { return new(hookDecoder) }}

// newHookDecoder returns a decoder reading body in place: jsontext parses
// a bytes.Buffer without copying it.
func newHookDecoder(body []byte) *hookDecoder {
	d := hookDecoders.Get().(*hookDecoder)
	d.body = *bytes.NewBuffer(body)
	d.dec.Reset(&d.body, decodeOptions...)
	d.err = nil
	return d
}

// release returns d to the pool without the body, which the server
// recycles.
func (d *hookDecoder) release() {
	d.body = bytes.Buffer{}
	d.dec.Reset(&d.body, decodeOptions...)
	d.scratch = d.scratch[:0]
	hookDecoders.Put(d)
}

// wrongType records the first member of the wrong type.
func (d *hookDecoder) wrongType(field, reason string) {
	if d.err == nil {
		d.err = &PayloadError{Field: field, Reason: reason}
	}
}

// pointerPath writes a JSON pointer ("/builds/3/name") as the dotted path
// the 400s name fields by ("builds.3.name").
var pointerPath = strings.NewReplacer("/", ".", "~1", "/", "~0", "~")

// syntaxError turns an error of jsontext into the 400's payload error.
func syntaxError(err error) *PayloadError {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	var serr *jsontext.SyntacticError
	if !errors.As(err, &serr) {
		return &PayloadError{Reason: "malformed JSON: " + err.Error()}
	}
	if errors.Is(serr.Err, jsontext.ErrDuplicateName) {
		field := pointerPath.Replace(strings.TrimPrefix(string(serr.JSONPointer), "/"))
		return &PayloadError{Field: field, Reason: "duplicate member name: each member may appear once"}
	}
	return &PayloadError{Reason: fmt.Sprintf("malformed JSON at byte %d: %v", serr.ByteOffset, serr.Err)}
}

// decode reads body, which must be one JSON object, into h. Other events
// are recognised by object_kind; the rest of them is read for
// well-formedness only.
func (h *pipelineHook) decode(body []byte) *PayloadError {
	d := newHookDecoder(body)
	defer d.release()
	if err := h.decodeMembers(d, false); err != nil {
		return err
	}
	if h.ObjectKind != "" && h.ObjectKind != "pipeline" {
		return nil
	}
	if h.buildsSkipped && !h.ignored() {
		// A status that names a pipeline worth its jobs came after the
		// jobs were skipped (another spelling of "status" later in the
		// body): read the body again for them.
		h.FailedJobs, h.buildsErr = nil, nil
		d.body = *bytes.NewBuffer(body)
		d.dec.Reset(&d.body, decodeOptions...)
		if err := h.decodeMembers(d, true); err != nil {
			return err
		}
	}
	if d.err != nil {
		return d.err
	}
	if h.ignored() {
		// A pipeline that opens and resolves nothing keeps no jobs, and
		// what is wrong with them does not matter.
		h.FailedJobs, h.buildsErr = nil, nil
	}
	return h.buildsErr
}

// ignored reports whether the pipeline, as decoded so far, opens and
// resolves nothing: then its jobs are not looked at.
func (h *pipelineHook) ignored() bool {
	s := h.ObjectAttributes.Status
	return s != nil && alert.RouteOf(*s) == alert.RouteIgnore
}

// decodeMembers reads the top-level object. With onlyBuilds, every member
// but builds is skipped.
func (h *pipelineHook) decodeMembers(d *hookDecoder, onlyBuilds bool) *PayloadError {
	dec := &d.dec
	switch dec.PeekKind() {
	case '{':
	case 0:
		_, err := dec.ReadToken()
		return syntaxError(err)
	default:
		return &PayloadError{Reason: "malformed JSON: the body is not a JSON object"}
	}
	if _, err := dec.ReadToken(); err != nil {
		return syntaxError(err)
	}
	oa, p := &h.ObjectAttributes, &h.Project
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return syntaxError(err)
		}
		switch {
		case onlyBuilds:
			if keyIs(d, name, "builds") {
				err = h.decodeBuilds(d)
				break
			}
			err = dec.SkipValue()
		case keyIs(d, name, "object_kind"):
			err = d.value("object_kind", "", &h.ObjectKind)
		case keyIs(d, name, "object_attributes"):
			err = d.object("object_attributes",
				field{"id", &oa.ID}, field{"iid", &oa.IID}, field{"name", &oa.Name}, field{"ref", &oa.Ref},
				field{"tag", &oa.Tag}, field{"sha", &oa.SHA}, field{"source", &oa.Source}, field{"status", &oa.Status},
				field{"url", &oa.URL}, field{"created_at", &oa.CreatedAt}, field{"finished_at", &oa.FinishedAt},
				field{"duration", &oa.Duration}, field{"protected_ref", &oa.ProtectedRef})
		case keyIs(d, name, "project"):
			err = d.object("project", field{"id", &p.ID}, field{"path_with_namespace", &p.PathWithNamespace},
				field{"web_url", &p.WebURL}, field{"default_branch", &p.DefaultBranch})
		case keyIs(d, name, "user"):
			u := orNew(&h.User)
			err = d.objectOrNull("user", func() { h.User = nil }, field{"name", &u.Name}, field{"username", &u.Username})
		case keyIs(d, name, "commit"):
			c := orNew(&h.Commit)
			err = d.objectOrNull("commit", func() { h.Commit = nil }, field{"title", &c.Title}, field{"message", &c.Message}, field{"url", &c.URL},
				field{"author", []field{{"name", &c.Author}}})
		case keyIs(d, name, "merge_request"):
			mr := orNew(&h.MergeRequest)
			err = d.objectOrNull("merge_request", func() { h.MergeRequest = nil }, field{"iid", &mr.IID}, field{"title", &mr.Title}, field{"url", &mr.URL})
		case keyIs(d, name, "source_pipeline"):
			err = d.object("source_pipeline", field{"pipeline_id", &h.ParentID})
		case keyIs(d, name, "builds"):
			if h.ignored() {
				// Most webhooks GitLab sends are for pipelines still under
				// way, and their jobs were a third of the time to parse them.
				h.buildsSkipped = true
				err = dec.SkipValue()
				break
			}
			err = h.decodeBuilds(d)
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return syntaxError(err)
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return syntaxError(err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			return &PayloadError{Reason: fmt.Sprintf("malformed JSON at byte %d: data after the top-level value", dec.InputOffset())}
		}
		return syntaxError(err)
	}
	return nil
}

// orNew returns *p, allocating it when it is nil, as encoding/json does
// for a pointer to a struct.
func orNew[T any](p **T) *T {
	if *p == nil {
		*p = new(T)
	}
	return *p
}

// decodeBuilds keeps the failed jobs of builds. A job that did not fail
// costs a read of its members and nothing else: its kept values are copied
// to scratch space and decoded only once its status says "failed".
func (h *pipelineHook) decodeBuilds(d *hookDecoder) error {
	dec := &d.dec
	// A later builds member replaces an earlier one, as in encoding/json.
	h.FailedJobs, h.buildsErr, h.Jobs, h.buildsRead = nil, nil, 0, false
	switch dec.PeekKind() {
	case 'n':
		return dec.SkipValue()
	case '[':
		h.buildsRead = true
	default:
		h.buildsErr = &PayloadError{Field: "builds", Reason: "must be an array"}
		return dec.SkipValue()
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for dec.PeekKind() != ']' {
		h.Jobs++
		switch dec.PeekKind() {
		case 'n':
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		case '{':
		default:
			if h.buildsErr == nil {
				h.buildsErr = &PayloadError{Field: "builds", Reason: "must be an object"}
			}
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		if err := h.decodeJob(d); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

// jobFields are the members of a job that are kept when it failed.
var jobFields = [...]string{"name", "stage", "failure_reason", "allow_failure"}

// decodeJob reads one job object and keeps it when it failed.
func (h *pipelineHook) decodeJob(d *hookDecoder) error {
	dec := &d.dec
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	d.scratch = d.scratch[:0]
	var (
		kept    [len(jobFields)][2]int // where each kept value is in scratch
		failed  bool
		badType string // the first kept member of the wrong type
	)
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return err
		}
		i := -1
		switch {
		case keyIs(d, name, "status"):
			v, err := dec.ReadValue()
			if err != nil {
				return err
			}
			switch v.Kind() {
			case '"':
				failed = isFailed(d, v)
			case 'n':
				failed = false
			default:
				if h.buildsErr == nil {
					h.buildsErr = &PayloadError{Field: "builds.status", Reason: "must be a string"}
				}
			}
			continue
		case keyIs(d, name, jobFields[0]):
			i = 0
		case keyIs(d, name, jobFields[1]):
			i = 1
		case keyIs(d, name, jobFields[2]):
			i = 2
		case keyIs(d, name, jobFields[3]):
			i = 3
		default:
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		if reason := kindFits(v.Kind(), i == 3); reason != "" && badType == "" {
			badType = jobFields[i] + "\x00" + reason
		}
		start := len(d.scratch)
		d.scratch = append(d.scratch, v...)
		kept[i] = [2]int{start, len(d.scratch)}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	if !failed {
		return nil
	}
	if badType != "" {
		if h.buildsErr == nil {
			f, reason, _ := strings.Cut(badType, "\x00")
			h.buildsErr = &PayloadError{Field: "builds." + f, Reason: reason}
		}
		return nil
	}
	var j failedJob
	into := [len(jobFields)]any{&j.Name, &j.Stage, &j.FailureReason, &j.AllowFailure}
	for i, at := range kept {
		if at[1] > at[0] {
			decodeValue(d, jsontext.Value(d.scratch[at[0]:at[1]]), into[i])
		}
	}
	h.FailedJobs = append(h.FailedJobs, j)
	return nil
}

// kindFits says what is wrong when a job's kept value has the wrong kind:
// a string (or null), or with boolean set a boolean (or null).
func kindFits(k jsontext.Kind, boolean bool) string {
	switch {
	case k == 'n':
		return ""
	case boolean && (k == 't' || k == 'f'):
		return ""
	case boolean:
		return "must be a boolean"
	case k == '"':
		return ""
	}
	return "must be a string"
}

// isFailed reports whether the status of a job says "failed".
func isFailed(d *hookDecoder, status jsontext.Value) bool {
	if bytes.IndexByte(status, '\\') < 0 {
		return string(status) == `"failed"`
	}
	s, _ := unquote(d, status)
	return s == "failed"
}

// field is a member of a JSON object and where its value goes: a *string,
// **string, *int64, **int64, *bool, **float64 or *gitlabTime, or the
// fields of a nested object ([]field).
type field struct {
	name string
	into any
}

// value decodes the next value into into, naming path and member (when
// set) when its type does not fit.
func (d *hookDecoder) value(path, member string, into any) error {
	v, err := d.dec.ReadValue()
	if err != nil {
		return err
	}
	if reason := decodeValue(d, v, into); reason != "" {
		if member != "" {
			path += "." + member
		}
		d.wrongType(path, reason)
	}
	return nil
}

// object decodes the members of the next value, the member at path, that
// fields name, and skips the others. Null leaves every field as it is.
func (d *hookDecoder) object(path string, fields ...field) error {
	return d.objectOrNull(path, nil, fields...)
}

// objectOrNull is object, calling null (when set) for a null value.
func (d *hookDecoder) objectOrNull(path string, null func(), fields ...field) error {
	dec := &d.dec
	switch dec.PeekKind() {
	case 'n':
		if null != nil {
			null()
		}
		return dec.SkipValue()
	case '{':
	default:
		d.wrongType(path, "must be an object")
		return dec.SkipValue()
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return err
		}
		var into *field
		for i := range fields {
			if keyIs(d, name, fields[i].name) {
				into = &fields[i]
				break
			}
		}
		if into == nil {
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		if sub, ok := into.into.([]field); ok {
			if err := d.object(path+"."+into.name, sub...); err != nil {
				return err
			}
			continue
		}
		if err := d.value(path, into.name, into.into); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

// decodeValue decodes the well-formed JSON value into into (see field) and
// says what is wrong when its type does not fit. Like encoding/json, null
// leaves a value as it is and sets a pointer to nil. Strings are copied:
// the body they come from is recycled once the request is answered.
func decodeValue(d *hookDecoder, value jsontext.Value, into any) (reason string) {
	null := value.Kind() == 'n'
	switch p := into.(type) {
	case *string:
		if s, ok := unquote(d, value); ok {
			*p = s
		} else if !null {
			return "must be a string"
		}
	case **string:
		if s, ok := unquote(d, value); ok {
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
		switch value.Kind() {
		case 't', 'f':
			*p = value.Kind() == 't'
		case 'n':
		default:
			return "must be a boolean"
		}
	case **float64:
		if *p = nil; null {
			return ""
		}
		if value.Kind() != '0' {
			return "must be a number"
		}
		f, err := strconv.ParseFloat(string(value), 64)
		if err != nil {
			return "must be a number"
		}
		*p = &f
	case *gitlabTime:
		if null {
			return ""
		}
		s, ok := unquote(d, value)
		if !ok {
			p.err = errors.New("must be a timestamp string")
			return ""
		}
		p.parse(s)
	default:
		panic(fmt.Sprintf("ingress: cannot decode into %T", into))
	}
	return ""
}

// integer decodes a JSON number that has neither a fraction nor an exponent.
func integer(value jsontext.Value) (n int64, reason string) {
	if value.Kind() != '0' {
		return 0, "must be a number"
	}
	n, err := strconv.ParseInt(string(value), 10, 64)
	if err != nil {
		return 0, "must be an integer"
	}
	return n, ""
}

// unquote returns a copy of the string value is, if it is one. Bytes that
// are not UTF-8 become U+FFFD, as encoding/json makes them.
func unquote(d *hookDecoder, value jsontext.Value) (string, bool) {
	if value.Kind() != '"' {
		return "", false
	}
	if inner := value[1 : len(value)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), true
	}
	// The error only says that bytes were replaced.
	d.unquoted, _ = jsontext.AppendUnquote(d.unquoted[:0], value)
	return string(d.unquoted), true
}

// keyIs reports whether the name of a member, as read, names name. Like
// encoding/json it ignores case; escaped names, which GitLab does not send,
// are unquoted first.
func keyIs(d *hookDecoder, raw jsontext.Value, name string) bool {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return len(inner) == len(name) && strings.EqualFold(string(inner), name)
	}
	d.unquoted, _ = jsontext.AppendUnquote(d.unquoted[:0], raw)
	return strings.EqualFold(string(d.unquoted), name)
}
