package gitlabapitest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/gitlabapi/gitlabapitest"
)

const token = "glpat-fake"

func get(t *testing.T, s *gitlabapitest.Server, path, tok string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL()+"/api/v4"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("PRIVATE-TOKEN", tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, strings.TrimSpace(string(b))
}

func TestTheFakeAnswersAsGitLabsAPIDocumentationShows(t *testing.T) {
	s := gitlabapitest.New(token)
	defer s.Close()
	for id := int64(1); id <= 25; id++ {
		s.AddPipeline(7, gitlabapitest.Pipeline{ID: id, Ref: "main", Status: "success"})
	}
	s.AddPipeline(7, gitlabapitest.Pipeline{ID: 99, Ref: "dev", Status: "failed"})
	s.AddBranch(7, "feature/x")
	reset := time.Now().Add(time.Minute).Truncate(time.Second)
	s.RateLimit(5, reset)

	tests := []struct {
		name, path, tok string
		status          int
		body            string
		header          map[string]string
	}{
		{name: "no token", path: "/projects/7/pipelines", status: 401, body: `{"message":"401 Unauthorized"}`},
		{name: "a wrong token", path: "/projects/7/pipelines", tok: "nope", status: 401, body: `{"message":"401 Unauthorized"}`},
		{name: "an unknown project", path: "/projects/8/pipelines", tok: token, status: 404, body: `{"message":"404 Project Not Found"}`},
		{name: "an unknown route", path: "/projects/7/nothing", tok: token, status: 404, body: `{"error":"404 Not Found"}`},
		{name: "a missing branch", path: "/projects/7/repository/branches/main", tok: token, status: 404, body: `{"message":"404 Branch Not Found"}`},
		{name: "a missing tag", path: "/projects/7/repository/tags/v1", tok: token, status: 404, body: `{"message":"404 Tag Not Found"}`},
		{name: "a missing pipeline", path: "/projects/7/pipelines/1000", tok: token, status: 404, body: `{"message":"404 Not found"}`},
		{name: "an escaped branch", path: "/projects/7/repository/branches/feature%2Fx", tok: token, status: 200},
		{name: "page 2 of 3", path: "/projects/7/pipelines?ref=main&order_by=id&sort=desc&per_page=10&page=2", tok: token, status: 200,
			header: map[string]string{"X-Page": "2", "X-Per-Page": "10", "X-Next-Page": "3", "X-Prev-Page": "1", "X-Total": "25", "X-Total-Pages": "3"}},
		{name: "the last page", path: "/projects/7/pipelines?ref=main&per_page=10&page=3", tok: token, status: 200,
			header: map[string]string{"X-Next-Page": "", "X-Total": "25"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, s, tt.path, tt.tok)
			if resp.StatusCode != tt.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, tt.status)
			}
			if tt.body != "" && body != tt.body {
				t.Errorf("body %s, want %s", body, tt.body)
			}
			for k, v := range tt.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if resp.Header.Get("RateLimit-Remaining") != "5" || resp.Header.Get("RateLimit-Reset") != fmt.Sprint(reset.Unix()) || resp.Header.Get("RateLimit-Limit") == "" {
				t.Errorf("rate-limit headers %v", resp.Header)
			}
		})
	}

	resp, body := get(t, s, "/projects/7/pipelines?ref=main&per_page=10&page=2", token)
	var page []struct{ ID int64 }
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	if len(page) != 10 || page[0].ID != 15 || page[9].ID != 6 {
		t.Errorf("page 2 newest first: %v", page)
	}
	if link := resp.Header.Get("Link"); !strings.Contains(link, `page=3`) || !strings.Contains(link, `rel="next"`) {
		t.Errorf("Link %q names no next page", link)
	}

	before := s.Requests()
	s.Refuse(2, 1500*time.Millisecond)
	for range 2 {
		if resp, _ := get(t, s, "/projects/7/pipelines", token); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
			t.Errorf("refused: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if resp, _ := get(t, s, "/projects/7/pipelines", token); resp.StatusCode != 200 {
		t.Errorf("after the refusals: %d", resp.StatusCode)
	}
	if n := s.Requests() - before; n != 3 {
		t.Errorf("%d requests counted, want 3", n)
	}
}
