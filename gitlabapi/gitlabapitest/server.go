// Package gitlabapitest is a fake of the part of GitLab's REST API that
// package gitlabapi reads: a project's pipelines, one pipeline, one branch and
// one tag, with GitLab's pagination, authentication, not-found and rate-limit
// answers. Tests script it with the Server's methods; every method is safe to
// call while requests are being served.
package gitlabapitest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alertflow/alertflow/monitor"
)

// Pipeline is a pipeline as the fake serves it. Zero times are served as
// null, as GitLab does for a pipeline that has not started or finished.
type Pipeline struct {
	ID     int64
	IID    int64
	Ref    string
	Tag    bool
	Status string
	// Source is GitLab's pipeline source: "push", "schedule",
	// "parent_pipeline" for a child pipeline, ...
	Source     string
	SHA        string
	WebURL     string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time
	// Duration in seconds; 0 is served as null.
	Duration     int
	UserName     string
	UserUsername string
}

// DefaultLimit is the RateLimit-Limit the fake announces: GitLab's default
// for authenticated API requests per minute.
const DefaultLimit = 2000

// Server is a fake GitLab API. New starts it; Close stops it. A project
// exists once a pipeline, branch or tag was added to it; the API answers
// "404 Project Not Found" for any other.
type Server struct {
	srv   *httptest.Server
	token string

	mu       sync.Mutex
	projects map[int64]*project
	// remaining and reset are what answers say of the rate limit; a zero
	// reset means "a minute from each answer" with remaining DefaultLimit.
	remaining  int
	reset      time.Time
	refuse     int
	retryAfter time.Duration
	requests   int
}

type project struct {
	pipelines map[int64]Pipeline
	branches  map[string]bool
	tags      map[string]bool
	schedules []monitor.Schedule
}

// New starts a fake that accepts token as the PRIVATE-TOKEN header.
func New(token string) *Server {
	s := &Server{token: token, projects: map[int64]*project{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v4/projects/{id}/pipelines", s.listPipelines)
	mux.HandleFunc("GET /api/v4/projects/{id}/pipelines/{pipeline}", s.getPipeline)
	mux.HandleFunc("GET /api/v4/projects/{id}/repository/branches/{branch}", s.getBranch)
	mux.HandleFunc("GET /api/v4/projects/{id}/repository/tags/{tag}", s.getTag)
	mux.HandleFunc("GET /api/v4/projects/{id}/pipeline_schedules", s.listSchedules)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
	})
	s.srv = httptest.NewServer(s.gate(mux))
	return s
}

// URL is the instance's base URL, without /api/v4.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server and closes its connections.
func (s *Server) Close() { s.srv.Close() }

// AddPipeline adds p to the project, replacing a pipeline with the same ID.
func (s *Server) AddPipeline(projectID int64, p Pipeline) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.project(projectID).pipelines[p.ID] = p
}

// SetPipeline replaces the project's pipeline with p's ID, as GitLab's does
// when its status changes (or adds it, as AddPipeline).
func (s *Server) SetPipeline(projectID int64, p Pipeline) { s.AddPipeline(projectID, p) }

// AddBranch creates the branch name in the project.
func (s *Server) AddBranch(projectID int64, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.project(projectID).branches[name] = true
}

// DeleteBranch deletes the branch name; the project and its pipelines stay.
func (s *Server) DeleteBranch(projectID int64, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projects[projectID]; p != nil {
		delete(p.branches, name)
	}
}

// AddTag creates the tag name in the project (and the project, as
// AddPipeline and AddBranch do).
func (s *Server) AddTag(projectID int64, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.project(projectID).tags[name] = true
}

// DeleteTag deletes the tag name; the project and its pipelines stay.
func (s *Server) DeleteTag(projectID int64, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projects[projectID]; p != nil {
		delete(p.tags, name)
	}
}

// RateLimit sets what the next answers say in RateLimit-Remaining and
// RateLimit-Reset. Remaining 0 does not by itself refuse requests (see
// Refuse): it only tells the client to stop.
func (s *Server) RateLimit(remaining int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remaining, s.reset = remaining, reset
}

// Refuse makes the next n requests get 429 Too Many Requests with
// Retry-After (in whole seconds, rounded up).
func (s *Server) Refuse(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse, s.retryAfter = n, retryAfter
}

