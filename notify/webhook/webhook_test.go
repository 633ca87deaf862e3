package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/notifytest"
	"github.com/alertflow/alertflow/notify/webhook"
	"github.com/alertflow/alertflow/notify/webhook/contract"
)

// secretPath and secret must never show in an error: receivers often put a
// token in the URL, and the secret signs every body.
const (
	secretPath  = "/hooks/T0001/B0002/pathsecret"
	secretQuery = "token=querysecret"
	secret      = "s3cr3t-signing-key"
)

// request is what the receiver saw.
type request struct {
	header http.Header
	body   []byte
}

// receiver is a local webhook receiver that answers with status, header
// and body, and hands every request it gets to the test over a channel,
// which also orders the handler's writes before the test's reads.
type receiver struct {
	url  string
	seen chan request
}

func newReceiver(t *testing.T, status int, header http.Header, body string) *receiver {
	t.Helper()
	r := &receiver{seen: make(chan request, 4)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.seen <- request{header: req.Header.Clone(), body: b}
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL + secretPath + "?" + secretQuery
	return r
}

func (r *receiver) next(t *testing.T) request {
	t.Helper()
	select {
	case req := <-r.seen:
		return req
	default:
		t.Fatal("the receiver got no request")
		return request{}
	}
}

// assertNoSecrets fails when err's message, or any error in its chain,
// holds the URL's path or query or the signing secret.
func assertNoSecrets(t *testing.T, err error) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, s := range []string{"pathsecret", "querysecret", secret, "/hooks/"} {
			if strings.Contains(e.Error(), s) {
				t.Errorf("error %q gives away %q", e.Error(), s)
			}
		}
	}
}

func TestNotifyPostsThePayloadOfTheNotification(t *testing.T) {
	for _, kind := range []notify.Kind{
		notify.KindOpened, notify.KindSeverityChanged, notify.KindReminder,
		notify.KindAcknowledged, notify.KindResolved, notify.KindEscalated,
		notify.KindFlapping, notify.KindStable,
	} {
		t.Run(string(kind), func(t *testing.T) {
			r := newReceiver(t, http.StatusOK, nil, "")
			n := notifytest.Notification(kind)
			if err := webhook.New(r.url, secret, nil).Notify(t.Context(), n); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			var got contract.Payload
			if err := json.Unmarshal(r.next(t).body, &got); err != nil {
				t.Fatalf("the body is not a Payload: %v", err)
			}
			want := payload(t, n)
			if gotJSON, wantJSON := mustJSON(t, got), mustJSON(t, want); gotJSON != wantJSON {
				t.Errorf("body\n got %s\nwant %s", gotJSON, wantJSON)
			}
			if got.Version != "1" || got.ID != n.ID || string(got.Kind) != string(kind) || got.Title != n.Title {
				t.Errorf("envelope = %q %q %q %q, want 1 %q %q %q", got.Version, got.ID, got.Kind, got.Title, n.ID, kind, n.Title)
			}
			if got.Alert.ID != "1-master" || got.Alert.Project.Path != "gitlab-org/gitlab-test" || got.Alert.Ref != "master" {
				t.Errorf("alert = %+v, want 1-master on gitlab-org/gitlab-test@master", got.Alert)
			}
			if got.Links.Pipeline == "" || got.Links.Project == "" || got.Links.Commit == "" {
				t.Errorf("links = %+v, want pipeline, project and commit", got.Links)
			}
		})
	}
}

