package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/alertflow/alertflow/devserver"
	"github.com/alertflow/alertflow/workflows"
)

// devServerArgs are the arguments alertflow dev starts the Temporal dev
// server with: devserver.Tuning, which the integration tests use too, and
// its own address, database and log level. The search attributes are registered here for a new database, and by the
// worker for an existing one. The CLI turns the server's search attribute
// cache off, so that attributes added at run time show at once; alertflow
// adds its own before the server starts, and with the cache off every
// signal-with-start and upsert read them from SQLite again (6% of the
// server's CPU in make bench). On with it: an attribute the worker adds to
// an older database shows within the cache's minute.
func devServerArgs(host string, port, uiPort int, namespace, dbFile string) []string {
	args := []string{
		"server", "start-dev",
		"--ip", host, "--port", strconv.Itoa(port), "--ui-port", strconv.Itoa(uiPort),
		"--namespace", namespace,
		"--db-filename", dbFile,
		"--log-level", "warn",
		"--dynamic-config-value", "system.forceSearchAttributesCacheRefreshOnRead=false",
	}
	args = append(args, devserver.Tuning()...)
	types := workflows.SearchAttributeTypes()
	for _, name := range slices.Sorted(maps.Keys(types)) {
		typ := "Keyword"
		switch types[name] {
		case enumspb.INDEXED_VALUE_TYPE_INT:
			typ = "Int"
		case enumspb.INDEXED_VALUE_TYPE_BOOL:
			typ = "Bool"
		}
		args = append(args, "--search-attribute", name+"="+typ)
	}
	return args
}

// runDev is "alertflow dev": the embedded default for trying alertflow and
// for developing it.
func runDev(ctx context.Context, cfg config, addressSet bool, logger *slog.Logger, stdout io.Writer) error {
	token, apiToken, err := applyDevTokens(&cfg)
	if err != nil {
		return err
	}
	// Every port is checked before anything starts or is printed: a
	// Temporal server already on the dev port would otherwise answer in
	// place of the one alertflow starts, and the banner would announce
	// an intake that cannot listen.
	ln, err := listen("ALERTFLOW_LISTEN", cfg.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	if !addressSet {
		for _, p := range []struct {
			name string
			port int
		}{{"ALERTFLOW_DEV_PORT", cfg.DevPort}, {"ALERTFLOW_UI_PORT", cfg.UIPort}} {
			held, err := listen(p.name, net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)))
			if err != nil {
				return fmt.Errorf("%w (to use a Temporal server that is already running, set TEMPORAL_ADDRESS to it)", err)
			}
			held.Close()
		}
		// Its own dev server speaks plain gRPC: no TLS or API key from a
		// profile meant for another server.
		cfg.temporal = envconfig.ClientConfigProfile{}
		cfg.TemporalAddress = net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.DevPort))
		srv, err := startDevServer(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer srv.stop(logger)
	}
	c, err := dial(ctx, cfg, logger, nil)
	if err != nil {
		return err
	}
	err = ensureRetention(ctx, c, cfg.Namespace, cfg.Retention)
	c.Close()
	if err != nil {
		return err
	}

	base := "http://" + displayAddr(cfg.Listen)
	fmt.Fprintf(stdout, "\nalertflow dev is running.\n")
	if !addressSet {
		host, _, _ := net.SplitHostPort(cfg.TemporalAddress)
		fmt.Fprintf(stdout, "  Temporal Web UI:     http://%s:%d/namespaces/%s/workflows\n", displayHost(host), cfg.UIPort, cfg.Namespace)
	}
	fmt.Fprintf(stdout, "  Temporal frontend:   %s (namespace %s)\n", cfg.TemporalAddress, cfg.Namespace)
	fmt.Fprintf(stdout, "  GitLab webhook URL:  %s/webhooks/gitlab?token=%s\n", base, token)
	fmt.Fprintf(stdout, "  REST API:            curl -H 'Authorization: Bearer %s' %s/api/v1/alerts\n", apiToken, base)
	fmt.Fprintf(stdout, "  Health:              %s/healthz\n", base)
	if host, port, err := net.SplitHostPort(cfg.Listen); err == nil && displayHost(host) != host {
		// The URLs above say localhost; GitLab on another host reaches
		// the same port on this host's address.
		fmt.Fprintf(stdout, "  Listening on:        every interface, port %s (ALERTFLOW_LISTEN=127.0.0.1:%s keeps it to this host)\n", port, port)
	}
	fmt.Fprintf(stdout, "\nPress Ctrl-C to stop.\n\n")
	return serve(ctx, cfg, logger, roles{ingress: true, worker: true}, ln)
}

