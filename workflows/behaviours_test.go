package workflows

import (
	"reflect"
	"testing"

	"github.com/alertflow/alertflow/alert"
)

// Every revision has its row, and the current one is the last: a new
// revision that forgot its row would run as the one before it.
func TestEveryRevisionSaysWhatItAdds(t *testing.T) {
	if len(revisionAdds) != int(CurrentRevision)+1 {
		t.Fatalf("%d rows for revisions 0 to %d", len(revisionAdds), CurrentRevision)
	}
	for rev, add := range revisionAdds {
		if add == nil {
			t.Errorf("revision %d has no row", rev)
		}
	}
}

// A revision only ever adds: what one revision does, every later one
// does too, and its rules are never older.
func TestARevisionKeepsEveryBehaviourOfTheOneBefore(t *testing.T) {
	for rev := RevisionLean; rev <= CurrentRevision; rev++ {
		before, now := reflect.ValueOf((rev - 1).behaviours()), reflect.ValueOf(rev.behaviours())
		added := 0
		for i := range now.NumField() {
			name := now.Type().Field(i).Name
			switch b, n := before.Field(i), now.Field(i); b.Kind() {
			case reflect.Bool:
				if b.Bool() && !n.Bool() {
					t.Errorf("revision %d drops %s", rev, name)
				}
				if !b.Bool() && n.Bool() {
					added++
				}
			default:
				if n.Int() < b.Int() {
					t.Errorf("revision %d has older %s than revision %d", rev, name, rev-1)
				}
				if n.Int() > b.Int() {
					added++
				}
			}
		}
		if added == 0 {
			t.Errorf("revision %d adds nothing to revision %d", rev, rev-1)
		}
	}
}

// The behaviours as the revisions' documentation states them: spot checks
// of the table against what the recorded histories of each revision did.
func TestTheBehavioursAreThoseTheRevisionsRecorded(t *testing.T) {
	for _, c := range []struct {
		rev       Revision
		what      string
		got, want bool
	}{
		{RevisionFirst, "logs locally", RevisionFirst.behaviours().logLocally, false},
		{RevisionLean, "logs locally", RevisionLean.behaviours().logLocally, true},
		{RevisionLean, "delivers in order", RevisionLean.behaviours().orderedDelivery, false},
		{RevisionGitLab, "delivers in order", RevisionGitLab.behaviours().orderedDelivery, true},
		{RevisionGitLab, "routes", RevisionGitLab.behaviours().routes, false},
		{RevisionRouted, "routes", RevisionRouted.behaviours().routes, true},
		{RevisionRouted, "checks silences", RevisionRouted.behaviours().silences, false},
		{RevisionFaithful, "keeps messages", RevisionFaithful.behaviours().keepsMessages, false},
		{RevisionConsole, "keeps messages", RevisionConsole.behaviours().keepsMessages, true},
		{RevisionConsole, "reconciles", RevisionConsole.behaviours().reconciles, false},
		{RevisionReconciled, "reconciles", RevisionReconciled.behaviours().reconciles, true},
	} {
		if c.got != c.want {
			t.Errorf("revision %d %s: %v, want %v", c.rev, c.what, c.got, c.want)
		}
	}
	for rev, want := range map[Revision]alert.RulesVersion{
		RevisionFirst: alert.RulesFirst, RevisionGitLab: alert.RulesGitLab, RevisionFinished: alert.RulesFinished,
		RevisionReconciled: alert.RulesFinished, RevisionInsight: alert.RulesInsight,
	} {
		if got := rev.behaviours().rules; got != want {
			t.Errorf("revision %d starts alerts under rules %d, want %d", rev, got, want)
		}
	}
}
