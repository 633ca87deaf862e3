package workflows

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/alertflow/alertflow/alert"
)

// WorkflowType is the type name AlertWorkflow is registered and listed
// under (the SDK names a workflow after its function).
const WorkflowType = "AlertWorkflow"

// Search attributes an alert keeps current, so that the Web UI and
// `temporal workflow list --query "AlertStatus='open'"` can filter alerts.
var (
	AttrStatus     = temporal.NewSearchAttributeKeyKeyword("AlertStatus")
	AttrSeverity   = temporal.NewSearchAttributeKeyKeyword("AlertSeverity")
	AttrProjectID  = temporal.NewSearchAttributeKeyInt64("GitLabProjectID")
	AttrProject    = temporal.NewSearchAttributeKeyKeyword("GitLabProject")
	AttrRef        = temporal.NewSearchAttributeKeyKeyword("GitLabRef")
	AttrPipelineID = temporal.NewSearchAttributeKeyInt64("PipelineID")
	// AttrSilencedBy is the ID of the silence holding the alert's
	// notifications back; unset when none does (RevisionSilenced on).
	AttrSilencedBy = temporal.NewSearchAttributeKeyKeyword("AlertSilencedBy")
	// AttrSilenceExpired is set on a silence's workflow expired early,
	// for the few seconds it still runs to release its alerts: the
	// workers' reads of changes find it by this, since a memo that
	// changed is not something visibility can be asked for.
	AttrSilenceExpired = temporal.NewSearchAttributeKeyBool("SilenceExpired")
	// AttrFailureClass is the failure class of the alert's newest failed
	// pipeline (infra, config or code); unset when it has none
	// (RevisionInsight on).
	AttrFailureClass = temporal.NewSearchAttributeKeyKeyword("AlertFailureClass")
	// AttrRevision is the revision the alert's run runs (RevisionShown
	// on): `AlertRevision < 12 AND ExecutionStatus = 'Running'` lists the
	// runs of older revisions still alive.
	AttrRevision = temporal.NewSearchAttributeKeyInt64("AlertRevision")
)

// SearchAttributeTypes lists every custom search attribute with its index
// type, for registering them on a server that lacks them.
func SearchAttributeTypes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		AttrStatus.GetName():         enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		AttrSeverity.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		AttrProjectID.GetName():      enumspb.INDEXED_VALUE_TYPE_INT,
		AttrProject.GetName():        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		AttrRef.GetName():            enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		AttrPipelineID.GetName():     enumspb.INDEXED_VALUE_TYPE_INT,
		AttrSilencedBy.GetName():     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		AttrSilenceExpired.GetName(): enumspb.INDEXED_VALUE_TYPE_BOOL,
		AttrFailureClass.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		AttrRevision.GetName():       enumspb.INDEXED_VALUE_TYPE_INT,
	}
}

// attrs is the set of search attribute values of an alert, comparable so
// the workflow upserts only what changed.
type attrs struct {
	status, severity, project, ref string
	projectID, pipelineID          int64
	silencedBy                     string
	// failureClass is "" for every alert before RulesInsight, so their
	// runs upsert exactly what they recorded.
	failureClass string
}

func attrsOf(s *alert.State) attrs {
	a := attrs{
		status:    string(s.Status),
		severity:  string(s.Severity),
		project:   s.Project.Path,
		ref:       s.Ref,
		projectID: s.Project.ID,
	}
	if s.Pipeline != nil {
		a.pipelineID = s.Pipeline.ID
	}
	if s.Silenced != nil {
		a.silencedBy = s.Silenced.ID
	}
	a.failureClass = string(s.FailureClass)
	return a
}

// attrsFrom reads the values an alert's search attributes have now.
func attrsFrom(sa temporal.SearchAttributes) attrs {
	var a attrs
	a.status, _ = sa.GetKeyword(AttrStatus)
	a.severity, _ = sa.GetKeyword(AttrSeverity)
	a.project, _ = sa.GetKeyword(AttrProject)
	a.ref, _ = sa.GetKeyword(AttrRef)
	a.projectID, _ = sa.GetInt64(AttrProjectID)
	a.pipelineID, _ = sa.GetInt64(AttrPipelineID)
	a.silencedBy, _ = sa.GetKeyword(AttrSilencedBy)
	a.failureClass, _ = sa.GetKeyword(AttrFailureClass)
	return a
}

// updates sets every attribute; since shows the attributes as they are,
// so that the silence marker is written only by alerts that had one, as
// the runs recorded before silences never did.
func (a attrs) updates(since attrs) []temporal.SearchAttributeUpdate {
	u := a.plain()
	switch {
	case a.silencedBy != "":
		u = append(u, AttrSilencedBy.ValueSet(a.silencedBy))
	case since.silencedBy != "":
		u = append(u, AttrSilencedBy.ValueUnset())
	}
	if a.failureClass == "" && since.failureClass != "" {
		u = append(u, AttrFailureClass.ValueUnset())
	}
	return u
}

