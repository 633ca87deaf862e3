package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/gitlabapi"
	"github.com/alertflow/alertflow/gitlabapi/gitlabapitest"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/monitor"
	"github.com/alertflow/alertflow/worker"
	"github.com/alertflow/alertflow/workflows"
)

// What GitLab never delivered, found through its API: the reconcile
// schedule, the reconcile button, and heartbeat monitors, through the
// real intake and a real dev server, against a fake GitLab API that
// answers as GitLab's API documentation shows.

const gitLabAPIToken = "glpat-integration-reconcile"

// reconciledStack is a stack whose alerts check the fake GitLab every
// every (zero: only on demand).
func reconciledStack(t *testing.T, gl *gitlabapitest.Server, every time.Duration) *stack {
	t.Helper()
	api, err := gitlabapi.New(gl.URL(), gitLabAPIToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{
		gitlab: worker.GitLab{APIs: map[string]*gitlabapi.Client{"": api}},
		intake: func(c *ingress.Config) { c.ReconciledInstances = map[string]bool{"": true} },
	}
	return newStackOf(t, s, workflows.Input{Reconcile: &workflows.Reconcile{Every: every}})
}

// finishedAt is when payload says pipeline id finished.
func finishedAt(id int64) time.Time {
	return time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC).Add(time.Duration(id) * time.Minute)
}

func TestReconcileResolvesAnAlertWhoseSuccessGitLabNeverDelivered(t *testing.T) {
	t.Parallel()
	gl := gitlabapitest.New(gitLabAPIToken)
	defer gl.Close()
	s := reconciledStack(t, gl, 3*time.Second)
	gl.AddBranch(81, "main")
	gl.AddPipeline(81, gitlabapitest.Pipeline{ID: 810, Ref: "main", Status: "failed", Source: "push", FinishedAt: finishedAt(810)})
	s.mustSignal(payload(t, 81, "main", 810, "failed"))
	s.waitState("81-main", func(st *alert.State) error {
		if st.LastReconciledAt.IsZero() {
			return errors.New("not checked yet")
		}
		return nil
	})
	// The success is never delivered; GitLab's API has it.
	gl.AddPipeline(81, gitlabapitest.Pipeline{ID: 811, Ref: "main", Status: "success", Source: "push", FinishedAt: finishedAt(811)})
	_, st := s.waitClosed("81-main")
	if st.Status != alert.StatusResolved || st.Resolution != "pipeline #811 succeeded" {
		t.Fatalf("alert %s (%s), want resolved by #811", st.Status, st.Resolution)
	}
	var checksThatFoundNothing int
	for _, e := range st.Timeline {
		if e.Via == alert.ViaReconciled && e.Kind != alert.OutcomeResolved {
			checksThatFoundNothing++
		}
	}
	last := st.Timeline[len(st.Timeline)-1]
	if last.Via != alert.ViaReconciled || checksThatFoundNothing != 0 {
		t.Errorf("last entry %+v; %d entries of checks that found what was delivered, want none", last, checksThatFoundNothing)
	}
	noSecretInHistory(t, s, "81-main", gitLabAPIToken, gl.URL())
	recordHistory(t, "reconciled-success-never-delivered", "81-main")
}

func TestReconcileResolvesTheAlertOfADeletedBranch(t *testing.T) {
	t.Parallel()
	gl := gitlabapitest.New(gitLabAPIToken)
	defer gl.Close()
	s := reconciledStack(t, gl, 3*time.Second)
	gl.AddBranch(82, "feature/x")
	gl.AddPipeline(82, gitlabapitest.Pipeline{ID: 820, Ref: "feature/x", Status: "failed", Source: "push", FinishedAt: finishedAt(820)})
	s.mustSignal(payload(t, 82, "feature/x", 820, "failed"))
	s.waitState("82-feature/x", func(st *alert.State) error {
		if st.Status != alert.StatusOpen {
			return fmt.Errorf("status %s", st.Status)
		}
		return nil
	})
	gl.DeleteBranch(82, "feature/x")
	_, st := s.waitClosed("82-feature/x")
	if st.Status != alert.StatusResolved || st.ResolvedBy != alert.ResolvedByGitLab || st.Resolution != "branch deleted" {
		t.Fatalf("alert %s by %q (%s), want resolved by GitLab: branch deleted", st.Status, st.ResolvedBy, st.Resolution)
	}
	recordHistory(t, "reconciled-branch-deleted", "82-feature/x")
}

