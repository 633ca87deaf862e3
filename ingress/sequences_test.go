package ingress

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
)

// The payload shapes of real delivery sequences (testdata/sequences) parse
// into the events the rules for real GitLab traffic need.
func TestTheShapesOfRealDeliverySequencesParse(t *testing.T) {
	parse := func(name string) alert.Event {
		t.Helper()
		ev, isPipeline, err := ParsePipelineEvent(readPayload(t, filepath.Join("sequences", name)))
		if err != nil || !isPipeline {
			t.Fatalf("%s: pipeline %v, %v", name, isPipeline, err)
		}
		return ev
	}
	base := parse("../pipeline-failed-branch.json")

	// Newer GitLab: milliseconds in object_attributes, "UTC" in builds[].
	iso := parse("pipeline-iso-milliseconds.json")
	if want := base.Pipeline.FinishedAt.Add(869 * time.Millisecond); !iso.Pipeline.FinishedAt.Equal(want) {
		t.Errorf("finished at %v, want %v", iso.Pipeline.FinishedAt, want)
	}
	if iso.ContentKey() != base.ContentKey() || len(iso.Pipeline.FailedJobs) != len(base.Pipeline.FailedJobs) {
		t.Errorf("the same state in the newer format has key %q and %d failed jobs, want %q and %d",
			iso.ContentKey(), len(iso.Pipeline.FailedJobs), base.ContentKey(), len(base.Pipeline.FailedJobs))
	}
	// protected_ref, which routing matches on, is newer than the rest:
	// a payload without it reads as not protected.
	if !iso.Pipeline.Protected || base.Pipeline.Protected {
		t.Errorf("protected: %v with protected_ref true, %v without it", iso.Pipeline.Protected, base.Pipeline.Protected)
	}
	if iso.Project.DefaultBranch == "" || iso.Pipeline.Source == "" {
		t.Errorf("routing needs the default branch and the source: %+v %+v", iso.Project, iso.Pipeline)
	}

	if skip := parse("pipeline-skip-ci.json"); skip.Pipeline.Status != "skipped" || !skip.Pipeline.FinishedAt.IsZero() || len(skip.Pipeline.FailedJobs) != 0 {
		t.Errorf("[skip ci]: %+v", skip.Pipeline)
	}
	if retried := parse("pipeline-running-retried.json"); retried.Pipeline.Status != "running" || !retried.Pipeline.FinishedAt.Equal(base.Pipeline.FinishedAt) {
		t.Errorf("retried: %+v, want running with the old finished time", retried.Pipeline)
	}
	if child := parse("pipeline-child-failed.json"); !child.Pipeline.IsChild() || child.Pipeline.ParentID != 1042 || child.Pipeline.ID != 1043 {
		t.Errorf("child: %+v", child.Pipeline)
	}
	// A multi-project downstream pipeline names its upstream too, but is an
	// ordinary pipeline of its own project.
	downstream := edit(t, readPayload(t, filepath.Join("sequences", "pipeline-child-failed.json")), func(m map[string]any) {
		m["object_attributes"].(map[string]any)["source"] = "pipeline"
	})
	if ev, _, err := ParsePipelineEvent(downstream); err != nil || ev.Pipeline.IsChild() || ev.Pipeline.ParentID != 0 {
		t.Errorf("downstream: %+v, %v", ev.Pipeline, err)
	}

	push, isPush, err := ParsePushEvent(readPayload(t, filepath.Join("sequences", "push-branch-deleted.json")))
	if err != nil || !isPush || !push.Deleted || push.Ref != "feature/retire-v1" || push.AlertID() != "17-feature/retire-v1" || push.By != "Dana Ops" {
		t.Errorf("branch deletion: %+v push %v, %v", push, isPush, err)
	}
}
