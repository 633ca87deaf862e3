package route

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
)

func ptr[T any](v T) *T { return &v }

func mustRegex(t *testing.T, expr string) *Matchers {
	t.Helper()
	re, err := CompileRefRegex(expr)
	if err != nil {
		t.Fatal(err)
	}
	return &Matchers{RefRegex: re}
}

// base is a HIGH push pipeline on the default branch of team-a/api.
func base() Labels {
	return Labels{
		ProjectID: 42, Project: "team-a/api", Ref: "main", Source: "push",
		Severity: alert.SeverityHigh, DefaultBranch: "main", Protected: true,
	}
}

func with(fn func(l *Labels)) Labels {
	l := base()
	fn(&l)
	return l
}

func TestMatchersMatches(t *testing.T) {
	tests := []struct {
		name string
		m    Matchers
		l    Labels
		want bool
	}{
		{"the zero matchers match everything", Matchers{}, Labels{}, true},
		{"a project glob's * matches within one segment", Matchers{Project: "team-a/*"}, base(), true},
		{"a project glob's * does not cross a slash into a subgroup", Matchers{Project: "team-a/*"}, with(func(l *Labels) { l.Project = "team-a/backend/api" }), false},
		{"a project glob's ** crosses slashes into subgroups", Matchers{Project: "team-a/**"}, with(func(l *Labels) { l.Project = "team-a/backend/deep/api" }), true},
		{"a project glob's ** matches a project right under the group", Matchers{Project: "team-a/**"}, base(), true},
		{"a project glob does not match another group with the same prefix", Matchers{Project: "team-a/**"}, with(func(l *Labels) { l.Project = "team-ab/api" }), false},
		{"a project glob's braces match either", Matchers{Project: "{team-a,team-b}/*"}, with(func(l *Labels) { l.Project = "team-b/web" }), true},
		{"an exact project matches itself only", Matchers{Project: "team-a/api"}, with(func(l *Labels) { l.Project = "team-a/api2" }), false},
		{"project_id matches one of the list", Matchers{ProjectID: []int64{7, 42}}, base(), true},
		{"project_id matches none of the list", Matchers{ProjectID: []int64{7}}, base(), false},
		{"an exact ref matches", Matchers{Ref: "main"}, base(), true},
		{"an exact ref does not match a longer one", Matchers{Ref: "main"}, with(func(l *Labels) { l.Ref = "main-2" }), false},
		{"a ref glob matches within a segment", Matchers{Ref: "release/*"}, with(func(l *Labels) { l.Ref = "release/1.2" }), true},
		{"a ref glob's * does not cross a slash", Matchers{Ref: "release/*"}, with(func(l *Labels) { l.Ref = "release/1.2/hotfix" }), false},
		{"a ref glob's class matches a tag", Matchers{Ref: "v[0-9]*"}, with(func(l *Labels) { l.Ref = "v1.2.0" }), true},
		{"a ref glob's class does not match another letter", Matchers{Ref: "v[0-9]*"}, with(func(l *Labels) { l.Ref = "version-1" }), false},
		{"a ref holding glob characters matches itself exactly", Matchers{Ref: "feat-{x}"}, with(func(l *Labels) { l.Ref = "feat-{x}" }), true},
		{"ref_regex must match the whole ref, not a prefix", *mustRegex(t, "release-[0-9]+"), with(func(l *Labels) { l.Ref = "release-12-rc" }), false},
		{"ref_regex must match the whole ref, not a suffix", *mustRegex(t, "release-[0-9]+"), with(func(l *Labels) { l.Ref = "hotfix-release-12" }), false},
		{"ref_regex matches the whole ref", *mustRegex(t, "release-[0-9]+"), with(func(l *Labels) { l.Ref = "release-12" }), true},
		{"ref_regex alternatives are anchored as a whole", *mustRegex(t, "main|release-.*"), with(func(l *Labels) { l.Ref = "not-main" }), false},
		{"ref_regex alternatives each match", *mustRegex(t, "main|release-.*"), with(func(l *Labels) { l.Ref = "release-x" }), true},
		{"tag: true matches a tag pipeline", Matchers{Tag: ptr(true)}, with(func(l *Labels) { l.Tag = true; l.Ref = "v1.0" }), true},
		{"tag: true does not match a branch pipeline", Matchers{Tag: ptr(true)}, base(), false},
		{"tag: false matches a branch pipeline", Matchers{Tag: ptr(false)}, base(), true},
		{"tag: false does not match a tag pipeline", Matchers{Tag: ptr(false)}, with(func(l *Labels) { l.Tag = true }), false},
		{"source matches one of the list", Matchers{Source: []string{"schedule", "push"}}, base(), true},
		{"source keeps merge-request pipelines out", Matchers{Source: []string{"push", "schedule", "web"}}, with(func(l *Labels) { l.Source = "merge_request_event" }), false},
		{"severity matches one of the list", Matchers{Severity: []alert.Severity{alert.SeverityHigh}}, base(), true},
		{"severity does not match another", Matchers{Severity: []alert.Severity{alert.SeverityHigh}}, with(func(l *Labels) { l.Severity = alert.SeverityMedium }), false},
		{"every matcher given must hold: one failing fails", Matchers{Project: "team-a/*", Ref: "main", Severity: []alert.Severity{alert.SeverityLow}}, base(), false},
		{"every matcher given must hold: all holding matches", Matchers{Project: "team-a/*", Ref: "main", ProjectID: []int64{42}, Source: []string{"push"}, Tag: ptr(false), Branches: BranchesDefault, Severity: []alert.Severity{alert.SeverityHigh}}, base(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.Matches(tt.l); got != tt.want {
				t.Errorf("%+v.Matches(%+v) = %v, want %v", tt.m, tt.l, got, tt.want)
			}
		})
	}
}

