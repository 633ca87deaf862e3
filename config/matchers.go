package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/alertflow/alertflow/route"
)

// ParseMatchers reads one set of matchers on its own, written as the value
// of a route's match key: YAML, or JSON (a silence's matchers). path
// prefixes the paths in errors ("matchers"), which name no file: the text
// is a request's, not a file's. An empty set is refused: matchers alone,
// unlike a route's, are never meant to match every alert. Like Parse, it
// reports every problem, joined.
func ParseMatchers(path string, data []byte) (route.Matchers, error) {
	p := &parser{inRoute: map[*yaml.Node]bool{}}
	var root *yaml.Node
	if json.Valid(data) {
		// JSON read as YAML loses some of JSON: go-yaml refuses \/ and
		// surrogate pairs (\ud83d\ude00). Valid JSON is read as JSON.
		root = jsonNode(data)
	} else {
		var doc yaml.Node
		err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc)
		switch {
		case err != nil && !errors.Is(err, io.EOF):
			p.syntaxError(err)
		case err == nil && len(doc.Content) > 0:
			root = doc.Content[0]
		}
	}
	if len(p.errs) == 0 && (root == nil || root.Tag == "!!null" ||
		root.Kind == yaml.MappingNode && len(root.Content) == 0) {
		p.errorf(nil, path, "at least one matcher is required, such as {\"project\":\"team-a/*\"}")
	}
	var m route.Matchers
	if len(p.errs) == 0 {
		m = p.matchers(root, path)
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int { return a.Line - b.Line })
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return route.Matchers{}, errors.Join(errs...)
	}
	return m, nil
}

// jsonNode makes of valid JSON the nodes go-yaml would make of it, with
// the strings decoded by encoding/json and each node on its line, so that
// the routing file's reading (and its errors) apply unchanged.
func jsonNode(data []byte) *yaml.Node {
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
