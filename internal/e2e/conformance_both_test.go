package e2e_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/testutil"
)

// TestConformanceBothFrontDoors runs the conformance cases of section 9 of
// shared/reference/envoy-semantics.md ("given this config and this request, Envoy answers
// this") against both config front doors. Each case writes its config twice, once as Pylon
// YAML and once as an Envoy v3 bootstrap (static_resources), starts a Pylon from each (with
// fresh upstreams), sends the same requests and asserts Envoy's answer: status, the headers
// named in the case (absent ones included) and the body. Every answer is also written to a
// transcript, and the two front doors' transcripts must be identical.
//
// Two Envoy defaults differ from Pylon's on purpose (docs/config.md, "Differences from
// Envoy"), so the Pylon YAML spells them out where a case depends on them:
// `server_name: envoy` (every case) and `use_remote_address: false` (case 12).
//
//	case (section 9 number)                        Pylon YAML  Envoy v3
//	1  domain matching                               yes         yes
//	1  domain matching, ignore_port_in_host_matching yes         yes
//	2  routing order, path, path_separated_prefix    yes         yes
//	3  case-insensitive prefix + prefix_rewrite      yes         yes
//	4  header matches (exact, present_match: false)  yes         yes
//	5  no route: 404                                 yes         yes
//	6  cluster_header                                no          no  (neither front door has cluster_header)
//	7  no healthy upstream: 503                      yes         yes
//	8  connect failure: 503 body                     yes         yes
//	9  route timeout: 504                            yes         yes
//	10 headers set upstream and downstream           yes         yes
//	11 retries on 5xx, retry exhaustion              yes         yes
//	12 x-envoy-retry-on only from internal clients   yes         yes
//	13 retriable-4xx                                 yes         yes
//	14 circuit breaker overflow                      yes         yes
//	15 request mirroring                             yes         yes
//	16 redirects                                     yes         yes
//	17 direct response                               yes         yes
//	18 local rate limit 429 + x-ratelimit headers    yes         yes
//	19 weighted clusters                             yes         yes
//	20 outlier ejection (2 hosts; 1 host: panic)     yes         yes
//	21 stream idle timeout: 408                      yes         yes
//	22 jwt_authn                                     no          no  (no jwt_authn filter yet)
//	23 admin /ready (health_check filter: no)        yes         yes
//	-  health-checked endpoint out of rotation       yes         yes
//	-  CORS preflight                                yes         yes
func TestConformanceBothFrontDoors(t *testing.T) {
	for _, c := range bothCases {
		t.Run(c.name, func(t *testing.T) {
			if c.neither != "" {
				t.Skip("neither front door can express this case: " + c.neither)
			}
			transcripts := map[string][]string{}
			for _, door := range []string{"pylon", "envoy"} {
				t.Run(door, func(t *testing.T) {
					d := &frontDoor{t: t, door: door}
					defer func() { transcripts[door] = d.log }()
					c.run(d)
				})
			}
			p, e := transcripts["pylon"], transcripts["envoy"]
			for i := 0; i < len(p) || i < len(e); i++ {
				var pl, el string
				if i < len(p) {
					pl = p[i]
				}
				if i < len(e) {
					el = e[i]
				}
				if pl != el {
					t.Errorf("the front doors differ at answer %d:\n  pylon: %s\n  envoy: %s", i+1, pl, el)
				}
			}
			if testing.Verbose() && !t.Failed() {
				t.Logf("both front doors answered:\n  %s", strings.Join(p, "\n  "))
			}
		})
	}
}

// bothCase is one conformance case; run is called once per front door.
type bothCase struct {
	name    string
	neither string // why neither front door can express the case (the case is skipped)
	run     func(d *frontDoor)
}

// frontDoor runs a case against a Pylon started from one of the two configs.
type frontDoor struct {
	t    *testing.T
	door string // "pylon" or "envoy"
	g    *testutil.Gateway
	log  []string
}

// pylonParts and envoyParts are a case's config in each front door; listener-level fields,
// virtual hosts and clusters are YAML blocks written from column 0.
type pylonParts struct{ listener, vhosts, clusters string }

type envoyParts struct{ hcm, routeConfig, filters, vhosts, clusters string }

// start starts Pylon from the case's config in this front door.
func (d *frontDoor) start(p pylonParts, e envoyParts) *testutil.Gateway {
	d.t.Helper()
	var cfg string
	if d.door == "pylon" {
		cfg = `admin: {address: "127.0.0.1:0"}
listeners:
  - name: ingress_http
    address: 127.0.0.1:0
    server_name: envoy
` + indentOrEmpty(p.listener, "    ") + `    virtual_hosts:
` + indentBlock(p.vhosts, "      ") + "clusters:\n" + indentOrEmpty(p.clusters, "  ")
		if p.clusters == "" {
			cfg = strings.TrimSuffix(cfg, "clusters:\n")
		}
	} else {
		cfg = `admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
    - name: ingress_http
      address: {socket_address: {address: 127.0.0.1, port_value: 0}}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress_http
` + indentOrEmpty(e.hcm, "                ") + `                http_filters:
` + indentOrEmpty(e.filters, "                  ") + `                  - name: envoy.filters.http.router
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
                route_config:
                  name: local_route
` + indentOrEmpty(e.routeConfig, "                  ") + `                  virtual_hosts:
` + indentBlock(e.vhosts, "                    ")
		if e.clusters != "" {
			cfg += "  clusters:\n" + indentBlock(e.clusters, "    ")
		}
	}
	d.g = testutil.StartGateway(d.t, cfg)
	return d.g
}

