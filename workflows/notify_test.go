package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
)

// These tests run the real notification activities (activities.Sinks) in
// the SDK's test environment, with recording receivers behind the webhook
// and Slack sinks and a recording slog handler behind the log sink, so that
// what each sink delivered can be compared, retries included.

// sinkRecorder is an notify.Notifier that records what it is sent. It
// fails its first failFirst attempts with a retryable error, and every
// attempt with a permanent one when refuse is set.
type sinkRecorder struct {
	failFirst int
	refuse    bool

	mu        sync.Mutex
	attempts  []notify.Notification
	delivered []notify.Notification
}

func (r *sinkRecorder) Notify(_ context.Context, n notify.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, n)
	switch {
	case r.refuse:
		return notify.Permanent(errors.New("receiver answered HTTP 400 Bad Request"))
	case len(r.attempts) <= r.failFirst:
		return errors.New("receiver answered HTTP 503 Service Unavailable")
	}
	r.delivered = append(r.delivered, n)
	return nil
}

// sent returns the notifications delivered successfully, in order.
func (r *sinkRecorder) sent() []notify.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Notification(nil), r.delivered...)
}

// tried returns every attempt, failed ones included, in order.
func (r *sinkRecorder) tried() []notify.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Notification(nil), r.attempts...)
}

// logRecorder is a slog.Handler that keeps what the log sink (NotifyLog)
// wrote: one Info record per notification, carrying its id and kind. The
// records of the other sinks' deliveries carry a "sink" attribute and are
// left out.
type logRecorder struct {
	mu     sync.Mutex
	logged []notify.Notification
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }

func (h *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	if rec.Level != slog.LevelInfo {
		return nil
	}
	n := notify.Notification{Title: rec.Message}
	other := false
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "notification_id":
			n.ID = a.Value.String()
		case "kind":
			n.Kind = notify.Kind(a.Value.String())
		case "actor":
			n.Actor = a.Value.String()
		case "note":
			n.Note = a.Value.String()
		case "sink":
			other = true
		}
		return true
	})
	if n.ID == "" || other {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logged = append(h.logged, n)
	return nil
}

func (h *logRecorder) sent() []notify.Notification {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.Notification(nil), h.logged...)
}

// notifyEnv runs AlertWorkflow with the real Sinks activities in front of
// the recorders.
type notifyEnv struct {
	*testsuite.TestWorkflowEnvironment
	log            *logRecorder
	webhook, slack *sinkRecorder
}

// newNotifyEnv returns the environment. Nil recorders are healthy ones.
func newNotifyEnv(t *testing.T, webhook, slack *sinkRecorder) *notifyEnv {
	t.Helper()
	if webhook == nil {
		webhook = &sinkRecorder{}
	}
	if slack == nil {
		slack = &sinkRecorder{}
	}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	e := &notifyEnv{TestWorkflowEnvironment: s.NewTestWorkflowEnvironment(), log: &logRecorder{}, webhook: webhook, slack: slack}
	e.RegisterWorkflow(AlertWorkflow)
	e.RegisterActivity(activities.NewSinks(slog.New(e.log), webhook, slack))
	recallNothing(e.TestWorkflowEnvironment)
	return e
}

// eventAt sends one pipeline event at an offset from the start, in a
// workflow task of its own.
func (e *notifyEnv) eventAt(after time.Duration, ev alert.Event) {
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(SignalPipeline, ev) }, after)
}

// burstAt sends pipeline events at an offset from the start so that the
// workflow receives all of them in one workflow task, as it does when
// signals arrive while it is busy.
func (e *notifyEnv) burstAt(after time.Duration, evs ...alert.Event) {
	e.RegisterDelayedCallback(func() {
		for _, ev := range evs[:len(evs)-1] {
			e.SignalWorkflowSkippingWorkflowTask(SignalPipeline, ev)
		}
		e.SignalWorkflow(SignalPipeline, evs[len(evs)-1])
	}, after)
}

