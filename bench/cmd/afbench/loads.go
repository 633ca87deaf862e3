package main

import (
	"fmt"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/bench/payload"
	"github.com/alertflow/alertflow/ingress"
)

// Outcomes a webhook is expected to get, as the intake names them.
const (
	signaled = ingress.ActionSignaled
	ignored  = ingress.ActionIgnored
)

// request is one webhook of a load: the body alertflow is sent and the
// event the baseline signals, which is what alertflow makes of that body.
type request struct {
	alertID string
	want    string // signaled or ignored
	body    []byte
	event   alert.Event
}

// A script is the webhooks of one branch, sent one after the other, as
// GitLab sends the states of a pipeline. A phase is scripts that run side
// by side; the next phase starts once every webhook of the last one is
// answered.
type (
	script []*request
	phase  []script
)

// workload is what one load sends in one round.
type workload struct {
	phases   []phase
	alertIDs []string // every alert the round touches
	requests int
}

// generator builds the webhooks of the scenarios from a real payload.
type generator struct {
	builder *payload.Builder
	jobs    int
	// pipeline is the last pipeline id handed out; ids grow through a run
	// as GitLab's do.
	pipeline int64
	now      time.Time
}

// refs are the branches of a project; project-branch i is project i/4 on
// refs[i%4].
var refs = []string{"main", "develop", "feature/retry-budget", "release/2.4"}

// branch is project-branch i of a load whose project ids start at base.
func branch(base int64, i int) (project int64, ref string) {
	return base + int64(i/len(refs)), refs[i%len(refs)]
}

// webhook builds a delivery of a new pipeline, or of the last one again
// when again is true, with status on project and ref.
func (g *generator) webhook(project int64, ref, status string, again bool) (*request, error) {
	if !again {
		g.pipeline++
	}
	p := payload.Pipeline{ProjectID: project, Ref: ref, ID: g.pipeline, Status: status, Jobs: g.jobs,
		FinishedAt: g.now.Add(time.Duration(g.pipeline) * time.Second)}
	switch status {
	case "failed":
		p.FailedJobs = 2
	case "pending", "running":
		p.FinishedAt = time.Time{}
	}
	body, err := g.builder.Build(p)
	if err != nil {
		return nil, err
	}
	ev, _, err := ingress.ParsePipelineEvent(body)
	if err != nil {
		return nil, fmt.Errorf("parse generated %s pipeline: %w", status, err)
	}
	want := signaled
	if alert.RouteOf(status) == alert.RouteIgnore {
		want = ignored
	}
	return &request{alertID: ev.AlertID(), want: want, body: body, event: ev}, nil
}

// script builds the webhooks of one branch: each step a status, "again"
// re-sending the last delivery as GitLab's retries do.
func (g *generator) script(project int64, ref string, steps ...string) (script, error) {
	var s script
	for _, step := range steps {
		status, again := step, false
		if step == "again" {
			status, again = s[len(s)-1].event.Pipeline.Status, true
		}
		r, err := g.webhook(project, ref, status, again)
		if err != nil {
			return nil, err
		}
		s = append(s, r)
	}
	return s, nil
}

// spread: n project-branches each see a bad pipeline, then later a
// success. Most fail once; one in ten is canceled before it fails, one in
// ten has its failure delivered twice.
func (g *generator) spread(base int64, n int) (workload, error) {
	first, later := make(phase, n), make(phase, n)
	for i := range n {
		project, ref := branch(base, i)
		steps := [][]string{{"failed"}, {"success"}}
		switch i % 10 {
		case 8:
			steps = [][]string{{"canceled"}, {"failed", "success"}}
		case 9:
			steps = [][]string{{"failed", "again"}, {"success"}}
		}
		var err error
		if first[i], err = g.script(project, ref, steps[0]...); err != nil {
			return workload{}, err
		}
		if later[i], err = g.script(project, ref, steps[1]...); err != nil {
			return workload{}, err
		}
	}
	return newWorkload(first, later), nil
}

// hot: one branch gets a storm of n failed pipelines (one in twenty
// canceled, one in twenty delivered twice), all at once, then a success.
func (g *generator) hot(base int64, n int) (workload, error) {
	project, ref := branch(base, 0)
	storm := make(phase, 0, n)
	for i := range n - 1 {
		step := "failed"
		switch i % 20 {
		case 7:
			step = "canceled"
		case 13:
			step = "again"
		}
		if i == 0 && step == "again" {
			step = "failed"
		}
		if step == "again" {
			// The same delivery once more, sent beside the others.
			last := storm[len(storm)-1][0]
			storm = append(storm, script{{alertID: last.alertID, want: last.want, body: last.body, event: last.event}})
			continue
		}
		s, err := g.script(project, ref, step)
		if err != nil {
			return workload{}, err
		}
		storm = append(storm, s)
	}
	end, err := g.script(project, ref, "success")
	if err != nil {
		return workload{}, err
	}
	return newWorkload(storm, phase{end}), nil
}

// mixed: n project-branches each run a failed pipeline, then a successful
// one, and GitLab reports every pipeline as pending and eight times as
// running before it finishes: nine webhooks in ten are to be ignored.
func (g *generator) mixed(base int64, n int) (workload, error) {
	first, later := make(phase, n), make(phase, n)
	for i := range n {
		project, ref := branch(base, i)
		var err error
		if first[i], err = g.script(project, ref, lifecycle("failed")...); err != nil {
			return workload{}, err
		}
		if later[i], err = g.script(project, ref, lifecycle("success")...); err != nil {
			return workload{}, err
		}
	}
	return newWorkload(first, later), nil
}

// lifecycle is how GitLab reports one pipeline: pending, running for
// each stage and job that starts, then the final status.
func lifecycle(final string) []string {
	steps := []string{"pending", "running"}
	for range 7 {
		steps = append(steps, "again")
	}
	return append(steps, final)
}

// open: n project-branches fail and stay failed.
func (g *generator) open(base int64, n int) (workload, error) {
	failures := make(phase, n)
	for i := range n {
		project, ref := branch(base, i)
		var err error
		if failures[i], err = g.script(project, ref, "failed"); err != nil {
			return workload{}, err
		}
	}
	return newWorkload(failures), nil
}

func newWorkload(phases ...phase) workload {
	w := workload{phases: phases}
	seen := map[string]bool{}
	for _, ph := range phases {
		for _, s := range ph {
			for _, r := range s {
				w.requests++
				if !seen[r.alertID] {
					seen[r.alertID] = true
					w.alertIDs = append(w.alertIDs, r.alertID)
				}
			}
		}
	}
	return w
}
