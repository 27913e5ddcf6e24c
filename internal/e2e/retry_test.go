package e2e_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/testutil"
)

// promValue reads one sample from /stats/prometheus: family{envoy_cluster_name="cluster"} (or
// the http connection manager prefix for envoy_http_ families). It returns 0 when absent.
func promValue(t *testing.T, gw *testutil.Gateway, family, scope string) float64 {
	t.Helper()
	resp, err := http.Get(gw.AdminURL() + "/stats/prometheus")
	if err != nil {
		t.Fatalf("stats/prometheus: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	label := `envoy_cluster_name="` + scope + `"`
	if strings.HasPrefix(family, "envoy_http_") {
		label = `envoy_http_conn_manager_prefix="` + scope + `"`
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, "{")
		if !ok || name != family || !strings.Contains(rest, label) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		return v
	}
	return 0
}

// routeConfig is one listener "public" whose catch-all route to cluster svc carries the given
// route options (YAML flow-map fields), with the given clusters section.
func routeConfig(routeOpts, clusters string) string {
	return `
admin: {address: "127.0.0.1:0"}
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - {match: {prefix: /}, cluster: svc` + routeOpts + `}
clusters:
` + clusters
}

func TestRetryOn5xxMakesEveryRequestSucceed(t *testing.T) {
	var n atomic.Int64
	flaky := testutil.StartUpstream(t, "flaky", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "busy")
			return
		}
		io.WriteString(w, "ok")
	}))
	gw := testutil.StartGateway(t, routeConfig(`, retry: {on: [5xx], attempts: 3, backoff: {base_interval: 1ms}}`,
		"  - {name: svc, endpoints: ["+flaky.Addr()+"]}\n"))
	for i := range 20 {
		resp, body := get(t, gw.URL("public")+"/x")
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q, want 200 ok", i, resp.StatusCode, body)
		}
	}
	if got := flaky.Count(); got != 40 {
		t.Errorf("upstream saw %d requests, want 40 (each first try fails once)", got)
	}
	if v := promValue(t, gw, "envoy_cluster_upstream_rq_retry", "svc"); v != 20 {
		t.Errorf("upstream_rq_retry = %v, want 20", v)
	}
	if v := promValue(t, gw, "envoy_cluster_upstream_rq_retry_success", "svc"); v != 20 {
		t.Errorf("upstream_rq_retry_success = %v, want 20", v)
	}
	if v := promValue(t, gw, "envoy_cluster_upstream_rq_total", "svc"); v != 40 {
		t.Errorf("upstream_rq_total = %v, want 40 (one per try)", v)
	}
}

func TestRetryReplaysTheRequestBody(t *testing.T) {
	var n atomic.Int64
	var mu sync.Mutex
	var bodies []string
	up := testutil.StartUpstream(t, "up", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Write(b)
	}))
	gw := testutil.StartGateway(t, routeConfig(`, retry: {on: [gateway-error], backoff: {base_interval: 1ms}}`,
		"  - {name: svc, endpoints: ["+up.Addr()+"]}\n"))
	resp, err := http.Post(gw.URL("public")+"/p", "text/plain", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "payload" {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 || bodies[0] != "payload" || bodies[1] != "payload" {
		t.Errorf("upstream bodies %q, want the payload twice", bodies)
	}
}

// resetServer accepts connections and closes each one as soon as a request arrives, before
// any response byte: a reset for Envoy's retry conditions.
func resetServer(t *testing.T) (string, *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				c.Read(buf)
				n.Add(1)
				if tc, ok := c.(*net.TCPConn); ok {
					tc.SetLinger(0)
				}
				c.Close()
			}()
		}
	}()
	return ln.Addr().String(), &n
}

