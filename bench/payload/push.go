package payload

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Push is what varies between generated push events.
type Push struct {
	ProjectID int64
	// Path is the project's path with its namespace; empty makes one up
	// from ProjectID as Build does.
	Path string
	// Ref is the branch, or the tag when Tag is set.
	Ref string
	Tag bool
	// Deleted sends the all-zero "after" of a push that deleted the ref.
	Deleted bool
	// Commits is how many commits the push carries (GitLab sends at most
	// 20), each touching Files files.
	Commits, Files int
	// At is when the commits were made.
	At time.Time
}

// zeroSHA is the "after" of a push that deleted its ref.
const zeroSHA = "0000000000000000000000000000000000000000"

// BuildPush returns the JSON body GitLab delivers for p as a "Push Hook"
// (or "Tag Push Hook"): the shape of GitLab's push event, with commits
// whose messages and file lists make the size real pushes have (20
// commits of 10 files each come to about 49 KB).
func BuildPush(p Push) ([]byte, error) {
	path := p.Path
	if path == "" {
		path = fmt.Sprintf("acme/project-%d", p.ProjectID)
	}
	webURL := "https://gitlab.example.com/" + path
	kind, prefix := "push", "refs/heads/"
	if p.Tag {
		kind, prefix = "tag_push", "refs/tags/"
	}
	after := sha(p.ProjectID, p.At.UnixNano())
	if p.Deleted {
		after = zeroSHA
	}
	commits := make([]map[string]any, p.Commits)
	for i := range commits {
		files := make([]string, p.Files)
		for f := range files {
			files[f] = fmt.Sprintf("services/%s/internal/handlers/component_%03d/handler_%03d_test.go", path, i, f)
		}
		id := sha(p.ProjectID, p.At.UnixNano()+int64(i))
		commits[i] = map[string]any{
			"id":    id,
			"title": fmt.Sprintf("Rework component %d of %s", i, path),
			"message": fmt.Sprintf("Rework component %d of %s\n\n%s\n", i, path,
				strings.Repeat("Moves the handler behind the interface the other services use, so that tests can stand it up alone. ", 8)),
			"timestamp": p.At.Add(time.Duration(i) * time.Minute).UTC().Format(time.RFC3339),
			"url":       webURL + "/-/commit/" + id,
			"author":    map[string]any{"name": "Dana Developer", "email": "dana@example.com"},
			"added":     files[:len(files)/3],
			"modified":  files[len(files)/3:],
			"removed":   []string{},
		}
	}
	project := map[string]any{
		"id": p.ProjectID, "name": path[strings.LastIndex(path, "/")+1:], "description": "",
		"web_url": webURL, "avatar_url": nil, "git_ssh_url": "git@gitlab.example.com:" + path + ".git",
		"git_http_url": webURL + ".git", "namespace": path[:max(0, strings.LastIndex(path, "/"))],
		"visibility_level": 20, "path_with_namespace": path, "default_branch": "main",
		"ci_config_path": nil, "homepage": webURL,
	}
	var checkout any = after
	if p.Deleted {
		checkout = nil
	}
	body := map[string]any{
		"object_kind": kind, "event_name": kind,
		"before":        sha(p.ProjectID, p.At.UnixNano()-1),
		"after":         after,
		"ref":           prefix + p.Ref,
		"ref_protected": p.Ref == "main",
		"checkout_sha":  checkout,
		"message":       nil,
		"user_id":       7, "user_name": "Dana Developer", "user_username": "dana", "user_email": "",
		"user_avatar": "", "project_id": p.ProjectID, "project": project,
		"commits": commits, "total_commits_count": len(commits), "push_options": map[string]any{},
		"repository": map[string]any{
			"name": project["name"], "url": project["git_ssh_url"], "description": "", "homepage": webURL,
			"git_http_url": project["git_http_url"], "git_ssh_url": project["git_ssh_url"], "visibility_level": 20,
		},
	}
	out, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode push to %s of project %d: %w", p.Ref, p.ProjectID, err)
	}
	return out, nil
}

// sha makes a commit id of 40 hex digits from two numbers.
func sha(a, b int64) string {
	return fmt.Sprintf("%016x%024x", uint64(a), uint64(b))
}
