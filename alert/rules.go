package alert

import (
	"fmt"
	"time"
)

// RulesVersion numbers the rule sets an alert can be applied with. An alert
// keeps the version it was created with, so that a run recorded under one
// rule set replays under it.
type RulesVersion int

const (
	// RulesFirst (zero, as every state recorded before versions has it)
	// orders every delivery by pipeline id, lets any bad status move the
	// severity either way, and knows nothing of earlier alerts on its ID.
	RulesFirst RulesVersion = 0
	// RulesGitLab follows how GitLab really delivers pipeline events (see
	// docs/design.md, rules 8 to 12): stale after the resolve across runs,
	// superseded cancels and skips held, no verdict from canceled or
	// skipped, child pipelines by family.
	RulesGitLab RulesVersion = 1
	// RulesFinished adds to RulesGitLab what GitLab's own ref status does
	// (docs/design.md, rule 4): only the newest finished pipeline (success,
	// failed or canceled; skipped is not finished to GitLab) speaks for the
	// ref, so a success or failure of an older pipeline, a retry included,
	// is stale once a newer one has finished, even canceled.
	RulesFinished RulesVersion = 2
)

// ChildMode says what child pipelines (source "parent_pipeline") do.
type ChildMode string

const (
	// ChildParent is GitLab's own rule: the parent speaks for the family,
	// child events are only recorded.
	ChildParent ChildMode = "parent"
	// ChildAlert lets child pipelines open and resolve alerts, ordered by
	// their parent's pipeline id, for teams that trigger children without
	// strategy: depend.
	ChildAlert ChildMode = "alert"
)

// ParseChildMode reads a ChildMode from configuration; "" is ChildParent.
func ParseChildMode(s string) (ChildMode, error) {
	switch ChildMode(s) {
	case "", ChildParent:
		return ChildParent, nil
	case ChildAlert:
		return ChildAlert, nil
	}
	return "", fmt.Errorf("%q is neither %q nor %q", s, ChildParent, ChildAlert)
}

// Rules choose how an alert applies events. They travel with its state.
type Rules struct {
	Version RulesVersion `json:"version,omitempty"`
	// Hold is how long a canceled or skipped pipeline that opens an alert
	// waits for a newer pipeline to supersede it before people hear of
	// it. Zero announces it at once.
	Hold time.Duration `json:"hold,omitempty"`
	// Children is what child pipelines do; "" means ChildParent.
	Children ChildMode `json:"children,omitempty"`
	// FlapThreshold is how many alerts on one ID must have opened and
	// resolved within FlapWindow for the next one to be flapping; zero
	// turns flapping detection off.
	FlapThreshold int `json:"flap_threshold,omitempty"`
	// FlapWindow is how far back resolves count, and how long a flapping
	// branch must stay green to be stable; zero is DefaultFlapWindow.
	FlapWindow time.Duration `json:"flap_window,omitempty"`
}

// Memory is what an alert ID remembers across its alerts: the newest
// pipelines it has seen, so that a delivery older than the end of the
// previous alert opens nothing. Each run hands it to the next.
type Memory struct {
	// Verdict is the newest pipeline whose failure or success was applied.
	Verdict Mark `json:"verdict,omitzero"`
	// Closed is the newest pipeline of the last alert when it was resolved:
	// nothing that is not newer may open another.
	Closed Mark `json:"closed,omitzero"`
	// Newest is the newest pipeline (family) id seen with any status.
	Newest int64 `json:"newest,omitempty"`
	// Finished is the newest pipeline (family) id seen finished: success,
	// failed or canceled (RulesFinished on; zero before).
	Finished int64 `json:"finished,omitempty"`
	// Resolves are when the ID's recent alerts resolved, oldest first:
	// those within the flapping window, at most Rules.FlapThreshold.
	Resolves []time.Time `json:"resolves,omitempty"`
	// Green is the newest success of the ref seen (RulesInsight on): the
	// next alert's last green.
	Green *Green `json:"green,omitempty"`
}

// Mark places a pipeline state in the order of a ref's pipelines.
type Mark struct {
	// Family is the pipeline id deliveries are ordered by: the pipeline's
	// own, or its parent's for a child that alerts.
	Family int64 `json:"family"`
	// ID is the pipeline's own id.
	ID int64 `json:"id,omitempty"`
	// FinishedAt orders the states of one family: a retried pipeline keeps
	// its id and finishes again later. Truncated to the second, because
	// GitLab writes the same time with and without milliseconds.
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// after reports whether m is strictly newer than o.
func (m Mark) after(o Mark) bool {
	if m.Family != o.Family {
		return m.Family > o.Family
	}
	return !m.FinishedAt.IsZero() && !o.FinishedAt.IsZero() && m.FinishedAt.After(o.FinishedAt)
}

// IsChild reports whether the pipeline is a child pipeline of another in the
// same project. A multi-project downstream pipeline (source "pipeline") is
// not: it is an ordinary pipeline of its own project.
func (p Pipeline) IsChild() bool {
	return p.Source == SourceParentPipeline
}

// SourceParentPipeline is the source GitLab gives child pipelines.
const SourceParentPipeline = "parent_pipeline"

// markOf places p under the rules r.
func (r Rules) markOf(p Pipeline) Mark {
	m := Mark{Family: p.ID, ID: p.ID, FinishedAt: p.FinishedAt.Truncate(time.Second)}
	if p.IsChild() && p.ParentID > 0 {
		m.Family = p.ParentID
	}
	return m
}

// children is r.Children with its default.
func (r Rules) children() ChildMode {
	if r.Children == "" {
		return ChildParent
	}
	return r.Children
}