func TestRetryOnResetGoesToAnotherHost(t *testing.T) {
	bad, resets := resetServer(t)
	good := testutil.StartUpstream(t, "good", nil)
	gw := testutil.StartGateway(t, routeConfig(`, retry: {on: [reset], attempts: 1, backoff: {base_interval: 1ms}}`,
		"  - {name: svc, endpoints: ["+bad+", "+good.Addr()+"]}\n"))
	for i := range 10 {
		resp, body := get(t, gw.URL("public")+"/r")
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %q, want 200 (the retry avoids the resetting host)", i, resp.StatusCode, body)
		}
	}
	if resets.Load() == 0 {
		t.Fatal("the resetting host got no request: the test proves nothing")
	}
	if v := promValue(t, gw, "envoy_cluster_upstream_rq_retry", "svc"); v != float64(resets.Load()) {
		t.Errorf("upstream_rq_retry = %v, want %d (one per reset)", v, resets.Load())
	}

	// Without the policy the reset reaches the client as Envoy's 503.
	gw2 := testutil.StartGateway(t, routeConfig(``, "  - {name: svc, endpoints: ["+bad+"]}\n"))
	resp, body := get(t, gw2.URL("public")+"/r")
	if resp.StatusCode != 503 || !strings.HasPrefix(body, "upstream connect error or disconnect/reset before headers. reset reason: ") {
		t.Errorf("no retry policy: %d %q", resp.StatusCode, body)
	}
}

// hangingUpstream never answers until the test ends.
func hangingUpstream(t *testing.T, name string) *testutil.Upstream {
	stop := make(chan struct{})
	up := testutil.StartUpstream(t, name, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() { close(stop) })
	return up
}

func TestPerTryTimeoutRetriesAnotherHostAndRouteTimeoutCoversAll(t *testing.T) {
	hang := hangingUpstream(t, "hang")
	good := testutil.StartUpstream(t, "good", nil)
	gw := testutil.StartGateway(t, routeConfig(`, timeout: 2s, retry: {on: [5xx], attempts: 2, per_try_timeout: 100ms, backoff: {base_interval: 1ms}}`,
		"  - {name: svc, endpoints: ["+hang.Addr()+", "+good.Addr()+"]}\n"))
	for i := range 6 {
		start := time.Now()
		resp, body := get(t, gw.URL("public")+"/t")
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %q, want 200 from the other host", i, resp.StatusCode, body)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("request %d took %v: the per-try timeout did not cut the hanging try", i, d)
		}
	}
	if hang.Count() == 0 {
		t.Fatal("the hanging host got no request: the test proves nothing")
	}
	if v := promValue(t, gw, "envoy_cluster_upstream_rq_per_try_timeout", "svc"); v != float64(hang.Count()) {
		t.Errorf("upstream_rq_per_try_timeout = %v, want %d", v, hang.Count())
	}

	// Every host hangs: the route timeout (300ms) ends all the tries with Envoy's 504.
	hang2 := hangingUpstream(t, "hang2")
	gw2 := testutil.StartGateway(t, routeConfig(`, timeout: 300ms, retry: {on: [5xx], attempts: 10, per_try_timeout: 100ms, backoff: {base_interval: 1ms}}`,
		"  - {name: svc, endpoints: ["+hang.Addr()+", "+hang2.Addr()+"]}\n"))
	start := time.Now()
	resp, body := get(t, gw2.URL("public")+"/t")
	d := time.Since(start)
	if resp.StatusCode != 504 || body != "upstream request timeout" {
		t.Errorf("all hosts hang: %d %q, want 504 upstream request timeout", resp.StatusCode, body)
	}
	if d < 250*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("all hosts hang: answered after %v, want about the 300ms route timeout", d)
	}
	if v := promValue(t, gw2, "envoy_cluster_upstream_rq_timeout", "svc"); v != 1 {
		t.Errorf("upstream_rq_timeout = %v, want 1", v)
	}
}