// Requests is how many requests the fake has served, refused ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// project returns the project with id, creating it. The caller holds mu.
func (s *Server) project(id int64) *project {
	p := s.projects[id]
	if p == nil {
		p = &project{pipelines: map[int64]Pipeline{}, branches: map[string]bool{}, tags: map[string]bool{}}
		s.projects[id] = p
	}
	return p
}

// gate counts the request, adds the rate-limit headers every GitLab answer
// carries, and answers 429 or 401 before next when it must.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		remaining, reset := s.remaining, s.reset
		if reset.IsZero() {
			remaining, reset = DefaultLimit, time.Now().Add(time.Minute)
		}
		refused := s.refuse > 0
		retryAfter := s.retryAfter
		if refused {
			s.refuse--
		}
		s.mu.Unlock()

		h := w.Header()
		h.Set("RateLimit-Limit", strconv.Itoa(DefaultLimit))
		h.Set("RateLimit-Observed", strconv.Itoa(max(DefaultLimit-remaining, 0)))
		h.Set("RateLimit-Remaining", strconv.Itoa(remaining))
		h.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		h.Set("RateLimit-ResetTime", reset.UTC().Format(http.TimeFormat))
		if refused {
			// GitLab's throttle answers in plain text.
			h.Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
			h.Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, "Retry later\n")
			return
		}
		if r.Header.Get("PRIVATE-TOKEN") != s.token || s.token == "" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// lookup finds the path's project, answering 404 Project Not Found when it
// does not exist. It returns with mu held when found.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) (*project, int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	p := s.projects[id]
	if err != nil || p == nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Project Not Found"})
		return nil, 0, false
	}
	return p, id, true
}

func (s *Server) listPipelines(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if o := q.Get("order_by"); o != "" && o != "id" {
		// The fake orders by id only; GitLab knows a few more.
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "order_by does not have a valid value"})
		return
	}
	sort := cmp.Or(q.Get("sort"), "desc")
	if sort != "asc" && sort != "desc" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "sort does not have a valid value"})
		return
	}
	perPage := intParam(q, "per_page", 20)
	perPage = min(max(perPage, 1), 100)
	page := max(intParam(q, "page", 1), 1)

	proj, projectID, ok := s.lookup(w, r)
	if !ok {
		return
	}
	var all []Pipeline
	for _, p := range proj.pipelines {
		if ref, ok := q["ref"]; ok && p.Ref != ref[0] {
			continue
		}
		if st := q.Get("status"); st != "" && p.Status != st {
			continue
		}
		if src := q.Get("source"); src != "" && p.Source != src {
			continue
		}
		all = append(all, p)
	}
	s.mu.Unlock()

	slices.SortFunc(all, func(a, b Pipeline) int {
		if sort == "desc" {
			return cmp.Compare(b.ID, a.ID)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	from, to := paginate(w, r, len(all), page, perPage)
	items := make([]map[string]any, 0, to-from)
	for _, p := range all[from:to] {
		items = append(items, map[string]any{
			"id": p.ID, "iid": p.IID, "project_id": projectID, "sha": p.SHA, "ref": p.Ref,
			"status": p.Status, "source": p.Source, "name": nil,
			"created_at": jsonTime(p.CreatedAt), "updated_at": jsonTime(p.UpdatedAt), "web_url": p.WebURL,
		})
	}
	writeJSON(w, http.StatusOK, items)
}

// paginate sets GitLab's pagination headers of page (of perPage items out
// of total) on w, and answers which items it holds, from and to.
func paginate(w http.ResponseWriter, r *http.Request, total, page, perPage int) (from, to int) {
	pages := max((total+perPage-1)/perPage, 1)
	from = min((page-1)*perPage, total)
	to = min(from+perPage, total)
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(perPage))
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	h.Set("X-Next-Page", "")
	h.Set("X-Prev-Page", "")
	link := func(n int, rel string) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		lq := r.URL.Query()
		lq.Set("page", strconv.Itoa(n))
		lq.Set("per_page", strconv.Itoa(perPage))
		u.RawQuery = lq.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page < pages {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
		links = append(links, link(page+1, "next"))
	}
	if page > 1 {
		h.Set("X-Prev-Page", strconv.Itoa(page-1))
		links = append(links, link(page-1, "prev"))
	}
	links = append(links, link(1, "first"), link(pages, "last"))
	h.Set("Link", strings.Join(links, ", "))
	return from, to
}

// AddSchedule adds sc to the project, replacing one with the same ID.
func (s *Server) AddSchedule(projectID int64, sc monitor.Schedule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.project(projectID)
	p.schedules = slices.DeleteFunc(p.schedules, func(o monitor.Schedule) bool { return o.ID == sc.ID })
	p.schedules = append(p.schedules, sc)
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	scope := q.Get("scope")
	if scope != "" && scope != "active" && scope != "inactive" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "scope does not have a valid value"})
		return
	}
	proj, _, ok := s.lookup(w, r)
	if !ok {
		return
	}
	var all []monitor.Schedule
	for _, sc := range proj.schedules {
		if scope == "" || (scope == "active") == sc.Active {
			all = append(all, sc)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b monitor.Schedule) int { return cmp.Compare(a.ID, b.ID) })
	from, to := paginate(w, r, len(all), max(intParam(q, "page", 1), 1), min(max(intParam(q, "per_page", 20), 1), 100))
	items := make([]map[string]any, 0, to-from)
	for _, sc := range all[from:to] {
		items = append(items, map[string]any{
			"id": sc.ID, "description": sc.Description, "ref": sc.Ref, "cron": sc.Cron,
			"cron_timezone": sc.CronTimezone, "next_run_at": jsonTime(sc.NextRunAt), "active": sc.Active,
		})
	}
	writeJSON(w, http.StatusOK, items)
}

