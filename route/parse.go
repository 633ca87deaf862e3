package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/yamlnode"
)

// ParseMatchers reads one set of matchers on its own, written as the value
// of a route's match key: YAML, or JSON (a silence's matchers). path
// prefixes the paths in errors ("matchers"), which name no file: the text
// is a request's, not a file's. An empty set is refused: matchers alone,
// unlike a route's, are never meant to match every alert. It reports every
// problem, joined.
func ParseMatchers(path string, data []byte) (Matchers, error) {
	r := &yamlnode.Reader{}
	var root *yaml.Node
	if json.Valid(data) {
		root = yamlnode.JSON(data)
	} else {
		var doc yaml.Node
		err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc)
		switch {
		case err != nil && !errors.Is(err, io.EOF):
			r.SyntaxError(err)
		case err == nil && len(doc.Content) > 0:
			root = doc.Content[0]
		}
	}
	if len(r.Errs) == 0 && (root == nil || root.Tag == "!!null" ||
		root.Kind == yaml.MappingNode && len(root.Content) == 0) {
		r.Errorf(nil, path, "at least one matcher is required, such as {\"project\":\"team-a/*\"}")
	}
	var m Matchers
	if len(r.Errs) == 0 {
		m = ReadMatchers(r, root, path)
	}
	if err := r.Err(); err != nil {
		return Matchers{}, err
	}
	return m, nil
}

// ReadMatchers reads the matchers of node n at path, as a route's match
// key holds them, reporting problems to r. A null node is no matcher at
// all: it matches every alert.
func ReadMatchers(r *yamlnode.Reader, n *yaml.Node, path string) Matchers {
	var mt Matchers
	n = yamlnode.Resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return mt // match: with nothing: every alert
	}
	m := r.Mapping(n, path, "project", "project_id", "ref", "ref_regex", "branches", "tag", "source", "severity", "failure_class")
	if m == nil {
		return mt
	}
	// Counted before any value is read, so that a list of thousands is
	// one error rather than one per element.
	values := 0
	for _, e := range m {
		if v := yamlnode.Resolve(e.Val); v.Kind == yaml.SequenceNode {
			values += len(v.Content)
		} else {
			values++
		}
	}
	if values > MaxMatcherValues {
		r.Errorf(n, path, "%d values in one set of matchers: at most %d (MaxMatcherValues)", values, MaxMatcherValues)
		return mt
	}
	if e, ok := m["project"]; ok {
		if v, ok := r.Scalar(e.Val, path+".project"); ok {
			if err := CheckProject(v); err != nil {
				r.Errorf(e.Val, path+".project", "%v", err)
			}
			mt.Project = v
		}
	}
	if e, ok := m["project_id"]; ok {
		items, _ := r.List(e.Val, path+".project_id")
		for _, it := range items {
			id, err := strconv.ParseInt(it.Value, 10, 64)
			if it.Kind != yaml.ScalarNode || err != nil {
				r.Errorf(it, path+".project_id", "want an integer project ID")
				continue
			}
			mt.ProjectID = append(mt.ProjectID, id)
		}
	}
	if e, ok := m["ref"]; ok {
		if v, ok := r.Scalar(e.Val, path+".ref"); ok {
			if err := CheckRef(v); err != nil {
				r.Errorf(e.Val, path+".ref", "%v", err)
			}
			mt.Ref = v
		}
	}
	if e, ok := m["ref_regex"]; ok {
		if v, ok := r.Scalar(e.Val, path+".ref_regex"); ok {
			re, err := CompileRefRegex(v)
			if err != nil {
				r.Errorf(e.Val, path+".ref_regex", "%v", err)
			}
			mt.RefRegex = re
		}
	}
	if e, ok := m["branches"]; ok {
		if v, ok := r.Scalar(e.Val, path+".branches"); ok {
			b, err := ParseBranches(v)
			if err != nil {
				r.Errorf(e.Val, path+".branches", "%v", err)
			}
			mt.Branches = b
		}
	}
	if e, ok := m["tag"]; ok {
		if b, ok := r.Boolean(e.Val, path+".tag"); ok {
			mt.Tag = &b
		}
	}
	if e, ok := m["source"]; ok {
		// Any source is accepted: GitLab adds new ones.
		items, _ := r.List(e.Val, path+".source")
		for _, it := range items {
			if v, ok := r.Scalar(it, path+".source"); ok {
				mt.Source = append(mt.Source, v)
			}
		}
	}
	if e, ok := m["severity"]; ok {
		items, _ := r.List(e.Val, path+".severity")
		for _, it := range items {
			v, ok := r.Scalar(it, path+".severity")
			if !ok {
				continue
			}
			switch s := alert.Severity(strings.ToUpper(v)); s {
			case alert.SeverityHigh, alert.SeverityMedium, alert.SeverityLow:
				mt.Severity = append(mt.Severity, s)
			default:
				r.Errorf(it, path+".severity", "unknown severity %q: want HIGH, MEDIUM or LOW", v)
			}
		}
	}
	if e, ok := m["failure_class"]; ok {
		items, _ := r.List(e.Val, path+".failure_class")
		for _, it := range items {
			v, ok := r.Scalar(it, path+".failure_class")
			if !ok {
				continue
			}
			if c, known := alert.ParseFailureClass(strings.ToLower(v)); known {
				mt.FailureClass = append(mt.FailureClass, c)
			} else {
				r.Errorf(it, path+".failure_class", "unknown failure class %q: want infra, config or code", v)
			}
		}
	}
	return mt
}
