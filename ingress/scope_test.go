package ingress

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/alertflow/alertflow/workflows"
)

func TestParseTokensReadsScopes(t *testing.T) {
	tok, err := ParseTokens("acme=tok-acme, acme: acme/** | 4242 ,ops:main=tok-ops,ops:main:infra/*,free=tok-free")
	if err != nil {
		t.Fatal(err)
	}
	if tok.Len() != 3 {
		t.Fatalf("%d sources, want 3: a scope is no source", tok.Len())
	}
	scope := func(token string) Scope {
		t.Helper()
		s, ok := tok.lookup(token)
		if !ok {
			t.Fatalf("token %q matches no source", token)
		}
		return s.scope
	}
	acme := scope("tok-acme")
	for _, tt := range []struct {
		id   int64
		path string
		want bool
	}{
		{17, "acme/api", true},
		{17, "acme/sub/group/api", true}, // ** crosses /
		{4242, "elsewhere/x", true},      // a listed ID, whatever the path
		{1, "gitlab-org/gitlab-test", false},
		{1, "acme", true}, // as in routing, ** matches no segment too
		{1, "acmex/api", false},
		{1, "", false},
	} {
		if got := acme.Allows(tt.id, tt.path); got != tt.want {
			t.Errorf("acme:acme/**|4242 allows %d %q: %v, want %v", tt.id, tt.path, got, tt.want)
		}
	}
	// The scope follows the last colon: a name may hold one.
	if ops := scope("tok-ops"); !ops.Allows(1, "infra/dns") || ops.Allows(1, "infra/dns/sub") || ops.String() != "infra/*" {
		t.Errorf("ops:main scope %q", ops.String())
	}
	if free := scope("tok-free"); free.Scoped() || !free.Allows(1, "anything/at-all") {
		t.Errorf("a source without a scope serves every project, as before: %q", free.String())
	}
	// Every list that parsed before scopes parses to the same unscoped
	// sources: whatever a token holds but a comma stays the token.
	for _, token := range []string{"tok;projects=team-a/**|1234", "a:b/**", "x=y:z|1", "team-a/**|1234"} {
		tok, err := ParseTokens("src=" + token)
		if err != nil {
			t.Errorf("token %q: %v", token, err)
			continue
		}
		s := mustLookup(t, tok, token)
		if s.name != "src" || s.scope.Scoped() {
			t.Errorf("token %q: source %q scoped %q, want src unscoped", token, s.name, s.scope.String())
		}
	}
	// The scope may come before its token.
	if tok, err := ParseTokens("a:a/**,a=tok-a"); err != nil || !mustLookup(t, tok, "tok-a").scope.Scoped() {
		t.Errorf("scope first: %v", err)
	}
}

func mustLookup(t *testing.T, tok Tokens, token string) source {
	t.Helper()
	s, ok := tok.lookup(token)
	if !ok {
		t.Fatalf("token matches no source")
	}
	return s
}

func TestParseTokensRefusesBadScopesWithoutShowingTokens(t *testing.T) {
	const secret = "s3cret-VALUE-77"
	long := "team-a/" + strings.Repeat("x", MaxScopePattern)
	for _, tt := range []struct {
		spec string
		want []string // all in the error
	}{
		{"acme=" + secret + ",acme:", []string{`source "acme"`, "empty scope entry"}},
		{"acme=" + secret + ",acme:acme/**||1", []string{`source "acme"`, "empty scope entry"}},
		{"acme=" + secret + ",acme:acme/[x", []string{`source "acme"`, `"acme/[x"`, "glob"}},
		{"acme=" + secret + ",acme:{acme,beta}/**", []string{`source "acme"`, `"{acme"`, "a|b"}},
		{"acme=" + secret + ",acme:0", []string{`source "acme"`, `"0"`, "positive"}},
		{"acme=" + secret + ",acme:99999999999999999999", []string{`source "acme"`, `"99999999999999999999"`, "positive"}},
		{"acme=" + secret + ",acme:" + long, []string{`source "acme"`, "longer than 256 bytes"}},
		{"acme=" + secret + ",acme:a/**,acme:b/**", []string{`source "acme"`, "scoped twice", "entries 2 and 3"}},
		{"acme=" + secret + ",nobody:a/**", []string{"entry 2", "no name=token entry"}},
		{"acme=" + secret + ",:a/**", []string{"entry 2", "want name=token or name:scope"}},
		{"acme=" + secret + "," + secret, []string{"entry 2", "want name=token"}},
	} {
		_, err := ParseTokens(tt.spec)
		if err == nil {
			t.Errorf("%q parsed", tt.spec)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q, want it to hold %q", tt.spec, err, w)
			}
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "VALUE") {
			t.Errorf("%q: error %q shows the token", tt.spec, err)
		}
	}
	// A name no source has is not quoted: it may be part of a token.
	if _, err := ParseTokens("acme=ab,cd:" + secret); err == nil || strings.Contains(err.Error(), "cd") || strings.Contains(err.Error(), secret) {
		t.Errorf("scope of an unknown source: %v", err)
	}
}

