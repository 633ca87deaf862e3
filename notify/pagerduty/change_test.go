package pagerduty_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
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

// success is the example pipeline #31, green.
func success() alert.Event {
	ev := notifytest.Event()
	ev.Pipeline.Status = alert.PipelineSuccess
	ev.Pipeline.FailedJobs = nil
	ev.Commit.Author = "Jane Doe"
	return ev
}

// sendChange delivers the change event of ev to a fresh fake, through the
// change URL New derives from the fake's events URL, and returns what the
// fake accepted.
func sendChange(t *testing.T, ev alert.Event) []pagerdutytest.ChangeEvent {
	t.Helper()
	fake := pagerdutytest.New(t)
	if err := pagerduty.New(fake.URL(), routingKey, nil).NotifyChange(t.Context(), ev); err != nil {
		t.Fatalf("NotifyChange: %v", err)
	}
	if len(fake.Events()) != 0 {
		t.Errorf("a change event reached the alert events endpoint")
	}
	return fake.Changes()
}

func TestNotifyChangeCarriesThePipeline(t *testing.T) {
	got := sendChange(t, success())
	if len(got) != 1 || got[0].Payload == nil {
		t.Fatalf("accepted %+v, want one change event with a payload", got)
	}
	ce := got[0]
	if ce.RoutingKey != routingKey {
		t.Errorf("routing_key %q", ce.RoutingKey)
	}
	p := ce.Payload
	if want := "Pipeline #31 succeeded on gitlab-org/gitlab-test@master: Add the pipeline badge"; p.Summary != want {
		t.Errorf("summary %q, want %q", p.Summary, want)
	}
	if p.Source != "gitlab-org/gitlab-test" || p.Timestamp != "2016-08-12T15:26:29Z" {
		t.Errorf("source %q timestamp %q", p.Source, p.Timestamp)
	}
	wantDetails := map[string]any{
		"ref":           "master",
		"pipeline_id":   float64(31),
		"pipeline_url":  "http://example.com/gitlab-org/gitlab-test/-/pipelines/31",
		"sha":           "bcbb5ec396a2c0f828686f14fac9b80b780504f2",
		"commit_title":  "Add the pipeline badge",
		"commit_author": "Jane Doe",
		"user":          "Administrator",
	}
	if fmt.Sprint(p.CustomDetails) != fmt.Sprint(wantDetails) {
		t.Errorf("custom_details = %v\nwant %v", p.CustomDetails, wantDetails)
	}
	wantLinks := []pagerdutytest.Link{
		{Href: "http://example.com/gitlab-org/gitlab-test/-/pipelines/31", Text: "Pipeline #31"},
		{Href: "http://example.com/gitlab-org/gitlab-test/commit/bcbb5ec396a2c0f828686f14fac9b80b780504f2", Text: "Commit bcbb5ec3"},
	}
	if !slices.Equal(ce.Links, wantLinks) {
		t.Errorf("links = %+v, want %+v", ce.Links, wantLinks)
	}
	for _, absent := range []string{`"event_action"`, `"dedup_key"`, `"severity"`} {
		if bytes.Contains(ce.Raw, []byte(absent)) {
			t.Errorf("the change event carries %s, which is for alert events: %s", absent, ce.Raw)
		}
	}
}

func TestNewChangeEventFallsBackWhenGitLabSentLess(t *testing.T) {
	ev := success()
	ev.Project.Path = ""
	ev.Pipeline.FinishedAt = time.Time{}
	ev.ReceivedAt = time.Date(2016, 8, 12, 15, 27, 0, 0, time.FixedZone("CEST", 2*3600))
	ev.Commit = alert.Commit{URL: "javascript:alert(1)"}
	ev.Pipeline.URL = "ftp://example.com/p/31"
	ev.User = ""
	ce := pagerduty.NewChangeEvent(ev)
	p := ce.Payload
	if p.Summary != "Pipeline #31 succeeded on project 1@master" || p.Source != "project 1" {
		t.Errorf("summary %q source %q, want the project by its ID and no commit title", p.Summary, p.Source)
	}
	if p.Timestamp != "2016-08-12T13:27:00Z" {
		t.Errorf("timestamp %q, want when the intake received it, in UTC", p.Timestamp)
	}
	if len(ce.Links) != 0 || p.CustomDetails.PipelineURL != "" {
		t.Errorf("links %+v, pipeline_url %q: want only http(s) URLs, so none", ce.Links, p.CustomDetails.PipelineURL)
	}
	ev.ReceivedAt = time.Time{}
	if got := pagerduty.NewChangeEvent(ev).Payload.Timestamp; got != "" {
		t.Errorf("timestamp %q with neither time known, want none", got)
	}
}

