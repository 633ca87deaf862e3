// Package teams delivers alertflow notifications to Microsoft Teams through
// a Workflows (Power Automate) webhook, or an incoming webhook, as an
// Adaptive Card: what happened, the severity, project, branch, pipeline
// and who broke it as facts, the failed jobs, and a button to the pipeline.
package teams

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alertview"
	"github.com/alertflow/alertflow/notify"
)

// Bounds that keep a card well within Teams' 28 KB message limit whatever
// a pipeline or a person sends.
const (
	maxJobs = 10
	maxText = 300
	maxNote = 1000
)

// Notifier posts notifications to one Teams webhook. It implements
// notify.Notifier.
type Notifier struct {
	url    string
	client *http.Client
}

// New returns a notifier posting to the webhook url. The URL is the
// webhook's credential (a Workflows URL carries its signature in the
// query): it never appears in errors or logs. A nil client means
// notify.DefaultHTTPClient().
func New(url string, client *http.Client) *Notifier {
	if client == nil {
		client = notify.DefaultHTTPClient()
	}
	return &Notifier{url: url, client: client}
}

// Notify posts n as a card. A Workflows webhook answers 202 Accepted (an
// incoming webhook 200); 429 waits for Retry-After and 5xx is retried, as
// notify.CheckStatus classifies them; any other 4xx (a flow deleted or
// turned off, a malformed card) is permanent.
func (t *Notifier) Notify(ctx context.Context, n notify.Notification) error {
	if err := notify.PostJSON(ctx, t.client, t.url, Format(n)); err != nil {
		return fmt.Errorf("send Teams notification %s: %w", n.ID, err)
	}
	return nil
}

// Message is what a Teams webhook takes: one attachment, the card.
type Message struct {
	Type        string       `json:"type"`
	Attachments []Attachment `json:"attachments"`
}

// Attachment carries an Adaptive Card. ContentURL is always null: Teams
// wants the key present.
type Attachment struct {
	ContentType string  `json:"contentType"`
	ContentURL  *string `json:"contentUrl"`
	Content     Card    `json:"content"`
}

// Card is an Adaptive Card, version 1.4 (what Teams renders).
type Card struct {
	Schema  string    `json:"$schema"`
	Type    string    `json:"type"`
	Version string    `json:"version"`
	Body    []Element `json:"body"`
	Actions []Action  `json:"actions,omitempty"`
}

// Element is a TextBlock (Text) or a FactSet (Facts).
type Element struct {
	Type   string `json:"type"`
	Text   string `json:"text,omitempty"`
	Weight string `json:"weight,omitempty"`
	Size   string `json:"size,omitempty"`
	Color  string `json:"color,omitempty"`
	Wrap   bool   `json:"wrap,omitempty"`
	Facts  []Fact `json:"facts,omitempty"`
}

// Fact is one row of a FactSet.
type Fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// Action is an Action.OpenUrl button.
type Action struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Format lays out n as a Teams message:
//
//	[HIGH] Pipeline #31 failed on gitlab-org/gitlab-test@master   (bold, red)
//	Opened · pipeline by Administrator
//	Severity HIGH · Project gitlab-org/gitlab-test · Branch master ·
//	Pipeline #31 failed · Broken by … · Failure class … · Alert 1-master
//	Failed jobs: - test-build (test): script_failure
//	[Open pipeline] [Changes since green] [Merge request !12]
//
// Teams renders a subset of Markdown in text and facts: every text that
// comes from GitLab or a person is escaped, so a branch name cannot forge
// a link or restyle the card.
func Format(n notify.Notification) Message {
	s := n.Alert
	links := n.Links()
	body := []Element{
		{Type: "TextBlock", Text: "[" + label(s) + "] " + escape(notify.Clip(title(n), maxText)), Weight: "Bolder", Size: "Medium", Color: color(s), Wrap: true},
		{Type: "TextBlock", Text: action(n), Wrap: true},
	}
	if n.RoutingFailed {
		body = append(body, Element{Type: "TextBlock", Color: "Warning", Wrap: true,
			Text: "Routing failed: sent to the root receiver, which may not be this alert's team"})
	}
	body = append(body, Element{Type: "FactSet", Facts: facts(s)})
	if jobs := jobsText(s); jobs != "" {
		body = append(body, Element{Type: "TextBlock", Text: "**Failed jobs**\n\n" + jobs, Wrap: true})
	}
	var actions []Action
	for _, l := range []struct{ title, url string }{
		{"Open pipeline", links.Pipeline},
		{"Changes since green", links.Compare},
		{mergeRequestTitle(s), links.MergeRequest},
	} {
		if l.url != "" {
			actions = append(actions, Action{Type: "Action.OpenUrl", Title: l.title, URL: l.url})
		}
	}
	return Message{Type: "message", Attachments: []Attachment{{
		ContentType: "application/vnd.microsoft.card.adaptive",
		Content: Card{
			Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
			Type:    "AdaptiveCard",
			Version: "1.4",
			Body:    body,
			Actions: actions,
		},
	}}}
}

