package ingress

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/alertflow/alertflow/workflows"
)

func (h *harness) api(t *testing.T, method, target, token string, body string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.server.ServeHTTP(rec, req)
	var answer map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
		t.Fatalf("answer is not JSON: %q", rec.Body.String())
	}
	return rec, answer
}

func TestTheAPINeedsTheBearerToken(t *testing.T) {
	tests := []struct {
		name  string
		token string
		code  int
	}{
		{"no token is 401", "", http.StatusUnauthorized},
		{"a wrong token is 401", "nope", http.StatusUnauthorized},
		{"the webhook token is not the API token", testToken, http.StatusUnauthorized},
		{"the API token is let in", testAPIToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 0)
			rec, answer := h.api(t, http.MethodGet, "/api/v1/alerts", tt.token, "")
			if rec.Code != tt.code {
				t.Fatalf("%d %v, want %d", rec.Code, answer, tt.code)
			}
			if tt.code == http.StatusUnauthorized && (answer["error"] == "" || rec.Header().Get("WWW-Authenticate") == "") {
				t.Fatalf("401 without an error or WWW-Authenticate: %v", answer)
			}
		})
	}
}

func TestTheAPIIsOffWithoutAToken(t *testing.T) {
	h := &harness{temporal: &fakeTemporal{}, logs: &bytes.Buffer{}}
	h.server = New(Config{}, h.temporal, slog.New(slog.DiscardHandler))
	rec, answer := h.api(t, http.MethodGet, "/api/v1/alerts", "anything", "")
	if rec.Code != http.StatusForbidden || !strings.Contains(answer["error"].(string), "ALERTFLOW_API_TOKEN") {
		t.Fatalf("%d %v", rec.Code, answer)
	}
}

func TestListFiltersBecomeAnEscapedVisibilityQuery(t *testing.T) {
	base := "WorkflowType = 'AlertWorkflow'"
	active := base + " AND (AlertStatus = 'open' OR AlertStatus = 'acknowledged') AND ExecutionStatus = 'Running'"
	tests := []struct {
		name   string
		params url.Values
		want   string
	}{
		{"no filter lists active alerts", url.Values{}, active},
		{"status open", url.Values{"status": {"open"}}, base + " AND AlertStatus = 'open' AND ExecutionStatus = 'Running'"},
		{"status resolved", url.Values{"status": {"resolved"}}, base + " AND AlertStatus = 'resolved' AND ExecutionStatus != 'ContinuedAsNew'"},
		{"status all", url.Values{"status": {"all"}}, base + " AND ExecutionStatus != 'ContinuedAsNew'"},
		{"severity in any case", url.Values{"severity": {"high"}}, active + " AND AlertSeverity = 'HIGH'"},
		{"project id", url.Values{"project_id": {"42"}}, active + " AND GitLabProjectID = 42"},
		{"a ref with a quote is escaped", url.Values{"ref": {"it's"}}, active + ` AND GitLabRef = 'it\'s'`},
		{"an injection attempt stays one literal", url.Values{"ref": {"x' OR AlertStatus='resolved"}}, active + ` AND GitLabRef = 'x\' OR AlertStatus=\'resolved'`},
		{"a ref with a backslash is looked for by its prefix", url.Values{"ref": {`it's\a`}}, active + ` AND GitLabRef STARTS_WITH 'it\'s'`},
		{"a ref with a double quote is looked for by its prefix", url.Values{"ref": {`a"b`}}, active + ` AND GitLabRef STARTS_WITH 'a'`},
		{"a ref starting with a double quote by the other filters", url.Values{"ref": {`"a`}}, active},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 0)
			rec, answer := h.api(t, http.MethodGet, "/api/v1/alerts?"+tt.params.Encode(), testAPIToken, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %v", rec.Code, answer)
			}
			if len(h.temporal.queries) != 1 || h.temporal.queries[0] != tt.want {
				t.Fatalf("query\n got %q\nwant %q", h.temporal.queries, tt.want)
			}
		})
	}
}

