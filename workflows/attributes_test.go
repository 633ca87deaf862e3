package workflows

import (
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
		"- **unit-tests** (stage test, script_failure)",
		"- **lint** (stage test, runner_system_failure, allowed to fail)",
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
