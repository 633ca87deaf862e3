package config

// Reading the routing tree of a routing file: routes, their matchers and
// escalations.

import (
	"fmt"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/alertflow/alertflow/route"
	"github.com/alertflow/alertflow/yamlnode"
)

// route reads one node of the tree; inherited is its parent's receiver and
// at is where an error about the node as a whole points.
func (p *parser) route(at, n *yaml.Node, path, inherited string, known map[string]bool, root bool) *route.Route {
	// An alias may make a route its own descendant: an endless tree.
	n = yamlnode.Resolve(n)
	if p.inRoute[n] {
		p.Errorf(at, path, "a route that contains itself (through an alias)")
		return nil
	}
	p.inRoute[n] = true
	defer delete(p.inRoute, n)
	// Aliases can also multiply a small file into a huge tree.
	if p.routes++; p.routes > maxRoutes {
		if p.routes == maxRoutes+1 {
			p.Errorf(at, path, "more than %d routes", maxRoutes)
		}
		return nil
	}
	m := p.Mapping(n, path, "receiver", "match", "continue", "routes", "escalate_to", "escalate_after")
	if m == nil {
		return nil
	}
	r := &route.Route{Receiver: inherited}
	if e, ok := m["receiver"]; ok {
		if name, ok := p.Scalar(e.Val, path+".receiver"); ok {
			if !known[name] {
				p.Errorf(e.Val, path+".receiver", "unknown receiver %q", name)
			}
			r.Receiver = name
		}
	} else if root {
		p.Errorf(at, path+".receiver", "required at the root: the receiver of every alert no child route takes")
	}
	if e, ok := m["match"]; ok {
		if root {
			p.Errorf(e.Key, path+".match", "not allowed at the root, which matches every alert; put it in a child route")
		} else {
			r.Match = route.ReadMatchers(&p.Reader, e.Val, path+".match")
		}
	}
	if e, ok := m["continue"]; ok {
		if root {
			p.Errorf(e.Key, path+".continue", "not allowed at the root, which has no siblings")
		} else {
			r.Continue, _ = p.Boolean(e.Val, path+".continue")
		}
	}
	r.Escalation = p.escalation(at, m, path, known)
	if e, ok := m["routes"]; ok {
		children := yamlnode.Resolve(e.Val)
		if children.Kind != yaml.SequenceNode {
			p.Errorf(children, path+".routes", "want a list of routes, not %s", yamlnode.Kind(children))
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
func (p *parser) escalation(at *yaml.Node, m map[string]yamlnode.Entry, path string, known map[string]bool) *route.Escalation {
	to, hasTo := m["escalate_to"]
	after, hasAfter := m["escalate_after"]
	switch {
	case !hasTo && !hasAfter:
		return nil
	case !hasAfter:
		p.Errorf(to.Key, path+".escalate_after", "required with escalate_to: a number of unacknowledged reminders (2) or a duration after the alert opened (30m)")
		return nil
	case !hasTo:
		p.Errorf(after.Key, path+".escalate_to", "required with escalate_after: the receiver an unacknowledged alert escalates to")
		return nil
	}
	e := &route.Escalation{}
	name, ok := p.Scalar(to.Val, path+".escalate_to")
	if !ok {
		return nil
	}
	if !known[name] {
		p.Errorf(to.Val, path+".escalate_to", "unknown receiver %q", name)
		return nil
	}
	e.To = name
	text, ok := p.Scalar(after.Val, path+".escalate_after")
	if !ok {
		return nil
	}
	if n, err := strconv.Atoi(text); err == nil {
		if n < 1 {
			p.Errorf(after.Val, path+".escalate_after", "%d reminders: want at least 1", n)
			return nil
		}
		e.Reminders = n
		return e
	}
	d, err := time.ParseDuration(text)
	if err != nil || d <= 0 {
		p.Errorf(after.Val, path+".escalate_after", "%q is neither a number of reminders (2) nor a positive duration (30m)", text)
		return nil
	}
	e.After = d
	return e
}
