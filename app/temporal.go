package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	tlog "go.temporal.io/sdk/log"

	"github.com/alertflow/alertflow/worker"
)

// temporalEnv are the variables Temporal's environment configuration reads
// besides TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE (which are also
// alertflow's settings), as the temporal CLI reads them. Listed for the
// usage text; envconfig does the reading.
var temporalEnv = []struct{ name, help string }{
	{"TEMPORAL_CONFIG_FILE", "TOML profile file (default: temporalio/temporal.toml in the user config directory)"},
	{"TEMPORAL_PROFILE", "profile of that file to use (default: default)"},
	{"TEMPORAL_API_KEY", "API key, sent as a bearer token; turns TLS on (Temporal Cloud)"},
	{"TEMPORAL_TLS", "true or false: TLS to the frontend"},
	{"TEMPORAL_TLS_CLIENT_CERT_PATH", "client certificate for mTLS (or _DATA with the PEM itself)"},
	{"TEMPORAL_TLS_CLIENT_KEY_PATH", "its private key (or _DATA)"},
	{"TEMPORAL_TLS_SERVER_CA_CERT_PATH", "CA that signed the server's certificate, when not a public one (or _DATA)"},
	{"TEMPORAL_TLS_SERVER_NAME", "name to check the server's certificate against, when not the address's host"},
	{"TEMPORAL_GRPC_META_*", "extra gRPC headers sent with every call"},
}

// envLookup gives envconfig the same environment as the rest of the
// configuration: an empty variable counts as unset, as everywhere in
// alertflow.
type envLookup func(string) string

func (e envLookup) LookupEnv(name string) (string, bool) {
	v := e(name)
	return v, v != ""
}

// Environ lists only the TEMPORAL_GRPC_META_ headers, the one thing
// envconfig enumerates the environment for.
func (e envLookup) Environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "TEMPORAL_GRPC_META_") {
			if v := e(name); v != "" {
				out = append(out, name+"="+v)
			}
		}
	}
	return out
}

// loadTemporalProfile reads the Temporal connection as the temporal CLI
// does: the TOML profile file, then the TEMPORAL_* variables over it. It
// checks the TLS files now, so that a wrong path stops start-up naming it.
func loadTemporalProfile(getenv func(string) string) (envconfig.ClientConfigProfile, error) {
	// envconfig takes a missing file for no file; one named explicitly
	// must be there.
	if file := getenv("TEMPORAL_CONFIG_FILE"); file != "" {
		if _, err := os.Stat(file); err != nil {
			return envconfig.ClientConfigProfile{}, fmt.Errorf("TEMPORAL_CONFIG_FILE: %w", err)
		}
	}
	prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{EnvLookup: envLookup(getenv)})
	if err != nil {
		return envconfig.ClientConfigProfile{}, fmt.Errorf("TEMPORAL_CONFIG_FILE / TEMPORAL_PROFILE: %w", err)
	}
	if _, err := prof.ToClientOptions(envconfig.ToClientOptionsRequest{}); err != nil {
		return envconfig.ClientConfigProfile{}, fmt.Errorf("TEMPORAL_TLS_* (or the profile's tls section): %w", err)
	}
	return prof, nil
}

// clientOptions are the options every Temporal client of alertflow is
// built with: the Temporal profile, with alertflow's address and namespace
// over it (its flags win over the environment and the file).
func clientOptions(cfg config, logger tlog.Logger, metrics client.MetricsHandler) (client.Options, error) {
	opts, err := cfg.temporal.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, fmt.Errorf("TEMPORAL_TLS_* (or the profile's tls section): %w", err)
	}
	opts.ConnectionOptions.DialOptions = append(opts.ConnectionOptions.DialOptions, worker.DialOptions()...)
	opts.HostPort = cfg.TemporalAddress
	opts.Namespace = cfg.Namespace
	opts.Logger = logger
	opts.MetricsHandler = metrics
	// The SDK gzips every call by default. Signals, workflow tasks and
	// their completions are a few KB and the server is usually a hop
	// away: in make bench, gzip was a tenth of alertflow's CPU, and the
	// server paid again to inflate.
	opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	if cfg.Gzip {
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionGzip{}
	}
	return opts, nil
}

func dial(ctx context.Context, cfg config, logger *slog.Logger, metrics client.MetricsHandler) (client.Client, error) {
	opts, err := clientOptions(cfg, tlog.NewStructuredLogger(logger.With("component", "temporal")), metrics)
	if err != nil {
		return nil, err
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s%s: %w", cfg.TemporalAddress, connectHint(cfg, err), err)
	}
	return c, nil
}

// connectHint says in words what the usual TLS failures mean; gRPC buries
// them in a transport error.
func connectHint(cfg config, err error) string {
	msg := err.Error()
	tlsOn := cfg.temporal.TLS != nil && !cfg.temporal.TLS.Disabled || cfg.temporal.APIKey != ""
	noClientCert := cfg.temporal.TLS == nil || (cfg.temporal.TLS.ClientCertPath == "" && len(cfg.temporal.TLS.ClientCertData) == 0)
	// With TLS 1.3 the server checks the client's certificate after the
	// client thinks the handshake is done: the refusal can arrive as a
	// broken pipe or a reset instead of an alert.
	refusedLate := strings.Contains(msg, "broken pipe") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "EOF")
	switch {
	case strings.Contains(msg, "certificate signed by unknown authority"):
		return " (the server's certificate is not signed by a CA alertflow trusts: set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the CA that signed it)"
	case strings.Contains(msg, "certificate is valid for"), strings.Contains(msg, "doesn't contain any IP SANs"):
		return " (the server's certificate is for another name: set TEMPORAL_TLS_SERVER_NAME to a name it is valid for)"
	case strings.Contains(msg, "bad certificate"), strings.Contains(msg, "certificate required"), strings.Contains(msg, "unknown certificate authority"):
		return " (the server refused alertflow's client certificate: check TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)"
	case tlsOn && noClientCert && refusedLate:
		return " (the server closed the connection during TLS: if it wants a client certificate, set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)"
	case tlsOn && (strings.Contains(msg, "first record does not look like a TLS handshake") || strings.Contains(msg, "tls: ")):
		return " (TLS handshake failed: does the server speak TLS on this port? TEMPORAL_TLS=false turns it off)"
	case !tlsOn && errors.Is(err, context.DeadlineExceeded):
		return " (no answer: if the server wants TLS, set TEMPORAL_TLS=true)"
	}
	return ""
}
