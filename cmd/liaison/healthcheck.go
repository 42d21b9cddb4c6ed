package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runHealthcheck asks a running hub's readiness (or liveness) on its admin
// address and exits 0 when it answers 2xx, 1 otherwise: the health check of a
// container whose image has no shell nor curl (deploy/Dockerfile, the compose
// files). An unspecified host (0.0.0.0, ::) is asked on loopback.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("liaison healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("admin-addr", DefaultAdminAddr, "the hub's admin address (as given to serve --admin-addr)")
	path := fs.String("path", "/readyz", "what to ask: /readyz (ready for calls) or /healthz (alive)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("--admin-addr: %w", err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+*path, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<10))
	fmt.Fprintf(stdout, "%d %s\n", res.StatusCode, body)
	if res.StatusCode/100 != 2 {
		return exitCode(1)
	}
	return nil
}
