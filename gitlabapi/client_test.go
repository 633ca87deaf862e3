package gitlabapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/gitlabapi/gitlabapitest"
)

// testToken is the fake's token; tests look for it in every error text.
const testToken = "glpat-T0kenThatMustNeverShow"

const project = 42

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fake(t *testing.T) *gitlabapitest.Server {
	t.Helper()
	s := gitlabapitest.New(testToken)
	t.Cleanup(s.Close)
	return s
}

func client(t *testing.T, baseURL string) *Client {
	t.Helper()
	c, err := New(baseURL, testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pipe is pipeline id on main with status, finished when the status says
// so.
func pipe(id int64, status string) gitlabapitest.Pipeline {
	p := gitlabapitest.Pipeline{
		ID: id, IID: id + 1000, Ref: "main", Status: status, Source: "push",
		SHA:       fmt.Sprintf("%040d", id),
		WebURL:    fmt.Sprintf("https://gitlab.example.com/g/p/-/pipelines/%d", id),
		CreatedAt: t0.Add(time.Duration(id) * time.Minute),
		UpdatedAt: t0.Add(time.Duration(id)*time.Minute + 30*time.Second),
		UserName:  "Dana Developer", UserUsername: "dana",
	}
	if finished(status) {
		p.FinishedAt = p.UpdatedAt
		p.Duration = 30
	}
	return p
}

func child(p gitlabapitest.Pipeline) gitlabapitest.Pipeline {
	p.Source = alert.SourceParentPipeline
	return p
}

func onRef(p gitlabapitest.Pipeline, ref string, tag bool) gitlabapitest.Pipeline {
	p.Ref, p.Tag = ref, tag
	return p
}

// running is n running pipelines from id on.
func running(from int64, n int) []gitlabapitest.Pipeline {
	var ps []gitlabapitest.Pipeline
	for i := range int64(n) {
		ps = append(ps, pipe(from+i, "running"))
	}
	return ps
}

func TestRefPicksTheNewestFinishedNonChildPipeline(t *testing.T) {
	tests := []struct {
		name      string
		pipelines []gitlabapitest.Pipeline
		// want is the ID of Newest; 0 for nil.
		want int64
		// requests is how many requests Ref makes, when checked.
		requests int
	}{
		{
			name:      "a failure under newer running, skipped, pending, manual and created pipelines",
			pipelines: []gitlabapitest.Pipeline{pipe(1, "success"), pipe(2, "failed"), pipe(3, "skipped"), pipe(4, "running"), pipe(5, "pending"), pipe(6, "manual"), pipe(7, "created")},
			want:      2,
			requests:  3, // one page, the pipeline, the branch
		},
		{
			name:      "a cancel counts as finished",
			pipelines: []gitlabapitest.Pipeline{pipe(1, "failed"), pipe(2, "canceled"), pipe(3, "waiting_for_resource"), pipe(4, "preparing"), pipe(5, "scheduled")},
			want:      2,
		},
		{
			name:      "newer finished child pipelines are left out",
			pipelines: []gitlabapitest.Pipeline{pipe(1, "success"), child(pipe(2, "failed")), child(pipe(3, "success"))},
			want:      1,
		},
		{
			name:      "pipelines of other refs are not read",
			pipelines: []gitlabapitest.Pipeline{pipe(1, "success"), onRef(pipe(2, "failed"), "dev", false)},
			want:      1,
		},
		{
			name:      "a pipeline of the namesake tag is not the branch's",
			pipelines: []gitlabapitest.Pipeline{pipe(1, "success"), onRef(pipe(2, "failed"), "main", true)},
			want:      1,
			requests:  4, // one page, both pipelines, the branch
		},
		{
			name:      "found on page 2 when page 1 holds only running pipelines",
			pipelines: append([]gitlabapitest.Pipeline{pipe(1, "success"), pipe(2, "failed")}, running(3, perPage)...),
			want:      2,
			requests:  4, // two pages, the pipeline, the branch
		},
		{
			name:      "none finished in 3 pages: nil, though page 4 has one",
			pipelines: append([]gitlabapitest.Pipeline{pipe(1, "success")}, running(2, 3*perPage)...),
			want:      0,
			requests:  4, // three pages, the branch
		},
		{
			name:      "no pipelines at all",
			pipelines: nil,
			want:      0,
			requests:  2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fake(t)
			s.AddBranch(project, "main")
			for _, p := range tt.pipelines {
				s.AddPipeline(project, p)
			}
			c := client(t, s.URL())
			got, err := c.Ref(context.Background(), project, "main", false)
			if err != nil {
				t.Fatal(err)
			}
			if got.Gone {
				t.Error("Gone with the branch there")
			}
			switch {
			case tt.want == 0 && got.Newest != nil:
				t.Errorf("Newest = pipeline %d (%s), want nil", got.Newest.Pipeline.ID, got.Newest.Pipeline.Status)
			case tt.want != 0 && got.Newest == nil:
				t.Errorf("Newest = nil, want pipeline %d", tt.want)
			case tt.want != 0 && got.Newest.Pipeline.ID != tt.want:
				t.Errorf("Newest = pipeline %d, want %d", got.Newest.Pipeline.ID, tt.want)
			}
			if tt.requests != 0 && s.Requests() != tt.requests {
				t.Errorf("%d requests, want %d", s.Requests(), tt.requests)
			}
		})
	}
}

func TestRefSkipsAListedPipelineThatRanAgainSinceTheList(t *testing.T) {
	s := fake(t)
	s.AddBranch(project, "main")
	s.AddPipeline(project, pipe(1, "failed"))
	s.AddPipeline(project, pipe(2, "success"))
	c := client(t, s.URL())
	// Between the list and the read, pipeline 2 is retried: the fake is
	// changed by the first request that reads it.
	retried := pipe(2, "running")
	var once sync.Once
	c.api.HTTPClient().Transport = hook{next: c.api.HTTPClient().Transport, before: func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/pipelines/2") {
			once.Do(func() { s.SetPipeline(project, retried) })
		}
	}}
	got, err := c.Ref(context.Background(), project, "main", false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Newest == nil || got.Newest.Pipeline.ID != 1 {
		t.Fatalf("Newest = %+v, want pipeline 1", got.Newest)
	}
}

