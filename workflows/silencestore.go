package workflows

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/alertflow/alertflow/silence"
)

// silenceListTTL is how long a worker reuses its list of silences: a
// notification burst costs one visibility query, and a new silence holds
// notifications back within that long (plus the visibility store's lag).
const silenceListTTL = 2 * time.Second

// maxSilences bounds the silences a worker reads at once; far more than a
// team keeps.
const maxSilences = 1000

// SilenceStore reads silences from their workflows and tells alerts when
// one is expired early.
type SilenceStore struct {
	client client.Client

	mu     sync.Mutex
	at     time.Time
	cached []silence.Active
}

// NewSilenceStore returns the silences kept on the server c talks to.
func NewSilenceStore(c client.Client) *SilenceStore {
	return &SilenceStore{client: c}
}

// runningSilences is the visibility query of the silences that are not over.
const runningSilences = "WorkflowType = '" + SilenceWorkflowType + "' AND ExecutionStatus = 'Running'"

// Active lists the silences not over yet (active, or still to start),
// reading the server at most once per silenceListTTL.
func (s *SilenceStore) Active(ctx context.Context) ([]silence.Active, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.at.IsZero() && time.Since(s.at) < silenceListTTL {
		return s.cached, nil
	}
	resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		PageSize: maxSilences,
		Query:    runningSilences,
	})
	if err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	var set []silence.Active
	for _, run := range resp.GetExecutions() {
		sl, ok := SilenceOf(run)
		if !ok {
			continue // started from the CLI a moment ago: no memo yet
		}
		a, err := silence.Activate(sl)
		if err != nil {
			continue // its own workflow fails it
		}
		set = append(set, a)
	}
	s.cached, s.at = set, time.Now()
	return set, nil
}

// Current reads silence id from its workflow's memo, not from the list:
// one expired early a moment ago may still be in a list up to
// silenceListTTL old, plus the visibility store's lag. ok is false when
// the silence is gone or unreadable.
func (s *SilenceStore) Current(ctx context.Context, id string) (silence.Active, bool, error) {
	desc, err := s.client.DescribeWorkflowExecution(ctx, id, "")
	if isNotFound(err) {
		return silence.Active{}, false, nil
	}
	if err != nil {
		return silence.Active{}, false, fmt.Errorf("read silence %s: %w", id, err)
	}
	sl, ok := SilenceOf(desc.GetWorkflowExecutionInfo())
	if !ok {
		return silence.Active{}, false, nil
	}
	a, err := silence.Activate(sl)
	if err != nil {
		return silence.Active{}, false, nil
	}
	return a, true, nil
}

// SilenceOf reads the silence a listed silence workflow keeps in its memo.
func SilenceOf(run *workflowpb.WorkflowExecutionInfo) (silence.Silence, bool) {
	p := run.GetMemo().GetFields()[MemoSilence]
	if p == nil {
		return silence.Silence{}, false
	}
	var sl silence.Silence
	if err := converter.GetDefaultDataConverter().FromPayload(p, &sl); err != nil {
		return silence.Silence{}, false
	}
	if sl.CreatedAt.IsZero() {
		// Started with the temporal CLI, whose input has no created_at:
		// it was made when its workflow started.
		sl.CreatedAt = run.GetStartTime().AsTime().UTC()
	}
	return sl, true
}

// ReleaseSilenced signals every open alert silence id holds that it was
// expired early, and returns how many it told.
func (s *SilenceStore) ReleaseSilenced(ctx context.Context, id string) (int, error) {
	query := AttrSilencedBy.GetName() + " = " + quoteQueryValue(id) + " AND ExecutionStatus = 'Running'"
	var token []byte
	told := 0
	for {
		resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			PageSize: 500, NextPageToken: token, Query: query,
		})
		if err != nil {
			return told, fmt.Errorf("list the alerts silence %s holds: %w", id, err)
		}
		for _, run := range resp.GetExecutions() {
			err := s.client.SignalWorkflow(ctx, run.GetExecution().GetWorkflowId(), "", SignalSilenceEnded, id)
			if err != nil && !isNotFound(err) {
				return told, fmt.Errorf("tell alert %s that silence %s ended: %w", run.GetExecution().GetWorkflowId(), id, err)
			}
			told++
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return told, nil
		}
	}
}

// isNotFound says the alert completed between listing and signalling it:
// it has nothing left to hand over.
func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