// facts are the alert at a glance; a fact it does not know is left out.
func facts(s alertview.Alert) []Fact {
	ref := "Branch"
	if s.Tag {
		ref = "Tag"
	}
	fs := []Fact{
		{"Severity", label(s)},
		{"Project", escape(notify.Clip(cmp.Or(s.Project.Path, fmt.Sprintf("project %d", s.Project.ID)), maxText))},
		{ref, escape(notify.Clip(s.Ref, maxText))},
	}
	if p := s.Pipeline; p != nil {
		status := p.Status
		if status == alert.PipelineSuccess {
			status = "succeeded"
		}
		fs = append(fs, Fact{"Pipeline", fmt.Sprintf("#%d %s", p.ID, escape(status))})
		if p.CommitTitle != "" {
			fs = append(fs, Fact{"Commit", escape(notify.Clip(p.CommitTitle, maxText))})
		}
	}
	if s.Culprit != nil {
		fs = append(fs, Fact{"Broken by", escape(notify.Clip(s.CulpritLine(), maxText))})
	}
	if c := s.FailureClass; c != "" && s.Status != alert.StatusResolved {
		fs = append(fs, Fact{"Failure class", escape(string(c))})
	}
	if len(s.FlakyJobs) > 0 {
		names := make([]string, 0, min(len(s.FlakyJobs), maxJobs))
		for i, j := range s.FlakyJobs {
			if i == maxJobs {
				names = append(names, fmt.Sprintf("and %d more", len(s.FlakyJobs)-maxJobs))
				break
			}
			names = append(names, fmt.Sprintf("%s (#%d)", escape(notify.Clip(j.Name, maxText)), j.PipelineID))
		}
		fs = append(fs, Fact{"Flaky", strings.Join(names, ", ")})
	}
	if s.Recovery() != nil {
		fs = append(fs, Fact{"Recovery", escape(notify.Clip(s.RecoveryLine(), maxText))})
	}
	return append(fs, Fact{"Alert", escape(s.ID)})
}

func title(n notify.Notification) string {
	if n.Title != "" {
		return n.Title
	}
	return n.Alert.Title()
}

// label is the word that leads the card: the severity, or RESOLVED.
func label(s alertview.Alert) string {
	switch {
	case s.Status == alert.StatusResolved:
		return "RESOLVED"
	case s.Severity == alert.SeverityNone:
		return "ALERT"
	}
	return string(s.Severity)
}

// color is the title's Adaptive Card color: red for HIGH, amber for
// MEDIUM, green once resolved.
func color(s alertview.Alert) string {
	switch {
	case s.Status == alert.StatusResolved:
		return "Good"
	case s.Severity == alert.SeverityHigh:
		return "Attention"
	case s.Severity == alert.SeverityMedium:
		return "Warning"
	}
	return "Accent"
}