// scopeTemporal is fakeTemporal with alerts to describe: runs by alert ID,
// and every ID it was asked about.
type scopeTemporal struct {
	*fakeTemporal
	mu          sync.Mutex
	runs        map[string]*workflowservice.DescribeWorkflowExecutionResponse
	described   []string
	describeErr error
}

func (f *scopeTemporal) DescribeWorkflowExecution(_ context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.described = append(f.described, id)
	if f.describeErr != nil {
		return nil, f.describeErr
	}
	if d, ok := f.runs[id]; ok && runID == "" {
		return d, nil
	}
	return nil, serviceerror.NewNotFound("workflow not found for ID: " + id)
}

func (f *scopeTemporal) describedIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.described)
}

// alertRun is an alert's run as DescribeWorkflowExecution shows it, with
// the search attributes the workflow keeps (as a server encodes them).
func alertRun(t *testing.T, status enumspb.WorkflowExecutionStatus, projectID int64, project string) *workflowservice.DescribeWorkflowExecutionResponse {
	t.Helper()
	dc := converter.GetDefaultDataConverter()
	id, err := dc.ToPayload(projectID)
	if err != nil {
		t.Fatal(err)
	}
	path, err := dc.ToPayload(project)
	if err != nil {
		t.Fatal(err)
	}
	id.Metadata["type"], path.Metadata["type"] = []byte("Int"), []byte("Keyword")
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Type:   &commonpb.WorkflowType{Name: workflows.WorkflowType},
		Status: status,
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{
			workflows.AttrProjectID.GetName(): id,
			workflows.AttrProject.GetName():   path,
		}},
	}}
}

const (
	acmeToken      = "acme-tok-5b1f0c9e"
	gitlabOrgToken = "gitlab-org-tok-77d2"
	byIDToken      = "by-id-tok-3c4d"
)

// The sources of the scope tests: gitlab (testToken) unscoped as before;
// acme serving its group; gitlab-org serving its group (the docs example's
// project 1 is gitlab-org/gitlab-test); by-id serving project 1 by ID.
const scopedSources = "gitlab=" + testToken + ",acme=" + acmeToken + ",acme:acme/**," +
	"gitlab-org=" + gitlabOrgToken + ",gitlab-org:gitlab-org/**,by-id=" + byIDToken + ",by-id:1"

func newScopeHarness(t *testing.T) (*harness, *scopeTemporal) {
	t.Helper()
	tokens, err := ParseTokens(scopedSources)
	if err != nil {
		t.Fatal(err)
	}
	ft := &scopeTemporal{fakeTemporal: &fakeTemporal{}, runs: map[string]*workflowservice.DescribeWorkflowExecutionResponse{}}
	h := &harness{temporal: ft.fakeTemporal, logs: &bytes.Buffer{}}
	h.server = New(Config{TaskQueue: "alertflow", Tokens: tokens}, ft, slog.New(slog.NewJSONHandler(h.logs, nil)))
	return h, ft
}

// gitlabHeaders is the header set of a real GitLab 17 delivery
// (app/services/web_hook_service.rb build_headers).
func gitlabHeaders(event, token, key string) map[string]string {
	return map[string]string{
		"Content-Type":          "application/json",
		"User-Agent":            "GitLab/17.8.1",
		"X-Gitlab-Event":        event,
		"X-Gitlab-Instance":     "https://gitlab.example.com",
		"X-Gitlab-Webhook-UUID": "0f4d6c2e-8a51-4b1e-9d7a-2c3b4a5d6e7f",
		"X-Gitlab-Event-UUID":   "b2c1d0e9-" + key,
		"Idempotency-Key":       key,
		"X-Gitlab-Token":        token,
	}
}

