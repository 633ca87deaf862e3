package webhook

import (
	"fmt"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/webhook/contract"
)

// NewPayload builds the body of n. It depends on n alone, so the same
// notification always makes the same payload. It fails only for a kind the
// contract does not know.
func NewPayload(n notify.Notification) (contract.Payload, error) {
	kind, err := kindOf(n.Kind)
	if err != nil {
		return contract.Payload{}, err
	}
	s := n.Alert
	p := contract.Payload{
		Version:          contract.Version,
		ID:               n.ID,
		Kind:             kind,
		Title:            n.Title,
		PreviousSeverity: string(n.PreviousSeverity),
		Actor:            n.Actor,
		Note:             n.Note,
		RoutingFailed:    n.RoutingFailed,
		Links:            contract.Links(n.Links()),
		Alert: contract.Alert{
			ID:              s.ID,
			Status:          string(s.Status),
			Severity:        string(s.Severity),
			PeakSeverity:    string(s.PeakSeverity),
			Project:         contract.Project{ID: s.Project.ID, Path: s.Project.Path, URL: s.Project.URL},
			Ref:             s.Ref,
			Tag:             s.Tag,
			OpenedAt:        s.OpenedAt.UTC(),
			OpenedBy:        s.OpenedBy,
			Resolution:      s.Resolution,
			Reminders:       s.Reminders,
			Counts:          contract.Counts(s.Counts),
			FlappedAt:       utcOrZero(s.FlappedAt),
			GreenSince:      utcOrZero(s.GreenSince),
			Flips:           s.Flips,
			FailureClass:    string(s.FailureClass),
			FailedPipelines: s.FailedPipelines,
			Flaky:           s.Flaky,
		},
	}
	if c := s.Culprit; c != nil {
		p.Alert.Culprit = change(c)
	}
	if g := s.LastGreen; g != nil {
		p.Alert.LastGreen = &contract.Green{PipelineID: g.PipelineID, SHA: g.SHA, URL: g.URL, FinishedAt: utcOrZero(g.FinishedAt)}
	}
	for _, j := range s.FlakyJobs {
		p.Alert.FlakyJobs = append(p.Alert.FlakyJobs, contract.FlakyJob{PipelineID: j.PipelineID, Name: j.Name,
			Stage: j.Stage, FailureReason: j.FailureReason, At: utcOrZero(j.At)})
	}
	if r := s.Recovery(); r != nil {
		p.Alert.Recovery = &contract.Recovery{RedForSeconds: r.RedFor.Seconds(), RedFor: r.RedFor.Round(time.Second).String(),
			FailedPipelines: r.FailedPipelines, Flaky: r.Flaky}
		if r.Fix != nil {
			p.Alert.Recovery.Fix = change(r.Fix)
		}
	}
	if p.Title == "" {
		p.Title = s.Title()
	}
	if !s.AcknowledgedAt.IsZero() || s.AcknowledgedBy != "" {
		p.Alert.Acknowledged = &contract.Action{At: s.AcknowledgedAt.UTC(), By: s.AcknowledgedBy, Note: s.AckNote}
	}
	if !s.ResolvedAt.IsZero() || s.ResolvedBy != "" {
		p.Alert.Resolved = &contract.Action{At: s.ResolvedAt.UTC(), By: s.ResolvedBy}
	}
	if pl := s.Pipeline; pl != nil {
		p.Alert.Pipeline = &contract.Pipeline{
			ID:           pl.ID,
			IID:          pl.IID,
			Status:       pl.Status,
			URL:          pl.URL,
			SHA:          pl.SHA,
			FinishedAt:   pl.FinishedAt.UTC(),
			User:         pl.User,
			CommitTitle:  pl.CommitTitle,
			CommitAuthor: pl.CommitAuthor,
			FailedJobs:   jobs(pl.FailedJobs),
		}
	}
	if mr := s.MergeRequest; mr != nil {
		p.Alert.MergeRequest = &contract.MergeRequest{IID: mr.IID, Title: mr.Title, URL: mr.URL}
	}
	return p, nil
}

// kindOf names a notification kind as the contract does. It is spelled out,
// not a cast, so renaming a kind inside alertflow cannot change what
// receivers are sent.
func kindOf(k notify.Kind) (contract.Kind, error) {
	switch k {
	case notify.KindOpened:
		return contract.KindOpened, nil
	case notify.KindSeverityChanged:
		return contract.KindSeverityChanged, nil
	case notify.KindReminder:
		return contract.KindReminder, nil
	case notify.KindAcknowledged:
		return contract.KindAcknowledged, nil
	case notify.KindResolved:
		return contract.KindResolved, nil
	case notify.KindEscalated:
		return contract.KindEscalated, nil
	case notify.KindFlapping:
		return contract.KindFlapping, nil
	case notify.KindStable:
		return contract.KindStable, nil
	}
	return "", fmt.Errorf("unknown notification kind %q", k)
}

// utcOrZero is t in UTC, or zero: the zero time in UTC is not IsZero, and
// omitzero would send it.
func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func jobs(in []alert.Job) []contract.Job {
	out := make([]contract.Job, 0, len(in))
	for _, j := range in {
		out = append(out, contract.Job{Name: j.Name, Stage: j.Stage, FailureReason: j.FailureReason, AllowFailure: j.AllowFailure})
	}
	return out
}

func change(c *alert.Culprit) *contract.Change {
	return &contract.Change{PipelineID: c.PipelineID, Status: c.Status, URL: c.URL, SHA: c.SHA,
		CommitTitle: c.CommitTitle, CommitURL: c.CommitURL, CommitAuthor: c.CommitAuthor, User: c.User}
}
