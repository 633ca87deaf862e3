package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCheckStatusClassifiesAnswers(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		status     int
		retryAfter string
		wantNil    bool
		permanent  bool
		after      time.Duration
	}{
		{name: "200 is success", status: 200, wantNil: true},
		{name: "299 is success", status: 299, wantNil: true},
		{name: "500 is retryable", status: 500},
		{name: "599 is retryable", status: 599},
		{name: "408 is retryable", status: 408},
		{name: "429 is retryable", status: 429},
		{name: "429 with Retry-After seconds waits that long", status: 429, retryAfter: "7", after: 7 * time.Second},
		{name: "503 with a Retry-After date waits until then", status: 503, retryAfter: "Fri, 01 May 2026 12:01:30 GMT", after: 90 * time.Second},
		{name: "503 with a Retry-After date in the past retries by the policy", status: 503, retryAfter: "Fri, 01 May 2026 11:00:00 GMT"},
		{name: "429 with a Retry-After of a day waits the cap", status: 429, retryAfter: "86400", after: MaxRetryAfter},
		{name: "400 is permanent", status: 400, permanent: true},
		{name: "401 is permanent", status: 401, permanent: true},
		{name: "404 is permanent", status: 404, permanent: true},
		{name: "410 is permanent", status: 410, permanent: true},
		{name: "422 is permanent", status: 422, permanent: true},
		{name: "an unfollowed 302 is permanent", status: 302, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.retryAfter != "" {
				h.Set("Retry-After", tt.retryAfter)
			}
			err := CheckStatus(tt.status, h, []byte("nope"), now)
			if tt.wantNil {
				if err != nil {
					t.Fatalf("CheckStatus = %v, want nil", err)
				}
				return
			}
			de, ok := errors.AsType[*DeliveryError](err)
			if !ok {
				t.Fatalf("CheckStatus = %v, want a DeliveryError", err)
			}
			if de.Permanent != tt.permanent || de.After != tt.after {
				t.Errorf("permanent %v after %s, want %v %s", de.Permanent, de.After, tt.permanent, tt.after)
			}
			if !strings.Contains(err.Error(), "nope") || !strings.Contains(err.Error(), http.StatusText(tt.status)) {
				t.Errorf("message %q should give the status and the body", err)
			}
		})
	}
}