// plain sets the attributes an alert always has, and its failure class
// when it has one.
func (a attrs) plain() []temporal.SearchAttributeUpdate {
	u := []temporal.SearchAttributeUpdate{
		AttrStatus.ValueSet(a.status),
		AttrSeverity.ValueSet(a.severity),
		AttrProjectID.ValueSet(a.projectID),
		AttrProject.ValueSet(a.project),
		AttrRef.ValueSet(a.ref),
		AttrPipelineID.ValueSet(a.pipelineID),
	}
	if a.failureClass != "" {
		u = append(u, AttrFailureClass.ValueSet(a.failureClass))
	}
	return u
}

// memoOf is what the Web UI shows of an alert beside its search attributes.
// MemoSource is the memo key naming the webhook source whose delivery
// started the run (ALERTFLOW_SOURCE_TOKENS), set by the intake.
const MemoSource = "source"

func memoOf(s *alert.State) map[string]any {
	m := map[string]any{"title": s.Title()}
	if s.Pipeline != nil && s.Pipeline.URL != "" {
		m["pipeline_url"] = s.Pipeline.URL
	}
	if jobs := s.FailedJobsLine(); jobs != "" {
		m["failed_jobs"] = jobs
	}
	if s.FailureClass != "" {
		m["failure_class"] = string(s.FailureClass)
	}
	if c := s.CulpritLine(); c != "" {
		m["culprit"] = c
	}
	return m
}

// detailsOf renders the alert as Temporal markdown for the Web UI's
// "current details": what an on-call engineer needs at a glance. Every
// value from a payload or a person is escaped (md) and links go only to
// http(s) targets (mdLink): a commit title is markdown nobody reviewed.
func detailsOf(s *alert.State) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**\n\n", md(s.Title()))
	fmt.Fprintf(&b, "Status **%s**, severity **%s** (peak %s)", md(string(s.Status)), md(string(s.Severity)), md(string(s.PeakSeverity)))
	if !s.OpenedAt.IsZero() {
		fmt.Fprintf(&b, ", opened %s", s.OpenedAt.UTC().Format(time.RFC3339))
	}
	b.WriteString("\n\n")
	if s.Status == alert.StatusAcknowledged {
		fmt.Fprintf(&b, "Acknowledged by **%s** at %s", md(s.AcknowledgedBy), s.AcknowledgedAt.UTC().Format(time.RFC3339))
		if s.AckNote != "" {
			fmt.Fprintf(&b, ": %s", md(s.AckNote))
		}
		b.WriteString("\n\n")
	}
	if s.Snoozed != nil {
		fmt.Fprintf(&b, "Snoozed by **%s** until %s", md(s.Snoozed.By), s.Snoozed.Until.UTC().Format(time.RFC3339))
		if s.Snoozed.Note != "" {
			fmt.Fprintf(&b, ": %s", md(s.Snoozed.Note))
		}
		b.WriteString("\n\n")
	}
	if sl := s.Silenced; sl != nil {
		fmt.Fprintf(&b, "Silenced by %s until %s: %d notifications held back", md(sl.ID), sl.Until.UTC().Format(time.RFC3339), sl.Suppressed)
		if sl.Unheard {
			b.WriteString(", nobody has heard of it yet")
		}
		b.WriteString("\n\n")
	}
	if !s.FlappedAt.IsZero() {
		b.WriteString(flappingDetails(s))
	}
	if s.Status == alert.StatusResolved {
		fmt.Fprintf(&b, "Resolved by **%s**: %s\n\n", md(s.ResolvedBy), md(s.Resolution))
		if rec := s.RecoveryLine(); rec != "" {
			fmt.Fprintf(&b, "Recovery: %s\n\n", md(rec))
		}
	}
	b.WriteString(insightDetails(s))
	if p := s.Pipeline; p != nil {
		fmt.Fprintf(&b, "Pipeline: %s %s", mdLink(fmt.Sprintf("#%d", p.ID), p.URL), md(p.Status))
		if p.User != "" {
			fmt.Fprintf(&b, " by %s", md(p.User))
		}
		b.WriteString("\n\n")
		if p.CommitTitle != "" {
			fmt.Fprintf(&b, "Commit: %s\n\n", mdLink(p.CommitTitle, p.CommitURL))
		}
		if len(p.FailedJobs) > 0 {
			// Markdown needs a blank line before a list.
			b.WriteString("Failed jobs:\n\n")
			for _, j := range p.FailedJobs {
				fmt.Fprintf(&b, "- **%s** (stage %s", md(j.Name), md(j.Stage))
				if j.FailureReason != "" {
					fmt.Fprintf(&b, ", %s", md(j.FailureReason))
				}
				if j.AllowFailure {
					b.WriteString(", allowed to fail")
				}
				b.WriteString(")\n")
			}
			b.WriteString("\n")
		}
	}
	if mr := s.MergeRequest; mr != nil {
		fmt.Fprintf(&b, "Merge request: %s\n\n", mdLink(fmt.Sprintf("!%d %s", mr.IID, mr.Title), mr.URL))
	}
	if p := s.InProgress; p != nil {
		fmt.Fprintf(&b, "Newer pipeline: #%d %s\n\n", p.ID, md(p.Status))
	}
	if s.Status == alert.StatusPending {
		if s.HoldUntil.IsZero() {
			b.WriteString("Held: a newer pipeline superseded it; nobody is told unless that one fails\n\n")
		} else {
			fmt.Fprintf(&b, "Held until %s: nobody is told unless no newer pipeline shows up by then\n\n", s.HoldUntil.UTC().Format(time.RFC3339))
		}
	}
	fmt.Fprintf(&b, "Events: %d (%d stale, %d duplicate", s.Counts.Events, s.Counts.Stale, s.Counts.Duplicates)
	if s.Counts.Superseded > 0 || s.Counts.Children > 0 {
		fmt.Fprintf(&b, ", %d superseded, %d of child pipelines", s.Counts.Superseded, s.Counts.Children)
	}
	b.WriteString(")")
	if s.Reminders > 0 {
		fmt.Fprintf(&b, ", reminders sent: %d", s.Reminders)
	}
	b.WriteString("\n")
	return b.String()
}

