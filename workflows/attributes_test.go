package workflows

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/alertflow/alertflow/alert"
)

func TestTheWebUIDetailsShowWhatOnCallNeeds(t *testing.T) {
	ev := pipelineEvent(31, "failed")
	ev.Commit = alert.Commit{Title: "Bump the HTTP client", URL: "http://gitlab.example.com/c/9f1c"}
	ev.Pipeline.FailedJobs = []alert.Job{
		{Name: "unit-tests", Stage: "test", FailureReason: "script_failure"},
		{Name: "lint", Stage: "test", FailureReason: "runner_system_failure", AllowFailure: true},
	}
	s := alert.New(alert.Limits{})
	s.Apply(ev, t0)
	if _, err := s.Acknowledge(alert.Acknowledgement{By: "alice", Note: "rerunning"}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got := detailsOf(s)
	for _, want := range []string{
		"**Pipeline #31 failed on gitlab-org/gitlab-test@master**",
		"Status **acknowledged**, severity **HIGH**",
		"Acknowledged by **alice**", "rerunning",
		"[#31](http://gitlab.example.com/gitlab-org/gitlab-test/-/pipelines/31)",
		"[Bump the HTTP client](http://gitlab.example.com/c/9f1c)",
		`- **unit-tests** (stage test, script\_failure)`,
		`- **lint** (stage test, runner\_system\_failure, allowed to fail)`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("details lack %q:\n%s", want, got)
		}
	}
	memo := memoOf(s)
	if memo["title"] != s.Title() || memo["failed_jobs"] == "" || memo["pipeline_url"] == "" {
		t.Fatalf("memo %v", memo)
	}
}

// Markdown and HTML in a payload show as text: a commit title, a job name,
// a note are nobody's reviewed markdown, and a link goes only to an
// http(s) target.
func TestTheWebUIDetailsShowPayloadMarkdownAsText(t *testing.T) {
	const evil = "[click](javascript:alert(1)) <img src=x onerror=alert(2)> **bold** `code` ![i](http://x/i.png) &amp; ~~s~~ a|b \\"
	ev := pipelineEvent(31, "failed")
	ev.Commit = alert.Commit{Title: evil + "\n# heading\n- item", URL: "javascript:alert(3)"}
	ev.Pipeline.URL = "data:text/html,<script>alert(4)</script>"
	ev.User = evil
	ev.Pipeline.FailedJobs = []alert.Job{{Name: evil, Stage: "<b>test</b>", FailureReason: "_x_"}}
	ev.MergeRequest = &alert.MergeRequest{IID: 3, Title: "ok](javascript:alert(5)) [x", URL: "https://gitlab.example.com/mr/3?a=(b)&c=<d> e"}
	s := alert.New(alert.Limits{})
	s.Apply(ev, t0)
	if _, err := s.Acknowledge(alert.Acknowledgement{By: "<script>alert(6)</script>", Note: evil}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got := detailsOf(s)
	for _, bad := range []string{"](javascript:", "(javascript:", "data:text", "<img", "<script", "<b>", "**bold**", "`code`", "![i]", "&amp;", "~~s~~", "\n# heading", "\n- item"} {
		if unescapedAt(got, bad) >= 0 {
			t.Errorf("details hold %q unescaped:\n%s", bad, got)
		}
	}
	for _, want := range []string{
		"Pipeline: #31 failed", // no link: the target is not http(s)
		`\[click\]\(javascript:alert\(1\)\)`,
		"Merge request: [\\!3 ok\\]\\(javascript:alert\\(5\\)\\) \\[x](https://gitlab.example.com/mr/3?a=%28b%29&c=%3Cd%3E%20e)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("details lack %q:\n%s", want, got)
		}
	}
}

func TestTheSummaryIsMarkdownTextToo(t *testing.T) {
	ev := pipelineEvent(40, "failed")
	ev.Pipeline.Ref = "fix_<b>it</b>_now"
	if got, want := StartOptions("q", Input{}, ev).StaticSummary, `Pipeline #40 failed on gitlab-org/gitlab-test@fix\_\<b\>it\</b\>\_now`; got != want {
		t.Fatalf("summary %q, want %q", got, want)
	}
}