func indentOrEmpty(s, pad string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return indentBlock(s, pad)
}

// pylonCluster and envoyCluster write one cluster as a YAML flow list item; fields are extra
// flow-map fields (", " separated, no leading comma).
func pylonCluster(name, fields string, addrs ...string) string {
	if fields != "" {
		fields = ", " + fields
	}
	return fmt.Sprintf("- {name: %s, endpoints: [%s]%s}\n", name, strings.Join(addrs, ", "), fields)
}

func envoyCluster(name, fields string, addrs ...string) string {
	if fields != "" {
		fields = ", " + fields
	}
	eps := make([]string, len(addrs))
	for i, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		eps[i] = fmt.Sprintf("{endpoint: {address: {socket_address: {address: %s, port_value: %s}}}}", host, port)
	}
	return fmt.Sprintf("- {name: %s, connect_timeout: 1s%s, load_assignment: {cluster_name: %s, endpoints: [{lb_endpoints: [%s]}]}}\n",
		name, fields, name, strings.Join(eps, ", "))
}

// exchange is a request and the answer Envoy gives to it.
type exchange struct {
	method, path string
	hdr          []string // name, value pairs; "host" sets the authority
	status       int
	want         map[string]string // header -> value; "" = absent, "*" = present
	body         *string           // nil: not checked
	bodyPrefix   string
}

func str(s string) *string { return &s }

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// expect sends the exchange's request, checks the answer and writes it to the transcript.
func (d *frontDoor) expect(x exchange) *http.Response {
	d.t.Helper()
	if x.method == "" {
		x.method = "GET"
	}
	req, err := http.NewRequest(x.method, d.g.URL("ingress_http")+x.path, nil)
	if err != nil {
		d.t.Fatal(err)
	}
	for i := 0; i+1 < len(x.hdr); i += 2 {
		if strings.EqualFold(x.hdr[i], "host") {
			req.Host = x.hdr[i+1]
			continue
		}
		req.Header.Set(x.hdr[i], x.hdr[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", x.method, x.path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		d.t.Fatalf("%s %s: reading body: %v", x.method, x.path, err)
	}
	body := string(b)
	what := fmt.Sprintf("%s %s %v", x.method, x.path, x.hdr)
	if resp.StatusCode != x.status {
		d.t.Errorf("%s: status %d (body %q), want %d", what, resp.StatusCode, body, x.status)
	}
	keys := make([]string, 0, len(x.want))
	for k := range x.want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var seen []string
	for _, k := range keys {
		got := strings.Join(resp.Header.Values(k), ",")
		switch w := x.want[k]; {
		case w == "*" && got == "":
			d.t.Errorf("%s: no %s header", what, k)
		case w == "*":
			got = "(present)"
		case got != w:
			d.t.Errorf("%s: %s = %q, want %q", what, k, got, w)
		}
		seen = append(seen, k+"="+got)
	}
	if x.body != nil && body != *x.body {
		d.t.Errorf("%s: body %q, want %q", what, body, *x.body)
	}
	if x.bodyPrefix != "" && !strings.HasPrefix(body, x.bodyPrefix) {
		d.t.Errorf("%s: body %q, want it to start with %q", what, body, x.bodyPrefix)
	}
	if x.body == nil && x.bodyPrefix == "" {
		body = "(body not checked)"
	}
	d.note("%s -> %d [%s] %q", what, resp.StatusCode, strings.Join(seen, " "), body)
	return resp
}

// note writes a line to the transcript.
func (d *frontDoor) note(format string, args ...any) {
	d.log = append(d.log, fmt.Sprintf(format, args...))
}

// stat checks one admin /stats value and writes it to the transcript.
func (d *frontDoor) stat(name, want string) {
	d.t.Helper()
	got := d.g.Stat(name)
	if got != want {
		d.t.Errorf("stat %s = %q, want %q", name, got, want)
	}
	d.note("stat %s = %s", name, got)
}

// reflectUpstream answers 200 with its name as the body, and reflects what it received in
// x-seen-* response headers, so that a case can assert on what reached it.
func reflectUpstream(t *testing.T, name string) *testutil.Upstream {
	return testutil.StartUpstream(t, name, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Upstream", name)
		h.Set("Server", "upstream")
		h.Set("X-Seen-Path", r.RequestURI)
		h.Set("X-Seen-Host", r.Host)
		for _, k := range []string{"X-Envoy-Original-Path", "X-Forwarded-Proto", "X-Forwarded-For",
			"X-Envoy-Expected-Rq-Timeout-Ms", "X-Envoy-Internal"} {
			if v := r.Header.Get(k); v != "" {
				h.Set("X-Seen-"+k, v)
			}
		}
		if id := r.Header.Get("X-Request-Id"); len(id) == 36 && id[14] == '4' {
			h.Set("X-Seen-Request-Id", "uuid4")
		}
		io.WriteString(w, name)
	}))
}

// scriptedUpstream answers the nth request (from 0) with codes[n] (the last code repeats)
// and the body "<name> <code>".
func scriptedUpstream(t *testing.T, name string, codes ...int) *testutil.Upstream {
	var n atomic.Int64
	return testutil.StartUpstream(t, name, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1) - 1)
		code := codes[min(i, len(codes)-1)]
		w.Header().Set("X-Upstream", name)
		w.WriteHeader(code)
		fmt.Fprintf(w, "%s %d", name, code)
	}))
}

const (
	lrlType  = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"
	corsType = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"
)

