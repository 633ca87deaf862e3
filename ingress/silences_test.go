package ingress

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/alertflow/alertflow/silence"
	"github.com/alertflow/alertflow/workflows"
)

// silenceStore is a Temporal holding silence workflows, listed page by
// page as visibility does: its next-page token is the offset of the next
// page, given out only when more remain.
type silenceStore struct {
	fakeTemporal
	runs  []*workflowpb.WorkflowExecutionInfo
	sizes []int32
}

func newSilenceStore(t *testing.T, n int) *silenceStore {
	t.Helper()
	f := &silenceStore{}
	start := time.Now().Add(-time.Hour).UTC()
	for i := range n {
		sl := silence.Silence{
			ID: fmt.Sprintf("%s%05d", silence.IDPrefix, i), Matchers: json.RawMessage(`{"project":"team-a/*"}`),
			StartsAt: start, EndsAt: start.Add(2 * time.Hour), CreatedBy: "alice", CreatedAt: start.Add(time.Duration(i) * time.Millisecond),
		}
		memo, err := converter.GetDefaultDataConverter().ToPayload(sl)
		if err != nil {
			t.Fatal(err)
		}
		f.runs = append(f.runs, &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: sl.ID, RunId: "run"},
			Status:    enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
			Memo:      &commonpb.Memo{Fields: map[string]*commonpb.Payload{workflows.MemoSilence: memo}},
		})
	}
	return f
}

func (f *silenceStore) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, req.GetQuery())
	f.sizes = append(f.sizes, req.GetPageSize())
	from := 0
	if len(req.GetNextPageToken()) > 0 {
		n, err := strconv.Atoi(string(req.GetNextPageToken()))
		if err != nil {
			return nil, err
		}
		from = n
	}
	to := min(from+int(req.GetPageSize()), len(f.runs))
	resp := &workflowservice.ListWorkflowExecutionsResponse{Executions: f.runs[from:to]}
	if to < len(f.runs) {
		resp.NextPageToken = []byte(strconv.Itoa(to))
	}
	return resp, nil
}

func TestTheSilenceListWalksEverySilenceOncePageByPage(t *testing.T) {
	const total = 2500
	tests := []struct {
		limit string
		size  int32
		pages int
	}{
		{"", 100, 25},
		{"1000", 1000, 3},
		{"999", 999, 3},
		{"1", 1, total},
	}
	for _, tt := range tests {
		t.Run("limit="+tt.limit, func(t *testing.T) {
			f := newSilenceStore(t, total)
			h := apiHarness(t, f)
			seen := map[string]int{}
			token := ""
			for page := 1; ; page++ {
				if page > total+1 {
					t.Fatal("the pages never end")
				}
				q := url.Values{}
				if tt.limit != "" {
					q.Set("limit", tt.limit)
				}
				if token != "" {
					q.Set("page_token", token)
				}
				rec, answer := h.api(t, http.MethodGet, "/api/v1/silences?"+q.Encode(), testAPIToken, "")
				var list SilenceList
				if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil {
					t.Fatalf("page %d: %d %v", page, rec.Code, answer)
				}
				if len(list.Silences) > int(tt.size) {
					t.Fatalf("page %d holds %d silences, over the limit %d", page, len(list.Silences), tt.size)
				}
				for _, sl := range list.Silences {
					seen[sl.ID]++
				}
				if token = list.NextPageToken; token == "" {
					if page != tt.pages {
						t.Fatalf("%d pages, want %d", page, tt.pages)
					}
					break
				}
			}
			if len(seen) != total {
				t.Fatalf("%d silences seen, want %d", len(seen), total)
			}
			for id, n := range seen {
				if n != 1 {
					t.Fatalf("%s listed %d times", id, n)
				}
			}
			for _, size := range f.sizes {
				if size != tt.size {
					t.Fatalf("Temporal was asked for pages of %v, want %d", f.sizes, tt.size)
				}
			}
		})
	}
}

func TestBadSilenceListParametersAre400NamingThemWithoutACall(t *testing.T) {
	for _, q := range []string{"limit=0", "limit=1001", "limit=-5", "limit=ten", "page_token=%25%25%25", "page_token=aGVsbG8"} {
		t.Run(q, func(t *testing.T) {
			f := newSilenceStore(t, 3)
			h := apiHarness(t, f)
			rec, answer := h.api(t, http.MethodGet, "/api/v1/silences?"+q, testAPIToken, "")
			want, _, _ := strings.Cut(q, "=")
			if rec.Code != http.StatusBadRequest || answer["field"] != want || len(f.queries) != 0 {
				t.Fatalf("%d %v after %d calls, want 400 naming %s and no call", rec.Code, answer, len(f.queries), want)
			}
		})
	}
}

// At silence.MaxSilences active or pending silences a new one is refused
// with 409 naming the limit, and nothing is started; one fewer is let
// through to Temporal (which the fake refuses to start).
func TestCreateSilenceRefusesOneOverMaxSilences(t *testing.T) {
	body := `{"matchers":{"project":"team-a/*"},"duration":"1h","created_by":"alice"}`
	h := newHarness(t, 0)
	h.temporal.silences = silence.MaxSilences
	rec, answer := h.api(t, http.MethodPost, "/api/v1/silences", testAPIToken, body)
	if msg, _ := answer["error"].(string); rec.Code != http.StatusConflict || !strings.Contains(msg, "at most 10000") {
		t.Fatalf("at the limit: %d %v, want 409 naming the limit", rec.Code, answer)
	}
	if got := h.temporal.queries; len(got) != 1 || got[0] != workflows.RunningSilences {
		t.Fatalf("counted with %q, want the running silences", got)
	}
	h.temporal.silences = silence.MaxSilences - 1
	if rec, answer := h.api(t, http.MethodPost, "/api/v1/silences", testAPIToken, body); rec.Code == http.StatusConflict {
		t.Fatalf("under the limit: %d %v", rec.Code, answer)
	}
	h.temporal.countErr = context.DeadlineExceeded
	if rec, answer := h.api(t, http.MethodPost, "/api/v1/silences", testAPIToken, body); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("the count failing: %d %v, want 503", rec.Code, answer)
	}
}

// Who expires a silence is kept in its memo: it is checked as created_by
// is, before any call to Temporal.
func TestExpireSilenceRefusesABadByWithoutACall(t *testing.T) {
	for name, by := range map[string]string{
		"over 1024 bytes":     strings.Repeat("b", 1025),
		"a control character": "bob\x1b[31m",
		"a newline":           "bob\nforged log line",
	} {
		t.Run(name, func(t *testing.T) {
			f := &idTemporal{}
			h := apiHarness(t, f)
			body, err := json.Marshal(map[string]string{"by": by})
			if err != nil {
				t.Fatal(err)
			}
			rec, answer := h.api(t, http.MethodDelete, "/api/v1/silences/silence-0b1c", testAPIToken, string(body))
			if rec.Code != http.StatusBadRequest || answer["field"] != "by" || len(f.asked) != 0 {
				t.Fatalf("%d %v after asking Temporal about %.80q; want 400 naming by and no call", rec.Code, answer, f.asked)
			}
		})
	}
}
