package ingress

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
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

// apiHarness is a harness serving the API over tp, a Temporal fake of the
// test's own; its temporal field is not tp.
func apiHarness(t *testing.T, tp Temporal) *harness {
	t.Helper()
	api, err := ParseTokens("api=" + testAPIToken)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{logs: &bytes.Buffer{}}
	h.server = New(Config{TaskQueue: "alertflow", APIToken: api}, tp, slog.New(slog.NewJSONHandler(h.logs, nil)))
	return h
}

// idTemporal answers about workflow IDs as Temporal does: an ID it cannot
// take (over 1 000 bytes, or not printable ASCII, which gRPC headers
// refuse) is an InvalidArgument, any other names no workflow. It records
// the IDs asked about.
type idTemporal struct {
	fakeTemporal
	asked []string
}

func (f *idTemporal) answer(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, id)
	if len(id) > 1000 || strings.ContainsFunc(id, func(r rune) bool { return r < ' ' || r > '~' }) {
		return serviceerror.NewInvalidArgument("WorkflowId is not valid")
	}
	return serviceerror.NewNotFound("workflow not found for ID: " + id)
}

func (f *idTemporal) QueryWorkflow(_ context.Context, id, _, _ string, _ ...any) (converter.EncodedValue, error) {
	return nil, f.answer(id)
}

func (f *idTemporal) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	return nil, f.answer(o.WorkflowID)
}

func (f *idTemporal) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	return nil, f.answer(id)
}

func TestAlertAndSilenceIDsAreCheckedBeforeTemporalIsAsked(t *testing.T) {
	tests := []struct {
		name, path string
		code       int
		asked      string // the ID Temporal is asked about, for a 404
	}{
		{"an ID over Temporal's 1 000 bytes", "/api/v1/alerts/1-" + strings.Repeat("a", 1200), http.StatusBadRequest, ""},
		{"an encoded ref over the limit once encoded", "/api/v1/alerts/1-" + strings.Repeat("%C3%BC", 200), http.StatusBadRequest, ""},
		{"a NUL in the ref", "/api/v1/alerts/1-main%00", http.StatusBadRequest, ""},
		{"a NUL encoded in the ID", "/api/v1/alerts/1-main%2500", http.StatusBadRequest, ""},
		{"a newline in the ref", "/api/v1/alerts/1-a%0Ab", http.StatusBadRequest, ""},
		{"a ref that is not UTF-8", "/api/v1/alerts/1-%FF", http.StatusBadRequest, ""},
		{"a silence ID as an alert ID", "/api/v1/alerts/silence-0b1c", http.StatusBadRequest, ""},
		{"no project id", "/api/v1/alerts/%C3%BC-main", http.StatusBadRequest, ""},
		{"a readable non-ASCII ref names an alert", "/api/v1/alerts/1-feature/%C3%BCmlaut", http.StatusNotFound, "1-feature/%C3%BCmlaut"},
		{"a right-to-left override names an alert", "/api/v1/alerts/1-main%E2%80%AE", http.StatusNotFound, "1-main%E2%80%AE"},
		{"a non-ASCII silence ID", "/api/v1/silences/silence-%C3%BC", http.StatusBadRequest, ""},
		{"a silence ID with a space", "/api/v1/silences/silence-a%20b", http.StatusBadRequest, ""},
		{"a silence ID over its length", "/api/v1/silences/silence-" + strings.Repeat("x", 300), http.StatusBadRequest, ""},
		{"an alert ID as a silence ID", "/api/v1/silences/1-main", http.StatusBadRequest, ""},
		{"a well-formed silence ID names none", "/api/v1/silences/silence-0b1c", http.StatusNotFound, "silence-0b1c"},
	}
	for _, tt := range tests {
		methods := []string{http.MethodGet, http.MethodDelete}
		if strings.HasPrefix(tt.path, "/api/v1/alerts/") {
			methods = []string{http.MethodGet, http.MethodPost}
		}
		for _, method := range methods {
			t.Run(tt.name+" "+method, func(t *testing.T) {
				f := &idTemporal{}
				h := apiHarness(t, f)
				target, body := tt.path, ""
				if method == http.MethodPost {
					target, body = tt.path+"/acknowledge", `{"by":"alice"}`
				}
				rec, answer := h.api(t, method, target, testAPIToken, body)
				if rec.Code != tt.code {
					t.Fatalf("%d %v, want %d", rec.Code, answer, tt.code)
				}
				if tt.code == http.StatusBadRequest {
					if answer["field"] != "id" || len(f.asked) != 0 {
						t.Fatalf("%v after asking Temporal about %.80q; want 400 naming id and no call", answer, f.asked)
					}
					return
				}
				if len(f.asked) != 1 || f.asked[0] != tt.asked {
					t.Fatalf("Temporal was asked about %.80q, want %q", f.asked, tt.asked)
				}
			})
		}
	}
}

