package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/alertflow/alertflow/alert"
)

// TestRefsThatLookAlikeNeverTouchEachOther opens alerts on branches whose
// IDs differ only in where the project id ends or in a percent sign:
// each keeps its own state, and resolving some leaves the others open.
func TestRefsThatLookAlikeNeverTouchEachOther(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)
	cases := []struct {
		project  int64
		ref, id  string
		status   string
		severity alert.Severity
		resolve  bool
	}{
		{1611, "a", "1611-a", alert.PipelineFailed, alert.SeverityHigh, false},
		{161, "1-a", "161-1-a", alert.PipelineCanceled, alert.SeverityMedium, true},
		{16, "11-a", "16-11-a", alert.PipelineSkipped, alert.SeverityLow, false},
		// "%41" is "A" percent-encoded: the ID encodes "%" so the two differ.
		{172, "xA", "172-xA", alert.PipelineFailed, alert.SeverityHigh, false},
		{172, "x%41", "172-x%2541", alert.PipelineCanceled, alert.SeverityMedium, true},
	}
	for i, c := range cases {
		if a := s.mustSignal(payload(t, c.project, c.ref, int64(1700+i), c.status)); a.AlertID != c.id {
			t.Fatalf("project %d ref %q: alert %q, want %q", c.project, c.ref, a.AlertID, c.id)
		}
	}
	own := func(i int) func(*alert.State) error {
		c := cases[i]
		return func(st *alert.State) error {
			if st.ID != c.id || st.Project.ID != c.project || st.Ref != c.ref || st.Status != alert.StatusOpen ||
				st.Severity != c.severity || pipelineOf(st) != fmt.Sprintf("#%d %s", 1700+i, c.status) || st.Counts.Events != 1 {
				return fmt.Errorf("%s %d %q: %s %s %s, %d events", st.ID, st.Project.ID, st.Ref, st.Status, st.Severity, pipelineOf(st), st.Counts.Events)
			}
			return nil
		}
	}
	for i, c := range cases {
		s.waitState(c.id, own(i))
	}
	for i, c := range cases {
		if c.resolve {
			s.mustSignal(payload(t, c.project, c.ref, int64(1800+i), alert.PipelineSuccess))
		}
	}
	for i, c := range cases {
		if !c.resolve {
			continue
		}
		status, final := s.waitClosed(c.id)
		if status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || final.Ref != c.ref || pipelineOf(final) != fmt.Sprintf("#%d success", 1800+i) {
			t.Errorf("%s closed as %s: ref %q resolved by %s", c.id, status, final.Ref, pipelineOf(final))
		}
	}
	for i, c := range cases {
		if !c.resolve {
			s.waitState(c.id, own(i))
		}
	}
}

// TestRefsOutsideASCIIOrWithAPercentRoundTrip checks that refs the ID must
// encode open alerts under the encoded ID, parse back to the ref, and stay
// readable in the state, the REST API and the GitLabRef search attribute.
func TestRefsOutsideASCIIOrWithAPercentRoundTrip(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)
	cases := []struct {
		project int64
		ref, id string
	}{
		{170, "fix/naïve-café-日本", "170-fix/na%C3%AFve-caf%C3%A9-%E6%97%A5%E6%9C%AC"},
		{171, "100%-done", "171-100%25-done"},
	}
	for _, c := range cases {
		if got := alert.ID(c.project, c.ref); got != c.id {
			t.Errorf("alert.ID(%d, %q) = %q, want %q", c.project, c.ref, got, c.id)
		}
		if project, ref, err := alert.ParseID(c.id); err != nil || project != c.project || ref != c.ref {
			t.Errorf("alert.ParseID(%q) = %d, %q, %v", c.id, project, ref, err)
		}
		if a := s.mustSignal(payload(t, c.project, c.ref, 1, alert.PipelineFailed)); a.AlertID != c.id {
			t.Fatalf("ref %q: alert %q, want %q", c.ref, a.AlertID, c.id)
		}
	}
	for _, c := range cases {
		st := s.waitState(c.id, isOpen)
		if st.ID != c.id || st.Ref != c.ref {
			t.Errorf("state of %s: id %q ref %q", c.id, st.ID, st.Ref)
		}
		code, body := s.apiCall(http.MethodGet, "/api/v1/alerts/"+url.PathEscape(c.id), nil)
		var shown alert.State
		if code != http.StatusOK || json.Unmarshal(body, &shown) != nil || shown.Ref != c.ref {
			t.Errorf("GET /api/v1/alerts/%s: %d %s", url.PathEscape(c.id), code, body)
		}
		query := fmt.Sprintf("GitLabRef='%s' AND GitLabProjectID=%d", c.ref, c.project)
		waitListed(t, query, c.id)
		if ids := listed(t, query); len(ids) != 1 {
			t.Errorf("%s listed %v, want only %s", query, ids, c.id)
		}
		s.mustSignal(payload(t, c.project, c.ref, 2, alert.PipelineSuccess))
		if status, final := s.waitClosed(c.id); status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || final.Ref != c.ref {
			t.Errorf("%s closed as %s with ref %q", c.id, status, final.Ref)
		}
		waitListed(t, query+" AND AlertStatus='resolved'", c.id)
	}
}