func TestParseRetryAfterReadsSecondsAndDates(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"7", 7 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"300", MaxRetryAfter, true},
		{"99999999999999999999", 0, false}, // overflows uint64: malformed
		{"18446744073709551615", MaxRetryAfter, true},
		{"Fri, 01 May 2026 12:00:10 GMT", 10 * time.Second, true},
		{"Friday, 01-May-26 12:00:10 GMT", 10 * time.Second, true}, // RFC 850, still allowed
		{"Fri, 01 May 2026 11:59:00 GMT", 0, true},
		{"Sat, 02 May 2026 12:00:00 GMT", MaxRetryAfter, true},
		{"", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, ok := ParseRetryAfter(tt.value, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseRetryAfter(%q) = %s, %v; want %s, %v", tt.value, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestErrorMessagesQuoteOnlyABoundedPrintableSnippet(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"a short answer is kept", "invalid_token", "invalid_token"},
		{"lines and tabs fold to spaces", "line one\r\n\tline\x00two\n", "line one line two"},
		{"invalid UTF-8 is replaced", "bad \xff byte", "bad \uFFFD byte"},
		{"a long answer is cut and marked", strings.Repeat("x", 5000), strings.Repeat("x", maxSnippet) + "…"},
		{"an empty answer says nothing", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := snippet([]byte(tt.body)); got != tt.want {
				t.Errorf("snippet = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDeliveryErrorHelpers(t *testing.T) {
	cause := errors.New("boom")
	if Permanent(nil) != nil || RetryAfter(nil, time.Second) != nil {
		t.Error("wrapping nil must give nil")
	}
	p := Permanent(cause)
	if de, ok := errors.AsType[*DeliveryError](p); !ok || !de.Permanent || !errors.Is(p, cause) {
		t.Errorf("Permanent(cause) = %#v", p)
	}
	for _, tt := range []struct {
		in, want time.Duration
	}{{7 * time.Second, 7 * time.Second}, {time.Hour, MaxRetryAfter}, {-time.Second, 0}} {
		err := RetryAfter(cause, tt.in)
		de, _ := errors.AsType[*DeliveryError](err)
		if de == nil || de.Permanent || de.After != tt.want || !errors.Is(err, cause) {
			t.Errorf("RetryAfter(cause, %s) = %#v, want after %s", tt.in, de, tt.want)
		}
	}
	if got := RetryAfter(cause, 7*time.Second).Error(); got != "boom (receiver asked to retry after 7s)" {
		t.Errorf("message = %q", got)
	}
}

func TestRedactURLKeepsTheSchemeOnly(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://hooks.slack.com/services/T0/B0/secret", "https://[redacted]"},
		{"https://user:pass@example.com:8443/hook?token=x#frag", "https://[redacted]"},
		{"http://127.0.0.1:9/x", "http://[redacted]"},
		{"hooks.slack.com/services/T0/B0/secret", "<invalid URL>"},
		{"http://exa mple.com/secret", "<invalid URL>"},
		{"", "<invalid URL>"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheckURLAcceptsOnlyAbsoluteWebURLsAndNeverQuotesThem(t *testing.T) {
	tests := []struct {
		in     string
		wantOK bool
	}{
		{"https://hooks.slack.com/services/T0/B0/secret", true},
		{"http://127.0.0.1:8080/hook", true},
		{"ftp://example.com/secret", false},
		{"hooks.slack.com/services/secret", false},
		{"https:///secret", false},
		{"http://exa mple.com/secret", false},
	}
	for _, tt := range tests {
		err := CheckURL(tt.in)
		if (err == nil) != tt.wantOK {
			t.Errorf("CheckURL(%q) = %v, want ok %v", tt.in, err, tt.wantOK)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("CheckURL(%q) quotes the URL: %v", tt.in, err)
		}
	}
}

func TestPostDropsTheURLErrorThatQuotesTheWholeURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens there any more

	err := Post(t.Context(), DefaultHTTPClient(), srv.URL+"/hook/secret?token=secret", nil, nil)
	if err == nil {
		t.Fatal("Post to a closed server succeeded")
	}
	if _, ok := errors.AsType[*url.Error](err); ok {
		t.Errorf("the chain of %v still holds a *url.Error", err)
	}
	if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "127.0.0.1") || !strings.HasPrefix(err.Error(), "POST http://[redacted]: ") {
		t.Errorf("error = %q, want it to name the scheme and nothing more of the URL", err)
	}
}

func TestDefaultClientFollowsOnlyBodyKeepingRedirectsOnTheSameHost(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the body was handed to another host: %s %s", r.Method, r.URL)
	}))
	t.Cleanup(other.Close)
	bodies := make(chan string, 4)
	var self *httptest.Server
	self = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/final":
			b, _ := io.ReadAll(r.Body)
			bodies <- r.Method + " " + string(b)
		case "/307-same":
			http.Redirect(w, r, self.URL+"/final", http.StatusTemporaryRedirect)
		case "/308-same":
			http.Redirect(w, r, "/final", http.StatusPermanentRedirect)
		case "/302-same":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/307-other":
			http.Redirect(w, r, other.URL+"/final", http.StatusTemporaryRedirect)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusTemporaryRedirect)
		}
	}))
	t.Cleanup(self.Close)

	tests := []struct {
		path      string
		delivered bool
	}{
		{"/307-same", true},
		{"/308-same", true},
		{"/302-same", false},
		{"/307-other", false},
		{"/loop", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			err := Post(t.Context(), DefaultHTTPClient(), self.URL+tt.path, nil, []byte("hello"))
			if tt.delivered {
				if err != nil {
					t.Fatalf("Post: %v", err)
				}
				select {
				case got := <-bodies:
					if got != "POST hello" {
						t.Errorf("the final URL got %q, want POST hello", got)
					}
				default:
					t.Error("the final URL got nothing")
				}
				return
			}
			de, ok := errors.AsType[*DeliveryError](err)
			if !ok || !de.Permanent {
				t.Errorf("Post = %v, want a permanent error", err)
			}
			if len(bodies) != 0 {
				t.Errorf("the final URL got %q", <-bodies)
			}
		})
	}
}

func TestPostRedactsTheSecretsItIsGivenFromAnEchoedAnswer(t *testing.T) {
	const key = "R0UT1NGK3Y0123456789abcdefABCDEF"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(b) // a proxy that echoes the request
	}))
	t.Cleanup(srv.Close)

	for _, body := range []string{
		`{"routing_key":"` + key + `"}`,
		// Cut by the read limit in the middle of the key; the white
		// space folds away, so the snippet would begin with the cut key.
		strings.Repeat(" ", readLimit-10) + key,
	} {
		err := Post(t.Context(), DefaultHTTPClient(), srv.URL+"/v2/enqueue", nil, []byte(body), key)
		if err == nil {
			t.Fatal("Post to a 400 succeeded")
		}
		if strings.Contains(err.Error(), key[:10]) {
			t.Errorf("error quotes the secret: %q", err)
		}
	}
	err := Post(t.Context(), DefaultHTTPClient(), srv.URL, nil, []byte(`{"routing_key":"`+key+`"}`), key)
	if !strings.Contains(err.Error(), `"routing_key":"[redacted]"`) {
		t.Errorf("error = %q, want the echoed key replaced by [redacted]", err)
	}
}

