// Package yamlnode reads YAML (and JSON) as a tree of go-yaml nodes, so
// that every problem is reported with its line and its path in the
// document, and every problem is reported, not only the first. The routing
// file (config) and matchers (route) are both read with it.
package yamlnode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one thing wrong with a document. It never holds a secret:
// neither a value nor a URL nor the content of a file a value names.
type Error struct {
	File string
	Line int    // 0 when the problem has no line (an unreadable file)
	Path string // where in the document: route.routes[1].receiver; "" for the document as a whole
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		// Text that came without a file name, such as a request body.
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Reader collects the problems of one document as it is read.
type Reader struct {
	File string // named in errors; "" for text that is not a file's
	Errs []*Error
}

// Errorf reports a problem at n (nil: no line) and path.
func (r *Reader) Errorf(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	r.Errs = append(r.Errs, &Error{File: r.File, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// yamlLine pulls the line out of go-yaml's syntax errors ("yaml: line 3:
// did not find expected key").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// SyntaxError reports go-yaml's error, whose messages describe the syntax,
// never the values.
func (r *Reader) SyntaxError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	r.Errs = append(r.Errs, &Error{File: r.File, Line: line, Msg: "not valid YAML: " + msg})
}

// Err joins the problems reported, in document order; nil when none was.
func (r *Reader) Err() error {
	if len(r.Errs) == 0 {
		return nil
	}
	slices.SortStableFunc(r.Errs, func(a, b *Error) int { return a.Line - b.Line })
	errs := make([]error, len(r.Errs))
	for i, e := range r.Errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// Entry is one key and its value in a mapping.
type Entry struct{ Key, Val *yaml.Node }

// Resolve follows aliases (*name) to what they stand for.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// Join is the path of key under path.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Mapping reads a mapping whose keys must be among known; it reports an
// unknown or repeated key and returns the entries by key, or nil when n is
// not a mapping.
func (r *Reader) Mapping(n *yaml.Node, path string, known ...string) map[string]Entry {
	n = Resolve(n)
	if n.Kind != yaml.MappingNode {
		r.Errorf(n, path, "want a mapping of %s, not %s", strings.Join(known, ", "), Kind(n))
		return nil
	}
	out := make(map[string]Entry)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := Resolve(n.Content[i]), Resolve(n.Content[i+1])
		switch {
		case k.Kind != yaml.ScalarNode:
			r.Errorf(k, path, "a key must be a plain word, not %s", Kind(k))
		case k.Value == "<<":
			r.Errorf(k, path, "merge keys (<<) are not supported; write the keys out")
		case !slices.Contains(known, k.Value):
			r.Errorf(k, Join(path, k.Value), "unknown key %q: want one of %s", k.Value, strings.Join(known, ", "))
		case out[k.Value].Key != nil:
			r.Errorf(k, Join(path, k.Value), "given twice (first on line %d)", out[k.Value].Key.Line)
		default:
			out[k.Value] = Entry{k, v}
		}
	}
	return out
}

// Kind names a node's kind for an error, without its value.
func Kind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return "a single value"
	}
	return "something else"
}

// Scalar is the text of a scalar value; false (after an error) when n is
// not one. An empty or null scalar is an error too: a key given empty is
// more likely a mistake than a wish.
func (r *Reader) Scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		r.Errorf(n, path, "want a single value, not %s", Kind(n))
		return "", false
	}
	if n.Tag == "!!null" || n.Value == "" {
		r.Errorf(n, path, "is empty")
		return "", false
	}
	return n.Value, true
}

// List is a list of scalars, or a single scalar taken as a list of one.
func (r *Reader) List(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" || n.Value == "" {
			r.Errorf(n, path, "is empty: leave the key out to match anything")
			return nil, false
		}
		return []*yaml.Node{n}, true
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			r.Errorf(n, path, "is empty: leave the key out to match anything")
			return nil, false
		}
		items := make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			items[i] = Resolve(c)
		}
		return items, true
	}
	r.Errorf(n, path, "want a list, not %s", Kind(n))
	return nil, false
}

// Boolean is a true or false value.
func (r *Reader) Boolean(n *yaml.Node, path string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	r.Errorf(n, path, "want true or false")
	return false, false
}

// JSON makes of valid JSON the nodes go-yaml would make of it, with the
// strings decoded by encoding/json and each node on its line, so that
// reading (and its errors) apply unchanged. JSON read as YAML would lose
// some of JSON: go-yaml refuses \/ and surrogate pairs (\ud83d\ude00).
func JSON(data []byte) *yaml.Node {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	// Offsets only grow: the newlines are counted once.
	line, counted := 1, 0
	lineAt := func(off int64) int {
		line += bytes.Count(data[counted:off], []byte("\n"))
		counted = int(off)
		return line
	}
	var value func() *yaml.Node
	value = func() *yaml.Node {
		tok, err := dec.Token()
		if err != nil {
			// Cannot happen on valid JSON; a null is refused as empty.
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: line}
		}
		n := &yaml.Node{Kind: yaml.ScalarNode, Line: lineAt(dec.InputOffset())}
		switch t := tok.(type) {
		case json.Delim:
			n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
			if t == '{' {
				n.Kind, n.Tag = yaml.MappingNode, "!!map"
			}
			for dec.More() {
				if n.Kind == yaml.MappingNode {
					n.Content = append(n.Content, value()) // the key
				}
				n.Content = append(n.Content, value())
			}
			_, _ = dec.Token() // the closing delimiter
		case string:
			n.Tag, n.Value, n.Style = "!!str", t, yaml.DoubleQuotedStyle
		case json.Number:
			n.Tag, n.Value = "!!float", t.String()
			if _, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
				n.Tag = "!!int"
			}
		case bool:
			n.Tag, n.Value = "!!bool", strconv.FormatBool(t)
		default: // nil, JSON's null
			n.Tag, n.Value = "!!null", "null"
		}
		return n
	}
	return value()
}
