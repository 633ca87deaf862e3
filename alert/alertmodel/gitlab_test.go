package alertmodel

import (
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
)

func TestOutlineDiffNamesTheFieldsThatDiffer(t *testing.T) {
	m := NewGitLab(alert.Limits{}, 0, alert.Memory{})
	m.Apply(alert.Event{Pipeline: alert.Pipeline{ID: 7, Ref: "main", Status: alert.PipelineFailed}}, time.Unix(0, 0))
	want := m.Outline()
	if d := want.Diff(want); d != "" {
		t.Errorf("an outline differs from itself: %s", d)
	}
	got := want
	got.Cause, got.Counts.Stale = 6, 1
	if d, exp := got.Diff(want), "Cause 6, model 7; Counts {Events:1 Applied:1 Stale:1 Duplicates:0 Ignored:0 Superseded:0 Children:0}, model {Events:1 Applied:1 Stale:0 Duplicates:0 Ignored:0 Superseded:0 Children:0}"; d != exp {
		t.Errorf("Diff = %q, want %q", d, exp)
	}
}
