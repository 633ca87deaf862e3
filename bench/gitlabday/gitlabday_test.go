package gitlabday

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alert/alertmodel"
	"github.com/alertflow/alertflow/bench/payload"
	"github.com/alertflow/alertflow/ingress"
)

func day(t *testing.T, deliveries int) []*Branch {
	t.Helper()
	tmpl, err := payload.Load(filepath.Join("..", "..", "testdata", "pipeline-failed-branch.json"))
	if err != nil {
		t.Fatal(err)
	}
	branches, err := Generate(Options{Seed: 7, Projects: 200, Group: "soak", IDBase: 5000, Deliveries: deliveries,
		FailRate: 0.05, Now: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), Template: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	return branches
}

// The day holds every kind of traffic the soak promises, and every
// branch's script stays where the model can say, in order, what alertflow
// does with it (the model panics where the outcome would depend on timing).
func TestADayHoldsEveryKindOfTrafficAndEveryScriptIsPredictable(t *testing.T) {
	branches := day(t, 20_000)
	kinds := map[string]int{}
	statuses := map[string]int{}
	deliveries, pipelines, alerts := 0, map[int64]bool{}, 0
	for _, b := range branches {
		m := &alertmodel.Branch{}
		for _, s := range b.Steps {
			if s.Op != "" {
				kinds["op "+s.Op]++
				if m.Open() {
					switch s.Op {
					case OpAcknowledge:
						_ = m.Acknowledge("soak", "")
					case OpResolve:
						if err := m.Resolve("soak", "done"); err != nil {
							t.Fatalf("%s: resolve: %v", b.Ref, err)
						}
					}
				}
				continue
			}
			deliveries++
			kinds[s.Event]++
			switch {
			case s.Pipeline:
				ev, ok, err := ingress.ParsePipelineEvent(s.Body)
				if err != nil || !ok {
					t.Fatalf("project %d %s: the intake would refuse a pipeline body: %v", b.ProjectID, b.Ref, err)
				}
				ev.IdempotencyKey = s.Key
				statuses[ev.Pipeline.Status]++
				if ev.Pipeline.IsChild() {
					statuses["child"]++
				}
				pipelines[ev.Pipeline.ID] = true
				m.Deliver(ev)
			case s.Deletion:
				kinds["deletion"]++
				m.DeleteBranch("soak")
			case strings.HasPrefix(s.Event, "Push") || strings.HasPrefix(s.Event, "Tag Push"):
				p, isPush, err := ingress.ParsePushEvent(s.Body)
				if err != nil || !isPush || p.Deleted {
					t.Fatalf("a push body the intake reads as %+v %v %v", p, isPush, err)
				}
			}
		}
		alerts += m.Alerts
		if m.Alerts > 2 {
			t.Fatalf("%d-%s opened %d alerts, more than the flapping threshold allows", b.ProjectID, b.Ref, m.Alerts)
		}
	}
	if deliveries < 20_000 || deliveries > 20_500 {
		t.Fatalf("%d deliveries, want about 20 000", deliveries)
	}
	for _, k := range []string{"Pipeline Hook", "Push Hook", "Tag Push Hook", "Job Hook", "Merge Request Hook", "Note Hook", "deletion",
		"op " + OpAcknowledge, "op " + OpSnooze, "op " + OpResolve} {
		if kinds[k] == 0 {
			t.Errorf("no %s in the day: %v", k, kinds)
		}
	}
	for _, s := range []string{alert.PipelineFailed, alert.PipelineSuccess, alert.PipelineCanceled, alert.PipelineSkipped, "pending", "running", "child"} {
		if statuses[s] == 0 {
			t.Errorf("no %s pipeline in the day: %v", s, statuses)
		}
	}
	if share := float64(statuses[alert.PipelineFailed]) / float64(len(pipelines)); share < 0.02 || share > 0.10 {
		t.Errorf("%.1f %% of pipelines failed, want about 5 %%", 100*share)
	}
	t.Logf("%d deliveries to %d branches, %d pipelines, %d alerts; %v; %v", deliveries, len(branches), len(pipelines), alerts, kinds, statuses)
}
