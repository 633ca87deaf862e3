package pagerduty

// Change events: a successful pipeline on a project's default branch, sent
// to PagerDuty's Change Events API so that the service's timeline shows
// the fixes and deploys next to its incidents. A change event opens
// nothing and pages nobody; PagerDuty keeps it for 90 days.

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
)

// DefaultChangeURL is the Change Events endpoint of PagerDuty's US service
// region; the EU region's is https://events.eu.pagerduty.com/v2/change/enqueue.
const DefaultChangeURL = "https://events.pagerduty.com/v2/change/enqueue"

// ChangeURL is the Change Events endpoint beside an Events API v2 endpoint:
// eventsURL with its /v2/enqueue made /v2/change/enqueue, as PagerDuty
// serves the two side by side in each region; "" when eventsURL does not
// end in /v2/enqueue.
func ChangeURL(eventsURL string) string {
	if base, ok := strings.CutSuffix(eventsURL, "/v2/enqueue"); ok {
		return base + "/v2/change/enqueue"
	}
	return ""
}

// WithChangeURL returns a copy of p that posts change events to url
// rather than to the endpoint derived from its events URL; an empty url
// changes nothing.
func (p *Notifier) WithChangeURL(url string) *Notifier {
	c := *p
	c.changeURL = cmp.Or(url, c.changeURL)
	return &c
}

// ChangeEvent is a Change Events API event as alertflow sends it.
type ChangeEvent struct {
	RoutingKey string        `json:"routing_key"`
	Payload    ChangePayload `json:"payload"`
	Links      []Link        `json:"links,omitempty"`
}

// ChangePayload describes the change.
type ChangePayload struct {
	Summary       string        `json:"summary"`
	Timestamp     string        `json:"timestamp,omitempty"`
	Source        string        `json:"source,omitempty"`
	CustomDetails ChangeDetails `json:"custom_details"`
}

// ChangeDetails are shown with the change on the service's timeline.
type ChangeDetails struct {
	Ref          string `json:"ref"`
	PipelineID   int64  `json:"pipeline_id"`
	PipelineURL  string `json:"pipeline_url,omitempty"`
	SHA          string `json:"sha,omitempty"`
	CommitTitle  string `json:"commit_title,omitempty"`
	CommitAuthor string `json:"commit_author,omitempty"`
	// User is who ran the pipeline, as GitLab names them.
	User string `json:"user,omitempty"`
}

// NewChangeEvent builds the change event of a successful pipeline, without
// the routing key. It depends on ev alone, so every retry sends the same
// event.
func NewChangeEvent(ev alert.Event) ChangeEvent {
	pl := ev.Pipeline
	source := cmp.Or(ev.Project.Path, fmt.Sprintf("project %d", ev.Project.ID))
	summary := fmt.Sprintf("Pipeline #%d succeeded on %s@%s", pl.ID, source, pl.Ref)
	if ev.Commit.Title != "" {
		summary += ": " + ev.Commit.Title
	}
	at := pl.FinishedAt
	if at.IsZero() {
		at = ev.ReceivedAt
	}
	ts := ""
	if !at.IsZero() {
		ts = at.UTC().Format(time.RFC3339)
	}
	ce := ChangeEvent{Payload: ChangePayload{
		Summary:   notify.Clip(summary, MaxSummary),
		Timestamp: ts,
		Source:    source,
		CustomDetails: ChangeDetails{
			Ref:          pl.Ref,
			PipelineID:   pl.ID,
			PipelineURL:  webURL(pl.URL),
			SHA:          pl.SHA,
			CommitTitle:  notify.Clip(ev.Commit.Title, maxDetail),
			CommitAuthor: notify.Clip(ev.Commit.Author, maxDetail),
			User:         notify.Clip(ev.User, maxDetail),
		},
	}}
	ce.Links = appendLink(ce.Links, pl.URL, fmt.Sprintf("Pipeline #%d", pl.ID))
	ce.Links = appendLink(ce.Links, ev.Commit.URL, "Commit "+cmp.Or(shortSHA(pl.SHA), "of the pipeline"))
	return ce
}

// NotifyChange sends the change event of ev, a successful pipeline, and
// classifies PagerDuty's answer as Notify does: 202 is delivered, 429
// waits for Retry-After when given, 5xx and transport failures are left to
// the retry policy, any other 4xx is permanent. A notifier without a
// routing key or a change URL fails permanently without a request.
func (p *Notifier) NotifyChange(ctx context.Context, ev alert.Event) error {
	what := fmt.Sprintf("PagerDuty change event for pipeline %d of %s", ev.Pipeline.ID, ev.AlertID())
	switch {
	case p.routingKey == "":
		return notify.Permanent(fmt.Errorf("send %s: no routing key is configured", what))
	case p.changeURL == "":
		return notify.Permanent(fmt.Errorf("send %s: no change events URL is configured", what))
	}
	ce := NewChangeEvent(ev)
	ce.RoutingKey = p.routingKey
	if err := notify.PostJSON(ctx, p.client, p.changeURL, ce, p.routingKey); err != nil {
		return fmt.Errorf("send %s: %w", what, err)
	}
	return nil
}
