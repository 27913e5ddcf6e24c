package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/testutil"
)

func clusterConfig(upstreams ...*testutil.Upstream) string {
	addrs := make([]string, len(upstreams))
	for i, u := range upstreams {
		addrs[i] = u.Addr()
	}
	return "[" + strings.Join(addrs, ", ") + "]"
}

// TestHotReloadUnderLoad swaps the config back and forth while clients keep sending requests:
// not one request may fail, and each answer comes from the upstream the config in force names.
func TestHotReloadUnderLoad(t *testing.T) {
	blue := testutil.StartUpstream(t, "blue", nil)
	green := testutil.StartUpstream(t, "green", nil)
	headersKB := 60
	cfg := func(up *testutil.Upstream) string {
		return fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners:
  - name: public
    address: 127.0.0.1:0
    max_request_headers_kb: %d
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            cluster: app
clusters:
  - name: app
    endpoints: [%s]
`, headersKB, up.Addr())
	}
	// Port 0 would rebind on every reload; pin the port the first start got.
	gw := testutil.StartGateway(t, cfg(blue))
	addr := strings.TrimPrefix(gw.URL("public"), "http://")
	admin := strings.TrimPrefix(gw.AdminURL(), "http://")
	pin := func(s string) string {
		s = strings.Replace(s, `address: 127.0.0.1:0`, "address: "+addr, 1)
		return strings.Replace(s, `"127.0.0.1:0"`, `"`+admin+`"`, 1)
	}
	if err := gw.Rewrite(pin(cfg(blue))); err != nil {
		t.Fatal(err)
	}

	var failures, total atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	keepAlive := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} // a new connection per request
	for i := 0; i < 8; i++ {
		client := keepAlive
		if i%2 == 1 {
			client = fresh
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get("http://" + addr + "/")
				total.Add(1)
				if err != nil {
					failures.Add(1)
					t.Logf("request failed (keep-alive %v): %v", client == keepAlive, err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failures.Add(1)
					t.Logf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		up := green
		if i%2 == 1 {
			up = blue
		}
		if i%4 == 0 {
			// A socket-level setting changes: the listener's server is replaced on the same
			// address while clients keep connecting.
			headersKB = 60 + i
		}
		if err := gw.Rewrite(pin(cfg(up))); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A broken config is refused and the last good one keeps serving.
	if err := gw.Rewrite(pin(cfg(blue)) + "\n  - name: broken\n    endpoints: [nope]\n"); err == nil {
		t.Fatal("an invalid config was accepted")
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d of %d requests failed during reloads", failures.Load(), total.Load())
	}
	if blue.Count() == 0 || green.Count() == 0 {
		t.Fatalf("blue %d green %d: both configs should have served", blue.Count(), green.Count())
	}
	resp, body := get(t, "http://"+addr+"/")
	if resp.Header.Get("X-Upstream") != "blue" {
		t.Fatalf("after the rejected reload the answer came from %q (%s)", resp.Header.Get("X-Upstream"), body)
	}
	t.Logf("%d requests, 0 failed, across 20 reloads", total.Load())
}

func TestLoadBalancingAcrossEndpoints(t *testing.T) {
	ups := []*testutil.Upstream{
		testutil.StartUpstream(t, "u0", nil), testutil.StartUpstream(t, "u1", nil), testutil.StartUpstream(t, "u2", nil),
	}
	for _, policy := range []string{"round_robin", "least_request", "random", "ring_hash", "maglev"} {
		t.Run(policy, func(t *testing.T) {
			hash := ""
			if policy == "ring_hash" || policy == "maglev" {
				hash = "\n    hash_policy: [{header: x-user}]"
			}
			gw := testutil.StartGateway(t, fmt.Sprintf(`
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            cluster: app
clusters:
  - name: app
    lb: %s%s
    endpoints: %s
`, policy, hash, clusterConfig(ups...)))
			counts := map[string]int{}
			const n = 600
			for i := 0; i < n; i++ {
				resp, _ := get(t, gw.URL("public")+"/", "X-User", fmt.Sprintf("user-%d", i))
				counts[resp.Header.Get("X-Upstream")]++
			}
			for _, u := range ups {
				if c := counts[u.Name]; c < n/3-n/6 || c > n/3+n/6 {
					t.Errorf("%s got %d of %d: %v", u.Name, c, n, counts)
				}
			}
			if hash != "" { // the same key always reaches the same endpoint
				first, _ := get(t, gw.URL("public")+"/", "X-User", "alice")
				for i := 0; i < 20; i++ {
					resp, _ := get(t, gw.URL("public")+"/", "X-User", "alice")
					if resp.Header.Get("X-Upstream") != first.Header.Get("X-Upstream") {
						t.Fatalf("alice moved from %s to %s", first.Header.Get("X-Upstream"), resp.Header.Get("X-Upstream"))
					}
				}
			}
		})
	}
}

func TestWeightedClustersAndEndpointWeights(t *testing.T) {
	a := testutil.StartUpstream(t, "a", nil)
	b := testutil.StartUpstream(t, "b", nil)
	c := testutil.StartUpstream(t, "c", nil)
	gw := testutil.StartGateway(t, fmt.Sprintf(`
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /split}
            weighted_clusters: [{name: ca, weight: 80}, {name: cb, weight: 20}, {name: cc, weight: 0}]
          - match: {prefix: /weights}
            cluster: ab
clusters:
  - {name: ca, endpoints: [%s]}
  - {name: cb, endpoints: [%s]}
  - {name: cc, endpoints: [%s]}
  - name: ab
    endpoints: [{address: %s, weight: 3}, {address: %s, weight: 1}]
`, a.Addr(), b.Addr(), c.Addr(), a.Addr(), b.Addr()))
	count := func(path string, n int) map[string]int {
		m := map[string]int{}
		for i := 0; i < n; i++ {
			resp, _ := get(t, gw.URL("public")+path)
			m[resp.Header.Get("X-Upstream")]++
		}
		return m
	}
	split := count("/split", 1000)
	if split["c"] != 0 || split["a"] < 730 || split["a"] > 870 {
		t.Errorf("weighted clusters 80/20/0: %v", split)
	}
	w := count("/weights", 400)
	if w["a"] != 300 || w["b"] != 100 {
		t.Errorf("endpoint weights 3:1 with round robin: %v", w)
	}
}

func adminGet(t *testing.T, gw *testutil.Gateway, path string) (int, string) {
	t.Helper()
	resp, body := get(t, gw.AdminURL()+path)
	return resp.StatusCode, body
}

func TestAdmin(t *testing.T) {
	up := testutil.StartUpstream(t, "svc", nil)
	gw := testutil.StartGateway(t, fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            cluster: svc
            request_headers_to_add: [{name: authorization, value: "Bearer sk-very-secret"}]
clusters:
  - name: svc
    endpoints: [%s]
`, up.Addr()))
	for i := 0; i < 3; i++ {
		get(t, gw.URL("public")+"/")
	}
	if code, body := adminGet(t, gw, "/ready"); code != 200 || body != "LIVE\n" {
		t.Errorf("/ready: %d %q", code, body)
	}
	_, info := adminGet(t, gw, "/server_info")
	var si map[string]any
	if err := json.Unmarshal([]byte(info), &si); err != nil || si["state"] != "LIVE" {
		t.Errorf("/server_info: %v %s", err, info)
	}
	_, clusters := adminGet(t, gw, "/clusters")
	if !strings.Contains(clusters, "svc::"+up.Addr()+"::health_flags::healthy") {
		t.Errorf("/clusters:\n%s", clusters)
	}
	_, stats := adminGet(t, gw, "/stats")
	for _, want := range []string{
		"http.public.downstream_rq_total: 3", "http.public.downstream_rq_2xx: 3",
		"cluster.svc.upstream_rq_total: 3", "cluster.svc.upstream_rq_200: 3", "cluster.svc.upstream_rq_2xx: 3",
		"cluster.svc.upstream_cx_active: 1", "cluster.svc.upstream_rq_time: P0(",
	} {
		if !strings.Contains(stats, want) {
			t.Errorf("/stats lacks %q", want)
		}
	}
	_, filtered := adminGet(t, gw, `/stats?filter=^cluster\.svc\.upstream_rq_total$`)
	if filtered != "cluster.svc.upstream_rq_total: 3\n" {
		t.Errorf("filtered stats %q", filtered)
	}
	_, prom := adminGet(t, gw, "/stats/prometheus")
	for _, want := range []string{
		`envoy_http_downstream_rq_total{envoy_http_conn_manager_prefix="public"} 3`,
		`envoy_cluster_upstream_rq_total{envoy_cluster_name="svc"} 3`,
		`envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="svc",le="0.5"}`,
		`envoy_http_downstream_cx_active{envoy_http_conn_manager_prefix="public"}`,
	} {
		if !strings.Contains(prom, want) {
			t.Errorf("/stats/prometheus lacks %q", want)
		}
	}
	_, dump := adminGet(t, gw, "/config_dump")
	var d map[string]any
	if err := json.Unmarshal([]byte(dump), &d); err != nil {
		t.Fatalf("/config_dump is not JSON: %v", err)
	}
	if strings.Contains(dump, "sk-very-secret") || !strings.Contains(dump, "[redacted]") {
		t.Errorf("/config_dump shows a secret header value:\n%s", dump)
	}
	if !strings.Contains(dump, up.Addr()) {
		t.Errorf("/config_dump lacks the cluster endpoint:\n%s", dump)
	}
}

