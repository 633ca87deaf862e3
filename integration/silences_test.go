package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/webhook"
	"github.com/alertflow/alertflow/notify/webhook/contract"
	"github.com/alertflow/alertflow/silence"
	"github.com/alertflow/alertflow/workflows"
)

// newSilenceStack is a stack whose webhook is a receiver that records what
// it accepts, with reminders every interval (zero: none).
func newSilenceStack(t *testing.T, reminders time.Duration) (*stack, *scriptedReceiver) {
	t.Helper()
	const secret = "silence-secret"
	rc, receiver := newScriptedReceiver(t, secret)
	s := newStackConfig(t, webhook.New(receiver.URL+rc.path, secret, notify.DefaultHTTPClient()),
		workflows.Input{ReminderInterval: reminders})
	return s, rc
}

func (s *stack) createSilence(body any) ingress.SilenceAnswer {
	s.t.Helper()
	code, out := s.apiCall(http.MethodPost, "/api/v1/silences", body)
	var a ingress.SilenceAnswer
	if err := json.Unmarshal(out, &a); code != http.StatusCreated || err != nil || !strings.HasPrefix(a.ID, silence.IDPrefix) {
		s.t.Fatalf("create silence: %d %s", code, out)
	}
	return a
}

// handedOver are the notifications about alert id that a silence's end
// handed over (their note says so).
func handedOver(ps []contract.Payload, id, note string) []string {
	var kinds []string
	for _, p := range ps {
		if p.Alert.ID == id && strings.Contains(p.Note, note) {
			kinds = append(kinds, string(p.Kind))
		}
	}
	return kinds
}

func accepted(rc *scriptedReceiver) []contract.Payload {
	_, _, _, _, payloads, _ := rc.snapshot()
	return payloads
}