// action says what happened, who did it and what they said.
func action(n notify.Notification) string {
	s := n.Alert
	switch n.Kind {
	case notify.KindOpened:
		return "**Opened**" + by(" · pipeline by ", n, pipelineUser(s))
	case notify.KindSeverityChanged:
		if n.PreviousSeverity != "" {
			return fmt.Sprintf("**Severity changed** from %s to %s", escape(string(n.PreviousSeverity)), escape(string(s.Severity)))
		}
		return "**Severity changed** to " + escape(string(s.Severity))
	case notify.KindReminder:
		line := "**Reminder**: still open and not acknowledged"
		if !s.OpenedAt.IsZero() {
			line += ", opened " + s.OpenedAt.UTC().Format("2006-01-02 15:04 UTC")
		}
		return line
	case notify.KindAcknowledged:
		line := "**Acknowledged**" + by(" by ", n, s.AcknowledgedBy)
		if note := cmp.Or(n.Note, s.AckNote); note != "" {
			line += ": " + escape(notify.Clip(note, maxNote))
		}
		return line
	case notify.KindResolved:
		line := "**Resolved**" + by(" by ", n, s.ResolvedBy)
		if why := cmp.Or(n.Note, s.Resolution); why != "" {
			line += " (" + escape(notify.Clip(why, maxNote)) + ")"
		}
		return line
	case notify.KindEscalated:
		line := "**Escalated**: nobody acknowledged it in time"
		if to := cmp.Or(n.Note, s.EscalatedTo); to != "" {
			line += "; escalated to " + escape(notify.Clip(to, maxText))
		}
		return line
	case notify.KindFlapping:
		return "**Flapping**: this branch keeps going red and green; no more pages until it has been green for " +
			s.Rules.EffectiveFlapWindow().String()
	case notify.KindStable:
		return "**Stable**: green for " + s.Rules.EffectiveFlapWindow().String() + " after flapping; resolved"
	}
	return "**" + escape(string(n.Kind)) + "**"
}

// by is prefix and who did it (the notification's actor, else fallback),
// or "" when nobody is known.
func by(prefix string, n notify.Notification, fallback string) string {
	who := cmp.Or(n.Actor, fallback)
	if who == "" {
		return ""
	}
	return prefix + escape(notify.Clip(who, maxText))
}

func pipelineUser(s alertview.Alert) string {
	if s.Pipeline == nil {
		return ""
	}
	return s.Pipeline.User
}

func mergeRequestTitle(s alertview.Alert) string {
	if s.MergeRequest == nil {
		return "Merge request"
	}
	return fmt.Sprintf("Merge request !%d", s.MergeRequest.IID)
}

// jobsText lists the failed jobs as a Markdown list, at most maxJobs.
func jobsText(s alertview.Alert) string {
	if s.Pipeline == nil || len(s.Pipeline.FailedJobs) == 0 {
		return ""
	}
	lines := make([]string, 0, min(len(s.Pipeline.FailedJobs), maxJobs+1))
	for i, j := range s.Pipeline.FailedJobs {
		if i == maxJobs {
			lines = append(lines, fmt.Sprintf("- … and %d more", len(s.Pipeline.FailedJobs)-maxJobs))
			break
		}
		line := "- " + escape(notify.Clip(j.Name, maxText))
		if j.Stage != "" {
			line += " (" + escape(notify.Clip(j.Stage, maxText)) + ")"
		}
		if j.FailureReason != "" {
			line += ": " + escape(notify.Clip(j.FailureReason, maxText))
		}
		if j.AllowFailure {
			line += ", allowed to fail"
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// markdown are the characters of Teams' Markdown that make a link (with
// "(" after "]"), emphasis or code: each is backslash-escaped, the
// backslash first. Line breaks would start a list or a heading.
var markdown = strings.NewReplacer(
	`\`, `\\`, "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "`", "\\`", "~", `\~`, "\r", " ", "\n", " ",
)

// escape makes text from GitLab or a person literal: no link, emphasis or
// line break of its own.
func escape(s string) string { return markdown.Replace(s) }