// actionAt sends acknowledge or resolve as a signal.
func (e *notifyEnv) actionAt(after time.Duration, name string, arg any) {
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(name, arg) }, after)
}

// updateActionAt sends acknowledge or resolve as an update, which must be
// accepted and succeed.
func (e *notifyEnv) updateActionAt(t *testing.T, after time.Duration, name string, arg any) {
	e.RegisterDelayedCallback(func() {
		e.UpdateWorkflow(name, name+after.String(), &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { t.Errorf("%s update rejected: %v", name, err) },
			OnComplete: func(_ any, err error) {
				if err != nil {
					t.Errorf("%s update failed: %v", name, err)
				}
			},
		}, arg)
	}, after)
}

// queryAt queries the state at an offset from the start and hands it to
// check; it reports in *ran whether it ran.
func (e *notifyEnv) queryAt(t *testing.T, after time.Duration, ran *bool, check func(s *alert.State)) {
	e.RegisterDelayedCallback(func() {
		*ran = true
		v, err := e.QueryWorkflow(QueryState)
		if err != nil {
			t.Errorf("query state: %v", err)
			return
		}
		var s alert.State
		if err := v.Get(&s); err != nil {
			t.Errorf("decode state: %v", err)
			return
		}
		check(&s)
	}, after)
}

// resolvedState checks the run completed and returns its final state.
func (e *notifyEnv) resolvedState(t *testing.T) *alert.State {
	t.Helper()
	if !e.IsWorkflowCompleted() {
		t.Fatal("the workflow did not complete")
	}
	if err := e.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	var s alert.State
	if err := e.GetWorkflowResult(&s); err != nil {
		t.Fatalf("workflow result: %v", err)
	}
	if s.Status != alert.StatusResolved {
		t.Fatalf("final status %s, want resolved", s.Status)
	}
	return &s
}

// expected describes one notification a sink must receive. An empty
// previous or severity is not checked.
type expected struct {
	kind     notify.Kind
	actor    string
	note     string
	previous alert.Severity
	severity alert.Severity
}

// checkEverySinkGot checks that the log, the webhook and Slack each got
// exactly the expected notifications, in order and once each, with the same
// IDs on every sink and a different ID for every transition. It returns what
// the webhook got.
func checkEverySinkGot(t *testing.T, e *notifyEnv, want []expected) []notify.Notification {
	t.Helper()
	webhook := e.webhook.sent()
	sinks := []struct {
		name string
		got  []notify.Notification
		full bool // the log sink shows only some fields
	}{
		{activities.SinkLog, e.log.sent(), false},
		{activities.SinkWebhook, webhook, true},
		{activities.SinkSlack, e.slack.sent(), true},
	}
	for _, sink := range sinks {
		if len(sink.got) != len(want) {
			t.Fatalf("%s got %v, want %v", sink.name, kindsOfSent(sink.got), kindsOfWanted(want))
		}
		for i, w := range want {
			n := sink.got[i]
			if n.Kind != w.kind || n.Actor != w.actor || n.Note != w.note {
				t.Errorf("%s notification %d: %s by %q (%q), want %s by %q (%q)", sink.name, i, n.Kind, n.Actor, n.Note, w.kind, w.actor, w.note)
			}
			if n.ID != webhook[i].ID {
				t.Errorf("%s notification %d (%s) has id %s, the webhook got %s", sink.name, i, n.Kind, n.ID, webhook[i].ID)
			}
			if !sink.full {
				continue
			}
			if n.PreviousSeverity != w.previous {
				t.Errorf("%s notification %d (%s): previous severity %q, want %q", sink.name, i, n.Kind, n.PreviousSeverity, w.previous)
			}
			if w.severity != "" && n.Alert.Severity != w.severity {
				t.Errorf("%s notification %d (%s): severity %s, want %s", sink.name, i, n.Kind, n.Alert.Severity, w.severity)
			}
		}
	}
	seen := map[string]notify.Kind{}
	for _, n := range webhook {
		if k, dup := seen[n.ID]; dup {
			t.Errorf("%s and %s share the notification id %s", k, n.Kind, n.ID)
		}
		seen[n.ID] = n.Kind
	}
	return webhook
}