var bothCases = []bothCase{
	{name: "01 domain matching", run: func(d *frontDoor) {
		vh := func(body string) string {
			return "routes: [{match: {prefix: /}, direct_response: {status: 200, body: " + body + "}}]"
		}
		d.start(pylonParts{vhosts: `
- {name: a, domains: [www.foo.com], ` + vh("a") + `}
- {name: b, domains: ["*.foo.com"], ` + vh("b") + `}
- {name: c, domains: ["foo.*"], ` + vh("c") + `}
- {name: d, domains: ["*"], ` + vh("d") + `}
`}, envoyParts{vhosts: `
- {name: a, domains: [www.foo.com], routes: [{match: {prefix: /}, direct_response: {status: 200, body: {inline_string: a}}}]}
- {name: b, domains: ["*.foo.com"], routes: [{match: {prefix: /}, direct_response: {status: 200, body: {inline_string: b}}}]}
- {name: c, domains: ["foo.*"], routes: [{match: {prefix: /}, direct_response: {status: 200, body: {inline_string: c}}}]}
- {name: d, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200, body: {inline_string: d}}}]}
`})
		for _, c := range []struct{ host, want string }{
			{"WWW.FOO.COM", "a"}, {"x.y.foo.com", "b"}, {"foo.bar", "c"}, {"foo.com", "c"}, {"bar.com", "d"}, {".foo.com", "d"}, {"www.foo.com:8080", "d"},
		} {
			d.expect(exchange{path: "/", hdr: []string{"host", c.host}, status: 200, body: str(c.want)})
		}
	}},
	{name: "01 domain matching ignoring the port", run: func(d *frontDoor) {
		d.start(pylonParts{listener: "ignore_port_in_host_matching: true", vhosts: `
- {domains: [www.foo.com], routes: [{match: {prefix: /}, direct_response: {status: 200, body: a}}]}
- {domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200, body: d}}]}
`}, envoyParts{routeConfig: "ignore_port_in_host_matching: true", vhosts: `
- {name: a, domains: [www.foo.com], routes: [{match: {prefix: /}, direct_response: {status: 200, body: {inline_string: a}}}]}
- {name: d, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200, body: {inline_string: d}}}]}
`})
		d.expect(exchange{path: "/", hdr: []string{"host", "www.foo.com:8080"}, status: 200, body: str("a")})
	}},
	{name: "02 routing order", run: func(d *frontDoor) {
		d.start(pylonParts{vhosts: `
- domains: ["*"]
  routes:
    - {match: {prefix: /api}, direct_response: {status: 200, body: prefix}}
    - {match: {path: /api/exact}, direct_response: {status: 200, body: exact}}
    - {match: {path: /p}, direct_response: {status: 200, body: path}}
    - {match: {path_separated_prefix: /sep}, direct_response: {status: 200, body: sep}}
    - {match: {prefix: /}, direct_response: {status: 200, body: last}}
`}, envoyParts{vhosts: `
- name: all
  domains: ["*"]
  routes:
    - {match: {prefix: /api}, direct_response: {status: 200, body: {inline_string: prefix}}}
    - {match: {path: /api/exact}, direct_response: {status: 200, body: {inline_string: exact}}}
    - {match: {path: /p}, direct_response: {status: 200, body: {inline_string: path}}}
    - {match: {path_separated_prefix: /sep}, direct_response: {status: 200, body: {inline_string: sep}}}
    - {match: {prefix: /}, direct_response: {status: 200, body: {inline_string: last}}}
`})
		for _, c := range []struct{ path, want string }{
			{"/api/exact", "prefix"}, {"/p?x=1", "path"}, {"/p/", "last"}, {"/P", "last"},
			{"/sep", "sep"}, {"/sep/", "sep"}, {"/sep/v1", "sep"}, {"/sep?x=1", "sep"}, {"/sepx", "last"},
		} {
			d.expect(exchange{path: c.path, status: 200, body: str(c.want)})
		}
	}},
	{name: "03 prefix rewrite", run: func(d *frontDoor) {
		up := reflectUpstream(d.t, "svc")
		d.start(pylonParts{vhosts: `
- domains: ["*"]
  routes:
    - {match: {prefix: /api, case_sensitive: false}, cluster: svc, prefix_rewrite: /rewrote}
`, clusters: pylonCluster("svc", "", up.Addr())}, envoyParts{vhosts: `
- name: all
  domains: ["*"]
  routes:
    - {match: {prefix: /api, case_sensitive: false}, route: {cluster: svc, prefix_rewrite: /rewrote}}
`, clusters: envoyCluster("svc", "", up.Addr())})
		d.expect(exchange{path: "/API/locations?works=true", status: 200, body: str("svc"), want: map[string]string{
			"X-Seen-Path": "/rewrote/locations?works=true", "X-Seen-X-Envoy-Original-Path": "/API/locations?works=true",
		}})
		d.expect(exchange{path: "/apix", status: 200, body: str("svc"), want: map[string]string{
			"X-Seen-Path": "/rewrotex", "X-Seen-X-Envoy-Original-Path": "/apix",
		}})
	}},
	{name: "04 header matches", run: func(d *frontDoor) {
		d.start(pylonParts{vhosts: `
- domains: ["*"]
  routes:
    - {match: {prefix: /, headers: [{name: x-v, exact: "2"}]}, direct_response: {status: 200, body: v2}}
    - {match: {prefix: /absent, headers: [{name: x-v, present: false}]}, direct_response: {status: 200, body: absent}}
    - {match: {prefix: /}, direct_response: {status: 200, body: v1}}
`}, envoyParts{vhosts: `
- name: all
  domains: ["*"]
  routes:
    - {match: {prefix: /, headers: [{name: x-v, string_match: {exact: "2"}}]}, direct_response: {status: 200, body: {inline_string: v2}}}
    - {match: {prefix: /absent, headers: [{name: x-v, present_match: false}]}, direct_response: {status: 200, body: {inline_string: absent}}}
    - {match: {prefix: /}, direct_response: {status: 200, body: {inline_string: v1}}}
`})
		for _, c := range []struct {
			path string
			hdr  []string
			want string
		}{
			{"/", []string{"x-v", "2"}, "v2"}, {"/", []string{"x-v", "22"}, "v1"}, {"/", nil, "v1"},
			{"/absent", nil, "absent"}, {"/absent", []string{"x-v", "1"}, "v1"}, {"/absent", []string{"x-v", "2"}, "v2"},
		} {
			d.expect(exchange{path: c.path, hdr: c.hdr, status: 200, body: str(c.want)})
		}
	}},
	{name: "05 no route", run: func(d *frontDoor) {
		d.start(pylonParts{vhosts: `
- {domains: [only.example.com], routes: [{match: {prefix: /yes}, direct_response: {status: 200, body: ok}}]}
`}, envoyParts{vhosts: `
- {name: only, domains: [only.example.com], routes: [{match: {prefix: /yes}, direct_response: {status: 200, body: {inline_string: ok}}}]}
`})
		for _, x := range []exchange{
			{path: "/yes", hdr: []string{"host", "other.example.com"}},
			{path: "/no", hdr: []string{"host", "only.example.com"}},
		} {
			x.status, x.body = 404, str("")
			x.want = map[string]string{"Content-Length": "0", "Server": "envoy", "Content-Type": ""}
			d.expect(x)
		}
		d.stat("http.ingress_http.no_route", "2")
	}},
	{name: "06 cluster_header", neither: "Pylon YAML has no cluster_header and the Envoy loader refuses route.cluster_header (not supported yet)"},
	{name: "07 no healthy upstream", run: func(d *frontDoor) {
		d.start(pylonParts{vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, cluster: empty}]}
`, clusters: "- {name: empty, endpoints: []}\n"}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: empty}}]}
`, clusters: "- {name: empty, connect_timeout: 1s, load_assignment: {cluster_name: empty}}\n"})
		d.expect(exchange{path: "/", status: 503, body: str("no healthy upstream"),
			want: map[string]string{"Content-Type": "text/plain", "Content-Length": "19", "X-Envoy-Upstream-Service-Time": ""}})
	}},
	{name: "08 connect failure", run: func(d *frontDoor) {
		closed := testutil.ClosedPort(d.t)
		d.start(pylonParts{vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, cluster: svc}]}
`, clusters: pylonCluster("svc", "", closed)}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: svc}}]}
`, clusters: envoyCluster("svc", "", closed)})
		d.expect(exchange{path: "/", status: 503, want: map[string]string{"Content-Type": "text/plain"},
			bodyPrefix: "upstream connect error or disconnect/reset before headers. reset reason: "})
		d.stat("cluster.svc.upstream_cx_connect_fail", "1")
	}},
	{name: "09 route timeout", run: func(d *frontDoor) {
		slow := testutil.StartUpstream(d.t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(time.Second):
			case <-r.Context().Done():
			}
		}))
		d.start(pylonParts{vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, cluster: svc, timeout: 200ms}]}
