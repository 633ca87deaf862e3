package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/route"
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
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Parse is Load on bytes already read; name is used in errors; readFile
// reads *_file (os.ReadFile in production); one trailing newline of what it
// reads is trimmed. Parse reports every problem it finds, not only the first:
// the error joins them (errors.Join), one *Error per line, in file order.
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

	top := p.mapping(doc.Content[0], "", "receivers", "route")
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

// receiverName is what a receiver may be called: names reach logs,
// metrics and the output of routes test, so plain ones only.
var receiverName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (p *parser) receivers(n *yaml.Node, known map[string]bool) []Receiver {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "receivers", "want a list of receivers, not %s", kind(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.errorf(n, "receivers", "is empty: want at least one receiver")
		return nil
	}
	firstLine := map[string]int{}
	var out []Receiver
	for i, rn := range n.Content {
		path := fmt.Sprintf("receivers[%d]", i)
		m := p.mapping(rn, path, "name", IntegrationWebhook, IntegrationSlack, IntegrationPagerDuty)
		if m == nil {
			continue
		}
		r := Receiver{}
		if e, ok := m["name"]; !ok {
			p.errorf(rn, path+".name", "required")
		} else if name, ok := p.scalar(e.val, path+".name"); ok {
			switch {
			case !receiverName.MatchString(name):
				p.errorf(e.val, path+".name", "%q: want letters, digits, '.', '_' and '-', starting with a letter or digit", name)
			case firstLine[name] != 0:
				p.errorf(e.val, path+".name", "duplicate receiver %q (first on line %d)", name, firstLine[name])
			default:
				firstLine[name] = e.val.Line
			}
			// Known even when something else about it is wrong, so
			// that routes to it do not report it unknown as well.
			known[name] = true
			r.Name = name
		}
		if e, ok := m[IntegrationWebhook]; ok {
			r.Webhook = p.webhook(e, path+"."+IntegrationWebhook)
		}
		if e, ok := m[IntegrationSlack]; ok {
			r.Slack = p.slack(e, path+"."+IntegrationSlack)
		}
		if e, ok := m[IntegrationPagerDuty]; ok {
			r.PagerDuty = p.pagerDuty(e, path+"."+IntegrationPagerDuty)
		}
		if _, w := m[IntegrationWebhook]; !w {
			if _, s := m[IntegrationSlack]; !s {
				if _, pd := m[IntegrationPagerDuty]; !pd {
					p.errorf(rn, path, "no integration: want one or more of webhook, slack, pagerduty")
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// integration reads an integration's mapping; `slack:` with nothing after
// it is an empty mapping, so the missing keys get named.
func (p *parser) integration(e entry, path string, keys ...string) map[string]entry {
	if e.val.Kind == yaml.ScalarNode && e.val.Tag == "!!null" {
		return map[string]entry{}
	}
	return p.mapping(e.val, path, keys...)
}

func (p *parser) webhook(e entry, path string) *Webhook {
	m := p.integration(e, path, "url", "url_file", "secret", "secret_file")
	if m == nil {
		return nil
	}
	w := &Webhook{}
	w.URL, _ = p.secret(m, e, path, "url", true, true)
	w.Secret, _ = p.secret(m, e, path, "secret", false, false)
	return w
}

func (p *parser) slack(e entry, path string) *Slack {
	m := p.integration(e, path, "url", "url_file")
	if m == nil {
		return nil
	}
	s := &Slack{}
	s.URL, _ = p.secret(m, e, path, "url", true, true)
	return s
}

func (p *parser) pagerDuty(e entry, path string) *PagerDuty {
	m := p.integration(e, path, "routing_key", "routing_key_file", "url")
	if m == nil {
		return nil
	}
	pd := &PagerDuty{URL: DefaultPagerDutyURL}
	pd.RoutingKey, _ = p.secret(m, e, path, "routing_key", true, false)
	if u, ok := m["url"]; ok {
		if v, ok := p.expanded(u.val, path+".url"); ok && p.checkURL(u.val, path+".url", v) {
			pd.URL = v
		}
	}
	return pd
}

// secret reads key or key_file of an integration: one of them when
// required, never both. isURL checks the value as a URL (without quoting
// it: a Slack URL is a credential).
func (p *parser) secret(m map[string]entry, integ entry, path, key string, required, isURL bool) (Secret, bool) {
	fileKey := key + "_file"
	direct, hasDirect := m[key]
	file, hasFile := m[fileKey]
	switch {
	case hasDirect && hasFile:
		p.errorf(file.key, join(path, fileKey), "give %s or %s, not both", key, fileKey)
		return Secret{}, false
	case !hasDirect && !hasFile:
		if required {
			p.errorf(integ.key, path, "%s or %s is required", key, fileKey)
		}
		return Secret{}, false
	}
	var v string
	at, atPath := direct.val, join(path, key)
	if hasDirect {
		var ok bool
		if v, ok = p.expanded(direct.val, atPath); !ok {
			return Secret{}, false
		}
	} else {
		at, atPath = file.val, join(path, fileKey)
		name, ok := p.expanded(file.val, atPath)
		if !ok {
			return Secret{}, false
		}
		data, err := p.readFile(name)
		if err != nil {
			// A PathError repeats the (possibly resolved) path; the
			// file is named as written instead.
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			p.errorf(file.val, atPath, "cannot read %s: %v", name, err)
			return Secret{}, false
		}
		v = string(data)
		if s, ok := strings.CutSuffix(v, "\n"); ok {
			v = strings.TrimSuffix(s, "\r")
		}
		if v == "" {
			p.errorf(file.val, atPath, "%s is empty", name)
			return Secret{}, false
		}
	}
	if isURL && !p.checkURL(at, atPath, v) {
		return Secret{}, false
	}
	return NewSecret(v), true
}

// checkURL reports whether v is an absolute http(s) URL with a host,
// without ever quoting it.
func (p *parser) checkURL(n *yaml.Node, path, v string) bool {
	u, err := url.Parse(v)
	switch {
	case err != nil:
		p.errorf(n, path, "not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		p.errorf(n, path, "the URL must start with https:// or http://")
	case u.Host == "":
		p.errorf(n, path, "the URL has no host")
	default:
		return true
	}
	return false
}

// envName is what may stand between ${ and }.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expanded is a scalar with every ${VAR} replaced from the environment. A
// variable unset (or set empty) is an error naming it. Only ${NAME} is
// expanded: a lone $ stays as it is, and a value that must hold "${" goes in
// a *_file.
func (p *parser) expanded(n *yaml.Node, path string) (string, bool) {
	s, ok := p.scalar(n, path)
	if !ok {
		return "", false
	}
	var b strings.Builder
	good := true
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			p.errorf(n, path, "a ${ without its }: write ${NAME}")
			return "", false
		}
		name := s[i+2 : i+end]
		if !envName.MatchString(name) {
			// Not quoted: it may be part of a secret.
			p.errorf(n, path, "a malformed ${...}: write ${NAME}, NAME of letters, digits and _")
			return "", false
		}
		v, set := p.lookup(name)
		if !set || v == "" {
			p.errorf(n, path, "${%s} is not set (or empty) in the environment", name)
			good = false
		}
		b.WriteString(v)
		s = s[i+end+1:]
	}
	if !good {
		return "", false
	}
	if b.Len() == 0 {
		p.errorf(n, path, "is empty")
		return "", false
	}
	return b.String(), true
}

// route reads one node of the tree; inherited is its parent's receiver and
// at is where an error about the node as a whole points.
func (p *parser) route(at, n *yaml.Node, path, inherited string, known map[string]bool, root bool) *route.Route {
	// An alias may make a route its own descendant: an endless tree.
	n = resolve(n)
	if p.inRoute[n] {
		p.errorf(at, path, "a route that contains itself (through an alias)")
		return nil
	}
	p.inRoute[n] = true
	defer delete(p.inRoute, n)
	// Aliases can also multiply a small file into a huge tree.
	if p.routes++; p.routes > maxRoutes {
		if p.routes == maxRoutes+1 {
			p.errorf(at, path, "more than %d routes", maxRoutes)
		}
		return nil
	}
	m := p.mapping(n, path, "receiver", "match", "continue", "routes", "escalate_to", "escalate_after")
	if m == nil {
		return nil
	}
	r := &route.Route{Receiver: inherited}
	if e, ok := m["receiver"]; ok {
		if name, ok := p.scalar(e.val, path+".receiver"); ok {
			if !known[name] {
				p.errorf(e.val, path+".receiver", "unknown receiver %q", name)
			}
			r.Receiver = name
		}
	} else if root {
		p.errorf(at, path+".receiver", "required at the root: the receiver of every alert no child route takes")
	}
	if e, ok := m["match"]; ok {
		if root {
			p.errorf(e.key, path+".match", "not allowed at the root, which matches every alert; put it in a child route")
		} else {
			r.Match = p.matchers(e.val, path+".match")
		}
	}
	if e, ok := m["continue"]; ok {
		if root {
			p.errorf(e.key, path+".continue", "not allowed at the root, which has no siblings")
		} else {
			r.Continue, _ = p.boolean(e.val, path+".continue")
		}
	}
	r.Escalation = p.escalation(at, m, path, known)
	if e, ok := m["routes"]; ok {
		children := resolve(e.val)
		if children.Kind != yaml.SequenceNode {
			p.errorf(children, path+".routes", "want a list of routes, not %s", kind(children))
		} else {
			for i, c := range children.Content {
				if child := p.route(c, c, fmt.Sprintf("%s.routes[%d]", path, i), r.Receiver, known, false); child != nil {
					r.Routes = append(r.Routes, child)
				}
			}
		}
	}
	return r
}

// escalation reads a route's escalate_to and escalate_after, which come
// together: a number of unacknowledged reminders, or a duration after the
// alert opened.
func (p *parser) escalation(at *yaml.Node, m map[string]entry, path string, known map[string]bool) *route.Escalation {
	to, hasTo := m["escalate_to"]
	after, hasAfter := m["escalate_after"]
	switch {
	case !hasTo && !hasAfter:
		return nil
	case !hasAfter:
		p.errorf(to.key, path+".escalate_after", "required with escalate_to: a number of unacknowledged reminders (2) or a duration after the alert opened (30m)")
		return nil
	case !hasTo:
		p.errorf(after.key, path+".escalate_to", "required with escalate_after: the receiver an unacknowledged alert escalates to")
		return nil
	}
	e := &route.Escalation{}
	name, ok := p.scalar(to.val, path+".escalate_to")
	if !ok {
		return nil
	}
	if !known[name] {
		p.errorf(to.val, path+".escalate_to", "unknown receiver %q", name)
		return nil
	}
	e.To = name
	text, ok := p.scalar(after.val, path+".escalate_after")
	if !ok {
		return nil
	}
	if n, err := strconv.Atoi(text); err == nil {
		if n < 1 {
			p.errorf(after.val, path+".escalate_after", "%d reminders: want at least 1", n)
			return nil
		}
		e.Reminders = n
		return e
	}
	d, err := time.ParseDuration(text)
	if err != nil || d <= 0 {
		p.errorf(after.val, path+".escalate_after", "%q is neither a number of reminders (2) nor a positive duration (30m)", text)
		return nil
	}
	e.After = d
	return e
}

func (p *parser) matchers(n *yaml.Node, path string) route.Matchers {
	var mt route.Matchers
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return mt // match: with nothing: every alert
	}
	m := p.mapping(n, path, "project", "project_id", "ref", "ref_regex", "branches", "tag", "source", "severity")
	if m == nil {
		return mt
	}
	if e, ok := m["project"]; ok {
		if v, ok := p.scalar(e.val, path+".project"); ok {
			if err := route.CheckProject(v); err != nil {
				p.errorf(e.val, path+".project", "%v", err)
			}
			mt.Project = v
		}
	}
	if e, ok := m["project_id"]; ok {
		items, _ := p.list(e.val, path+".project_id")
		for _, it := range items {
			id, err := strconv.ParseInt(it.Value, 10, 64)
			if it.Kind != yaml.ScalarNode || err != nil {
				p.errorf(it, path+".project_id", "want an integer project ID")
				continue
			}
			mt.ProjectID = append(mt.ProjectID, id)
		}
	}
	if e, ok := m["ref"]; ok {
		if v, ok := p.scalar(e.val, path+".ref"); ok {
			if err := route.CheckRef(v); err != nil {
				p.errorf(e.val, path+".ref", "%v", err)
			}
			mt.Ref = v
		}
	}
	if e, ok := m["ref_regex"]; ok {
		if v, ok := p.scalar(e.val, path+".ref_regex"); ok {
			re, err := route.CompileRefRegex(v)
			if err != nil {
				p.errorf(e.val, path+".ref_regex", "bad regular expression: %v", err)
			}
			mt.RefRegex = re
		}
	}
	if e, ok := m["branches"]; ok {
		if v, ok := p.scalar(e.val, path+".branches"); ok {
			b, err := route.ParseBranches(v)
			if err != nil {
				p.errorf(e.val, path+".branches", "%v", err)
			}
			mt.Branches = b
		}
	}
	if e, ok := m["tag"]; ok {
		if b, ok := p.boolean(e.val, path+".tag"); ok {
			mt.Tag = &b
		}
	}
	if e, ok := m["source"]; ok {
		// Any source is accepted: GitLab adds new ones.
		items, _ := p.list(e.val, path+".source")
		for _, it := range items {
			if v, ok := p.scalar(it, path+".source"); ok {
				mt.Source = append(mt.Source, v)
			}
		}
	}
	if e, ok := m["severity"]; ok {
		items, _ := p.list(e.val, path+".severity")
		for _, it := range items {
			v, ok := p.scalar(it, path+".severity")
			if !ok {
				continue
			}
			switch s := alert.Severity(strings.ToUpper(v)); s {
			case alert.SeverityHigh, alert.SeverityMedium, alert.SeverityLow:
				mt.Severity = append(mt.Severity, s)
			default:
				p.errorf(it, path+".severity", "unknown severity %q: want HIGH, MEDIUM or LOW", v)
			}
		}
	}
	return mt
}
