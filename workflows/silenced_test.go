package workflows

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/route"
	"github.com/alertflow/alertflow/silence"
)

// Workflow tests of silences: the real routing activity checks silences
// the test keeps, in the SDK's test environment, which skips time ahead.

// silenceSet is the silences a test's worker lists; a test changes it
// while the alert runs, as people create silences.
type silenceSet struct {
	mu  sync.Mutex
	set []silence.Active
}

func (s *silenceSet) list(context.Context) (*silence.Set, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return silence.NewSet(append([]silence.Active(nil), s.set...)), nil
}

func (s *silenceSet) add(t *testing.T, id string, matchers string, from, to time.Time) {
	t.Helper()
	sl, err := silence.New(id, silence.Request{Matchers: json.RawMessage(matchers), CreatedBy: "alice", EndsAt: &to}, from)
	if err != nil {
		t.Fatal(err)
	}
	a, err := silence.Activate(sl)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set = append(s.set, a)
}

func newSilencedEnv(t *testing.T) (*routedEnv, *silenceSet) {
	e := newRoutedEnv(t)
	set := &silenceSet{}
	activities.SilenceWith(e.sinks, set.list)
	return e, set
}

func silencedInput(reminders time.Duration) Input {
	return Input{Revision: CurrentRevision, ReminderInterval: reminders}
}

func TestASilencedFailureOpensQuietlyAndIsAnnouncedWhenTheSilenceIsOver(t *testing.T) {
	e, set := newSilencedEnv(t)
	start := e.Now()
	set.add(t, "silence-a", `{"project":"gitlab-org/*","ref":"master"}`, start, start.Add(2*time.Hour))
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.stateAt(t, time.Hour+50*time.Minute, func(s *alert.State) {
		// Opened, and the reminders at 25m, 50m, 1h15 and 1h40, held back.
		if s.Status != alert.StatusOpen || s.Silenced == nil || s.Silenced.ID != "silence-a" || !s.Silenced.Unheard || s.Silenced.Suppressed != 5 {
			t.Errorf("during the silence: %s, silenced %+v", s.Status, s.Silenced)
		}
	})
	e.signalActionAt(2*time.Hour+10*time.Minute, SignalResolve, alert.Resolution{By: "bob"})
	e.ExecuteWorkflow(AlertWorkflow, silencedInput(25*time.Minute))
	st := e.result(t)
	e.expect(t, map[string][]notify.Kind{
		"pager": {notify.KindOpened, notify.KindResolved},
		"chat":  {notify.KindOpened, notify.KindResolved},
	})
	if st.Silenced != nil || len(st.SilencesEnded) != 1 || st.SilencesEnded[0] != "silence-a" {
		t.Fatalf("after the silence: silenced %+v, ended %v", st.Silenced, st.SilencesEnded)
	}
}

func TestASilenceCreatedForAnOpenAlertStopsItsReminders(t *testing.T) {
	e, set := newSilencedEnv(t)
	start := e.Now()
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.RegisterDelayedCallback(func() {
		set.add(t, "silence-b", `{"project_id":[1]}`, start.Add(10*time.Minute), start.Add(2*time.Hour))
	}, 10*time.Minute)
	e.signalActionAt(2*time.Hour+5*time.Minute, SignalAcknowledge, alert.Acknowledgement{By: "carol"})
	e.ExecuteWorkflow(AlertWorkflow, silencedInput(30*time.Minute))
	e.stillOpen(t)
	// The reminders at 30m, 1h and 1h30 are held back; the silence's end
	// at 2h hands over one reminder of where the alert stands.
	e.expect(t, map[string][]notify.Kind{
		"pager": {notify.KindOpened, notify.KindReminder, notify.KindAcknowledged},
		"chat":  {notify.KindOpened, notify.KindReminder, notify.KindAcknowledged},
	})
}