func TestNewChangeEventCutsALongSummaryOnARuneBoundary(t *testing.T) {
	ev := success()
	ev.Commit.Title = strings.Repeat("é", 2000)
	s := pagerduty.NewChangeEvent(ev).Payload.Summary
	if len(s) > pagerduty.MaxSummary || !utf8.ValidString(s) || !strings.HasSuffix(s, "…") {
		t.Errorf("summary of %d bytes, valid %v: %q", len(s), utf8.ValidString(s), s[len(s)-10:])
	}
	if got := sendChange(t, ev); len(got) != 1 {
		t.Errorf("the fake accepted %d, want the cut summary accepted", len(got))
	}
}

func TestNotifyChangePostsToTheChangeEndpointOfEachRegion(t *testing.T) {
	for events, changes := range map[string]string{
		"":                   pagerduty.DefaultChangeURL,
		pagerduty.DefaultURL: "https://events.pagerduty.com/v2/change/enqueue",
		"https://events.eu.pagerduty.com/v2/enqueue": "https://events.eu.pagerduty.com/v2/change/enqueue",
	} {
		rt := &postedTo{}
		if err := pagerduty.New(events, routingKey, &http.Client{Transport: rt}).NotifyChange(t.Context(), success()); err != nil {
			t.Fatal(err)
		}
		if rt.url != changes {
			t.Errorf("events URL %q: change event posted to %q, want %q", events, rt.url, changes)
		}
	}
	rt := &postedTo{}
	p := pagerduty.New("https://proxy.example.com/pd", routingKey, &http.Client{Transport: rt}).WithChangeURL("https://proxy.example.com/pd-changes")
	if err := p.NotifyChange(t.Context(), success()); err != nil || rt.url != "https://proxy.example.com/pd-changes" {
		t.Errorf("NotifyChange = %v, posted to %q; want the change URL given", err, rt.url)
	}
}

func TestNotifyChangeWithoutAChangeURLOrKeyFailsPermanently(t *testing.T) {
	fake := pagerdutytest.New(t)
	tests := []struct {
		name string
		p    *pagerduty.Notifier
		says string
	}{
		{"an events URL nothing derives from", pagerduty.New(strings.TrimSuffix(fake.URL(), "/v2/enqueue")+"/events", routingKey, nil), "no change events URL"},
		{"no routing key", pagerduty.New(fake.URL(), "", nil), "no routing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.NotifyChange(t.Context(), success())
			if de, ok := errors.AsType[*notify.DeliveryError](err); !ok || !de.Permanent || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("NotifyChange = %v, want a permanent error saying %q", err, tt.says)
			}
		})
	}
	if fake.Requests() != 0 {
		t.Errorf("the fake got %d request(s), want none", fake.Requests())
	}
}