// pushDeleted is the real push that deleted feature/retire-v1 of acme/api
// (project 17).
func pushDeleted(t *testing.T) []byte {
	return readPayload(t, filepath.Join("sequences", "push-branch-deleted.json"))
}

// withProject is body with its project's ID and path replaced.
func withProject(t *testing.T, body []byte, id int64, path string) []byte {
	return edit(t, body, func(m map[string]any) {
		p := m["project"].(map[string]any)
		p["id"], p["path_with_namespace"] = id, path
		if _, ok := m["project_id"]; ok {
			m["project_id"] = id
		}
	})
}

// forbidden checks a 403 that names the source and the project, and shows
// no token.
func forbidden(t *testing.T, h *harness, code int, answer map[string]any, src, project string) {
	t.Helper()
	msg, _ := answer["error"].(string)
	if code != http.StatusForbidden || !strings.Contains(msg, `source "`+src+`"`) || !strings.Contains(msg, project) {
		t.Fatalf("%d %v, want 403 naming source %q and project %s", code, answer, src, project)
	}
	for _, tok := range []string{testToken, acmeToken, gitlabOrgToken, byIDToken} {
		if strings.Contains(msg, tok) || strings.Contains(h.logs.String(), tok) {
			t.Fatalf("a token shows in the answer or the logs:\n%s\n%s", msg, h.logs.String())
		}
	}
	if !strings.Contains(h.logs.String(), `"outcome":"forbidden"`) || !strings.Contains(h.logs.String(), `"source":"`+src+`"`) {
		t.Fatalf("the access log lacks the outcome or the source:\n%s", h.logs.String())
	}
	if testutil.ToFloat64(h.server.metrics.webhooks.WithLabelValues(OutcomeForbidden)) == 0 {
		t.Fatal(`alertflow_webhooks_total{outcome="forbidden"} did not count it`)
	}
}

func TestAScopedSourcesPipelineOfAForeignProjectIsForbidden(t *testing.T) {
	for _, status := range []string{"failed", "success", "running"} {
		t.Run(status, func(t *testing.T) {
			h, ft := newScopeHarness(t)
			// The docs example is project 1, gitlab-org/gitlab-test.
			rec, answer := h.post(t, "/webhooks/gitlab", gitlabHeaders("Pipeline Hook", acmeToken, "k-"+status), withStatus(t, status))
			forbidden(t, h, rec.Code, answer, "acme", `1 ("gitlab-org/gitlab-test")`)
			if h.temporal.calls() != 0 || h.temporal.signalTries != 0 || len(ft.describedIDs()) != 0 {
				t.Fatalf("a foreign delivery reached Temporal: %d calls, %d signal tries, described %v",
					h.temporal.calls(), h.temporal.signalTries, ft.describedIDs())
			}
		})
	}
}

func TestAScopedSourcesPushDeletingAForeignBranchIsForbidden(t *testing.T) {
	h, ft := newScopeHarness(t)
	// The branch of acme/api (project 17), deleted with gitlab-org's token.
	rec, answer := h.post(t, "/webhooks/gitlab?token="+gitlabOrgToken, gitlabHeaders("Push Hook", gitlabOrgToken, "k-push"), pushDeleted(t))
	forbidden(t, h, rec.Code, answer, "gitlab-org", `17 ("acme/api")`)
	if len(h.temporal.deletions) != 0 || h.temporal.signalTries != 0 || len(ft.describedIDs()) != 0 {
		t.Fatalf("the foreign branch's alert was signaled: %d deletions, %d tries, described %v", len(h.temporal.deletions), h.temporal.signalTries, ft.describedIDs())
	}
	// The same with the project named by ID only: by-id serves project 1.
	rec, answer = h.post(t, "/webhooks/gitlab", gitlabHeaders("Push Hook", byIDToken, "k-push-2"), pushDeleted(t))
	forbidden(t, h, rec.Code, answer, "by-id", "17")
	if h.temporal.signalTries != 0 {
		t.Fatalf("signaled %d times", h.temporal.signalTries)
	}
}