// mdEscaper backslash-escapes the characters that start inline markdown
// (emphasis, code, links, images, autolinks, HTML, entities, strike-through,
// tables, math). Block syntax needs a line start, and md keeps values on
// the line they are written on.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`, `(`, `\(`, `)`, `\)`,
	`<`, `\<`, `>`, `\>`, `&`, `\&`, `!`, `\!`, `~`, `\~`, `|`, `\|`, `{`, `\{`, `}`, `\}`, `$`, `\$`,
)

// md makes s markdown text that shows as s: inline syntax escaped, line
// breaks and other control characters turned into spaces.
func md(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return mdEscaper.Replace(s)
}

// mdDestination percent-encodes what could end or break a link target.
var mdDestination = strings.NewReplacer(`(`, `%28`, `)`, `%29`, `<`, `%3C`, `>`, `%3E`, `\`, `%5C`, ` `, `%20`, `"`, `%22`, `'`, `%27`, "`", `%60`)

// mdLink is text linked to target when target is an http(s) URL, and the
// text alone otherwise: a javascript: or data: target is never a link.
func mdLink(text, target string) string {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return md(text)
	}
	return "[" + md(text) + "](" + mdDestination.Replace(u.String()) + ")"
}

// StartOptions are the options the intake signals-with-start an alert with:
// its ID, a reuse policy that lets a new failure after a resolved alert
// start a new run (a new incident) under the same ID, and the search
// attributes, memo and summary of the alert that event would open (in
// the alert the workflow starts with in).
func StartOptions(taskQueue string, in Input, ev alert.Event) client.StartWorkflowOptions {
	s := alert.New(alert.Limits{})
	if b := in.Revision.behaviours(); b.takesRules {
		rules := in.Rules
		rules.Version = b.rules
		s = alert.NewWith(alert.Limits{}, rules, alert.Memory{})
	}
	s.Apply(ev, ev.ReceivedAt)
	return client.StartWorkflowOptions{
		ID:                    ev.AlertID(),
		TaskQueue:             taskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(append(attrsOf(s).plain(), AttrRevision.ValueSet(int64(in.Revision)))...),
		Memo:                  memoOf(s),
		// The Web UI renders the summary as markdown too.
		StaticSummary: md(summaryOf(s)),
		StaticDetails: detailsOf(s),
	}
}

// insightDetails are the Web UI's lines on who and what broke the branch:
// the culprit with the compare link from the last green, the failure
// class and the flaky jobs; "" for an alert that keeps none of them.
func insightDetails(s *alert.State) string {
	var b strings.Builder
	if c := s.Culprit; c != nil {
		fmt.Fprintf(&b, "Broken by: %s", md(s.CulpritLine()))
		if u := s.CompareURL(); u != "" {
			fmt.Fprintf(&b, " (%s)", mdLink("changes since green", u))
		}
		b.WriteString("\n\n")
	}
	if s.FailureClass != "" {
		fmt.Fprintf(&b, "Failure class: **%s**\n\n", md(string(s.FailureClass)))
	}
	if len(s.FlakyJobs) > 0 {
		b.WriteString("Flaky jobs (failed, then passed on retry):\n\n")
		for _, j := range s.FlakyJobs {
			fmt.Fprintf(&b, "- **%s** in pipeline #%d\n", md(j.Name), j.PipelineID)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// summaryOf is the Web UI's one-line summary of the alert an event opens:
// its title, and what kind of failure it is when that is known.
func summaryOf(s *alert.State) string {
	if s.FailureClass == "" {
		return s.Title()
	}
	// A middle dot, not parentheses: md escapes those, and the temporal
	// CLI prints the escapes.
	return s.Title() + " · " + string(s.FailureClass) + " failure"
}