func TestAnAlertNobodyHeardOfThatResolvesDuringItsSilenceSendsNothing(t *testing.T) {
	e, set := newSilencedEnv(t)
	start := e.Now()
	set.add(t, "silence-c", `{"ref":"master"}`, start, start.Add(24*time.Hour))
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.signalAt(time.Hour, pipelineEvent(32, "success"))
	e.ExecuteWorkflow(AlertWorkflow, silencedInput(0))
	st := e.result(t)
	e.expect(t, map[string][]notify.Kind{})
	var suppressed int
	for _, en := range st.Timeline {
		if en.Kind == alert.OutcomeSuppressed {
			suppressed++
		}
	}
	if suppressed != 2 || st.Silenced == nil || st.Silenced.Suppressed != 2 {
		t.Fatalf("%d suppressed entries, silenced %+v: want the opening and the resolve held back", suppressed, st.Silenced)
	}
}

func TestTheResolveOfAnAlertPeopleHeardOfGoesOutDuringASilence(t *testing.T) {
	e, set := newSilencedEnv(t)
	start := e.Now()
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.RegisterDelayedCallback(func() {
		set.add(t, "silence-d", `{"ref":"master"}`, start.Add(time.Minute), start.Add(24*time.Hour))
	}, time.Minute)
	e.signalAt(time.Hour, pipelineEvent(32, "success"))
	e.ExecuteWorkflow(AlertWorkflow, silencedInput(20*time.Minute))
	e.result(t)
	// The reminders at 20m and 40m are held back; the resolve clears the
	// pager that heard the alert open.
	e.expect(t, map[string][]notify.Kind{
		"pager": {notify.KindOpened, notify.KindResolved},
		"chat":  {notify.KindOpened, notify.KindResolved},
	})
}

func TestASilenceExpiredEarlyHandsOverAtOnceAndNeverHoldsTheAlertAgain(t *testing.T) {
	e, set := newSilencedEnv(t)
	start := e.Now()
	// The worker keeps listing the silence after it was expired, as a
	// worker's list may be a moment old.
	set.add(t, "silence-e", `{"severity":"HIGH"}`, start, start.Add(10*time.Hour))
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.signalActionAt(time.Hour, SignalSilenceEnded, "silence-e")
	e.signalActionAt(2*time.Hour, SignalResolve, alert.Resolution{By: "bob"})
	e.ExecuteWorkflow(AlertWorkflow, silencedInput(45*time.Minute))
	e.result(t)
	// 45m: held back; 1h: the opening handed over; 1h30: a reminder.
	e.expect(t, map[string][]notify.Kind{
		"pager": {notify.KindOpened, notify.KindReminder, notify.KindResolved},
		"chat":  {notify.KindOpened, notify.KindReminder, notify.KindResolved},
	})
}

func TestAnEscalationDueDuringASilenceWaitsForItsEnd(t *testing.T) {
	e, set := newSilencedEnv(t)
	e.escalate = &route.Escalation{To: "audit", After: 30 * time.Minute}
	start := e.Now()
	set.add(t, "silence-f", `{"project":"gitlab-org/gitlab-test"}`, start, start.Add(time.Hour))
	e.signalAt(time.Second, pipelineEvent(31, "failed"))
	e.signalActionAt(2*time.Hour, SignalAcknowledge, alert.Acknowledgement{By: "carol"})
	e.ExecuteWorkflow(AlertWorkflow, silencedInput(0))
	e.stillOpen(t)
	e.expect(t, map[string][]notify.Kind{
		"pager": {notify.KindOpened, notify.KindAcknowledged},
		"chat":  {notify.KindOpened, notify.KindAcknowledged},
		"audit": {notify.KindEscalated, notify.KindAcknowledged},
	})
}

func newSilenceEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *[]string) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	e := s.NewTestWorkflowEnvironment()
	e.RegisterWorkflow(SilenceWorkflow)
	var released []string
	e.RegisterActivityWithOptions(func(_ context.Context, id string) (int, error) {
		released = append(released, id)
		return 0, nil
	}, activity.RegisterOptions{Name: activities.ActivityReleaseSilenced})
	return e, &released
}

