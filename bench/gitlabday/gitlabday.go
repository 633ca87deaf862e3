// Package gitlabday generates a day of a GitLab instance's webhook traffic,
// compressed, for alertflow's soak: projects in nested groups, their
// default, protected, merge-request and feature branches and tags, each
// pipeline with the hooks GitLab really sends for it (pending, running,
// then its end), retries, auto-cancelled pipelines, [skip ci], child
// pipelines, the same delivery from a project and a group hook, resends,
// late deliveries, push hooks of real size, branch deletions, the event
// kinds alertflow ignores, and people acknowledging, snoozing and
// resolving alerts.
//
// The traffic of one branch is a script, played in order; scripts of
// different branches interleave freely. Each script stays where the
// outcome does not depend on timing (alertmodel.Branch says where that
// is): a branch opens at most MaxAlerts alerts (fewer than the flapping
// threshold), and nothing older than an alert's resolve is sent after it.
package gitlabday

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/alertflow/alertflow/alert/alertmodel"
	"github.com/alertflow/alertflow/bench/payload"
	"github.com/alertflow/alertflow/ingress"
)

// Operations of people on an alert, and the branch deletion.
const (
	OpAcknowledge = "acknowledge"
	OpSnooze      = "snooze"
	OpResolve     = "resolve"
)

// Step is one thing that happens to a branch: a delivery, or a person
// acting on its alert (Op).
type Step struct {
	// Event is the X-Gitlab-Event header; Body the JSON GitLab sends; Key
	// the Idempotency-Key (GitLab's resends keep it, another hook's copy
	// has its own).
	Event string
	Body  []byte
	Key   string
	// Pipeline says the delivery is a pipeline event; Deletion that it is
	// a push that deleted the branch.
	Pipeline, Deletion bool
	// Op, when set, is a person acting on the branch's alert instead.
	Op string
}

// Branch is the script of one project's ref.
type Branch struct {
	ProjectID int64
	Path      string
	Ref       string
	Steps     []Step
}

// Options shape the day.
type Options struct {
	// Seed makes the day reproducible.
	Seed uint64
	// Projects in nested groups under Group; their ids start at IDBase+1,
	// and pipeline ids at IDBase*1000: runs against one server with
	// different bases never meet.
	Projects int
	Group    string
	IDBase   int64
	// Deliveries is about how many webhook deliveries the day holds.
	Deliveries int
	// FailRate is the share of pipelines that fail (about 5 % in a real
	// day); the others mostly succeed, some are cancelled or skipped.
	FailRate float64
	// MaxAlerts bounds the alerts one branch opens: below the flapping
	// threshold, so that every alert's course is the rules' alone.
	MaxAlerts int
	// Now is when the day ends: the finished times are before it.
	Now time.Time
	// Template is a real pipeline delivery the bodies are built from.
	Template *payload.Builder
}

// Generate returns the day's branch scripts.
func Generate(o Options) ([]*Branch, error) {
	g := &gen{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), pipeline: o.IDBase * 1000,
		step: max(2*time.Second, 4*24*time.Hour/time.Duration(max(1, o.Deliveries)))}
	if o.MaxAlerts <= 0 {
		g.o.MaxAlerts = 2
	}
	for p := range o.Projects {
		id := o.IDBase + int64(p) + 1
		path := fmt.Sprintf("%s/group-%d/team-%d/project-%d", o.Group, p%7, p%3, id)
		refs := []string{"main"}
		if p%4 == 0 {
			refs = append(refs, "release/1.x")
		}
		for f := range 1 + p%3 {
			refs = append(refs, fmt.Sprintf("feature/change-%d", f))
		}
		if p%5 == 0 {
			refs = append(refs, "v1.0."+fmt.Sprint(p))
		}
		for _, ref := range refs {
			g.branches = append(g.branches, &Branch{ProjectID: id, Path: path, Ref: ref})
		}
	}
	// Pipelines go round the branches, each a few, until the day is full.
	for g.deliveries < o.Deliveries {
		b := g.branches[g.rng.IntN(len(g.branches))]
		if err := g.pipelineOn(b); err != nil {
			return nil, err
		}
	}
	for _, b := range g.branches {
		if isFeature(b.Ref) && g.rng.IntN(3) == 0 {
			if err := g.push(b, true); err != nil {
				return nil, err
			}
		}
	}
	return g.branches, nil
}

type gen struct {
	o          Options
	rng        *rand.Rand
	branches   []*Branch
	pipeline   int64
	deliveries int
	keys       int
	// models follow each branch as alertflow will, so that a script
	// opens no more than MaxAlerts alerts.
	models map[*Branch]*alertmodel.Branch
	// deleted branches get no more traffic.
	deleted map[*Branch]bool
	// ticks counts the finished times handed out, step apart.
	ticks int
	step  time.Duration
}