func TestAccessLogEnvoyFormatAndJSON(t *testing.T) {
	up := testutil.StartUpstream(t, "svc", nil)
	dir := t.TempDir()
	gw := testutil.StartGateway(t, fmt.Sprintf(`
listeners:
  - name: public
    address: 127.0.0.1:0
    access_log:
      - path: stdout
      - path: %s/access.json
        json: {code: "%%RESPONSE_CODE%%", method: "%%REQ(:METHOD)%%", path: "%%REQ(:PATH)%%", upstream: "%%UPSTREAM_HOST%%", flags: "%%RESPONSE_FLAGS%%"}
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /svc}
            cluster: svc
clusters:
  - name: svc
    endpoints: [%s]
`, dir, up.Addr()))
	get(t, gw.URL("public")+"/svc/a", "User-Agent", "e2e-agent")
	get(t, gw.URL("public")+"/missing")
	var lines []string
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		lines = strings.Split(strings.TrimSpace(gw.Stdout()), "\n")
		if len(lines) >= 2 {
			break
		}
	}
	if len(lines) != 2 {
		t.Fatalf("stdout access log: %q", gw.Stdout())
	}
	if !strings.Contains(lines[0], `"GET /svc/a HTTP/1.1" 200 - 0 `) || !strings.Contains(lines[0], `"e2e-agent"`) || !strings.HasSuffix(lines[0], `"`+up.Addr()+`"`) {
		t.Errorf("line 1: %s", lines[0])
	}
	if !strings.Contains(lines[1], `"GET /missing HTTP/1.1" 404 NR 0 0 `) {
		t.Errorf("line 2: %s", lines[1])
	}
	_ = gw.Shutdown(t.Context()) // flushes the file logger
	b, err := readFileEventually(dir + "/access.json")
	if err != nil {
		t.Fatal(err)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(strings.Split(b, "\n")[0]), &first); err != nil {
		t.Fatalf("json line: %v: %s", err, b)
	}
	if first["code"] != float64(200) || first["path"] != "/svc/a" || first["upstream"] != up.Addr() {
		t.Errorf("json entry %v", first)
	}
}

