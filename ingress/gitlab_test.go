package ingress

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
)

func readPayload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatalf("read payload: %v", err)
	}
	return b
}

// edit decodes a payload, lets fn change it as generic JSON, and encodes it
// again, so tests start from real GitLab bodies.
func edit(t testing.TB, body []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("decode payload: %v", err)
	}
	fn(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("encode payload: %v", err)
	}
	return out
}

func attrs(m map[string]any) map[string]any { return m["object_attributes"].(map[string]any) }

func TestParseRealPayloads(t *testing.T) {
	finished := time.Date(2016, 8, 12, 15, 26, 29, 0, time.UTC)
	tests := []struct {
		file string
		want alert.Event
	}{
		{
			file: "pipeline-docs-example.json",
			want: alert.Event{
				Project: alert.Project{ID: 1, Path: "gitlab-org/gitlab-test", URL: "http://192.168.64.1:3005/gitlab-org/gitlab-test", DefaultBranch: "master"},
				Pipeline: alert.Pipeline{
					ID: 31, IID: 3, Name: "Pipeline for branch: master", Ref: "master", SHA: "bcbb5ec396a2c0f828686f14fac9b80b780504f2",
					Source: "merge_request_event", Status: "success", URL: "http://example.com/gitlab-org/gitlab-test/-/pipelines/31",
					CreatedAt: time.Date(2016, 8, 12, 15, 23, 28, 0, time.UTC), FinishedAt: finished, Duration: 63,
					FailedJobs: []alert.Job{{Name: "test-build", Stage: "test", FailureReason: "script_failure"}},
				},
				User:         "Administrator",
				Commit:       alert.Commit{Title: "test", URL: "http://example.com/gitlab-org/gitlab-test/commit/bcbb5ec396a2c0f828686f14fac9b80b780504f2", Author: "User"},
				MergeRequest: &alert.MergeRequest{IID: 1, Title: "Test", URL: "http://192.168.64.1:3005/gitlab-org/gitlab-test/merge_requests/1"},
			},
		},
		{
			// go-gitlab's fixture: no pipeline URL (derived from the project
			// URL), no commit title (the message's first line), no failed job.
			file: "pipeline-go-gitlab.json",
			want: alert.Event{
				Project: alert.Project{ID: 1, Path: "gitlab-org/gitlab-test", URL: "http://192.168.64.1:3005/gitlab-org/gitlab-test", DefaultBranch: "master"},
				Pipeline: alert.Pipeline{
					ID: 31, Ref: "master", SHA: "bcbb5ec396a2c0f828686f14fac9b80b780504f2",
					Source: "merge_request_event", Status: "success", URL: "http://192.168.64.1:3005/gitlab-org/gitlab-test/-/pipelines/31",
					CreatedAt: time.Date(2016, 8, 12, 15, 23, 28, 0, time.UTC), FinishedAt: finished, Duration: 63,
				},
				User:         "User1",
				Commit:       alert.Commit{Title: "test", URL: "http://example.com/gitlab-org/gitlab-test/commit/bcbb5ec396a2c0f828686f14fac9b80b780504f2", Author: "User"},
				MergeRequest: &alert.MergeRequest{IID: 1, Title: "Test", URL: "http://192.168.64.1:3005/gitlab-org/gitlab-test/merge_requests/1"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, isPipeline, err := ParsePipelineEvent(readPayload(t, tt.file))
			if err != nil || !isPipeline {
				t.Fatalf("ParsePipelineEvent: pipeline=%v err=%v", isPipeline, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("event mismatch\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseOurOwnPayloads(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		check   func(t *testing.T, ev alert.Event)
		alertID string
	}{
		{
			name: "a failed branch pipeline keeps only its failed jobs", file: "pipeline-failed-branch.json", alertID: "17-main",
			check: func(t *testing.T, ev alert.Event) {
				want := []alert.Job{
					{Name: "unit-tests", Stage: "test", FailureReason: "script_failure"},
					{Name: "lint", Stage: "test", FailureReason: "runner_system_failure", AllowFailure: true},
				}
				if ev.Pipeline.Status != "failed" || !reflect.DeepEqual(ev.Pipeline.FailedJobs, want) {
					t.Fatalf("status %q failed jobs %+v", ev.Pipeline.Status, ev.Pipeline.FailedJobs)
				}
				if ev.MergeRequest != nil || ev.User != "Dana Ops" || ev.Commit.Title != "Bump the HTTP client" {
					t.Fatalf("mr %+v user %q commit %+v", ev.MergeRequest, ev.User, ev.Commit)
				}
			},
		},
		{
			name: "a tag pipeline keeps the tag name as ref", file: "pipeline-tag-canceled.json", alertID: "17-v2.4.0",
			check: func(t *testing.T, ev alert.Event) {
				if !ev.Pipeline.Tag || ev.Pipeline.Ref != "v2.4.0" || ev.Pipeline.Status != "canceled" {
					t.Fatalf("pipeline %+v", ev.Pipeline)
				}
			},
		},
		{
			name: "a merge-request pipeline is keyed by its source branch", file: "pipeline-merge-request.json", alertID: "17-feature/retry-budget",
			check: func(t *testing.T, ev alert.Event) {
				if ev.MergeRequest == nil || ev.MergeRequest.IID != 12 || ev.MergeRequest.Title != "Add a retry budget" {
					t.Fatalf("merge request %+v", ev.MergeRequest)
				}
			},
		},
		{
			name: "the Test button's RFC 3339 timestamps parse to UTC", file: "pipeline-test-button-rfc3339.json", alertID: "17-main",
			check: func(t *testing.T, ev alert.Event) {
				if want := time.Date(2026, 11, 20, 9, 21, 47, 0, time.UTC); !ev.Pipeline.FinishedAt.Equal(want) || ev.Pipeline.FinishedAt.Location() != time.UTC {
					t.Fatalf("finished_at %v, want %v", ev.Pipeline.FinishedAt, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, isPipeline, err := ParsePipelineEvent(readPayload(t, tt.file))
			if err != nil || !isPipeline {
				t.Fatalf("ParsePipelineEvent: pipeline=%v err=%v", isPipeline, err)
			}
			if got := ev.AlertID(); got != tt.alertID {
				t.Fatalf("alert id %q, want %q", got, tt.alertID)
			}
			tt.check(t, ev)
		})
	}
}

func TestBothTimestampFormatsGiveTheSameContentKey(t *testing.T) {
	real, _, err := ParsePipelineEvent(readPayload(t, "pipeline-failed-branch.json"))
	if err != nil {
		t.Fatal(err)
	}
	button, _, err := ParsePipelineEvent(readPayload(t, "pipeline-test-button-rfc3339.json"))
	if err != nil {
		t.Fatal(err)
	}
	if real.ContentKey() != button.ContentKey() {
		t.Fatalf("content keys differ: %q vs %q", real.ContentKey(), button.ContentKey())
	}
}

func TestParseAcceptsUnknownStatusesForTheRouterToIgnore(t *testing.T) {
	body := edit(t, readPayload(t, "pipeline-docs-example.json"), func(m map[string]any) {
		attrs(m)["status"] = "waiting_for_callback"
	})
	ev, isPipeline, err := ParsePipelineEvent(body)
	if err != nil || !isPipeline || ev.Pipeline.Status != "waiting_for_callback" {
		t.Fatalf("got %q pipeline=%v err=%v", ev.Pipeline.Status, isPipeline, err)
	}
	if alert.RouteOf(ev.Pipeline.Status) != alert.RouteIgnore {
		t.Fatal("an unknown status must be ignored")
	}
}

func TestParseReportsOtherObjectKindsAsNotPipelines(t *testing.T) {
	_, isPipeline, err := ParsePipelineEvent([]byte(`{"object_kind":"push","ref":"refs/heads/main"}`))
	if err != nil || isPipeline {
		t.Fatalf("pipeline=%v err=%v, want not a pipeline and no error", isPipeline, err)
	}
}

func TestParseNamesTheBadField(t *testing.T) {
	docs := readPayload(t, "pipeline-docs-example.json")
	tests := []struct {
		name  string
		body  []byte
		field string
		says  string
	}{
		{"missing project.id", edit(t, docs, func(m map[string]any) { delete(m["project"].(map[string]any), "id") }), "project.id", "required"},
		{"missing project", edit(t, docs, func(m map[string]any) { delete(m, "project") }), "project.id", "required"},
		{"missing object_attributes.id", edit(t, docs, func(m map[string]any) { delete(attrs(m), "id") }), "object_attributes.id", "required"},
		{"missing object_attributes.ref", edit(t, docs, func(m map[string]any) { delete(attrs(m), "ref") }), "object_attributes.ref", "required"},
		{"empty object_attributes.ref", edit(t, docs, func(m map[string]any) { attrs(m)["ref"] = "" }), "object_attributes.ref", "required"},
		{"missing object_attributes.status", edit(t, docs, func(m map[string]any) { delete(attrs(m), "status") }), "object_attributes.status", "required"},
		{"zero pipeline id", edit(t, docs, func(m map[string]any) { attrs(m)["id"] = 0 }), "object_attributes.id", "positive"},
		{"negative project id", edit(t, docs, func(m map[string]any) { m["project"].(map[string]any)["id"] = -4 }), "project.id", "positive"},
		{"a pipeline id that is a string", edit(t, docs, func(m map[string]any) { attrs(m)["id"] = "31" }), "object_attributes.id", "number"},
		{"a ref that is a number", edit(t, docs, func(m map[string]any) { attrs(m)["ref"] = 7 }), "object_attributes.ref", "string"},
		{"a finished_at that is no timestamp", edit(t, docs, func(m map[string]any) { attrs(m)["finished_at"] = "yesterday" }), "object_attributes.finished_at", "RFC 3339"},
		{"a created_at that is a number", edit(t, docs, func(m map[string]any) { attrs(m)["created_at"] = 12 }), "object_attributes.created_at", "timestamp"},
		{"a ref with a control character", edit(t, docs, func(m map[string]any) { attrs(m)["ref"] = "a\nb" }), "object_attributes.ref", "control"},
		{"a ref too long for an alert id", edit(t, docs, func(m map[string]any) { attrs(m)["ref"] = strings.Repeat("r", 5000) }), "object_attributes.ref", "too long"},
		{"malformed JSON", []byte(`{"object_kind": "pipeline", "project": {`), "", "malformed JSON"},
		{"not an object", []byte(`[1, 2, 3]`), "", "malformed JSON"},
		{"empty body", []byte(``), "", "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParsePipelineEvent(tt.body)
			var pe *PayloadError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *PayloadError", err)
			}
			if pe.Field != tt.field || !strings.Contains(pe.Error(), tt.says) {
				t.Fatalf("error %q on field %q, want field %q saying %q", pe.Error(), pe.Field, tt.field, tt.says)
			}
		})
	}
}

// A pipeline that opens and resolves nothing is answered without a look at
// its jobs; a pipeline that does is held to every kept field of them.
func TestTheJobsOfAnIgnoredPipelineAreNotLookedAt(t *testing.T) {
	mistyped := []any{map[string]any{"name": 7, "stage": "test", "status": "failed"}}
	tests := []struct {
		status  string
		wantErr bool
	}{
		{"running", false},
		{"pending", false},
		{"failed", true},
		{"success", true},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			body := edit(t, withStatus(t, tt.status), func(m map[string]any) { m["builds"] = mistyped })
			ev, _, err := ParsePipelineEvent(body)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("error %v, want an error: %v", err, tt.wantErr)
			}
			if err == nil && len(ev.Pipeline.FailedJobs) != 0 {
				t.Fatalf("kept %d failed jobs of an ignored pipeline", len(ev.Pipeline.FailedJobs))
			}
		})
	}
}