// hook calls before ahead of each request.
type hook struct {
	next   http.RoundTripper
	before func(*http.Request)
}

func (h hook) RoundTrip(r *http.Request) (*http.Response, error) {
	h.before(r)
	return h.next.RoundTrip(r)
}

func TestRefEventIsWhatTheIntakeWouldBuild(t *testing.T) {
	long := "https://gitlab.example.com/" + strings.Repeat("g/", 300) + "-/pipelines/7"
	tests := []struct {
		name string
		ref  string
		tag  bool
		edit func(*gitlabapitest.Pipeline)
		user string
		url  string
	}{
		{name: "the user's name", ref: "main", user: "Dana Developer"},
		{name: "the username when the name is empty", ref: "main", edit: func(p *gitlabapitest.Pipeline) { p.UserName = "" }, user: "dana"},
		{name: "no user when the API names none", ref: "main", edit: func(p *gitlabapitest.Pipeline) { p.UserName, p.UserUsername = "", "" }, user: ""},
		{name: "a tag's pipeline", ref: "v1.2.0", tag: true, user: "Dana Developer"},
		{name: "a branch with a slash", ref: "feature/x.y", user: "Dana Developer"},
		{name: "a long web_url is clipped as Bound clips", ref: "main", edit: func(p *gitlabapitest.Pipeline) { p.WebURL = long }, user: "Dana Developer", url: alert.Clip(long)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := onRef(pipe(7, "failed"), tt.ref, tt.tag)
			p.FinishedAt = t0.Add(2*time.Hour + 1234*time.Millisecond)
			p.Duration = 95
			if tt.edit != nil {
				tt.edit(&p)
			}
			s := fake(t)
			if tt.tag {
				s.AddTag(project, tt.ref)
			} else {
				s.AddBranch(project, tt.ref)
			}
			s.AddPipeline(project, p)

			got, err := client(t, s.URL()).Ref(context.Background(), project, tt.ref, tt.tag)
			if err != nil {
				t.Fatal(err)
			}
			if got.Gone || got.Newest == nil {
				t.Fatalf("Ref = %+v, want the ref there with pipeline 7", got)
			}
			ev := got.Newest
			want := alert.Pipeline{
				ID: 7, IID: 1007, Ref: tt.ref, Tag: tt.tag, SHA: p.SHA, Source: "push", Status: "failed",
				URL: p.WebURL, Duration: 95,
			}
			if tt.url != "" {
				want.URL = tt.url
			}
			gp := ev.Pipeline
			gp.CreatedAt, gp.FinishedAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(gp, want) {
				t.Errorf("pipeline\n got %+v\nwant %+v", gp, want)
			}
			if !ev.Pipeline.CreatedAt.Equal(p.CreatedAt) {
				t.Errorf("CreatedAt = %v, want %v", ev.Pipeline.CreatedAt, p.CreatedAt)
			}
			// GitLab's API writes milliseconds; the alert compares seconds.
			if !ev.Pipeline.FinishedAt.Truncate(time.Second).Equal(p.FinishedAt.Truncate(time.Second)) {
				t.Errorf("FinishedAt = %v, want %v", ev.Pipeline.FinishedAt, p.FinishedAt)
			}
			if ev.User != tt.user {
				t.Errorf("User = %q, want %q", ev.User, tt.user)
			}
			if ev.Project != (alert.Project{ID: project}) {
				t.Errorf("Project = %+v, want only the ID", ev.Project)
			}
			if ev.ContentKey() != fmt.Sprintf("7:failed:%s", p.FinishedAt.Truncate(time.Second).Format(time.RFC3339)) {
				t.Errorf("ContentKey = %s", ev.ContentKey())
			}
		})
	}
}