func TestMatchersBranches(t *testing.T) {
	defaultBranch := with(func(l *Labels) { l.Protected = false })
	protectedBranch := with(func(l *Labels) { l.Ref = "stable"; l.Protected = true })
	otherBranch := with(func(l *Labels) { l.Ref = "feature"; l.Protected = false })
	protectedTag := with(func(l *Labels) { l.Ref = "v1"; l.Tag = true; l.Protected = true })
	tagNamedAsDefault := with(func(l *Labels) { l.Ref = "main"; l.Tag = true; l.Protected = false })
	unknownDefault := with(func(l *Labels) { l.DefaultBranch = ""; l.Ref = ""; l.Protected = false })
	// An old GitLab sends no protected_ref: Protected is false everywhere.
	oldGitLabDefault := with(func(l *Labels) { l.Protected = false })
	oldGitLabProtected := with(func(l *Labels) { l.Ref = "stable"; l.Protected = false })

	tests := []struct {
		name     string
		branches Branches
		l        Labels
		want     bool
	}{
		{"all matches another branch", BranchesAll, otherBranch, true},
		{"all matches a tag", BranchesAll, protectedTag, true},
		{"default matches the default branch", BranchesDefault, defaultBranch, true},
		{"default does not match a protected branch that is not the default", BranchesDefault, protectedBranch, false},
		{"default does not match a tag named as the default branch", BranchesDefault, tagNamedAsDefault, false},
		{"default never matches when the default branch is unknown", BranchesDefault, unknownDefault, false},
		{"protected matches a protected branch", BranchesProtected, protectedBranch, true},
		{"protected matches a protected tag", BranchesProtected, protectedTag, true},
		{"protected does not match an unprotected default branch", BranchesProtected, defaultBranch, false},
		{"protected does not match another branch", BranchesProtected, otherBranch, false},
		{"default_and_protected matches the default branch", BranchesDefaultAndProtected, defaultBranch, true},
		{"default_and_protected matches a protected branch", BranchesDefaultAndProtected, protectedBranch, true},
		{"default_and_protected does not match another branch", BranchesDefaultAndProtected, otherBranch, false},
		{"old GitLab: protected matches not even a protected branch", BranchesProtected, oldGitLabProtected, false},
		{"old GitLab: default_and_protected still matches the default branch", BranchesDefaultAndProtected, oldGitLabDefault, true},
		{"old GitLab: default_and_protected does not match a protected branch", BranchesDefaultAndProtected, oldGitLabProtected, false},
		{"an unknown filter matches nothing", Branches("protectd"), defaultBranch, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Matchers{Branches: tt.branches}).Matches(tt.l); got != tt.want {
				t.Errorf("branches %q on %+v = %v, want %v", tt.branches, tt.l, got, tt.want)
			}
		})
	}
}