func TestRetryLimitReturnsTheLastResponse(t *testing.T) {
	up := testutil.StartUpstream(t, "up", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Try", r.Header.Get("X-Envoy-Attempt-Count"))
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "upstream says no")
	}))
	gw := testutil.StartGateway(t, routeConfig(`, retry: {on: [5xx], attempts: 2, backoff: {base_interval: 1ms}}`,
		"  - {name: svc, endpoints: ["+up.Addr()+"], circuit_breakers: {max_retries: 10}}\n"))
	resp, body := get(t, gw.URL("public")+"/")
	if resp.StatusCode != 503 || body != "upstream says no" {
		t.Errorf("got %d %q, want the upstream's own 503", resp.StatusCode, body)
	}
	if up.Count() != 3 {
		t.Errorf("upstream saw %d tries, want 3", up.Count())
	}
	if v := promValue(t, gw, "envoy_cluster_upstream_rq_retry_limit_exceeded", "svc"); v != 1 {
		t.Errorf("upstream_rq_retry_limit_exceeded = %v, want 1", v)
	}
}

func TestCircuitBreakerOverflowFailsFast(t *testing.T) {
	release := make(chan struct{})
	var seen atomic.Int64
	up := testutil.StartUpstream(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		<-release
		io.WriteString(w, "done")
	}))
	gw := testutil.StartGateway(t, routeConfig(``, fmt.Sprintf(`  - name: svc
    endpoints: [%s]
    circuit_breakers: {max_connections: 1, max_pending_requests: 1}
`, up.Addr())))
	base := gw.URL("public")
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(base + "/held")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	// One request holds the connection, the other waits as pending.
	waitFor(t, func() bool {
		return seen.Load() == 1 && promValue(t, gw, "envoy_cluster_upstream_rq_pending_active", "svc") == 1
	})
	if v := promValue(t, gw, "envoy_cluster_circuit_breakers_default_rq_pending_open", "svc"); v != 1 {
		t.Errorf("circuit_breakers.default.rq_pending_open = %v, want 1", v)
	}
	start := time.Now()
	resp, body := get(t, base+"/third")
	if resp.StatusCode != 503 || resp.Header.Get("X-Envoy-Overloaded") != "true" ||
		body != "upstream connect error or disconnect/reset before headers. reset reason: overflow" {
		t.Errorf("third request: %d overloaded=%q %q", resp.StatusCode, resp.Header.Get("X-Envoy-Overloaded"), body)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("the overflow took %v: it must fail fast", d)
	}
	close(release)
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Errorf("held requests got %v, want both 200 (the pending one once the first is done)", codes)
	}
	if seen.Load() != 2 {
		t.Errorf("upstream saw %d requests, want 2: the overflowing one must never reach it", seen.Load())
	}
	if v := promValue(t, gw, "envoy_cluster_upstream_rq_pending_overflow", "svc"); v != 1 {
		t.Errorf("upstream_rq_pending_overflow = %v, want 1", v)
	}
	if v := promValue(t, gw, "envoy_cluster_upstream_cx_overflow", "svc"); v < 2 {
		t.Errorf("upstream_cx_overflow = %v, want >= 2", v)
	}
	waitFor(t, func() bool {
		return promValue(t, gw, "envoy_cluster_circuit_breakers_default_rq_pending_open", "svc") == 0
	})
}

