// Command temporal-ui serves the Temporal Web UI for make cluster's server:
// the same UI server the temporal CLI embeds in its dev server, built from
// the Go module proxy, pointed at another frontend.
//
//	temporal-ui -frontend 127.0.0.1:17301 -listen 127.0.0.1:17310
//
// It lives in a module of its own so that alertflow's module does not
// depend on the UI server.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
)

func main() {
	frontend := flag.String("frontend", "127.0.0.1:7233", "the Temporal frontend, host:port")
	listen := flag.String("listen", "127.0.0.1:8233", "where the Web UI listens, host:port")
	namespace := flag.String("namespace", "default", "the namespace the UI opens")
	flag.Parse()
	host, portStr, err := net.SplitHostPort(*listen)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil {
		fmt.Fprintf(os.Stderr, "temporal-ui: -listen %q: want host:port\n", *listen)
		os.Exit(2)
	}
	srv := uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                host,
		Port:                port,
		TemporalGRPCAddress: *frontend,
		EnableUI:            true,
		DefaultNamespace:    *namespace,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
	}))
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		srv.Stop()
	}()
	if err := srv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "temporal-ui:", err)
		os.Exit(1)
	}
}
