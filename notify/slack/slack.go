// Package slack delivers alertflow notifications to a Slack incoming
// webhook (ALERTFLOW_SLACK_WEBHOOK_URL) as a readable message: severity,
// project@ref, a link to the pipeline, the failed jobs and what happened.
package slack

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alertview"
	"github.com/alertflow/alertflow/notify"
)

// Bounds that keep a message within Slack's limits (3 000 characters per
// section text, 50 blocks) whatever a pipeline or a person sends.
const (
	maxJobs    = 10
	maxText    = 300
	maxNote    = 1000
	maxJobText = 100
)

// Notifier posts notifications to one Slack incoming webhook. It implements
// notify.Notifier.
type Notifier struct {
	url    string
	client *http.Client
}

// New returns a notifier posting to the incoming-webhook url. The URL is
// the webhook's credential: it never appears in errors or logs. A nil
// client means notify.DefaultHTTPClient().
func New(url string, client *http.Client) *Notifier {
	if client == nil {
		client = notify.DefaultHTTPClient()
	}
	return &Notifier{url: url, client: client}
}

// Notify posts n as a Message. Slack answers 200 "ok"; its 4xx answers
// ("invalid_payload", "invalid_token", "channel_is_archived", ...) are
// permanent, 429 "rate_limited" waits for Retry-After, 5xx is retried.
func (s *Notifier) Notify(ctx context.Context, n notify.Notification) error {
	if err := notify.PostJSON(ctx, s.client, s.url, Format(n)); err != nil {
		return fmt.Errorf("send Slack notification %s: %w", n.ID, err)
	}
	return nil
}

// Message is an incoming-webhook message: Text is what notifications and
// clients without block support show, Blocks the laid-out message.
type Message struct {
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks"`
}

// Block is a Block Kit layout block: a section with Text, a context with
// Elements, or actions with Buttons.
type Block struct {
	Type     string `json:"type"`
	Text     *Text  `json:"text,omitempty"`
	Elements []Text `json:"elements,omitempty"`
	// Buttons are an actions block's elements (the app's message).
	Buttons []Button `json:"-"`
}

// Text is a Block Kit text object.
type Text struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func section(text string) Block {
	return Block{Type: "section", Text: &Text{Type: "mrkdwn", Text: text}}
}

// Format lays out n as a Slack message:
//
//	:red_circle: *HIGH* <https://…/pipelines/31|Pipeline #31> failed on *gitlab-org/gitlab-test@master*
//	*Opened* · pipeline by Administrator
//	*Failed jobs*
//	• test-build (test): script_failure
//	*Broken by* pipeline #31 run by Administrator: commit bcbb5ec3 "Add feature" by Ada · <https://…/compare/…|changes since green #30>
//	*Failure class* code: a job's script failed
//	Commit <https://…|Add feature> · Alert 1-master
//
// Every text that comes from GitLab or a person is escaped, so a branch
// name or a note cannot ping the channel (<!channel>) or forge a link.
func Format(n notify.Notification) Message {
	s := n.Alert
	links := n.Links()
	label := severityLabel(s)
	headline := label + " " + pipelineLine(s, links.Pipeline)
	action := actionLine(n)
	if n.RoutingFailed {
		action += "\n:warning: Routing failed: sent to the root receiver, which may not be this alert's team"
	}

	blocks := []Block{section(headline), section(action)}
	if jobs := jobsText(s); jobs != "" {
		blocks = append(blocks, section("*Failed jobs*\n"+jobs))
	}
	if why := insightText(n, links); why != "" {
		blocks = append(blocks, section(why))
	}
	if small := contextElements(n, links); len(small) > 0 {
		blocks = append(blocks, Block{Type: "context", Elements: small})
	}
	// The fallback has no links or emoji to render: plain words only.
	fallback := fmt.Sprintf("[%s] %s: %s", plainSeverity(s), escape(notify.Clip(title(n), maxText)), plainAction(n))
	return Message{Text: fallback, Blocks: blocks}
}

func title(n notify.Notification) string {
	if n.Title != "" {
		return n.Title
	}
	return n.Alert.Title()
}