func TestParseBranches(t *testing.T) {
	for _, s := range []string{"all", "default", "protected", "default_and_protected"} {
		if b, err := ParseBranches(s); err != nil || string(b) != s {
			t.Errorf("ParseBranches(%q) = %q, %v", s, b, err)
		}
	}
	for _, s := range []string{"", "Default", "protected_only"} {
		if _, err := ParseBranches(s); err == nil {
			t.Errorf("ParseBranches(%q) accepted it", s)
		}
	}
}

func TestChecksRefuseBadPatterns(t *testing.T) {
	if err := CheckProject("team-a/[x"); err == nil {
		t.Error("CheckProject accepted an unclosed [")
	}
	if err := CheckRef("release/{a,b"); err == nil {
		t.Error("CheckRef accepted an unclosed {")
	}
	if err := CheckProject("team-a/**"); err != nil {
		t.Errorf("CheckProject refused team-a/**: %v", err)
	}
	_, err := CompileRefRegex("release-(")
	if err == nil {
		t.Fatal("CompileRefRegex accepted an unclosed group")
	}
	if want := "release-("; !strings.Contains(err.Error(), want) {
		t.Errorf("the error %q does not quote the expression as written", err)
	}
}

// platformTree is the platform-team case: the root to audit, team-a's
// protected HIGH failures to its pager (and on, continue), team-a to its chat.
func platformTree() *Route {
	return &Route{
		Receiver: "audit",
		Routes: []*Route{
			{Receiver: "team-a-pager", Continue: true, Match: Matchers{Project: "team-a/**", Branches: BranchesDefaultAndProtected, Severity: []alert.Severity{alert.SeverityHigh}}},
			{Receiver: "team-a-chat", Match: Matchers{Project: "team-a/**"}},
		},
	}
}