`, clusters: pylonCluster("svc", "", slow.Addr())}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: svc, timeout: 0.2s}}]}
`, clusters: envoyCluster("svc", "", slow.Addr())})
		start := time.Now()
		d.expect(exchange{path: "/", status: 504, body: str("upstream request timeout"),
			want: map[string]string{"Content-Type": "text/plain", "X-Envoy-Upstream-Service-Time": ""}})
		if el := time.Since(start); el < 150*time.Millisecond || el > 900*time.Millisecond {
			d.t.Errorf("the 504 came after %v, want about 200ms", el)
		}
		d.stat("cluster.svc.upstream_rq_timeout", "1")
	}},
	{name: "10 headers set on the way", run: func(d *frontDoor) {
		up := reflectUpstream(d.t, "svc")
		d.start(pylonParts{listener: "use_remote_address: false", vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, cluster: svc}]}
`, clusters: pylonCluster("svc", "", up.Addr())}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: svc}}]}
`, clusters: envoyCluster("svc", "", up.Addr())})
		d.expect(exchange{path: "/h", status: 200, body: str("svc"), want: map[string]string{
			"X-Seen-X-Envoy-Expected-Rq-Timeout-Ms": "15000", "X-Seen-X-Forwarded-Proto": "http",
			"X-Seen-Request-Id": "uuid4", "X-Seen-X-Forwarded-For": "", "X-Seen-Host": "www.example.com",
			"X-Envoy-Upstream-Service-Time": "*", "Server": "envoy",
		}, hdr: []string{"host", "www.example.com"}})
	}},
	{name: "11 retries on 5xx", run: func(d *frontDoor) {
		up := scriptedUpstream(d.t, "svc", 503, 503, 200)
		d.start(pylonParts{vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, cluster: svc, retry: {on: [5xx], attempts: 2, backoff: {base_interval: 1ms}}}]}
`, clusters: pylonCluster("svc", "", up.Addr())}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: svc, retry_policy: {retry_on: 5xx, num_retries: 2, retry_back_off: {base_interval: 0.001s}}}}]}
`, clusters: envoyCluster("svc", "", up.Addr())})
		d.expect(exchange{path: "/", status: 200, body: str("svc 200")})
		d.stat("cluster.svc.upstream_rq_retry", "2")
		d.stat("cluster.svc.upstream_rq_retry_success", "1")
		d.stat("cluster.svc.upstream_rq_total", "3")
	}},
	{name: "11 retry exhaustion", run: func(d *frontDoor) {
		up := scriptedUpstream(d.t, "svc", 503)
		d.start(pylonParts{vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, cluster: svc, retry: {on: [5xx], attempts: 2, backoff: {base_interval: 1ms}}}]}
`, clusters: pylonCluster("svc", "", up.Addr())}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: svc, retry_policy: {retry_on: 5xx, num_retries: 2, retry_back_off: {base_interval: 0.001s}}}}]}
`, clusters: envoyCluster("svc", "", up.Addr())})
		d.expect(exchange{path: "/", status: 503, body: str("svc 503"), want: map[string]string{"X-Upstream": "svc"}})
		d.stat("cluster.svc.upstream_rq_retry", "2")
		d.stat("cluster.svc.upstream_rq_retry_limit_exceeded", "1")
		if up.Count() != 3 {
			d.t.Errorf("the upstream saw %d tries, want 3", up.Count())
		}
	}},
	{name: "12 x-envoy-retry-on only from internal clients", run: func(d *frontDoor) {
		var n atomic.Int64
		up := testutil.StartUpstream(d.t, "svc", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1)%2 == 1 {
				w.WriteHeader(503)
			}
			fmt.Fprintf(w, "internal=%s", r.Header.Get("X-Envoy-Internal"))
		}))
		d.start(pylonParts{listener: "use_remote_address: false\ninternal_addresses: [10.0.0.0/8]", vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, cluster: svc}]}
