package alertview

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
)

// full is an alert with something in every field people see: opened by a
// failed pipeline, acknowledged, then fixed by a green one.
func full(t *testing.T) *alert.State {
	t.Helper()
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	s := alert.New(alert.DefaultLimits())
	s.Rules = alert.Rules{Version: alert.RulesInsight, FlapThreshold: 3, FlapWindow: time.Hour}
	ev := alert.Event{
		Project: alert.Project{ID: 1, Path: "team-a/api", URL: "https://gitlab.example.com/team-a/api"},
		Pipeline: alert.Pipeline{ID: 31, Ref: "main", Status: alert.PipelineFailed, SHA: "bbbb",
			FinishedAt: at, FailedJobs: []alert.Job{{Name: "rspec", Stage: "test", FailureReason: "script_failure"}}},
		User:      "Xena",
		Commit:    alert.Commit{Title: "Break it", Author: "Xavier"},
		LastGreen: &alert.Green{PipelineID: 30, SHA: "aaaa"},
	}
	s.Apply(ev, at)
	if _, err := s.Acknowledge(alert.Acknowledgement{By: "alice", Note: "on it"}, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	green := ev
	green.Pipeline.ID, green.Pipeline.Status, green.Pipeline.SHA, green.Pipeline.FailedJobs = 32, alert.PipelineSuccess, "cccc", nil
	green.Pipeline.FinishedAt = at.Add(time.Hour)
	s.Apply(green, at.Add(time.Hour))
	if s.Status != alert.StatusResolved {
		t.Fatalf("the fixture did not resolve: %+v", s)
	}
	return s
}

func TestOfShowsEveryFieldItSharesWithTheStateAsTheStateHasIt(t *testing.T) {
	st := full(t)
	view, state := asJSON(t, Of(st)), asJSON(t, st)
	for k, v := range view {
		if !reflect.DeepEqual(v, state[k]) {
			t.Errorf("%s: the view shows %v, the state holds %v", k, v, state[k])
		}
	}
	shown := map[string]bool{}
	for f := range reflect.TypeFor[Alert]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		shown[name] = true
	}
	for k, v := range state {
		if shown[k] && !reflect.DeepEqual(view[k], v) {
			t.Errorf("%s: the state holds %v, the view shows %v", k, v, view[k])
		}
	}
	for _, own := range []string{"limits", "memory", "recent_keys", "cause", "last_failed_id"} {
		if _, ok := view[own]; ok {
			t.Errorf("the view shows the workflow's own %q", own)
		}
	}
	if len(view) < 20 {
		t.Errorf("the view shows only %d fields: %v", len(view), view)
	}
}

func TestTheViewDerivesWhatTheStateDerives(t *testing.T) {
	st := full(t)
	a := Of(st)
	for name, got := range map[string][2]string{
		"title":       {a.Title(), st.Title()},
		"compare":     {a.CompareURL(), st.CompareURL()},
		"culprit":     {a.CulpritLine(), st.CulpritLine()},
		"recovery":    {a.RecoveryLine(), st.RecoveryLine()},
		"failed jobs": {a.FailedJobsLine(), st.FailedJobsLine()},
		"flap window": {a.FlapWindow().String(), st.Rules.EffectiveFlapWindow().String()},
	} {
		if got[0] != got[1] {
			t.Errorf("%s: the view says %q, the state %q", name, got[0], got[1])
		}
	}
	if a.CulpritLine() == "" || a.RecoveryLine() == "" || !strings.Contains(a.CompareURL(), "aaaa...bbbb") {
		t.Errorf("the fixture derives nothing: %q, %q, %q", a.CulpritLine(), a.RecoveryLine(), a.CompareURL())
	}
	if !reflect.DeepEqual(a.Recovery(), st.Recovery()) {
		t.Errorf("recovery %+v, want %+v", a.Recovery(), st.Recovery())
	}
}

func TestNotifiedLeavesTheTimelineOut(t *testing.T) {
	st := full(t)
	if len(Of(st).Timeline) == 0 {
		t.Fatal("the fixture has no timeline")
	}
	if n := Notified(st); n.Timeline != nil {
		t.Errorf("a notification carries %d timeline entries", len(n.Timeline))
	}
}

func asJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
