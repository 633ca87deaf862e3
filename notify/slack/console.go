package slack

// The app's message: the alert as it stands, with buttons to act on it.

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alertview"
	"github.com/alertflow/alertflow/notify"
)

// Action IDs of the message's buttons; each button's value is the alert ID.
const (
	ActionAcknowledge = "alertflow.acknowledge"
	ActionSnooze1h    = "alertflow.snooze.1h"
	ActionSnooze4h    = "alertflow.snooze.4h"
	ActionResolve     = "alertflow.resolve"
)

// maxButtonValue is Slack's limit on a button's value; an alert ID longer
// than that gets no buttons rather than a message Slack refuses.
const maxButtonValue = 2000

// Button is a Block Kit button element.
type Button struct {
	Type     string   `json:"type"`
	Text     Text     `json:"text"`
	ActionID string   `json:"action_id"`
	Value    string   `json:"value"`
	Style    string   `json:"style,omitempty"`
	Confirm  *Confirm `json:"confirm,omitempty"`
}

// Confirm is a Block Kit confirmation dialog.
type Confirm struct {
	Title   Text `json:"title"`
	Text    Text `json:"text"`
	Confirm Text `json:"confirm"`
	Deny    Text `json:"deny"`
}

// MarshalJSON writes an actions block's buttons as its elements.
func (b Block) MarshalJSON() ([]byte, error) {
	type plain Block
	if b.Type != "actions" {
		return json.Marshal(plain(b))
	}
	return json.Marshal(struct {
		Type     string   `json:"type"`
		Elements []Button `json:"elements"`
	}{b.Type, b.Buttons})
}

func plainText(s string) Text { return Text{Type: "plain_text", Text: s} }

// Console lays out the alert's one message as it stands after n:
//
//	:red_circle: *HIGH* <…|Pipeline #31> failed on *group/project@main*
//	*Acknowledged* by alice: on it
//	Snoozed until Dec 7 at 18:00 by alice
//	*Failed jobs*
//	• test (test): script_failure
//	*Broken by* pipeline #31 run by alice: commit 1a2b3c4d "Fix the build" by Bob, after green #30 (9f8e7d6c) · <…|changes since green>
//	*Failure class* code: a job's script failed
//	Commit <…|Fix the build> · Alert 1-main
//	[Snooze 1 h] [Snooze 4 h] [Resolve]
//
// A resolved alert shows how long the branch was red and loses its buttons.
func Console(n notify.Notification) Message {
	s := n.Alert
	links := n.Links()
	blocks := []Block{section(severityLabel(s) + " " + pipelineLine(s, links.Pipeline)), section(stateText(n))}
	if jobs := jobsText(s); jobs != "" && s.Status != alert.StatusResolved {
		blocks = append(blocks, section("*Failed jobs*\n"+jobs))
	}
	if why := insightText(n, links); why != "" {
		blocks = append(blocks, section(why))
	}
	if small := contextElements(n, links); len(small) > 0 {
		blocks = append(blocks, Block{Type: "context", Elements: small})
	}
	if b := buttons(s); len(b) > 0 {
		blocks = append(blocks, Block{Type: "actions", Buttons: b})
	}
	what := plainAction(n)
	if n.Kind == notify.KindUpdated {
		what = plainState(s)
	}
	fallback := fmt.Sprintf("[%s] %s: %s", plainSeverity(s), escape(notify.Clip(title(n), maxText)), what)
	return Message{Text: fallback, Blocks: blocks}
}

// plainState says where an alert stands, without formatting, for the
// fallback text of an update.
func plainState(s alertview.Alert) string {
	switch {
	case !s.Status.Active():
		return "resolved"
	case s.Silenced != nil:
		return "silenced until " + s.Silenced.Until.UTC().Format("2006-01-02 15:04 UTC")
	case s.Snoozed != nil:
		return "snoozed until " + s.Snoozed.Until.UTC().Format("2006-01-02 15:04 UTC")
	case s.Status == alert.StatusAcknowledged:
		return "acknowledged by " + escape(notify.Clip(s.AcknowledgedBy, maxText))
	}
	return "open"
}