func testSilence(t *testing.T, from time.Time, d time.Duration) silence.Silence {
	t.Helper()
	to := from.Add(d)
	sl, err := silence.New("default-test-workflow-id", silence.Request{
		Matchers: json.RawMessage(`{"project":"team-a/*"}`), CreatedBy: "alice", EndsAt: &to}, from)
	if err != nil {
		t.Fatal(err)
	}
	return sl
}

func TestASilenceWorkflowEndsAtItsEndWithoutTellingAlerts(t *testing.T) {
	e, released := newSilenceEnv(t)
	sl := testSilence(t, e.Now(), 2*time.Hour)
	sl.ID = "silence-1"
	e.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "silence-1"})
	e.ExecuteWorkflow(SilenceWorkflow, sl)
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var got silence.Silence
	if err := e.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	if !got.ExpiredAt.IsZero() || len(*released) != 0 {
		t.Fatalf("expired at %v, released %v: want over on its own, nobody told", got.ExpiredAt, *released)
	}
}

func TestASilenceExpiredEarlyTellsTheAlertsItHoldsTwice(t *testing.T) {
	e, released := newSilenceEnv(t)
	sl := testSilence(t, e.Now(), 2*time.Hour)
	sl.ID = "silence-2"
	e.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "silence-2"})
	var answered silence.Silence
	e.RegisterDelayedCallback(func() {
		e.UpdateWorkflow(UpdateExpire, "u1", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("expire rejected: %v", err) },
			OnComplete: func(v any, err error) {
				if err != nil {
					t.Errorf("expire: %v", err)
					return
				}
				answered = v.(silence.Silence)
			},
		}, ExpireRequest{By: "bob"})
	}, 30*time.Minute)
	e.ExecuteWorkflow(SilenceWorkflow, sl)
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if answered.ExpiredBy != "bob" || answered.ExpiredAt.IsZero() {
		t.Fatalf("the update answered %+v", answered)
	}
	if len(*released) != 2 || (*released)[0] != "silence-2" {
		t.Fatalf("released %v, want silence-2 twice", *released)
	}
}

// Who expires a silence is kept in its memo: the update refuses one over
// 1024 bytes or with a control character, and the silence runs on.
func TestASilenceRefusesAnExpiryByOneTooLongOrWithAControlCharacter(t *testing.T) {
	for name, by := range map[string]string{"too long": strings.Repeat("b", 1025), "a control character": "bob\x1b[2J"} {
		t.Run(name, func(t *testing.T) {
			e, released := newSilenceEnv(t)
			sl := testSilence(t, e.Now(), time.Hour)
			sl.ID = "silence-by"
			e.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "silence-by"})
			rejected := false
			e.RegisterDelayedCallback(func() {
				e.UpdateWorkflow(UpdateExpire, "u1", &testsuite.TestUpdateCallback{
					OnReject:   func(err error) { rejected = strings.Contains(err.Error(), `"by"`) },
					OnComplete: func(any, error) { t.Error("the expiry was applied") },
				}, ExpireRequest{By: by})
			}, 10*time.Minute)
			e.ExecuteWorkflow(SilenceWorkflow, sl)
			var got silence.Silence
			if err := e.GetWorkflowResult(&got); err != nil {
				t.Fatal(err)
			}
			if !rejected || !got.ExpiredAt.IsZero() || len(*released) != 0 {
				t.Fatalf("rejected %v, expired at %v, released %v: want the update rejected naming by and the silence over on its own", rejected, got.ExpiredAt, *released)
			}
		})
	}
}

