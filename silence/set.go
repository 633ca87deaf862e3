package silence

import (
	"strings"

	"github.com/alertflow/alertflow/route"
)

// Set is a view of silences indexed for matching: a check looks only at
// the silences that could hold the alert's project, so that its cost stays
// flat with thousands of silences of other teams. A Set is never changed
// once made, and is safe to share.
type Set struct {
	all []Active
	// byProjectID holds the silences that name project IDs, under each.
	byProjectID map[int64][]int
	// byGroup holds those whose project glob starts with a literal top
	// group ("team-a/..."), under it.
	byGroup map[string][]int
	// rest may match any project and are checked for every alert.
	rest []int
}

// NewSet indexes all.
func NewSet(all []Active) *Set {
	s := &Set{all: all, byProjectID: map[int64][]int{}, byGroup: map[string][]int{}}
	for i, a := range all {
		switch group, ok := literalGroup(a.match.Project); {
		case len(a.match.ProjectID) > 0:
			for _, id := range a.match.ProjectID {
				if l := s.byProjectID[id]; len(l) == 0 || l[len(l)-1] != i { // an ID named twice
					s.byProjectID[id] = append(l, i)
				}
			}
		case ok:
			s.byGroup[group] = append(s.byGroup[group], i)
		default:
			s.rest = append(s.rest, i)
		}
	}
	return s
}

// Len is how many silences the set holds.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.all)
}

// All are the silences of the set, in the order they were given.
func (s *Set) All() []Active {
	if s == nil {
		return nil
	}
	return s.all
}

// Candidates are the silences of the set that may match an alert labelled
// l: every one that does is among them. Each is there once.
func (s *Set) Candidates(l route.Labels) []Active {
	if s == nil {
		return nil
	}
	group, _, _ := strings.Cut(l.Project, "/")
	byID, byGroup := s.byProjectID[l.ProjectID], s.byGroup[group]
	out := make([]Active, 0, len(byID)+len(byGroup)+len(s.rest))
	for _, list := range [][]int{byID, byGroup, s.rest} {
		for _, i := range list {
			out = append(out, s.all[i])
		}
	}
	return out
}

// literalGroup is the top group a project glob fixes literally: the text
// before its first "/" when no wildcard, brace, class or escape comes
// before it ("team-a/**" → "team-a"), or the whole glob when it has no
// such character and no "/" at all. ok is false when the glob can match
// paths of several top groups, or matches any project ("").
func literalGroup(glob string) (group string, ok bool) {
	if glob == "" {
		return "", false
	}
	meta := strings.IndexAny(glob, `*?[{\`)
	literal := glob
	if meta >= 0 {
		literal = glob[:meta]
	}
	if g, _, found := strings.Cut(literal, "/"); found {
		return g, true
	}
	if meta < 0 {
		return glob, true
	}
	return "", false
}
