package ingress

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

type requestIDKey struct{}

type logAttrsKey struct{}

// logAttrs collects what a handler wants on the request's access log line.
type logAttrs struct {
	mu    sync.Mutex
	attrs []any
}

// RequestID is the ID of the request ctx belongs to, or "" outside one.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// setLogAttrs adds key-value pairs to the request's access log line.
func setLogAttrs(r *http.Request, kv ...any) {
	if la, ok := r.Context().Value(logAttrsKey{}).(*logAttrs); ok {
		la.mu.Lock()
		la.attrs = append(la.attrs, kv...)
		la.mu.Unlock()
	}
}

// requestIDOf takes the caller's request ID (X-Request-ID, or the UUID
// GitLab gives each delivery) when it is a sane token, and makes one up
// otherwise, so one ID follows a webhook through logs on both sides.
func requestIDOf(r *http.Request) string {
	for _, h := range []string{"X-Request-ID", "X-Gitlab-Event-UUID"} {
		if v := r.Header.Get(h); v != "" && len(v) <= 64 && !strings.ContainsFunc(v, func(c rune) bool {
			return !(c == '-' || c == '_' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z')
		}) {
			return v
		}
	}
	return uuid.NewString()
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// observe gives every request an ID (echoed in X-Request-ID) and one
// access log line. Only the path is logged: the query may carry the
// source token, and headers carry tokens too.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestIDOf(r)
		w.Header().Set("X-Request-ID", id)
		la := &logAttrs{}
		ctx := context.WithValue(context.WithValue(r.Context(), requestIDKey{}, id), logAttrsKey{}, la)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
			return // probes and scrapes would drown the log
		}
		la.mu.Lock()
		attrs := append([]any{
			"request_id", id, "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000,
		}, la.attrs...)
		la.mu.Unlock()
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		s.logger.Log(r.Context(), level, "http request", attrs...)
	})
}