`, clusters: pylonCluster("svc", "", up.Addr())}, envoyParts{hcm: "internal_address_config: {cidr_ranges: [{address_prefix: 10.0.0.0, prefix_len: 8}]}", vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: svc}}]}
`, clusters: envoyCluster("svc", "", up.Addr())})
		// No x-forwarded-for: external, even from 127.0.0.1; the header is stripped, no retry.
		d.expect(exchange{path: "/", hdr: []string{"x-envoy-retry-on", "5xx"}, status: 503, body: str("internal=")})
		n.Store(0)
		d.expect(exchange{path: "/", hdr: []string{"x-envoy-retry-on", "5xx", "x-forwarded-for", "10.0.0.1"}, status: 200, body: str("internal=true")})
		d.note("upstream tries: %d", n.Load())
	}},
	{name: "13 retriable-4xx", run: func(d *frontDoor) {
		var conflicts, missing atomic.Int64
		up := testutil.StartUpstream(d.t, "svc", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/missing":
				missing.Add(1)
				w.WriteHeader(404)
			case conflicts.Add(1) == 1:
				w.WriteHeader(409)
			}
		}))
		d.start(pylonParts{vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, cluster: svc, retry: {on: [retriable-4xx], backoff: {base_interval: 1ms}}}]}
`, clusters: pylonCluster("svc", "", up.Addr())}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: svc, retry_policy: {retry_on: retriable-4xx, retry_back_off: {base_interval: 0.001s}}}}]}
`, clusters: envoyCluster("svc", "", up.Addr())})
		d.expect(exchange{path: "/conflict", status: 200})
		d.expect(exchange{path: "/missing", status: 404})
		d.note("tries: conflict %d, missing %d", conflicts.Load(), missing.Load())
	}},
	{name: "14 circuit breaker overflow", run: func(d *frontDoor) {
		release := make(chan struct{})
		var seen atomic.Int64
		up := testutil.StartUpstream(d.t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen.Add(1)
			<-release
			io.WriteString(w, "done")
		}))
		g := d.start(pylonParts{vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, cluster: svc}]}
`, clusters: pylonCluster("svc", "circuit_breakers: {max_connections: 1, max_pending_requests: 1}", up.Addr())}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: svc}}]}
`, clusters: envoyCluster("svc", "circuit_breakers: {thresholds: [{max_connections: 1, max_pending_requests: 1}]}", up.Addr())})
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if resp, err := http.Get(g.URL("ingress_http") + "/held"); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					codes[i] = resp.StatusCode
				}
			}()
		}
		within(d.t, "one request upstream and one pending", func() bool {
			return seen.Load() == 1 && d.g.Stat("cluster.svc.upstream_rq_pending_active") == "1"
		})
		d.expect(exchange{path: "/third", status: 503, body: str("upstream connect error or disconnect/reset before headers. reset reason: overflow"),
			want: map[string]string{"X-Envoy-Overloaded": "true", "Content-Type": "text/plain"}})
		close(release)
		wg.Wait()
		d.note("held requests: %v, upstream saw %d", codes, seen.Load())
		if codes[0] != 200 || codes[1] != 200 {
			d.t.Errorf("held requests got %v, want 200 200", codes)
		}
		d.stat("cluster.svc.upstream_rq_pending_overflow", "1")
	}},
	{name: "15 request mirroring", run: func(d *frontDoor) {
		primary := reflectUpstream(d.t, "primary")
		shadowHost := make(chan string, 1)
		shadow := testutil.StartUpstream(d.t, "shadow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			shadowHost <- r.Host
			w.WriteHeader(500)
		}))
		d.start(pylonParts{vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, cluster: svc, mirror: [{cluster: shadow}]}]}
