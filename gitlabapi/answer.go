package gitlabapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// observer sees every response before the GitLab client does: it feeds the
// rate-limit gate, and keeps the message of a 404, which the client drops
// (it answers every 404 with the same ErrNotFound) but which tells a deleted
// branch from a project the token cannot see.
type observer struct {
	next http.RoundTripper
	c    *Client
}

func (o observer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := o.next.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	o.c.noteLimit(resp.Header)
	if a, ok := r.Context().Value(answerKey{}).(*answer); ok && resp.StatusCode == http.StatusNotFound {
		resp.Body = a.readNotFound(resp.Body)
	}
	return resp, nil
}

// CloseIdleConnections passes on to the wrapped transport, so that the
// HTTP client's CloseIdleConnections still reaches it.
func (o observer) CloseIdleConnections() {
	if t, ok := o.next.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}

// answer is what the observer saw of the answer to one request, beyond
// what the GitLab client passes on. The observer writes it before the
// client returns, and the caller reads it after.
type answer struct {
	// message is a 404's: GitLab answers {"message":"404 Branch Not
	// Found"}, or {"error":"404 Not Found"} for an unknown route.
	message string
	// err is why a 404's body could not be read, if it could not.
	err error
}

type answerKey struct{}

// track readies one request: the option that carries ctx to it, and the
// answer the observer fills in. The answer travels in the request's context
// because net/http wraps the response body the observer could mark.
func track(ctx context.Context) (gitlab.RequestOptionFunc, *answer) {
	a := &answer{}
	return gitlab.WithContext(context.WithValue(ctx, answerKey{}, a)), a
}

// notFoundBodyLimit bounds what is read of a 404 body: GitLab's are a line.
const notFoundBodyLimit = 4 << 10

// readNotFound reads a 404 body, keeps its message, and gives back the
// body to whoever reads next.
func (a *answer) readNotFound(body io.ReadCloser) io.ReadCloser {
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, notFoundBodyLimit))
	var m struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	// A body that is not JSON leaves the message empty: an unknown 404.
	_ = json.Unmarshal(b, &m)
	a.message, a.err = cmp.Or(m.Message, m.Error), err
	return io.NopCloser(bytes.NewReader(b))
}

// notFound is the message of a 404 read whole, or "".
func (a *answer) notFound() string {
	if a == nil || a.err != nil {
		return ""
	}
	return a.message
}