func kindsOfSent(ns []notify.Notification) []notify.Kind {
	kinds := make([]notify.Kind, len(ns))
	for i, n := range ns {
		kinds[i] = n.Kind
	}
	return kinds
}

func kindsOfWanted(ws []expected) []notify.Kind {
	kinds := make([]notify.Kind, len(ws))
	for i, w := range ws {
		kinds[i] = w.kind
	}
	return kinds
}

func TestEverySinkGetsExactlyOneNotificationPerTransition(t *testing.T) {
	tests := []struct {
		name  string
		in    Input
		steps func(t *testing.T, e *notifyEnv)
		want  []expected
	}{
		{
			name: "pipelines open the alert, raise its severity twice, a reminder fires, it is acknowledged and a green pipeline resolves it",
			in:   Input{ReminderInterval: 4 * time.Hour},
			steps: func(t *testing.T, e *notifyEnv) {
				e.eventAt(time.Second, pipelineEvent(31, "skipped"))
				e.eventAt(time.Minute, pipelineEvent(32, "canceled"))
				e.eventAt(2*time.Minute, pipelineEvent(33, "failed"))
				// The reminder is due at 4h+1s.
				e.actionAt(5*time.Hour, SignalAcknowledge, alert.Acknowledgement{By: "bob", Note: "on it"})
				e.eventAt(6*time.Hour, pipelineEvent(34, "success"))
			},
			want: []expected{
				{kind: notify.KindOpened, actor: "alice", severity: alert.SeverityLow},
				{kind: notify.KindSeverityChanged, actor: "alice", previous: alert.SeverityLow, severity: alert.SeverityMedium},
				{kind: notify.KindSeverityChanged, actor: "alice", previous: alert.SeverityMedium, severity: alert.SeverityHigh},
				{kind: notify.KindReminder, severity: alert.SeverityHigh},
				{kind: notify.KindAcknowledged, actor: "bob", note: "on it", severity: alert.SeverityHigh},
				{kind: notify.KindResolved, actor: "alice", severity: alert.SeverityHigh},
			},
		},
		{
			name: "a resolve signal names who resolved the alert and why",
			steps: func(t *testing.T, e *notifyEnv) {
				e.eventAt(time.Second, pipelineEvent(31, "canceled"))
				e.actionAt(time.Hour, SignalResolve, alert.Resolution{By: "carol", Reason: "flaky runner"})
			},
			want: []expected{
				{kind: notify.KindOpened, actor: "alice", severity: alert.SeverityMedium},
				{kind: notify.KindResolved, actor: "carol", note: "flaky runner", severity: alert.SeverityMedium},
			},
		},
		{
			name: "acknowledge and resolve updates name who acted and what they said",
			steps: func(t *testing.T, e *notifyEnv) {
				e.eventAt(time.Second, pipelineEvent(31, "skipped"))
				e.updateActionAt(t, time.Minute, UpdateAcknowledge, alert.Acknowledgement{By: "dave", Note: "looking"})
				e.updateActionAt(t, time.Hour, UpdateResolve, alert.Resolution{By: "erin", Reason: "fixed upstream"})
			},
			want: []expected{
				{kind: notify.KindOpened, actor: "alice", severity: alert.SeverityLow},
				{kind: notify.KindAcknowledged, actor: "dave", note: "looking", severity: alert.SeverityLow},
				{kind: notify.KindResolved, actor: "erin", note: "fixed upstream", severity: alert.SeverityLow},
			},
		},
	}
	for _, tt := range tests {
		for _, rev := range []Revision{RevisionFirst, CurrentRevision} {
			t.Run(fmt.Sprintf("%s (revision %d)", tt.name, rev), func(t *testing.T) {
				e := newNotifyEnv(t, nil, nil)
				tt.steps(t, e)
				in := tt.in
				in.Revision = rev
				e.ExecuteWorkflow(AlertWorkflow, in)
				s := e.resolvedState(t)
				got := checkEverySinkGot(t, e, tt.want)
				// Each notification shows the alert as the transition left it.
				last := got[len(got)-1].Alert
				if last.Status != alert.StatusResolved || last.ResolvedBy != s.ResolvedBy || last.Resolution != s.Resolution {
					t.Errorf("the resolved notification shows %s by %q (%q), the alert ended %s by %q (%q)",
						last.Status, last.ResolvedBy, last.Resolution, s.Status, s.ResolvedBy, s.Resolution)
				}
				// (The view has no dedup keys to carry.)
				if len(last.Timeline) != 0 {
					t.Errorf("the notification carries %d timeline entries, want none", len(last.Timeline))
				}
			})
		}
	}
}

