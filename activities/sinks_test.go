package activities_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/internal/testkit"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/notifytest"
	"github.com/alertflow/alertflow/notify/slack"
	"github.com/alertflow/alertflow/notify/webhook"
)

// fakeNotifier answers every Notify with err and counts the calls.
type fakeNotifier struct {
	err error

	mu    sync.Mutex
	calls []notify.Notification
}

func (f *fakeNotifier) Notify(_ context.Context, n notify.Notification) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, n)
	return f.err
}

func (f *fakeNotifier) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// logger writes JSON without timestamps, so two loggers' output compares.
func logger(w *testkit.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// run executes one Sinks activity for real in the SDK's activity test
// environment, with only the Sinks registered.
func run(t *testing.T, sinks *activities.Sinks, activity func(context.Context, notify.Notification) error, n notify.Notification) error {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(sinks)
	_, err := env.ExecuteActivity(activity, n)
	return err
}

func TestActivityNamesAreTheRegisteredNames(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(activities.NewSinks(nil, nil, nil))
	n := notifytest.Notification(notify.KindOpened)
	for _, name := range []string{activities.ActivityNotifyLog, activities.ActivityNotifyWebhook, activities.ActivityNotifySlack} {
		if _, err := env.ExecuteActivity(name, n); err != nil {
			t.Errorf("activity %q: %v", name, err)
		}
	}
}

func TestAnUnconfiguredSinkSucceedsWithoutCallingAnything(t *testing.T) {
	other := &fakeNotifier{err: errors.New("must not be called")}
	tests := []struct {
		name  string
		sinks *activities.Sinks
		call  func(*activities.Sinks) func(context.Context, notify.Notification) error
	}{
		{"webhook unset", activities.NewSinks(nil, nil, other), func(s *activities.Sinks) func(context.Context, notify.Notification) error { return s.NotifyWebhook }},
		{"slack unset", activities.NewSinks(nil, other, nil), func(s *activities.Sinks) func(context.Context, notify.Notification) error { return s.NotifySlack }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := run(t, tt.sinks, tt.call(tt.sinks), notifytest.Notification(notify.KindOpened)); err != nil {
				t.Errorf("unconfigured sink: %v", err)
			}
		})
	}
	if other.count() != 0 {
		t.Errorf("the configured sink was called %d times by the other sink's activity", other.count())
	}
}

func TestEachSinkActivityCallsOnlyItsOwnNotifier(t *testing.T) {
	hook, sl := &fakeNotifier{}, &fakeNotifier{}
	sinks := activities.NewSinks(nil, hook, sl)
	n := notifytest.Notification(notify.KindOpened)
	if err := run(t, sinks, sinks.NotifyWebhook, n); err != nil {
		t.Fatal(err)
	}
	if hook.count() != 1 || sl.count() != 0 {
		t.Errorf("after NotifyWebhook: webhook %d calls, slack %d, want 1 and 0", hook.count(), sl.count())
	}
	if err := run(t, sinks, sinks.NotifySlack, n); err != nil {
		t.Fatal(err)
	}
	if hook.count() != 1 || sl.count() != 1 {
		t.Errorf("after NotifySlack: webhook %d calls, slack %d, want 1 and 1", hook.count(), sl.count())
	}
	if got := sl.calls[0]; got.ID != n.ID || got.Kind != n.Kind || got.Alert.ID != n.Alert.ID {
		t.Errorf("slack got %+v, want the notification sent", got)
	}
}

func TestDeliveryErrorsBecomeTheMatchingTemporalErrors(t *testing.T) {
	tests := []struct {
		name         string
		err          error
		nonRetryable bool
		delay        time.Duration
		errType      string
	}{
		{
			name:         "a permanent error stops the retries",
			err:          fmt.Errorf("send: %w", notify.Permanent(errors.New("receiver answered HTTP 400 Bad Request"))),
			nonRetryable: true,
			errType:      activities.ErrTypeRejected,
		},
		{
			name:    "a retry-after sets the next retry's delay",
			err:     fmt.Errorf("send: %w", notify.RetryAfter(errors.New("receiver answered HTTP 429"), 7*time.Second)),
			delay:   7 * time.Second,
			errType: activities.ErrTypeRetryAfter,
		},
		{
			name: "any other error is retried by the policy",
			err:  errors.New("connection refused"),
		},
		{
			name: "a retryable delivery error without a delay is retried by the policy",
			err:  &notify.DeliveryError{Err: errors.New("receiver answered HTTP 500")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs testkit.Buffer
			sinks := activities.NewSinks(logger(&logs), &fakeNotifier{err: tt.err}, nil)
			err := run(t, sinks, sinks.NotifyWebhook, notifytest.Notification(notify.KindOpened))
			appErr, ok := errors.AsType[*temporal.ApplicationError](err)
			if !ok {
				t.Fatalf("error %v is not an ApplicationError", err)
			}
			if appErr.NonRetryable() != tt.nonRetryable || appErr.NextRetryDelay() != tt.delay {
				t.Errorf("non-retryable %v, delay %s; want %v, %s", appErr.NonRetryable(), appErr.NextRetryDelay(), tt.nonRetryable, tt.delay)
			}
			if tt.errType != "" && appErr.Type() != tt.errType {
				t.Errorf("type %q, want %q", appErr.Type(), tt.errType)
			}
			if !strings.Contains(appErr.Error(), tt.err.Error()) {
				t.Errorf("message %q lost the cause %q", appErr.Error(), tt.err)
			}
			out := logs.String()
			for _, want := range []string{
				`"msg":"Notification delivery failed"`, `"sink":"webhook"`,
				`"notification_id":"5f0c6ad0-5b37-5d5c-9a47-2f1f3c0f6b1e"`, `"kind":"opened"`,
				`"alert_id":"1-master"`, `"attempt":1`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("the failure log lacks %s:\n%s", want, out)
				}
			}
		})
	}
}

