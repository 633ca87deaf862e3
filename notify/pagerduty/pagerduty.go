// Package pagerduty delivers alertflow notifications to PagerDuty through
// its Events API v2: an alert opens and updates a PagerDuty alert with
// trigger events, and acknowledges and resolves it with the events of those
// names, all under one dedup_key, the alert ID.
package pagerduty

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/alertview"
	"github.com/alertflow/alertflow/notify"
)

// DefaultURL is the Events API v2 endpoint of PagerDuty's US service
// region. Accounts in the EU region use https://events.eu.pagerduty.com/v2/enqueue.
const DefaultURL = "https://events.pagerduty.com/v2/enqueue"

// PagerDuty's limits on an event.
const (
	// MaxDedupKey is the longest dedup_key PagerDuty accepts, in
	// characters; alertflow counts bytes, which is stricter.
	MaxDedupKey = 255
	// MaxSummary is the longest payload.summary PagerDuty accepts.
	MaxSummary = 1024
)

// maxDetail bounds each free text of custom_details (a note, a commit or
// merge request title) so that no person or pipeline can push an event
// towards PagerDuty's 512 KB limit.
const maxDetail = 1024

// Event actions.
const (
	ActionTrigger     = "trigger"
	ActionAcknowledge = "acknowledge"
	ActionResolve     = "resolve"
)

// Notifier sends notifications to one PagerDuty Events API v2 integration.
// It implements notify.Notifier.
type Notifier struct {
	url string
	// changeURL is where NotifyChange posts; "" when nothing says.
	changeURL  string
	routingKey string
	client     *http.Client
}

// New returns a notifier posting to url (DefaultURL when empty) with the
// integration's routing key. The routing key is a credential: it never
// appears in errors or logs, even when PagerDuty or a proxy echoes the
// request. A nil client means notify.DefaultHTTPClient().
func New(url, routingKey string, client *http.Client) *Notifier {
	if client == nil {
		client = notify.DefaultHTTPClient()
	}
	url = cmp.Or(url, DefaultURL)
	return &Notifier{url: url, changeURL: ChangeURL(url), routingKey: routingKey, client: client}
}

// String names the notifier by the endpoint's scheme, so that printing or
// logging it shows neither the routing key nor the host.
func (p *Notifier) String() string { return "pagerduty " + notify.RedactURL(p.url) }

// GoString is String, for %#v.
func (p *Notifier) GoString() string { return p.String() }

// LogValue is String, for log/slog.
func (p *Notifier) LogValue() slog.Value { return slog.StringValue(p.String()) }

// Notify sends the event n maps to (see NewEvent), or nothing when n maps
// to none. PagerDuty answers 202; a 400 (an event it cannot accept) and
// any other 4xx but 408 and 429 are permanent; 429 (PagerDuty throttling
// the integration) waits for Retry-After when given, and like 5xx and
// transport failures is otherwise left to the retry policy's backoff.
func (p *Notifier) Notify(ctx context.Context, n notify.Notification) error {
	ev, ok := NewEvent(n)
	if !ok {
		return nil
	}
	if p.routingKey == "" {
		return notify.Permanent(fmt.Errorf("send PagerDuty %s for notification %s: no routing key is configured", ev.EventAction, n.ID))
	}
	ev.RoutingKey = p.routingKey
	if err := notify.PostJSON(ctx, p.client, p.url, ev, p.routingKey); err != nil {
		return fmt.Errorf("send PagerDuty %s for notification %s: %w", ev.EventAction, n.ID, err)
	}
	return nil
}

// Event is an Events API v2 event as alertflow sends it.
type Event struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	// The rest is for trigger events only: PagerDuty ignores it on
	// acknowledge and resolve, so those leave it out.
	Payload   *Payload `json:"payload,omitempty"`
	Client    string   `json:"client,omitempty"`
	ClientURL string   `json:"client_url,omitempty"`
	Links     []Link   `json:"links,omitempty"`
}