// A delivery names a foreign project's ID with its own group's path: the
// path passes, but the alert it would act on is open for a foreign project.
func TestALyingPathCannotReachAForeignProjectsOpenAlert(t *testing.T) {
	h, ft := newScopeHarness(t)
	ft.runs["1-master"] = alertRun(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, 1, "gitlab-org/gitlab-test")

	for _, status := range []string{"success", "failed"} {
		lie := withProject(t, withStatus(t, status), 1, "acme/api")
		rec, answer := h.post(t, "/webhooks/gitlab", gitlabHeaders("Pipeline Hook", acmeToken, "k-lie-"+status), lie)
		forbidden(t, h, rec.Code, answer, "acme", `1 ("gitlab-org/gitlab-test"), whose alert 1-master is open`)
	}
	// A push deleting master of project 1, under acme's path.
	lie := edit(t, withProject(t, pushDeleted(t), 1, "acme/api"), func(m map[string]any) { m["ref"] = "refs/heads/master" })
	rec, answer := h.post(t, "/webhooks/gitlab", gitlabHeaders("Push Hook", acmeToken, "k-lie-push"), lie)
	forbidden(t, h, rec.Code, answer, "acme", "whose alert 1-master is open")
	if h.temporal.calls() != 0 || h.temporal.signalTries != 0 {
		t.Fatalf("the foreign alert was signaled: %d calls, %d tries", h.temporal.calls(), h.temporal.signalTries)
	}
	if got := ft.describedIDs(); !slices.Equal(got, []string{"1-master", "1-master", "1-master"}) {
		t.Fatalf("described %v, want the alert once a delivery", got)
	}

	// The alert's project decides, not the delivery's: the project's own
	// source may act on it whatever path the delivery names.
	rec, answer = h.post(t, "/webhooks/gitlab", gitlabHeaders("Pipeline Hook", gitlabOrgToken, "k-own"), withStatus(t, "success"))
	if rec.Code != http.StatusAccepted || answer["action"] != "signaled" || len(h.temporal.signals) != 1 {
		t.Fatalf("the owner's delivery: %d %v", rec.Code, answer)
	}

	// No run open (resolved, or none at all): nothing of another project's
	// to protect, and the delivery goes on.
	for name, run := range map[string]*workflowservice.DescribeWorkflowExecutionResponse{
		"completed": alertRun(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, 1, "gitlab-org/gitlab-test"),
		"not found": nil,
	} {
		t.Run(name, func(t *testing.T) {
			h, ft := newScopeHarness(t)
			if run != nil {
				ft.runs["1-master"] = run
			}
			lie := withProject(t, withStatus(t, "failed"), 1, "acme/api")
			rec, answer := h.post(t, "/webhooks/gitlab", gitlabHeaders("Pipeline Hook", acmeToken, "k-closed"), lie)
			if rec.Code != http.StatusAccepted || answer["action"] != "signaled" || len(h.temporal.starts) != 1 {
				t.Fatalf("%d %v with %d starts", rec.Code, answer, len(h.temporal.starts))
			}
		})
	}
}

