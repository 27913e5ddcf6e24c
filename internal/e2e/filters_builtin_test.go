package e2e_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	_ "github.com/pylon-gateway/pylon/internal/filter/cors"
	_ "github.com/pylon-gateway/pylon/internal/filter/localratelimit"
	"github.com/pylon-gateway/pylon/internal/testutil"
)

// sendRequest sends a request with any method and headers (name, value pairs).
func sendRequest(t *testing.T, method, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, string(b)
}

// accessLogLines waits for n access log lines on the gateway's stdout.
func accessLogLines(t *testing.T, gw *testutil.Gateway, n int) []string {
	t.Helper()
	var lines []string
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if lines = strings.Split(strings.TrimSpace(gw.Stdout()), "\n"); len(lines) >= n {
			return lines
		}
	}
	t.Fatalf("want %d access log lines, got %q", n, gw.Stdout())
	return nil
}

// TestLocalRateLimitConformanceCase18 is case 18 of section 9 of
// shared/reference/envoy-semantics.md: a per-route bucket {max_tokens: 2, tokens_per_fill: 2,
// fill_interval: 60s} lets requests 1-2 through and answers request 3 with 429
// local_rate_limited. (Envoy also needs filter_enabled/filter_enforced at 100%; in Pylon a
// configured filter is enabled and enforced.)
func TestLocalRateLimitConformanceCase18(t *testing.T) {
	up := testutil.StartUpstream(t, "svc", nil)
	gw := testutil.StartGateway(t, fmt.Sprintf(`
listeners:
  - name: ingress_http
    address: 127.0.0.1:0
    access_log:
      - path: stdout
        format: "%%REQ(:PATH)%% %%RESPONSE_CODE%% %%RESPONSE_FLAGS%% %%RESPONSE_CODE_DETAILS%%\n"
    filters:
      - local_ratelimit: {}
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /limited}
            cluster: svc
            filters:
              local_ratelimit: {max_tokens: 2, tokens_per_fill: 2, fill_interval: 60s}
          - match: {prefix: /}
            cluster: svc
clusters:
  - name: svc
    endpoints: [%s]
`, up.Addr()))
	base := gw.URL("ingress_http")
	for i := 1; i <= 3; i++ {
		resp, body := get(t, base+"/limited")
		if i <= 2 {
			if resp.StatusCode != 200 || resp.Header.Get("X-Upstream") != "svc" {
				t.Fatalf("request %d: %d %q, want 200 from the upstream", i, resp.StatusCode, body)
			}
			continue
		}
		if resp.StatusCode != 429 || body != "local_rate_limited" {
			t.Fatalf("request 3: %d %q, want 429 local_rate_limited", resp.StatusCode, body)
		}
		for k, v := range map[string]string{"X-Envoy-Ratelimited": "true", "Content-Type": "text/plain", "Content-Length": "18"} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("request 3: %s = %q, want %q", k, got, v)
			}
		}
	}
	if up.Count() != 2 {
		t.Errorf("the upstream saw %d requests, want 2", up.Count())
	}
	// The listener-level filter has no bucket: other routes are never limited.
	for i := range 10 {
		if resp, _ := get(t, base+"/other"); resp.StatusCode != 200 {
			t.Fatalf("/other request %d: %d", i+1, resp.StatusCode)
		}
	}
	lines := accessLogLines(t, gw, 13)
	if lines[1] != "/limited 200 - via_upstream" || lines[2] != "/limited 429 RL local_rate_limited" {
		t.Errorf("access log:\n%s", strings.Join(lines, "\n"))
	}
}

