package app

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/alertflow/alertflow/internal/testkit"
)

// testCA is a certificate authority made up for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a certificate signed by the CA: for 127.0.0.1 when server,
// else for client authentication. It returns the PEM of both halves.
func (ca *testCA) issue(t *testing.T, name string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func serverTLS(t *testing.T, ca *testCA) tls.Certificate {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, "temporal frontend", true)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// mtlsProxy terminates mutual TLS in front of a plain frontend, as a load
// balancer or the server's own global.tls.frontend would: it refuses any
// client without a certificate signed by clientCA.
type mtlsProxy struct {
	ln       net.Listener
	verified atomic.Int64 // handshakes with a verified client certificate
	wg       sync.WaitGroup
}

func startMTLSProxy(t *testing.T, backend string, serverCA, clientCA *testCA) *mtlsProxy {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{serverTLS(t, serverCA)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		NextProtos:   []string{"h2"}, // gRPC insists on ALPN
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &mtlsProxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.pipe(conn.(*tls.Conn), backend)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *mtlsProxy) pipe(conn *tls.Conn, backend string) {
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := conn.HandshakeContext(ctx)
	cancel()
	if err != nil {
		return
	}
	if len(conn.ConnectionState().VerifiedChains) > 0 {
		p.verified.Add(1)
	}
	up, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, conn); done <- struct{}{} }()
	go func() { _, _ = io.Copy(conn, up); done <- struct{}{} }()
	<-done
}

// TestDialConnectsOverMutualTLSAndRefusesAWrongCA runs a real dev server
// behind a proxy that requires mutual TLS, and configures alertflow the way
// the temporal CLI is configured: TEMPORAL_TLS_* variables with
// certificates made at test time.
func TestDialConnectsOverMutualTLSAndRefusesAWrongCA(t *testing.T) {
	bin := temporalBin(t)
	backend := testDevServer(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	serverCA, clientCA, otherCA := newTestCA(t, "server CA"), newTestCA(t, "client CA"), newTestCA(t, "someone else's CA")
	proxy := startMTLSProxy(t, backend, serverCA, clientCA)
	dir := t.TempDir()
	certPEM, keyPEM := clientCA.issue(t, "alertflow", false)
	e := env{
		"TEMPORAL_ADDRESS":                 proxy.ln.Addr().String(),
		"TEMPORAL_TLS_CLIENT_CERT_PATH":    writeFile(t, dir, "client.pem", certPEM),
		"TEMPORAL_TLS_CLIENT_KEY_PATH":     writeFile(t, dir, "client-key.pem", keyPEM),
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": writeFile(t, dir, "server-ca.pem", serverCA.pem),
	}
	dialWith := func(e env) (client.Client, error) {
		cfg, addressSet, err := loadConfig("worker", nil, e.get, io.Discard)
		if err != nil {
			t.Fatalf("loadConfig: %v", err)
		}
		if !addressSet {
			t.Fatal("TEMPORAL_ADDRESS was not taken as set")
		}
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		return dial(dctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	}

	t.Run("with the client certificate and the server's CA it connects and works", func(t *testing.T) {
		c, err := dialWith(e)
		if err != nil {
			t.Fatalf("dial over mTLS: %v", err)
		}
		defer c.Close()
		if _, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"}); err != nil {
			t.Fatalf("describe namespace over mTLS: %v", err)
		}
		if proxy.verified.Load() == 0 {
			t.Fatal("the proxy saw no verified client certificate")
		}
	})

	t.Run("a server certificate from a CA it was not given is refused, saying so", func(t *testing.T) {
		wrong := overlay(e, env{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": writeFile(t, dir, "other-ca.pem", otherCA.pem)})
		c, err := dialWith(wrong)
		if err == nil {
			c.Close()
			t.Fatal("connected although the server's certificate is not signed by the CA given")
		}
		for _, want := range []string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH", "not signed by a CA alertflow trusts", proxy.ln.Addr().String()} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not say %q: %v", want, err)
			}
		}
	})

	t.Run("without a client certificate the server refuses it", func(t *testing.T) {
		noCert := overlay(e, env{"TEMPORAL_TLS_CLIENT_CERT_PATH": "", "TEMPORAL_TLS_CLIENT_KEY_PATH": ""})
		c, err := dialWith(noCert)
		if err == nil {
			c.Close()
			t.Fatal("connected without a client certificate")
		}
		// TLS 1.3 lets the refusal arrive as an alert or as a closed
		// connection; either way the error points at the variables.
		if !strings.Contains(err.Error(), "TEMPORAL_TLS_CLIENT_CERT_PATH") {
			t.Errorf("error does not point at TEMPORAL_TLS_CLIENT_CERT_PATH: %v", err)
		}
	})

	t.Run("the -temporal-address flag wins over TEMPORAL_ADDRESS", func(t *testing.T) {
		cfg, _, err := loadConfig("worker", []string{"-temporal-address", proxy.ln.Addr().String()}, overlay(e, env{"TEMPORAL_ADDRESS": "127.0.0.1:1"}).get, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		c, err := dial(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.Close()
	})
}

// fakeFrontend is a gRPC server that answers GetSystemInfo, as the SDK
// calls it on connecting, and records the authorization header.
type fakeFrontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	mu    sync.Mutex
	auth  []string
	calls int
}

func (f *fakeFrontend) GetSystemInfo(context.Context, *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	return &workflowservice.GetSystemInfoResponse{ServerVersion: "fake"}, nil
}

func (f *fakeFrontend) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.calls++
	f.auth = append(f.auth, md.Get("authorization")...)
	f.mu.Unlock()
	return handler(ctx, req)
}