// Payload describes what a trigger event is about.
type Payload struct {
	Summary       string        `json:"summary"`
	Source        string        `json:"source"`
	Severity      string        `json:"severity"`
	Timestamp     string        `json:"timestamp,omitempty"`
	Component     string        `json:"component,omitempty"`
	Group         string        `json:"group,omitempty"`
	Class         string        `json:"class,omitempty"`
	CustomDetails CustomDetails `json:"custom_details"`
}

// CustomDetails are shown as a table on the PagerDuty alert.
type CustomDetails struct {
	AlertID  string `json:"alert_id"`
	Severity string `json:"severity,omitempty"`
	// PreviousSeverity is the severity before a severity change.
	PreviousSeverity string `json:"previous_severity,omitempty"`
	// RoutingFailed: the routing failed, and this service got the alert
	// as the root receiver's.
	RoutingFailed  bool   `json:"routing_failed,omitempty"`
	Ref            string `json:"ref"`
	Tag            bool   `json:"tag"`
	PipelineID     int64  `json:"pipeline_id,omitempty"`
	PipelineStatus string `json:"pipeline_status,omitempty"`
	// FailedJobs are "name (stage)".
	FailedJobs        []string `json:"failed_jobs,omitempty"`
	FailedJobsOmitted int      `json:"failed_jobs_omitted,omitempty"`
	CommitTitle       string   `json:"commit_title,omitempty"`
	CommitURL         string   `json:"commit_url,omitempty"`
	// MergeRequest is "!12 Title".
	MergeRequest string `json:"merge_request,omitempty"`
	OpenedBy     string `json:"opened_by,omitempty"`
	Actor        string `json:"actor,omitempty"`
	Note         string `json:"note,omitempty"`
	// BrokenBy is the first failing pipeline and its commit, against the
	// last green one; CompareURL the changes between them.
	BrokenBy   string `json:"broken_by,omitempty"`
	CompareURL string `json:"compare_url,omitempty"`
	// FailureClass is infra, config or code.
	FailureClass string `json:"failure_class,omitempty"`
	// FlakyJobs failed and then passed on retry: "name (pipeline #N)".
	FlakyJobs []string `json:"flaky_jobs,omitempty"`
	// Recovery says how a resolved alert's branch went green: how long
	// it was red, how many pipelines failed, what fixed it.
	Recovery        string  `json:"recovery,omitempty"`
	RedForSeconds   float64 `json:"red_for_seconds,omitempty"`
	FailedPipelines int     `json:"failed_pipelines,omitempty"`
}

// Link is a link shown on the PagerDuty alert.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// Action returns the event_action a notification of kind about an alert
// in status sends, or "" for none:
//
//   - opened and severity_changed trigger: PagerDuty deduplicates a trigger
//     with the dedup_key of an open alert into that alert (one more trigger
//     in its log, with the new severity and details) rather than opening
//     another incident.
//   - flapping triggers too: it comes instead of opened, for an alert on
//     a branch that keeps going red and green.
//   - acknowledged acknowledges, resolved and stable resolve.
//   - updated sends nothing: it is for receivers that keep a message.
//   - reminder sends nothing. A reminder says nobody has acknowledged the
//     alert; PagerDuty's own escalation policy already re-notifies, and
//     escalates, on exactly that, and a trigger for an alert it has open
//     only adds a line to the alert's log.
//   - a kind this version does not know triggers while the alert is open
//     or acknowledged (a new kind of notification about a live alert must
//     not go unheard) and sends nothing once it is resolved.
func Action(kind notify.Kind, status alert.Status) string {
	switch kind {
	case notify.KindOpened, notify.KindSeverityChanged, notify.KindFlapping:
		return ActionTrigger
	case notify.KindAcknowledged:
		return ActionAcknowledge
	case notify.KindResolved, notify.KindStable:
		return ActionResolve
	case notify.KindReminder, notify.KindUpdated:
		// An update pages nobody; only receivers that keep a message
		// are sent one at all.
		return ""
	}
	if status.Active() {
		return ActionTrigger
	}
	return ""
}

