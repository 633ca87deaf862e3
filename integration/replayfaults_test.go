package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	routeconfig "github.com/alertflow/alertflow/config"
	"github.com/alertflow/alertflow/replay"
	"github.com/alertflow/alertflow/workflows"
)

// A worker killed (SIGKILL) before a reminder's due time and a silence's
// end, and started again after both, runs them late. The alerts still schedule their next reminders from the due
// times, so the what-if replay with the running policy, which knows due
// times only, shows no difference. (Before, each later reminder moved by
// the outage, and the replay counted one more than was sent.)
func TestReplayShowsNoDifferenceAfterTheWorkerWasDownAtAReminderAndASilencesEnd(t *testing.T) {
	t.Parallel() // own task queue and project ids
	const every = 20 * time.Second
	s := newRoutedStackInput(t, routingFile, workflows.Input{ReminderInterval: every})
	since := time.Now().Add(-time.Minute)
	// The real worker process, routing with the same file, in place of
	// the stack's own.
	file := filepath.Join(t.TempDir(), "routing.yaml")
	if err := os.WriteFile(file, []byte(routingFile), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"ALERTFLOW_CONFIG=" + file, "PD_KEY=" + routingKey, "PD_URL=" + s.pd.URL(),
		"SECRET=" + routingSecret, "CHAT_URL=" + s.chatURL, "AUDIT_URL=" + s.auditURL}
	bin := alertflowBinary(t)
	s.stopWorker()
	worker := startWorkerProcess(t, bin, s.taskQueue, "worker-1", env...)

	// Team F's API fails; its quiet service fails under a silence that
	// ends a few seconds after the API's first reminder falls due.
	a := s.mustSignal(teamPayload(t, 1981, "team-f/faults-api", 19810, "failed"))
	opened := s.waitState(a.AlertID, func(st *alert.State) error {
		if st.Status != alert.StatusOpen || st.NextReminderAt.IsZero() {
			return fmt.Errorf("%s is %s, next reminder %v", a.AlertID, st.Status, st.NextReminderAt)
		}
		return nil
	})
	due := opened.NextReminderAt
	end := due.Add(4 * time.Second)
	sl := s.createSilence(map[string]any{"matchers": map[string]any{"project_id": []int{1982, 1983}},
		"ends_at": end.Format(time.RFC3339Nano), "created_by": "alice"})
	s.waitSilenceRead(t, 1983, "team-f/canary", sl.ID)
	// The quiet service opens late enough that its own first reminder
	// falls due after the worker is back (at least 8 s after the end):
	// then the handover alone decides when it is reminded. Opened sooner,
	// as a fast set-up did, its reminder falls due during the silence and
	// is held and counted as well.
	waitUntil(t, due.Add(-8*time.Second))
	q := s.mustSignal(teamPayload(t, 1982, "team-f/faults-quiet", 19820, "failed"))
	quiet := q.AlertID
	s.waitState(quiet, func(st *alert.State) error {
		if st.Silenced == nil || st.Silenced.ID != sl.ID {
			return fmt.Errorf("%s is not held by %s: %+v", quiet, sl.ID, st.Silenced)
		}
		return nil
	})

	// The worker is killed before the due time and back after the end.
	waitUntil(t, due.Add(-3*time.Second))
	worker.kill(t)
	waitUntil(t, end.Add(5*time.Second))
	restarted := time.Now()
	startWorkerProcess(t, bin, s.taskQueue, "worker-2", env...)

	// From the due times on, each alert has had what the replay will say:
	// the API its second reminder, the quiet service its first after the
	// handover. Scheduled from when the late tasks ran, neither would
	// come before restarted + every.
	err := poll(context.Background(), time.Until(restarted.Add(every-time.Second)), func() error {
		st, err := s.state(context.Background(), a.AlertID)
		if err != nil {
			return err
		}
		q, err := s.state(context.Background(), quiet)
		if err != nil {
			return err
		}
		if st.Reminders != 2 || q.Reminders != 1 || q.Silenced != nil {
			return fmt.Errorf("the API has had %d reminders (want 2), the quiet service %d (want 1, silenced %v)", st.Reminders, q.Reminders, q.Silenced)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reminders after the outage: %v", err)
	}
	s.mustSignal(teamPayload(t, 1981, "team-f/faults-api", 19811, "success"))
	s.mustSignal(teamPayload(t, 1982, "team-f/faults-quiet", 19821, "success"))
	s.waitClosed(a.AlertID)
	s.waitClosed(quiet)

	reader := replay.Reader{Client: s.client, Namespace: "default", LegacyReceiver: "audit"}
	silences, err := reader.Silences(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	policy := replayPolicy(t, routingFile)
	policy.Silences = silences
	var rep replay.Report
	err = poll(context.Background(), 30*time.Second, func() error {
		rep, err = replay.Replay(context.Background(), reader, replay.Filter{Since: since, Project: "team-f/faults-*"},
			replay.Simulation{Policy: policy, Until: time.Now()})
		if err != nil {
			return err
		}
		if rep.Alerts != 2 {
			return fmt.Errorf("replayed %d alerts, want 2", rep.Alerts)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) > 0 || rep.Changed != 0 || len(rep.Differences) != 0 {
		for _, id := range []string{a.AlertID, quiet} {
			if st, err := s.state(context.Background(), id); err == nil {
				for _, e := range st.Timeline {
					t.Logf("%s: %s %s %s", id, e.Time.Format("15:04:05.000"), e.Kind, e.Note)
				}
			}
		}
		t.Logf("due %s end %s restarted %s", due.Format("15:04:05.000"), end.Format("15:04:05.000"), restarted.Format("15:04:05.000"))
		t.Fatalf("replay with the running policy: failed %+v, %d changed: %+v", rep.Failed, rep.Changed, rep.Differences)
	}
}

// replayPolicy is the policy of routing file file, as `alertflow replay`
// reads it.
func replayPolicy(t *testing.T, file string) replay.Policy {
	t.Helper()
	cfg, err := routeconfig.Parse("candidate.yaml", []byte(file), func(k string) (string, bool) {
		return "http://127.0.0.1:1/" + k, true // never called: a replay sends nothing
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return replay.PolicyOf(cfg)
}

// waitSilenceRead returns once the worker holds alerts back with silence
// id: it opens alerts of a canary project the silence matches, on a new
// ref each time, until one is held (a worker reads silences every two
// seconds).
func (s *stack) waitSilenceRead(t *testing.T, canary int64, path, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for try := int64(1); ; try++ {
		var m map[string]any
		if err := json.Unmarshal(teamPayload(t, canary, path, canary*100+try, "failed"), &m); err != nil {
			t.Fatal(err)
		}
		m["object_attributes"].(map[string]any)["ref"] = fmt.Sprintf("canary-%d", try)
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		ans := s.mustSignal(raw)
		st := s.waitState(ans.AlertID, func(st *alert.State) error {
			if !st.Status.Active() || st.Status == alert.StatusPending {
				return fmt.Errorf("%s is %s", ans.AlertID, st.Status)
			}
			return nil
		})
		if st.Silenced != nil && st.Silenced.ID == id {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker never held a canary alert back with %s", id)
		}
	}
}

// waitUntil returns at t, polling the clock: the test acts at times an
// alert's timers are due.
func waitUntil(t *testing.T, at time.Time) {
	t.Helper()
	if err := poll(context.Background(), time.Until(at)+time.Second, func() error {
		if time.Now().Before(at) {
			return fmt.Errorf("not %s yet", at.Format(time.TimeOnly))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