func readFileEventually(path string) (string, error) {
	var last error
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			return string(b), nil
		}
		last = err
	}
	return "", fmt.Errorf("%s stayed empty: %v", path, last)
}

// TestReloadAddsMovesAndRemovesListeners: listeners come and go with the config; a listener
// may take over the address another one leaves in the same reload.
func TestReloadAddsMovesAndRemovesListeners(t *testing.T) {
	a1, b1 := freeAddr(t), freeAddr(t)
	listener := func(name, addr string) string {
		return fmt.Sprintf(`
  - name: %s
    address: %s
    virtual_hosts:
      - domains: ["*"]
        routes: [{match: {prefix: /}, direct_response: {status: 200, body: %s}}]`, name, addr, name)
	}
	gw := testutil.StartGateway(t, "listeners:"+listener("a", a1))
	body := func(addr string) string {
		t.Helper()
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return "refused"
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := body(a1); got != "a" {
		t.Fatalf("a: %q", got)
	}
	if err := gw.Rewrite("listeners:" + listener("a", a1) + listener("b", b1)); err != nil {
		t.Fatal(err)
	}
	if got := body(a1) + "," + body(b1); got != "a,b" {
		t.Fatalf("after adding b: %q", got)
	}
	if err := gw.Rewrite("listeners:" + listener("b", a1)); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
	if got := body(a1); got != "b" {
		t.Fatalf("b moved to a's address: %q", got)
	}
	var last string
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if last = body(b1); last == "refused" {
			return
		}
	}
	t.Fatalf("b's old address still answers: %q", last)
}