func TestReconcileOnDemandThroughTheRESTAPI(t *testing.T) {
	t.Parallel()
	gl := gitlabapitest.New(gitLabAPIToken)
	defer gl.Close()
	s := reconciledStack(t, gl, 0)
	gl.AddBranch(83, "main")
	gl.AddPipeline(83, gitlabapitest.Pipeline{ID: 830, Ref: "main", Status: "failed", Source: "push", FinishedAt: finishedAt(830)})
	s.mustSignal(payload(t, 83, "main", 830, "failed"))
	s.waitState("83-main", func(st *alert.State) error {
		if st.Status != alert.StatusOpen {
			return fmt.Errorf("status %s", st.Status)
		}
		return nil
	})

	// A reconcile nobody asked for by name is refused, and reads nothing.
	before := gl.Requests()
	if code, body := s.apiCall(http.MethodPost, "/api/v1/alerts/83-main/reconcile", map[string]string{}); code != http.StatusBadRequest || !strings.Contains(string(body), `\"by\" is required`) {
		t.Errorf("a reconcile without by answered %d %s, want 400 naming by", code, body)
	}
	if gl.Requests() != before {
		t.Errorf("a refused reconcile read GitLab %d times", gl.Requests()-before)
	}

	// GitLab asks to wait: the check is recorded as failed, the alert stays.
	gl.Refuse(1, 30*time.Second)
	code, body := s.apiCall(http.MethodPost, "/api/v1/alerts/83-main/reconcile", alert.ReconcileRequest{By: "dana"})
	var st alert.State
	if err := json.Unmarshal(body, &st); code != http.StatusOK || err != nil {
		t.Fatalf("reconcile answered %d %s", code, body)
	}
	if last := st.Timeline[len(st.Timeline)-1]; st.Status != alert.StatusOpen || last.Kind != alert.OutcomeReconcileFailed || last.Actor != "dana" {
		t.Fatalf("after a 429: %s, last entry %+v", st.Status, last)
	}
	if strings.Contains(string(body), gitLabAPIToken) {
		t.Fatal("the answer holds the GitLab token")
	}

	gl.AddPipeline(83, gitlabapitest.Pipeline{ID: 831, Ref: "main", Status: "success", Source: "push", FinishedAt: finishedAt(831)})
	code, body = s.apiCall(http.MethodPost, "/api/v1/alerts/83-main/reconcile", alert.ReconcileRequest{By: "dana"})
	st = alert.State{}
	if err := json.Unmarshal(body, &st); code != http.StatusOK || err != nil {
		t.Fatalf("reconcile answered %d %s", code, body)
	}
	if st.Status != alert.StatusResolved || st.Resolution != "pipeline #831 succeeded" {
		t.Fatalf("alert %s (%s), want resolved by #831", st.Status, st.Resolution)
	}
	s.waitClosed("83-main")
	recordHistory(t, "reconciled-on-demand", "83-main")
}

func TestReconcileOnDemandIsRefusedForAnInstanceWithoutAnAPI(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustSignal(payload(t, 85, "main", 850, "failed"))
	s.waitState("85-main", func(st *alert.State) error {
		if st.Status != alert.StatusOpen {
			return fmt.Errorf("status %s", st.Status)
		}
		return nil
	})
	code, body := s.apiCall(http.MethodPost, "/api/v1/alerts/85-main/reconcile", alert.ReconcileRequest{By: "dana"})
	if code != http.StatusConflict || !strings.Contains(string(body), "no GitLab API is configured") {
		t.Fatalf("answered %d %s, want 409 naming the missing API", code, body)
	}
}

