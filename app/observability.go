package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
	"golang.org/x/net/netutil"

	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/workflows"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// once a stop is asked for; a webhook's own Temporal call is bounded by 8 s.
const shutdownTimeout = 10 * time.Second

// newMetrics returns the registry /metrics serves, holding the process's
// own metrics, and the SDK metrics handler that feeds the Temporal client's
// and worker's metrics (task latencies, poller counts, ...) into it.
func newMetrics(logger *slog.Logger) (*prometheus.Registry, client.MetricsHandler, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, nil, fmt.Errorf("create metrics exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter),
		sdkmetric.WithView(histogramView(workflows.MetricTimeToAcknowledge), histogramView(workflows.MetricTimeToResolve)))
	handler := opentelemetry.NewMetricsHandler(opentelemetry.MetricsHandlerOptions{
		Meter: provider.Meter("temporal-sdk-go"),
		// A metric that cannot be recorded is no reason to stop alerting.
		OnError: func(err error) { logger.Warn("sdk metric not recorded", "error", err) },
	})
	return reg, handler, nil
}

// histogramView gives one of the alert histograms its on-call buckets
// and keeps its severity label only: the SDK tags every workflow metric
// with namespace, task queue and workflow type, which say nothing here.
func histogramView(name string) sdkmetric.View {
	return sdkmetric.NewView(sdkmetric.Instrument{Name: name}, sdkmetric.Stream{
		Aggregation:     sdkmetric.AggregationExplicitBucketHistogram{Boundaries: workflows.MetricBuckets},
		AttributeFilter: attribute.NewAllowKeysFilter(attribute.Key(workflows.MetricSeverityTag)),
	})
}

// workerMux is the HTTP surface of a worker-only process: health,
// readiness and metrics.
func workerMux(c client.Client, reg *prometheus.Registry, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", ingress.Healthz)
	mux.Handle("GET /readyz", ingress.Readyz(c, logger))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// httpLimits bound how long a client may take, so slow or stalled clients
// (slow-loris) cannot hold connections and goroutines for ever, and what
// anyone who can reach the port can make the process hold before it has
// checked a token: header bytes per connection, times connections.
type httpLimits struct {
	readHeader, read, write, idle time.Duration
	// headerBytes caps a request's header block; net/http answers 431
	// beyond it.
	headerBytes int
	// connections caps the connections open at once; further ones wait in
	// the kernel's accept queue until one closes.
	connections int
}

// maxHeaderBytes: GitLab's headers are well under 2 KiB, and a proxy in
// front adds a few hundred bytes; Go's default is 1 MiB per connection.
const maxHeaderBytes = 64 << 10

// defaultMaxConnections is ALERTFLOW_MAX_CONNECTIONS's default: far more
// than GitLab opens at once, and at most some 20 MiB of header buffers.
const defaultMaxConnections = 256

// defaultIdleTimeout is ALERTFLOW_HTTP_IDLE_TIMEOUT's default: an idle
// keep-alive connection holds one of the capped connections.
const defaultIdleTimeout = 30 * time.Second

// defaultHTTPLimits: a GitLab delivery is a few kilobytes, sent at once,
// and GitLab gives up after 10 s; headers still arriving after 3 s or a
// body still arriving after 15 s are a client to cut off.
func defaultHTTPLimits() httpLimits {
	return httpLimits{readHeader: 3 * time.Second, read: 15 * time.Second, write: 30 * time.Second, idle: defaultIdleTimeout,
		headerBytes: maxHeaderBytes, connections: defaultMaxConnections}
}

// httpLimitsOf are the default limits with the configured ones.
func httpLimitsOf(cfg config) httpLimits {
	l := defaultHTTPLimits()
	if cfg.MaxConnections > 0 {
		l.connections = cfg.MaxConnections
	}
	if cfg.IdleTimeout > 0 {
		l.idle = cfg.IdleTimeout
	}
	return l
}

// serveHTTP serves handler on ln until ctx is done, then stops taking new
// connections and lets the requests in flight finish, for at most
// shutdownTimeout: a webhook being answered when SIGTERM comes is answered,
// not dropped.
//
// reg, when not nil, gets the gauge of connections open, which must come
// back to zero when the senders are gone.
func serveHTTP(ctx context.Context, ln net.Listener, handler http.Handler, logger *slog.Logger, limits httpLimits, reg prometheus.Registerer) error {
	open := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "alertflow_http_connections_open",
		Help: "HTTP connections open, bounded by ALERTFLOW_MAX_CONNECTIONS.",
	})
	if reg != nil {
		reg.MustRegister(open)
	}
	srv := &http.Server{
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				open.Inc()
			case http.StateClosed, http.StateHijacked:
				open.Dec()
			}
		},
		Handler:           handler,
		ReadHeaderTimeout: limits.readHeader,
		ReadTimeout:       limits.read,
		WriteTimeout:      limits.write,
		IdleTimeout:       limits.idle,
		MaxHeaderBytes:    limits.headerBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if limits.connections > 0 {
		ln = netutil.LimitListener(ln, limits.connections)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("http listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("http server on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down http server: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server on %s: %w", ln.Addr(), err)
	}
	return nil
}