func TestLocalRateLimitListenerBucketDisabledAndOwnBuckets(t *testing.T) {
	up := testutil.StartUpstream(t, "svc", nil)
	gw := testutil.StartGateway(t, fmt.Sprintf(`
listeners:
  - name: public
    address: 127.0.0.1:0
    filters:
      - local_ratelimit:
          max_tokens: 3
          fill_interval: 1h
          enable_x_ratelimit_headers: true
          response_headers_to_add: [{name: x-limited-by, value: listener}]
    virtual_hosts:
      - domains: ["*"]
        routes:
          - {match: {prefix: /a}, cluster: svc}
          - {match: {prefix: /b}, direct_response: {status: 200, body: b}}
          - match: {prefix: /off}
            cluster: svc
            filters: {local_ratelimit: {disabled: true}}
          - match: {prefix: /own}
            cluster: svc
            filters: {local_ratelimit: {max_tokens: 1, fill_interval: 1h, status: 503}}
clusters:
  - name: svc
    endpoints: [%s]
`, up.Addr()))
	base := gw.URL("public")
	// One bucket of 3 for /a and /b together.
	steps := []struct {
		path                        string
		status                      int
		remaining, reset, limitedBy string
	}{
		{"/a", 200, "2", "0", ""},
		{"/b", 200, "1", "0", ""},
		{"/a", 200, "0", "3600", ""},
		{"/b", 429, "0", "3600", "listener"},
		{"/a", 429, "0", "3600", "listener"},
	}
	for i, s := range steps {
		resp, body := get(t, base+s.path)
		h := resp.Header
		if resp.StatusCode != s.status || h.Get("X-Ratelimit-Limit") != "3" || h.Get("X-Ratelimit-Remaining") != s.remaining ||
			h.Get("X-Ratelimit-Reset") != s.reset || h.Get("X-Limited-By") != s.limitedBy {
			t.Errorf("step %d %s: %d %q limit=%q remaining=%q reset=%q x-limited-by=%q; want %d remaining=%s reset=%s x-limited-by=%q",
				i+1, s.path, resp.StatusCode, body, h.Get("X-Ratelimit-Limit"), h.Get("X-Ratelimit-Remaining"), h.Get("X-Ratelimit-Reset"), h.Get("X-Limited-By"),
				s.status, s.remaining, s.reset, s.limitedBy)
		}
	}
	// disabled: true: never limited, and no rate limit headers.
	for i := range 20 {
		resp, _ := get(t, base+"/off")
		if resp.StatusCode != 200 || resp.Header.Get("X-Ratelimit-Limit") != "" {
			t.Fatalf("/off request %d: %d, x-ratelimit-limit %q", i+1, resp.StatusCode, resp.Header.Get("X-Ratelimit-Limit"))
		}
	}
	// A route override has its own bucket (untouched by the empty listener bucket) and
	// replaces the whole config: its own status, no inherited headers.
	if resp, _ := get(t, base+"/own"); resp.StatusCode != 200 {
		t.Fatalf("/own first request: %d", resp.StatusCode)
	}
	resp, body := get(t, base+"/own")
	if resp.StatusCode != 503 || body != "local_rate_limited" || resp.Header.Get("X-Limited-By") != "" || resp.Header.Get("X-Ratelimit-Limit") != "" {
		t.Fatalf("/own second request: %d %q %v", resp.StatusCode, body, resp.Header)
	}
}