func TestRefGone(t *testing.T) {
	tests := []struct {
		name  string
		setup func(s *gitlabapitest.Server)
		ref   string
		tag   bool
		gone  bool
		// permanent: Ref fails with an error wrapping ErrPermanent.
		permanent bool
	}{
		{name: "a branch that is there", setup: func(s *gitlabapitest.Server) { s.AddBranch(project, "main") }, ref: "main"},
		{name: "a deleted branch", setup: func(s *gitlabapitest.Server) {
			s.AddBranch(project, "main")
			s.DeleteBranch(project, "main")
		}, ref: "main", gone: true},
		{name: "a branch never made, in a project with pipelines", setup: func(s *gitlabapitest.Server) { s.AddPipeline(project, pipe(1, "success")) }, ref: "main", gone: true},
		{name: "a branch whose namesake tag is there", setup: func(s *gitlabapitest.Server) {
			s.AddBranch(project, "dev")
			s.AddTag(project, "main")
		}, ref: "main", gone: true},
		{name: "a tag that is there", setup: func(s *gitlabapitest.Server) { s.AddTag(project, "v1.0") }, ref: "v1.0", tag: true},
		{name: "a deleted tag", setup: func(s *gitlabapitest.Server) {
			s.AddTag(project, "v1.0")
			s.DeleteTag(project, "v1.0")
		}, ref: "v1.0", tag: true, gone: true},
		{name: "a branch with a slash", setup: func(s *gitlabapitest.Server) { s.AddBranch(project, "feature/x") }, ref: "feature/x"},
		{name: "an unknown project is an error, not gone", setup: func(s *gitlabapitest.Server) { s.AddBranch(project+1, "main") }, ref: "main", permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fake(t)
			tt.setup(s)
			got, err := client(t, s.URL()).Ref(context.Background(), project, tt.ref, tt.tag)
			if tt.permanent {
				if !errors.Is(err, ErrPermanent) {
					t.Fatalf("err = %v, want one wrapping ErrPermanent", err)
				}
				if got.Gone {
					t.Error("Gone with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Gone != tt.gone {
				t.Errorf("Gone = %t, want %t", got.Gone, tt.gone)
			}
		})
	}
}

func TestRefWithAWrongTokenIsPermanent(t *testing.T) {
	s := fake(t)
	s.AddBranch(project, "main")
	c, err := New(s.URL(), "glpat-wrong", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Ref(context.Background(), project, "main", false)
	if !errors.Is(err, ErrPermanent) {
		t.Fatalf("err = %v, want one wrapping ErrPermanent", err)
	}
	if !strings.Contains(err.Error(), "401") || !strings.HasPrefix(err.Error(), "list pipelines of project 42 on main: ") {
		t.Errorf("err = %q, want it to say what was done and that GitLab answered 401", err)
	}
}

func TestNewChecksTheBaseURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://gitlab.example.com", true},
		{"http://gitlab.example.com:8080/", true},
		{"https://example.com/gitlab", true},
		{"https://gitlab.example.com/api/v4", true},
		{"gitlab.example.com", false},
		{"/api/v4", false},
		{"ftp://gitlab.example.com", false},
		{"https://", false},
		{"https://user:pass@gitlab.example.com", false},
		{"https://gitlab.example.com/?x=1", false},
		{"https://gitlab.example.com/#top", false},
		{"https://gitlab.example.com/%zz", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := New(tt.url, testToken, nil)
			if (err == nil) != tt.ok {
				t.Fatalf("New(%q) = %v, want ok %t", tt.url, err, tt.ok)
			}
			if err != nil && (strings.Contains(err.Error(), "pass") || strings.Contains(err.Error(), testToken)) {
				t.Errorf("error %q quotes a secret", err)
			}
		})
	}
	if _, err := New("https://gitlab.example.com", "", nil); err == nil {
		t.Error("New accepts no token")
	}
	if _, err := New("https://gitlab.example.com", "glpat-a\nb", nil); err == nil || strings.Contains(err.Error(), "glpat") {
		t.Errorf("New with a token that cannot go in a header: %v", err)
	}
}

func TestNewLeavesTheCallersHTTPClientAlone(t *testing.T) {
	s := fake(t)
	s.AddBranch(project, "main")
	hc := &http.Client{Timeout: time.Minute}
	c, err := New(s.URL(), testToken, hc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ref(context.Background(), project, "main", false); err != nil {
		t.Fatal(err)
	}
	if hc.Transport != nil {
		t.Errorf("the caller's client's transport became %T", hc.Transport)
	}
}
