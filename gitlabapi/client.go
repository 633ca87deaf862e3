// Package gitlabapi reads what GitLab's REST API knows of a ref, so that an
// alert whose deliveries GitLab dropped can be brought in line.
package gitlabapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/alertflow/alertflow/alert"
)

// Client reads one GitLab instance's API with a read_api token.
type Client struct {
	api *gitlab.Client
	// token is kept only to scrub it from error texts, which quote what
	// a server answered: a broken proxy may echo request headers.
	token string
	// clock is time.Now but in tests.
	clock func() time.Time

	// mu guards what the last response said of the rate limit.
	mu         sync.Mutex
	limitKnown bool
	remaining  int
	reset      time.Time
}

// defaultTimeout bounds one request when New is given no HTTP client.
const defaultTimeout = 30 * time.Second

// New checks baseURL (absolute http or https URL, e.g.
// https://gitlab.example.com — the client appends /api/v4) and returns a
// client. hc may be nil (then a client with a 30 s timeout). The token is
// never in an error or log.
func New(baseURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		// url.Parse's error repeats the URL, which may hold a password.
		return nil, fmt.Errorf("gitlabapi: the base URL is not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("gitlabapi: base URL %q: want an absolute http or https URL without user, query or fragment, such as https://gitlab.example.com", u.Redacted())
	}
	if token == "" {
		return nil, fmt.Errorf("gitlabapi: no token")
	}
	for i := 0; i < len(token); i++ {
		if b := token[i]; b < 0x21 || b > 0x7e {
			// net/http would refuse the header on every request.
			return nil, fmt.Errorf("gitlabapi: the token holds a byte that cannot go in a header, at %d", i)
		}
	}

	// A copy, so that wrapping its transport leaves the caller's alone.
	var h http.Client
	if hc != nil {
		h = *hc
	} else {
		h.Timeout = defaultTimeout
	}
	next := h.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c := &Client{token: token, clock: time.Now}
	h.Transport = observer{next: next, c: c}
	h.CheckRedirect = sameHost(h.CheckRedirect)

	c.api, err = gitlab.NewClient(token,
		gitlab.WithURLWarningLogger(slog.New(slog.DiscardHandler)),
		gitlab.WithBaseURL(u.String()),
		gitlab.WithHTTPClient(&h),
		gitlab.WithUserAgent("alertflow"),
		// Temporal retries the activity durably, with the wait a
		// RetryError names; retrying here too would multiply requests
		// against a GitLab that asked for fewer.
		gitlab.WithoutRetries(),
		gitlab.WithCustomRetryMax(0),
		// The client's own limiter would sleep; the gate refuses instead.
		gitlab.WithCustomLimiter(noLimiter{}),
	)
	if err != nil {
		return nil, fmt.Errorf("gitlabapi: client for %s: %w", u.Redacted(), err)
	}
	return c, nil
}

// errOtherHost refuses a redirect to another host: net/http would send it
// the PRIVATE-TOKEN header, which it does not know for a secret.
var errOtherHost = errors.New("redirected to another host")

// sameHost is a CheckRedirect that refuses errOtherHost, then asks check,
// or else stops after 10 redirects as net/http does.
func sameHost(check func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != via[0].URL.Host {
			return fmt.Errorf("gitlabapi: %w %s", errOtherHost, req.URL.Host)
		}
		if check != nil {
			return check(req, via)
		}
		if len(via) >= 10 {
			return errors.New("gitlabapi: stopped after 10 redirects")
		}
		return nil
	}
}

// Ref is what the API says of a project's ref now.
type Ref struct {
	// Gone: the branch (or, for a tag, the tag) does not exist any more:
	// GitLab answered 404 with the message "404 Branch Not Found" or "404
	// Tag Not Found". "404 Project Not Found" is an error instead: the
	// token may only lack access.
	Gone bool `json:"gone,omitempty"`
	// Newest is the newest finished pipeline on the ref (success, failed
	// or canceled; child pipelines, source "parent_pipeline", left out) as
	// the event the webhook intake would have built from its delivery; nil
	// when none of the pipelines read has finished.
	Newest *alert.Event `json:"newest,omitempty"`
}

// How much of a ref's pipelines Ref reads: a ref whose last 60 pipelines are
// all running or skipped has nothing finished worth reconciling.
const (
	perPage  = 20
	maxPages = 3
	// maxReads bounds the pipelines read whole: a listed pipeline that
	// turns out retried (running again) or another ref's sends Ref on to
	// the next one.
	maxReads = 3
)

// GitLab's 404 messages for a missing branch or tag; any other 404 (the
// project's, a proxy's) is not proof the ref is gone.
const (
	branchNotFound  = "404 Branch Not Found"
	tagNotFound     = "404 Tag Not Found"
	projectNotFound = "404 Project Not Found"
)

