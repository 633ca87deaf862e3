package pagerduty_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/notifytest"
	"github.com/alertflow/alertflow/notify/pagerduty"
	"github.com/alertflow/alertflow/notify/pagerduty/pagerdutytest"
)

// routingKey looks like a real one: 32 characters.
const routingKey = "R0UT1NGK3Ye93facc04764012d7bfb00"

// send delivers n to a fresh fake and returns what the fake accepted.
func send(t *testing.T, n notify.Notification) []pagerdutytest.Event {
	t.Helper()
	fake := pagerdutytest.New(t)
	if err := pagerduty.New(fake.URL(), routingKey, nil).Notify(t.Context(), n); err != nil {
		t.Fatalf("Notify(%s): %v", n.Kind, err)
	}
	return fake.Events()
}

func TestNotifierMapsEachKindToItsEventAction(t *testing.T) {
	escalated := notifytest.Notification(notify.KindOpened)
	escalated.Kind = "escalated"
	escalatedAcked := notifytest.Notification(notify.KindAcknowledged)
	escalatedAcked.Kind = "escalated"
	escalatedResolved := notifytest.Notification(notify.KindResolved)
	escalatedResolved.Kind = "escalated"

	tests := []struct {
		name   string
		n      notify.Notification
		action string // "" when nothing is sent
	}{
		{"opened triggers", notifytest.Notification(notify.KindOpened), "trigger"},
		{"severity_changed triggers again", notifytest.Notification(notify.KindSeverityChanged), "trigger"},
		{"acknowledged acknowledges", notifytest.Notification(notify.KindAcknowledged), "acknowledge"},
		{"resolved resolves", notifytest.Notification(notify.KindResolved), "resolve"},
		{"reminder sends nothing", notifytest.Notification(notify.KindReminder), ""},
		{"flapping triggers", notifytest.Notification(notify.KindFlapping), "trigger"},
		{"stable resolves", notifytest.Notification(notify.KindStable), "resolve"},
		{"an unknown kind on an open alert triggers", escalated, "trigger"},
		{"an unknown kind on an acknowledged alert triggers", escalatedAcked, "trigger"},
		{"an unknown kind on a resolved alert sends nothing", escalatedResolved, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := send(t, tt.n)
			if tt.action == "" {
				if len(events) != 0 {
					t.Fatalf("sent %d event(s), want none: %s", len(events), events[0].Raw)
				}
				return
			}
			if len(events) != 1 {
				t.Fatalf("sent %d events, want 1", len(events))
			}
			ev := events[0]
			if ev.EventAction != tt.action || ev.DedupKey != "1-master" || ev.RoutingKey != routingKey {
				t.Errorf("event_action %q dedup_key %q routing_key %q, want %q, 1-master and the routing key",
					ev.EventAction, ev.DedupKey, ev.RoutingKey, tt.action)
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(ev.Raw, &fields); err != nil {
				t.Fatal(err)
			}
			keys := slices.Sorted(maps.Keys(fields))
			if tt.action == "trigger" {
				if want := []string{"client", "client_url", "dedup_key", "event_action", "links", "payload", "routing_key"}; !slices.Equal(keys, want) {
					t.Errorf("a trigger carries %v, want %v", keys, want)
				}
				return
			}
			// PagerDuty ignores a payload on acknowledge and resolve.
			if want := []string{"dedup_key", "event_action", "routing_key"}; !slices.Equal(keys, want) {
				t.Errorf("a %s carries %v, want only %v", tt.action, keys, want)
			}
		})
	}
}