func TestRouteReceivers(t *testing.T) {
	deep := &Route{
		Receiver: "root",
		Routes: []*Route{
			{Receiver: "team-a", Match: Matchers{Project: "team-a/**"}, Routes: []*Route{
				{Receiver: "team-a-main", Match: Matchers{Ref: "main"}, Routes: []*Route{
					{Receiver: "team-a-main-high", Match: Matchers{Severity: []alert.Severity{alert.SeverityHigh}}},
				}},
			}},
			{Receiver: "catch-all-b", Match: Matchers{Project: "team-b/**"}},
		},
	}
	// The first grandchild names no receiver; with continue, the second
	// is tried too, so the answer shows the first was taken.
	inheriting := &Route{
		Receiver: "root",
		Routes: []*Route{
			{Receiver: "team-a", Match: Matchers{Project: "team-a/**"}, Routes: []*Route{
				{Continue: true, Match: Matchers{Ref: "main"}},
				{Receiver: "team-a-high", Match: Matchers{Severity: []alert.Severity{alert.SeverityHigh}}},
			}},
			{Match: Matchers{Project: "team-b/**"}},
		},
	}
	twice := &Route{
		Receiver: "root",
		Routes: []*Route{
			{Receiver: "chat", Continue: true, Match: Matchers{Project: "team-a/**"}},
			{Receiver: "pager", Continue: true, Match: Matchers{Severity: []alert.Severity{alert.SeverityHigh}}},
			{Receiver: "chat", Match: Matchers{Ref: "main"}},
		},
	}
	firstWins := &Route{
		Receiver: "root",
		Routes: []*Route{
			{Receiver: "first", Match: Matchers{Project: "team-a/**"}},
			{Receiver: "second", Match: Matchers{Project: "team-a/**"}},
		},
	}
	matchedNoChild := &Route{
		Receiver: "root",
		Routes: []*Route{
			{Receiver: "parent", Match: Matchers{Project: "team-a/**"}, Routes: []*Route{
				{Receiver: "child", Match: Matchers{Ref: "release/*"}},
			}},
			{Receiver: "sibling", Match: Matchers{Project: "team-a/**"}},
		},
	}
	rootWithMatch := &Route{Receiver: "root", Match: Matchers{Project: "nothing/*"}}

	mr := with(func(l *Labels) { l.Ref = "feature-x"; l.Protected = false; l.Source = "merge_request_event" })
	tests := []struct {
		name string
		tree *Route
		l    Labels
		want []string
	}{
		{"platform: a HIGH failure on the default branch of team-a pages and chats, in order", platformTree(), base(), []string{"team-a-pager", "team-a-chat"}},
		{"platform: a HIGH failure on a protected branch of a team-a subgroup pages and chats", platformTree(), with(func(l *Labels) { l.Project = "team-a/sub/api"; l.Ref = "stable" }), []string{"team-a-pager", "team-a-chat"}},
		{"platform: a merge-request pipeline of team-a only chats", platformTree(), mr, []string{"team-a-chat"}},
		{"platform: a MEDIUM on the default branch of team-a only chats", platformTree(), with(func(l *Labels) { l.Severity = alert.SeverityMedium }), []string{"team-a-chat"}},
		{"platform: elsewhere goes to the root", platformTree(), with(func(l *Labels) { l.Project = "team-b/web" }), []string{"audit"}},
		{"without continue the first matching child takes the alert", firstWins, base(), []string{"first"}},
		{"depth 3: the deepest matching node takes the alert", deep, base(), []string{"team-a-main-high"}},
		{"depth 3: no grandchild matches, so the child's receiver", deep, with(func(l *Labels) { l.Severity = alert.SeverityLow }), []string{"team-a-main"}},
		{"no child of a matched node matches, so the parent's receiver", deep, with(func(l *Labels) { l.Ref = "feature" }), []string{"team-a"}},
		{"a matched node whose children do not match still stops its siblings", matchedNoChild, base(), []string{"parent"}},
		{"no child of the root matches, so the root's receiver", deep, with(func(l *Labels) { l.Project = "team-c/x" }), []string{"root"}},
		{"a child without a receiver inherits its parent's", inheriting, base(), []string{"team-a", "team-a-high"}},
		{"a child of the root without a receiver inherits the root's", inheriting, with(func(l *Labels) { l.Project = "team-b/web" }), []string{"root"}},
		{"a receiver reached twice is listed once, where first reached", twice, base(), []string{"chat", "pager"}},
		{"continue on the last matching child ends there", twice, with(func(l *Labels) { l.Ref = "dev" }), []string{"chat", "pager"}},
		{"the root matches everything, whatever its own matchers", rootWithMatch, base(), []string{"root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tree.Receivers(tt.l); !slices.Equal(got, tt.want) {
				t.Errorf("Receivers(%+v) = %q, want %q", tt.l, got, tt.want)
			}
		})
	}
}

func TestRouteReceiversOfANilTreeIsEmpty(t *testing.T) {
	var r *Route
	if got := r.Receivers(base()); got != nil {
		t.Errorf("a nil tree routed to %q", got)
	}
}

func TestRouteCount(t *testing.T) {
	if got := platformTree().Count(); got != 3 {
		t.Errorf("Count() = %d, want 3 (the root and two children)", got)
	}
}

func TestEscalationOfIsTheFirstEscalationOfTheNodesThatTakeTheAlert(t *testing.T) {
	toLead := &Escalation{To: "lead", After: 30 * time.Minute}
	toBoss := &Escalation{To: "boss", Reminders: 2}
	tree := &Route{Receiver: "audit", Escalation: &Escalation{To: "root-escalation", Reminders: 1}, Routes: []*Route{
		{Receiver: "pager", Match: Matchers{Severity: []alert.Severity{alert.SeverityHigh}}, Continue: true, Escalation: toLead},
		{Receiver: "chat", Match: Matchers{Project: "team-a/**"}, Escalation: toBoss},
	}}
	tests := []struct {
		name string
		l    Labels
		want *Escalation
	}{
		{"the first taking node's escalation wins", base(), toLead},
		{"a later sibling's escalation when the first does not take it", with(func(l *Labels) { l.Severity = alert.SeverityLow }), toBoss},
		{"the root's when no child takes the alert", with(func(l *Labels) { l.Project = "team-b/web"; l.Severity = alert.SeverityLow }), tree.Escalation},
	}
	for _, tt := range tests {
		if got := tree.EscalationOf(tt.l); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if (&Route{Receiver: "audit"}).EscalationOf(base()) != nil {
		t.Error("a tree without escalations escalated")
	}
}