func TestMaxRetriesBreakerStopsRetries(t *testing.T) {
	release := make(chan struct{})
	var n atomic.Int64
	up := testutil.StartUpstream(t, "up", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(503) // the first request retries, and its retry hangs
			return
		}
		if r.URL.Path == "/hold" {
			<-release
		}
		w.WriteHeader(503)
	}))
	defer close(release)
	gw := testutil.StartGateway(t, routeConfig(`, retry: {on: [5xx], attempts: 5, backoff: {base_interval: 1ms}}`, fmt.Sprintf(`  - name: svc
    endpoints: [%s]
    circuit_breakers: {max_retries: 1}
`, up.Addr())))
	go func() {
		resp, err := http.Get(gw.URL("public") + "/hold")
		if err == nil {
			resp.Body.Close()
		}
	}()
	waitFor(t, func() bool { return n.Load() == 2 }) // the retry of /hold holds the only retry slot
	resp, _ := get(t, gw.URL("public")+"/other")
	if resp.StatusCode != 503 {
		t.Errorf("status %d, want the upstream's 503 without a retry", resp.StatusCode)
	}
	if n.Load() != 3 {
		t.Errorf("upstream saw %d requests, want 3 (no retry for /other)", n.Load())
	}
	if v := promValue(t, gw, "envoy_cluster_upstream_rq_retry_overflow", "svc"); v != 1 {
		t.Errorf("upstream_rq_retry_overflow = %v, want 1", v)
	}
}

func TestMirrorSendsShadowCopiesWithoutAffectingTheClient(t *testing.T) {
	primary := testutil.StartUpstream(t, "primary", nil)
	var mu sync.Mutex
	var shadowSeen []string
	shadow := testutil.StartUpstream(t, "shadow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		shadowSeen = append(shadowSeen, r.Host+" "+string(b))
		mu.Unlock()
		if r.URL.Path == "/slow" {
			time.Sleep(2 * time.Second) // a slow, failing shadow
		}
		w.WriteHeader(http.StatusInternalServerError)
	}))
	gw := testutil.StartGateway(t, routeConfig(`, mirror: [{cluster: shadow}]`, fmt.Sprintf(`  - {name: svc, endpoints: [%s]}
  - {name: shadow, endpoints: [%s]}
`, primary.Addr(), shadow.Addr())))
	req, _ := http.NewRequest("POST", gw.URL("public")+"/m", strings.NewReader("copy me"))
	req.Host = "foo:8000"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Upstream") != "primary" {
		t.Errorf("client got %d from %q, want 200 from primary", resp.StatusCode, resp.Header.Get("X-Upstream"))
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(shadowSeen) == 1 })
	mu.Lock()
	if shadowSeen[0] != "foo-shadow:8000 copy me" {
		t.Errorf("shadow saw %q, want host foo-shadow:8000 and the body", shadowSeen[0])
	}
	mu.Unlock()
	if primary.Last().Host != "foo:8000" {
		t.Errorf("primary saw host %q", primary.Last().Host)
	}

	// A slow shadow adds no latency.
	start := time.Now()
	resp, _ = get(t, gw.URL("public")+"/slow")
	if resp.StatusCode != 200 {
		t.Errorf("slow shadow: client got %d", resp.StatusCode)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("slow shadow: the client waited %v", d)
	}
	waitFor(t, func() bool { return promValue(t, gw, "envoy_cluster_upstream_rq_total", "shadow") == 2 })
}