func TestPayloadCarriesEachTransitionsDetails(t *testing.T) {
	tests := []struct {
		kind  notify.Kind
		check func(t *testing.T, p contract.Payload)
	}{
		{notify.KindOpened, func(t *testing.T, p contract.Payload) {
			pl := p.Alert.Pipeline
			if p.Alert.Status != "open" || p.Alert.Severity != "HIGH" || pl == nil || pl.ID != 31 || pl.IID != 3 ||
				len(pl.FailedJobs) != 2 || pl.FailedJobs[0].Name != "test-build" || pl.FailedJobs[0].FailureReason != "script_failure" {
				t.Errorf("opened alert = %+v, pipeline %+v", p.Alert, pl)
			}
		}},
		{notify.KindSeverityChanged, func(t *testing.T, p contract.Payload) {
			if p.PreviousSeverity != "HIGH" || p.Alert.Severity != "MEDIUM" || p.Alert.PeakSeverity != "HIGH" {
				t.Errorf("severity %q → %q (peak %q), want HIGH → MEDIUM (peak HIGH)", p.PreviousSeverity, p.Alert.Severity, p.Alert.PeakSeverity)
			}
			if p.Alert.Pipeline.FailedJobs == nil {
				t.Error("failed_jobs is null, want []")
			}
		}},
		{notify.KindReminder, func(t *testing.T, p contract.Payload) {
			if p.Alert.Reminders != 1 || p.Actor != "" {
				t.Errorf("reminder: reminders %d actor %q, want 1 and none", p.Alert.Reminders, p.Actor)
			}
		}},
		{notify.KindAcknowledged, func(t *testing.T, p contract.Payload) {
			a := p.Alert.Acknowledged
			if a == nil || a.By != "alice" || a.Note != "looking into the runner" || !a.At.Equal(notifytest.LaterAt()) || p.Actor != "alice" {
				t.Errorf("acknowledged = %+v, actor %q", a, p.Actor)
			}
		}},
		{notify.KindResolved, func(t *testing.T, p contract.Payload) {
			r := p.Alert.Resolved
			if r == nil || r.By != "alice" || p.Alert.Resolution != "resolved by hand: flaky runner" || p.Note != "flaky runner" {
				t.Errorf("resolved = %+v, resolution %q, note %q", r, p.Alert.Resolution, p.Note)
			}
			if !p.Alert.FlappedAt.IsZero() || !p.Alert.GreenSince.IsZero() || p.Alert.Flips != 0 {
				t.Errorf("an alert that never flapped has flapped_at %v, green_since %v, flips %d", p.Alert.FlappedAt, p.Alert.GreenSince, p.Alert.Flips)
			}
		}},
		{notify.KindFlapping, func(t *testing.T, p contract.Payload) {
			if p.Kind != "flapping" || p.Alert.Status != "open" || !p.Alert.FlappedAt.Equal(notifytest.OpenedAt()) || !p.Alert.GreenSince.IsZero() {
				t.Errorf("flapping: kind %q, %s, flapped at %v, green since %v", p.Kind, p.Alert.Status, p.Alert.FlappedAt, p.Alert.GreenSince)
			}
		}},
		{notify.KindStable, func(t *testing.T, p contract.Payload) {
			r := p.Alert.Resolved
			if p.Kind != "stable" || p.Alert.Status != "resolved" || r == nil || r.By != "alertflow" ||
				!p.Alert.GreenSince.Equal(notifytest.LaterAt().Add(-30*time.Minute)) || p.Alert.Flips != 3 {
				t.Errorf("stable: kind %q, %s, resolved %+v, green since %v, flips %d", p.Kind, p.Alert.Status, r, p.Alert.GreenSince, p.Alert.Flips)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			tt.check(t, payload(t, notifytest.Notification(tt.kind)))
		})
	}
}

// The example in testdata is the one docs/notifications.md shows; this keeps the
// schema from drifting away from what receivers were told. Regenerate with
// ALERTFLOW_UPDATE_GOLDEN=1 after a deliberate change (a new version).
func TestPayloadMatchesTheDocumentedExample(t *testing.T) {
	got, err := json.MarshalIndent(payload(t, notifytest.Notification(notify.KindOpened)), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "opened.json")
	notifytest.MatchGolden(t, "payload", got, golden)
}

func TestNotifySendsTheDocumentedHeaders(t *testing.T) {
	r := newReceiver(t, http.StatusNoContent, nil, "")
	n := notifytest.Notification(notify.KindAcknowledged)
	if err := webhook.New(r.url, secret, nil).Notify(t.Context(), n); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	h := r.next(t).header
	for name, want := range map[string]string{
		"Content-Type":      "application/json",
		"User-Agent":        "alertflow",
		"X-Alertflow-Event": "acknowledged",
		"Idempotency-Key":   n.ID,
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestTheSignatureVerifiesOnlyTheBodyItSigned(t *testing.T) {
	r := newReceiver(t, http.StatusOK, nil, "")
	if err := webhook.New(r.url, secret, nil).Notify(t.Context(), notifytest.Notification(notify.KindOpened)); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	req := r.next(t)
	sig := req.header.Get("X-Alertflow-Signature")
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Fatalf("X-Alertflow-Signature = %q, want sha256=<64 hex digits>", sig)
	}
	changed := bytes.Replace(req.body, []byte(`"HIGH"`), []byte(`"LOW"`), 1)
	tests := []struct {
		name   string
		secret string
		body   []byte
		header string
		want   bool
	}{
		{"the sent body with the secret verifies", secret, req.body, sig, true},
		{"the header with surrounding spaces verifies", secret, req.body, " " + sig + " ", true},
		{"a wrong secret fails", "not-the-secret", req.body, sig, false},
		{"a changed body fails", secret, changed, sig, false},
		{"an empty secret fails", "", req.body, sig, false},
		{"a missing header fails", secret, req.body, "", false},
		{"a signature without its sha256= prefix fails", secret, req.body, strings.TrimPrefix(sig, "sha256="), false},
		{"another algorithm's prefix fails", secret, req.body, "sha1=" + strings.TrimPrefix(sig, "sha256="), false},
		{"a signature that is not hex fails", secret, req.body, "sha256=zz" + sig[9:], false},
		{"a truncated signature fails", secret, req.body, sig[:len(sig)-2], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := contract.Verify(tt.secret, tt.body, tt.header); got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
	if got := contract.Sign(secret, req.body); got != sig {
		t.Errorf("Sign = %q, want the header %q", got, sig)
	}
}

func TestNoSignatureIsSentWithoutASecret(t *testing.T) {
	r := newReceiver(t, http.StatusOK, nil, "")
	if err := webhook.New(r.url, "", nil).Notify(t.Context(), notifytest.Notification(notify.KindOpened)); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if h := r.next(t).header; h.Get("X-Alertflow-Signature") != "" {
		t.Errorf("X-Alertflow-Signature = %q, want none", h.Get("X-Alertflow-Signature"))
	}
}

func TestTheSameNotificationIsSentAsTheSameBytes(t *testing.T) {
	r := newReceiver(t, http.StatusOK, nil, "")
	w := webhook.New(r.url, secret, nil)
	n := notifytest.Notification(notify.KindResolved)
	for range 2 {
		if err := w.Notify(t.Context(), n); err != nil {
			t.Fatalf("Notify: %v", err)
		}
	}
	first, second := r.next(t), r.next(t)
	if !bytes.Equal(first.body, second.body) {
		t.Errorf("bodies differ:\n%s\n%s", first.body, second.body)
	}
	if a, b := first.header.Get("X-Alertflow-Signature"), second.header.Get("X-Alertflow-Signature"); a != b {
		t.Errorf("signatures differ: %s, %s", a, b)
	}
}

func TestReceiverAnswersDecideWhetherToRetry(t *testing.T) {
	farFuture := time.Now().Add(24 * time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		name       string
		status     int
		retryAfter string
		body       string
		// wantErr false: delivered. Otherwise permanent or not, and after.
		wantErr   bool
		permanent bool
		after     time.Duration
	}{
		{name: "200 is a delivery", status: 200},
		{name: "202 is a delivery", status: 202},
		{name: "204 is a delivery", status: 204},
		{name: "500 is retried", status: 500, body: "boom", wantErr: true},
		{name: "502 is retried", status: 502, wantErr: true},
		{name: "503 with a Retry-After date a day away waits the 5-minute cap", status: 503, retryAfter: farFuture, wantErr: true, after: 5 * time.Minute},
		{name: "429 with Retry-After: 7 is retried after 7 s", status: 429, retryAfter: "7", wantErr: true, after: 7 * time.Second},
		{name: "429 without Retry-After is retried by the policy", status: 429, wantErr: true},
		{name: "429 with a garbled Retry-After is retried by the policy", status: 429, retryAfter: "soon", wantErr: true},
		{name: "408 is retried", status: 408, wantErr: true},
		{name: "400 is not retried", status: 400, body: `{"error":"bad payload"}`, wantErr: true, permanent: true},
		{name: "401 is not retried", status: 401, wantErr: true, permanent: true},
		{name: "404 is not retried", status: 404, wantErr: true, permanent: true},
		{name: "410 is not retried", status: 410, wantErr: true, permanent: true},
		{name: "400 with a Retry-After is still not retried", status: 400, retryAfter: "7", wantErr: true, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{}
			if tt.retryAfter != "" {
				header.Set("Retry-After", tt.retryAfter)
			}
			r := newReceiver(t, tt.status, header, tt.body)
			err := webhook.New(r.url, secret, nil).Notify(t.Context(), notifytest.Notification(notify.KindOpened))
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Notify: %v, want a delivery", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Notify delivered, want an error")
			}
			assertNoSecrets(t, err)
			de, ok := errors.AsType[*notify.DeliveryError](err)
			if !ok {
				t.Fatalf("error %v is not a DeliveryError", err)
			}
			if de.Permanent != tt.permanent || de.After != tt.after {
				t.Errorf("permanent %v after %s, want %v %s (%v)", de.Permanent, de.After, tt.permanent, tt.after, err)
			}
			he, ok := errors.AsType[*notify.HTTPError](err)
			if !ok || he.StatusCode != tt.status || he.Body != tt.body {
				t.Errorf("HTTP error = %+v, want status %d body %q", he, tt.status, tt.body)
			}
			if want := "send webhook notification"; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		})
	}
}

func TestAHungReceiverFailsTheAttemptWithinTheClientTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hang until the client gives up or the test ends.
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	client := notify.DefaultHTTPClient()
	client.Timeout = 200 * time.Millisecond
	err := webhook.New(srv.URL+secretPath+"?"+secretQuery, secret, client).Notify(t.Context(), notifytest.Notification(notify.KindOpened))
	if err == nil {
		t.Fatal("Notify delivered to a hung receiver")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v is not a timeout", err)
	}
	if de, ok := errors.AsType[*notify.DeliveryError](err); ok && de.Permanent {
		t.Errorf("a timeout must be retried: %v", err)
	}
	assertNoSecrets(t, err)
}

func TestARefusedConnectionIsRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	err = webhook.New("http://"+addr+secretPath+"?"+secretQuery, secret, nil).Notify(t.Context(), notifytest.Notification(notify.KindOpened))
	if err == nil {
		t.Fatal("Notify delivered to a closed port")
	}
	if de, ok := errors.AsType[*notify.DeliveryError](err); ok && de.Permanent {
		t.Errorf("a refused connection must be retried: %v", err)
	}
	host, port, _ := net.SplitHostPort(addr)
	if strings.Contains(err.Error(), host) || strings.Contains(err.Error(), port) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q names the receiver's address, or not the refusal", err)
	}
	assertNoSecrets(t, err)
}

func TestAnInvalidURLIsPermanentAndNotQuoted(t *testing.T) {
	err := webhook.New("http://exa mple.com/hooks/pathsecret", secret, nil).Notify(t.Context(), notifytest.Notification(notify.KindOpened))
	de, ok := errors.AsType[*notify.DeliveryError](err)
	if !ok || !de.Permanent {
		t.Fatalf("error %v, want a permanent DeliveryError", err)
	}
	assertNoSecrets(t, err)
}

// payload is webhook.NewPayload(n), which must not fail for n.
func payload(t *testing.T, n notify.Notification) contract.Payload {
	t.Helper()
	p, err := webhook.NewPayload(n)
	if err != nil {
		t.Fatalf("NewPayload(%s): %v", n.Kind, err)
	}
	return p
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The kind a receiver sees is spelled out in the contract; a kind the
// contract does not know is refused rather than sent as it is.
func TestPayloadKindIsTheContractsNameOfTheNotificationKind(t *testing.T) {
	for kind, want := range map[notify.Kind]contract.Kind{
		notify.KindOpened:          "opened",
		notify.KindSeverityChanged: "severity_changed",
		notify.KindReminder:        "reminder",
		notify.KindAcknowledged:    "acknowledged",
		notify.KindResolved:        "resolved",
	} {
		if got := payload(t, notifytest.Notification(kind)).Kind; got != want {
			t.Errorf("payload kind of %q = %q, want %q", kind, got, want)
		}
	}
	n := notifytest.Notification(notify.KindOpened)
	n.Kind = "reopened"
	if _, err := webhook.NewPayload(n); err == nil {
		t.Error("NewPayload accepted a kind the contract does not know")
	}
	r := newReceiver(t, http.StatusOK, nil, "")
	err := webhook.New(r.url, secret, nil).Notify(t.Context(), n)
	if de, ok := errors.AsType[*notify.DeliveryError](err); !ok || !de.Permanent {
		t.Errorf("Notify of an unknown kind = %v, want a permanent error", err)
	}
	select {
	case <-r.seen:
		t.Error("a notification of an unknown kind was sent")
	default:
	}
}

func TestAFailedWebhookDeliveryNamesNeitherTheReceiversHostNorItsPathNorItsSecrets(t *testing.T) {
	tests := []struct {
		name     string
		receiver notifytest.Receiver
		says     string
	}{
		{"connection refused", notifytest.Refusing(t), "dial: connection refused"},
		{"a 500 that echoes the request", notifytest.Echoing(t, http.StatusInternalServerError), "HTTP 500 Internal Server Error: no route for POST [redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.New(tt.receiver.Base+secretPath+"?"+secretQuery, secret, nil).Notify(t.Context(), notifytest.Notification(notify.KindOpened))
			tt.receiver.AssertNoLeak(t, err, "pathsecret", "querysecret", "T0001", "B0002", "/hooks/", secret)
			if msg := err.Error(); !strings.Contains(msg, "send webhook notification") || !strings.Contains(msg, "POST http://[redacted]: ") || !strings.Contains(msg, tt.says) {
				t.Errorf("error %q should name the webhook, its scheme only, and say %q", msg, tt.says)
			}
		})
	}
}

