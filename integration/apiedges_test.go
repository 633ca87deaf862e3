package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/alertflow/alertflow/ingress"
)

// Refs holding a backslash or a double quote are found by the ref filter,
// and only they: Temporal's SQLite visibility store matches no literal to
// such a value, so the API narrows by prefix and filters what comes back.
func TestTheRefFilterFindsRefsWithABackslashOrADoubleQuote(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)
	const project = 190
	refs := []string{`fix\win`, `fix\winter`, `say-"hi"`, `"quoted"`, `it's\"both`, `fix`}
	ids := map[string]string{}
	for i, ref := range refs {
		ids[ref] = s.mustSignal(payload(t, project, ref, int64(i+1), "failed")).AlertID
	}
	for _, ref := range refs {
		got := s.waitListedByAPI(url.Values{"ref": {ref}, "project_id": {"190"}}, ids[ref])
		if got.Ref != ref {
			t.Errorf("ref %q listed as %q", ref, got.Ref)
		}
		all := s.listAlerts(url.Values{"ref": {ref}, "status": {"all"}})
		if len(all) != 1 || all[0].ID != ids[ref] {
			t.Errorf("ref %q listed %d alerts, want only %s: %+v", ref, len(all), ids[ref], all)
		}
	}
}

// A next_page_token the API gave out leads to the next page of the real
// server; one it did not give out is refused at once, not after Temporal's
// retries.
func TestPageTokensRoundTripAndForeignOnesAre400AtOnce(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStack(t)
	for i := range 3 {
		s.mustSignal(payload(t, 191, "page-"+string(rune('a'+i)), int64(i+1), "failed"))
	}
	for _, id := range []string{"191-page-a", "191-page-b", "191-page-c"} {
		s.waitListedByAPI(url.Values{"project_id": {"191"}}, id)
	}
	seen := map[string]bool{}
	params := url.Values{"project_id": {"191"}, "page_size": {"1"}}
	for page := 0; ; page++ {
		code, body := s.apiCall(http.MethodGet, "/api/v1/alerts?"+params.Encode(), nil)
		var list ingress.AlertList
		if code != http.StatusOK || json.Unmarshal(body, &list) != nil {
			t.Fatalf("page %d: %d %s", page, code, body)
		}
		for _, a := range list.Alerts {
			seen[a.ID] = true
		}
		if list.NextPageToken == "" || page > 5 {
			break
		}
		params.Set("page_token", list.NextPageToken)
	}
	if len(seen) != 3 {
		t.Fatalf("paging listed %v, want the three alerts", seen)
	}
	start := time.Now()
	code, body := s.apiCall(http.MethodGet, "/api/v1/alerts?page_token=eyJDbG9zZVRpbWUiOiIyMDI2In0", nil)
	if code != http.StatusBadRequest {
		t.Fatalf("a foreign page token: %d %s, want 400", code, body)
	}
	t.Logf("a foreign page token answered in %v", time.Since(start))
}