// Severity maps an alert severity to PagerDuty's: HIGH is critical,
// MEDIUM warning, LOW info. An alert without a known severity is an
// error, PagerDuty's level between critical and warning, so that it still
// pages without claiming to be critical.
func Severity(s alert.Severity) string {
	switch s {
	case alert.SeverityHigh:
		return "critical"
	case alert.SeverityMedium:
		return "warning"
	case alert.SeverityLow:
		return "info"
	}
	return "error"
}

// DedupKey returns the dedup_key of the alert with this ID: the ID itself
// when it fits PagerDuty's 255 characters, and otherwise its start, "~"
// and the SHA-256 of the whole ID in hex, so that a shortened key is still
// stable across notifications and distinct for IDs that share their start.
func DedupKey(alertID string) string {
	if len(alertID) <= MaxDedupKey {
		return alertID
	}
	sum := sha256.Sum256([]byte(alertID))
	tail := "~" + hex.EncodeToString(sum[:])
	return notify.Cut(alertID, MaxDedupKey-len(tail)) + tail
}

// NewEvent builds the event n sends, without the routing key; ok is false
// when n sends none (see Action). It depends on n alone, so every retry of
// a notification sends the same event.
func NewEvent(n notify.Notification) (ev Event, ok bool) {
	s := n.Alert
	action := Action(n.Kind, s.Status)
	if action == "" {
		return Event{}, false
	}
	ev = Event{EventAction: action, DedupKey: DedupKey(cmp.Or(s.ID, alert.ID(s.Project.ID, s.Ref)))}
	if action == ActionResolve && s.Recovery() != nil {
		return withRecovery(ev, n), true
	}
	if action != ActionTrigger {
		return ev, true
	}
	links := n.Links()
	ev.Payload = &Payload{
		Summary:       notify.Clip(cmp.Or(n.Title, s.Title()), MaxSummary),
		Source:        cmp.Or(s.Project.Path, s.Project.URL, fmt.Sprintf("project %d", s.Project.ID)),
		Severity:      Severity(s.Severity),
		Timestamp:     timestamp(s),
		Component:     s.Ref,
		Group:         s.Project.Path,
		CustomDetails: details(n, links),
	}
	ev.Client = "alertflow"
	ev.ClientURL = cmp.Or(webURL(links.Project), webURL(links.Pipeline))
	if pl := s.Pipeline; pl != nil {
		ev.Payload.Class = pl.Status
		ev.Links = appendLink(ev.Links, links.Pipeline, fmt.Sprintf("Pipeline #%d", pl.ID))
		ev.Links = appendLink(ev.Links, links.Commit, "Commit "+cmp.Or(shortSHA(pl.SHA), "of the pipeline"))
	}
	if mr := s.MergeRequest; mr != nil {
		ev.Links = appendLink(ev.Links, links.MergeRequest, fmt.Sprintf("Merge request !%d", mr.IID))
	}
	ev.Links = appendLink(ev.Links, links.Compare, "Changes since the last green pipeline")
	return ev, true
}

