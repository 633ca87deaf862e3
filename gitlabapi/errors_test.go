package gitlabapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable time for Client.clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// answering is a server that answers every request with answer, and counts
// them.
func answering(t *testing.T, answer http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func status(code int, header map[string]string, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}
}

// kind of error a test wants.
type kind int

const (
	retry kind = iota
	permanent
)

func TestRefClassifiesEachAnswerAndSendsItOnce(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	tests := []struct {
		name   string
		answer http.HandlerFunc
		want   kind
		// after is the RetryError's After.
		after time.Duration
	}{
		{name: "429 with Retry-After seconds", answer: status(429, map[string]string{"Retry-After": "7"}, "Retry later\n"), after: 7 * time.Second},
		{name: "429 with Retry-After as an HTTP date", answer: status(429, map[string]string{"Retry-After": now.Add(90 * time.Second).UTC().Format(http.TimeFormat)}, ""), after: 90 * time.Second},
		{name: "429 with RateLimit-Remaining 0 and a reset", answer: status(429, map[string]string{"RateLimit-Remaining": "0", "RateLimit-Reset": fmt.Sprint(now.Add(40 * time.Second).Unix())}, ""), after: 40 * time.Second},
		{name: "429 naming no wait", answer: status(429, nil, ""), after: 30 * time.Second},
		{name: "429 asking for a day is capped", answer: status(429, map[string]string{"Retry-After": "86400"}, ""), after: 15 * time.Minute},
		{name: "500", answer: status(500, nil, `{"message":"500 Internal Server Error"}`), after: 30 * time.Second},
		{name: "502 from a proxy", answer: status(502, map[string]string{"Content-Type": "text/html"}, "<html>Bad Gateway</html>"), after: 30 * time.Second},
		{name: "503 with Retry-After", answer: status(503, map[string]string{"Retry-After": "120"}, ""), after: 2 * time.Minute},
		{name: "a 200 cut short", answer: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "100")
			fmt.Fprint(w, `[{"id":1,`)
		}, after: 30 * time.Second},
		{name: "401", answer: status(401, nil, `{"message":"401 Unauthorized"}`), want: permanent},
		{name: "403", answer: status(403, nil, `{"message":"403 Forbidden"}`), want: permanent},
		{name: "400", answer: status(400, nil, `{"error":"order_by does not have a valid value"}`), want: permanent},
		{name: "422", answer: status(422, nil, `{"message":"x"}`), want: permanent},
		{name: "404 Project Not Found", answer: status(404, nil, `{"message":"404 Project Not Found"}`), want: permanent},
		{name: "404 of an unknown route", answer: status(404, nil, `{"error":"404 Not Found"}`), want: permanent},
		{name: "404 not in JSON", answer: status(404, nil, "<html>nope</html>"), want: permanent},
		{name: "a 200 in HTML", answer: status(200, map[string]string{"Content-Type": "text/html"}, "<html>Sign in</html>"), want: permanent},
		{name: "an empty 200", answer: status(200, nil, ""), want: permanent},
		{name: "a 200 of the wrong JSON", answer: status(200, nil, `{"id":"x"}`), want: permanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, requests := answering(t, tt.answer)
			c := client(t, srv.URL)
			c.clock = (&clock{t: now}).now
			got, err := c.Ref(context.Background(), project, "main", false)
			if err == nil {
				t.Fatalf("Ref = %+v, want an error", got)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests reached the server, want 1: the client must not retry", n)
			}
			if !strings.HasPrefix(err.Error(), "list pipelines of project 42 on main: ") {
				t.Errorf("err = %q, want it to say what was being done", err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("err = %q holds the token", err)
			}
			var re *RetryError
			switch tt.want {
			case retry:
				if !errors.As(err, &re) {
					t.Fatalf("err = %v, want a *RetryError", err)
				}
				if re.After != tt.after {
					t.Errorf("After = %s, want %s", re.After, tt.after)
				}
				if errors.Is(err, ErrPermanent) {
					t.Errorf("err = %v wraps ErrPermanent too", err)
				}
			case permanent:
				if !errors.Is(err, ErrPermanent) || errors.As(err, &re) {
					t.Fatalf("err = %v, want one wrapping ErrPermanent only", err)
				}
			}
		})
	}
}

