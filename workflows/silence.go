package workflows

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/silence"
)

// A silence is a workflow of its own, so that it is durable, listed with
// its memo, and expires on a timer: SilenceWorkflow runs until the
// silence's end, or until someone expires it.
const (
	// SilenceWorkflowType is the type name SilenceWorkflow is registered
	// and listed under.
	SilenceWorkflowType = "SilenceWorkflow"
	// SignalExpire and UpdateExpire, carrying an ExpireRequest, end a
	// silence early; the update answers with the silence.
	SignalExpire = "expire"
	UpdateExpire = "expire"
	// QuerySilence returns the silence.Silence.
	QuerySilence = "silence"
	// SignalSilenceEnded, carrying the silence's ID, tells an alert it
	// holds that the silence was expired early (RevisionSilenced on).
	SignalSilenceEnded = "silence_ended"
	// MemoSilence is the memo key a silence workflow keeps its silence
	// under, for listing silences without querying each.
	MemoSilence = "silence"
)

// ExpireRequest is someone expiring a silence early: {"by"}.
type ExpireRequest struct {
	By string `json:"by"`
}

// releaseAgainAfter is how long after an early expiry the silence tells
// the alerts it holds a second time: a worker that listed the silence
// just before it expired may have silenced another alert meanwhile (it
// reads silences every silenceRefresh). Recorded histories hold this
// timer: keep its value.
const releaseAgainAfter = 3 * silenceRefresh

// changeSilenceChecksID marks the silences that check their ID as the
// REST API does.
const changeSilenceChecksID = "silence-checks-its-id"

// changeSilenceShowsExpiry marks the silences that, expired early, say
// so in AttrSilenceExpired.
const changeSilenceShowsExpiry = "silence-shows-its-expiry"

// changeSilenceChecksSignalBy marks the silences that check who an expire
// signal names, as the update's validator does: a signal cannot be
// refused, so a name the update would refuse (over 1024 bytes, a control
// character) is not kept. Asked only for such a name, so that histories
// of valid signals hold no marker and replay as they were.
const changeSilenceChecksSignalBy = "silence-checks-signal-by"

// checkSilenceID checks a silence's ID as the REST API does, and that it
// is its workflow's: a silence whose workflow ID is another (an alert's,
// "4242-main") would take that alert's ID while holding nothing, and an
// ID over Temporal's bound for a search attribute value would get every
// alert it holds terminated by the server.
func checkSilenceID(id, workflowID string) error {
	if err := silence.CheckID(id); err != nil {
		return err
	}
	if id != workflowID {
		return fmt.Errorf("%w: its id %q is not its workflow ID %q: start it with the same (or no) id", silence.ErrInvalid, id, workflowID)
	}
	return nil
}

// checkedBefore is the check of silences started before
// changeSilenceChecksID, kept so that their histories replay: the prefix,
// who made it, its matchers and its times. (Matchers over today's limits
// fail it too: a silence that costs seconds a check is not worth keeping.)
func checkedBefore(s silence.Silence) error {
	switch {
	case !strings.HasPrefix(s.ID, silence.IDPrefix):
		return fmt.Errorf("%w: its ID %q must start with %q", silence.ErrInvalid, s.ID, silence.IDPrefix)
	case strings.TrimSpace(s.CreatedBy) == "" || len(s.CreatedBy) > 1024:
		return fmt.Errorf("%w: \"created_by\" is required, at most 1024 bytes", silence.ErrInvalid)
	}
	if _, err := silence.Compile(s.Matchers); err != nil {
		return err
	}
	if s.StartsAt.IsZero() || !s.EndsAt.After(s.StartsAt) || s.EndsAt.Sub(s.StartsAt) > silence.MaxDuration {
		return fmt.Errorf("%w: \"ends_at\" must be after \"starts_at\", at most %s later", silence.ErrInvalid, silence.MaxDuration)
	}
	return nil
}

