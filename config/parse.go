package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one thing wrong with a configuration file. It never holds a
// secret: neither a value nor a URL nor the content of a *_file.
type Error struct {
	File string
	Line int    // 0 when the problem has no line (an unreadable file)
	Path string // where in the file: route.routes[1].receiver; "" for the file as a whole
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

// Parse is Load on bytes already read; name is used in errors; readFile
// reads *_file (in production, at most MaxSecretFileSize+1 bytes of the
// file); one trailing newline of what it reads is trimmed, and more than
// MaxSecretFileSize bytes is an error. Parse reports every problem it
// finds, not only the first: the error joins them (errors.Join), one
// *Error per line, in file order.
func Parse(name string, data []byte, lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (*Config, error) {
	p := &parser{file: name, lookup: lookup, readFile: readFile, inRoute: map[*yaml.Node]bool{}}
	c := p.parse(data)
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int { return a.Line - b.Line })
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return c, nil
}

type parser struct {
	file     string
	lookup   func(string) (string, bool)
	readFile func(string) ([]byte, error)
	errs     []*Error
	// inRoute are the route nodes being read, the root's path down.
	inRoute map[*yaml.Node]bool
	routes  int // read so far
}

// maxRoutes bounds the tree; a real one has tens.
const maxRoutes = 10000

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// yamlLine pulls the line out of go-yaml's syntax errors ("yaml: line 3:
// did not find expected key").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *parser) parse(data []byte) *Config {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) || err == nil && (len(doc.Content) == 0 || doc.Content[0].Tag == "!!null") {
		p.errs = append(p.errs, &Error{File: p.file, Line: 1, Msg: "the file is empty: want receivers and route"})
		return nil
	}
	if err != nil {
		p.syntaxError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, "", "a second YAML document: want one")
	} else if !errors.Is(err, io.EOF) {
		p.syntaxError(err)
	}

	top := p.mapping(doc.Content[0], "", "receivers", "route", "people", "monitors")
	if top == nil {
		return nil
	}
	c := &Config{}
	known := map[string]bool{}
	if n, ok := top["receivers"]; !ok {
		p.errorf(doc.Content[0], "receivers", "required: the list of receivers")
	} else {
		c.Receivers = p.receivers(n.val, known)
	}
	if n, ok := top["route"]; !ok {
		p.errorf(doc.Content[0], "route", "required: the root of the routing tree")
	} else {
		c.Route = p.route(n.key, n.val, "route", "", known, true)
	}
	if n, ok := top["people"]; ok {
		c.People = p.people(n.val)
	}
	if n, ok := top["monitors"]; ok {
		c.Monitors, c.ScheduleMonitors = p.monitors(n.val)
	}
	return c
}

// syntaxError reports go-yaml's error, whose messages describe the syntax,
// never the values.
func (p *parser) syntaxError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: "not valid YAML: " + msg})
}

// entry is one key and its value in a mapping.
type entry struct{ key, val *yaml.Node }

// resolve follows aliases (*name) to what they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping reads a mapping whose keys must be among known; it reports an
// unknown or repeated key and returns the entries by key, or nil when n is
// not a mapping.
func (p *parser) mapping(n *yaml.Node, path string, known ...string) map[string]entry {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "want a mapping of %s, not %s", strings.Join(known, ", "), kind(n))
		return nil
	}
	out := make(map[string]entry)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		switch {
		case k.Kind != yaml.ScalarNode:
			p.errorf(k, path, "a key must be a plain word, not %s", kind(k))
		case k.Value == "<<":
			p.errorf(k, path, "merge keys (<<) are not supported; write the keys out")
		case !slices.Contains(known, k.Value):
			p.errorf(k, join(path, k.Value), "unknown key %q: want one of %s", k.Value, strings.Join(known, ", "))
		case out[k.Value].key != nil:
			p.errorf(k, join(path, k.Value), "given twice (first on line %d)", out[k.Value].key.Line)
		default:
			out[k.Value] = entry{k, v}
		}
	}
	return out
}

// kind names a node's kind for an error, without its value.
func kind(n *yaml.Node) string {
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

// scalar is the text of a scalar value; false (after an error) when n is
// not one. An empty or null scalar is an error too: a key given empty is
// more likely a mistake than a wish.
func (p *parser) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, path, "want a single value, not %s", kind(n))
		return "", false
	}
	if n.Tag == "!!null" || n.Value == "" {
		p.errorf(n, path, "is empty")
		return "", false
	}
	return n.Value, true
}

// list is a list of scalars, or a single scalar taken as a list of one.
func (p *parser) list(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" || n.Value == "" {
			p.errorf(n, path, "is empty: leave the key out to match anything")
			return nil, false
		}
		return []*yaml.Node{n}, true
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			p.errorf(n, path, "is empty: leave the key out to match anything")
			return nil, false
		}
		items := make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			items[i] = resolve(c)
		}
		return items, true
	}
	p.errorf(n, path, "want a list, not %s", kind(n))
	return nil, false
}

func (p *parser) boolean(n *yaml.Node, path string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	p.errorf(n, path, "want true or false")
	return false, false
}
