package config

// Reading the heartbeat monitors of a routing file: which scheduled
// pipelines must run, and by when (package monitor).

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/monitor"
	"github.com/alertflow/alertflow/yamlnode"
)

// monitorKeys are the keys of one monitor, in the order errors list them.
var monitorKeys = []string{"name", "project", "path", "ref", "every", "cron", "schedules", "grace", "severity", "instance"}

// monitors reads the list of monitors, their defaults filled, and the
// projects whose pipeline schedules GitLab's API names the monitors of
// ("schedules: true"). Only names must be unique: two monitors may watch
// one alert ID.
func (p *parser) monitors(n *yaml.Node) ([]monitor.Spec, []monitor.Schedules) {
	n = yamlnode.Resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil // monitors: with nothing under it: none
	}
	if n.Kind != yaml.SequenceNode {
		p.Errorf(n, "monitors", "want a list of monitors, not %s", yamlnode.Kind(n))
		return nil, nil
	}
	firstLine := map[string]int{}
	var out []monitor.Spec
	var schedules []monitor.Schedules
	for i, mn := range n.Content {
		mn = yamlnode.Resolve(mn)
		path := fmt.Sprintf("monitors[%d]", i)
		m := p.Mapping(mn, path, monitorKeys...)
		if m == nil {
			continue
		}
		if _, found := m["schedules"]; found {
			if sc, ok := p.scheduleMonitor(mn, m, path); ok {
				schedules = append(schedules, sc)
			}
			continue
		}
		s, at, ok := p.monitor(mn, m, path)
		if !ok {
			continue
		}
		if first := firstLine[s.Name]; first != 0 {
			if _, named := m["name"]; named {
				p.Errorf(at, path+".name", "duplicate monitor %q (first on line %d)", s.Name, first)
			} else {
				p.Errorf(at, path+".name", "duplicate monitor %q (first on line %d): its default name, the alert ID, is taken; give it a name", s.Name, first)
			}
			continue
		}
		firstLine[s.Name] = at.Line
		out = append(out, s)
	}
	return out, schedules
}

// scheduleMonitor reads "schedules: true": the project's pipeline
// schedules, as GitLab's API lists them, each a monitor with the entry's
// grace and severity. The schedule gives ref and times, so the entry
// gives none.
func (p *parser) scheduleMonitor(mn *yaml.Node, m map[string]yamlnode.Entry, path string) (monitor.Schedules, bool) {
	ok := true
	if v, good := p.Scalar(m["schedules"].Val, yamlnode.Join(path, "schedules")); good && v != "true" {
		p.Errorf(m["schedules"].Val, yamlnode.Join(path, "schedules"), "%q: want true, or leave it out and give ref and every or cron", v)
		ok = false
	}
	for _, key := range []string{"name", "ref", "every", "cron"} {
		if e, given := m[key]; given {
			p.Errorf(e.Key, yamlnode.Join(path, key), "not with schedules: each pipeline schedule gives its own (named schedule-<id>)")
			ok = false
		}
	}
	// The rest reads as a monitor's: the same keys, checks and defaults
	// (a cron monitor's grace, an hour), with a stand-in schedule.
	probe := map[string]yamlnode.Entry{"ref": {Val: &yaml.Node{Kind: yaml.ScalarNode, Value: "main", Line: mn.Line}}, "cron": {Val: &yaml.Node{Kind: yaml.ScalarNode, Value: "@daily", Line: mn.Line}}}
	for _, key := range []string{"project", "path", "grace", "severity", "instance"} {
		if e, given := m[key]; given {
			probe[key] = e
		}
	}
	before := len(p.Errs)
	s, _, _ := p.monitor(mn, probe, path)
	if len(p.Errs) > before || !ok {
		return monitor.Schedules{}, false
	}
	return monitor.Schedules{Instance: s.Instance, Project: s.Project, Path: s.Path, Grace: s.Grace, Severity: s.Severity}, true
}

