package notifytest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Receiver is a receiver's address as a test sees it: the base URL
// (scheme, host and port) and the host and port apart, which no error
// may name.
type Receiver struct {
	Base, Host, Port string
}

func receiverAt(t testing.TB, addr string) Receiver {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return Receiver{Base: "http://" + addr, Host: host, Port: port}
}

// Refusing is a receiver whose port nothing listens on: every delivery
// there is refused.
func Refusing(t testing.TB) Receiver {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := receiverAt(t, l.Addr().String())
	l.Close()
	return r
}

// Echoing is a receiver that answers status with an error page quoting
// what it was sent, as receivers and the proxies in front of them do:
// the method, request URI, Host header, path, token query value and body.
func Echoing(t testing.TB, status int) Receiver {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(status)
		fmt.Fprintf(w, "no route for %s %s on %s (http://%s%s), token %s, body %s",
			r.Method, r.RequestURI, r.Host, r.Host, r.URL.Path, r.URL.Query().Get("token"), body)
	}))
	t.Cleanup(srv.Close)
	return receiverAt(t, srv.Listener.Addr().String())
}

// AssertNoLeak fails t when err, or any error in its chain, holds the
// receiver's host or port or any of secrets.
func (r Receiver) AssertNoLeak(t testing.TB, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, s := range append([]string{r.Host, r.Port}, secrets...) {
			if strings.Contains(e.Error(), s) {
				t.Errorf("error %q gives away %q", e.Error(), s)
			}
		}
	}
}