func TestNotifyChangeClassifiesAnswersAsNotifyDoes(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name      string
		url       string
		wantNil   bool
		permanent bool
		after     time.Duration
		says      string
	}{
		{name: "202 is delivered", url: answering(t, 202, nil, `{"status":"success","message":"Change event processed"}`), wantNil: true},
		{name: "400 is permanent and says why", url: answering(t, 400, nil, `{"status":"invalid event","errors":["'payload.summary' is missing or blank"]}`), permanent: true, says: "'payload.summary' is missing"},
		{name: "429 with Retry-After waits that long", url: answering(t, 429, http.Header{"Retry-After": {"7"}}, `{"status":"throttle exceeded"}`), after: 7 * time.Second, says: "429"},
		{name: "429 without Retry-After is left to the retry policy", url: answering(t, 429, nil, ""), says: "429"},
		{name: "500 is retried", url: answering(t, 500, nil, "oops"), says: "500"},
		{name: "502 is retried", url: answering(t, 502, nil, ""), says: "502"},
		{name: "403 is permanent", url: answering(t, 403, nil, ""), permanent: true, says: "403"},
		{name: "404 is permanent", url: answering(t, 404, nil, ""), permanent: true, says: "404"},
		{name: "a network error is retried", url: closed.URL + "/v2/enqueue", says: "dial: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// answering serves every path: the change URL derives from it.
			err := pagerduty.New(tt.url, routingKey, nil).NotifyChange(t.Context(), success())
			if tt.wantNil {
				if err != nil {
					t.Fatalf("NotifyChange = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("NotifyChange = nil, want an error")
			}
			permanent, after := deliveryOf(err)
			if permanent != tt.permanent || after != tt.after {
				t.Errorf("NotifyChange = %v: permanent %v after %s, want %v %s", err, permanent, after, tt.permanent, tt.after)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.says) || !strings.Contains(msg, "PagerDuty change event for pipeline 31 of 1-master") {
				t.Errorf("message %q should say %q, and name the change event", msg, tt.says)
			}
		})
	}
}

func TestNotifyChangeRetriesAThrottledEventAsPagerDutyAsks(t *testing.T) {
	fake := pagerdutytest.New(t, pagerdutytest.RateLimitOnce(1, "3"))
	p := pagerduty.New(fake.URL(), routingKey, fake.Client())
	err := p.NotifyChange(t.Context(), success())
	if de, ok := errors.AsType[*notify.DeliveryError](err); !ok || de.Permanent || de.After != 3*time.Second {
		t.Fatalf("first NotifyChange = %v, want a retry after 3s", err)
	}
	if err := p.NotifyChange(t.Context(), success()); err != nil {
		t.Fatalf("second NotifyChange = %v, want it delivered", err)
	}
	if got := fake.Changes(); len(got) != 1 || fake.Throttled() != 1 {
		t.Errorf("accepted %d, throttled %d; want 1 and 1", len(got), fake.Throttled())
	}
}

func TestAFailedChangeEventNamesNeitherTheEndpointNorTheKey(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"status":"invalid event","message":"bad key in %s"}`, b.String())
	}))
	t.Cleanup(echo.Close)
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
			p := pagerduty.New(tt.receiver.Base+"/v2/enqueue", routingKey, nil).
				WithChangeURL(tt.receiver.Base + "/v2/change/enqueue/pathsecret?token=querysecret")
			err := p.NotifyChange(t.Context(), success())
			tt.receiver.AssertNoLeak(t, err, routingKey[:12], "pathsecret", "querysecret", "/v2/change/enqueue")
			if msg := err.Error(); !strings.Contains(msg, "send PagerDuty change event") || !strings.Contains(msg, "POST http://[redacted]: ") || !strings.Contains(msg, tt.says) {
				t.Errorf("error %q should name the change event, the scheme only, and say %q", msg, tt.says)
			}
		})
	}
	t.Run("PagerDuty or a proxy echoes the event", func(t *testing.T) {
		err := pagerduty.New(echo.URL+"/v2/enqueue", routingKey, nil).NotifyChange(t.Context(), success())
		if err == nil {
			t.Fatal("NotifyChange = nil, want an error")
		}
		for e := err; e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), routingKey[:12]) {
				t.Errorf("an error in the chain quotes the routing key: %q", e)
			}
		}
	})
	p := pagerduty.New(echo.URL+"/v2/enqueue", routingKey, nil).WithChangeURL(echo.URL + "/changes")
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("receiver", "notifier", p)
	for _, shown := range []string{fmt.Sprint(p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p), logged.String()} {
		if strings.Contains(shown, routingKey) || strings.Contains(shown, "127.0.0.1") || strings.Contains(shown, "changes") {
			t.Errorf("the notifier shows as %q, want neither its hosts nor its paths nor its key", shown)
		}
	}
}