func TestStaleAndDuplicateEventsNotifyNobody(t *testing.T) {
	withKey := func(ev alert.Event, key string) alert.Event {
		ev.IdempotencyKey = key
		return ev
	}
	tests := []struct {
		name  string
		extra []alert.Event // sent one by one after the opening failure of pipeline 32
		want  alert.Counts
	}{
		{
			name:  "a failure of an older pipeline",
			extra: []alert.Event{pipelineEvent(31, "failed")},
			want:  alert.Counts{Events: 3, Applied: 2, Stale: 1},
		},
		{
			name:  "a cancel of an older pipeline, which would lower the severity",
			extra: []alert.Event{pipelineEvent(31, "canceled")},
			want:  alert.Counts{Events: 3, Applied: 2, Stale: 1},
		},
		{
			name:  "a success of an older pipeline, which would resolve the alert",
			extra: []alert.Event{pipelineEvent(31, "success")},
			want:  alert.Counts{Events: 3, Applied: 2, Stale: 1},
		},
		{
			name:  "the opening delivery sent again, twice",
			extra: []alert.Event{withKey(pipelineEvent(32, "failed"), "gitlab-1"), withKey(pipelineEvent(32, "failed"), "gitlab-1")},
			want:  alert.Counts{Events: 4, Applied: 2, Duplicates: 2},
		},
		{
			name:  "a cancel resent under the opening delivery's idempotency key",
			extra: []alert.Event{withKey(pipelineEvent(33, "canceled"), "gitlab-1")},
			want:  alert.Counts{Events: 3, Applied: 2, Duplicates: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newNotifyEnv(t, nil, nil)
			e.eventAt(time.Second, withKey(pipelineEvent(32, "failed"), "gitlab-1"))
			for i, ev := range tt.extra {
				e.eventAt(time.Duration(i+1)*time.Minute, ev)
			}
			e.eventAt(time.Hour, pipelineEvent(40, "success"))
			e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
			s := e.resolvedState(t)
			if s.Counts != tt.want {
				t.Fatalf("counts %+v, want %+v", s.Counts, tt.want)
			}
			checkEverySinkGot(t, e, []expected{
				{kind: notify.KindOpened, actor: "alice", severity: alert.SeverityHigh},
				{kind: notify.KindResolved, actor: "alice", severity: alert.SeverityHigh},
			})
		})
	}
}

