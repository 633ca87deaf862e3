package config

// Reading the routing tree of a routing file: routes, their matchers and
// escalations.

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/route"
)

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
	m := p.mapping(n, path, "project", "project_id", "ref", "ref_regex", "branches", "tag", "source", "severity", "failure_class")
	if m == nil {
		return mt
	}
	// Counted before any value is read, so that a list of thousands is
	// one error rather than one per element.
	values := 0
	for _, e := range m {
		if v := resolve(e.val); v.Kind == yaml.SequenceNode {
			values += len(v.Content)
		} else {
			values++
		}
	}
	if values > route.MaxMatcherValues {
		p.errorf(n, path, "%d values in one set of matchers: at most %d (MaxMatcherValues)", values, route.MaxMatcherValues)
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
				p.errorf(e.val, path+".ref_regex", "%v", err)
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
	if e, ok := m["failure_class"]; ok {
		items, _ := p.list(e.val, path+".failure_class")
		for _, it := range items {
			v, ok := p.scalar(it, path+".failure_class")
			if !ok {
				continue
			}
			if c, known := alert.ParseFailureClass(strings.ToLower(v)); known {
				mt.FailureClass = append(mt.FailureClass, c)
			} else {
				p.errorf(it, path+".failure_class", "unknown failure class %q: want infra, config or code", v)
			}
		}
	}
	return mt
}
