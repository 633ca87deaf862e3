package alert_test

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alert/alertmodel"
)

// The model-based test of the rules for real GitLab traffic (RulesGitLab,
// and RulesFinished, which every new alert runs): random sequences of
// deliveries, holds that end, branch deletions and manual actions, applied
// to a State that starts from a random memory of an earlier alert, and to
// alertmodel.GitLab, the one reference model of those rules, which the
// integration tests use too. Replay a failure with
//
//	go test ./alert -run TestGitLabRulesAgreeWithAReferenceModel -model.seed=N

const modelHold = 3 * time.Second

// staleBehindFinished counts, for the coverage check, the deliveries
// RulesFinished finds stale because a newer pipeline finished.
const staleBehindFinished alert.Outcome = "stale: older than the newest finished"

// resolvedFlaky and openedAfterGreen count, for the coverage check, the
// resolves of an alert whose one failed pipeline passed on retry, and the
// alerts that opened knowing their last green (RulesInsight).
const (
	resolvedFlaky    alert.Outcome = "resolved: flaky"
	openedAfterGreen alert.Outcome = "opened after a known green"
)

// gitlabOp is one step of a sequence under RulesGitLab.
type gitlabOp struct {
	op
	endHold, deleted bool
}

func (o gitlabOp) String() string {
	switch {
	case o.endHold:
		return "the hold's timer fires"
	case o.deleted:
		return "branch deleted by " + o.by
	}
	return o.op.String()
}

// gitlabStep makes one step: mostly the generator's deliveries (to which
// it adds retried pipelines running again, retries of older pipelines
// that finish after a newer one was canceled or skipped, and child
// pipelines), and holds that end and branch deletions.
func (g *generator) gitlabStep() gitlabOp {
	switch n := g.r.IntN(100); {
	case n < 5:
		if ev, ok := g.retryBehind(); ok {
			g.history = append(g.history, ev)
			return gitlabOp{op: op{ev: ev, how: "an older pipeline retried after a newer one was canceled or skipped"}}
		}
	case n < 10:
		return gitlabOp{endHold: true}
	case n < 12:
		return gitlabOp{op: op{by: g.pick([]string{"bob", ""})}, deleted: true}
	case n < 17:
		// A retry: the pipeline runs again with the finished time it had.
		// The states in a fixed order, so that a seed replays.
		for _, k := range slices.SortedFunc(maps.Keys(g.states), func(a, b [2]int64) int {
			return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
		}) {
			if st := g.states[k]; !st.finished.IsZero() && g.r.IntN(2) == 0 {
				ev := alert.Event{Project: alert.Project{ID: modelProject, Path: "team/app"},
					Pipeline: alert.Pipeline{ID: k[0], Ref: modelRef, Status: "running", FinishedAt: st.finished}, User: g.pick(modelUsers)}
				g.history = append(g.history, ev)
				return gitlabOp{op: op{ev: ev, how: "retried, running again"}}
			}
		}
	case n < 20:
		ev := g.fresh()
		ev.Pipeline.Source, ev.Pipeline.ParentID = alert.SourceParentPipeline, ev.Pipeline.ID
		ev.Pipeline.ID += 10
		g.history = append(g.history, ev)
		return gitlabOp{op: op{ev: ev, how: "a child pipeline"}}
	}
	return gitlabOp{op: g.step()}
}