func isFeature(ref string) bool { return len(ref) > 8 && ref[:8] == "feature/" }
func isTag(ref string) bool     { return len(ref) > 1 && ref[0] == 'v' }

// at is the finished time of the next pipeline state: the day's states
// spread over its 24 hours, at least a second apart (alerts order the
// states of one pipeline by the second).
func (g *gen) at() time.Time {
	g.ticks++
	return g.o.Now.Add(-24 * time.Hour).Add(time.Duration(g.ticks) * g.step).Truncate(time.Second)
}

func (g *gen) key() string {
	g.keys++
	return fmt.Sprintf("soak-%d-%d", g.o.IDBase, g.keys)
}

func (g *gen) add(b *Branch, s Step) {
	if s.Op == "" {
		g.deliveries++
	}
	b.Steps = append(b.Steps, s)
}

// state is one pipeline delivery; twice sends a group hook's copy too.
func (g *gen) state(b *Branch, p payload.Pipeline, twice bool) (Step, error) {
	p.ProjectID, p.Path, p.Ref, p.Tag = b.ProjectID, b.Path, b.Ref, isTag(b.Ref)
	if p.Source == "" && isFeature(b.Ref) {
		p.Source = "merge_request_event"
	}
	if p.Jobs == 0 && p.Status != "skipped" {
		p.Jobs = 4
	}
	body, err := g.o.Template.Build(p)
	if err != nil {
		return Step{}, err
	}
	s := Step{Event: "Pipeline Hook", Body: body, Key: g.key(), Pipeline: true}
	if err := g.deliver(b, s); err != nil {
		return Step{}, err
	}
	if twice {
		return s, g.deliver(b, Step{Event: "Pipeline Hook", Body: body, Key: g.key(), Pipeline: true})
	}
	return s, nil
}

// deliver adds a pipeline delivery, and shows it to the branch's model as
// the intake will hand it to the alert.
func (g *gen) deliver(b *Branch, s Step) error {
	ev, _, err := ingress.ParsePipelineEvent(s.Body)
	if err != nil {
		return fmt.Errorf("the intake would refuse a generated pipeline body: %w", err)
	}
	ev.IdempotencyKey = s.Key
	g.model(b).Deliver(ev)
	g.add(b, s)
	return nil
}

func (g *gen) model(b *Branch) *alertmodel.Branch {
	m := g.models[b]
	if m == nil {
		m = &alertmodel.Branch{}
		g.models[b] = m
	}
	return m
}

func (g *gen) push(b *Branch, deleted bool) error {
	body, err := payload.BuildPush(payload.Push{ProjectID: b.ProjectID, Path: b.Path, Ref: b.Ref, Tag: isTag(b.Ref),
		Deleted: deleted, Commits: 1 + g.rng.IntN(20), Files: 1 + g.rng.IntN(10), At: g.o.Now.Add(-time.Duration(g.rng.IntN(86400)) * time.Second)})
	if err != nil {
		return err
	}
	kind := "Push Hook"
	if isTag(b.Ref) {
		kind = "Tag Push Hook"
	}
	g.add(b, Step{Event: kind, Body: body, Key: g.key(), Deletion: deleted})
	if deleted {
		if g.deleted == nil {
			g.deleted = map[*Branch]bool{}
		}
		g.deleted[b] = true
		g.model(b).DeleteBranch("soak")
	}
	return nil
}

// ignored adds a delivery of an event kind alertflow ignores.
func (g *gen) ignored(b *Branch) {
	kinds := []struct{ event, kind string }{{"Job Hook", "build"}, {"Merge Request Hook", "merge_request"}, {"Note Hook", "note"}}
	k := kinds[g.rng.IntN(len(kinds))]
	body := fmt.Appendf(nil, `{"object_kind":%q,"project_id":%d,"project":{"id":%d,"path_with_namespace":%q},"ref":%q}`,
		k.kind, b.ProjectID, b.ProjectID, b.Path, b.Ref)
	g.add(b, Step{Event: k.event, Body: body, Key: g.key()})
}

