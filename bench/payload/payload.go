// Package payload builds GitLab pipeline webhook bodies for alertflow's
// benchmarks: a real delivery from testdata/, given the project, branch,
// pipeline, status and number of jobs a load needs. Everything else in the
// body (users, runners, artifacts, environments, variables) stays as GitLab
// sent it, so the intake parses what it would parse in production.
package payload

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"strings"
	"time"
)

// gitlabTimeLayout is how real deliveries write timestamps.
const gitlabTimeLayout = "2006-01-02 15:04:05 MST"

// Builder makes pipeline webhook bodies from a recorded one.
type Builder struct {
	base map[string]any
	// jobs are the recorded builds, the templates of generated jobs.
	jobs []map[string]any
}

// Load reads a recorded pipeline webhook body, such as
// testdata/pipeline-failed-branch.json.
func Load(path string) (*Builder, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read payload template: %w", err)
	}
	b, err := New(body)
	if err != nil {
		return nil, fmt.Errorf("payload template %s: %w", path, err)
	}
	return b, nil
}

// New returns a Builder for a recorded pipeline webhook body, which must
// have at least one job in builds.
func New(body []byte) (*Builder, error) {
	var base map[string]any
	if err := json.Unmarshal(body, &base); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	raw, _ := base["builds"].([]any)
	b := &Builder{base: base}
	for _, j := range raw {
		if m, ok := j.(map[string]any); ok {
			b.jobs = append(b.jobs, m)
		}
	}
	if len(b.jobs) == 0 {
		return nil, fmt.Errorf("no jobs in builds to use as templates")
	}
	for _, key := range []string{"object_attributes", "project"} {
		if _, ok := base[key].(map[string]any); !ok {
			return nil, fmt.Errorf("no %s object", key)
		}
	}
	return b, nil
}

// Pipeline is what varies between generated deliveries.
type Pipeline struct {
	ProjectID int64
	Ref       string
	// ID is the pipeline id; IID is derived from it.
	ID int64
	// Status is the pipeline's status: failed, success, running, ...
	Status string
	// Jobs is the number of jobs in builds, FailedJobs how many of them
	// failed. The others succeeded, or share the pipeline's status while it
	// is pending, running or canceled.
	Jobs, FailedJobs int
	// FinishedAt is the pipeline's finished_at; zero sends null.
	FinishedAt time.Time
	// Path is the project's path with its namespace; empty makes one up
	// from ProjectID.
	Path string
	// Tag says Ref is a tag; Source is the pipeline's source (empty keeps
	// the template's); ParentID, for a child pipeline (source
	// parent_pipeline), is its parent's id, sent as source_pipeline.
	Tag      bool
	Source   string
	ParentID int64
}

// Build returns the indented JSON body GitLab would deliver for p.
func (b *Builder) Build(p Pipeline) ([]byte, error) {
	m := maps.Clone(b.base)
	path := p.Path
	if path == "" {
		path = fmt.Sprintf("acme/project-%d", p.ProjectID)
	}
	webURL := "https://gitlab.example.com/" + path

	project := maps.Clone(b.base["project"].(map[string]any))
	project["id"] = p.ProjectID
	project["name"] = path[strings.LastIndexByte(path, '/')+1:]
	project["path_with_namespace"] = path
	project["web_url"] = webURL
	m["project"] = project

	attrs := maps.Clone(b.base["object_attributes"].(map[string]any))
	attrs["id"] = p.ID
	attrs["iid"] = p.ID % 10_000
	attrs["ref"] = p.Ref
	attrs["status"] = p.Status
	attrs["detailed_status"] = p.Status
	attrs["url"] = fmt.Sprintf("%s/-/pipelines/%d", webURL, p.ID)
	attrs["finished_at"] = nil
	attrs["tag"] = p.Tag
	if p.Source != "" {
		attrs["source"] = p.Source
	}
	if p.ParentID > 0 {
		m["source_pipeline"] = map[string]any{
			"project":     map[string]any{"id": p.ProjectID, "web_url": webURL, "path_with_namespace": path},
			"pipeline_id": p.ParentID, "job_id": p.ParentID*1000 + 1,
		}
	}
	if !p.FinishedAt.IsZero() {
		attrs["finished_at"] = p.FinishedAt.UTC().Format(gitlabTimeLayout)
		attrs["created_at"] = p.FinishedAt.Add(-7 * time.Minute).UTC().Format(gitlabTimeLayout)
	}
	m["object_attributes"] = attrs

	others := "success"
	switch p.Status {
	case "created", "pending", "running", "canceled", "canceling":
		others = p.Status
	}
	jobs := make([]any, p.Jobs)
	for i := range jobs {
		job := maps.Clone(b.jobs[i%len(b.jobs)])
		job["id"] = p.ID*1000 + int64(i)
		job["name"] = fmt.Sprintf("%v-%d", b.jobs[i%len(b.jobs)]["name"], i)
		job["status"] = others
		job["failure_reason"] = nil
		if i < p.FailedJobs {
			job["status"] = "failed"
			job["failure_reason"] = "script_failure"
		}
		jobs[i] = job
	}
	m["builds"] = jobs

	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode pipeline %d: %w", p.ID, err)
	}
	return body, nil
}
