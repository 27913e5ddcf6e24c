// Package testutil is the end-to-end harness used across Pylon's tests: it starts a real
// gateway in-process from config text, real upstream servers on loopback, and makes the TLS
// material they need.
package testutil

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/app"
)

// Gateway is a Pylon running in this process.
type Gateway struct {
	*app.Gateway
	t      testing.TB
	stdout *SyncBuffer
	path   string
}

// StartGateway starts Pylon on the given YAML config and stops it when the test ends. Use
// port 0 in listener and admin addresses; URL and AdminURL give the bound addresses.
func StartGateway(t testing.TB, yaml string) *Gateway {
	t.Helper()
	// PYLON_TEST_NO_FAST_PATH=1 runs the suite with the proxy's fast path off, so that the
	// standard path stays covered by the tests whose requests the fast path would take.
	return startGateway(t, yaml, os.Getenv("PYLON_TEST_NO_FAST_PATH") != "")
}

// StartGatewayFastPath is StartGateway with the proxy's fast path on or off, whatever the
// environment says (for tests that compare the two paths).
func StartGatewayFastPath(t testing.TB, yaml string, fast bool) *Gateway {
	t.Helper()
	return startGateway(t, yaml, !fast)
}

func startGateway(t testing.TB, yaml string, noFast bool) *Gateway {
	t.Helper()
	dir := t.TempDir()
	path := dir + "/pylon.yaml"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &SyncBuffer{}
	lv := slog.LevelWarn
	if os.Getenv("PYLON_TEST_LOG") != "" {
		lv = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: lv}))
	g, err := app.Start(context.Background(), app.Options{ConfigPath: path, Log: log, Stdout: out, NoFastPath: noFast})
	if err != nil {
		t.Fatalf("starting pylon: %v", err)
	}
	gw := &Gateway{Gateway: g, t: t, stdout: out, path: path}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	return gw
}

// URL is the base URL of a listener ("http://127.0.0.1:port").
func (g *Gateway) URL(listener string) string {
	addr := g.Runtime.Addr(listener)
	if addr == "" {
		g.t.Fatalf("no listener %q", listener)
	}
	return "http://" + addr
}

// AdminURL is the base URL of the admin listener.
func (g *Gateway) AdminURL() string { return g.URL("admin") }

// Stdout is what access logs wrote to "stdout".
func (g *Gateway) Stdout() string { return g.stdout.String() }

// ConfigPath is the file the gateway was started from (rewrite it and call Reload).
func (g *Gateway) ConfigPath() string { return g.path }

// Rewrite replaces the config file and reloads, failing the test if the reload fails.
func (g *Gateway) Rewrite(yaml string) error {
	if err := os.WriteFile(g.path, []byte(yaml), 0o644); err != nil {
		g.t.Fatal(err)
	}
	return g.Reload()
}

// Stat returns one value from the admin /stats page by its Envoy name ("" if absent).
func (g *Gateway) Stat(name string) string {
	g.t.Helper()
	resp, err := http.Get(g.AdminURL() + "/stats")
	if err != nil {
		g.t.Fatalf("stats: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && k == name {
			return v
		}
	}
	return ""
}

// SyncBuffer is a goroutine-safe buffer.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// ProxyConfig is the simplest gateway config: one listener named "public" on a free port
// that forwards every request to cluster name with the given endpoints.
func ProxyConfig(cluster string, endpoints ...string) string {
	return `
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            cluster: ` + cluster + `
clusters:
  - name: ` + cluster + `
    endpoints: [` + strings.Join(endpoints, ", ") + `]
`
}

// Metric returns one sample's value from /stats/prometheus, by its series as exposed
// (`name{label="v",...}`, labels sorted), or "" if absent.
func (g *Gateway) Metric(series string) string {
	g.t.Helper()
	resp, err := http.Get(g.AdminURL() + "/stats/prometheus")
	if err != nil {
		g.t.Fatalf("stats/prometheus: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == series {
			return v
		}
	}
	return ""
}