// The contract's additions for actionable alerts: the culprit against the
// last green with the compare link, the failure class, the flaky jobs and
// the recovery, all from the alert's state, and none for an alert that
// predates them.
func TestPayloadSaysWhoBrokeTheBranchAndHowItRecovered(t *testing.T) {
	n := notifytest.Notification(notify.KindResolved)
	s := &n.Alert
	s.Rules.Version = alert.RulesInsight
	s.Culprit = &alert.Culprit{PipelineID: 30, Status: "failed", SHA: "bbbb", CommitTitle: "Break", CommitAuthor: "Xavier", User: "Xena"}
	s.LastGreen = &alert.Green{PipelineID: 29, SHA: "aaaa"}
	s.FailureClass, s.FailedPipelines = alert.ClassCode, 2
	s.FlakyJobs = []alert.FlakyJob{{PipelineID: 30, Name: "rspec", Stage: "test", At: notifytest.LaterAt()}}
	s.Pipeline.Status, s.Pipeline.CommitAuthor = alert.PipelineSuccess, "Dana"
	p, err := webhook.NewPayload(n)
	if err != nil {
		t.Fatal(err)
	}
	a := p.Alert
	if a.Culprit == nil || a.Culprit.SHA != "bbbb" || a.Culprit.CommitAuthor != "Xavier" || a.Culprit.User != "Xena" ||
		a.LastGreen == nil || a.LastGreen.SHA != "aaaa" || a.FailureClass != "code" || a.FailedPipelines != 2 ||
		len(a.FlakyJobs) != 1 || a.FlakyJobs[0].Name != "rspec" {
		t.Fatalf("alert %+v", a)
	}
	if want := strings.TrimSuffix(s.Project.URL, "/") + "/-/compare/aaaa...bbbb"; p.Links.Compare != want {
		t.Errorf("compare %q, want %q", p.Links.Compare, want)
	}
	r := a.Recovery
	if r == nil || r.FailedPipelines != 2 || r.Fix == nil || r.Fix.PipelineID != s.Pipeline.ID || r.Fix.CommitAuthor != "Dana" ||
		r.RedForSeconds != s.ResolvedAt.Sub(s.OpenedAt).Seconds() || r.RedFor == "" {
		t.Fatalf("recovery %+v", r)
	}

	old := notifytest.Notification(notify.KindResolved)
	body, err := json.Marshal(mustPayload(t, old))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"culprit", "last_green", "failure_class", "failed_pipelines", "flaky", "recovery", "compare"} {
		if strings.Contains(string(body), `"`+key+`"`) {
			t.Errorf("an alert from before carries %q: %s", key, body)
		}
	}
}

func mustPayload(t *testing.T, n notify.Notification) contract.Payload {
	t.Helper()
	p, err := webhook.NewPayload(n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