// retryBehind is a delivery of the rule RulesFinished adds to: a pipeline
// older than one the sequence has seen canceled or skipped ran again and
// now passes or fails, later than anything before it. The states in a
// fixed order, so that a seed replays.
func (g *generator) retryBehind() (alert.Event, bool) {
	for _, k := range slices.SortedFunc(maps.Keys(g.states), func(a, b [2]int64) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	}) {
		st := g.states[k]
		if st.status != alert.PipelineCanceled && st.status != alert.PipelineSkipped || k[0] == 100 || g.r.IntN(2) == 0 {
			continue
		}
		id := 100 + g.r.Int64N(k[0]-100)
		retry := [2]int64{id, 3 + g.r.Int64N(2)}
		if _, ok := g.states[retry]; !ok {
			g.states[retry] = pipelineState{status: g.pick([]string{alert.PipelineSuccess, alert.PipelineFailed}),
				finished: modelT0.Add(time.Duration(k[0])*time.Hour + time.Duration(retry[1])*7*time.Minute)}
		}
		st = g.states[retry]
		ev := alert.Event{Project: alert.Project{ID: modelProject, Path: "team/app"},
			Pipeline: alert.Pipeline{ID: id, Ref: modelRef, Status: st.status, FinishedAt: st.finished}, User: g.pick(modelUsers)}
		if g.r.IntN(2) == 0 {
			ev.IdempotencyKey = g.newKey()
		}
		return ev, true
	}
	return alert.Event{}, false
}

// gitlabMemory is the memory an earlier alert on the ID may have left under
// rules: none, or one that ended with one of the generator's pipelines;
// under RulesFinished, with or without the newest finished pipeline (an
// alert of RulesGitLab left none).
func gitlabMemory(r *rand.Rand, rules alert.Rules) alert.Memory {
	if r.IntN(2) == 0 {
		return alert.Memory{}
	}
	id := 99 + r.Int64N(4)
	end := alert.Mark{Family: id, ID: id, FinishedAt: modelT0.Add(time.Duration(id) * time.Hour)}
	mem := alert.Memory{Verdict: end, Closed: end, Newest: id}
	if rules.Version >= alert.RulesFinished && r.IntN(2) == 0 {
		mem.Finished = id
	}
	if rules.Version >= alert.RulesInsight && r.IntN(2) == 0 {
		mem.Green = &alert.Green{PipelineID: id - r.Int64N(2)}
	}
	return mem
}

// gitlabRules are the rules of a sequence: a third each RulesGitLab and
// RulesFinished, which alerts recorded before still run, and
// RulesInsight; every fifth one announces a cancel or skip at once (no
// hold), as an alertflow configured without a hold does, the others hold
// it for modelHold.
func gitlabRules(seq int) alert.Rules {
	r := alert.Rules{Version: alert.RulesInsight, Hold: modelHold}
	switch seq % 3 {
	case 0:
		r.Version = alert.RulesGitLab
	case 1:
		r.Version = alert.RulesFinished
	}
	if seq%5 == 4 {
		r.Hold = 0
	}
	return r
}

// gitlabSequence is one generated sequence and what it starts from.
type gitlabSequence struct {
	mem    alert.Memory
	limits alert.Limits
	rules  alert.Rules
	ops    []gitlabOp
}

func generateGitLab(seed uint64, seq int) gitlabSequence {
	g := &generator{r: rand.New(rand.NewPCG(seed, uint64(seq))), states: map[[2]int64]pipelineState{}}
	rules := gitlabRules(seq)
	mem := gitlabMemory(g.r, rules)
	ops := make([]gitlabOp, 1+g.r.IntN(modelMaxSteps))
	for i := range ops {
		ops[i] = g.gitlabStep()
	}
	return gitlabSequence{mem: mem, limits: limitsOf(seq), rules: rules, ops: ops}
}