func TestBadListFiltersAre400NamingTheParameter(t *testing.T) {
	for param, value := range map[string]string{
		"status": "burning", "severity": "CRITICAL", "project_id": "1 OR 1=1",
		"page_size": "5000", "page_token": "%%%",
	} {
		t.Run(param, func(t *testing.T) {
			h := newHarness(t, 0)
			rec, answer := h.api(t, http.MethodGet, "/api/v1/alerts?"+param+"="+url.QueryEscape(value), testAPIToken, "")
			if rec.Code != http.StatusBadRequest || answer["field"] != param {
				t.Fatalf("%d %v", rec.Code, answer)
			}
			if len(h.temporal.queries) != 0 {
				t.Fatal("a bad filter reached Temporal")
			}
		})
	}
}

func TestShowTakesEitherFormOfTheID(t *testing.T) {
	for _, path := range []string{"/api/v1/alerts/1-feature/%C3%BCmlaut", "/api/v1/alerts/1-feature%2F%25C3%25BCmlaut"} {
		h := newHarness(t, 0)
		h.temporal.queryErr = serviceerror.NewNotFound("not found")
		rec, _ := h.api(t, http.MethodGet, path, testAPIToken, "")
		if rec.Code != http.StatusNotFound || len(h.temporal.queried) != 1 || h.temporal.queried[0] != "1-feature/%C3%BCmlaut" {
			t.Fatalf("%s: %d, queried %q", path, rec.Code, h.temporal.queried)
		}
	}
	h := newHarness(t, 0)
	rec, answer := h.api(t, http.MethodGet, "/api/v1/alerts/master", testAPIToken, "")
	if rec.Code != http.StatusBadRequest || answer["field"] != "id" {
		t.Fatalf("%d %v", rec.Code, answer)
	}
}

func TestUpdatesMapTheirErrorsToStatusCodes(t *testing.T) {
	tests := []struct {
		name string
		err  error
		body string
		code int
	}{
		{"no such alert is 404", serviceerror.NewNotFound("workflow execution already completed"), `{"by":"alice"}`, http.StatusNotFound},
		{"invalid input is 400", temporal.NewApplicationError(`invalid input: "by" is required`, workflows.ErrTypeInvalidInput), `{"by":""}`, http.StatusBadRequest},
		{"a resolved alert is 409", temporal.NewApplicationError("alert is already resolved", workflows.ErrTypeResolved), `{"by":"alice"}`, http.StatusConflict},
		{"temporal down is 503", serviceerror.NewUnavailable("down"), `{"by":"alice"}`, http.StatusServiceUnavailable},
		{"malformed JSON is 400 without a call", nil, `{"by":`, http.StatusBadRequest},
		{"unknown fields are 400 without a call", nil, `{"who":"alice"}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		for _, action := range []string{"acknowledge", "resolve"} {
			t.Run(tt.name+" for "+action, func(t *testing.T) {
				h := newHarness(t, 0)
				h.temporal.updateErr = tt.err
				rec, answer := h.api(t, http.MethodPost, "/api/v1/alerts/1-team/x/"+action, testAPIToken, tt.body)
				if rec.Code != tt.code || answer["error"] == "" {
					t.Fatalf("%d %v, want %d", rec.Code, answer, tt.code)
				}
				if tt.err == nil {
					if len(h.temporal.updates) != 0 {
						t.Fatal("a bad body reached Temporal")
					}
					return
				}
				if len(h.temporal.updates) != 1 || h.temporal.updates[0].WorkflowID != "1-team/x" || h.temporal.updates[0].UpdateName != action {
					t.Fatalf("updates %+v", h.temporal.updates)
				}
			})
		}
	}
}

func TestTheBearerSchemeIsCaseInsensitive(t *testing.T) {
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		h := newHarness(t, 0)
		req := httptest.NewRequest(http.MethodGet, "/api/v1/alerts", nil)
		req.Header.Set("Authorization", scheme+" "+testAPIToken)
		rec := httptest.NewRecorder()
		h.server.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("%q: %d %s", scheme, rec.Code, rec.Body.String())
		}
	}
	for _, header := range []string{"Basic " + testAPIToken, "Bearer" + testAPIToken, "Bearer ", testAPIToken} {
		h := newHarness(t, 0)
		req := httptest.NewRequest(http.MethodGet, "/api/v1/alerts", nil)
		req.Header.Set("Authorization", header)
		rec := httptest.NewRecorder()
		h.server.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%q: %d, want 401", header, rec.Code)
		}
	}
}

func TestAnUpdateBodyWithDataAfterItsObjectIs400WithoutACall(t *testing.T) {
	for _, body := range []string{`{"by":"alice"} {"by":"bob"}`, `{"by":"alice"}x`, `{"by":"alice"}]`, `{"by":"alice"}"`, `{"by":"alice"} 1`} {
		for _, action := range []string{"acknowledge", "resolve"} {
			h := newHarness(t, 0)
			rec, answer := h.api(t, http.MethodPost, "/api/v1/alerts/1-team/x/"+action, testAPIToken, body)
			if rec.Code != http.StatusBadRequest || answer["error"] == nil || len(h.temporal.updates) != 0 {
				t.Errorf("%s %q: %d %v, %d updates; want 400 and none", action, body, rec.Code, answer, len(h.temporal.updates))
			}
		}
	}
	// Whitespace after the object is no data.
	h := newHarness(t, 0)
	h.temporal.updateErr = serviceerror.NewNotFound("no")
	if rec, answer := h.api(t, http.MethodPost, "/api/v1/alerts/1-team/x/acknowledge", testAPIToken, "{\"by\":\"alice\"}\r\n\t "); rec.Code != http.StatusNotFound {
		t.Fatalf("an object and whitespace: %d %v", rec.Code, answer)
	}
}

