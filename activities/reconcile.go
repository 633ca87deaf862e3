package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/gitlabapi"
)

// ActivityReconcile reads what GitLab's API says of an alert's ref
// (RevisionReconciled on).
const ActivityReconcile = "Reconcile"

// ReconcileRequest is the input of ActivityReconcile: the alert and its
// ref. It names no token: the worker holds those.
type ReconcileRequest struct {
	AlertID string `json:"alert_id"`
	Project int64  `json:"project"`
	Ref     string `json:"ref"`
	Tag     bool   `json:"tag,omitempty"`
}

// Error types of a reconcile that failed, for the workflow and the tests.
const (
	ErrTypeNoAPI       = "NoGitLabAPI"
	ErrTypeRateLimited = "GitLabRateLimited"
	ErrTypeGitLabAPI   = "GitLabAPI"
)

// Reconciler reads GitLab's API of each instance that has one: "" is the
// home instance.
type Reconciler struct {
	apis map[string]*gitlabapi.Client
}

// NewReconciler returns the reconcile activity over the APIs by instance.
func NewReconciler(apis map[string]*gitlabapi.Client) *Reconciler {
	return &Reconciler{apis: apis}
}

// Reconcile answers what GitLab's API says of the request's ref. When
// GitLab asks to wait (its rate limit, a 429, a 5xx) the retry comes after
// the delay it named; what waiting cannot fix is not retried.
func (r *Reconciler) Reconcile(ctx context.Context, req ReconcileRequest) (alert.Reconciled, error) {
	instance, _, _, err := alert.ParseInstanceID(req.AlertID)
	if err != nil {
		return alert.Reconciled{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("alert ID %q: %v", req.AlertID, err), ErrTypeNoAPI, nil)
	}
	api := r.apis[instance]
	if api == nil {
		name := instance
		if name == "" {
			name = "the home instance"
		}
		return alert.Reconciled{}, temporal.NewNonRetryableApplicationError("no GitLab API is configured for "+name, ErrTypeNoAPI, nil)
	}
	ref, err := api.Ref(ctx, req.Project, req.Ref, req.Tag)
	var wait *gitlabapi.RetryError
	switch {
	case err == nil:
		return alert.Reconciled{Newest: ref.Newest, Gone: ref.Gone}, nil
	case errors.As(err, &wait):
		return alert.Reconciled{}, temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypeRateLimited,
			temporal.ApplicationErrorOptions{NextRetryDelay: wait.After})
	case errors.Is(err, gitlabapi.ErrPermanent):
		return alert.Reconciled{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeGitLabAPI, nil)
	}
	return alert.Reconciled{}, temporal.NewApplicationError(err.Error(), ErrTypeGitLabAPI)
}
