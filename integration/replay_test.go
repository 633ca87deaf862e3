package integration

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/replay"
)

// paging elsewhere is routingFile with team A's HIGH alerts sent to audit
// instead of the pager.
const pagingElsewhere = routingReceivers + `route:
  receiver: audit
  routes:
    - match: {project: "team-a/**", severity: [HIGH]}
      receiver: audit
      continue: true
    - match: {project: "team-a/**"}
      receiver: chat
`

// replayProjects are the projects of the replay test, which no other
// test uses: the replay reads every alert of the shared server.
const replayProjects = "team-?/replay-*"

func TestReplayOfRecordedAlertsChangesNothingUnderTheirOwnPolicyAndExactlyWhatAChangedOneChanges(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newRoutedStack(t)
	since := time.Now().Add(-time.Minute)
	sl := s.createSilence(map[string]any{"matchers": map[string]any{"project_id": []int{1974, 1975}}, "duration": "1h", "created_by": "alice"})
	s.waitSilenceRead(t, 1975, "team-z/canary", sl.ID)

	// Team A's failure pages and tells the chat, is acknowledged and goes
	// green; team Z's goes to audit and a person resolves it; team A's
	// canceled pipeline (MEDIUM, no hold) tells the chat, then goes green.
	a := s.mustSignal(teamPayload(t, 1971, "team-a/replay-api", 19710, "failed"))
	z := s.mustSignal(teamPayload(t, 1972, "team-z/replay-web", 19720, "failed"))
	c := s.mustSignal(teamPayload(t, 1973, "team-a/replay-worker", 19730, "canceled"))
	for _, id := range []string{a.AlertID, z.AlertID} {
		s.waitState(id, func(st *alert.State) error {
			if st.Status != alert.StatusOpen {
				return fmt.Errorf("%s is %s", id, st.Status)
			}
			return nil
		})
	}
	if code, body := s.apiCall(http.MethodPost, "/api/v1/alerts/"+a.AlertID+"/acknowledge", map[string]string{"by": "alice"}); code != http.StatusOK {
		t.Fatalf("acknowledge %s: %d %s", a.AlertID, code, body)
	}
	if code, body := s.apiCall(http.MethodPost, "/api/v1/alerts/"+z.AlertID+"/resolve", map[string]string{"by": "bob", "reason": "flaky runner"}); code != http.StatusOK {
		t.Fatalf("resolve %s: %d %s", z.AlertID, code, body)
	}
	s.mustSignal(teamPayload(t, 1971, "team-a/replay-api", 19711, "success"))
	s.mustSignal(teamPayload(t, 1973, "team-a/replay-worker", 19731, "success"))
	for _, id := range []string{a.AlertID, z.AlertID, c.AlertID} {
		s.waitClosed(id)
	}
	// Team A's API fails again: a second run on the same ID, which
	// recalls the first one's memory, opens and resolves.
	s.mustSignal(teamPayload(t, 1971, "team-a/replay-api", 19712, "failed"))
	s.waitState(a.AlertID, func(st *alert.State) error {
		if st.Status != alert.StatusOpen {
			return fmt.Errorf("%s is %s", a.AlertID, st.Status)
		}
		return nil
	})
	s.mustSignal(teamPayload(t, 1971, "team-a/replay-api", 19713, "success"))
	s.waitClosed(a.AlertID)

	// Team Z's quiet service fails under a silence and goes green before
	// it ends: nobody hears of it. (The worker read the silence first:
	// a worker reads silences every two seconds.)
	q := s.mustSignal(teamPayload(t, 1974, "team-z/replay-quiet", 19740, "failed"))
	s.waitState(q.AlertID, func(st *alert.State) error {
		if st.Silenced == nil {
			return fmt.Errorf("%s is not silenced", q.AlertID)
		}
		return nil
	})
	s.mustSignal(teamPayload(t, 1974, "team-z/replay-quiet", 19741, "success"))
	s.waitClosed(q.AlertID)
	if code, body := s.apiCall(http.MethodDelete, "/api/v1/silences/"+sl.ID, nil); code != http.StatusOK {
		t.Fatalf("expire %s: %d %s", sl.ID, code, body)
	}

	reader := replay.Reader{Client: s.client, Namespace: "default", LegacyReceiver: "audit"}
	silences, err := reader.Silences(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	filter := replay.Filter{Since: since, Project: replayProjects}
	run := func(file string, change func(*replay.Policy)) replay.Report {
		t.Helper()
		policy := replayPolicy(t, file)
		policy.Silences = silences
		if change != nil {
			change(&policy)
		}
		var rep replay.Report
		// Visibility lists a closed run a moment after it closed.
		err = poll(context.Background(), 30*time.Second, func() error {
			rep, err = replay.Replay(context.Background(), reader, filter, replay.Simulation{Policy: policy, Until: time.Now()})
			if err != nil {
				return err
			}
			if rep.Alerts != 4 || rep.Runs != 5 {
				return fmt.Errorf("replayed %d alerts (%d runs), want 4 (5 runs)", rep.Alerts, rep.Runs)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Failed) > 0 {
			t.Fatalf("alerts not replayed: %+v", rep.Failed)
		}
		return rep
	}
	changesOf := func(rep replay.Report) map[string][]replay.Change {
		out := map[string][]replay.Change{}
		for _, d := range rep.Differences {
			out[d.ID] = d.Changes
		}
		return out
	}

	same := run(routingFile, nil)
	if same.Changed != 0 || len(same.Differences) != 0 {
		t.Errorf("under the policy they were recorded with, the alerts changed: %+v", same.Differences)
	}
	wantTotals := []replay.Total{{Receiver: "audit", Sent: 2, Would: 2}, {Receiver: "chat", Sent: 7, Would: 7}, {Receiver: "pager", Sent: 5, Would: 5}}
	if !reflect.DeepEqual(same.Totals, wantTotals) {
		t.Errorf("totals = %+v, want %+v", same.Totals, wantTotals)
	}

	// Team A's pages go to audit: each notification of the two
	// failures is re-routed, nothing else moves.
	moved := run(pagingElsewhere, nil)
	rerouted := func(kind string, n int) replay.Change {
		return replay.Change{Op: replay.Rerouted, Kind: kind, N: n, From: "pager", Receiver: "audit"}
	}
	want := map[string][]replay.Change{a.AlertID: {
		rerouted("opened", 1), rerouted("acknowledged", 1), rerouted("resolved", 1), rerouted("opened", 2), rerouted("resolved", 2),
	}}
	if got := changesOf(moved); !reflect.DeepEqual(got, want) {
		t.Errorf("with team A's pages to audit, changes = %+v, want %+v", got, want)
	}
	wantTotals = []replay.Total{{Receiver: "audit", Sent: 2, Would: 7}, {Receiver: "chat", Sent: 7, Would: 7}, {Receiver: "pager", Sent: 5, Would: 0}}
	if !reflect.DeepEqual(moved.Totals, wantTotals) {
		t.Errorf("totals = %+v, want %+v", moved.Totals, wantTotals)
	}

	// Without the silence, team Z's quiet failure would have gone to
	// audit, open and resolved.
	unsilenced := run(routingFile, func(p *replay.Policy) { p.Silences = nil })
	want = map[string][]replay.Change{q.AlertID: {
		{Op: replay.Added, Kind: "opened", N: 1, Receiver: "audit"},
		{Op: replay.Added, Kind: "resolved", N: 1, Receiver: "audit"},
	}}
	if got := changesOf(unsilenced); !reflect.DeepEqual(got, want) {
		t.Errorf("without the silence, changes = %+v, want %+v", got, want)
	}

	// A candidate silence over team A's worker, from before the test to
	// after it, holds back its canceled pipeline's opened and resolved.
	candidate, err := replay.CandidateSilences([]byte(fmt.Sprintf(
		`[{"matchers":{"project":"team-a/replay-worker"},"starts_at":%q,"ends_at":%q,"created_by":"carol"}]`,
		since.UTC().Format(time.RFC3339Nano), time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano))))
	if err != nil {
		t.Fatal(err)
	}
	quieter := run(routingFile, func(p *replay.Policy) { p.Silences = append(slices.Clone(p.Silences), candidate...) })
	want = map[string][]replay.Change{c.AlertID: {
		{Op: replay.Removed, Kind: "opened", N: 1, Receiver: "chat"},
		{Op: replay.Removed, Kind: "resolved", N: 1, Receiver: "chat"},
	}}
	if got := changesOf(quieter); !reflect.DeepEqual(got, want) {
		t.Errorf("with a candidate silence, changes = %+v, want %+v", got, want)
	}

	// A one-minute hold swallows the cancel that the success superseded.
	held := run(routingFile, func(p *replay.Policy) {
		hold := time.Minute
		p.Hold = &hold
	})
	want = map[string][]replay.Change{c.AlertID: {
		{Op: replay.Removed, Kind: "opened", N: 1, Receiver: "chat"},
		{Op: replay.Removed, Kind: "resolved", N: 1, Receiver: "chat"},
	}}
	if got := changesOf(held); !reflect.DeepEqual(got, want) {
		t.Errorf("with a 1m hold, changes = %+v, want %+v", got, want)
	}
}