// severityLabel is the emoji and word that lead the message.
func severityLabel(s alertview.Alert) string {
	if s.Status == alert.StatusResolved {
		return ":white_check_mark: *RESOLVED*"
	}
	emoji := ":white_circle:"
	switch s.Severity {
	case alert.SeverityHigh:
		emoji = ":red_circle:"
	case alert.SeverityMedium:
		emoji = ":large_orange_circle:"
	case alert.SeverityLow:
		emoji = ":large_yellow_circle:"
	}
	return emoji + " *" + plainSeverity(s) + "*"
}

func plainSeverity(s alertview.Alert) string {
	if s.Status == alert.StatusResolved {
		return "RESOLVED"
	}
	if s.Severity == alert.SeverityNone {
		return "ALERT"
	}
	return string(s.Severity)
}

// pipelineLine is "<url|Pipeline #31> failed on *group/project@ref*", as
// alert.State.Title words it, with the pipeline linked.
func pipelineLine(s alertview.Alert, pipelineURL string) string {
	where := s.Project.Path
	if where == "" {
		where = fmt.Sprintf("project %d", s.Project.ID)
	}
	where = "*" + escape(notify.Clip(where+"@"+s.Ref, maxText)) + "*"
	if s.Pipeline == nil {
		return "No pipeline yet on " + where
	}
	verb := s.Pipeline.Status
	if verb == alert.PipelineSuccess {
		verb = "succeeded"
	}
	return fmt.Sprintf("%s %s on %s", link(pipelineURL, fmt.Sprintf("Pipeline #%d", s.Pipeline.ID)), escape(verb), where)
}

// actionLine says what happened, in mrkdwn.
func actionLine(n notify.Notification) string {
	s := n.Alert
	switch n.Kind {
	case notify.KindOpened:
		line := "*Opened*"
		if by := actor(n, pipelineUser(s)); by != "" {
			line += " · pipeline by " + escape(by)
		}
		return line
	case notify.KindSeverityChanged:
		if n.PreviousSeverity != "" {
			return fmt.Sprintf("*Severity changed* from %s to %s", escape(string(n.PreviousSeverity)), escape(string(s.Severity)))
		}
		return "*Severity changed* to " + escape(string(s.Severity))
	case notify.KindReminder:
		line := "*Reminder*: still open and not acknowledged"
		if !s.OpenedAt.IsZero() {
			// Slack shows the date in each reader's time zone; the
			// fallback after the pipe is for clients that cannot.
			line += fmt.Sprintf(", opened <!date^%d^{date_short_pretty} at {time}|%s>",
				s.OpenedAt.Unix(), s.OpenedAt.UTC().Format("2006-01-02 15:04 UTC"))
		}
		return line
	case notify.KindAcknowledged:
		line := "*Acknowledged*"
		if by := actor(n, s.AcknowledgedBy); by != "" {
			line += " by " + escape(by)
		}
		if note := cmp.Or(n.Note, s.AckNote); note != "" {
			line += ": " + escape(notify.Clip(note, maxNote))
		}
		return line
	case notify.KindResolved:
		line := "*Resolved*"
		if by := actor(n, s.ResolvedBy); by != "" {
			line += " by " + escape(by)
		}
		if why := cmp.Or(n.Note, s.Resolution); why != "" {
			line += " (" + escape(notify.Clip(why, maxNote)) + ")"
		}
		return line
	case notify.KindEscalated:
		return "*Escalated*: nobody acknowledged it in time" + escalatedTo(n)
	case notify.KindFlapping:
		return "*Flapping*: this branch keeps going red and green; no more pages until it has been green for " +
			window(s)
	case notify.KindStable:
		line := "*Stable*: green for " + window(s) + " after flapping; resolved"
		if !s.GreenSince.IsZero() {
			line += fmt.Sprintf(" (green since <!date^%d^{date_short_pretty} at {time}|%s>)",
				s.GreenSince.Unix(), s.GreenSince.UTC().Format("2006-01-02 15:04 UTC"))
		}
		return line
	default:
		return "*" + escape(string(n.Kind)) + "*"
	}
}

// window is the alert's flapping window as people write it: "1h", "1h30m",
// "20s".
func window(s alertview.Alert) string {
	w := s.FlapWindow().String()
	if strings.HasSuffix(w, "m0s") {
		w = strings.TrimSuffix(w, "0s")
	}
	if strings.HasSuffix(w, "h0m") {
		w = strings.TrimSuffix(w, "0m")
	}
	return w
}

