package integration

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/alertflow/alertflow/alert"
)

// The planner of the shuffled-delivery test: it builds the deliveries of
// each branch and runs the branch model (model_test.go) over them as it
// goes, so every delivery knows the answer it must get.

// e2eDelivery is one webhook post and what became of it.
type e2eDelivery struct {
	event pipelineEvent
	want  expectedAnswer
	got   answer
	err   error
}

// e2eStep is what one branch sends before its next step: one delivery, or
// several at once (concurrent).
type e2eStep struct {
	deliveries []*e2eDelivery
	concurrent bool
}

type e2eBranch struct {
	branch
	steps  []*e2eStep
	model  branchModel
	bodies map[pipelineEvent][]byte
	keys   map[pipelineEvent]string
	// events are what the intake makes of each body, for the model.
	events map[pipelineEvent]alert.Event
	unique int
}

// e2eScript says what kind of history a branch gets.
type e2eScript int

const (
	scriptRandom       e2eScript = iota
	scriptOnlyGreen              // successes only: no alert ever
	scriptEndsResolved           // whatever happens, a success resolves it last
)

// planner builds the deliveries of one branch and runs the model over them
// as it goes, so every delivery knows the answer it must get.
type planner struct {
	t    *testing.T
	rng  *rand.Rand
	b    *e2eBranch
	next int64
}

func (p *planner) fresh() int64 {
	p.next += 1 + p.rng.Int64N(3)
	return p.next
}

func (p *planner) event(pipeline int64, status string) pipelineEvent {
	e := pipelineEvent{pipeline, status}
	if _, ok := p.b.bodies[e]; !ok {
		p.b.bodies[e] = payload(p.t, p.b.project, p.b.ref, pipeline, status)
		if p.rng.IntN(2) == 0 {
			// Half the events come with GitLab's Idempotency-Key, half
			// without (older GitLab): the content key must dedupe alone.
			p.b.keys[e] = fmt.Sprintf("e2e-%s-%d-%s", p.b.id(), pipeline, status)
		}
		p.b.events[e] = intakeEvent(p.t, p.b.bodies[e], p.b.keys[e])
		p.b.unique++
	}
	return e
}

// sequential adds deliveries sent one after another, in this order.
func (p *planner) sequential(events ...pipelineEvent) {
	for i := 0; i < len(events); i++ {
		e := events[i]
		if i+1 < len(events) && events[i+1] == e && e.opens() && p.rng.IntN(2) == 0 {
			// GitLab's resend racing the first delivery. Not for a
			// success: the copy that comes second may find the resolved
			// run closed (none) or not (signaled), and which copy that is
			// is not known.
			d1, d2 := &e2eDelivery{event: e}, &e2eDelivery{event: e}
			d1.want, d2.want = p.b.model.Deliver(p.b.events[e]), p.b.model.Deliver(p.b.events[e])
			p.b.steps = append(p.b.steps, &e2eStep{deliveries: []*e2eDelivery{d1, d2}, concurrent: true})
			i++
			continue
		}
		d := &e2eDelivery{event: e, want: p.b.model.Deliver(p.b.events[e])}
		p.b.steps = append(p.b.steps, &e2eStep{deliveries: []*e2eDelivery{d}})
	}
}

// badStatuses are the bad pipelines the reliability tests send in groups
// and bursts: failures only. The model knows cancels and skips too, but
// what one does (no verdict, held, superseded) depends on the order it
// arrives in among newer pipelines, which a burst leaves open; the
// domain's own model test (alert/) and the delivery sequences of
// traffic_test.go cover them. The one cancel plan sends is on its own,
// newer than everything, to an open HIGH alert: no verdict, whatever came
// before.
var badStatuses = []string{alert.PipelineFailed}

// badGroup: k new bad pipelines, each delivered twice, the 2k deliveries
// in shuffled order (an older pipeline after a newer one is stale).
func (p *planner) badGroup(k int) {
	var ds []pipelineEvent
	for range k {
		e := p.event(p.fresh(), badStatuses[p.rng.IntN(len(badStatuses))])
		ds = append(ds, e, e)
	}
	p.rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
	p.sequential(ds...)
}

// burst: k new bad pipelines, each delivered twice, all 2k at once.
func (p *planner) burst(k int) {
	events := make([]alert.Event, k)
	step := &e2eStep{concurrent: true}
	for i := range events {
		e := p.event(p.fresh(), badStatuses[p.rng.IntN(len(badStatuses))])
		events[i] = p.b.events[e]
		step.deliveries = append(step.deliveries, &e2eDelivery{event: e}, &e2eDelivery{event: e})
	}
	p.b.model.Burst(events)
	p.b.steps = append(p.b.steps, step)
}

// success: a green pipeline with the given id, delivered twice.
func (p *planner) success(pipeline int64) {
	e := p.event(pipeline, alert.PipelineSuccess)
	p.sequential(e, e)
}

func (p *planner) plan(script e2eScript, budget int) {
	m := &p.b.model
	if script == scriptOnlyGreen {
		p.success(p.fresh())
		p.success(p.fresh())
		return
	}
	for p.b.unique < budget {
		r := p.rng.IntN(100)
		switch {
		case !m.Open() && r < 15:
			// Green with no alert: none (or the closing run ignores it).
			p.success(p.fresh())
		case !m.Open() && r < 75, m.Open() && r < 35:
			p.badGroup(1 + p.rng.IntN(3))
		case !m.Open(), r < 55:
			p.burst(2 + p.rng.IntN(2))
		case r < 80:
			// A newer pipeline succeeded: resolves.
			p.success(p.fresh())
		case r < 85:
			// The newest pipeline, retried, succeeded: resolves too.
			p.success(m.Newest())
		case r < 90:
			// A newer pipeline was canceled, then the alert's pipeline,
			// retried, succeeded: stale, for only the newest finished
			// pipeline speaks for the branch.
			p.sequential(p.event(p.fresh(), alert.PipelineCanceled))
			p.success(m.Newest())
		default:
			// An older pipeline succeeded: stale, resolves nothing.
			p.success(m.Newest() - 1)
		}
	}
	if script == scriptEndsResolved {
		if !m.Open() {
			p.badGroup(1)
		}
		p.success(p.fresh())
	}
}