// listen listens on addr, the value of the variable name; when the port is
// taken the error names the variable, the address and, where it can be
// found, the process that holds it.
func listen(name, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	by := ""
	if _, port, splitErr := net.SplitHostPort(addr); splitErr == nil && errors.Is(err, syscall.EADDRINUSE) {
		if n, convErr := strconv.Atoi(port); convErr == nil {
			if holder := portHolder(n); holder != "" {
				by = " by " + holder
			}
		}
		return nil, fmt.Errorf("%s: %s is already in use%s: choose another port with %s, or stop what holds it", name, addr, by, name)
	}
	return nil, fmt.Errorf("%s: %w", name, err)
}

// devServer is a Temporal dev server running as a child process.
type devServer struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startDevServer(ctx context.Context, cfg config, logger *slog.Logger) (*devServer, error) {
	if _, err := os.Stat(cfg.TemporalBin); err != nil {
		return nil, fmt.Errorf("ALERTFLOW_TEMPORAL_BIN: %s not found (run make bin/temporal, or set TEMPORAL_ADDRESS to use a running server): %w", cfg.TemporalBin, err)
	}
	host, portStr, _ := net.SplitHostPort(cfg.TemporalAddress)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("TEMPORAL_ADDRESS: port %q is not a number", portStr)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("ALERTFLOW_DATA_DIR: %w", err)
	}
	logPath := filepath.Join(cfg.DataDir, "temporal.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open dev server log: %w", err)
	}
	defer logFile.Close()

	cmd := exec.Command(cfg.TemporalBin, devServerArgs(host, port, cfg.UIPort, cfg.Namespace, filepath.Join(cfg.DataDir, "temporal.db"))...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.TemporalBin, err)
	}
	s := &devServer{cmd: cmd, done: make(chan struct{})}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	logger.Info("temporal dev server starting", "pid", cmd.Process.Pid, "db", filepath.Join(cfg.DataDir, "temporal.db"), "log", logPath)

	if err := s.waitReady(ctx, cfg); err != nil {
		s.stop(logger)
		return nil, fmt.Errorf("temporal dev server (log in %s): %w", logPath, err)
	}
	logger.Info("temporal dev server ready", "address", cfg.TemporalAddress)
	return s, nil
}

// waitReady polls the server's health until it answers, it exits, or a
// minute passes (a first start creates the SQLite schema).
func (s *devServer) waitReady(ctx context.Context, cfg config) error {
	deadline := time.Now().Add(time.Minute)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := client.DialContext(cctx, client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.Namespace, Logger: quietLogger()})
		if err == nil {
			_, err = c.WorkflowService().DescribeNamespace(cctx, &workflowservice.DescribeNamespaceRequest{Namespace: cfg.Namespace})
			c.Close()
		}
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("exited before it was ready: %v", s.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after a minute: %w", err)
		}
	}
}

// stop interrupts the server, as Ctrl-C would, and kills it if it has not
// exited after ten seconds.
func (s *devServer) stop(logger *slog.Logger) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = interrupt(s.cmd.Process)
	select {
	case <-s.done:
		logger.Info("temporal dev server stopped")
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		logger.Warn("temporal dev server killed after not stopping in 10s")
	}
}

// ensureRetention sets the namespace retention: the dev server creates the
// namespace with 24 hours, after which resolved alerts would vanish.
func ensureRetention(ctx context.Context, c client.Client, namespace string, want time.Duration) error {
	ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("describe namespace %s: %w", namespace, err)
	}
	if ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() == want {
		return nil
	}
	_, err = c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: namespace,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(want)},
	})
	if err != nil {
		return fmt.Errorf("set retention of namespace %s to %s: %w", namespace, want, err)
	}
	return nil
}

func quietLogger() *slogDiscard { return &slogDiscard{} }

// slogDiscard drops the SDK's connection-retry chatter while waiting for
// the server to come up.
type slogDiscard struct{}

func (*slogDiscard) Debug(string, ...any) {}
func (*slogDiscard) Info(string, ...any)  {}
func (*slogDiscard) Warn(string, ...any)  {}
func (*slogDiscard) Error(string, ...any) {}

func displayAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	return net.JoinHostPort(displayHost(host), port)
}

// displayHost turns a bind-all host into one a person can paste.
func displayHost(host string) string {
	if host == "" || host == "0.0.0.0" || host == "::" {
		return "localhost"
	}
	return host
}
