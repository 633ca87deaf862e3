package replay

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/route"
	"github.com/alertflow/alertflow/workflows"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func pipelineSignal(t *testing.T, at time.Duration, id int64, status string) Event {
	t.Helper()
	ev := alert.Event{
		Project:  alert.Project{ID: 7, Path: "team-a/api"},
		Pipeline: alert.Pipeline{ID: id, Ref: "main", Status: status, FinishedAt: t0.Add(at)},
		User:     "alice",
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return Event{At: t0.Add(at), Name: workflows.SignalPipeline, Arg: raw}
}

func manual(t *testing.T, at time.Duration, update bool, name string, arg any) Event {
	t.Helper()
	raw, err := json.Marshal(arg)
	if err != nil {
		t.Fatal(err)
	}
	return Event{At: t0.Add(at), Update: update, Name: name, UpdateID: name + "-1", Arg: raw}
}

// toTeam routes every alert to receiver, webhook only.
func toTeam(receiver string) Policy {
	return Policy{
		Route:     func(route.Labels) []string { return []string{receiver} },
		Receivers: map[string][]string{receiver: {"webhook"}, "other": {"slack"}},
	}
}

func oneRun(events ...Event) History {
	return History{ID: "gitlab-7-main", Runs: []Run{{
		Start:  t0,
		Input:  workflows.Input{Revision: workflows.RevisionRouted, ReminderInterval: time.Hour},
		Events: events,
	}}}
}

func TestSimulateReRunsSignalsAndUpdatesAtTheirRecordedTimes(t *testing.T) {
	h := oneRun(
		pipelineSignal(t, 0, 1, "failed"),
		// Two hours open, unacknowledged: reminders at 1h and 2h.
		manual(t, 150*time.Minute, true, workflows.UpdateAcknowledge, alert.Acknowledgement{By: "bob"}),
		pipelineSignal(t, 3*time.Hour, 2, "success"),
	)
	sim := Simulation{Policy: toTeam("team-a-pager"), Until: t0.Add(24 * time.Hour)}
	got, notes, err := sim.Simulate(h)
	if err != nil {
		t.Fatal(err)
	}
	want := []Notice{
		notice("opened", "team-a-pager"), notice("reminder", "team-a-pager"), notice("reminder", "team-a-pager"),
		notice("acknowledged", "team-a-pager"), notice("resolved", "team-a-pager"),
	}
	if !reflect.DeepEqual(got, want) || len(notes) != 0 {
		t.Fatalf("Simulate = %v (notes %v), want %v", got, notes, want)
	}

	longer := 2 * time.Hour
	sim.Policy.ReminderInterval = &longer
	got, _, err = sim.Simulate(h)
	if err != nil {
		t.Fatal(err)
	}
	want = []Notice{notice("opened", "team-a-pager"), notice("reminder", "team-a-pager"),
		notice("acknowledged", "team-a-pager"), notice("resolved", "team-a-pager")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("with 2h reminders Simulate = %v, want %v", got, want)
	}
}

func TestSimulateStopsAtUntilAndStartsANewRunAfterAResolve(t *testing.T) {
	h := oneRun(
		pipelineSignal(t, 0, 1, "failed"),
		pipelineSignal(t, time.Minute, 2, "success"),
		// The intake refuses a resolve of an alert that is over.
		manual(t, 2*time.Minute, false, workflows.SignalResolve, alert.Resolution{By: "bob"}),
		pipelineSignal(t, 10*time.Minute, 3, "failed"),
	)
	sim := Simulation{Policy: toTeam("chat"), Until: t0.Add(30 * time.Minute)}
	got, notes, err := sim.Simulate(h)
	if err != nil {
		t.Fatal(err)
	}
	want := []Notice{notice("opened", "chat"), notice("resolved", "chat"), notice("opened", "chat")}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Simulate = %v, want %v", got, want)
	}
	if len(notes) != 1 {
		t.Fatalf("notes = %v, want one on the dropped resolve", notes)
	}
}

func TestSimulateCarriesAFailureThatArrivesWithTheResolveIntoTheNextAlert(t *testing.T) {
	// The success and the next failure arrive together: the run that
	// resolves carries the failure on (continue-as-new) or a new run
	// takes it; either way people hear of a second alert.
	h := oneRun(
		pipelineSignal(t, 0, 1, "failed"),
		pipelineSignal(t, time.Minute, 2, "success"),
		pipelineSignal(t, time.Minute, 3, "failed"),
		pipelineSignal(t, 5*time.Minute, 4, "success"),
	)
	sim := Simulation{Policy: toTeam("chat"), Until: t0.Add(time.Hour)}
	got, notes, err := sim.Simulate(h)
	if err != nil {
		t.Fatal(err)
	}
	want := []Notice{notice("opened", "chat"), notice("resolved", "chat"), notice("opened", "chat"), notice("resolved", "chat")}
	if !reflect.DeepEqual(got, want) || len(notes) != 0 {
		t.Fatalf("Simulate = %v (notes %v), want %v", got, notes, want)
	}
}
