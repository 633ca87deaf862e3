package route

import (
	"testing"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alertview"
)

func TestLabelsOfAnAlertComeFromItsProjectRefAndNewestPipeline(t *testing.T) {
	s := alert.State{
		Project: alert.Project{ID: 7, Path: "team-a/api", DefaultBranch: "main"},
		Ref:     "v1.2", Tag: true,
		Severity: alert.SeverityMedium,
		Pipeline: &alert.NewestPipeline{ID: 3, Source: "push", Protected: true},
	}
	want := Labels{ProjectID: 7, Project: "team-a/api", Ref: "v1.2", Tag: true, Source: "push",
		Severity: alert.SeverityMedium, DefaultBranch: "main", Protected: true}
	if got := LabelsOf(alertview.Of(&s)); got != want {
		t.Fatalf("labels %+v, want %+v", got, want)
	}
	// An alert that has seen no pipeline yet has no source and is not
	// protected.
	s.Pipeline = nil
	want.Source, want.Protected = "", false
	if got := LabelsOf(alertview.Of(&s)); got != want {
		t.Fatalf("without a pipeline: %+v, want %+v", got, want)
	}
}