// The first rules let severity go both ways, which makes every merge of a
// burst reachable; the merging itself is the same in every revision.
func TestABurstOfSeverityChangesInOneWorkflowTaskNotifiesOnceFromWhereItStarted(t *testing.T) {
	tests := []struct {
		name   string
		opener string   // status of pipeline 31, which opens the alert
		burst  []string // statuses of pipelines 32, 33, … delivered together
		want   []expected
	}{
		{
			name:   "HIGH to MEDIUM to LOW is one change from HIGH to LOW",
			opener: "failed",
			burst:  []string{"canceled", "skipped"},
			want: []expected{
				{kind: notify.KindOpened, actor: "alice", severity: alert.SeverityHigh},
				{kind: notify.KindSeverityChanged, actor: "alice", previous: alert.SeverityHigh, severity: alert.SeverityLow},
				{kind: notify.KindResolved, actor: "alice", severity: alert.SeverityLow},
			},
		},
		{
			name:   "LOW to MEDIUM to HIGH is one change from LOW to HIGH",
			opener: "skipped",
			burst:  []string{"canceled", "failed"},
			want: []expected{
				{kind: notify.KindOpened, actor: "alice", severity: alert.SeverityLow},
				{kind: notify.KindSeverityChanged, actor: "alice", previous: alert.SeverityLow, severity: alert.SeverityHigh},
				{kind: notify.KindResolved, actor: "alice", severity: alert.SeverityHigh},
			},
		},
		{
			name:   "HIGH to LOW and back to HIGH is no change at all",
			opener: "failed",
			burst:  []string{"skipped", "failed"},
			want: []expected{
				{kind: notify.KindOpened, actor: "alice", severity: alert.SeverityHigh},
				{kind: notify.KindResolved, actor: "alice", severity: alert.SeverityHigh},
			},
		},
		{
			name:   "MEDIUM to HIGH to LOW to MEDIUM is no change at all",
			opener: "canceled",
			burst:  []string{"failed", "skipped", "canceled"},
			want: []expected{
				{kind: notify.KindOpened, actor: "alice", severity: alert.SeverityMedium},
				{kind: notify.KindResolved, actor: "alice", severity: alert.SeverityMedium},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newNotifyEnv(t, nil, nil)
			e.eventAt(time.Second, pipelineEvent(31, tt.opener))
			var burst []alert.Event
			for i, status := range tt.burst {
				burst = append(burst, pipelineEvent(int64(32+i), status))
			}
			e.burstAt(time.Minute, burst...)
			ran := false
			e.queryAt(t, 2*time.Minute, &ran, func(s *alert.State) {
				// Every event of the burst was applied and is in the timeline.
				if s.Counts.Applied != 1+len(tt.burst) || len(s.Timeline) != 1+len(tt.burst) {
					t.Errorf("after the burst: counts %+v, %d timeline entries", s.Counts, len(s.Timeline))
				}
			})
			e.eventAt(time.Hour, pipelineEvent(50, "success"))
			e.ExecuteWorkflow(AlertWorkflow, Input{Revision: RevisionLean})
			e.resolvedState(t)
			if !ran {
				t.Fatal("the state was never queried after the burst")
			}
			checkEverySinkGot(t, e, tt.want)
		})
	}
}

