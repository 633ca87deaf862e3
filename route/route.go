// Package route decides which receivers hear of an alert: the labels an
// alert is matched on, the matchers of one route, and Alertmanager's routing
// tree over them. It is pure: no I/O, no clock, no Temporal, so the same
// labels and tree always give the same answer.
package route

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/alertflow/alertflow/alert"
)

// Labels are what routing (and later silences) match an alert on.
type Labels struct {
	ProjectID int64
	Project   string // path_with_namespace, e.g. "team-a/api"
	Ref       string
	Tag       bool
	// Source is GitLab's pipeline source: push, web, schedule,
	// merge_request_event, ...
	Source   string
	Severity alert.Severity
	// DefaultBranch is project.default_branch; "" when unknown.
	DefaultBranch string
	// Protected is object_attributes.protected_ref; false when GitLab sent
	// none (versions before it was added).
	Protected bool
	// FailureClass is the class of the alert's newest failure; "" when
	// its newest bad pipeline was canceled or skipped, or the alert
	// predates failure classes.
	FailureClass alert.FailureClass
}

// Branches is GitLab's branch filter, as its Slack integration names it
// (branches_to_be_notified).
type Branches string

// The branch filters. The zero value filters nothing.
//
// An older GitLab sends no protected_ref, so Labels.Protected is false for
// every pipeline it sends: there BranchesProtected matches nothing and
// BranchesDefaultAndProtected matches the default branch only.
const (
	BranchesAny Branches = ""
	// BranchesAll: any ref, tags included.
	BranchesAll Branches = "all"
	// BranchesDefault: the project's default branch (never a tag, never
	// when the default branch is unknown).
	BranchesDefault Branches = "default"
	// BranchesProtected: a protected ref (object_attributes.protected_ref),
	// a protected tag included.
	BranchesProtected Branches = "protected"
	// BranchesDefaultAndProtected: the default branch or a protected ref,
	// as GitLab's Slack integration means it.
	BranchesDefaultAndProtected Branches = "default_and_protected"
)

// ParseBranches reads a branch filter as written in the configuration.
func ParseBranches(s string) (Branches, error) {
	switch b := Branches(s); b {
	case BranchesAll, BranchesDefault, BranchesProtected, BranchesDefaultAndProtected:
		return b, nil
	}
	return "", fmt.Errorf("unknown branches %q: want all, default, protected or default_and_protected", s)
}

func (b Branches) matches(l Labels) bool {
	isDefault := !l.Tag && l.DefaultBranch != "" && l.Ref == l.DefaultBranch
	switch b {
	case BranchesAny, BranchesAll:
		return true
	case BranchesDefault:
		return isDefault
	case BranchesProtected:
		return l.Protected
	case BranchesDefaultAndProtected:
		return isDefault || l.Protected
	}
	return false // an unknown filter matches nothing rather than everything
}

// Matchers select alerts by their labels: all those given must hold; the
// zero Matchers matches everything. Build them by hand or through the
// configuration file; CheckProject, CheckRef and CompileRefRegex check what
// Matches would otherwise silently treat as no match.
type Matchers struct {
	// Project is a glob on the project's path: "*" stays within one path
	// segment, "**" crosses "/" (team-a/** is every project of team-a and
	// its subgroups), {a,b} is either. "" matches every project.
	Project string
	// ProjectID: one of these project IDs.
	ProjectID []int64
	// Ref is the ref exactly, or a glob on it (release/*).
	Ref string
	// RefRegex must match the whole ref (see CompileRefRegex).
	RefRegex *regexp.Regexp
	Branches Branches
	// Tag, when set, requires a tag pipeline (true) or a branch one (false).
	Tag *bool
	// Source: one of these pipeline sources.
	Source []string
	// Severity: one of these severities.
	Severity []alert.Severity
	// FailureClass: one of these failure classes. An alert without one
	// (canceled, skipped) matches none.
	FailureClass []alert.FailureClass
}

// CheckProject reports whether a project glob is well formed and within
// the glob limits (MaxGlobLength and the others).
func CheckProject(glob string) error { return checkGlob(glob) }

// CheckRef reports whether a ref glob is well formed and within the glob
// limits.
func CheckRef(glob string) error { return checkGlob(glob) }