func TestEnvoyRetryHeadersHonouredOnlyFromInternalClients(t *testing.T) {
	var n atomic.Int64
	up := testutil.StartUpstream(t, "up", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Envoy-Retry-On") != "" || r.Header.Get("X-Envoy-Max-Retries") != "" {
			w.WriteHeader(http.StatusTeapot) // consumed headers must not reach the upstream
			return
		}
		if n.Add(1)%3 != 0 {
			w.WriteHeader(503)
			return
		}
		w.Header().Set("X-Internal", r.Header.Get("X-Envoy-Internal"))
		io.WriteString(w, "ok")
	}))
	gw := testutil.StartGateway(t, routeConfig(``, "  - {name: svc, endpoints: ["+up.Addr()+"]}\n"))
	// From loopback without x-forwarded-for: internal. Two retries: 503, 503, 200.
	resp, body := get(t, gw.URL("public")+"/", "X-Envoy-Retry-On", "5xx", "X-Envoy-Max-Retries", "2")
	if resp.StatusCode != 200 || body != "ok" || resp.Header.Get("X-Internal") != "true" {
		t.Errorf("internal client: %d %q internal=%q, want 200 ok after two retries", resp.StatusCode, body, resp.Header.Get("X-Internal"))
	}
	if n.Load() != 3 {
		t.Errorf("upstream saw %d tries, want 3", n.Load())
	}
	// With an external address in x-forwarded-for the request is external: headers stripped.
	n.Store(0)
	resp, _ = get(t, gw.URL("public")+"/", "X-Envoy-Retry-On", "5xx", "X-Envoy-Max-Retries", "2", "X-Forwarded-For", "203.0.113.9")
	if resp.StatusCode != 503 || n.Load() != 1 {
		t.Errorf("external client: %d after %d tries, want 503 after 1", resp.StatusCode, n.Load())
	}
	// x-envoy-upstream-rq-timeout-ms from an internal client replaces the route timeout.
	hang := hangingUpstream(t, "hang")
	gw2 := testutil.StartGateway(t, routeConfig(``, "  - {name: svc, endpoints: ["+hang.Addr()+"]}\n"))
	start := time.Now()
	resp, body = get(t, gw2.URL("public")+"/", "X-Envoy-Upstream-Rq-Timeout-Ms", "150")
	if resp.StatusCode != 504 || body != "upstream request timeout" || time.Since(start) > 2*time.Second {
		t.Errorf("x-envoy-upstream-rq-timeout-ms: %d %q after %v", resp.StatusCode, body, time.Since(start))
	}
	if got := hang.Last().Header.Get("X-Envoy-Expected-Rq-Timeout-Ms"); got != "150" {
		t.Errorf("x-envoy-expected-rq-timeout-ms = %q, want 150", got)
	}
}

func TestStreamIdleAndRequestTimeouts(t *testing.T) {
	hang := hangingUpstream(t, "hang")
	gw := testutil.StartGateway(t, fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners:
  - name: public
    address: 127.0.0.1:0
    idle_timeout: 200ms
    request_timeout: 300ms
    virtual_hosts:
      - domains: ["*"]
        routes:
          - {match: {prefix: /noidle}, cluster: svc, timeout: 400ms, idle_timeout: 0s}
          - {match: {prefix: /upload}, cluster: svc, timeout: 0s, idle_timeout: 0s}
          - {match: {prefix: /}, cluster: svc, timeout: 0s}
clusters:
  - {name: svc, endpoints: [%s]}
`, hang.Addr()))
	// The upstream never answers and the route has no timeout: the idle timeout fires.
	start := time.Now()
	resp, body := get(t, gw.URL("public")+"/idle")
	if resp.StatusCode != 408 || body != "stream timeout" {
		t.Errorf("idle upstream: %d %q, want 408 stream timeout", resp.StatusCode, body)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("idle upstream: answered after %v, want about 200ms", d)
	}
	if v := promValue(t, gw, "envoy_http_downstream_rq_idle_timeout", "public"); v != 1 {
		t.Errorf("downstream_rq_idle_timeout = %v, want 1", v)
	}
	// A route may turn the idle timeout off: its own timeout answers instead.
	resp, body = get(t, gw.URL("public")+"/noidle")
	if resp.StatusCode != 504 || body != "upstream request timeout" {
		t.Errorf("route without idle timeout: %d %q, want 504", resp.StatusCode, body)
	}

	// A client that stops sending its body: the request timeout answers 408.
	conn, err := net.Dial("tcp", strings.TrimPrefix(gw.URL("public"), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("stalled body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 408 || string(b) != "request timeout" {
		t.Errorf("stalled body: %d %q, want 408 request timeout", resp.StatusCode, b)
	}
	if v := promValue(t, gw, "envoy_http_downstream_rq_timeout", "public"); v != 1 {
		t.Errorf("downstream_rq_timeout = %v, want 1", v)
	}
}

// waitFor polls cond for up to 3 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for a condition")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