// A transport failure is told without the receiver's host, the address it
// resolved to, or the names in a certificate: net and net/http quote them.
func TestPostTellsATransportFailureWithoutTheHost(t *testing.T) {
	const secretHost = "tenant-secret.hooks.example.net"
	dnsFails := DefaultHTTPClient()
	dnsFails.Transport.(*http.Transport).DialContext = func(_ context.Context, network, addr string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: secretHost, IsNotFound: true}}
	}
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	_, tlsPort, _ := net.SplitHostPort(tlsSrv.Listener.Addr().String())
	hangsUp := hangingUp(t)
	tests := []struct {
		name, url string
		client    *http.Client
		says      string
		leaks     []string
	}{
		{"a host DNS does not know", "https://" + secretHost + "/hooks/pathsecret", dnsFails,
			"POST https://[redacted]: dial: DNS lookup: no such host", []string{secretHost, "tenant-secret"}},
		{"a certificate for other names", "https://localhost:" + tlsPort + "/hooks/pathsecret", tlsSrv.Client(),
			"TLS: the certificate is not valid for the receiver's host", []string{"localhost", tlsPort, "example.com", "127.0.0.1"}},
		{"a certificate of an unknown authority", "https://127.0.0.1:" + tlsPort + "/hooks/pathsecret", DefaultHTTPClient(),
			"TLS: the certificate is signed by an unknown authority", []string{"127.0.0.1", tlsPort}},
		// A reset instead, when the request was not read whole first.
		{"a receiver that hangs up", hangsUp + "/hooks/pathsecret", DefaultHTTPClient(),
			"the connection closed before the answer|connection reset by peer", []string{strings.TrimPrefix(hangsUp, "http://")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Post(t.Context(), tt.client, tt.url, nil, []byte("{}"))
			if err == nil {
				t.Fatal("Post succeeded")
			}
			if !slices.ContainsFunc(strings.Split(tt.says, "|"), func(says string) bool { return strings.Contains(err.Error(), says) }) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
			for e := err; e != nil; e = errors.Unwrap(e) {
				assertRedacted(t, "error", e.Error())
				for _, leak := range tt.leaks {
					if strings.Contains(e.Error(), leak) {
						t.Errorf("error %q gives away %q", e, leak)
					}
				}
			}
			if de, ok := errors.AsType[*DeliveryError](err); ok && de.Permanent {
				t.Errorf("a transport failure must be retried: %v", err)
			}
		})
	}
}

// hangingUp is the base URL of a server that closes every connection
// without an answer.
func hangingUp(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			c.Close()
		}
	}()
	return "http://" + l.Addr().String()
}

func TestPostRedactsTheHostFromAnAnswerThatEchoesIt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, "upstream %s unreachable", r.Host)
	}))
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	err := Post(t.Context(), DefaultHTTPClient(), srv.URL+"/hook", nil, nil)
	if err == nil || strings.Contains(err.Error(), host) || strings.Contains(err.Error(), port) || !strings.Contains(err.Error(), "upstream [redacted] unreachable") {
		t.Errorf("error %q, want the echoed host redacted", err)
	}
}

func TestPostJSONSendsTheBodyAsJSONAndGivesUpOnWhatCannotBeEncoded(t *testing.T) {
	var got struct {
		contentType, agent string
		body               map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.contentType, got.agent = r.Header.Get("Content-Type"), r.Header.Get("User-Agent")
		_ = json.NewDecoder(r.Body).Decode(&got.body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	if err := PostJSON(context.Background(), srv.Client(), srv.URL, map[string]string{"text": "hi"}); err != nil {
		t.Fatal(err)
	}
	if got.contentType != "application/json" || got.agent != "alertflow" || got.body["text"] != "hi" {
		t.Errorf("the receiver got %+v", got)
	}
	err := PostJSON(context.Background(), srv.Client(), srv.URL, make(chan int))
	if de, ok := errors.AsType[*DeliveryError](err); !ok || !de.Permanent {
		t.Errorf("an unencodable body: %v, want a permanent failure", err)
	}
}