// Ref reads the project's pipelines on ref, newest id first (order_by=id,
// sort=desc, per_page=20, following the next page via GitLab's pagination
// headers, at most 3 pages), picks the newest finished non-child one and
// reads it whole (GET /projects/:id/pipelines/:pipeline_id, which has
// finished_at, user and duration that the list lacks), then reads the
// branch (GET /projects/:id/repository/branches/:branch) or, when tag is
// true, the tag (GET /projects/:id/repository/tags/:tag_name).
//
// An error is a *RetryError (errors.As finds it), wraps ErrPermanent, or is
// ctx's; it says what was being done. While the last response said the rate
// limit is used up until a reset to come, Ref sends nothing and returns a
// *RetryError for the time left.
func (c *Client) Ref(ctx context.Context, projectID int64, ref string, tag bool) (Ref, error) {
	if projectID <= 0 || ref == "" {
		return Ref{}, fmt.Errorf("read ref %q of project %d: %w: no such project or ref", ref, projectID, ErrPermanent)
	}
	newest, err := c.newest(ctx, projectID, ref, tag)
	if err != nil {
		return Ref{}, err
	}
	gone, err := c.gone(ctx, projectID, ref, tag)
	if err != nil {
		return Ref{}, err
	}
	return Ref{Gone: gone, Newest: newest}, nil
}

// ready is nil when a request may go: ctx is live and the rate limit not
// used up.
func (c *Client) ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e := c.exhausted(); e != nil {
		return e
	}
	return nil
}

// newest is the event of the newest finished non-child pipeline on ref, or
// nil when the pages read hold none.
func (c *Client) newest(ctx context.Context, projectID int64, ref string, tag bool) (*alert.Event, error) {
	what := fmt.Sprintf("list pipelines of project %d on %s", projectID, ref)
	opt := &gitlab.ListProjectPipelinesOptions{
		ListOptions: gitlab.ListOptions{PerPage: perPage},
		Ref:         gitlab.Ptr(ref),
		OrderBy:     gitlab.Ptr("id"),
		Sort:        gitlab.Ptr("desc"),
	}
	reads := 0
	var found *alert.Event
	err := c.eachPage(ctx, what, maxPages, func(options []gitlab.RequestOptionFunc) (*gitlab.Response, bool, error) {
		list, resp, err := c.api.Pipelines.ListProjectPipelines(projectID, opt, options...)
		if err != nil {
			return resp, false, err
		}
		for _, p := range list {
			if p == nil || !finished(p.Status) || p.Source == alert.SourceParentPipeline {
				continue
			}
			if reads == maxReads {
				return resp, true, nil
			}
			reads++
			ev, err := c.pipeline(ctx, projectID, ref, tag, p.ID)
			if err != nil {
				return nil, true, errRead{err}
			}
			if ev != nil {
				found = ev
				return resp, true, nil
			}
		}
		return resp, false, nil
	})
	return found, err
}

// errRead is an error already wrapped with what was read, which eachPage
// passes on as it is.
type errRead struct{ error }

func (e errRead) Unwrap() error { return e.error }

// eachPage calls list for up to max pages of a listing, following GitLab's
// next-page link, each request after the rate-limit gate; list says when
// it has read enough. Errors are wrapped with what was being read.
func (c *Client) eachPage(ctx context.Context, what string, max int,
	list func(options []gitlab.RequestOptionFunc) (resp *gitlab.Response, done bool, err error)) error {
	var next gitlab.RequestOptionFunc
	for range max {
		if err := c.ready(ctx); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		req, a := track(ctx)
		options := []gitlab.RequestOptionFunc{req}
		if next != nil {
			options = append(options, next)
		}
		resp, done, err := list(options)
		var inner errRead
		switch {
		case errors.As(err, &inner):
			return inner.error
		case err != nil:
			return fmt.Errorf("%s: %w", what, c.classify(ctx, resp, err, a))
		case done:
			return nil
		}
		var more bool
		if next, more = gitlab.WithNext(resp); !more {
			return nil
		}
	}
	return nil
}

// pipeline reads pipeline id whole and makes its event; nil when it is no
// longer what the list said (retried and running again, deleted) or belongs
// to the namesake branch of a tag asked about, or the other way round.
func (c *Client) pipeline(ctx context.Context, projectID int64, ref string, tag bool, id int64) (*alert.Event, error) {
	what := fmt.Sprintf("read pipeline %d of project %d", id, projectID)
	if err := c.ready(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	req, a := track(ctx)
	p, resp, err := c.api.Pipelines.GetPipeline(projectID, id, req)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			if m := a.notFound(); m != "" && m != projectNotFound {
				// Deleted since the list.
				return nil, nil
			}
		}
		return nil, fmt.Errorf("%s: %w", what, c.classify(ctx, resp, err, a))
	}
	if p == nil || p.ID != id {
		return nil, fmt.Errorf("%s: %w: the answer is not pipeline %d", what, ErrPermanent, id)
	}
	if !finished(p.Status) || string(p.Source) == alert.SourceParentPipeline || p.Ref != ref || p.Tag != tag {
		return nil, nil
	}
	return eventOf(projectID, ref, p), nil
}

// gone reports whether GitLab says the branch, or the tag, does not exist.
func (c *Client) gone(ctx context.Context, projectID int64, ref string, tag bool) (bool, error) {
	kind, missing := "branch", branchNotFound
	if tag {
		kind, missing = "tag", tagNotFound
	}
	what := fmt.Sprintf("read %s %s of project %d", kind, ref, projectID)
	if err := c.ready(ctx); err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	req, a := track(ctx)
	var resp *gitlab.Response
	var err error
	if tag {
		_, resp, err = c.api.Tags.GetTag(projectID, ref, req)
	} else {
		_, resp, err = c.api.Branches.GetBranch(projectID, ref, req)
	}
	if err == nil {
		return false, nil
	}
	if resp != nil && resp.StatusCode == http.StatusNotFound && a.notFound() == missing {
		return true, nil
	}
	return false, fmt.Errorf("%s: %w", what, c.classify(ctx, resp, err, a))
}