func TestASinkFailingForAWhileDelaysNothingElseAndDeliversOnceItRecovers(t *testing.T) {
	// The webhook answers its first five attempts with a retryable error.
	// With retries 1 s, 2 s, 4 s … after each failure, the opened
	// notification fails at 1 s, 2 s and 4 s, the severity change at 3 s and
	// 4 s; both are delivered at their next attempt, at 6 s and 8 s.
	const failures = 5
	webhook := &sinkRecorder{failFirst: failures}
	e := newNotifyEnv(t, webhook, nil)
	e.eventAt(time.Second, pipelineEvent(31, "canceled"))
	e.eventAt(3*time.Second, pipelineEvent(32, "failed"))
	ran := false
	e.queryAt(t, 5*time.Second, &ran, func(s *alert.State) {
		if n := len(webhook.sent()); n != 0 {
			t.Errorf("the webhook had recovered before the check (%d delivered): the test proves nothing", n)
		}
		if n := len(webhook.tried()); n < 3 {
			t.Errorf("the webhook was tried %d times by now, want at least 3", n)
		}
		// The failing webhook holds back neither the event that came
		// after the first failure nor the other sinks.
		if s.Severity != alert.SeverityHigh || s.Pipeline.ID != 32 || s.Counts.Applied != 2 {
			t.Errorf("while the webhook fails: severity %s, pipeline %d, counts %+v", s.Severity, s.Pipeline.ID, s.Counts)
		}
		want := []notify.Kind{notify.KindOpened, notify.KindSeverityChanged}
		if got := kindsOfSent(e.slack.sent()); !equalKinds(got, want) {
			t.Errorf("while the webhook fails, Slack got %v, want %v", got, want)
		}
		if got := kindsOfSent(e.log.sent()); !equalKinds(got, want) {
			t.Errorf("while the webhook fails, the log got %v, want %v", got, want)
		}
	})
	e.eventAt(time.Hour, pipelineEvent(33, "success"))
	e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
	e.resolvedState(t)
	if !ran {
		t.Fatal("the state was never queried while the webhook was failing")
	}

	// Retries interleave, so the webhook's order may differ from Slack's;
	// what matters is that it got every notification, once.
	want := map[string]notify.Kind{}
	for _, n := range e.slack.sent() {
		want[n.ID] = n.Kind
	}
	if len(want) != 3 {
		t.Fatalf("Slack got %v, want opened, severity_changed and resolved with distinct ids", kindsOfSent(e.slack.sent()))
	}
	delivered := map[string]int{}
	for _, n := range webhook.sent() {
		delivered[n.ID]++
		if want[n.ID] != n.Kind {
			t.Errorf("the webhook got %s %s, which Slack did not get", n.Kind, n.ID)
		}
	}
	for id, kind := range want {
		if delivered[id] != 1 {
			t.Errorf("the webhook got %s %s delivered %d times, want once", kind, id, delivered[id])
		}
	}
	if tried, sent := len(webhook.tried()), len(webhook.sent()); tried-sent != failures {
		t.Errorf("the webhook was tried %d times for %d deliveries, want %d failed attempts", tried, sent, failures)
	}
}

func TestAPermanentlyRefusingSinkIsTriedOnceAndTheAlertStillResolves(t *testing.T) {
	tests := []struct {
		name    string
		refuses string
	}{
		{"the webhook refuses", activities.SinkWebhook},
		{"Slack refuses", activities.SinkSlack},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refusing, healthy := &sinkRecorder{refuse: true}, &sinkRecorder{}
			webhook, slack := refusing, healthy
			if tt.refuses == activities.SinkSlack {
				webhook, slack = healthy, refusing
			}
			e := newNotifyEnv(t, webhook, slack)
			e.eventAt(time.Second, pipelineEvent(31, "failed"))
			e.eventAt(time.Hour, pipelineEvent(32, "success"))
			e.ExecuteWorkflow(AlertWorkflow, Input{Revision: CurrentRevision})
			e.resolvedState(t)

			want := []notify.Kind{notify.KindOpened, notify.KindResolved}
			if got := kindsOfSent(healthy.sent()); !equalKinds(got, want) {
				t.Errorf("the healthy sink got %v, want %v", got, want)
			}
			if got := kindsOfSent(e.log.sent()); !equalKinds(got, want) {
				t.Errorf("the log got %v, want %v", got, want)
			}
			tried := refusing.tried()
			if got := kindsOfSent(tried); !equalKinds(got, want) {
				t.Fatalf("the refusing sink was tried with %v, want each of %v once", got, want)
			}
			for i, n := range tried {
				if n.ID != healthy.sent()[i].ID {
					t.Errorf("the refusing sink was tried with %s %s, the healthy one got %s", n.Kind, n.ID, healthy.sent()[i].ID)
				}
			}
			if got := refusing.sent(); len(got) != 0 {
				t.Errorf("the refusing sink accepted %v", kindsOfSent(got))
			}
		})
	}
}