func TestASilenceOverRESTHoldsAlertsBackAndItsExpiryHandsEachOpenOneOverOnce(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s, rc := newSilenceStack(t, 2*time.Second)
	const heard, quiet, gone = "1961-master", "1962-master", "1963-master"

	// An alert people heard of, before any silence.
	s.mustSignal(payload(t, 1961, "master", 19610, "failed"))
	rc.waitReceiver(t, "the opening of "+heard, func(_, _ int, ps []contract.Payload) bool {
		return slices.Contains(forAlert(ps, heard), "opened")
	})

	for _, bad := range []struct{ body, want string }{
		{`{"matchers":{},"duration":"1h","created_by":"alice"}`, "at least one matcher"},
		{`{"matchers":{"project":"team-a/[x"},"duration":"1h","created_by":"alice"}`, "matchers.project: bad glob"},
		{`{"matchers":{"ref":"main"},"duration":"1h","ends_at":"2030-01-01T00:00:00Z","created_by":"alice"}`, "not both"},
		{`{"matchers":{"ref":"main"},"duration":"1h"}`, `"created_by" is required`},
		{`{"matchers":{"ref":"main"},"duration":"1h","created_by":"alice","until":"x"}`, `unknown field "until"`},
	} {
		code, body := s.apiCall(http.MethodPost, "/api/v1/silences", json.RawMessage(bad.body))
		var answer ingress.ErrorAnswer
		if err := json.Unmarshal(body, &answer); code != http.StatusBadRequest || err != nil || !strings.Contains(answer.Error, bad.want) {
			t.Errorf("create %s: %d %s, want 400 saying %q", bad.body, code, body, bad.want)
		}
	}

	sl := s.createSilence(map[string]any{
		"matchers": map[string]any{"project_id": []int{1961, 1962, 1963}, "ref": "master"},
		"duration": "1h", "created_by": "alice", "comment": "migrating runners",
	})
	if sl.State != silence.StateActive || sl.CreatedBy != "alice" || !sl.EndsAt.Equal(sl.StartsAt.Add(time.Hour)) {
		t.Fatalf("created %+v", sl)
	}

	// The open alert's reminders stop: they are suppressed, not sent.
	s.waitState(heard, func(st *alert.State) error {
		if st.Silenced == nil || st.Silenced.ID != sl.ID || st.Silenced.Suppressed < 2 || st.Silenced.Unheard {
			return fmt.Errorf("silenced %+v", st.Silenced)
		}
		return nil
	})
	sentBefore := len(forAlert(accepted(rc), heard))
	// A silenced failure opens, quietly.
	s.mustSignal(payload(t, 1962, "master", 19620, "failed"))
	// One that resolves during the silence sends nothing, ever.
	s.mustSignal(payload(t, 1963, "master", 19630, "failed"))
	s.waitState(gone, func(st *alert.State) error {
		if st.Silenced == nil || st.Status != alert.StatusOpen {
			return fmt.Errorf("%s, silenced %+v", st.Status, st.Silenced)
		}
		return nil
	})
	s.mustSignal(payload(t, 1963, "master", 19631, "success"))
	s.waitClosed(gone)
	s.waitState(quiet, func(st *alert.State) error {
		if st.Status != alert.StatusOpen || st.Silenced == nil || !st.Silenced.Unheard {
			return fmt.Errorf("%s, silenced %+v", st.Status, st.Silenced)
		}
		return nil
	})

	// The silenced alerts carry the marker the Web UI filters on.
	err := poll(context.Background(), settleWithin, func() error {
		resp, err := s.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: workflows.AttrSilencedBy.GetName() + " = '" + sl.ID + "' AND ExecutionStatus = 'Running'",
		})
		if err != nil {
			return err
		}
		var ids []string
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []string{heard, quiet}) {
			return fmt.Errorf("silenced alerts listed: %v", ids)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	code, body := s.apiCall(http.MethodGet, "/api/v1/silences", nil)
	var list ingress.SilenceList
	if err := json.Unmarshal(body, &list); code != http.StatusOK || err != nil ||
		!slices.ContainsFunc(list.Silences, func(a ingress.SilenceAnswer) bool { return a.ID == sl.ID && a.State == silence.StateActive }) {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, body := s.apiCall(http.MethodGet, "/api/v1/silences/"+sl.ID, nil); code != http.StatusOK || !strings.Contains(string(body), "migrating runners") {
		t.Fatalf("show: %d %s", code, body)
	}
	if code, body := s.apiCall(http.MethodGet, "/api/v1/silences/silence-nope", nil); code != http.StatusNotFound {
		t.Fatalf("show an unknown silence: %d %s, want 404", code, body)
	}
	if got := forAlert(accepted(rc), quiet); len(got) != 0 {
		t.Fatalf("the silenced failure was sent %v", got)
	}
	if got := len(forAlert(accepted(rc), heard)); got != sentBefore {
		t.Fatalf("%s got %d notifications during its silence", heard, got-sentBefore)
	}

	// Expiring it early hands each open alert over once, at once.
	code, body = s.apiCall(http.MethodDelete, "/api/v1/silences/"+sl.ID+"?by=bob", nil)
	var expired ingress.SilenceAnswer
	if err := json.Unmarshal(body, &expired); code != http.StatusOK || err != nil || expired.State != silence.StateExpired || expired.ExpiredBy != "bob" {
		t.Fatalf("expire: %d %s", code, body)
	}
	// Each alert hears of it once, whichever comes first: the silence's
	// release (a notification noting the expiry) or a reminder routed
	// after the worker's list dropped the silence (the reminder itself,
	// which ends the silence on the alert, so the release finds nothing).
	note := "silence " + sl.ID + " was expired"
	rc.waitReceiver(t, "the handovers", func(_, _ int, ps []contract.Payload) bool {
		return len(forAlert(ps, heard)) > sentBefore && len(forAlert(ps, quiet)) > 0
	})
	// The silence's second release, a few seconds later, must not hand
	// over again: wait for it to finish.
	if err := s.client.GetWorkflow(context.Background(), sl.ID, "").Get(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	ps := accepted(rc)
	if got := forAlert(ps, quiet); got[0] != "opened" || slices.Index(got[1:], "opened") >= 0 || len(handedOver(ps, quiet, note)) > 1 {
		t.Errorf("%s heard %v after the silence (%d noting the expiry), want one opened first", quiet, got, len(handedOver(ps, quiet, note)))
	}
	if got := forAlert(ps, heard)[sentBefore:]; got[0] != "reminder" || len(handedOver(ps, heard, note)) > 1 {
		t.Errorf("%s heard %v after the silence (%d noting the expiry), want a reminder first", heard, got, len(handedOver(ps, heard, note)))
	}
	if got := forAlert(ps, gone); len(got) != 0 {
		t.Errorf("%s, resolved during the silence, was sent %v", gone, got)
	}
	if code, body := s.apiCall(http.MethodDelete, "/api/v1/silences/"+sl.ID, nil); code != http.StatusOK || !strings.Contains(string(body), `"state":"expired"`) {
		t.Errorf("expiring it again: %d %s, want 200 and expired", code, body)
	}

	s.mustSignal(payload(t, 1961, "master", 19611, "success"))
	s.mustSignal(payload(t, 1962, "master", 19621, "success"))
	s.waitClosed(heard)
	s.waitClosed(quiet)
	recordHistory(t, "silenced-while-open-then-expired", heard)
	recordHistory(t, "silenced-from-the-start-then-expired", quiet)
	recordHistory(t, "silenced-resolved-unheard", gone)
	recordHistory(t, "silence-expired-early", sl.ID)
}

func TestASilenceThatRunsOutHandsItsAlertOver(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s, rc := newSilenceStack(t, 0)
	const id = "1964-master"
	sl := s.createSilence(map[string]any{"matchers": map[string]any{"project_id": []int{1964, 1967}}, "duration": "10s", "created_by": "alice"})
	s.waitSilenceRead(t, 1967, "acme/canary", sl.ID)
	s.mustSignal(payload(t, 1964, "master", 19640, "failed"))
	rc.waitReceiver(t, "the handover", func(_, _ int, ps []contract.Payload) bool {
		return len(forAlert(ps, id)) > 0
	})
	st, err := s.state(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got := forAlert(accepted(rc), id); !slices.Equal(got, []string{"opened"}) {
		t.Fatalf("%s got %v, want [opened] once the silence ran out", id, got)
	}
	var suppressed, ended bool
	for _, e := range st.Timeline {
		suppressed = suppressed || e.Kind == alert.OutcomeSuppressed && strings.Contains(e.Note, sl.ID)
		ended = ended || e.Kind == alert.OutcomeSilenceEnded
	}
	if !suppressed || !ended {
		t.Fatalf("timeline %+v: want the opening suppressed, then the silence's end", st.Timeline)
	}
}

func TestASilenceStartedWithTheTemporalCLIIsListed(t *testing.T) {
	t.Parallel() // own task queue
	s := newStack(t)
	start := time.Now().UTC()
	input := fmt.Sprintf(`{"id":"silence-cli-%d","matchers":{"project":"cli-team/*"},"starts_at":%q,"ends_at":%q,"created_by":"carol"}`,
		start.UnixNano(), start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339))
	id := fmt.Sprintf("silence-cli-%d", start.UnixNano())
	temporalCLI(t, "workflow", "start", "--type", workflows.SilenceWorkflowType, "--task-queue", s.taskQueue,
		"--workflow-id", id, "--input", input)
	err := poll(context.Background(), settleWithin, func() error {
		code, body := s.apiCall(http.MethodGet, "/api/v1/silences/"+id, nil)
		if code != http.StatusOK || !strings.Contains(string(body), `"state":"active"`) {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	temporalCLI(t, "workflow", "signal", "--workflow-id", id, "--name", workflows.SignalExpire, "--input", `{"by":"carol"}`)
	if err := s.client.GetWorkflow(context.Background(), id, "").Get(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	code, body := s.apiCall(http.MethodGet, "/api/v1/silences/"+id, nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"state":"expired"`) || !strings.Contains(string(body), `"expired_by":"carol"`) {
		t.Fatalf("after the CLI expired it: %d %s", code, body)
	}
	// Its input had no created_at: it was created when it started.
	var a ingress.SilenceAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.CreatedAt.Before(start.Add(-time.Minute)) || a.CreatedAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("created_at of a silence started with the CLI: %v (%v), want its start time", a.CreatedAt, err)
	}
}

// A worker that is down when a silence ends runs the fired timer and the
// success that came after it in one task. People must still hear the
// alert open before it resolves: "opened", "resolved", as the replay says,
// never a lone "resolved" of an alert nobody heard open.
func TestASuccessWhileTheWorkerWasDownAtTheSilencesEndFollowsTheHandover(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s, rc := newSilenceStack(t, 0)
	const id = "1965-master"
	sl := s.createSilence(map[string]any{"matchers": map[string]any{"project_id": []int{1965, 1966}}, "duration": "15s", "created_by": "alice"})
	s.waitSilenceRead(t, 1966, "acme/canary", sl.ID)
	s.mustSignal(payload(t, 1965, "master", 19650, "failed"))
	st := s.waitState(id, func(st *alert.State) error {
		if st.Silenced == nil {
			return fmt.Errorf("not silenced yet: %s", st.Status)
		}
		return nil
	})
	s.stopWorker()
	// A newer pipeline starts, and the silence's end passes, while no
	// worker runs.
	s.mustSignal(payload(t, 1965, "master", 19651, "running"))
	if err := poll(context.Background(), time.Minute, func() error {
		if time.Now().Before(st.Silenced.Until.Add(time.Second)) {
			return fmt.Errorf("the silence ends at %s", st.Silenced.Until)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.mustSignal(payload(t, 1965, "master", 19651, "success"))
	s.startWorker()
	rc.waitReceiver(t, "the resolve", func(_, _ int, ps []contract.Payload) bool {
		return slices.Contains(forAlert(ps, id), "resolved")
	})
	if got := forAlert(accepted(rc), id); !slices.Equal(got, []string{"opened", "resolved"}) {
		t.Fatalf("%s got %v, want [opened resolved]: the silence's end hands over before the success resolves", id, got)
	}
}

func TestABadOrUnknownSilenceIDIsAnswered400Or404NeverUnavailable(t *testing.T) {
	t.Parallel() // no alerts
	s, _ := newSilenceStack(t, 0)
	for _, c := range []struct {
		id   string
		code int
	}{
		// The docs' placeholder, pasted as it is: Temporal cannot look
		// such an ID up.
		{"silence-6f1c…", http.StatusBadRequest},
		{"silence-" + uuid.NewString(), http.StatusNotFound},
		{"silence-" + strings.Repeat("a", 3000), http.StatusBadRequest},
		{"silence-a%20b", http.StatusBadRequest},
		{"silence-a%00b", http.StatusBadRequest},
		{"1961-master", http.StatusBadRequest},
	} {
		for _, method := range []string{http.MethodGet, http.MethodDelete} {
			code, body := s.apiCall(method, "/api/v1/silences/"+c.id, nil)
			var answer ingress.ErrorAnswer
			if err := json.Unmarshal(body, &answer); code != c.code || err != nil || answer.Error == "" {
				t.Errorf("%s %.40s: %d %s, want %d with a JSON error", method, c.id, code, body, c.code)
			}
		}
	}
}
