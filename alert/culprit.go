package alert

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// RulesInsight adds to RulesFinished what makes an alert actionable,
// without changing what pages whom: the alert records the pipeline and
// commit that broke the branch (Culprit) against the last green one
// (LastGreen), the failure class of its newest failure, how many
// pipelines failed while it was open, and the jobs that failed and then
// passed on retry (FlakyJobs); its resolve says what fixed it (Recovery).
const RulesInsight RulesVersion = 3

// Green is a successful pipeline of a ref.
type Green struct {
	PipelineID int64     `json:"pipeline_id"`
	SHA        string    `json:"sha,omitempty"`
	URL        string    `json:"url,omitempty"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// GreenOf is the green an event is, when it is the success of a ref's
// own pipeline (not a child's), and nil otherwise.
func GreenOf(ev Event) *Green {
	p := ev.Pipeline
	if p.Status != PipelineSuccess || p.IsChild() || ev.Missed != nil {
		return nil
	}
	return &Green{PipelineID: p.ID, SHA: p.SHA, URL: p.URL, FinishedAt: p.FinishedAt}
}

// newer reports whether g is a newer green than o (nil is oldest).
func (g *Green) newer(o *Green) bool {
	if g == nil {
		return false
	}
	return o == nil || g.PipelineID > o.PipelineID ||
		g.PipelineID == o.PipelineID && g.FinishedAt.After(o.FinishedAt)
}

// Culprit is the first failing pipeline of an alert (the first bad one
// until a pipeline fails) and the change it ran: where to look first.
type Culprit struct {
	PipelineID   int64  `json:"pipeline_id"`
	Status       string `json:"status"`
	URL          string `json:"url,omitempty"`
	SHA          string `json:"sha,omitempty"`
	CommitTitle  string `json:"commit_title,omitempty"`
	CommitURL    string `json:"commit_url,omitempty"`
	CommitAuthor string `json:"commit_author,omitempty"`
	// User is who ran the pipeline (pushed, merged, clicked retry).
	User string `json:"user,omitempty"`
}

// FlakyJob is a job that failed and then passed on retry in the same
// pipeline.
type FlakyJob struct {
	PipelineID    int64     `json:"pipeline_id"`
	Name          string    `json:"name"`
	Stage         string    `json:"stage,omitempty"`
	FailureReason string    `json:"failure_reason,omitempty"`
	At            time.Time `json:"at"`
}

// MaxFlakyJobs is how many flaky jobs an alert keeps, the newest.
const MaxFlakyJobs = MaxFailedJobs

// Recovery is how an alert's branch went green again.
type Recovery struct {
	// RedFor is from when the alert opened to when it resolved.
	RedFor time.Duration `json:"red_for"`
	// FailedPipelines counts the pipelines that failed while it was open
	// (a retried pipeline that failed again counts once).
	FailedPipelines int `json:"failed_pipelines"`
	// Fix is the pipeline that resolved it; nil when a person did.
	Fix *Culprit `json:"fix,omitempty"`
	// Flaky is set when the alert's only failed pipeline passed on
	// retry: the jobs were flaky, the code was not broken.
	Flaky bool `json:"flaky,omitempty"`
}

// Recovery says how the alert's branch recovered; nil until it resolved,
// and under rules before RulesInsight, which did not keep the counts.
func (s *State) Recovery() *Recovery {
	if s.Status != StatusResolved || s.Rules.Version < RulesInsight {
		return nil
	}
	r := &Recovery{FailedPipelines: s.FailedPipelines, Flaky: s.Flaky}
	if !s.OpenedAt.IsZero() && s.ResolvedAt.After(s.OpenedAt) {
		r.RedFor = s.ResolvedAt.Sub(s.OpenedAt)
	}
	if p := s.Pipeline; p != nil && p.Status == PipelineSuccess {
		r.Fix = &Culprit{PipelineID: p.ID, Status: p.Status, URL: p.URL, SHA: p.SHA,
			CommitTitle: p.CommitTitle, CommitURL: p.CommitURL, CommitAuthor: p.CommitAuthor, User: p.User}
	}
	return r
}

// CompareURL is GitLab's page of the changes from the last green commit
// to the culprit's, "<project>/-/compare/<green>...<red>", or "" when
// either is unknown, both are the same commit, or the project's URL is
// not http(s).
func (s *State) CompareURL() string {
	if s.Culprit == nil || s.LastGreen == nil || s.Culprit.SHA == "" || s.LastGreen.SHA == "" || s.Culprit.SHA == s.LastGreen.SHA {
		return ""
	}
	u, err := url.Parse(s.Project.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return strings.TrimSuffix(s.Project.URL, "/") + "/-/compare/" +
		url.PathEscape(s.LastGreen.SHA) + "..." + url.PathEscape(s.Culprit.SHA)
}

// CulpritLine is the culprit on one line, for messages: "pipeline #2 by
// Xavier: commit 1a2b3c4d "Break it" by Ximena, after green #1 (9f8e7d6c)",
// or "" when the alert has none.
func (s *State) CulpritLine() string {
	c := s.Culprit
	if c == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pipeline #%d", c.PipelineID)
	if c.User != "" {
		fmt.Fprintf(&b, " run by %s", c.User)
	}
	b.WriteString(c.commitPhrase())
	if g := s.LastGreen; g != nil && g.SHA != "" && g.SHA == c.SHA {
		// Nothing changed between green and red: the runners, the
		// environment or a flaky test did.
		fmt.Fprintf(&b, "; the same commit passed in green #%d, so no change of code broke it", g.PipelineID)
	} else if g != nil {
		fmt.Fprintf(&b, ", after green #%d", g.PipelineID)
		if g.SHA != "" {
			b.WriteString(" (" + ShortSHA(g.SHA) + ")")
		}
	} else {
		b.WriteString("; last green pipeline unknown")
	}
	return b.String()
}

// RecoveryLine is the recovery on one line: "red for 1h2m, 2 failed
// pipelines, fixed by pipeline #4: commit d4e5f6a7 "Fix it" by Dana",
// or "" when the alert has not recovered.
func (s *State) RecoveryLine() string {
	r := s.Recovery()
	if r == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "red for %s, %d failed pipeline", shortDuration(r.RedFor), r.FailedPipelines)
	if r.FailedPipelines != 1 {
		b.WriteString("s")
	}
	if f := r.Fix; f != nil {
		fmt.Fprintf(&b, ", fixed by pipeline #%d%s", f.PipelineID, f.commitPhrase())
	}
	if r.Flaky {
		b.WriteString("; flaky, not broken: its failed jobs passed on retry")
	}
	return b.String()
}

// commitPhrase is `: commit 1a2b3c4d "Title" by Author`, with what is
// known of the commit, or "" when nothing is.
func (c *Culprit) commitPhrase() string {
	if c.SHA == "" && c.CommitTitle == "" {
		return ""
	}
	phrase := ": commit"
	if c.SHA != "" {
		phrase += " " + ShortSHA(c.SHA)
	}
	if c.CommitTitle != "" {
		phrase += fmt.Sprintf(" %q", c.CommitTitle)
	}
	if c.CommitAuthor != "" {
		phrase += " by " + c.CommitAuthor
	}
	return phrase
}

// shortDuration writes d as people say it: "45s", "12m", "1h15m"; to the
// second under a minute, to the minute above.
func shortDuration(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

// ShortSHA is the first eight characters of a commit SHA, as GitLab
// shows it.
func ShortSHA(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}

// noteCause keeps, under RulesInsight, what a bad pipeline that became
// the alert's cause says of who broke the branch and how.
func (s *State) noteCause(ev Event) {
	if s.Rules.Version < RulesInsight {
		return
	}
	p := ev.Pipeline
	switch p.Status {
	case PipelineFailed:
		if p.FailureClass != "" {
			s.FailureClass = p.FailureClass
		}
		if p.ID != s.LastFailedID {
			s.FailedPipelines++
			s.LastFailedID = p.ID
		}
	case PipelineCanceled, PipelineSkipped:
		s.FailureClass = ""
	default:
		return
	}
	if s.Culprit != nil && (s.Culprit.Status == PipelineFailed || p.Status != PipelineFailed) {
		return
	}
	s.Culprit = &Culprit{PipelineID: p.ID, Status: p.Status, URL: p.URL, SHA: p.SHA,
		CommitTitle: ev.Commit.Title, CommitURL: ev.Commit.URL, CommitAuthor: ev.Commit.Author, User: ev.User}
	// The last green is the newest success before the culprit that the
	// ID remembers or the intake saw while no alert was open.
	s.LastGreen = nil
	for _, g := range []*Green{s.Memory.Green, ev.LastGreen} {
		if g != nil && g.PipelineID < p.ID && g.newer(s.LastGreen) {
			s.LastGreen = g
		}
	}
}

// noteGreen remembers, under RulesInsight, a success of the ref's own
// pipeline as the ID's newest green, for the next alert's culprit.
func (s *State) noteGreen(ev Event) {
	if s.Rules.Version < RulesInsight {
		return
	}
	if g := GreenOf(ev); g.newer(s.Memory.Green) {
		s.Memory.Green = g
	}
}

// noteFlaky records, under RulesInsight, the jobs a success of the
// alert's newest pipeline shows passed on retry: they failed in its
// earlier delivery and a pipeline succeeds only once every job that may
// not fail has passed. It reports whether every failure of that pipeline
// passed so. GitLab's payload lists only each job's latest attempt, so a
// retry that passed in a pipeline that failed again elsewhere is not
// told apart from a job no longer run, and is not counted.
func (s *State) noteFlaky(ev Event, now time.Time) (all bool) {
	prev := s.Pipeline
	if s.Rules.Version < RulesInsight || prev == nil || prev.ID != ev.Pipeline.ID || prev.Status != PipelineFailed ||
		ev.Pipeline.Status != PipelineSuccess || len(prev.FailedJobs) == 0 {
		return false
	}
	all = prev.FailedJobsOmitted == 0
	for _, j := range prev.FailedJobs {
		still := slices.ContainsFunc(ev.Pipeline.FailedJobs, func(o Job) bool { return o.Name == j.Name && o.Stage == j.Stage })
		if still {
			if !j.AllowFailure {
				all = false
			}
			continue
		}
		s.FlakyJobs = append(s.FlakyJobs, FlakyJob{PipelineID: prev.ID, Name: j.Name, Stage: j.Stage, FailureReason: j.FailureReason, At: now})
	}
	if over := len(s.FlakyJobs) - MaxFlakyJobs; over > 0 {
		s.FlakyJobs = slices.Delete(s.FlakyJobs, 0, over)
	}
	return all
}