func TestNotifyLogLogsTheTransition(t *testing.T) {
	for _, kind := range []notify.Kind{notify.KindOpened, notify.KindAcknowledged, notify.KindResolved} {
		t.Run(string(kind), func(t *testing.T) {
			n := notifytest.Notification(kind)
			var out testkit.Buffer
			sinks := activities.NewSinks(logger(&out), nil, nil)
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivity(sinks)
			if _, err := env.ExecuteActivity(sinks.NotifyLog, n); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{n.Title, `"kind":"` + string(kind) + `"`, `"notification_id":"` + n.ID + `"`, `"alert_id":"` + n.Alert.ID + `"`} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("the log lacks %s:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestNotifyLogNamesTheConfiguredRemoteSinks(t *testing.T) {
	hook, slack := &fakeNotifier{}, &fakeNotifier{}
	tests := []struct {
		name  string
		sinks *activities.Sinks
		want  []string
	}{
		{"no remote sink means none to schedule", activities.NewSinks(nil, nil, nil), nil},
		{"a webhook alone is named alone", activities.NewSinks(nil, hook, nil), []string{activities.ActivityNotifyWebhook}},
		{"Slack alone is named alone", activities.NewSinks(nil, nil, slack), []string{activities.ActivityNotifySlack}},
		{"both are named, webhook first", activities.NewSinks(nil, hook, slack), []string{activities.ActivityNotifyWebhook, activities.ActivityNotifySlack}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivity(tt.sinks)
			v, err := env.ExecuteActivity(activities.ActivityNotifyLog, notifytest.Notification(notify.KindOpened))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if err := v.Get(&got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("NotifyLog named %q, want %q", got, tt.want)
			}
			if hook.count() != 0 || slack.count() != 0 {
				t.Error("NotifyLog called a remote sink")
			}
		})
	}
}

// The history and the log are read by more people than the secrets are
// meant for: neither may hold the webhook's URL path, the Slack token path
// or the signing secret, whatever the failure, even when the receiver
// echoes its URL.
func TestNeitherTheHistoryNorTheLogHoldsURLsOrSecrets(t *testing.T) {
	const (
		hookPath  = "/hook/pathsecret?token=querysecret"
		slackPath = "/services/T0/B0/slacktokensecret"
		secret    = "signing-secret"
	)
	// Status 0 is a receiver that is gone: the connection is refused.
	for _, status := range []int{http.StatusBadRequest, http.StatusTooManyRequests, http.StatusInternalServerError, 0} {
		// The receiver echoes the URL it was sent to, as receivers and
		// proxies do in their error pages.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(status)
			fmt.Fprintf(w, "no route for %s (http://%s%s), token %q", r.RequestURI, r.Host, r.URL.Path, r.URL.Query().Get("token"))
		}))
		t.Cleanup(srv.Close)
		what := http.StatusText(status)
		if status == 0 {
			srv.Close()
			what = "refused"
		}
		var logs testkit.Buffer
		sinks := activities.NewSinks(logger(&logs),
			webhook.New(srv.URL+hookPath, secret, nil),
			slack.New(srv.URL+slackPath, nil))
		for name, activity := range map[string]func(context.Context, notify.Notification) error{
			"webhook": sinks.NotifyWebhook,
			"slack":   sinks.NotifySlack,
		} {
			t.Run(name+" "+what, func(t *testing.T) {
				err := run(t, sinks, activity, notifytest.Notification(notify.KindOpened))
				if err == nil {
					t.Fatal("the delivery succeeded against a failing receiver")
				}
				var chain []string
				for e := err; e != nil; e = errors.Unwrap(e) {
					chain = append(chain, e.Error())
				}
				for _, text := range append(chain, logs.String()) {
					for _, leak := range []string{"pathsecret", "querysecret", "slacktokensecret", secret, "/services/", "/hook/"} {
						if strings.Contains(text, leak) {
							t.Errorf("%q gives away %q", text, leak)
						}
					}
				}
				// The receiver is named by its sink, never by its host:
				// a webhook URL's host can be a secret too.
				host := strings.TrimPrefix(srv.URL, "http://")
				if strings.Contains(err.Error(), host) || strings.Contains(logs.String(), host) {
					t.Errorf("error %q or the logs give away the receiver's host %s", err, host)
				}
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name the sink %s", err, name)
				}
				if status != 0 && !strings.Contains(err.Error(), "no route for [redacted]") {
					t.Errorf("error %q does not keep the receiver's answer, redacted", err)
				}
			})
		}
	}
}