// withRecovery adds to a resolve what the recovery was: PagerDuty needs
// no payload to resolve, and keeps the one it is given in the alert's
// log, where the responder reads why the incident ended.
func withRecovery(ev Event, n notify.Notification) Event {
	s := n.Alert
	links := n.Links()
	ev.Payload = &Payload{
		Summary:       notify.Clip("Resolved: "+cmp.Or(n.Title, s.Title())+" ("+s.RecoveryLine()+")", MaxSummary),
		Source:        cmp.Or(s.Project.Path, s.Project.URL, fmt.Sprintf("project %d", s.Project.ID)),
		Severity:      "info",
		Component:     s.Ref,
		Group:         s.Project.Path,
		CustomDetails: details(n, links),
	}
	if !s.ResolvedAt.IsZero() {
		ev.Payload.Timestamp = s.ResolvedAt.UTC().Format(time.RFC3339)
	}
	ev.Client = "alertflow"
	ev.ClientURL = cmp.Or(webURL(links.Project), webURL(links.Pipeline))
	if fix := s.Recovery().Fix; fix != nil {
		ev.Links = appendLink(ev.Links, fix.URL, fmt.Sprintf("Fixed by pipeline #%d", fix.PipelineID))
		ev.Links = appendLink(ev.Links, fix.CommitURL, "Fix commit "+cmp.Or(shortSHA(fix.SHA), "of the pipeline"))
	}
	ev.Links = appendLink(ev.Links, links.Compare, "Changes that broke the branch")
	return ev
}

// timestamp is when the newest pipeline finished, or else when the alert
// opened, in RFC 3339; "" when neither is known.
func timestamp(s alertview.Alert) string {
	at := s.OpenedAt
	if s.Pipeline != nil && !s.Pipeline.FinishedAt.IsZero() {
		at = s.Pipeline.FinishedAt
	}
	if at.IsZero() {
		return ""
	}
	return at.UTC().Format(time.RFC3339)
}

func details(n notify.Notification, links notify.Links) CustomDetails {
	s := n.Alert
	d := CustomDetails{
		AlertID:          s.ID,
		Severity:         string(s.Severity),
		PreviousSeverity: string(n.PreviousSeverity),
		RoutingFailed:    n.RoutingFailed,
		Ref:              s.Ref,
		Tag:              s.Tag,
		OpenedBy:         notify.Clip(s.OpenedBy, maxDetail),
		Actor:            notify.Clip(n.Actor, maxDetail),
		Note:             notify.Clip(n.Note, maxDetail),
	}
	if pl := s.Pipeline; pl != nil {
		d.PipelineID, d.PipelineStatus = pl.ID, pl.Status
		d.CommitTitle, d.CommitURL = notify.Clip(pl.CommitTitle, maxDetail), links.Commit
		d.FailedJobsOmitted = pl.FailedJobsOmitted
		for _, j := range pl.FailedJobs {
			job := notify.Clip(j.Name, maxDetail)
			if j.Stage != "" {
				job += " (" + notify.Clip(j.Stage, maxDetail) + ")"
			}
			d.FailedJobs = append(d.FailedJobs, job)
		}
	}
	if mr := s.MergeRequest; mr != nil {
		d.MergeRequest = fmt.Sprintf("!%d", mr.IID)
		if mr.Title != "" {
			d.MergeRequest += " " + notify.Clip(mr.Title, maxDetail)
		}
	}
	d.BrokenBy, d.CompareURL = notify.Clip(s.CulpritLine(), maxDetail), webURL(links.Compare)
	d.FailureClass = string(s.FailureClass)
	for _, j := range s.FlakyJobs {
		d.FlakyJobs = append(d.FlakyJobs, fmt.Sprintf("%s (pipeline #%d)", notify.Clip(j.Name, maxDetail), j.PipelineID))
	}
	if r := s.Recovery(); r != nil {
		d.Recovery, d.RedForSeconds, d.FailedPipelines = notify.Clip(s.RecoveryLine(), maxDetail), r.RedFor.Seconds(), r.FailedPipelines
	}
	return d
}

// appendLink adds a link to rawURL when it is a web page.
func appendLink(links []Link, rawURL, text string) []Link {
	if href := webURL(rawURL); href != "" {
		return append(links, Link{Href: href, Text: text})
	}
	return links
}

// webURL returns rawURL when it is an http or https URL with a host, and ""
// otherwise: PagerDuty shows links as clickable, so nothing else is sent.
func webURL(rawURL string) string {
	if rawURL == "" || notify.CheckURL(rawURL) != nil {
		return ""
	}
	return rawURL
}

func shortSHA(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}