// escalatedTo names the receiver an alert escalated to, if known.
func escalatedTo(n notify.Notification) string {
	if to := cmp.Or(n.Note, n.Alert.EscalatedTo); to != "" {
		return "; escalated to " + escape(notify.Clip(to, maxText))
	}
	return ""
}

// plainAction is actionLine without formatting, for the fallback text.
func plainAction(n notify.Notification) string {
	s := n.Alert
	switch n.Kind {
	case notify.KindOpened:
		return "opened"
	case notify.KindSeverityChanged:
		if n.PreviousSeverity != "" {
			return fmt.Sprintf("severity changed from %s to %s", escape(string(n.PreviousSeverity)), escape(string(s.Severity)))
		}
		return "severity changed to " + escape(string(s.Severity))
	case notify.KindReminder:
		return "reminder, still open and not acknowledged"
	case notify.KindAcknowledged:
		if by := actor(n, s.AcknowledgedBy); by != "" {
			return "acknowledged by " + escape(notify.Clip(by, maxText))
		}
		return "acknowledged"
	case notify.KindResolved:
		if by := actor(n, s.ResolvedBy); by != "" {
			return "resolved by " + escape(notify.Clip(by, maxText))
		}
		return "resolved"
	case notify.KindEscalated:
		return "escalated, nobody acknowledged it in time" + escalatedTo(n)
	case notify.KindFlapping:
		return "flapping, no more pages until green for " + window(s)
	case notify.KindStable:
		return "stable, green for " + window(s) + "; resolved"
	default:
		return escape(string(n.Kind))
	}
}

func actor(n notify.Notification, fallback string) string {
	return notify.Clip(cmp.Or(n.Actor, fallback), maxText)
}

func pipelineUser(s alertview.Alert) string {
	if s.Pipeline == nil {
		return ""
	}
	return s.Pipeline.User
}

// jobsText lists the failed jobs, one per line, at most maxJobs of them.
func jobsText(s alertview.Alert) string {
	if s.Pipeline == nil || len(s.Pipeline.FailedJobs) == 0 {
		return ""
	}
	var b strings.Builder
	for i, j := range s.Pipeline.FailedJobs {
		if i == maxJobs {
			fmt.Fprintf(&b, "\n… and %d more", len(s.Pipeline.FailedJobs)-maxJobs)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("• " + escape(notify.Clip(j.Name, maxJobText)))
		if j.Stage != "" {
			b.WriteString(" (" + escape(notify.Clip(j.Stage, maxJobText)) + ")")
		}
		if j.FailureReason != "" {
			b.WriteString(": " + escape(notify.Clip(j.FailureReason, maxJobText)))
		}
		if j.AllowFailure {
			b.WriteString(", allowed to fail")
		}
	}
	return b.String()
}

// contextElements are the small print: commit, merge request, alert ID.
func contextElements(n notify.Notification, links notify.Links) []Text {
	s := n.Alert
	var parts []string
	if p := s.Pipeline; p != nil && (p.CommitTitle != "" || links.Commit != "") {
		label := cmp.Or(p.CommitTitle, shortSHA(p.SHA), "commit")
		parts = append(parts, "Commit "+link(links.Commit, notify.Clip(label, maxText)))
	}
	if mr := s.MergeRequest; mr != nil {
		label := fmt.Sprintf("!%d", mr.IID)
		if mr.Title != "" {
			label += " " + notify.Clip(mr.Title, maxText)
		}
		parts = append(parts, "Merge request "+link(links.MergeRequest, label))
	}
	if s.ID != "" {
		parts = append(parts, "Alert "+escape(s.ID))
	}
	if len(parts) == 0 {
		return nil
	}
	return []Text{{Type: "mrkdwn", Text: strings.Join(parts, " · ")}}
}

func shortSHA(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}

// escape replaces the three characters Slack's mrkdwn treats as control
// characters, as its "Formatting text" guide requires, so text from GitLab
// or a person is shown as written.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// link is "<url|label>" with the label escaped. Only http and https URLs
// are linked: anything else shows the label alone. In the URL, "&" is
// escaped as Slack expects and "<", ">", "|", which would end the link
// early, are percent-encoded.
func link(rawURL, label string) string {
	u, err := url.Parse(rawURL)
	if rawURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return escape(label)
	}
	target := strings.NewReplacer("&", "&amp;", "<", "%3C", ">", "%3E", "|", "%7C").Replace(rawURL)
	return "<" + target + "|" + escape(label) + ">"
}