`, clusters: pylonCluster("svc", "", primary.Addr()) + pylonCluster("shadow", "", shadow.Addr())}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: svc, request_mirror_policies: [{cluster: shadow}]}}]}
`, clusters: envoyCluster("svc", "", primary.Addr()) + envoyCluster("shadow", "", shadow.Addr())})
		d.expect(exchange{path: "/m", hdr: []string{"host", "foo:8000"}, status: 200, body: str("primary"), want: map[string]string{"X-Seen-Host": "foo:8000"}})
		select {
		case h := <-shadowHost:
			d.note("shadow saw host %s", h)
			if h != "foo-shadow:8000" {
				d.t.Errorf("shadow saw host %q, want foo-shadow:8000", h)
			}
		case <-time.After(3 * time.Second):
			d.t.Error("the shadow got no copy")
		}
	}},
	{name: "16 redirects", run: func(d *frontDoor) {
		d.start(pylonParts{vhosts: `
- domains: ["*"]
  routes:
    - {match: {prefix: /http}, redirect: {https_redirect: true}}
    - {match: {prefix: /strip}, redirect: {https_redirect: true, strip_query: true}}
    - {match: {prefix: /temp}, redirect: {path_redirect: /moved, response_code: 307}}
`}, envoyParts{vhosts: `
- name: all
  domains: ["*"]
  routes:
    - {match: {prefix: /http}, redirect: {https_redirect: true}}
    - {match: {prefix: /strip}, redirect: {https_redirect: true, strip_query: true}}
    - {match: {prefix: /temp}, redirect: {path_redirect: /moved, response_code: TEMPORARY_REDIRECT}}
`})
		for _, c := range []struct {
			path, loc string
			code      int
		}{
			{"/http/a?b=1", "https://foo.com/http/a?b=1", 301},
			{"/strip/a?b=1", "https://foo.com/strip/a", 301},
			{"/temp?x=1", "http://foo.com/moved?x=1", 307},
		} {
			d.expect(exchange{path: c.path, hdr: []string{"host", "foo.com"}, status: c.code, body: str(""),
				want: map[string]string{"Location": c.loc, "Content-Length": "0"}})
		}
		d.stat("http.ingress_http.rq_redirect", "3")
	}},
	{name: "17 direct response", run: func(d *frontDoor) {
		d.start(pylonParts{vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200, body: ok}}]}