func TestAScopedSourcesOwnDeliveriesAreAcceptedAsBefore(t *testing.T) {
	h, ft := newScopeHarness(t)
	ft.runs["17-feature/retire-v1"] = alertRun(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, 17, "acme/api")
	ft.runs["1-master"] = alertRun(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, 1, "gitlab-org/gitlab-test")

	rec, answer := h.post(t, "/webhooks/gitlab", gitlabHeaders("Push Hook", acmeToken, "k-own-push"), pushDeleted(t))
	if rec.Code != http.StatusAccepted || answer["action"] != "signaled" || answer["alert_id"] != "17-feature/retire-v1" || len(h.temporal.deletions) != 1 {
		t.Fatalf("acme's own branch deletion: %d %v", rec.Code, answer)
	}
	if d := h.temporal.deletions[0]; d.signal != workflows.SignalBranchDeleted || d.deletion.By != "Dana Ops" || d.deletion.IdempotencyKey != "k-own-push" {
		t.Fatalf("deletion %+v", d)
	}
	rec, answer = h.post(t, "/webhooks/gitlab?token="+gitlabOrgToken, gitlabHeaders("Pipeline Hook", gitlabOrgToken, "k-own-failed"), withStatus(t, "failed"))
	if rec.Code != http.StatusAccepted || answer["action"] != "signaled" || answer["run_id"] != "run-1" || len(h.temporal.starts) != 1 {
		t.Fatalf("gitlab-org's own failure: %d %v", rec.Code, answer)
	}
	// by-id serves project 1 by its ID, whatever path it is sent under.
	moved := withProject(t, withStatus(t, "success"), 1, "renamed/gitlab-test")
	rec, answer = h.post(t, "/webhooks/gitlab", gitlabHeaders("Pipeline Hook", byIDToken, "k-by-id"), moved)
	if rec.Code != http.StatusAccepted || answer["action"] != "signaled" || len(h.temporal.signals) != 1 {
		t.Fatalf("by-id's own project: %d %v", rec.Code, answer)
	}
	// A push that deletes nothing is answered without Temporal, as before.
	kept := edit(t, pushDeleted(t), func(m map[string]any) { m["after"] = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7" })
	if rec, answer := h.post(t, "/webhooks/gitlab", gitlabHeaders("Push Hook", acmeToken, "k-kept"), kept); rec.Code != http.StatusAccepted || answer["action"] != "ignored" {
		t.Fatalf("a push that deletes nothing: %d %v", rec.Code, answer)
	}
	if got := ft.describedIDs(); !slices.Equal(got, []string{"17-feature/retire-v1", "1-master", "1-master"}) {
		t.Fatalf("described %v: a scoped source's delivery costs one describe of its alert", got)
	}
	if !strings.Contains(h.logs.String(), `"source":"acme"`) || strings.Contains(h.logs.String(), acmeToken) {
		t.Fatalf("the access log should name the source, never its token:\n%s", h.logs.String())
	}
}

func TestAnUnscopedSourceActsOnAnyProjectAsBefore(t *testing.T) {
	h, ft := newScopeHarness(t)
	ft.runs["17-feature/retire-v1"] = alertRun(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, 17, "acme/api")
	if rec, answer := h.post(t, "/webhooks/gitlab", gitlabHeaders("Push Hook", testToken, "k-1"), pushDeleted(t)); rec.Code != http.StatusAccepted || answer["action"] != "signaled" || len(h.temporal.deletions) != 1 {
		t.Fatalf("push: %d %v", rec.Code, answer)
	}
	if rec, answer := h.post(t, "/webhooks/gitlab?token="+testToken, gitlabHeaders("Pipeline Hook", testToken, "k-2"), withStatus(t, "failed")); rec.Code != http.StatusAccepted || answer["action"] != "signaled" || len(h.temporal.starts) != 1 {
		t.Fatalf("pipeline: %d %v", rec.Code, answer)
	}
	if got := ft.describedIDs(); len(got) != 0 {
		t.Fatalf("an unscoped source costs no extra call, yet described %v", got)
	}
	if got := h.temporal.starts[0].options.Memo[workflows.MemoSource]; got != "gitlab" {
		t.Fatalf("the alert records the source %q in its memo, want gitlab", got)
	}
	if !strings.Contains(h.logs.String(), `"source":"gitlab"`) || strings.Contains(h.logs.String(), testToken) {
		t.Fatalf("the access log should name the source, never its token:\n%s", h.logs.String())
	}
}

// When the alert cannot be read, a scoped source's delivery is refused for
// now (503, which GitLab retries), not let through unchecked.
func TestAScopedSourceWaitsWhenTheAlertCannotBeRead(t *testing.T) {
	h, ft := newScopeHarness(t)
	ft.describeErr = serviceerror.NewUnavailable("connection refused")
	rec, answer := h.post(t, "/webhooks/gitlab", gitlabHeaders("Pipeline Hook", gitlabOrgToken, "k-down"), withStatus(t, "failed"))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || h.temporal.calls() != 0 {
		t.Fatalf("%d %v with %d calls", rec.Code, answer, h.temporal.calls())
	}
	if !strings.Contains(h.logs.String(), `"operation":"describe_alert"`) {
		t.Fatalf("the failed call is not logged:\n%s", h.logs.String())
	}
}
