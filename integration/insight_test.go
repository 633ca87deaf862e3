package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/notify/webhook/contract"
	"github.com/alertflow/alertflow/visibility"
	"github.com/alertflow/alertflow/workflows"
)

// build is one job of a payload's builds: its name, status and failure
// reason ("" for none).
type build struct{ name, status, reason string }

// changePayload is the real payload of a pipeline on main of project,
// run on the commit sha by author, with builds as its jobs (nil keeps
// the payload's own).
func changePayload(t *testing.T, project, pipeline int64, status, sha, title, author string, builds []build) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload(t, project, "main", pipeline, status), &m); err != nil {
		t.Fatal(err)
	}
	m["object_attributes"].(map[string]any)["sha"] = sha
	c := m["commit"].(map[string]any)
	c["id"], c["title"], c["message"] = sha, title, title+"\n"
	c["url"] = "https://gitlab.example.com/acme/api/-/commit/" + sha
	c["author"].(map[string]any)["name"] = author
	if builds != nil {
		jobs := m["builds"].([]any)
		template := jobs[0].(map[string]any)
		out := make([]any, 0, len(builds))
		for i, b := range builds {
			j := map[string]any{}
			for k, v := range template {
				j[k] = v
			}
			j["id"], j["name"], j["stage"], j["status"] = 9000+i, b.name, "test", b.status
			j["failure_reason"] = nil
			if b.reason != "" {
				j["failure_reason"] = b.reason
			}
			out = append(out, j)
		}
		m["builds"] = out
	}
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// retriedPayload is body delivered again for the same pipeline, having
// finished later (a retry keeps the pipeline's id).
func retriedPayload(t *testing.T, body []byte, later time.Duration) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	oa := m["object_attributes"].(map[string]any)
	at, err := time.Parse("2006-01-02 15:04:05 UTC", oa["finished_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	oa["finished_at"] = at.Add(later).Format("2006-01-02 15:04:05 UTC")
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func kindsFor(ps []contract.Payload, id string) []string {
	var out []string
	for _, p := range ps {
		if p.Alert.ID == id {
			out = append(out, string(p.Kind))
		}
	}
	return out
}

func payloadOf(ps []contract.Payload, id string, kind contract.Kind) *contract.Payload {
	for i := range ps {
		if ps[i].Alert.ID == id && ps[i].Kind == kind {
			return &ps[i]
		}
	}
	return nil
}

func TestAnAlertNamesWhoBrokeTheBranchAndHowItRecovered(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s, rc := newSilenceStack(t, 0)
	const id = "2701-main"
	const shaA, shaB, shaC, shaD = "aaaaaaaa0000000000000000000000000000000a", "bbbbbbbb0000000000000000000000000000000b",
		"cccccccc0000000000000000000000000000000c", "dddddddd0000000000000000000000000000000d"
	failing := []build{{"unit-tests", "failed", "script_failure"}, {"build-image", "success", ""}}

	// Success #1 on sha A finds no alert: only the intake sees it.
	if a := s.post(changePayload(t, 2701, 27011, "success", shaA, "Green change", "Ann", nil)); a.code != http.StatusAccepted || a.Action != ingress.ActionNone {
		t.Fatalf("success #1: %d %+v, want 202 none", a.code, a)
	}
	s.mustSignal(changePayload(t, 2701, 27012, "failed", shaB, "Break the build", "Xavier", failing))
	s.mustSignal(changePayload(t, 2701, 27013, "failed", shaC, "Still broken", "Xavier", failing))
	s.mustSignal(changePayload(t, 2701, 27014, "success", shaD, "Fix the build", "Dana", nil))

	rc.waitReceiver(t, "opened and resolved of "+id, func(_, _ int, ps []contract.Payload) bool {
		return slices.Contains(kindsFor(ps, id), "resolved")
	})
	ps := accepted(rc)
	opened := payloadOf(ps, id, contract.KindOpened)
	if opened == nil {
		t.Fatalf("no opened notification: %v", kindsFor(ps, id))
	}
	c := opened.Alert.Culprit
	if c == nil || c.PipelineID != 27012 || c.SHA != shaB || c.CommitAuthor != "Xavier" || c.CommitTitle != "Break the build" || c.User != "Dana Ops" {
		t.Fatalf("opened's culprit %+v: want pipeline #27012, sha B, by Xavier, run by Dana Ops", c)
	}
	if g := opened.Alert.LastGreen; g == nil || g.PipelineID != 27011 || g.SHA != shaA {
		t.Fatalf("opened's last green %+v, want #27011 on sha A", g)
	}
	wantCompare := "https://gitlab.example.com/acme/api/-/compare/" + shaA + "..." + shaB
	if opened.Links.Compare != wantCompare {
		t.Errorf("opened's compare link %q, want %q", opened.Links.Compare, wantCompare)
	}
	if opened.Alert.FailureClass != "code" {
		t.Errorf("opened's failure class %q, want code (script_failure)", opened.Alert.FailureClass)
	}
	resolved := payloadOf(ps, id, contract.KindResolved)
	r := resolved.Alert.Recovery
	if r == nil || r.Fix == nil || r.Fix.SHA != shaD || r.Fix.PipelineID != 27014 || r.Fix.CommitAuthor != "Dana" ||
		r.FailedPipelines != 2 || r.RedForSeconds <= 0 || r.RedFor == "" || r.Flaky {
		t.Fatalf("resolved's recovery %+v (fix %+v): want fixed by #27014 on sha D, 2 failed pipelines, a red duration", r, r.Fix)
	}
	if resolved.Alert.Culprit == nil || resolved.Alert.Culprit.SHA != shaB {
		t.Errorf("resolved lost the culprit: %+v", resolved.Alert.Culprit)
	}
	_, final := s.waitClosed(id)
	if line := final.RecoveryLine(); !strings.Contains(line, "2 failed pipelines") || !strings.Contains(line, "dddddddd") || !strings.Contains(line, "red for ") {
		t.Errorf("the recovery reads %q", line)
	}
	recordHistory(t, "insight-culprit-then-recovery", id)

	// The next alert on the ID, opened through an intake that saw none of
	// this, finds its last green in the memory the resolved run left.
	fresh := s.freshIntake()
	s.http = fresh
	s.mustSignal(changePayload(t, 2701, 27015, "failed", "eeeeeeee", "Break it again", "Eve", failing))
	s.waitState(id, func(st *alert.State) error {
		if st.LastGreen == nil || st.LastGreen.PipelineID != 27014 || st.LastGreen.SHA != shaD {
			return fmt.Errorf("last green %+v, want #27014 from the ID's memory", st.LastGreen)
		}
		return nil
	})
	// The Web UI shows the culprit in the alert's memo.
	desc, err := s.client.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	var culprit string
	if f := desc.GetWorkflowExecutionInfo().GetMemo().GetFields()["culprit"]; f == nil || json.Unmarshal(f.GetData(), &culprit) != nil ||
		!strings.Contains(culprit, "pipeline #27015") {
		t.Errorf("memo culprit %q", culprit)
	}
}

// freshIntake is a second intake on the stack's task queue that has seen
// no delivery: what a restarted intake, or another one behind the same
// load balancer, knows.
func (s *stack) freshIntake() *httptest.Server {
	s.t.Helper()
	tokens, err := ingress.ParseTokens("gitlab=" + sourceToken)
	if err != nil {
		s.t.Fatal(err)
	}
	api, err := ingress.ParseTokens("api=" + apiToken)
	if err != nil {
		s.t.Fatal(err)
	}
	srv := httptest.NewServer(ingress.New(ingress.Config{TaskQueue: s.taskQueue, Tokens: tokens, APIToken: api},
		s.client, slog.New(slog.DiscardHandler)))
	s.t.Cleanup(srv.Close)
	return srv
}

// classRouting sends infra failures to the platform team's chat and code
// failures to the developers' audit webhook; the rest pages.
const classRouting = routingReceivers + `route:
  receiver: pager
  routes:
    - match: {failure_class: infra}
      receiver: chat
    - match: {failure_class: [code]}
      receiver: audit
`

func TestFailureClassesRouteAndSilenceInfraAndCodeFailuresApart(t *testing.T) {
	t.Parallel() // own task queue and project ids
	// Reminders, so that the open alerts show when the worker's view of
	// the silences takes the new one in.
	s := newRoutedStackInput(t, classRouting, workflows.Input{ReminderInterval: 2 * time.Second})
	infra := []build{{"deploy", "failed", "runner_system_failure"}, {"unit-tests", "success", ""}}
	code := []build{{"unit-tests", "failed", "script_failure"}, {"deploy", "success", ""}}
	s.mustSignal(changePayload(t, 2711, 27111, "failed", "1111", "Change", "Ann", infra))
	s.mustSignal(changePayload(t, 2712, 27121, "failed", "2222", "Change", "Bob", code))
	s.chat.waitReceiver(t, "the infra failure at the platform team", func(_, _ int, ps []contract.Payload) bool {
		return payloadOf(ps, "2711-main", contract.KindOpened) != nil
	})
	s.audit.waitReceiver(t, "the code failure at the developers", func(_, _ int, ps []contract.Payload) bool {
		return payloadOf(ps, "2712-main", contract.KindOpened) != nil
	})
	if got := kindsFor(accepted(s.chat), "2712-main"); len(got) != 0 {
		t.Errorf("the platform team heard of the code failure: %v", got)
	}
	if got := kindsFor(accepted(s.audit), "2711-main"); len(got) != 0 {
		t.Errorf("the developers heard of the infra failure: %v", got)
	}
	if p := payloadOf(accepted(s.chat), "2711-main", contract.KindOpened); p.Alert.FailureClass != "infra" {
		t.Errorf("infra alert's class %q", p.Alert.FailureClass)
	}

	// A silence on infra failures holds only infra alerts.
	sl := s.createSilence(map[string]any{"matchers": map[string]any{"failure_class": "infra"}, "duration": "1h",
		"created_by": "platform", "comment": "runner fleet upgrade"})
	s.waitState("2711-main", func(st *alert.State) error {
		if st.Silenced == nil || st.Silenced.ID != sl.ID {
			return fmt.Errorf("the open infra alert is silenced by %+v, want %s", st.Silenced, sl.ID)
		}
		return nil
	})
	s.mustSignal(changePayload(t, 2713, 27131, "failed", "3333", "Change", "Cy", infra))
	s.mustSignal(changePayload(t, 2714, 27141, "failed", "4444", "Change", "Di", code))
	s.audit.waitReceiver(t, "the code failure during the silence", func(_, _ int, ps []contract.Payload) bool {
		return payloadOf(ps, "2714-main", contract.KindOpened) != nil
	})
	held := s.waitState("2713-main", func(st *alert.State) error {
		if st.Silenced == nil || st.Silenced.ID != sl.ID {
			return fmt.Errorf("silenced by %+v, want %s", st.Silenced, sl.ID)
		}
		return nil
	})
	if held.FailureClass != alert.ClassInfra {
		t.Errorf("silenced alert's class %q", held.FailureClass)
	}
	for _, id := range []string{"2712-main", "2714-main"} {
		if st, err := s.state(context.Background(), id); err != nil || st.Silenced != nil {
			t.Errorf("the code failure %s: %v, silenced by %+v", id, err, st.Silenced)
		}
	}
	if got := kindsFor(accepted(s.chat), "2713-main"); len(got) != 0 {
		t.Errorf("the silenced infra failure was sent: %v", got)
	}
	// And the Web UI can list alerts by class.
	err := poll(context.Background(), 30*time.Second, func() error {
		out := temporalCLI(t, "workflow", "list", "--query",
			"AlertFailureClass = 'infra' AND TaskQueue = '"+s.taskQueue+"'", "--output", "json")
		if !strings.Contains(out, "2711-main") || !strings.Contains(out, "2713-main") || strings.Contains(out, "2712-main") {
			return fmt.Errorf("listed %s", out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAJobThatPassedOnRetryIsFlakyAndListedInTheStats(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s, rc := newSilenceStack(t, 0)
	const id = "2721-main"
	failed := changePayload(t, 2721, 27211, "failed", "5555", "Change", "Fay",
		[]build{{"rspec 2/4", "failed", "script_failure"}, {"lint", "success", ""}})
	s.mustSignal(failed)
	// The same pipeline, its failed job retried: now it passed.
	retried := retriedPayload(t, changePayload(t, 2721, 27211, "success", "5555", "Change", "Fay",
		[]build{{"rspec 2/4", "success", ""}, {"lint", "success", ""}}), 10*time.Minute)
	s.mustSignal(retried)
	rc.waitReceiver(t, "the resolve of "+id, func(_, _ int, ps []contract.Payload) bool {
		return payloadOf(ps, id, contract.KindResolved) != nil
	})
	res := payloadOf(accepted(rc), id, contract.KindResolved)
	if !res.Alert.Flaky || len(res.Alert.FlakyJobs) != 1 || res.Alert.FlakyJobs[0].Name != "rspec 2/4" ||
		res.Alert.Recovery == nil || !res.Alert.Recovery.Flaky {
		t.Fatalf("resolved: flaky %v, jobs %+v, recovery %+v, resolution %q", res.Alert.Flaky, res.Alert.FlakyJobs, res.Alert.Recovery, res.Alert.Resolution)
	}
	recordHistory(t, "insight-flaky-retry", id)
	if _, final := s.waitClosed(id); !strings.Contains(final.RecoveryLine(), "flaky, not broken") {
		t.Errorf("the recovery reads %q", final.RecoveryLine())
	}
	err := poll(context.Background(), 30*time.Second, func() error {
		a := s.stats(url.Values{"since": {"1h"}, "project_id": {"2721"}})
		for _, p := range a.FlakyJobs {
			if p.ProjectID == 2721 && len(p.Jobs) == 1 && p.Jobs[0].Name == "rspec 2/4" && p.Jobs[0].Times == 1 {
				return nil
			}
		}
		return fmt.Errorf("stats list flaky jobs %+v", a.FlakyJobs)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// changeRouting pages through a PagerDuty service that also takes change
// events, for acme's projects only; the rest goes to the audit webhook.
const changeRouting = `
receivers:
  - name: pager
    pagerduty:
      routing_key: ${PD_KEY}
      url: ${PD_URL}
      change_events: true
  - name: audit
    webhook:
      url: ${AUDIT_URL}
      secret: ${SECRET}
route:
  receiver: audit
  routes:
    - match: {project: "acme/**"}
      receiver: pager
`

func TestASuccessOnTheDefaultBranchIsAChangeEventOnceAndOnlyThere(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newRoutedStackWith(t, changeRouting)
	fixed := changePayload(t, 2731, 27311, "success", "ffffffff00000000000000000000000000000000", "Deploy the fix", "Fay", nil)
	// GitLab resends a delivery: one change event still.
	for range 2 {
		if a := s.post(fixed); a.code != http.StatusAccepted {
			t.Fatalf("success on main: %d %+v", a.code, a)
		}
	}
	// A feature branch's success is no change of the service.
	var m map[string]any
	if err := json.Unmarshal(payload(t, 2731, "feature/x", 27312, "success"), &m); err != nil {
		t.Fatal(err)
	}
	feature, _ := json.Marshal(m)
	if a := s.post(feature); a.code != http.StatusAccepted {
		t.Fatalf("success on a feature branch: %d %+v", a.code, a)
	}
	got := s.pd.WaitForChanges(t, 1, 30*time.Second)
	ch := got[0]
	if ch.RoutingKey != routingKey || !strings.Contains(ch.Payload.Summary, "#27311") || !strings.Contains(ch.Payload.Summary, "acme/api@main") {
		t.Fatalf("change event %+v", ch)
	}
	err := poll(context.Background(), 30*time.Second, func() error {
		out := temporalCLI(t, "workflow", "list", "--query",
			"WorkflowType = 'ChangeWorkflow' AND TaskQueue = '"+s.taskQueue+"' AND ExecutionStatus = 'Completed'", "--output", "json")
		var runs []struct {
			Execution struct {
				WorkflowID string `json:"workflowId"`
			} `json:"execution"`
		}
		if err := json.Unmarshal([]byte(out), &runs); err != nil {
			return fmt.Errorf("read %s: %w", out, err)
		}
		if len(runs) != 1 || !strings.HasPrefix(runs[0].Execution.WorkflowID, "change/2731-main/27311/") {
			return fmt.Errorf("completed change workflows %+v, want #27311's alone", runs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Had the feature branch's success started a change workflow, the
	// intake would have started it before answering.
	fev, _, err := ingress.ParsePipelineEvent(feature)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.DescribeWorkflowExecution(context.Background(), workflows.ChangeID(fev), ""); !visibility.NotFound(err) {
		t.Errorf("the feature branch's change workflow: %v, want none", err)
	}
	if n := len(s.pd.Changes()); n != 1 {
		t.Fatalf("%d change events, want 1", n)
	}
	main, _, err := ingress.ParsePipelineEvent(fixed)
	if err != nil {
		t.Fatal(err)
	}
	recordHistory(t, "change-event-sent", workflows.ChangeID(main))
}

// Operators see which revision each alert runs: the intake starts alerts
// with it, and a run started without it (as one continued from an older
// revision is) shows its own in its first workflow task.
func TestAnAlertShowsTheRevisionItRuns(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)
	s.mustSignal(payload(t, 2741, "main", 27411, "failed"))
	ev, _, err := ingress.ParsePipelineEvent(payload(t, 2742, "main", 27421, "failed"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Started as the intake would, but without the attribute.
	opts := workflows.StartOptions(s.taskQueue, workflows.Input{Revision: workflows.CurrentRevision}, ev)
	opts.TypedSearchAttributes = temporal.NewSearchAttributes(workflows.AttrStatus.ValueSet("open"))
	if _, err := s.client.SignalWithStartWorkflow(ctx, ev.AlertID(), workflows.SignalPipeline, ev, opts,
		workflows.AlertWorkflow, workflows.Input{Revision: workflows.CurrentRevision}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"2741-main", "2742-main"} {
		err := poll(ctx, 30*time.Second, func() error {
			d, err := s.client.DescribeWorkflowExecution(ctx, id, "")
			if err != nil {
				return err
			}
			f := d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[workflows.AttrRevision.GetName()]
			var rev int64
			if f == nil || json.Unmarshal(f.GetData(), &rev) != nil || rev != int64(workflows.CurrentRevision) {
				return fmt.Errorf("%s shows AlertRevision %s, want %d", id, f.GetData(), workflows.CurrentRevision)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
