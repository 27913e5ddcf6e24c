package router

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

// routeFor loads a one-vhost table and returns the route matching target.
func routeFor(t *testing.T, tb *Table, target string) *Route {
	t.Helper()
	r := tb.Match(request("GET", "example.com", target))
	if r == nil {
		t.Fatalf("no route for %s", target)
	}
	return r
}

func TestRewritePath(t *testing.T) {
	tb := tableFor(t, `
virtual_hosts:
  - domains: ["*"]
    routes:
      - {match: {prefix: /prefix/}, prefix_rewrite: /, cluster: a}
      - {match: {prefix: /prefix}, prefix_rewrite: /root, cluster: a}
      - {match: {path: /exact}, prefix_rewrite: /other, cluster: a}
      - {match: {path_separated_prefix: /sep}, prefix_rewrite: /new, cluster: a}
      - {match: {regex: "/rx/[a-z]+"}, prefix_rewrite: /whole, cluster: a}
      - {match: {prefix: /re/}, regex_rewrite: {pattern: "^/re/([^/]+)/([^/]+)$", substitution: '/\2/\1'}, cluster: a}
      - {match: {prefix: /all/}, regex_rewrite: {pattern: "o", substitution: "0"}, cluster: a}
      - {match: {prefix: /esc/}, regex_rewrite: {pattern: "^/esc/(.*)$", substitution: '/$x\\\0'}, cluster: a}
      - {match: {prefix: /}, cluster: a}
`)
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"/prefix/etc?a=1", "/etc?a=1", true},
		{"/prefix", "/root", true},
		{"/prefixed?x", "/rooted?x", true},
		{"/exact?q=1", "/other?q=1", true},
		{"/sep/a?b", "/new/a?b", true},
		{"/sep?b", "/new?b", true},
		{"/rx/abc?keep=1", "/whole?keep=1", true},
		{"/re/one/two?q=/re/x/y", "/two/one?q=/re/x/y", true},
		{"/re/one/two/three", "/re/one/two/three", true}, // no match: unchanged, still a rewrite route
		{"/all/foo/boo?o=o", "/all/f00/b00?o=o", true},
		{"/esc/p", `/$x\/esc/p`, true},
		{"/none?x", "/none?x", false},
	} {
		r := routeFor(t, tb, tc.in)
		if got, ok := r.RewritePath(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("RewritePath(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTranslateSubstitution(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: `/\1/\2`, want: `/${1}/${2}`},
		{in: `\0$1`, want: `${0}$$1`},
		{in: `a\\b`, want: `a\b`},
		{in: `\3`, err: "back reference \\3 refers to a group the pattern does not have (it has 2)"},
		{in: `\n`, err: `invalid escape \n in "\\n": use \0-\9 for groups and \\ for a backslash`},
		{in: `x\`, err: `a lone \ ends "x\\": write \\ for a backslash`},
	} {
		got, err := translateSubstitution(tc.in, 2)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("translateSubstitution(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("translateSubstitution(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestPickCluster(t *testing.T) {
	tb := tableFor(t, `
virtual_hosts:
  - domains: ["*"]
    routes:
      - match: {prefix: /w}
        weighted_clusters: [{name: a, weight: 80}, {name: b, weight: 0}, {name: c, weight: 20}]
      - match: {prefix: /z}
        weighted_clusters: [{name: a, weight: 0}, {name: b, weight: 1}]
      - {match: {prefix: /}, cluster: d}
`)
	w := routeFor(t, tb, "/w")
	if w.Action != ActionWeightedClusters || w.TotalWeight() != 100 {
		t.Fatalf("action %v total %d", w.Action, w.TotalWeight())
	}
	for rnd, want := range map[uint64]string{
		0: "a", 79: "a", 80: "c", 99: "c",
		100: "a", 179: "a", 180: "c", 1<<64 - 1: "a", // modulo the total: (2^64-1) % 100 = 15
	} {
		if got := w.PickCluster(rnd); got != want {
			t.Errorf("PickCluster(%d) = %q, want %q", rnd, got, want)
		}
	}
	counts := map[string]int{}
	for rnd := range uint64(10000) {
		counts[w.PickCluster(rnd)]++
	}
	if counts["a"] != 8000 || counts["c"] != 2000 || counts["b"] != 0 {
		t.Errorf("split = %v, want a 8000, c 2000, b never (weight 0)", counts)
	}
	z := routeFor(t, tb, "/z")
	for _, rnd := range []uint64{0, 1, 2, 1 << 40} {
		if got := z.PickCluster(rnd); got != "b" {
			t.Errorf("PickCluster(%d) = %q: a weight-0 cluster was chosen", rnd, got)
		}
	}
	d := routeFor(t, tb, "/other")
	if d.Action != ActionCluster || d.PickCluster(12345) != "d" || d.TotalWeight() != 0 {
		t.Errorf("plain cluster route: %v %q", d.Action, d.PickCluster(12345))
	}
}

func TestRedirect(t *testing.T) {
	tb := tableFor(t, `
virtual_hosts:
  - domains: ["*"]
    routes:
      - {match: {prefix: /https}, redirect: {https_redirect: true}}
      - {match: {prefix: /strip}, redirect: {https_redirect: true, strip_query: true}}
      - {match: {prefix: /temp}, redirect: {https_redirect: true, response_code: 307}}
      - {match: {prefix: /host}, redirect: {host_redirect: new.example.com}}
      - {match: {prefix: /port}, redirect: {port_redirect: 8443}}
      - {match: {prefix: /hp}, redirect: {host_redirect: "new.example.com:1", port_redirect: 8443}}
      - {match: {prefix: /path}, redirect: {path_redirect: /new/place}}
      - {match: {prefix: /pq}, redirect: {path_redirect: "/new?own=1", strip_query: true}}
      - {match: {prefix: /old/}, redirect: {prefix_rewrite: /new/, response_code: 302}}
      - {match: {prefix: /scheme}, redirect: {scheme_redirect: http}}
      - {match: {prefix: /nq}, redirect: {path_redirect: /x, strip_query: true}}
`)
	for _, tc := range []struct {
		host, target, scheme string
		want                 string
		code                 int
	}{
		// Conformance case 16.
		{"foo.com", "/https/a?b=1", "http", "https://foo.com/https/a?b=1", 301},
		{"foo.com", "/strip/a?b=1", "http", "https://foo.com/strip/a", 301},
		{"foo.com", "/temp", "http", "https://foo.com/temp", 307},
		// A scheme change drops the old scheme's default port only.
		{"foo.com:80", "/https", "http", "https://foo.com/https", 301},
		{"foo.com:8080", "/https", "http", "https://foo.com:8080/https", 301},
		{"foo.com:443", "/https", "https", "https://foo.com:443/https", 301},
		{"[::1]:80", "/https", "http", "https://[::1]/https", 301},
		{"foo.com:443", "/scheme", "https", "http://foo.com/scheme", 301},
		{"foo.com", "/host/x?y", "http", "http://new.example.com/host/x?y", 301},
		{"foo.com:9000", "/host", "https", "https://new.example.com/host", 301},
		{"foo.com:9000", "/port/x", "http", "http://foo.com:8443/port/x", 301},
		{"foo.com", "/port", "http", "http://foo.com:8443/port", 301},
		{"foo.com", "/hp", "http", "http://new.example.com:8443/hp", 301},
		{"foo.com", "/path?q=1", "http", "http://foo.com/new/place?q=1", 301},
		{"foo.com", "/pq?q=1", "http", "http://foo.com/new?own=1", 301},
		{"foo.com", "/old/a/b?c", "http", "http://foo.com/new/a/b?c", 302},
		{"foo.com", "/nq?q=1", "http", "http://foo.com/x", 301},
	} {
		req := request("GET", tc.host, tc.target)
		r := tb.Match(req)
		if r == nil || r.Action != ActionRedirect {
			t.Fatalf("%s: no redirect route", tc.target)
		}
		got, code := r.Redirect(req, tc.scheme)
		if got != tc.want || code != tc.code {
			t.Errorf("%s %s%s: Redirect = %q %d, want %q %d", tc.scheme, tc.host, tc.target, got, code, tc.want, tc.code)
		}
	}
	// Absolute-form request-target (a forward-proxy style request line).
	req := request("GET", "foo.com", "http://foo.com/https/a?b=1")
	if got, _ := tb.Match(req).Redirect(req, "http"); got != "https://foo.com/https/a?b=1" {
		t.Errorf("absolute form: %q", got)
	}
}

func TestDirectResponse(t *testing.T) {
	tb := tableFor(t, `
virtual_hosts:
  - domains: ["*"]
    routes:
      - {match: {path: /ok}, direct_response: {status: 200, body: ok}}
      - {match: {path: /json}, direct_response: {status: 201, body: "{}", content_type: application/json}}
      - {match: {path: /empty}, direct_response: {status: 204}}
`)
	for _, tc := range []struct {
		target, body, ctype string
		status              int
	}{
		{"/ok", "ok", "text/plain", 200}, // conformance case 17
		{"/json", "{}", "application/json", 201},
		{"/empty", "", "", 204},
	} {
		r := routeFor(t, tb, tc.target)
		status, body, ctype := r.DirectResponse()
		if r.Action != ActionDirectResponse || status != tc.status || string(body) != tc.body || ctype != tc.ctype {
			t.Errorf("%s: %v %d %q %q; want %d %q %q", tc.target, r.Action, status, body, ctype, tc.status, tc.body, tc.ctype)
		}
		if r.Timeout != 0 {
			t.Errorf("%s: a direct response has no upstream timeout, got %v", tc.target, r.Timeout)
		}
	}
}

func TestHeaderMutations(t *testing.T) {
	tb := tableFor(t, `
virtual_hosts:
  - name: vh
    domains: ["*"]
    request_headers_to_add:
      - {name: x-vh, value: vh}
      - {name: x-route-set, value: vh-wins, append: false}
      - {name: x-both, value: from-vh}
    request_headers_to_remove: [x-added-by-route]
    response_headers_to_add: [{name: server-timing, value: vh}]
    response_headers_to_remove: [x-secret]
    routes:
      - match: {prefix: /}
        cluster: a
        request_headers_to_add:
          - {name: x-append, value: two}
          - {name: x-replace, value: new, append: false}
          - {name: x-route-set, value: route}
          - {name: x-both, value: from-route}
          - {name: x-added-by-route, value: gone}
        request_headers_to_remove: [x-remove, x-replace]
        response_headers_to_add: [{name: server-timing, value: route}]
`)
	r := routeFor(t, tb, "/")
	h := http.Header{
		"X-Append":  {"one"},
		"X-Replace": {"old1", "old2"},
		"X-Remove":  {"bye"},
		"X-Keep":    {"k"},
	}
	r.ApplyRequestHeaders(h)
	want := http.Header{
		"X-Append":    {"one", "two"},
		"X-Replace":   {"new"},
		"X-Keep":      {"k"},
		"X-Route-Set": {"vh-wins"}, // the vhost applies after the route and replaces
		"X-Both":      {"from-route", "from-vh"},
		"X-Vh":        {"vh"},
		// x-added-by-route: added by the route, then removed by the vhost (removes come first
		// at each level, levels run route then vhost). x-empty: empty values are dropped.
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("request headers:\n got %v\nwant %v", h, want)
	}
	resp := http.Header{"X-Secret": {"s"}, "Server-Timing": {"up"}}
	r.ApplyResponseHeaders(resp)
	if want := (http.Header{"Server-Timing": {"up", "route", "vh"}}); !reflect.DeepEqual(resp, want) {
		t.Errorf("response headers: got %v, want %v", resp, want)
	}
}

func TestRouteFields(t *testing.T) {
	cfg := configFor(t, `
filters:
  - local_ratelimit: {max_tokens: 1}
virtual_hosts:
  - name: vh
    domains: ["*"]
    routes:
      - name: r1
        match: {prefix: /a}
        cluster: a
        timeout: 250ms
        host_rewrite: upstream.internal
        filters:
          local_ratelimit: {disabled: true}
      - {name: r2, match: {prefix: /b}, cluster: b, auto_host_rewrite: true, timeout: 0s}
`)
	tb, err := New(cfg, "listeners[0]", &cfg.Listeners[0])
	if err != nil {
		t.Fatal(err)
	}
	r1 := routeFor(t, tb, "/a")
	if r1.Name != "r1" || r1.VirtualHost != "vh" || r1.Cluster != "a" || r1.Timeout != 250*time.Millisecond ||
		r1.Config != &cfg.Listeners[0].VirtualHosts[0].Routes[0] {
		t.Errorf("r1 = %+v", r1)
	}
	if lit, auto := r1.HostRewrite(); lit != "upstream.internal" || auto {
		t.Errorf("HostRewrite = %q, %v", lit, auto)
	}
	n, ok := r1.FilterConfig("local_ratelimit")
	var v struct{ Disabled bool }
	if !ok || n.Decode(&v) != nil || !v.Disabled {
		t.Errorf("FilterConfig = %v, %v (%+v)", n, ok, v)
	}
	if _, ok := r1.FilterConfig("cors"); ok {
		t.Error("FilterConfig(cors) is set")
	}
	r2 := routeFor(t, tb, "/b")
	if lit, auto := r2.HostRewrite(); lit != "" || !auto {
		t.Errorf("HostRewrite = %q, %v", lit, auto)
	}
	if r2.Timeout != 0 {
		t.Errorf("timeout 0s = %v, want 0 (disabled)", r2.Timeout)
	}
	if _, ok := r2.FilterConfig("local_ratelimit"); ok {
		t.Error("r2 has no per-route filter config")
	}
}

func TestActionKindString(t *testing.T) {
	for k, want := range map[ActionKind]string{
		ActionCluster: "cluster", ActionWeightedClusters: "weighted_clusters",
		ActionDirectResponse: "direct_response", ActionRedirect: "redirect", 9: "ActionKind(9)",
	} {
		if k.String() != want {
			t.Errorf("%d.String() = %q", k, k.String())
		}
	}
}