// A signal cannot be refused: one naming somebody the update would refuse
// still expires the silence, kept as by "signal", so the name never
// reaches the memo.
func TestAnExpireSignalNamingSomebodyInvalidExpiresAsBySignal(t *testing.T) {
	for name, tt := range map[string]struct{ by, want string }{
		"too long":            {strings.Repeat("b", 4096), "signal"},
		"a control character": {"bob\x1b[2J", "signal"},
		"nobody":              {"  ", "signal"},
		"a valid name":        {"carol", "carol"},
	} {
		t.Run(name, func(t *testing.T) {
			e, released := newSilenceEnv(t)
			sl := testSilence(t, e.Now(), time.Hour)
			sl.ID = "silence-sig"
			e.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "silence-sig"})
			e.RegisterDelayedCallback(func() { e.SignalWorkflow(SignalExpire, ExpireRequest{By: tt.by}) }, 10*time.Minute)
			e.ExecuteWorkflow(SilenceWorkflow, sl)
			var got silence.Silence
			if err := e.GetWorkflowResult(&got); err != nil {
				t.Fatal(err)
			}
			if got.ExpiredAt.IsZero() || got.ExpiredBy != tt.want || len(*released) == 0 {
				t.Fatalf("expired at %v by %q, released %v: want expired by %q and its alerts released", got.ExpiredAt, got.ExpiredBy, *released, tt.want)
			}
		})
	}
}

func TestASilenceWorkflowRefusesAnInvalidSilence(t *testing.T) {
	e, _ := newSilenceEnv(t)
	e.ExecuteWorkflow(SilenceWorkflow, silence.Silence{ID: "silence-3", CreatedBy: "alice"})
	if err := e.GetWorkflowError(); err == nil {
		t.Fatal("an invalid silence ran")
	}
}

// A silence started with the temporal CLI is checked as the REST API
// checks it: an ID other than its workflow's, or one too long for a search
// attribute, fails the workflow at once, naming the problem.
func TestASilenceWorkflowRefusesAnIDThatIsNotItsWorkflowsOrTooLong(t *testing.T) {
	for _, tt := range []struct {
		name, workflowID, id, want string
	}{
		{"another workflow's", "4242-main", "silence-x", `is not its workflow ID "4242-main"`},
		{"no prefix", "4242-main", "", `must start with "silence-"`},
		{"too long", "silence-" + strings.Repeat("x", 3000), "", "at most 200 bytes"},
		{"not ASCII", "silence-été", "", "printable ASCII"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newSilenceEnv(t)
			sl := testSilence(t, e.Now(), time.Hour)
			sl.ID = tt.id
			e.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: tt.workflowID})
			e.ExecuteWorkflow(SilenceWorkflow, sl)
			err := e.GetWorkflowError()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("workflow error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// A worker's list of silences may be seconds old: a silence expired early
// a moment ago is still in it. Before letting a silence hold a
// notification back, the routing reads it afresh, so the alert is heard,
// as the silence's own record (and the replay) says.
func TestASilenceExpiredSinceTheListWasReadHoldsNothing(t *testing.T) {
	e, set := newSilencedEnv(t)
	start := e.Now()
	set.add(t, "silence-e", `{"ref":"master"}`, start, start.Add(time.Hour))
	rechecked := 0
	activities.RecheckWith(e.sinks, func(_ context.Context, id string) (silence.Active, bool, error) {
		set.mu.Lock()
		defer set.mu.Unlock()
		rechecked++
		sl := set.set[0].Silence
		sl.ExpiredAt, sl.ExpiredBy = start.Add(time.Second), "alice"
		a, err := silence.Activate(sl)
		return a, err == nil, err
	})
	e.signalAt(time.Minute, pipelineEvent(31, "failed"))
	e.signalAt(30*time.Minute, pipelineEvent(32, "success"))
	e.ExecuteWorkflow(AlertWorkflow, silencedInput(0))
	e.result(t)
	// Held back, the alert would have resolved unheard and sent nothing.
	e.expect(t, map[string][]notify.Kind{
		"pager": {notify.KindOpened, notify.KindResolved},
		"chat":  {notify.KindOpened, notify.KindResolved},
	})
	if rechecked == 0 {
		t.Fatal("the listed silence was never read afresh")
	}
}