// scheduled is payload as a pipeline schedule's pipeline.
func scheduled(t *testing.T, project int64, ref string, pipeline int64, status string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload(t, project, ref, pipeline, status), &m); err != nil {
		t.Fatal(err)
	}
	m["object_attributes"].(map[string]any)["source"] = "schedule"
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMonitorOfAScheduleThatNeverRanOpensOneAlertThatASuccessResolves(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()
	spec := monitor.Spec{Name: "nightly-84", Project: 84, Path: "gitlab-org/gitlab-test", Ref: "nightly", Every: 2 * time.Minute, Severity: alert.SeverityHigh}
	if err := worker.StartMonitors(ctx, s.client, s.taskQueue, []monitor.Spec{spec}); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	var st *alert.State
	err := poll(ctx, 3*time.Minute, func() error {
		var err error
		if st, err = s.state(ctx, "84-nightly"); err != nil {
			return err
		}
		if st.Status != alert.StatusOpen {
			return fmt.Errorf("status %s", st.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("no alert within 3 minutes of a monitor due every 2: %v", err)
	}
	if waited := time.Since(started); waited < 110*time.Second {
		t.Errorf("the alert opened %s after the monitor started, before its deadline", waited)
	}
	if st.Severity != alert.SeverityHigh || st.Missed == nil || st.Title() != "Scheduled pipeline did not run on gitlab-org/gitlab-test@nightly" {
		t.Fatalf("alert %+v", st)
	}
	runs, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowId = '84-nightly'"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(runs.GetExecutions()); n != 1 {
		t.Errorf("%d alerts on 84-nightly, want one", n)
	}

	// The schedule runs again and passes: the alert resolves, and the
	// monitor counts its next deadline from that run.
	if a := s.post(scheduled(t, 84, "nightly", 841, "success")); a.code != http.StatusAccepted || a.Action != ingress.ActionSignaled {
		t.Fatalf("success answered %d %+v", a.code, a)
	}
	_, st = s.waitClosed("84-nightly")
	if st.Status != alert.StatusResolved || st.Resolution != "pipeline #841 succeeded" {
		t.Fatalf("alert %s (%s)", st.Status, st.Resolution)
	}
	var mon workflows.MonitorState
	err = poll(ctx, 30*time.Second, func() error {
		v, err := s.client.QueryWorkflow(ctx, workflows.MonitorID("84-nightly"), "", workflows.QueryMonitor)
		if err != nil {
			return err
		}
		if err := v.Get(&mon); err != nil {
			return err
		}
		if mon.LastRun == nil || mon.LastRun.PipelineID != 841 {
			return fmt.Errorf("last run %+v", mon.LastRun)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the monitor never heard of the run: %v", err)
	}
	if mon.Missed != 1 {
		t.Errorf("monitor counted %d missed runs, want 1", mon.Missed)
	}
	recordHistory(t, "missed-scheduled-run-then-success", "84-nightly")
	recordHistory(t, "monitor-missed-then-ran", workflows.MonitorID("84-nightly"))

	// A routing file without the monitor retires it.
	if err := worker.StartMonitors(ctx, s.client, s.taskQueue, nil); err != nil {
		t.Fatal(err)
	}
	monitorEnds(t, s, "84-nightly")
}

func TestMonitorsFollowThePipelineSchedulesGitLabLists(t *testing.T) {
	t.Parallel()
	gl := gitlabapitest.New(gitLabAPIToken)
	defer gl.Close()
	api, err := gitlabapi.New(gl.URL(), gitLabAPIToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gl.AddSchedule(86, monitor.Schedule{ID: 13, Description: "nightly", Ref: "refs/heads/main", Cron: "0 2 * * *", CronTimezone: "Asia/Tokyo", Active: true})
	gl.AddSchedule(86, monitor.Schedule{ID: 14, Description: "off", Ref: "main", Cron: "0 3 * * *", Active: false})
	m := worker.Monitors{Schedules: []monitor.Schedules{{Project: 86, Path: "team-a/app", Grace: time.Hour, Severity: alert.SeverityHigh}}}
	apis := map[string]*gitlabapi.Client{"": api}
	if err := worker.FollowMonitors(ctx, s.client, s.taskQueue, m, apis, 200*time.Millisecond, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	monitorOf := func(alertID string, ok func(workflows.MonitorState) error) {
		t.Helper()
		err := poll(ctx, 30*time.Second, func() error {
			v, err := s.client.QueryWorkflow(ctx, workflows.MonitorID(alertID), "", workflows.QueryMonitor)
			if err != nil {
				return err
			}
			var st workflows.MonitorState
			if err := v.Get(&st); err != nil {
				return err
			}
			return ok(st)
		})
		if err != nil {
			t.Fatalf("monitor of %s: %v", alertID, err)
		}
	}
	// The active schedule is watched at its own hours: 02:00 in Tokyo,
	// 17:00 UTC, with an hour of grace.
	monitorOf("86-main", func(st workflows.MonitorState) error {
		if len(st.Specs) != 1 || st.Specs[0].Name != "schedule-13" || st.Specs[0].Cron != "CRON_TZ=Asia/Tokyo 0 2 * * *" {
			return fmt.Errorf("specs %+v", st.Specs)
		}
		if due := st.Deadlines["schedule-13"].UTC(); due.Hour() != 18 || due.Minute() != 0 {
			return fmt.Errorf("deadline %s, want 18:00 UTC", due)
		}
		return nil
	})
	// A schedule made later is watched at the next read; GitLab refusing a
	// read retires nothing.
	gl.Refuse(3, time.Second)
	gl.AddSchedule(86, monitor.Schedule{ID: 15, Description: "release", Ref: "release/1.0", Cron: "0 4 * * *", Active: true})
	monitorOf("86-release/1.0", func(st workflows.MonitorState) error {
		if len(st.Specs) != 1 || st.Specs[0].Name != "schedule-15" {
			return fmt.Errorf("specs %+v", st.Specs)
		}
		return nil
	})
	monitorOf("86-main", func(st workflows.MonitorState) error {
		if len(st.Specs) != 1 {
			return fmt.Errorf("specs %+v", st.Specs)
		}
		return nil
	})
	// Deactivated in GitLab, a schedule is no longer watched.
	gl.AddSchedule(86, monitor.Schedule{ID: 15, Description: "release", Ref: "release/1.0", Cron: "0 4 * * *", Active: false})
	monitorEnds(t, s, "86-release/1.0")
	cancel()
	if err := worker.StartMonitors(context.Background(), s.client, s.taskQueue, nil); err != nil {
		t.Fatal(err)
	}
}

// noSecretInHistory fails when the alert's history holds any of secrets:
// the worker keeps GitLab's token and URL, the history only what GitLab
// answered.
func noSecretInHistory(t *testing.T, s *stack, id string, secrets ...string) {
	t.Helper()
	it := s.client.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		n++
		text := ev.String()
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Fatalf("event %d of %s (%s) holds %q", ev.GetEventId(), id, ev.GetEventType(), secret)
			}
		}
	}
	if n == 0 {
		t.Fatalf("no history of %s", id)
	}
}

// monitorEnds waits for the monitor workflow of alertID to complete.
func monitorEnds(t *testing.T, s *stack, alertID string) {
	t.Helper()
	err := poll(context.Background(), 30*time.Second, func() error {
		d, err := s.client.DescribeWorkflowExecution(context.Background(), workflows.MonitorID(alertID), "")
		if err != nil {
			return err
		}
		if got := d.GetWorkflowExecutionInfo().GetStatus(); got != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			return fmt.Errorf("monitor %s", got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the monitor of %s did not end: %v", alertID, err)
	}
}