// pipelineOn plays one pipeline on b: the push that made it, its hooks,
// and what befell it.
func (g *gen) pipelineOn(b *Branch) error {
	if g.models == nil {
		g.models = map[*Branch]*alertmodel.Branch{}
	}
	if g.deleted[b] {
		return nil
	}
	if !isTag(b.Ref) || len(b.Steps) == 0 {
		if err := g.push(b, false); err != nil {
			return err
		}
	}
	if g.rng.IntN(4) == 0 {
		g.ignored(b)
	}
	g.pipeline += 1 + int64(g.rng.IntN(3))
	id := g.pipeline
	twice := g.rng.IntN(5) == 0 // a project hook and a group hook
	if _, err := g.state(b, payload.Pipeline{ID: id, Status: "pending"}, twice); err != nil {
		return err
	}
	running := payload.Pipeline{ID: id, Status: "running"}
	if _, err := g.state(b, running, twice); err != nil {
		return err
	}
	m := g.model(b)
	mayOpen := m.Open() || m.Alerts < g.o.MaxAlerts
	r := g.rng.Float64()
	switch {
	case r < 0.03:
		// [skip ci]: skipped, no jobs, no finished time.
		if !mayOpen {
			return g.end(b, id, "success", twice)
		}
		return g.bad(b, payload.Pipeline{ID: id, Status: "skipped"}, twice)
	case r < 0.08 && mayOpen && (m.Open() || !m.Started()):
		// Auto-cancel: a newer push supersedes it; its cancel comes after
		// the newer pipeline's first hook, then the newer one ends. Not
		// right after a resolve: the run that resolved may still take the
		// newer pipeline's hook and find the cancel superseded, where a
		// fresh run would open an alert (alertmodel.Branch refuses it).
		g.pipeline++
		newer := g.pipeline
		if _, err := g.state(b, payload.Pipeline{ID: newer, Status: "pending"}, false); err != nil {
			return err
		}
		if _, err := g.state(b, payload.Pipeline{ID: id, Status: "canceled", FinishedAt: g.at()}, twice); err != nil {
			return err
		}
		return g.end(b, newer, g.verdict(mayOpen), false)
	case r < 0.08+g.o.FailRate && mayOpen:
		if err := g.bad(b, payload.Pipeline{ID: id, Status: "failed", FailedJobs: 1 + g.rng.IntN(2), FinishedAt: g.at()}, twice); err != nil {
			return err
		}
		if g.rng.IntN(8) == 0 {
			// A child pipeline of it fails too: recorded only.
			if _, err := g.state(b, payload.Pipeline{ID: id + 1, Status: "failed", FailedJobs: 1, FinishedAt: g.at(), Source: "parent_pipeline", ParentID: id}, false); err != nil {
				return err
			}
			g.pipeline++
		}
		g.operate(b)
		if g.rng.IntN(3) == 0 {
			// Retried: running again (with the old finished time, which
			// the alert takes as sent before it finished), then it passes.
			if _, err := g.state(b, running, false); err != nil {
				return err
			}
			return g.end(b, id, "success", false)
		}
		return nil
	}
	return g.end(b, id, "success", twice)
}

// verdict is how a pipeline that got to run ends.
func (g *gen) verdict(mayOpen bool) string {
	if mayOpen && g.rng.Float64() < g.o.FailRate {
		return "failed"
	}
	return "success"
}

// bad delivers a bad end of a pipeline, which opens an alert on a branch
// with none.
func (g *gen) bad(b *Branch, p payload.Pipeline, twice bool) error {
	if p.Status == "failed" {
		p.FailedJobs = max(p.FailedJobs, 1)
	}
	s, err := g.state(b, p, twice)
	if err != nil {
		return err
	}
	if g.rng.IntN(10) == 0 && g.model(b).Open() {
		// GitLab resends the delivery (Resend request): same key, while
		// the alert is still open.
		return g.deliver(b, s)
	}
	return nil
}

// end delivers a pipeline's last state: a success resolves the branch's
// alert, a late running hook after it changes nothing.
func (g *gen) end(b *Branch, id int64, status string, twice bool) error {
	if status == "failed" {
		return g.bad(b, payload.Pipeline{ID: id, Status: status, FailedJobs: 1, FinishedAt: g.at()}, twice)
	}
	if _, err := g.state(b, payload.Pipeline{ID: id, Status: status, FinishedAt: g.at()}, twice); err != nil {
		return err
	}
	if g.rng.IntN(10) == 0 {
		// A running hook delivered after the pipeline finished.
		_, err := g.state(b, payload.Pipeline{ID: id, Status: "running"}, false)
		return err
	}
	return nil
}

// operate has people act on an open alert now and then.
func (g *gen) operate(b *Branch) {
	m := g.model(b)
	if !m.Open() {
		return
	}
	switch r := g.rng.IntN(20); {
	case r < 3:
		g.add(b, Step{Op: OpAcknowledge})
		_ = m.Acknowledge(Operator, "on it")
	case r < 5:
		g.add(b, Step{Op: OpSnooze})
	case r < 6:
		g.add(b, Step{Op: OpResolve})
		_ = m.Resolve(Operator, "fixed by hand")
	}
}

// Operator is who acts on the soak's alerts.
const Operator = "soak-operator"