func TestRefOn429FromTheFakeSendsOneRequest(t *testing.T) {
	s := fake(t)
	s.AddBranch(project, "main")
	s.Refuse(5, 7*time.Second)
	_, err := client(t, s.URL()).Ref(context.Background(), project, "main", false)
	var re *RetryError
	if !errors.As(err, &re) || re.After != 7*time.Second {
		t.Fatalf("err = %v, want a *RetryError after 7s", err)
	}
	if n := s.Requests(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestRefWhenTheConnectionFailsAsksToRetry(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := client(t, url).Ref(context.Background(), project, "main", false)
	var re *RetryError
	if !errors.As(err, &re) || re.After != 30*time.Second {
		t.Fatalf("err = %v, want a *RetryError after 30s", err)
	}
}

func TestRefWithADoneContextSendsNothing(t *testing.T) {
	srv, requests := answering(t, status(200, nil, "[]"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := client(t, srv.URL).Ref(ctx, project, "main", false)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var re *RetryError
	if errors.As(err, &re) || errors.Is(err, ErrPermanent) {
		t.Errorf("err = %v, want neither retry nor permanent: the caller gave up", err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

func TestRefFollowsNoRedirectToAnotherHost(t *testing.T) {
	var leaked atomic.Bool
	other, _ := answering(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("PRIVATE-TOKEN") != "" {
			leaked.Store(true)
		}
		fmt.Fprint(w, "[]")
	})
	srv, _ := answering(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
	})
	_, err := client(t, srv.URL).Ref(context.Background(), project, "main", false)
	if !errors.Is(err, ErrPermanent) {
		t.Errorf("err = %v, want one wrapping ErrPermanent", err)
	}
	if leaked.Load() {
		t.Error("the other host was sent the token")
	}
}

// echo answers with the request's token in the body and headers, as a
// broken proxy might.
func echo(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("PRIVATE-TOKEN")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"message":"bad token %s"}`, tok)
	}
}

func TestNoErrorTextHoldsTheToken(t *testing.T) {
	// Each path to an error, beyond the answers the classification test
	// checks one by one.
	paths := map[string]func(t *testing.T) error{
		"401 from the fake": func(t *testing.T) error {
			s := fake(t)
			c, err := New(s.URL(), testToken+"-not-the-fake's", nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Ref(context.Background(), project, "main", false)
			return err
		},
		"404 Project Not Found from the fake": func(t *testing.T) error {
			_, err := client(t, fake(t).URL()).Ref(context.Background(), project, "main", false)
			return err
		},
		"429 from the fake": func(t *testing.T) error {
			s := fake(t)
			s.Refuse(1, time.Second)
			_, err := client(t, s.URL()).Ref(context.Background(), project, "main", false)
			return err
		},
		"the rate-limit gate": func(t *testing.T) error {
			s := fake(t)
			s.AddBranch(project, "main")
			s.RateLimit(0, time.Now().Add(time.Hour))
			c := client(t, s.URL())
			if _, err := c.Ref(context.Background(), project, "main", false); err == nil {
				t.Fatal("no error with the rate limit used up")
			}
			_, err := c.Ref(context.Background(), project, "main", false)
			return err
		},
		"a refused connection": func(t *testing.T) error {
			srv := httptest.NewServer(http.NotFoundHandler())
			srv.Close()
			_, err := client(t, srv.URL).Ref(context.Background(), project, "main", false)
			return err
		},
		"a 400 echoing the token": func(t *testing.T) error {
			srv, _ := answering(t, echo(400))
			_, err := client(t, srv.URL).Ref(context.Background(), project, "main", false)
			return err
		},
		"a 404 echoing the token": func(t *testing.T) error {
			srv, _ := answering(t, echo(404))
			_, err := client(t, srv.URL).Ref(context.Background(), project, "main", false)
			return err
		},
		"a 503 echoing the token": func(t *testing.T) error {
			srv, _ := answering(t, echo(503))
			_, err := client(t, srv.URL).Ref(context.Background(), project, "main", false)
			return err
		},
		"a branch read refused after the pipelines": func(t *testing.T) error {
			srv, _ := answering(t, func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/pipelines") {
					fmt.Fprint(w, "[]")
					return
				}
				echo(403)(w, r)
			})
			_, err := client(t, srv.URL).Ref(context.Background(), project, "main", false)
			return err
		},
		"New with a bad base URL": func(t *testing.T) error {
			_, err := New("gitlab.example.com", testToken, nil)
			return err
		},
		"an empty ref": func(t *testing.T) error {
			_, err := client(t, fake(t).URL()).Ref(context.Background(), project, "", false)
			return err
		},
	}
	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			err := path(t)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error text holds the token: %q", err)
			}
			var re *RetryError
			if errors.As(err, &re) && strings.Contains(re.Reason, testToken) {
				t.Errorf("RetryError.Reason holds the token: %q", re.Reason)
			}
		})
	}
}
