package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The secrets of the receiver URLs below, as a leak would show them.
var urlSecrets = []string{"pathsecret", "querysecret", "usersecret", "passsecret", "T0001", "B0002", "/hooks/", "/services/"}

func assertRedacted(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range urlSecrets {
		if strings.Contains(text, s) {
			t.Errorf("%s %q gives away %q", what, text, s)
		}
	}
}

func TestRedactorHidesEveryFormOfTheURLsSecrets(t *testing.T) {
	const raw = "https://usersecret:passsecret@hooks.example.com/services/T0001/B0002/pathsecret?token=querysecret&b=s%2Fl+ash"
	r := newRedactor(raw)
	tests := []struct{ name, in string }{
		{"the whole URL", "proxy refused " + raw},
		{"the URL as net/url prints it", "bad gateway for " + mustParse(t, raw).String()},
		{"the request URI, as a receiver sees it", "no route for /services/T0001/B0002/pathsecret?token=querysecret&b=s%2Fl+ash"},
		{"the path alone", "unknown hook /services/T0001/B0002/pathsecret"},
		{"the path in JSON with escaped slashes", `{"error":"no hook","path":"\/services\/T0001\/B0002\/pathsecret"}`},
		{"a query value alone", `{"error":"invalid token querysecret"}`},
		{"the query as a receiver decodes it", "query: token=querysecret&b=s/l ash"},
		{"the user info", "user usersecret:passsecret denied"},
		{"the user name and password apart", "user usersecret, password passsecret"},
		{"the host and path of an absolute URL", "GET hooks.example.com/services/T0001/B0002/pathsecret failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.text(tt.in)
			assertRedacted(t, "redacted text", got)
			if !strings.Contains(got, redactedText) {
				t.Errorf("redacted text %q does not say it was redacted", got)
			}
		})
	}
	// What is not secret stays readable.
	if got := r.text(`{"ok":false,"error":"invalid_payload"}`); got != `{"ok":false,"error":"invalid_payload"}` {
		t.Errorf("an answer without secrets became %q", got)
	}
	if got := newRedactor("https://hooks.example.com/").text("path / of https://hooks.example.com"); !strings.Contains(got, "path / of") {
		t.Errorf("a URL without path redacted its slashes: %q", got)
	}
}

func TestRedactorDropsASecretCutByTheReadLimit(t *testing.T) {
	r := newRedactor("http://h.example/hooks/T0001/B0002/pathsecret")
	body := []byte("no route for /hooks/T0001/B0002/pathsec")
	got := string(r.body(body, true))
	if got != "no route for " {
		t.Errorf("body cut in the middle of the path = %q, want what comes before it", got)
	}
	if got := string(r.body([]byte("answer ends with path"), false)); got != "answer ends with path" {
		t.Errorf("an uncut body was trimmed to %q", got)
	}
}

func TestRedactorKeepsTimeoutsRecognisable(t *testing.T) {
	r := newRedactor("http://h.example/hooks/pathsecret")
	clean := fmt.Errorf("dial: %w", context.DeadlineExceeded)
	if got := r.err(clean); got != clean {
		t.Errorf("an error without secrets was replaced: %v", got)
	}
	leaky := fmt.Errorf("waiting for /hooks/pathsecret: %w", context.DeadlineExceeded)
	got := r.err(leaky)
	assertRedacted(t, "error", got.Error())
	for e := got; e != nil; e = errors.Unwrap(e) {
		assertRedacted(t, "error in the chain", e.Error())
	}
	if !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("the redacted timeout %v is no longer a timeout", got)
	}
	// A secret deep in the chain, even one the top message leaves out,
	// replaces the whole chain.
	hidden := &wrapped{msg: "failed", err: errors.New("at /hooks/pathsecret")}
	if got := r.err(hidden); errors.Unwrap(got) != nil {
		t.Errorf("the chain of %v still holds the error that names the path", got)
	}
}

type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// echoPath is the secret path and query of the echoing receivers below.
const echoPath = "/hooks/T0001/B0002/pathsecret?token=querysecret"

// An answer that echoes the request URL, as receivers and the proxies in
// front of them do in their error pages.
func TestPostRedactsTheURLFromAnAnswerThatEchoesIt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, "no route for POST %s (http://%s%s), path %q, token %s",
			r.RequestURI, r.Host, r.URL.RequestURI(), r.URL.Path, r.URL.Query().Get("token"))
	}))
	t.Cleanup(srv.Close)
	err := Post(t.Context(), DefaultHTTPClient(), srv.URL+echoPath, nil, nil)
	he, ok := errors.AsType[*HTTPError](err)
	if !ok || he.StatusCode != http.StatusNotFound {
		t.Fatalf("Post = %v, want the receiver's 404", err)
	}
	if !strings.Contains(he.Body, "no route for POST "+redactedText) {
		t.Errorf("body %q lost what was not secret", he.Body)
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		assertRedacted(t, "error", e.Error())
	}
}

// A receiver that answers garbage makes net/http quote the garbage in its
// error: a URL echoed there is redacted too.
func TestPostRedactsTheURLFromATransportErrorThatQuotesTheAnswer(t *testing.T) {
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
			// Not an HTTP status line: net/http quotes it.
			fmt.Fprintf(c, "%s\r\n\r\n", echoPath)
			c.Close()
		}
	}()
	rawURL := "http://" + l.Addr().String() + echoPath
	err = Post(t.Context(), DefaultHTTPClient(), rawURL, nil, nil)
	if err == nil {
		t.Fatal("Post succeeded against a receiver that answers garbage")
	}
	if !strings.Contains(err.Error(), "malformed HTTP") || !strings.Contains(err.Error(), redactedText) {
		t.Errorf("error %q is not net/http's quote of the answer, redacted", err)
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		assertRedacted(t, "error", e.Error())
	}
	if de, ok := errors.AsType[*DeliveryError](err); ok && de.Permanent {
		t.Errorf("a broken answer must be retried: %v", err)
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
