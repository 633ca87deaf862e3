package config

import (
	"bytes"
	"errors"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/alertflow/alertflow/yamlnode"
)

// Error is one thing wrong with a configuration file. It never holds a
// secret: neither a value nor a URL nor the content of a *_file.
type Error = yamlnode.Error

// Parse is Load on bytes already read; name is used in errors; readFile
// reads *_file (in production, at most MaxSecretFileSize+1 bytes of the
// file); one trailing newline of what it reads is trimmed, and more than
// MaxSecretFileSize bytes is an error. Parse reports every problem it
// finds, not only the first: the error joins them (errors.Join), one
// *Error per line, in file order.
func Parse(name string, data []byte, lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (*Config, error) {
	p := &parser{Reader: yamlnode.Reader{File: name}, lookup: lookup, readFile: readFile, inRoute: map[*yaml.Node]bool{}}
	c := p.parse(data)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

type parser struct {
	yamlnode.Reader
	lookup   func(string) (string, bool)
	readFile func(string) ([]byte, error)
	// inRoute are the route nodes being read, the root's path down.
	inRoute map[*yaml.Node]bool
	routes  int // read so far
}

// maxRoutes bounds the tree; a real one has tens.
const maxRoutes = 10000

func (p *parser) parse(data []byte) *Config {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) || err == nil && (len(doc.Content) == 0 || doc.Content[0].Tag == "!!null") {
		p.Errs = append(p.Errs, &Error{File: p.File, Line: 1, Msg: "the file is empty: want receivers and route"})
		return nil
	}
	if err != nil {
		p.SyntaxError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.Errorf(&extra, "", "a second YAML document: want one")
	} else if !errors.Is(err, io.EOF) {
		p.SyntaxError(err)
	}

	top := p.Mapping(doc.Content[0], "", "receivers", "route", "people", "monitors")
	if top == nil {
		return nil
	}
	c := &Config{}
	known := map[string]bool{}
	if n, ok := top["receivers"]; !ok {
		p.Errorf(doc.Content[0], "receivers", "required: the list of receivers")
	} else {
		c.Receivers = p.receivers(n.Val, known)
	}
	if n, ok := top["route"]; !ok {
		p.Errorf(doc.Content[0], "route", "required: the root of the routing tree")
	} else {
		c.Route = p.route(n.Key, n.Val, "route", "", known, true)
	}
	if n, ok := top["people"]; ok {
		c.People = p.people(n.Val)
	}
	if n, ok := top["monitors"]; ok {
		c.Monitors, c.ScheduleMonitors = p.monitors(n.Val)
	}
	return c
}