// CompileRefRegex compiles a ref_regex, anchored so that it must match the
// whole ref, as Alertmanager anchors its regular expressions: "release-.*"
// does not match "hotfix-release-1". It refuses one over MaxRefRegexLength
// or MaxRefRegexInstructions.
func CompileRefRegex(expr string) (*regexp.Regexp, error) {
	anchored := `^(?:` + expr + `)$`
	if err := checkRefRegex(expr, anchored); err != nil {
		return nil, err
	}
	// The expression must stand alone: one with unbalanced parentheses
	// closes the anchoring group and escapes it ("main)|(.*" anchored is
	// "^(?:main)|(.*)$", which matches every ref), so a silence would hold
	// every alert's pages. Its error quotes what the user wrote.
	if _, err := regexp.Compile(expr); err != nil {
		return nil, fmt.Errorf("bad regular expression: %w", err)
	}
	re, err := regexp.Compile(anchored)
	if err != nil {
		return nil, fmt.Errorf("bad regular expression: %w", err)
	}
	return re, nil
}

// Matches reports whether the labels satisfy every matcher given.
func (m Matchers) Matches(l Labels) bool {
	if m.Project != "" && !doublestar.MatchUnvalidated(m.Project, l.Project) {
		return false
	}
	if len(m.ProjectID) > 0 && !slices.Contains(m.ProjectID, l.ProjectID) {
		return false
	}
	// A ref may hold {, } or other glob characters: equal always matches.
	if m.Ref != "" && m.Ref != l.Ref && !doublestar.MatchUnvalidated(m.Ref, l.Ref) {
		return false
	}
	if m.RefRegex != nil && !m.RefRegex.MatchString(l.Ref) {
		return false
	}
	if !m.Branches.matches(l) {
		return false
	}
	if m.Tag != nil && *m.Tag != l.Tag {
		return false
	}
	if len(m.Source) > 0 && !slices.Contains(m.Source, l.Source) {
		return false
	}
	if len(m.Severity) > 0 && !slices.Contains(m.Severity, l.Severity) {
		return false
	}
	if len(m.FailureClass) > 0 && !slices.Contains(m.FailureClass, l.FailureClass) {
		return false
	}
	return true
}

// Route is one node of the tree.
type Route struct {
	// Receiver hears the alerts this node takes. A child without one
	// inherits its parent's, as in Alertmanager.
	Receiver string
	Match    Matchers
	// Continue lets the next siblings try an alert this node matched.
	Continue bool
	Routes   []*Route
	// Escalation, when set, hands the alerts this node takes to another
	// receiver when nobody acknowledges them in time.
	Escalation *Escalation
}

// Escalation hands an alert that nobody acknowledges to receiver To:
// After it opened, or once it has sent Reminders reminders. Exactly one
// of After and Reminders is set.
type Escalation struct {
	To        string
	After     time.Duration
	Reminders int
}

// taken is a node that takes an alert, with the receiver it sends to.
type taken struct {
	receiver string
	node     *Route
}

// Receivers returns the receivers an alert with labels l reaches, in order,
// each once. These are Alertmanager's semantics: depth first; the first
// matching child takes the alert unless it has Continue, then the next
// siblings are tried too; a node none of whose children matched sends to its
// own receiver; the root matches everything (its Match is not consulted).
func (r *Route) Receivers(l Labels) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, t := range r.walk(l, "", true) {
		if t.receiver != "" && !slices.Contains(out, t.receiver) {
			out = append(out, t.receiver)
		}
	}
	return out
}

// EscalationOf returns the escalation of the first node that takes an
// alert with labels l and has one, or nil: an alert escalates once, to
// one receiver.
func (r *Route) EscalationOf(l Labels) *Escalation {
	if r == nil {
		return nil
	}
	for _, t := range r.walk(l, "", true) {
		if t.node.Escalation != nil {
			return t.node.Escalation
		}
	}
	return nil
}

// walk returns the nodes that take l under r, nil when r does not match.
// inherited is the receiver of r's nearest ancestor that names one.
func (r *Route) walk(l Labels, inherited string, root bool) []taken {
	if !root && !r.Match.Matches(l) {
		return nil
	}
	recv := r.Receiver
	if recv == "" {
		recv = inherited
	}
	var all []taken
	for _, c := range r.Routes {
		got := c.walk(l, recv, false)
		all = append(all, got...)
		if got != nil && !c.Continue {
			break
		}
	}
	if len(all) == 0 {
		all = []taken{{receiver: recv, node: r}}
	}
	return all
}

// Count is the number of nodes of the tree, the root included.
func (r *Route) Count() int {
	if r == nil {
		return 0
	}
	n := 1
	for _, c := range r.Routes {
		n += c.Count()
	}
	return n
}