// Reply is a thread reply under the alert's message: what happened.
func Reply(n notify.Notification) Message {
	return Message{Text: plainAction(n), Blocks: []Block{section(actionLine(n))}}
}

// stateText says where the alert stands, one fact a line.
func stateText(n notify.Notification) string {
	s := n.Alert
	var lines []string
	switch {
	case s.Status == alert.StatusResolved:
		resolved := notify.Notification{Kind: notify.KindResolved, Alert: s}
		if n.Kind == notify.KindResolved {
			resolved.Actor, resolved.Note = n.Actor, n.Note
		}
		lines = append(lines, actionLine(resolved)+redFor(s))
	case s.Status == alert.StatusAcknowledged:
		lines = append(lines, actionLine(notify.Notification{Kind: notify.KindAcknowledged, Alert: s}))
	default:
		line := "*Open*, not acknowledged"
		if !s.OpenedAt.IsZero() {
			line += ", opened " + when(s.OpenedAt)
		}
		if s.Reminders > 0 {
			line += fmt.Sprintf(" · %d reminder%s", s.Reminders, plural(s.Reminders))
		}
		lines = append(lines, line)
	}
	if n.Kind == notify.KindSeverityChanged && s.Status.Active() {
		lines = append(lines, actionLine(n))
	}
	if sn := s.Snoozed; sn != nil && s.Status.Active() {
		lines = append(lines, "Snoozed until "+when(sn.Until)+" by "+escape(notify.Clip(sn.By, maxText)))
	}
	if sl := s.Silenced; sl != nil && s.Status.Active() {
		lines = append(lines, "Silenced by silence "+escape(notify.Clip(sl.ID, maxText))+" until "+when(sl.Until))
	}
	if s.EscalatedTo != "" && s.Status.Active() {
		lines = append(lines, "Escalated to "+escape(notify.Clip(s.EscalatedTo, maxText)))
	}
	if !s.FlappedAt.IsZero() && s.Status.Active() {
		lines = append(lines, "Flapping: no more pages until green for "+window(s))
	}
	if n.RoutingFailed {
		lines = append(lines, ":warning: Routing failed: sent to the root receiver, which may not be this alert's team")
	}
	return strings.Join(lines, "\n")
}

// redFor is how long the alert was open, " · red for 1h 5m", when known
// and not said already by the recovery line (insightText).
func redFor(s alertview.Alert) string {
	if s.OpenedAt.IsZero() || s.ResolvedAt.Before(s.OpenedAt) || s.Recovery() != nil {
		return ""
	}
	return " · red for " + Duration(s.ResolvedAt.Sub(s.OpenedAt))
}

// Duration writes d as people read it: "45s", "12m", "1h 5m", "2d 3h".
func Duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh %dm", h, m)
	default:
		days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		if h == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd %dh", days, h)
	}
}

// when is a time as Slack shows it in each reader's zone, with a UTC
// fallback for clients that cannot.
func when(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} at {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// buttons are the actions the alert can take now: none once resolved.
func buttons(s alertview.Alert) []Button {
	if !s.Status.Active() || s.ID == "" || len(s.ID) > maxButtonValue {
		return nil
	}
	var out []Button
	if s.Status == alert.StatusOpen {
		out = append(out, Button{Type: "button", Text: plainText("Acknowledge"), ActionID: ActionAcknowledge, Value: s.ID, Style: "primary"})
	}
	return append(out,
		Button{Type: "button", Text: plainText("Snooze 1 h"), ActionID: ActionSnooze1h, Value: s.ID},
		Button{Type: "button", Text: plainText("Snooze 4 h"), ActionID: ActionSnooze4h, Value: s.ID},
		Button{Type: "button", Text: plainText("Resolve"), ActionID: ActionResolve, Value: s.ID, Style: "danger",
			Confirm: &Confirm{
				Title:   plainText("Resolve this alert?"),
				Text:    plainText("It closes until the branch fails again; nobody is paged."),
				Confirm: plainText("Resolve"),
				Deny:    plainText("Cancel"),
			}},
	)
}