// SilenceWorkflow keeps one silence until it ends. It completes with the
// silence, expired early or not.
func SilenceWorkflow(ctx workflow.Context, s silence.Silence) (*silence.Silence, error) {
	if s.ID == "" {
		// Started from the CLI without one: the workflow ID is the
		// silence's, as the REST API makes it. (An ID given is kept, so
		// that a replay, which runs under another workflow ID, does the
		// same.)
		s.ID = workflow.GetInfo(ctx).WorkflowExecution.ID
	}
	// Silences started before the full check keep the one they started
	// with: their histories replay under the replayer's own workflow ID.
	var err error
	if workflow.GetVersion(ctx, changeSilenceChecksID, workflow.DefaultVersion, 1) >= 1 {
		if s.CreatedAt.IsZero() {
			// Started with the temporal CLI: made when its workflow
			// started, which bounds how far ahead it may start.
			s.CreatedAt = workflow.GetInfo(ctx).WorkflowStartTime.UTC()
		}
		if err = s.Check(); err == nil {
			err = checkSilenceID(s.ID, workflow.GetInfo(ctx).WorkflowExecution.ID)
		}
	} else {
		err = checkedBefore(s)
	}
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInput, nil)
	}
	// Started from the temporal CLI, a silence has no memo yet.
	if err := workflow.UpsertMemo(ctx, map[string]any{MemoSilence: s}); err != nil {
		return nil, fmt.Errorf("upsert memo: %w", err)
	}
	if err := workflow.SetQueryHandler(ctx, QuerySilence, func() (silence.Silence, error) { return s, nil }); err != nil {
		return nil, fmt.Errorf("register %s query: %w", QuerySilence, err)
	}
	expire := func(ctx workflow.Context, req ExpireRequest) {
		if s.ExpiredAt.IsZero() {
			s.ExpiredAt, s.ExpiredBy = workflow.Now(ctx), strings.TrimSpace(req.By)
		}
	}
	err = workflow.SetUpdateHandlerWithOptions(ctx, UpdateExpire,
		func(ctx workflow.Context, req ExpireRequest) (silence.Silence, error) {
			expire(ctx, req)
			return s, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req ExpireRequest) error {
			if strings.TrimSpace(req.By) == "" {
				return temporal.NewNonRetryableApplicationError(`"by" is required: who expires the silence`, ErrTypeInvalidInput, nil)
			}
			// A refused update leaves no event: checking more here keeps
			// every history replaying.
			if err := silence.CheckExpiredBy(req.By); err != nil {
				return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInput, nil)
			}
			return nil
		}},
	)
	if err != nil {
		return nil, fmt.Errorf("register %s update: %w", UpdateExpire, err)
	}
	expires := workflow.GetSignalChannel(ctx, SignalExpire)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var req ExpireRequest
			expires.Receive(ctx, &req)
			switch {
			case strings.TrimSpace(req.By) == "":
				req.By = "signal"
			case silence.CheckExpiredBy(req.By) != nil &&
				workflow.GetVersion(ctx, changeSilenceChecksSignalBy, workflow.DefaultVersion, 1) >= 1:
				workflow.GetLogger(ctx).Warn("Expire signal names nobody alertflow can keep: kept as \"signal\"",
					"silence_id", s.ID, "by_bytes", len(req.By))
				req.By = "signal"
			}
			expire(ctx, req)
		}
	})
	if !s.EndsAt.After(workflow.Now(ctx)) {
		// Dates copied from an example that have passed: say so where
		// the worker logs, since the CLI that started it says nothing.
		workflow.GetLogger(ctx).Warn("Silence ended before it started; it silences nothing", "silence_id", s.ID, "ends_at", s.EndsAt)
	}
	// Awaiting the expiry with a timeout is the silence's timer: it ends
	// at EndsAt, or as soon as someone expires it.
	if _, err := workflow.AwaitWithTimeout(ctx, max(s.EndsAt.Sub(workflow.Now(ctx)), time.Millisecond),
		func() bool { return !s.ExpiredAt.IsZero() }); err != nil {
		return nil, err
	}
	if s.ExpiredAt.IsZero() {
		// Over in time: each alert it holds ends its silence on its own
		// timer at the same moment.
		return &s, workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	}
	if workflow.GetVersion(ctx, changeSilenceShowsExpiry, workflow.DefaultVersion, 1) >= 1 {
		if err := workflow.UpsertTypedSearchAttributes(ctx, AttrSilenceExpired.ValueSet(true)); err != nil {
			return nil, fmt.Errorf("upsert search attributes: %w", err)
		}
	}
	if err := workflow.UpsertMemo(ctx, map[string]any{MemoSilence: s}); err != nil {
		return nil, fmt.Errorf("upsert memo: %w", err)
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumInterval: time.Minute},
	})
	for i := range 2 {
		if i > 0 {
			if err := newTimer(ctx, timerReleaseAgain, releaseAgainAfter).Get(ctx, nil); err != nil {
				return nil, err
			}
		}
		if err := workflow.ExecuteActivity(actx, activities.ActivityReleaseSilenced, s.ID).Get(ctx, nil); err != nil {
			return nil, fmt.Errorf("release the alerts of silence %s: %w", s.ID, err)
		}
	}
	return &s, workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// SilenceStartOptions are the options a silence workflow is started with:
// its ID, and the memo the silence list reads, there from the start rather
// than once the workflow ran.
func SilenceStartOptions(taskQueue string, s silence.Silence) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                    s.ID,
		TaskQueue:             taskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		Memo:                  map[string]any{MemoSilence: s},
		StaticSummary:         md("Silence by " + s.CreatedBy + " until " + s.EndsAt.UTC().Format(time.RFC3339) + ": " + string(s.Matchers)),
		StaticDetails:         md(s.Comment),
	}
}