// monitor reads one monitor and checks it (monitor.Spec.Check), each
// problem on the line of its key's value, or of the monitor when the key
// is missing. at is where the monitor's name is, given or not; ok is false
// when its name is not worth checking for duplicates.
func (p *parser) monitor(mn *yaml.Node, m map[string]yamlnode.Entry, path string) (s monitor.Spec, at *yaml.Node, ok bool) {
	// bad are the keys already reported: Check would only repeat them
	// about the zero value left in their place.
	bad := map[string]bool{}
	text := func(key string) (string, bool) {
		e, given := m[key]
		if !given {
			return "", false
		}
		v, ok := p.Scalar(e.Val, yamlnode.Join(path, key))
		if !ok {
			bad[key] = true
		}
		return v, ok
	}
	duration := func(key string) (time.Duration, bool) {
		v, ok := text(key)
		if !ok {
			return 0, false
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			p.Errorf(m[key].Val, yamlnode.Join(path, key), "%q: want a duration such as 24h, 30m or 1h30m", v)
			bad[key] = true
			return 0, false
		}
		return d, true
	}

	s.Name, _ = text("name")
	s.Instance, _ = text("instance")
	if _, given := m["project"]; !given {
		p.Errorf(mn, yamlnode.Join(path, "project"), "required: the GitLab project ID")
		bad["project"] = true
	} else if v, ok := text("project"); ok {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			p.Errorf(m["project"].Val, yamlnode.Join(path, "project"), "want an integer project ID")
			bad["project"] = true
		}
		s.Project = id
	}
	s.Path, _ = text("path")
	if _, given := m["ref"]; !given {
		p.Errorf(mn, yamlnode.Join(path, "ref"), "required: the branch or tag the schedule runs on")
		bad["ref"] = true
	} else {
		s.Ref, _ = text("ref")
	}

	every, hasEvery := m["every"]
	_, hasCron := m["cron"]
	switch {
	case hasEvery && hasCron:
		p.Errorf(m["cron"].Key, yamlnode.Join(path, "cron"), "give every or cron, not both")
		bad["every"], bad["cron"] = true, true
	case !hasEvery && !hasCron:
		p.Errorf(mn, path, "no schedule: want every (an interval such as 24h) or cron (such as \"0 2 * * *\")")
		bad["every"], bad["cron"] = true, true
	case hasEvery:
		s.Every, _ = duration("every")
		if s.Every == 0 && !bad["every"] {
			// Check reads 0 as no every at all.
			p.Errorf(every.Val, yamlnode.Join(path, "every"), "0: want an interval from 1m to 744h (31 days)")
			bad["every"] = true
		}
	default:
		var ok bool
		if s.Cron, ok = text("cron"); !ok {
			bad["every"] = true // Check would say there is no schedule
		}
	}

	if _, given := m["grace"]; given {
		s.Grace, _ = duration("grace")
	} else {
		s.Grace = s.DefaultGrace()
	}
	s.Severity = monitor.DefaultSeverity
	if v, ok := text("severity"); ok {
		switch sev := alert.Severity(strings.ToUpper(v)); sev {
		case alert.SeverityHigh, alert.SeverityMedium, alert.SeverityLow:
			s.Severity = sev
		default:
			p.Errorf(m["severity"].Val, yamlnode.Join(path, "severity"), "unknown severity %q: want HIGH, MEDIUM or LOW", v)
			bad["severity"] = true
		}
	}

	at = mn
	_, named := m["name"]
	if named {
		at = m["name"].Val
	} else if !bad["project"] && !bad["ref"] && !bad["instance"] {
		s.Name = s.AlertID()
	} else {
		// No default without what it is made of.
		bad["name"] = true
	}

	if err := s.Check(); err != nil {
		var errs []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		} else {
			errs = []error{err}
		}
		for _, err := range errs {
			var fe *monitor.FieldError
			if !errors.As(err, &fe) {
				p.Errorf(mn, path, "%v", err)
				continue
			}
			if bad[fe.Field] {
				continue
			}
			bad[fe.Field] = true
			node := mn
			if e, given := m[fe.Field]; given {
				node = e.Val
			}
			if fe.Field == "name" && !named {
				p.Errorf(mn, yamlnode.Join(path, "name"), "required here: the default, the alert ID, is no valid name: %s", fe.Msg)
				continue
			}
			p.Errorf(node, yamlnode.Join(path, fe.Field), "%s", fe.Msg)
		}
	}
	return s, at, !bad["name"]
}