func TestStartOptionsDescribeTheAlertTheEventOpens(t *testing.T) {
	ev := pipelineEvent(40, "canceled")
	ev.Project.ID, ev.Pipeline.Ref = 7, "feature/ümlaut"
	o := StartOptions("q", Input{}, ev)
	if o.ID != "7-feature/%C3%BCmlaut" || o.StaticSummary != "Pipeline #40 canceled on gitlab-org/gitlab-test@feature/ümlaut" {
		t.Fatalf("id %q summary %q", o.ID, o.StaticSummary)
	}
	for key, want := range map[temporal.SearchAttributeKeyKeyword]string{AttrSeverity: "MEDIUM", AttrStatus: "open", AttrRef: "feature/ümlaut"} {
		if got, _ := o.TypedSearchAttributes.GetKeyword(key); got != want {
			t.Errorf("%s = %q, want %q", key.GetName(), got, want)
		}
	}
	if id, _ := o.TypedSearchAttributes.GetInt64(AttrPipelineID); id != 40 {
		t.Errorf("PipelineID = %d", id)
	}
}

// unescapedAt is the index of an occurrence of bad in s whose first
// character no backslash escapes, or -1.
func unescapedAt(s, bad string) int {
	for from := 0; ; {
		i := strings.Index(s[from:], bad)
		if i < 0 {
			return -1
		}
		at := from + i
		slashes := 0
		for j := at - 1; j >= 0 && s[j] == '\\'; j-- {
			slashes++
		}
		if slashes%2 == 0 {
			return at
		}
		from = at + 1
	}
}

func TestWorkflowTypeIsTheNameTheSDKGivesAlertWorkflow(t *testing.T) {
	// The SDK registers a workflow function under the last element of its
	// name; the REST API lists alerts by WorkflowType.
	full := runtime.FuncForPC(reflect.ValueOf(AlertWorkflow).Pointer()).Name()
	if got := full[strings.LastIndex(full, ".")+1:]; got != WorkflowType {
		t.Fatalf("AlertWorkflow is registered as %q, WorkflowType says %q", got, WorkflowType)
	}
}

func TestTheWebUIDetailsAndAttributesSayWhoBrokeTheBranch(t *testing.T) {
	s := alert.NewWith(alert.Limits{}, alert.Rules{Version: alert.RulesInsight}, alert.Memory{
		Green: &alert.Green{PipelineID: 30, SHA: "aaaaaaaaaa"}})
	ev := pipelineEvent(31, "failed")
	ev.Project.URL = "https://gitlab.example.com/gitlab-org/gitlab-test"
	ev.Pipeline.SHA, ev.Pipeline.FailureClass = "bbbbbbbbbb", alert.ClassInfra
	ev.Commit = alert.Commit{Title: "Bump it", Author: "Xavier"}
	s.Apply(ev, t0)
	got := detailsOf(s)
	for _, want := range []string{
		"Broken by: pipeline #31", "by Xavier", "after green #30",
		"[changes since green](https://gitlab.example.com/gitlab-org/gitlab-test/-/compare/aaaaaaaaaa...bbbbbbbbbb)",
		"Failure class: **infra**",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("details lack %q:\n%s", want, got)
		}
	}
	if got := summaryOf(s); got != "Pipeline #31 failed on gitlab-org/gitlab-test@master · infra failure" {
		t.Errorf("summary %q", got)
	}
	if m := memoOf(s); m["failure_class"] != "infra" || !strings.Contains(m["culprit"].(string), "Xavier") {
		t.Errorf("memo %v", m)
	}
	a := attrsOf(s)
	if got, _ := temporal.NewSearchAttributes(a.plain()...).GetKeyword(AttrFailureClass); got != "infra" {
		t.Errorf("attributes %+v set AlertFailureClass to %q, want infra", a, got)
	}
	// A cancel clears the class, and the upsert unsets it: one update
	// more than an alert that never had one.
	if n, none := len((attrs{}).updates(a)), len((attrs{}).updates(attrs{})); n != none+1 {
		t.Errorf("%d updates after the class went, %d without one: the class is not unset", n, none)
	}
}

// An alert of the rules before insight upserts exactly what it recorded:
// no failure class, set or unset.
func TestAnAlertBeforeInsightUpsertsNoFailureClass(t *testing.T) {
	s := alert.NewWith(alert.Limits{}, alert.Rules{Version: alert.RulesFinished}, alert.Memory{})
	ev := pipelineEvent(31, "failed")
	ev.Pipeline.FailureClass = alert.ClassCode
	s.Apply(ev, t0)
	a := attrsOf(s)
	if n, none := len(a.updates(attrs{})), len((attrs{}).updates(attrs{})); n != none || a.failureClass != "" {
		t.Fatalf("%d updates (%d without a class), class %q", n, none, a.failureClass)
	}
	if temporal.NewSearchAttributes(a.plain()...).ContainsKey(AttrFailureClass) {
		t.Fatal("sets AlertFailureClass")
	}
}