// runGitLabSequence applies the steps of sq to a State and to the model
// and reports the first step where they part.
func runGitLabSequence(sq gitlabSequence, seen *modelRun) (failedAt int, err error) {
	s := alert.NewWith(sq.limits, sq.rules, sq.mem)
	m := alertmodel.NewFor(sq.rules, sq.limits, sq.mem)
	for i, o := range sq.ops {
		now := modelT0.Add(time.Duration(i) * time.Second)
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			switch {
			case o.endHold:
				got, ok := s.EndHold(now)
				if want := m.EndHold(now); ok != want || ok && got != alert.OutcomeOpened {
					return fmt.Errorf("end of hold: %q %v, model %v", got, ok, want)
				}
				if ok {
					seen.outcomes["opened after the hold"]++
				}
			case o.deleted:
				if got, want := s.DeleteBranch(alert.Deletion{By: o.by}, now), m.DeleteBranch(o.by, now); got != want {
					return fmt.Errorf("branch deleted: %q, model %q", got, want)
				}
			case o.kind == opEvent:
				got, want := s.Apply(o.ev, now), m.Apply(o.ev, now)
				if got != want {
					return fmt.Errorf("outcome %q, model %q", got, want)
				}
				seen.outcomes[got]++
				if last := s.Timeline[len(s.Timeline)-1]; got == alert.OutcomeStale && strings.HasSuffix(last.Note, "the newest finished") {
					seen.outcomes[staleBehindFinished]++
				}
				if got == alert.OutcomeResolved && s.Flaky {
					seen.outcomes[resolvedFlaky]++
				}
				if got == alert.OutcomeOpened && s.LastGreen != nil {
					seen.outcomes[openedAfterGreen]++
				}
			case o.kind == opAcknowledge:
				changed, err := s.Acknowledge(alert.Acknowledgement{By: o.by, Note: o.text}, now)
				wantChanged, wantErr := m.Acknowledge(o.by, o.text, now)
				if changed != wantChanged || !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
					return fmt.Errorf("acknowledge: changed %v err %v, model changed %v err %v", changed, err, wantChanged, wantErr)
				}
			case o.kind == opResolve:
				err := s.Resolve(alert.Resolution{By: o.by, Reason: o.text}, now)
				if wantErr := m.Resolve(o.by, o.text, now); !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
					return fmt.Errorf("resolve: err %v, model err %v", err, wantErr)
				}
			}
			if err := m.Agrees(s); err != nil {
				return err
			}
			c := s.Counts
			if c.Events != c.Applied+c.Stale+c.Duplicates+c.Ignored+c.Superseded+c.Children {
				return fmt.Errorf("counts do not add up: %+v", c)
			}
			return nil
		}()
		if err != nil {
			return i, err
		}
	}
	return -1, nil
}

func TestGitLabRulesAgreeWithAReferenceModel(t *testing.T) {
	seed := modelSeed(t)
	seen := newModelRun()
	steps := 0
	for seq := range *modelSequencesFlag {
		sq := generateGitLab(seed, seq)
		steps += len(sq.ops)
		at, err := runGitLabSequence(sq, seen)
		if err == nil {
			continue
		}
		minimal := sq
		minimal.ops = alertmodel.Shrink(sq.ops[:at+1], func(ops []gitlabOp) bool {
			shorter := sq
			shorter.ops = ops
			_, err := runGitLabSequence(shorter, newModelRun())
			return err != nil
		})
		_, minErr := runGitLabSequence(minimal, newModelRun())
		var b strings.Builder
		for i, o := range minimal.ops {
			fmt.Fprintf(&b, "\n  %2d: %s", i, o)
		}
		t.Fatalf("seed %d, sequence %d (memory %+v, limits %+v, rules %+v) fails at step %d: %v\n"+
			"minimal failing steps (%d of %d), failing with: %v%s\n"+
			"replay: go test ./alert -run TestGitLabRulesAgreeWithAReferenceModel -model.seed=%d",
			seed, seq, sq.mem, sq.limits, sq.rules, at, err, len(minimal.ops), at+1, minErr, b.String(), seed)
	}
	for _, o := range []alert.Outcome{alert.OutcomeOpened, alert.OutcomeHeld, "opened after the hold", alert.OutcomeSuperseded,
		alert.OutcomeProgress, alert.OutcomeChild, alert.OutcomeNoVerdict, alert.OutcomeSeverityChanged, alert.OutcomeUpdated,
		alert.OutcomeResolved, alert.OutcomeStale, alert.OutcomeDuplicate, alert.OutcomeIgnored, alert.OutcomeReopen,
		staleBehindFinished, resolvedFlaky, openedAfterGreen} {
		if seen.outcomes[o] == 0 && *modelSequencesFlag >= 1000 {
			t.Errorf("no sequence reached outcome %q", o)
		}
	}
	t.Logf("seed %d: %d sequences, %d steps; outcomes %v", seed, *modelSequencesFlag, steps, seen.outcomes)
}