// TestDialSendsTheAPIKeyOverTLSAndNeverLogsIt connects as to Temporal
// Cloud: TEMPORAL_API_KEY alone turns TLS on, and every call carries the
// key as a bearer token, as the SDK sends it; the key is in no log line.
func TestDialSendsTheAPIKeyOverTLSAndNeverLogsIt(t *testing.T) {
	ca := newTestCA(t, "frontend CA")
	front := &fakeFrontend{}
	gs := grpc.NewServer(
		grpc.Creds(credentials.NewServerTLSFromCert(ptr(serverTLS(t, ca)))),
		grpc.UnaryInterceptor(front.intercept),
	)
	workflowservice.RegisterWorkflowServiceServer(gs, front)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)

	const key = "tcld-api-key-for-the-test-only"
	e := env{
		"TEMPORAL_ADDRESS":                 ln.Addr().String(),
		"TEMPORAL_NAMESPACE":               "alerts.a1b2c",
		"TEMPORAL_API_KEY":                 key,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": writeFile(t, t.TempDir(), "ca.pem", ca.pem),
	}
	cfg, _, err := loadConfig("ingress", nil, e.get, io.Discard)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if cfg.Namespace != "alerts.a1b2c" {
		t.Fatalf("namespace %q, want TEMPORAL_NAMESPACE's", cfg.Namespace)
	}
	var logs testkit.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := dial(ctx, cfg, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), nil)
	if err != nil {
		t.Fatalf("dial with an API key: %v", err)
	}
	// A call the fake does not implement still carries the key.
	_, _ = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: cfg.Namespace})
	c.Close()

	front.mu.Lock()
	defer front.mu.Unlock()
	if front.calls < 2 {
		t.Fatalf("the fake frontend saw %d calls, want GetSystemInfo and DescribeNamespace", front.calls)
	}
	if len(front.auth) != front.calls {
		t.Fatalf("%d of %d calls carried an authorization header", len(front.auth), front.calls)
	}
	for _, a := range front.auth {
		if a != "Bearer "+key {
			t.Fatalf("authorization header %q, want the API key as a bearer token", a)
		}
	}
	if strings.Contains(logs.String(), key) {
		t.Fatalf("the API key is in the log:\n%s", logs.String())
	}

	t.Run("without the CA the fake's certificate is refused and the key is in no error", func(t *testing.T) {
		cfg, _, err := loadConfig("ingress", nil, overlay(e, env{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": ""}).get, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := dial(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		if err == nil {
			c.Close()
			t.Fatal("connected to a server whose certificate no trusted CA signed")
		}
		if strings.Contains(err.Error(), key) {
			t.Fatalf("the error quotes the API key: %v", err)
		}
		if !strings.Contains(err.Error(), "TEMPORAL_TLS_SERVER_CA_CERT_PATH") {
			t.Errorf("error does not point at TEMPORAL_TLS_SERVER_CA_CERT_PATH: %v", err)
		}
	})
}

// TestLoadConfigReadsTheTemporalProfileAsTheCLIDoes: the TOML profile file
// first, the TEMPORAL_* variables over it, alertflow's flags over both.
func TestLoadConfigReadsTheTemporalProfileAsTheCLIDoes(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "temporal.toml", []byte(`
[profile.default]
address = "default.example:7233"

[profile.prod]
address = "prod.tmprl.cloud:7233"
namespace = "alerts.prod"
api_key = "profile-secret-key"
`))
	tests := []struct {
		name          string
		env           env
		args          []string
		wantAddress   string
		wantNamespace string
		wantKey       string
	}{
		{"the file's default profile", env{"TEMPORAL_CONFIG_FILE": file}, nil, "default.example:7233", "default", ""},
		{"TEMPORAL_PROFILE picks a profile", env{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "prod"}, nil, "prod.tmprl.cloud:7233", "alerts.prod", "profile-secret-key"},
		{"the environment wins over the file", env{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "prod", "TEMPORAL_NAMESPACE": "other", "TEMPORAL_API_KEY": "env-key"}, nil, "prod.tmprl.cloud:7233", "other", "env-key"},
		{"the flags win over both", env{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "prod", "TEMPORAL_ADDRESS": "env.example:7233"}, []string{"-temporal-address", "flag.example:7233", "-temporal-namespace", "flagged"}, "flag.example:7233", "flagged", "profile-secret-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, addressSet, err := loadConfig("worker", tt.args, tt.env.get, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.TemporalAddress != tt.wantAddress || cfg.Namespace != tt.wantNamespace || cfg.temporal.APIKey != tt.wantKey || !addressSet {
				t.Fatalf("address %q namespace %q key %q set %v; want %q %q %q true", cfg.TemporalAddress, cfg.Namespace, cfg.temporal.APIKey, addressSet, tt.wantAddress, tt.wantNamespace, tt.wantKey)
			}
			opts, err := clientOptions(cfg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if opts.HostPort != tt.wantAddress || opts.Namespace != tt.wantNamespace || (tt.wantKey != "") != (opts.Credentials != nil) || (tt.wantKey != "") != (opts.ConnectionOptions.TLS != nil) {
				t.Fatalf("client options: %s %s credentials %v TLS %v", opts.HostPort, opts.Namespace, opts.Credentials != nil, opts.ConnectionOptions.TLS != nil)
			}
		})
	}

	t.Run("dev starts its own server despite a default profile file, and takes a named one", func(t *testing.T) {
		home := t.TempDir()
		t.Setenv("XDG_CONFIG_HOME", home) // where os.UserConfigDir looks on Linux
		t.Setenv("HOME", home)            // and on macOS
		dflt, err := os.UserConfigDir()
		if err != nil {
			t.Skip("no user config directory here:", err)
		}
		if err := os.MkdirAll(filepath.Join(dflt, "temporalio"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dflt, "temporalio"), "temporal.toml", []byte("[profile.default]\naddress = \"prod.example:7233\"\napi_key = \"k\"\n"))
		cfg, addressSet, err := loadConfig("dev", nil, env{}.get, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if addressSet {
			t.Fatalf("dev would use %s from the default profile file instead of starting its own server", cfg.TemporalAddress)
		}
		if cfg.TemporalAddress != "prod.example:7233" {
			t.Fatalf("worker and ingress read address %q, want the default profile's", cfg.TemporalAddress)
		}
		if _, addressSet, _ = loadConfig("dev", nil, env{"TEMPORAL_PROFILE": "default"}.get, io.Discard); !addressSet {
			t.Fatal("dev ignored a profile named in TEMPORAL_PROFILE")
		}
	})

	bad := []struct {
		name, wantVar string
		env           env
	}{
		{"a profile the file does not have", "TEMPORAL_PROFILE", env{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "staging"}},
		{"a config file that is not there", "TEMPORAL_CONFIG_FILE", env{"TEMPORAL_CONFIG_FILE": filepath.Join(dir, "missing.toml")}},
		{"a client certificate that is not there", "TEMPORAL_TLS_", env{"TEMPORAL_TLS_CLIENT_CERT_PATH": filepath.Join(dir, "none.pem"), "TEMPORAL_TLS_CLIENT_KEY_PATH": filepath.Join(dir, "none-key.pem"), "TEMPORAL_API_KEY": secret}},
		{"a CA file that is no PEM", "TEMPORAL_TLS_", env{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": file}},
	}
	for _, tt := range bad {
		t.Run(tt.name+" stops start-up naming "+tt.wantVar, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(canceled(), []string{"worker"}, tt.env.get, io.Discard, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.wantVar) {
				t.Fatalf("exit %d, stderr %q; want 2 naming %s", code, stderr.String(), tt.wantVar)
			}
			if strings.Contains(stderr.String(), secret) {
				t.Fatalf("stderr quotes the API key: %s", stderr.String())
			}
		})
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// overlay is base with over's entries on top; an empty value unsets.
func overlay(base, over env) env {
	out := env{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func ptr[T any](v T) *T { return &v }