func TestEveryAPIPathAsksForTheTokenBeforeItIsRouted(t *testing.T) {
	tests := []struct {
		method, path string
		code         int // with the token
	}{
		{http.MethodGet, "/api/v1/alerts", http.StatusOK},
		{http.MethodGet, "/api/v1/nope", http.StatusNotFound},
		{http.MethodGet, "/api/v1", http.StatusNotFound},
		{http.MethodGet, "/api/v1/", http.StatusNotFound},
		{http.MethodGet, "/api/v1/silences/silence-a/b", http.StatusNotFound},
		{http.MethodPost, "/api/v1/stats", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/api/v1/alerts", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			for _, token := range []string{"", "wrong"} {
				h := newHarness(t, 0)
				rec, answer := h.api(t, tt.method, tt.path, token, "")
				if rec.Code != http.StatusUnauthorized || answer["error"] == "" || rec.Header().Get("WWW-Authenticate") == "" {
					t.Fatalf("token %q: %d %v, want 401 with WWW-Authenticate", token, rec.Code, answer)
				}
			}
			h := newHarness(t, 0)
			rec, answer := h.api(t, tt.method, tt.path, testAPIToken, "")
			if rec.Code != tt.code || (tt.code != http.StatusOK && answer["error"] == "") {
				t.Fatalf("with the token: %d %v, want %d with a JSON error", rec.Code, answer, tt.code)
			}
		})
	}
	// Outside /api/v1/ no token is asked for.
	h := newHarness(t, 0)
	if rec, answer := h.api(t, http.MethodGet, "/api/v1x", "", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("/api/v1x: %d %v, want 404", rec.Code, answer)
	}
}

func TestAnActionWithAControlCharacterIs400NamingTheFieldWithoutACall(t *testing.T) {
	tests := []struct {
		action, body, field string
	}{
		{"acknowledge", `{"by":"ali\u001b[31mce"}`, "by"},
		{"acknowledge", `{"by":"alice","note":"looking\rroot: resolved"}`, "note"},
		{"resolve", `{"by":"alice","reason":"fixed\u0000"}`, "reason"},
		{"snooze", `{"by":"alice","for":"2h\u0007"}`, "for"},
		{"reconcile", `{"by":"al\nice"}`, "by"},
	}
	for _, tt := range tests {
		h := newHarness(t, 0)
		rec, answer := h.api(t, http.MethodPost, "/api/v1/alerts/1-master/"+tt.action, testAPIToken, tt.body)
		if rec.Code != http.StatusBadRequest || answer["field"] != tt.field || len(h.temporal.updates) != 0 {
			t.Errorf("%s %s: %d %v, %d updates; want 400 naming %s and none", tt.action, tt.body, rec.Code, answer, len(h.temporal.updates), tt.field)
		}
	}
	// A note may span lines.
	h := newHarness(t, 0)
	h.temporal.updateErr = serviceerror.NewNotFound("no")
	if rec, answer := h.api(t, http.MethodPost, "/api/v1/alerts/1-master/acknowledge", testAPIToken, `{"by":"alice","note":"line one\n\tline two"}`); rec.Code != http.StatusNotFound {
		t.Fatalf("a note of two lines: %d %v, want it sent to the alert", rec.Code, answer)
	}
}