func TestAPageTokenTheAPIDidNotGiveOutIs400WithoutACall(t *testing.T) {
	h := newHarness(t, 0)
	h.temporal.listNext = []byte(`{"CloseTime":"2026-01-01T00:00:00Z","RunID":"r"}`)
	rec, answer := h.api(t, http.MethodGet, "/api/v1/alerts", testAPIToken, "")
	next, _ := answer["next_page_token"].(string)
	if rec.Code != http.StatusOK || next == "" {
		t.Fatalf("%d %v, want a next_page_token", rec.Code, answer)
	}
	// What the API gave out goes back to Temporal as Temporal gave it.
	h2 := newHarness(t, 0)
	h2.temporal.mu.Lock()
	h2.temporal.listNext = nil
	h2.temporal.mu.Unlock()
	if rec, answer := h2.api(t, http.MethodGet, "/api/v1/alerts?page_token="+next, testAPIToken, ""); rec.Code != http.StatusOK {
		t.Fatalf("the token given out: %d %v", rec.Code, answer)
	}
	// Base64 of anything else, an altered token, or a cut one is not.
	altered := []byte(next)
	altered[len(altered)-2] ^= 1
	for _, bad := range []string{"aGVsbG8", "eyJDbG9zZVRpbWUiOiIyMDI2In0", string(altered), next[:len(next)-4], "AAAAAAAAAAA"} {
		h := newHarness(t, 0)
		rec, answer := h.api(t, http.MethodGet, "/api/v1/alerts?page_token="+bad, testAPIToken, "")
		if rec.Code != http.StatusBadRequest || answer["field"] != "page_token" || len(h.temporal.queries) != 0 {
			t.Errorf("page_token %q: %d %v, %d calls; want 400 naming page_token and no call", bad, rec.Code, answer, len(h.temporal.queries))
		}
	}
}

func TestAListRefWithAControlCharacterIs400WithoutACall(t *testing.T) {
	for _, ref := range []string{"main\x00", "a\nb", "tab\t", "\x7f", "x\u0085y"} {
		h := newHarness(t, 0)
		rec, answer := h.api(t, http.MethodGet, "/api/v1/alerts?"+url.Values{"ref": {ref}}.Encode(), testAPIToken, "")
		if rec.Code != http.StatusBadRequest || answer["field"] != "ref" || len(h.temporal.queries) != 0 {
			t.Errorf("ref %q: %d %v, want 400 naming ref and no call", ref, rec.Code, answer)
		}
	}
}