`}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200, body: {inline_string: ok}}}]}
`})
		d.expect(exchange{path: "/", status: 200, body: str("ok"), want: map[string]string{"Content-Type": "text/plain", "Content-Length": "2", "Server": "envoy"}})
		d.stat("http.ingress_http.rq_direct_response", "1")
	}},
	{name: "18 local rate limit", run: func(d *frontDoor) {
		up := reflectUpstream(d.t, "svc")
		d.start(pylonParts{listener: "filters: [{local_ratelimit: {}}]", vhosts: `
- domains: ["*"]
  routes:
    - match: {prefix: /limited}
      cluster: svc
      filters: {local_ratelimit: {max_tokens: 2, tokens_per_fill: 2, fill_interval: 60s, enable_x_ratelimit_headers: true}}
    - {match: {prefix: /}, cluster: svc}
`, clusters: pylonCluster("svc", "", up.Addr())}, envoyParts{filters: `
- name: envoy.filters.http.local_ratelimit
  typed_config: {"@type": ` + lrlType + `, stat_prefix: http_local_rate_limiter}
`, vhosts: `
- name: all
  domains: ["*"]
  routes:
    - match: {prefix: /limited}
      route: {cluster: svc}
      typed_per_filter_config:
        envoy.filters.http.local_ratelimit:
          "@type": ` + lrlType + `
          stat_prefix: limited
          token_bucket: {max_tokens: 2, tokens_per_fill: 2, fill_interval: 60s}
          filter_enabled: {default_value: {numerator: 100, denominator: HUNDRED}}
          filter_enforced: {default_value: {numerator: 100, denominator: HUNDRED}}
          enable_x_ratelimit_headers: DRAFT_VERSION_03
    - {match: {prefix: /}, route: {cluster: svc}}
`, clusters: envoyCluster("svc", "", up.Addr())})
		hdrs := func(remaining, reset string, limited bool) map[string]string {
			m := map[string]string{"X-Ratelimit-Limit": "2", "X-Ratelimit-Remaining": remaining, "X-Ratelimit-Reset": reset, "X-Envoy-Ratelimited": ""}
			if limited {
				m["X-Envoy-Ratelimited"], m["Content-Type"] = "true", "text/plain"
			}
			return m
		}
		d.expect(exchange{path: "/limited", status: 200, body: str("svc"), want: hdrs("1", "0", false)})
		// Envoy's AtomicTokenBucket refills continuously: 2 tokens per 60s is one every 30s.
		d.expect(exchange{path: "/limited", status: 200, body: str("svc"), want: hdrs("0", "30", false)})
		d.expect(exchange{path: "/limited", status: 429, body: str("local_rate_limited"), want: hdrs("0", "30", true)})
		for range 3 { // no bucket on this route: never limited
			d.expect(exchange{path: "/other", status: 200, body: str("svc"), want: map[string]string{"X-Ratelimit-Limit": ""}})
		}
	}},
	{name: "19 weighted clusters", run: func(d *frontDoor) {
		a, b, c := reflectUpstream(d.t, "a"), reflectUpstream(d.t, "b"), reflectUpstream(d.t, "c")
		d.start(pylonParts{vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, weighted_clusters: [{name: a, weight: 80}, {name: b, weight: 20}, {name: c, weight: 0}]}]}
`, clusters: pylonCluster("a", "", a.Addr()) + pylonCluster("b", "", b.Addr()) + pylonCluster("c", "", c.Addr())}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: a, weight: 80}, {name: b, weight: 20}, {name: c, weight: 0}]}}}]}
`, clusters: envoyCluster("a", "", a.Addr()) + envoyCluster("b", "", b.Addr()) + envoyCluster("c", "", c.Addr())})
		const n = 1000
		for range n {
			get(d.t, d.g.URL("ingress_http")+"/")
		}
		d.note("c got %d", c.Count())
		if a.Count() < 730 || a.Count() > 870 || c.Count() != 0 {
			d.t.Errorf("80/20/0 split: a %d b %d c %d of %d", a.Count(), b.Count(), c.Count(), n)
		}
	}},
	// Envoy since 1.31 counts the host about to be ejected against max_ejection_percent
	// (default 10%): below 10 hosts nothing is ejected unless the percentage allows it or
	// always_eject_one_host is set. Section 9 case 20 predates that; these cases set the
	// percentage, and the next one shows the default.
	{name: "20 outlier ejection", run: func(d *frontDoor) {
		bad, good := scriptedUpstream(d.t, "bad", 503), reflectUpstream(d.t, "good")
		d.start(pylonParts{vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, cluster: svc}]}
`, clusters: pylonCluster("svc", "outlier_detection: {consecutive_5xx: 3, max_ejection_percent: 50}", bad.Addr(), good.Addr())}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: svc}}]}
`, clusters: envoyCluster("svc", "outlier_detection: {consecutive_5xx: 3, max_ejection_percent: 50}", bad.Addr(), good.Addr())})
		// Round robin: the bad host answers every other request until its third 503.
		failures := 0
		for i := 0; i < 20 && bad.Count() < 3; i++ {
			if resp, _ := get(d.t, d.g.URL("ingress_http")+"/"); resp.StatusCode != 200 {
				failures++
			}
		}
		d.note("503s before the ejection: %d", failures)
		for range 10 {
			d.expect(exchange{path: "/", status: 200, body: str("good")})
		}
		d.stat("cluster.svc.outlier_detection.ejections_active", "1")
		d.stat("cluster.svc.outlier_detection.ejections_enforced_consecutive_5xx", "1")
		d.stat("cluster.svc.lb_healthy_panic", "0")
		if f := healthFlags(d.t, d.g)[bad.Addr()]; f != "/failed_outlier_check" {
			d.t.Errorf("health_flags of the bad host: %q", f)
		}
	}},
	{name: "20 outlier ejection capped by the default max_ejection_percent", run: func(d *frontDoor) {
		bad, good := scriptedUpstream(d.t, "bad", 503), reflectUpstream(d.t, "good")
		d.start(pylonParts{vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, cluster: svc}]}
`, clusters: pylonCluster("svc", "outlier_detection: {consecutive_5xx: 3}", bad.Addr(), good.Addr())}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: svc}}]}
`, clusters: envoyCluster("svc", "outlier_detection: {consecutive_5xx: 3}", bad.Addr(), good.Addr())})
		for range 8 {
			get(d.t, d.g.URL("ingress_http")+"/")
		}
		d.note("bad host tries: %d of 8", bad.Count())
		if bad.Count() != 4 {
			d.t.Errorf("the bad host got %d of 8 requests, want 4: it must stay in rotation", bad.Count())
		}
		d.stat("cluster.svc.outlier_detection.ejections_active", "0")
		d.stat("cluster.svc.outlier_detection.ejections_detected_consecutive_5xx", "1")
		d.stat("cluster.svc.outlier_detection.ejections_overflow", "1")
	}},
	{name: "20 outlier ejection of the only host: panic", run: func(d *frontDoor) {
		bad := scriptedUpstream(d.t, "bad", 503)
		d.start(pylonParts{vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, cluster: svc}]}
`, clusters: pylonCluster("svc", "outlier_detection: {consecutive_5xx: 3, max_ejection_percent: 100}", bad.Addr())}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: svc}}]}
`, clusters: envoyCluster("svc", "outlier_detection: {consecutive_5xx: 3, max_ejection_percent: 100}", bad.Addr())})
		for range 5 { // ejected after the third, still receiving traffic (panic)
			d.expect(exchange{path: "/", status: 503, body: str("bad 503")})
		}
		d.stat("cluster.svc.outlier_detection.ejections_active", "1")
		d.stat("cluster.svc.lb_healthy_panic", "2")
	}},
	{name: "21 stream idle timeout", run: func(d *frontDoor) {
		up := reflectUpstream(d.t, "svc")
		d.start(pylonParts{listener: "idle_timeout: 200ms", vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, cluster: svc}]}
`, clusters: pylonCluster("svc", "", up.Addr())}, envoyParts{hcm: "stream_idle_timeout: 0.2s", vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: svc}}]}
`, clusters: envoyCluster("svc", "", up.Addr())})
		// Headers without the end of the stream, then nothing.
		conn, err := net.Dial("tcp", strings.TrimPrefix(d.g.URL("ingress_http"), "http://"))
		if err != nil {
			d.t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			d.t.Fatalf("stalled request: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		d.note("stalled request -> %d %q", resp.StatusCode, b)
		if resp.StatusCode != 408 || string(b) != "stream timeout" {
			d.t.Errorf("stalled request: %d %q, want 408 stream timeout", resp.StatusCode, b)
		}
		if el := time.Since(start); el < 150*time.Millisecond || el > 1500*time.Millisecond {
			d.t.Errorf("answered after %v, want about 200ms", el)
		}
	}},
	{name: "22 jwt_authn", neither: "no jwt_authn filter in Pylon yet; the Envoy loader refuses envoy.filters.http.jwt_authn"},
	{name: "23 admin ready", run: func(d *frontDoor) {
		d.start(pylonParts{vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}
`}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}
`})
		resp, body := get(d.t, d.g.AdminURL()+"/ready")
		d.note("/ready -> %d %q", resp.StatusCode, body)
		if resp.StatusCode != 200 || strings.TrimSpace(body) != "LIVE" {
			d.t.Errorf("/ready: %d %q, want 200 LIVE", resp.StatusCode, body)
		}
		d.expect(exchange{path: "/", status: 200, body: str("")})
		_, stats := get(d.t, d.g.AdminURL()+`/stats?filter=^http\.ingress_http\.rq_direct_response$`)
		d.note("/stats?filter -> %q", stats)
		if strings.TrimSpace(stats) != "http.ingress_http.rq_direct_response: 1" {
			d.t.Errorf("/stats?filter: %q, want one line", stats)
		}
	}},
	{name: "health-checked endpoint out of rotation", run: func(d *frontDoor) {
		a, b := startHealthUpstream(d.t, "a"), startHealthUpstream(d.t, "b")
		b.failing.Store(true)
		d.start(pylonParts{vhosts: `
- {domains: ["*"], routes: [{match: {prefix: /}, cluster: svc}]}
`, clusters: pylonCluster("svc", "health_check: {http: {path: /healthz}, interval: 20ms, no_traffic_interval: 20ms, timeout: 1s, unhealthy_threshold: 2, healthy_threshold: 1}", a.Addr(), b.Addr())}, envoyParts{vhosts: `
- {name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: svc}}]}
`, clusters: envoyCluster("svc", "health_checks: [{timeout: 1s, interval: 0.02s, no_traffic_interval: 0.02s, unhealthy_threshold: 2, healthy_threshold: 1, http_health_check: {path: /healthz}}]", a.Addr(), b.Addr())})
		// One of two hosts healthy is not below the 50% panic threshold: only a answers.
		for range 6 {
			d.expect(exchange{path: "/", status: 200, want: map[string]string{"X-Upstream": "a"}})
		}
		d.stat("cluster.svc.membership_healthy", "1")
		d.stat("cluster.svc.lb_healthy_panic", "0")
		b.failing.Store(false)
		within(d.t, "b to pass its checks", func() bool { return healthFlags(d.t, d.g)[b.Addr()] == "healthy" })
		seen := map[string]bool{}
		for range 6 {
			resp, _ := get(d.t, d.g.URL("ingress_http")+"/")
			seen[resp.Header.Get("X-Upstream")] = true
		}
		d.note("back in rotation: a %v b %v", seen["a"], seen["b"])
		if !seen["a"] || !seen["b"] {
			d.t.Errorf("after b passed its checks, answers came from %v", seen)
		}
	}},
	{name: "CORS preflight", run: func(d *frontDoor) {
		up := reflectUpstream(d.t, "svc")
		d.start(pylonParts{listener: "filters: [{cors: {}}]", vhosts: `
- domains: ["*"]
  routes:
    - match: {prefix: /}
      cluster: svc
      filters:
        cors:
          allow_origins: ["https://app.example.com"]
          allow_methods: [GET, PUT]
          allow_headers: [content-type]
          expose_headers: [x-upstream]
          max_age: 600s
          allow_credentials: true
`, clusters: pylonCluster("svc", "", up.Addr())}, envoyParts{filters: `
- name: envoy.filters.http.cors
  typed_config: {"@type": ` + corsType + `}
`, vhosts: `
- name: all
  domains: ["*"]
  routes:
    - match: {prefix: /}
      route: {cluster: svc}
      typed_per_filter_config:
        envoy.filters.http.cors:
          "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy
          allow_origin_string_match: [{exact: "https://app.example.com"}]
          allow_methods: GET,PUT
          allow_headers: content-type
          expose_headers: x-upstream
          max_age: "600"
          allow_credentials: true
`, clusters: envoyCluster("svc", "", up.Addr())})
		const app = "https://app.example.com"
		before := up.Count()
		d.expect(exchange{method: "OPTIONS", path: "/api", hdr: []string{"Origin", app, "Access-Control-Request-Method", "PUT"}, status: 200, body: str(""),
			want: map[string]string{
				"Access-Control-Allow-Origin": app, "Access-Control-Allow-Methods": "GET,PUT", "Access-Control-Allow-Headers": "content-type",
				"Access-Control-Max-Age": "600", "Access-Control-Allow-Credentials": "true", "X-Upstream": "",
			}})
		if up.Count() != before {
			d.t.Error("the preflight reached the upstream")
		}
		d.expect(exchange{path: "/api", hdr: []string{"Origin", app}, status: 200, body: str("svc"),
			want: map[string]string{"Access-Control-Allow-Origin": app, "Access-Control-Expose-Headers": "x-upstream", "Access-Control-Allow-Methods": ""}})
		d.expect(exchange{method: "OPTIONS", path: "/api", hdr: []string{"Origin", "https://evil.example.com", "Access-Control-Request-Method", "PUT"}, status: 200, body: str("svc"),
			want: map[string]string{"Access-Control-Allow-Origin": "", "X-Upstream": "svc"}})
	}},
}
