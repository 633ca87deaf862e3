package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/workflows"
)

// otherToken is the source token of a second GitLab instance.
const otherToken = "integration-instance-b-token"

func TestTwoGitLabInstancesSameProjectAndBranchAreTwoAlerts(t *testing.T) {
	t.Parallel() // own task queue and project ids
	s := newStackOf(t, &stack{intake: func(c *ingress.Config) {
		tokens, err := ingress.ParseTokens("gitlab=" + sourceToken + ",gitlab-b=" + otherToken)
		if err != nil {
			t.Fatal(err)
		}
		if err := tokens.SetInstances("gitlab-b=b"); err != nil {
			t.Fatal(err)
		}
		c.Tokens = tokens
	}}, workflows.Input{})
	post := func(token string, body []byte) answer {
		req, _ := http.NewRequest(http.MethodPost, s.http.URL+"/webhooks/gitlab", bytes.NewReader(body))
		req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
		req.Header.Set("X-Gitlab-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		a := answer{code: resp.StatusCode}
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	// Project 2903 on both instances, its main failing on both.
	home := post(sourceToken, payload(t, 2903, "main", 29030, "failed"))
	other := post(otherToken, payload(t, 2903, "main", 29030, "failed"))
	if home.AlertID != "2903-main" || other.AlertID != "b:2903-main" {
		t.Fatalf("alert IDs %q and %q, want 2903-main (home, unchanged) and b:2903-main", home.AlertID, other.AlertID)
	}
	s.waitState("2903-main", isOpen)
	if st := s.waitState("b:2903-main", isOpen); st.ID != "b:2903-main" {
		t.Fatalf("the other instance's alert calls itself %q", st.ID)
	}
	// The REST API reads the instance's ID; a success on the other
	// instance resolves its alert alone.
	if code, body := s.apiCall(http.MethodGet, "/api/v1/alerts/b:2903-main", nil); code != http.StatusOK {
		t.Fatalf("GET /api/v1/alerts/b:2903-main: %d %s", code, body)
	}
	if a := post(otherToken, payload(t, 2903, "main", 29031, "success")); a.code != http.StatusAccepted {
		t.Fatalf("the other instance's success: %d %+v", a.code, a)
	}
	s.waitClosed("b:2903-main")
	s.waitState("2903-main", func(st *alert.State) error {
		if st.Status != alert.StatusOpen {
			return fmt.Errorf("the home alert is %s: the other instance's success reached it", st.Status)
		}
		return nil
	})
}