func TestCORSPreflightActualAndPerRoute(t *testing.T) {
	up := testutil.StartUpstream(t, "svc", nil)
	gw := testutil.StartGateway(t, fmt.Sprintf(`
listeners:
  - name: public
    address: 127.0.0.1:0
    filters:
      - cors:
          allow_origins: ["https://app.example.com", "*.example.org"]
          allow_methods: [GET, POST, PUT]
          allow_headers: [content-type, authorization]
          expose_headers: [x-upstream]
          max_age: 10m
          allow_credentials: true
      - local_ratelimit: {}
    virtual_hosts:
      - domains: ["*"]
        routes:
          - {match: {prefix: /api}, cluster: svc}
          - match: {prefix: /open}
            cluster: svc
            filters: {cors: {allow_origins: ["*"]}}
          - match: {prefix: /nocors}
            cluster: svc
            filters: {cors: {disabled: true}}
          - match: {prefix: /tiny}
            cluster: svc
            filters: {local_ratelimit: {max_tokens: 1, fill_interval: 1h}}
clusters:
  - name: svc
    endpoints: [%s]
`, up.Addr()))
	base := gw.URL("public")
	const app, sub, evil = "https://app.example.com", "https://x.example.org", "https://evil.example.com"
	cases := []struct {
		name    string
		method  string
		path    string
		hdr     []string
		status  int
		reached bool
		want    map[string]string // "" = absent
	}{
		{
			name: "preflight answered by pylon", method: "OPTIONS", path: "/api",
			hdr:    []string{"Origin", app, "Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "content-type"},
			status: 200,
			want: map[string]string{
				"Access-Control-Allow-Origin": app, "Access-Control-Allow-Methods": "GET,POST,PUT",
				"Access-Control-Allow-Headers": "content-type,authorization", "Access-Control-Max-Age": "600",
				"Access-Control-Allow-Credentials": "true", "Vary": "Origin", "Content-Length": "0",
			},
		},
		{
			name: "preflight from a disallowed origin is forwarded", method: "OPTIONS", path: "/api",
			hdr:    []string{"Origin", evil, "Access-Control-Request-Method", "PUT"},
			status: 200, reached: true,
			want: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "", "X-Upstream": "svc"},
		},
		{
			name: "actual request from a subdomain", method: "GET", path: "/api", hdr: []string{"Origin", sub},
			status: 200, reached: true,
			want: map[string]string{
				"Access-Control-Allow-Origin": sub, "Access-Control-Allow-Credentials": "true",
				"Access-Control-Expose-Headers": "x-upstream", "Vary": "Origin", "X-Upstream": "svc",
				"Access-Control-Allow-Methods": "",
			},
		},
		{
			name: "actual request from a disallowed origin", method: "POST", path: "/api", hdr: []string{"Origin", evil},
			status: 200, reached: true,
			want: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Credentials": "", "Vary": ""},
		},
		{
			name: "no origin", method: "GET", path: "/api",
			status: 200, reached: true,
			want: map[string]string{"Access-Control-Allow-Origin": "", "Vary": ""},
		},
		{
			name: "route policy replaces the listener's", method: "GET", path: "/open", hdr: []string{"Origin", evil},
			status: 200, reached: true,
			want: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "", "Access-Control-Expose-Headers": ""},
		},
		{
			name: "route with cors disabled forwards preflights", method: "OPTIONS", path: "/nocors",
			hdr:    []string{"Origin", app, "Access-Control-Request-Method", "PUT"},
			status: 200, reached: true,
			want: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "first request on a tiny bucket", method: "GET", path: "/tiny", hdr: []string{"Origin", app},
			status: 200, reached: true,
			want: map[string]string{"Access-Control-Allow-Origin": app},
		},
		{
			name: "a later filter's 429 carries the CORS headers", method: "GET", path: "/tiny", hdr: []string{"Origin", app},
			status: 429,
			want:   map[string]string{"Access-Control-Allow-Origin": app, "Access-Control-Allow-Credentials": "true", "X-Envoy-Ratelimited": "true"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := up.Count()
			resp, body := sendRequest(t, tc.method, base+tc.path, tc.hdr...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %q, want %d", resp.StatusCode, body, tc.status)
			}
			if reached := up.Count() > before; reached != tc.reached {
				t.Fatalf("upstream reached = %v, want %v", reached, tc.reached)
			}
			for k, v := range tc.want {
				if got := strings.Join(resp.Header.Values(k), ","); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tc.reached && tc.method == "OPTIONS" {
				if seen := up.Last(); seen.Method != "OPTIONS" || seen.Header.Get("Origin") == "" || seen.Header.Get("Access-Control-Request-Method") != "PUT" {
					t.Errorf("the forwarded preflight was changed: %s %v", seen.Method, seen.Header)
				}
			}
		})
	}
}

func TestBuiltinFilterConfigErrors(t *testing.T) {
	cases := []struct {
		name    string
		filters string
		route   string
		want    []string
	}{
		{
			name:    "listener-level fill_interval",
			filters: `[{local_ratelimit: {max_tokens: 5, fill_interval: 10ms}}]`,
			want:    []string{"listeners[0].filters[0].local_ratelimit", "fill_interval: must be at least 50ms, got 10ms"},
		},
		{
			name:    "listener-level max_tokens",
			filters: `[{local_ratelimit: {fill_interval: 1s}}]`,
			want:    []string{"listeners[0].filters[0].local_ratelimit", "max_tokens: is required"},
		},
		{
			name:    "unknown field",
			filters: `[{cors: {allow_origins: ["*"]}}, {local_ratelimit: {max_tokens: 1, fill_interval: 1s, burst: 2}}]`,
			want:    []string{"listeners[0].filters[1].local_ratelimit", "burst: unknown field"},
		},
		{
			name:    "route-level regex",
			filters: `[cors]`,
			route:   `{cors: {allow_origin_regex: ["(bad"]}}`,
			want:    []string{"listeners[0].virtual_hosts[0].routes[0].filters.cors", "allow_origin_regex[0]: invalid regular expression"},
		},
		{
			name:    "route-level bucket required",
			filters: `[local_ratelimit]`,
			route:   `{local_ratelimit: {status: 503}}`,
			want:    []string{"listeners[0].virtual_hosts[0].routes[0].filters.local_ratelimit", "max_tokens: is required"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			route := ""
			if tc.route != "" {
				route = "\n            filters: " + tc.route
			}
			path := writeConfig(t, fmt.Sprintf(`
listeners:
  - name: public
    address: 127.0.0.1:0
    filters: %s
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            direct_response: {status: 200}%s
`, tc.filters, route))
			gw, err := startErr(path)
			if err == nil {
				gw.Shutdown(t.Context())
				t.Fatal("the config was accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