func (s *Server) getPipeline(w http.ResponseWriter, r *http.Request) {
	proj, projectID, ok := s.lookup(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("pipeline"), 10, 64)
	p, found := proj.pipelines[id]
	s.mu.Unlock()
	if err != nil || !found {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
		return
	}
	var user any
	if p.UserName != "" || p.UserUsername != "" {
		user = map[string]any{"id": 1, "name": p.UserName, "username": p.UserUsername, "state": "active", "avatar_url": nil, "web_url": ""}
	}
	var duration any
	if p.Duration != 0 {
		duration = p.Duration
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": p.ID, "iid": p.IID, "project_id": projectID, "name": nil, "status": p.Status, "source": p.Source,
		"ref": p.Ref, "sha": p.SHA, "before_sha": "0000000000000000000000000000000000000000", "tag": p.Tag,
		"yaml_errors": nil, "user": user,
		"created_at": jsonTime(p.CreatedAt), "updated_at": jsonTime(p.UpdatedAt), "started_at": jsonTime(p.CreatedAt),
		"finished_at": jsonTime(p.FinishedAt), "committed_at": nil,
		"duration": duration, "queued_duration": nil, "coverage": nil, "web_url": p.WebURL,
		"detailed_status": map[string]any{"text": p.Status, "label": p.Status, "group": p.Status},
	})
}

func (s *Server) getBranch(w http.ResponseWriter, r *http.Request) {
	proj, _, ok := s.lookup(w, r)
	if !ok {
		return
	}
	name := r.PathValue("branch")
	found := proj.branches[name]
	s.mu.Unlock()
	if !found {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Branch Not Found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": name, "merged": false, "protected": false, "default": false,
		"developers_can_push": false, "developers_can_merge": false, "can_push": true,
		"web_url": "", "commit": map[string]any{},
	})
}

func (s *Server) getTag(w http.ResponseWriter, r *http.Request) {
	proj, _, ok := s.lookup(w, r)
	if !ok {
		return
	}
	name := r.PathValue("tag")
	found := proj.tags[name]
	s.mu.Unlock()
	if !found {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Tag Not Found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": name, "message": "", "target": "", "commit": map[string]any{}, "release": nil, "protected": false,
	})
}

// intParam is the query parameter name as an int, or def when absent or
// not a number (GitLab ignores a bad per_page or page the same way).
func intParam(q url.Values, name string, def int) int {
	n, err := strconv.Atoi(q.Get(name))
	if err != nil {
		return def
	}
	return n
}

// jsonTime is t as GitLab writes times (UTC, milliseconds), or null.
func jsonTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// A write error means the client went away; there is no one to tell.
	_ = json.NewEncoder(w).Encode(v)
}
