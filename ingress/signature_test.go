package ingress

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The test vector of the Standard Webhooks specification.
const (
	specKey       = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = "1614265330"
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func signedHeader(id, ts, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", sig)
	return h
}

func TestSigningKeyPassesTheSpecificationsTestVector(t *testing.T) {
	k, err := ParseSigningKey(specKey)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1614265330, 0)
	id, err := k.Verify(signedHeader(specID, specTimestamp, specSignature), []byte(specBody), at)
	if err != nil || id != specID {
		t.Fatalf("the specification's vector: %q, %v", id, err)
	}
	if ts, sig := k.Sign(specID, at, []byte(specBody)); ts != specTimestamp || sig != specSignature {
		t.Errorf("Sign = %s %s, want %s %s", ts, sig, specTimestamp, specSignature)
	}
	// While a key is rotated the header lists several signatures, and
	// versions alertflow does not know: one v1 match is enough.
	several := "v1a,abc v2,Zm9v v1,bm90LXRoaXMtb25l " + specSignature
	if _, err := k.Verify(signedHeader(specID, specTimestamp, several), []byte(specBody), at); err != nil {
		t.Errorf("several signatures, one right: %v", err)
	}
}

func TestSigningKeyRefusesWhatGitLabDidNotSignJustNow(t *testing.T) {
	k, _ := ParseSigningKey(specKey)
	other, _ := ParseSigningKey("whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==")
	at := time.Unix(1614265330, 0)
	for _, tt := range []struct {
		name string
		key  SigningKey
		h    http.Header
		body string
		now  time.Time
		want string
	}{
		{"a tampered body", k, signedHeader(specID, specTimestamp, specSignature), `{"test": 2432232315}`, at, "does not match"},
		{"another key", other, signedHeader(specID, specTimestamp, specSignature), specBody, at, "does not match"},
		{"another id", k, signedHeader("msg_other", specTimestamp, specSignature), specBody, at, "does not match"},
		{"a timestamp 6 minutes old", k, signedHeader(specID, specTimestamp, specSignature), specBody, at.Add(6 * time.Minute), "more than 5m0s from now"},
		{"a timestamp 6 minutes ahead", k, signedHeader(specID, specTimestamp, specSignature), specBody, at.Add(-6 * time.Minute), "more than 5m0s from now"},
		{"no signature", k, signedHeader(specID, specTimestamp, ""), specBody, at, "are required"},
		{"no id", k, signedHeader("", specTimestamp, specSignature), specBody, at, "are required"},
		{"a timestamp that is no number", k, signedHeader(specID, "soon", specSignature), specBody, at, "not a number"},
		{"a signature of another version only", k, signedHeader(specID, specTimestamp, "v2,"+strings.TrimPrefix(specSignature, "v1,")), specBody, at, "does not match"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.key.Verify(tt.h, []byte(tt.body), tt.now)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestSigningKeysAreCheckedAtStartWithoutQuotingThem(t *testing.T) {
	for _, tt := range []struct{ spec, want string }{
		{"gitlab=whsec_" + "!!!", `source "gitlab": what follows "whsec_" is not base64`},
		{"gitlab=MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", `source "gitlab": want the signing token as GitLab shows it`},
		{"gitlab=whsec_c2hvcnQ=", `source "gitlab": the key is 5 bytes: want at least 16`},
		{"nobody=" + specKey, `source "nobody": not in ALERTFLOW_SOURCE_TOKENS`},
		{"gitlab=" + specKey + ",gitlab=" + specKey, `source "gitlab": named twice`},
		{"=" + specKey, `entry 1: want name=whsec_`},
	} {
		tokens, _ := ParseTokens("gitlab=" + testToken)
		err := tokens.SetSigningKeys(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.spec, err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), "MfKQ9r8") || strings.Contains(err.Error(), "c2hvcnQ")) {
			t.Errorf("%q: the error quotes the key: %v", tt.spec, err)
		}
	}
}

func signedHarness(t *testing.T) (*harness, SigningKey) {
	t.Helper()
	tokens, err := ParseTokens("gitlab=" + testToken + ",other=another-token")
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.SetSigningKeys("gitlab=" + specKey); err != nil {
		t.Fatal(err)
	}
	h := &harness{temporal: &fakeTemporal{}, logs: &bytes.Buffer{}}
	h.server = New(Config{TaskQueue: "alertflow", Tokens: tokens}, h.temporal, slog.New(slog.NewJSONHandler(h.logs, nil)))
	k, _ := ParseSigningKey(specKey)
	return h, k
}

func TestASignedSourcesDeliveriesNeedTheirSignature(t *testing.T) {
	body := withStatus(t, "failed")
	now := time.Now()
	for _, tt := range []struct {
		name   string
		sign   func(k SigningKey) map[string]string
		source string
		want   int
	}{
		{"signed, with its token in the header", func(k SigningKey) map[string]string {
			ts, sig := k.Sign("msg_1", now, body)
			return map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": sig}
		}, testToken, http.StatusAccepted},
		{"unsigned", func(SigningKey) map[string]string { return nil }, testToken, http.StatusUnauthorized},
		{"signed 10 minutes ago", func(k SigningKey) map[string]string {
			ts, sig := k.Sign("msg_1", now.Add(-10*time.Minute), body)
			return map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": sig}
		}, testToken, http.StatusUnauthorized},
		{"signed with another key", func(SigningKey) map[string]string {
			other, _ := ParseSigningKey("whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==")
			ts, sig := other.Sign("msg_1", now, body)
			return map[string]string{"webhook-id": "msg_1", "webhook-timestamp": ts, "webhook-signature": sig}
		}, testToken, http.StatusUnauthorized},
		{"another source, which does not sign", func(SigningKey) map[string]string { return nil }, "another-token", http.StatusAccepted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, k := signedHarness(t)
			headers := map[string]string{"X-Gitlab-Event": "Pipeline Hook", "X-Gitlab-Token": tt.source, "Idempotency-Key": "idem-1"}
			for name, v := range tt.sign(k) {
				headers[name] = v
			}
			rec, answer := h.post(t, "/webhooks/gitlab", headers, body)
			if rec.Code != tt.want {
				t.Fatalf("%d %v, want %d", rec.Code, answer, tt.want)
			}
			starts := len(h.temporal.starts)
			if tt.want == http.StatusUnauthorized {
				if starts != 0 || answer["error"] == "" {
					t.Fatalf("a refused delivery started %d alerts; answer %v", starts, answer)
				}
				return
			}
			if starts != 1 {
				t.Fatalf("%d starts", starts)
			}
			if key, want := h.temporal.starts[0].event.IdempotencyKey, map[bool]string{true: "msg_1", false: "idem-1"}[tt.source == testToken]; key != want {
				t.Errorf("idempotency key %q, want %q", key, want)
			}
		})
	}
}
