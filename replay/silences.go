package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/alertflow/alertflow/silence"
	"github.com/alertflow/alertflow/workflows"
)

// Silences reads every silence the server keeps, those over included, as
// they were: a replay holds back what they held back when they were
// active, and an alert whose silence was expired early gets the recorded
// silence_ended signal at its time.
func (r Reader) Silences(ctx context.Context) ([]silence.Active, error) {
	var set []silence.Active
	var token []byte
	for {
		resp, err := r.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: r.Namespace, Query: "WorkflowType = '" + workflows.SilenceWorkflowType + "'",
			NextPageToken: token, PageSize: 500,
		})
		if err != nil {
			return nil, fmt.Errorf("list silences: %w", err)
		}
		for _, run := range resp.GetExecutions() {
			sl, ok := workflows.SilenceOf(run)
			if !ok {
				continue // refused at its start: it never silenced anything
			}
			a, err := silence.Activate(sl)
			if err != nil {
				continue
			}
			set = append(set, a)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return set, nil
		}
	}
}

// CandidateSilences reads silences a candidate adds, as a JSON list of
// silence requests, each with its own starts_at and ends_at (a silence of
// the past has no "now" to start from): [{"matchers":{…},
// "starts_at":"…","ends_at":"…","created_by":"…","comment":"…"}]. Every
// problem is named with the silence's position.
func CandidateSilences(data []byte) ([]silence.Active, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var reqs []silence.Request
	if err := dec.Decode(&reqs); err != nil {
		return nil, fmt.Errorf("want a JSON list of silences like [{\"matchers\":{\"project\":\"team-a/*\"},\"starts_at\":\"2026-11-01T00:00:00Z\",\"ends_at\":\"2026-11-02T00:00:00Z\",\"created_by\":\"alice\"}]: %w", err)
	}
	set := make([]silence.Active, 0, len(reqs))
	for i, req := range reqs {
		if req.StartsAt == nil || req.Duration != "" {
			return nil, fmt.Errorf("silence %d: give starts_at and ends_at (a candidate silence has no now to start from)", i+1)
		}
		sl, err := silence.New(fmt.Sprintf("%scandidate-%d", silence.IDPrefix, i+1), req, *req.StartsAt)
		if err != nil {
			return nil, fmt.Errorf("silence %d: %w", i+1, err)
		}
		a, err := silence.Activate(sl)
		if err != nil {
			return nil, fmt.Errorf("silence %d: %w", i+1, err)
		}
		set = append(set, a)
	}
	return set, nil
}
