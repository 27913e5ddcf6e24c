package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/testutil"
)

// healthUpstream is an upstream whose /healthz answers 200, or 503 while failing is set;
// every other path echoes.
type healthUpstream struct {
	*testutil.Upstream
	failing atomic.Bool
	checks  atomic.Int64
}

func startHealthUpstream(t *testing.T, name string) *healthUpstream {
	t.Helper()
	u := &healthUpstream{}
	echo := testutil.Echo(name)
	u.Upstream = testutil.StartUpstream(t, name, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			echo(w, r)
			return
		}
		u.checks.Add(1)
		if r.UserAgent() != "Envoy/HC" || r.Host != "svc" {
			t.Errorf("health check with user-agent %q and host %q", r.UserAgent(), r.Host)
		}
		if u.failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	return u
}

// healthConfig is a gateway config whose cluster svc has the given endpoints and fields.
func healthConfig(fields string, endpoints ...string) string {
	return testutil.ProxyConfig("svc", endpoints...) + indentBlock(fields, "    ") + "admin: {address: 127.0.0.1:0}\n"
}

func indentBlock(s, pad string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.Trim(s, "\n"), "\n") {
		b.WriteString(pad + l + "\n")
	}
	return b.String()
}

// within polls cond every few milliseconds until it holds, failing the test after 5s.
func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// adminBody returns the body of an admin page.
func adminBody(t *testing.T, g *testutil.Gateway, path string) string {
	t.Helper()
	_, body := adminGet(t, g, path)
	return body
}

// healthFlags returns the health_flags of every endpoint of svc from the /clusters text.
func healthFlags(t *testing.T, g *testutil.Gateway) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(adminBody(t, g, "/clusters"), "\n") {
		parts := strings.Split(line, "::")
		if len(parts) == 4 && parts[0] == "svc" && parts[2] == "health_flags" {
			out[parts[1]] = parts[3]
		}
	}
	return out
}

// spread sends n requests and counts the answers by upstream name (x-upstream), or by
// status for answers that did not come from an upstream.
func spread(t *testing.T, g *testutil.Gateway, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		resp, _ := get(t, g.URL("public")+"/work")
		if u := resp.Header.Get("X-Upstream"); u != "" && resp.StatusCode == 200 {
			got[u]++
		} else {
			got[fmt.Sprint(resp.StatusCode)]++
		}
	}
	return got
}

// TestHealthCheckFailingEndpointLeavesAndRejoins: an endpoint whose health check fails
// stops receiving requests, and gets them again once its checks pass; a reload that keeps
// the cluster keeps what the checks learnt.
func TestHealthCheckFailingEndpointLeavesAndRejoins(t *testing.T) {
	a, b := startHealthUpstream(t, "a"), startHealthUpstream(t, "b")
	cfg := healthConfig(`health_check:
  http: {path: /healthz}
  interval: 20ms
  no_traffic_interval: 20ms
  timeout: 1s
  healthy_threshold: 2`, a.Addr(), b.Addr())
	g := testutil.StartGateway(t, cfg)

	// Start waited for the first round: both endpoints are in from the first request.
	if f := healthFlags(t, g); f[a.Addr()] != "healthy" || f[b.Addr()] != "healthy" {
		t.Fatalf("health_flags after start: %v", f)
	}
	if got := spread(t, g, 10); got["a"] == 0 || got["b"] == 0 {
		t.Fatalf("both endpoints should take traffic: %v", got)
	}

	a.failing.Store(true)
	within(t, "a to fail its health check", func() bool { return healthFlags(t, g)[a.Addr()] == "/failed_active_hc" })
	if got := spread(t, g, 20); got["b"] != 20 {
		t.Errorf("with a failing its checks, every request should go to b: %v", got)
	}
	if v := g.Stat("cluster.svc.membership_healthy"); v != "1" {
		t.Errorf("membership_healthy = %s, want 1", v)
	}
	if v := g.Stat("cluster.svc.health_check.healthy"); v != "1" {
		t.Errorf("health_check.healthy = %s, want 1", v)
	}
	if v := g.Stat("cluster.svc.health_check.failure"); v == "" || v == "0" {
		t.Errorf("health_check.failure = %q", v)
	}

	// A reload with the same cluster keeps it, with its health: a is out at once, with no
	// new first check deciding.
	if err := g.Rewrite(cfg + "# reloaded\n"); err != nil {
		t.Fatal(err)
	}
	if f := healthFlags(t, g); f[a.Addr()] != "/failed_active_hc" {
		t.Errorf("after a reload that keeps the cluster, a's flags are %q", f[a.Addr()])
	}

	a.failing.Store(false)
	within(t, "a to pass its checks again", func() bool { return healthFlags(t, g)[a.Addr()] == "healthy" })
	if got := spread(t, g, 10); got["a"] == 0 || got["b"] == 0 {
		t.Errorf("a is healthy again and should take traffic: %v", got)
	}
	// Every check the upstreams saw was counted as an attempt (a few more may be on their way).
	seen := a.checks.Load() + b.checks.Load()
	if attempts, _ := strconv.ParseInt(g.Stat("cluster.svc.health_check.attempt"), 10, 64); attempts < seen {
		t.Errorf("health_check.attempt = %d, but the upstreams saw %d checks", attempts, seen)
	}
}

