package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/visibility"
	"github.com/alertflow/alertflow/workflows"
)

// signingKey is a hook's signing token as GitLab shows it.
const signingKey = "whsec_aW50ZWdyYXRpb24tc2lnbmluZy10b2tlbi0zMi1ieXRlcyE="

// postSigned posts body with the headers GitLab sends for a hook with a
// secret token and a signing token, signed at at with key.
func (s *stack) postSigned(body []byte, idem string, key ingress.SigningKey, at time.Time) answer {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.http.URL+"/webhooks/gitlab", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	ts, sig := key.Sign(idem, at, body)
	for k, v := range map[string]string{
		"Content-Type": "application/json", "User-Agent": "GitLab/19.0.0", "X-Gitlab-Event": "Pipeline Hook",
		"X-Gitlab-Instance": "https://gitlab.example.com", "X-Gitlab-Webhook-UUID": uuid.NewString(),
		"X-Gitlab-Event-UUID": uuid.NewString(), "Idempotency-Key": idem, "X-Gitlab-Token": sourceToken,
		"webhook-id": idem, "webhook-timestamp": ts, "webhook-signature": sig,
	} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{code: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		s.t.Fatalf("decode answer (%d): %v", resp.StatusCode, err)
	}
	return a
}

func TestASignedSourceTakesOnlyDeliveriesSignedJustNowWithItsKey(t *testing.T) {
	t.Parallel() // own task queue and project ids
	key, err := ingress.ParseSigningKey(signingKey)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ingress.ParseSigningKey("whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==")
	s := newStackOf(t, &stack{intake: func(c *ingress.Config) {
		if err := c.Tokens.SetSigningKeys("gitlab=" + signingKey); err != nil {
			t.Fatal(err)
		}
	}}, workflows.Input{})
	const id = "2901-main"
	failed := payload(t, 2901, "main", 29010, "failed")
	idem := uuid.NewString()
	ts, sig := key.Sign(idem, time.Now(), failed)

	// Tampered (the signature of the failure on a success), signed with
	// another key, or signed too long ago: 401, and no alert.
	tampered := payload(t, 2901, "main", 29010, "success")
	req, _ := http.NewRequest(http.MethodPost, s.http.URL+"/webhooks/gitlab", bytes.NewReader(tampered))
	req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
	req.Header.Set("X-Gitlab-Token", sourceToken)
	req.Header.Set("webhook-id", idem)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a tampered body answered %d, want 401", resp.StatusCode)
	}
	if a := s.postSigned(failed, idem, other, time.Now()); a.code != http.StatusUnauthorized {
		t.Fatalf("another key answered %d %+v, want 401", a.code, a)
	}
	if a := s.postSigned(failed, idem, key, time.Now().Add(-10*time.Minute)); a.code != http.StatusUnauthorized || a.Error == "" {
		t.Fatalf("a 10-minute-old signature answered %d %+v, want 401 saying why", a.code, a)
	}
	if _, err := s.state(t.Context(), id); !visibility.NotFound(err) {
		t.Fatalf("refused deliveries left an alert: %v", err)
	}

	// Signed with the key, just now: the alert opens; GitLab's resend of
	// the same event (the same webhook-id, signed anew) changes nothing.
	s.mustSignalAnswer(s.postSigned(failed, idem, key, time.Now()))
	s.mustSignalAnswer(s.postSigned(failed, idem, key, time.Now()))
	st := s.waitState(id, isOpen)
	opened := 0
	for _, e := range st.Timeline {
		if e.Kind == alert.OutcomeOpened {
			opened++
		}
	}
	st = s.waitState(id, func(st *alert.State) error {
		if st.Counts.Events != 2 {
			return errors.New("the resend is not applied yet")
		}
		return nil
	})
	if opened != 1 || st.Counts.Applied != 1 || st.Counts.Duplicates != 1 {
		t.Errorf("after a delivery and its resend: %d opened, counts %+v; want one applied, one duplicate", opened, st.Counts)
	}
}

func (s *stack) mustSignalAnswer(a answer) {
	s.t.Helper()
	if a.code != http.StatusAccepted || a.Action != ingress.ActionSignaled {
		s.t.Fatal(errors.New("webhook answered " + http.StatusText(a.code) + " " + a.Action + " " + a.Error))
	}
}