func TestNotifierTriggerCarriesTheAlert(t *testing.T) {
	events := send(t, notifytest.Notification(notify.KindOpened))
	if len(events) != 1 || events[0].Payload == nil {
		t.Fatalf("accepted %+v, want one trigger with a payload", events)
	}
	ev := events[0]
	p := ev.Payload
	got := map[string]string{
		"summary":    p.Summary,
		"source":     p.Source,
		"severity":   p.Severity,
		"timestamp":  p.Timestamp,
		"component":  p.Component,
		"group":      p.Group,
		"class":      p.Class,
		"client":     ev.Client,
		"client_url": ev.ClientURL,
	}
	want := map[string]string{
		"summary":    "Pipeline #31 failed on gitlab-org/gitlab-test@master",
		"source":     "gitlab-org/gitlab-test",
		"severity":   "critical",
		"timestamp":  "2016-08-12T15:26:29Z",
		"component":  "master",
		"group":      "gitlab-org/gitlab-test",
		"class":      "failed",
		"client":     "alertflow",
		"client_url": "http://192.168.64.1:3005/gitlab-org/gitlab-test",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	wantDetails := map[string]any{
		"alert_id":        "1-master",
		"severity":        "HIGH",
		"ref":             "master",
		"tag":             false,
		"pipeline_id":     float64(31),
		"pipeline_status": "failed",
		"failed_jobs":     []any{"test-build (test)", "lint (test)"},
		"commit_title":    "Add the pipeline badge",
		"commit_url":      "http://example.com/gitlab-org/gitlab-test/commit/bcbb5ec396a2c0f828686f14fac9b80b780504f2",
		"opened_by":       "Administrator",
		"actor":           "Administrator",
	}
	if fmt.Sprint(p.CustomDetails) != fmt.Sprint(wantDetails) {
		t.Errorf("custom_details = %v\nwant %v", p.CustomDetails, wantDetails)
	}
	wantLinks := []pagerdutytest.Link{
		{Href: "http://example.com/gitlab-org/gitlab-test/-/pipelines/31", Text: "Pipeline #31"},
		{Href: "http://example.com/gitlab-org/gitlab-test/commit/bcbb5ec396a2c0f828686f14fac9b80b780504f2", Text: "Commit bcbb5ec3"},
	}
	if !slices.Equal(ev.Links, wantLinks) {
		t.Errorf("links = %+v, want %+v", ev.Links, wantLinks)
	}
}

func TestNotifierTriggerNamesTheMergeRequestAndWhoActed(t *testing.T) {
	n := notifytest.Notification(notify.KindOpened)
	n.Alert.MergeRequest = &alert.MergeRequest{IID: 12, Title: "Speed up the tests", URL: "http://example.com/gitlab-org/gitlab-test/-/merge_requests/12"}
	n.Alert.Tag = true
	n.Note = "from the release job"
	ev := send(t, n)[0]
	d := ev.Payload.CustomDetails
	if d["merge_request"] != "!12 Speed up the tests" || d["tag"] != true || d["note"] != "from the release job" {
		t.Errorf("custom_details = %v, want the merge request, tag true and the note", d)
	}
	last := ev.Links[len(ev.Links)-1]
	if last != (pagerdutytest.Link{Href: n.Alert.MergeRequest.URL, Text: "Merge request !12"}) {
		t.Errorf("last link = %+v, want the merge request", last)
	}
}

func TestNotifierSeverityChangeRetriggersTheSameAlertAtItsNewSeverity(t *testing.T) {
	opened := send(t, notifytest.Notification(notify.KindOpened))[0]
	changed := send(t, notifytest.Notification(notify.KindSeverityChanged))[0]
	if changed.DedupKey != opened.DedupKey {
		t.Errorf("dedup_key %q after the change, %q before: PagerDuty would open a second alert", changed.DedupKey, opened.DedupKey)
	}
	p := changed.Payload
	if p.Severity != "warning" || p.Class != "canceled" || p.Timestamp != "2016-08-12T16:02:00Z" ||
		p.CustomDetails["previous_severity"] != "HIGH" {
		t.Errorf("payload = %+v, want warning, canceled, the newer pipeline's time and previous severity HIGH", p)
	}
}

func TestSeverityMapsAlertSeveritiesToPagerDutys(t *testing.T) {
	tests := []struct {
		in   alert.Severity
		want string
	}{
		{alert.SeverityHigh, "critical"},
		{alert.SeverityMedium, "warning"},
		{alert.SeverityLow, "info"},
		{alert.SeverityNone, "error"},
		{"URGENT", "error"},
	}
	for _, tt := range tests {
		if got := pagerduty.Severity(tt.in); got != tt.want {
			t.Errorf("Severity(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNotifierCutsALongSummaryOnARuneBoundary(t *testing.T) {
	n := notifytest.Notification(notify.KindOpened)
	n.Title = strings.Repeat("ü", 700) // 1400 bytes
	p := send(t, n)[0].Payload
	if len(p.Summary) > pagerduty.MaxSummary || !utf8.ValidString(p.Summary) || !strings.HasSuffix(p.Summary, "…") {
		t.Errorf("summary of %d bytes (valid UTF-8: %v) ending %q, want at most %d, valid and marked as cut",
			len(p.Summary), utf8.ValidString(p.Summary), p.Summary[len(p.Summary)-4:], pagerduty.MaxSummary)
	}
	n.Title = strings.Repeat("x", pagerduty.MaxSummary)
	if got := send(t, n)[0].Payload.Summary; got != n.Title {
		t.Errorf("a summary of exactly %d bytes was changed to %d bytes", pagerduty.MaxSummary, len(got))
	}
}

func TestDedupKeyShortensLongIDsStablyAndDistinctly(t *testing.T) {
	exact := "1-" + strings.Repeat("a", pagerduty.MaxDedupKey-2)
	if got := pagerduty.DedupKey(exact); got != exact {
		t.Errorf("an ID of %d bytes became %q", len(exact), got)
	}
	long := "1-" + strings.Repeat("a", 400)
	other := "1-" + strings.Repeat("a", 399) + "b"
	k := pagerduty.DedupKey(long)
	if len(k) != pagerduty.MaxDedupKey || !strings.HasPrefix(k, "1-aaaa") {
		t.Errorf("DedupKey of %d bytes = %q (%d bytes), want %d bytes that start like the ID", len(long), k, len(k), pagerduty.MaxDedupKey)
	}
	if pagerduty.DedupKey(long) != k {
		t.Error("DedupKey is not stable")
	}
	if pagerduty.DedupKey(other) == k {
		t.Errorf("two IDs that differ only past the cut share the key %q", k)
	}
	// 256 bytes is one too many.
	if got := pagerduty.DedupKey(exact + "a"); len(got) != pagerduty.MaxDedupKey || got == exact {
		t.Errorf("an ID of %d bytes gave a key of %d bytes", len(exact)+1, len(got))
	}

	// Through the wire: a long ref is accepted, with the same key for
	// every kind.
	ref := strings.Repeat("feature/", 40)
	var keys []string
	for _, kind := range []notify.Kind{notify.KindOpened, notify.KindAcknowledged, notify.KindResolved} {
		n := notifytest.Notification(kind)
		n.Alert.Ref, n.Alert.ID = ref, alert.ID(1, ref)
		keys = append(keys, send(t, n)[0].DedupKey)
	}
	if keys[0] != pagerduty.DedupKey(alert.ID(1, ref)) || keys[1] != keys[0] || keys[2] != keys[0] {
		t.Errorf("dedup keys %q, want one shortened key for all three", keys)
	}
}

// answering is a PagerDuty stand-in that answers every request with
// status, header and body.
func answering(t *testing.T, status int, header http.Header, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		maps.Copy(w.Header(), header)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v2/enqueue"
}

func TestNotifierClassifiesPagerDutysAnswers(t *testing.T) {
	const invalid = `{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'dedup_key' is incorrect (should be less than 256 characters)"]}`
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing listens there any more
	tests := []struct {
		name      string
		url       string
		wantNil   bool
		permanent bool
		after     time.Duration
		says      string
	}{
		{name: "202 is delivered", url: answering(t, 202, nil, `{"status":"success","message":"Event processed","dedup_key":"1-master"}`), wantNil: true},
		{name: "200 is delivered", url: answering(t, 200, nil, ""), wantNil: true},
		{name: "400 is permanent and says why", url: answering(t, 400, nil, invalid), permanent: true, says: "Length of 'dedup_key' is incorrect"},
		{name: "429 with Retry-After waits that long", url: answering(t, 429, http.Header{"Retry-After": {"7"}}, `{"status":"throttle exceeded"}`), after: 7 * time.Second, says: "429"},
		{name: "429 without Retry-After is left to the retry policy", url: answering(t, 429, nil, `{"status":"throttle exceeded"}`), says: "429"},
		{name: "500 is retried", url: answering(t, 500, nil, "oops"), says: "500"},
		{name: "503 is retried", url: answering(t, 503, nil, ""), says: "503"},
		{name: "401 is permanent", url: answering(t, 401, nil, ""), permanent: true, says: "401"},
		{name: "403 is permanent", url: answering(t, 403, nil, ""), permanent: true, says: "403"},
		{name: "404 is permanent", url: answering(t, 404, nil, ""), permanent: true, says: "404"},
		{name: "413 is permanent", url: answering(t, 413, nil, ""), permanent: true, says: "413"},
		{name: "a network error is retried", url: closed.URL + "/v2/enqueue", says: "POST http://[redacted]: dial: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pagerduty.New(tt.url, routingKey, nil).Notify(t.Context(), notifytest.Notification(notify.KindOpened))
			if tt.wantNil {
				if err != nil {
					t.Fatalf("Notify = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Notify = nil, want an error")
			}
			permanent, after := deliveryOf(err)
			if permanent != tt.permanent || after != tt.after {
				t.Errorf("Notify = %v: permanent %v after %s, want %v %s", err, permanent, after, tt.permanent, tt.after)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.says) || !strings.Contains(msg, "PagerDuty trigger") || !strings.Contains(msg, "5f0c6ad0") {
				t.Errorf("message %q should say %q, the event and the notification", msg, tt.says)
			}
			if strings.Contains(msg, routingKey) {
				t.Errorf("message %q quotes the routing key", msg)
			}
		})
	}
}

func TestNotifierNeverShowsTheRoutingKey(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"status":"invalid event","message":"bad key in %s"}`, b.String())
	}))
	t.Cleanup(echo.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name string
		url  string
	}{
		{"PagerDuty or a proxy echoes the event", echo.URL + "/v2/enqueue"},
		{"a URL that does not parse, with the key in it", "http://[::1" + routingKey + "/v2/enqueue"},
		{"a url.Error of an unreachable URL with the key in its query", closed.URL + "/v2/enqueue?routing_key=" + routingKey},
		{"a url.Error of an unreachable URL with the key in its path", closed.URL + "/v2/" + routingKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pagerduty.New(tt.url, routingKey, nil).Notify(t.Context(), notifytest.Notification(notify.KindOpened))
			if err == nil {
				t.Fatal("Notify = nil, want an error")
			}
			for e := err; e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), routingKey[:12]) {
					t.Errorf("an error in the chain quotes the routing key: %q", e)
				}
			}
		})
	}

	p := pagerduty.New(echo.URL+"/v2/enqueue", routingKey, nil)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("receiver", "notifier", p)
	for _, shown := range []string{fmt.Sprint(p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p), logged.String()} {
		if strings.Contains(shown, routingKey) || strings.Contains(shown, "127.0.0.1") || !strings.Contains(shown, "pagerduty http://[redacted]") {
			t.Errorf("the notifier shows as %q, want its endpoint's scheme and neither its host nor its key", shown)
		}
	}
}

func TestNotifierWithoutRoutingKeyFailsPermanently(t *testing.T) {
	fake := pagerdutytest.New(t)
	err := pagerduty.New(fake.URL(), "", nil).Notify(t.Context(), notifytest.Notification(notify.KindOpened))
	if de, ok := errors.AsType[*notify.DeliveryError](err); !ok || !de.Permanent || !strings.Contains(err.Error(), "no routing key") {
		t.Errorf("Notify = %v, want a permanent error saying there is no routing key", err)
	}
	if fake.Requests() != 0 {
		t.Errorf("the fake got %d request(s), want none", fake.Requests())
	}
}

// postedTo answers every request 202 and says where the last one went.
type postedTo struct{ url string }

func (p *postedTo) RoundTrip(r *http.Request) (*http.Response, error) {
	p.url = r.URL.String()
	return &http.Response{StatusCode: http.StatusAccepted, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

func TestNewDefaultsToPagerDutysUSEndpoint(t *testing.T) {
	rt := &postedTo{}
	if err := pagerduty.New("", routingKey, &http.Client{Transport: rt}).Notify(t.Context(), notifytest.Notification(notify.KindOpened)); err != nil {
		t.Fatal(err)
	}
	if rt.url != pagerduty.DefaultURL || pagerduty.DefaultURL != "https://events.pagerduty.com/v2/enqueue" {
		t.Errorf("New with no URL posts to %q, want https://events.pagerduty.com/v2/enqueue", rt.url)
	}
}

func TestNotifierRetriesAThrottledEventAsPagerDutyAsks(t *testing.T) {
	fake := pagerdutytest.New(t, pagerdutytest.RateLimitOnce(1, "3"))
	p := pagerduty.New(fake.URL(), routingKey, fake.Client())
	n := notifytest.Notification(notify.KindOpened)

	err := p.Notify(t.Context(), n)
	de, ok := errors.AsType[*notify.DeliveryError](err)
	if !ok || de.Permanent || de.After != 3*time.Second {
		t.Fatalf("first Notify = %v, want a retry after 3s", err)
	}
	if err := p.Notify(t.Context(), n); err != nil {
		t.Fatalf("second Notify = %v, want it delivered", err)
	}
	if events := fake.Events(); len(events) != 1 || fake.Throttled() != 1 || fake.Requests() != 2 {
		t.Errorf("accepted %d, throttled %d of %d requests; want 1, 1 of 2", len(events), fake.Throttled(), fake.Requests())
	}
}

// The trigger in testdata is the example docs/notifications.md shows; this
// keeps the two from drifting apart. Regenerate with ALERTFLOW_UPDATE_GOLDEN=1
// after a deliberate change, and paste it into the docs.
func TestTriggerMatchesTheDocumentedExample(t *testing.T) {
	ev, ok := pagerduty.NewEvent(notifytest.Notification(notify.KindOpened))
	if !ok {
		t.Fatal("NewEvent sent nothing for opened")
	}
	ev.RoutingKey = "ROUTING_KEY"
	got, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "trigger.json")
	notifytest.MatchGolden(t, "trigger", got, golden)
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "notifications.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte("```json\n"+string(got)+"```\n")) {
		t.Errorf("docs/notifications.md does not show %s as a json block", golden)
	}
}

func TestNotifierTriggerFallsBackWhenGitLabSentLess(t *testing.T) {
	n := notifytest.Notification(notify.KindOpened)
	n.Alert.Project.Path = ""
	n.Alert.Pipeline.FinishedAt = time.Time{}
	p := send(t, n)[0].Payload
	if p.Source != "http://192.168.64.1:3005/gitlab-org/gitlab-test" || p.Timestamp != "2016-08-12T15:26:29Z" || p.Group != "" {
		t.Errorf("source %q timestamp %q group %q, want the project URL, the opening time and no group", p.Source, p.Timestamp, p.Group)
	}
	n.Alert.Project.URL = ""
	if got := send(t, n)[0].Payload.Source; got != "project 1" {
		t.Errorf("source without path or URL = %q, want project 1", got)
	}
}

func TestAFailedPagerDutyDeliveryNamesNeitherTheEndpointsHostNorItsPathNorTheKey(t *testing.T) {
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
			err := pagerduty.New(tt.receiver.Base+"/v2/enqueue/pathsecret?token=querysecret", routingKey, nil).Notify(t.Context(), notifytest.Notification(notify.KindOpened))
			tt.receiver.AssertNoLeak(t, err, routingKey[:12], "pathsecret", "querysecret", "/v2/enqueue")
			if msg := err.Error(); !strings.Contains(msg, "send PagerDuty trigger") || !strings.Contains(msg, "POST http://[redacted]: ") || !strings.Contains(msg, tt.says) {
				t.Errorf("error %q should name PagerDuty, its scheme only, and say %q", msg, tt.says)
			}
		})
	}
}

// deliveryOf says how a notifier's error is classified: final, or to be
// retried after a receiver's delay (zero: the retry policy's).
func deliveryOf(err error) (permanent bool, after time.Duration) {
	de, ok := errors.AsType[*notify.DeliveryError](err)
	if !ok {
		return false, 0
	}
	return de.Permanent, de.After
}