// TestOutlierDetectionEjectsKilledEndpoint kills one of three endpoints under load: outlier
// detection ejects it after consecutive_5xx failures and the traffic carries on, all of it
// answered by the two others.
func TestOutlierDetectionEjectsKilledEndpoint(t *testing.T) {
	us := []*testutil.Upstream{
		testutil.StartUpstream(t, "a", nil), testutil.StartUpstream(t, "b", nil), testutil.StartUpstream(t, "c", nil),
	}
	g := testutil.StartGateway(t, healthConfig(`outlier_detection:
  consecutive_5xx: 3
  interval: 50ms
  base_ejection_time: 1m
  max_ejection_percent: 50`, us[0].Addr(), us[1].Addr(), us[2].Addr()))

	var (
		stop           atomic.Bool
		mu             sync.Mutex
		failures, oks  int
		wg             sync.WaitGroup
		killed         = us[2]
		afterEjection  atomic.Bool
		lateFailures   atomic.Int64
		lateFromKilled atomic.Int64
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				late := afterEjection.Load() // started once the ejection was seen
				resp, err := http.Get(g.URL("public") + "/load")
				if err != nil {
					t.Errorf("request: %v", err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				if resp.StatusCode == 200 {
					oks++
				} else {
					failures++
				}
				mu.Unlock()
				if late && resp.StatusCode != 200 {
					lateFailures.Add(1)
				}
				if late && resp.Header.Get("X-Upstream") == "c" {
					lateFromKilled.Add(1)
				}
			}
		}()
	}
	within(t, "traffic to flow to c", func() bool { return killed.Count() > 5 })
	killed.CloseClientConnections()
	killed.Close()

	within(t, "c to be ejected", func() bool { return healthFlags(t, g)[killed.Addr()] == "/failed_outlier_check" })
	afterEjection.Store(true)
	before := us[0].Count() + us[1].Count()
	within(t, "traffic to carry on", func() bool { return us[0].Count()+us[1].Count() > before+50 })
	stop.Store(true)
	wg.Wait()

	if n := lateFailures.Load(); n != 0 {
		t.Errorf("%d requests failed after the ejection", n)
	}
	if n := lateFromKilled.Load(); n != 0 {
		t.Errorf("%d requests went to the ejected endpoint", n)
	}
	// Until the ejection, the killed endpoint fails the requests that reach it: at most
	// consecutive_5xx, plus those already on their way when it died.
	if failures > 3+4 {
		t.Errorf("%d requests failed (of %d), want at most the 3 consecutive failures and those in flight", failures, failures+oks)
	}
	for _, f := range []string{"a", "b"} {
		if flag := healthFlags(t, g)[us[map[string]int{"a": 0, "b": 1}[f]].Addr()]; flag != "healthy" {
			t.Errorf("%s: health_flags %q", f, flag)
		}
	}

	prom := adminBody(t, g, "/stats/prometheus")
	for _, want := range []string{
		`envoy_cluster_outlier_detection_ejections_active{envoy_cluster_name="svc"} 1`,
		`envoy_cluster_outlier_detection_ejections_enforced_total{envoy_cluster_name="svc"} 1`,
		`envoy_cluster_outlier_detection_ejections_enforced_consecutive_5xx{envoy_cluster_name="svc"} 1`,
		`envoy_cluster_outlier_detection_ejections_detected_consecutive_5xx{envoy_cluster_name="svc"} 1`,
		`envoy_cluster_membership_healthy{envoy_cluster_name="svc"} 2`,
	} {
		if !strings.Contains(prom, want+"\n") {
			t.Errorf("/stats/prometheus lacks %s", want)
		}
	}
	if v := g.Stat("cluster.svc.outlier_detection.ejections_active"); v != "1" {
		t.Errorf("/stats outlier_detection.ejections_active = %q, want 1", v)
	}

	var doc struct {
		ClusterStatuses []struct {
			Name  string `json:"name"`
			Hosts []struct {
				Address      string          `json:"address"`
				HealthFlags  string          `json:"health_flags"`
				HealthStatus map[string]any  `json:"health_status"`
				SuccessRate  json.RawMessage `json:"success_rate"`
			} `json:"host_statuses"`
		} `json:"cluster_statuses"`
	}
	if err := json.Unmarshal([]byte(adminBody(t, g, "/clusters?format=json")), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, h := range doc.ClusterStatuses[0].Hosts {
		if h.Address == killed.Addr() {
			found = true
			if h.HealthStatus["failed_outlier_check"] != true || h.HealthStatus["eds_health_status"] != "HEALTHY" || h.HealthFlags != "/failed_outlier_check" {
				t.Errorf("json host status: %+v", h)
			}
		}
	}
	if !found {
		t.Errorf("no json status for %s", killed.Addr())
	}
	text := adminBody(t, g, "/clusters")
	for _, want := range []string{"svc::outlier::success_rate_average::", "svc::" + killed.Addr() + "::success_rate::"} {
		if !strings.Contains(text, want) {
			t.Errorf("/clusters lacks %s", want)
		}
	}
}

// TestPanicThreshold: below healthy_panic_threshold healthy endpoints, traffic spreads over
// every endpoint, unhealthy ones included (Envoy's panic mode); with the threshold at 0 an
// all-unhealthy cluster answers 503 instead.
func TestPanicThreshold(t *testing.T) {
	tests := []struct {
		name      string
		threshold string
		failing   int      // of 3 endpoints, from the first
		want      []string // who answers
		panic     bool
	}{
		{"one of three unhealthy", "", 1, []string{"b", "c"}, false},
		{"two of three unhealthy: panic", "", 2, []string{"a", "b", "c"}, true},
		{"all unhealthy: panic", "", 3, []string{"a", "b", "c"}, true},
		{"threshold 70: 67% healthy is below", "healthy_panic_threshold: 70", 1, []string{"a", "b", "c"}, true},
		{"panic disabled", "healthy_panic_threshold: 0", 3, []string{"503"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			us := []*healthUpstream{startHealthUpstream(t, "a"), startHealthUpstream(t, "b"), startHealthUpstream(t, "c")}
			for _, u := range us[:tt.failing] {
				u.failing.Store(true)
			}
			g := testutil.StartGateway(t, healthConfig(`health_check: {http: {path: /healthz}, interval: 1h, timeout: 1s}
`+tt.threshold, us[0].Addr(), us[1].Addr(), us[2].Addr()))
			got := spread(t, g, 60)
			for _, w := range tt.want {
				if got[w] == 0 {
					t.Errorf("answers %v: want some from %s", got, w)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("answers %v: want only %v", got, tt.want)
			}
			if v := g.Stat("cluster.svc.lb_healthy_panic"); (v == "60") != tt.panic {
				t.Errorf("lb_healthy_panic = %s after 60 requests, panic %v", v, tt.panic)
			}
		})
	}
}

// TestEnvoyHealthChecks loads an Envoy bootstrap with an HTTP health check (half-open
// expected_statuses) and outlier detection: the endpoint whose check fails is out.
func TestEnvoyHealthChecks(t *testing.T) {
	a, b := startHealthUpstream(t, "a"), startHealthUpstream(t, "b")
	b.failing.Store(true)
	endpoint := func(addr string) string {
		host, port, _ := strings.Cut(addr, ":")
		return fmt.Sprintf("              - endpoint: {address: {socket_address: {address: %s, port_value: %s}}}\n", host, port)
	}
	g := testutil.StartGateway(t, `admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
    - name: public
      address: {socket_address: {address: 127.0.0.1, port_value: 0}}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
                route_config:
                  virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: svc}}]}]
  clusters:
    - name: svc
      health_checks:
        - timeout: 1s
          interval: 0.02s
          no_traffic_interval: 0.02s
          unhealthy_threshold: 2
          healthy_threshold: 1
          http_health_check: {path: /healthz, expected_statuses: [{start: 200, end: 201}]}
      outlier_detection: {consecutive_5xx: 3}
      common_lb_config: {healthy_panic_threshold: {value: 0}}
      load_assignment:
        cluster_name: svc
        endpoints:
          - lb_endpoints:
`+endpoint(a.Addr())+endpoint(b.Addr()))
	if f := healthFlags(t, g); f[a.Addr()] != "healthy" || f[b.Addr()] != "/failed_active_hc" {
		t.Fatalf("health_flags: %v", f)
	}
	if got := spread(t, g, 10); got["a"] != 10 {
		t.Errorf("answers %v: want all from a", got)
	}
	b.failing.Store(false)
	within(t, "b to pass its check", func() bool { return healthFlags(t, g)[b.Addr()] == "healthy" })
}
