package app

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alertview"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/notifytest"
	"github.com/alertflow/alertflow/notify/pagerduty"
	"github.com/alertflow/alertflow/notify/slack"
	"github.com/alertflow/alertflow/notify/webhook"
)

// oncallDelivery is the real payload of testdata/pipeline-failed-branch.json as
// pipeline id of the given status on sha, committed by author, with the
// given jobs (name → failure reason, "" for a job that passed), parsed
// by the intake's own parser.
func oncallDelivery(t *testing.T, id int64, status, sha, title, author string, finished time.Time, jobs map[string]string) alert.Event {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "pipeline-failed-branch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	oa := m["object_attributes"].(map[string]any)
	oa["id"], oa["iid"], oa["status"], oa["sha"] = id, id-1000+50, status, sha
	oa["url"] = "https://gitlab.example.com/acme/api/-/pipelines/" + strconv.FormatInt(id, 10)
	oa["finished_at"] = finished.UTC().Format("2006-01-02 15:04:05 UTC")
	c := m["commit"].(map[string]any)
	c["id"], c["title"], c["message"] = sha, title, title+"\n"
	c["url"] = "https://gitlab.example.com/acme/api/-/commit/" + sha
	c["author"].(map[string]any)["name"] = author
	template := m["builds"].([]any)[0].(map[string]any)
	var builds []any
	for _, name := range slices.Sorted(maps.Keys(jobs)) {
		b := map[string]any{}
		for k, v := range template {
			b[k] = v
		}
		b["name"], b["stage"], b["status"], b["failure_reason"] = name, "test", "success", nil
		if reason := jobs[name]; reason != "" {
			b["status"], b["failure_reason"] = "failed", reason
		}
		builds = append(builds, b)
	}
	m["builds"] = builds
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	ev, ok, err := ingress.ParsePipelineEvent(body)
	if err != nil || !ok {
		t.Fatalf("parse: %v", err)
	}
	ev.ReceivedAt = finished.Add(3 * time.Second)
	return ev
}

// oncallExamples are the messages docs/oncall.md shows: one branch's
// life (a green, the failure that broke it, a second failure, the fix),
// a flaky pipeline, an infra failure and a change event, each as the
// receivers are sent it.
func oncallExamples(t *testing.T) map[string]any {
	t.Helper()
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	const shaA, shaB, shaC, shaD = "0c7e2d4b6a8f0e1d3c5b7a9f1e3d5c7b9a1f3e5d", "9f1c2ab7e5d04c3b8a61f0d2e7b4c5a6d7e8f901",
		"4d2e9b1a7c3f5e8d0b6a2c4e9f1d3b5a7c8e0f2d", "b7a9f1e3d5c7b9a1f3e5d0c7e2d4b6a8f0e1d3c5"
	green := oncallDelivery(t, 1041, "success", shaA, "Tune the connection pool", "Ann Lee", at, map[string]string{"unit-tests": ""})
	broke := oncallDelivery(t, 1042, "failed", shaB, "Bump the HTTP client", "Xavier Ruiz", at.Add(20*time.Minute),
		map[string]string{"unit-tests": "script_failure", "build-image": ""})
	broke.LastGreen = alert.GreenOf(green)
	again := oncallDelivery(t, 1043, "failed", shaC, "Retry on timeouts", "Xavier Ruiz", at.Add(50*time.Minute),
		map[string]string{"unit-tests": "script_failure", "build-image": ""})
	fixed := oncallDelivery(t, 1044, "success", shaD, "Pin the HTTP client", "Dana Ops", at.Add(95*time.Minute),
		map[string]string{"unit-tests": "", "build-image": ""})

	s := alert.NewWith(alert.Limits{}, alert.Rules{Version: alert.RulesInsight}, alert.Memory{})
	s.Apply(broke, broke.ReceivedAt)
	opened := oncallNotification(notify.KindOpened, s, broke.User)
	s.Apply(again, again.ReceivedAt)
	s.Apply(fixed, fixed.ReceivedAt)
	resolved := oncallNotification(notify.KindResolved, s, fixed.User)

	flakyRun := oncallDelivery(t, 1050, "failed", shaD, "Pin the HTTP client", "Dana Ops", at.Add(2*time.Hour),
		map[string]string{"rspec 2/4": "script_failure", "lint": ""})
	flakyPass := oncallDelivery(t, 1050, "success", shaD, "Pin the HTTP client", "Dana Ops", at.Add(2*time.Hour+12*time.Minute),
		map[string]string{"rspec 2/4": "", "lint": ""})
	f := alert.NewWith(alert.Limits{}, alert.Rules{Version: alert.RulesInsight}, s.Memory)
	f.Apply(flakyRun, flakyRun.ReceivedAt)
	f.Apply(flakyPass, flakyPass.ReceivedAt)
	flaky := oncallNotification(notify.KindResolved, f, flakyPass.User)

	infraRun := oncallDelivery(t, 1060, "failed", shaD, "Pin the HTTP client", "Dana Ops", at.Add(3*time.Hour),
		map[string]string{"deploy": "runner_system_failure", "unit-tests": ""})
	i := alert.NewWith(alert.Limits{}, alert.Rules{Version: alert.RulesInsight}, f.Memory)
	i.Apply(infraRun, infraRun.ReceivedAt)
	infra := oncallNotification(notify.KindOpened, i, infraRun.User)

	pdOpened, _ := pagerduty.NewEvent(opened)
	pdResolved, _ := pagerduty.NewEvent(resolved)
	whOpened, err := webhook.NewPayload(opened)
	if err != nil {
		t.Fatal(err)
	}
	whResolved, err := webhook.NewPayload(resolved)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{
		"opened-slack":       slack.Format(opened),
		"opened-pagerduty":   pdOpened,
		"opened-webhook":     whOpened,
		"resolved-slack":     slack.Format(resolved),
		"resolved-pagerduty": pdResolved,
		"resolved-webhook":   whResolved.Alert.Recovery,
		"flaky-slack":        slack.Format(flaky),
		"infra-slack":        slack.Format(infra),
		"change-pagerduty":   pagerduty.NewChangeEvent(fixed),
	}
}

func oncallNotification(kind notify.Kind, s *alert.State, actor string) notify.Notification {
	return notify.Notification{ID: s.ID + "/" + string(kind), Kind: kind, Title: s.Title(), Alert: alertview.Notified(s), Actor: actor}
}

// TestTheOnCallPageShowsTheMessagesAsSent keeps docs/oncall/*.json the
// very messages receivers are sent for real payloads, and docs/oncall.md
// quoting each of them whole (ALERTFLOW_UPDATE_GOLDEN=1 rewrites the
// files; the page is edited by hand).
func TestTheOnCallPageShowsTheMessagesAsSent(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("..", "docs", "oncall.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name, msg := range oncallExamples(t) {
		got, err := json.MarshalIndent(msg, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		notifytest.MatchGolden(t, name, got, filepath.Join("..", "docs", "oncall", name+".json"))
		if !strings.Contains(string(page), "```json\n"+string(got)+"```") {
			t.Errorf("docs/oncall.md does not quote docs/oncall/%s.json whole in a json block", name)
		}
	}
}
