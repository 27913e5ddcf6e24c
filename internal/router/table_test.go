package router

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/pylon-gateway/pylon/internal/config"
)

// vhostsYAML is Envoy conformance case 1 plus longer wildcards of both kinds.
const vhostsYAML = `
virtual_hosts:
  - name: a
    domains: [www.foo.com]
    routes: [{name: a, match: {prefix: /}, cluster: a}]
  - name: b
    domains: ["*.foo.com"]
    routes: [{name: b, match: {prefix: /}, cluster: b}]
  - name: c
    domains: ["foo.*"]
    routes: [{name: c, match: {prefix: /}, cluster: c}]
  - name: d
    domains: ["*"]
    routes: [{name: d, match: {prefix: /}, cluster: d}]
  - name: long-suffix
    domains: ["*.bar.foo.com", "*-api.foo.com"]
    routes: [{name: long-suffix, match: {prefix: /}, cluster: a}]
  - name: long-prefix
    domains: ["foo.bar.*", "api-*"]
    routes: [{name: long-prefix, match: {prefix: /}, cluster: a}]
  - name: ports
    domains: ["exact.com:8080", "[::1]:9000", "[::1]"]
    routes: [{name: ports, match: {prefix: /}, cluster: a}]
`

func TestVirtualHostSelection(t *testing.T) {
	withPort := tableFor(t, vhostsYAML)
	noPort := tableFor(t, "ignore_port_in_host_matching: true\n"+vhostsYAML)
	long := strings.Repeat("X", 300) + ".FOO.COM"
	for _, tc := range []struct {
		host             string
		want, wantNoPort string // wantNoPort "" = same as want
	}{
		// Envoy conformance case 1.
		{host: "WWW.FOO.COM", want: "a"},
		{host: "www.foo.com", want: "a"},
		{host: "x.y.foo.com", want: "b"},
		{host: "foo.bar", want: "c"},
		// The reference's case 1 says foo.com -> d, but Envoy's RouteMatcher::findVirtualHost
		// tries prefix wildcards before "*" and "foo.*" matches "foo.com" ("foo." + "com").
		{host: "foo.com", want: "c"},
		{host: "bar.com", want: "d"},
		{host: "www.foo.com:8080", want: "d", wantNoPort: "a"},
		// A wildcard stands for at least one character.
		{host: ".foo.com", want: "d"},
		{host: "a.foo.com", want: "b"},
		{host: "foo.", want: "d"},
		{host: "foo.x", want: "c"},
		// Longest suffix, then longest prefix, first.
		{host: "x.bar.foo.com", want: "long-suffix"},
		{host: "bar.foo.com", want: "b"},
		{host: "x-api.foo.com", want: "long-suffix"},
		{host: "-api.foo.com", want: "b"},
		{host: "foo.bar.baz", want: "long-prefix"},
		{host: "api-v1", want: "long-prefix"},
		{host: "api-", want: "d"},
		// Suffix wildcards win over prefix wildcards.
		{host: "foo.x.foo.com", want: "b"},
		// Ports.
		{host: "exact.com:8080", want: "ports", wantNoPort: "d"},
		{host: "EXACT.com:8080", want: "ports", wantNoPort: "d"},
		{host: "x.foo.com:443", want: "d", wantNoPort: "b"},
		{host: "foo.bar:443", want: "c"}, // a prefix wildcard sees the port either way
		{host: "[::1]:9000", want: "ports", wantNoPort: "ports"},
		{host: "[::1]:8000", want: "d", wantNoPort: "ports"},
		{host: "www.foo.com:http", want: "d", wantNoPort: "a"}, // Envoy strips any port text
		{host: "", want: "d"},
		{host: long, want: "b"}, // lower-cased on the heap
	} {
		if got, _ := withPort.VirtualHost(tc.host); got != tc.want {
			t.Errorf("VirtualHost(%q) = %q, want %q", tc.host, got, tc.want)
		}
		want := tc.wantNoPort
		if want == "" {
			want = tc.want
		}
		if got, _ := noPort.VirtualHost(tc.host); got != want {
			t.Errorf("ignore_port: VirtualHost(%q) = %q, want %q", tc.host, got, want)
		}
		if got := routeName(withPort.Match(request("GET", tc.host, "/"))); got != tc.want {
			t.Errorf("Match(host %q) = %q, want %q", tc.host, got, tc.want)
		}
	}
}

func TestNoCatchAll(t *testing.T) {
	tb := tableFor(t, `
virtual_hosts:
  - domains: [api.example.com]
    routes: [{match: {prefix: /v1}, cluster: a}]
`)
	if r := tb.Match(request("GET", "other.example.com", "/v1")); r != nil {
		t.Errorf("unknown host matched %+v", r)
	}
	if r := tb.Match(request("GET", "api.example.com", "/v2")); r != nil {
		t.Errorf("unknown path matched %+v", r)
	}
	r := tb.Match(request("GET", "api.example.com", "/v1/x"))
	if r == nil || r.VirtualHost != "api.example.com" || r.Cluster != "a" || r.Action != ActionCluster {
		t.Fatalf("got %+v, want the unnamed vhost named by its first domain", r)
	}
	if r.Timeout != config.DefaultRouteTimeout {
		t.Errorf("timeout = %v, want the default %v", r.Timeout, config.DefaultRouteTimeout)
	}
}

func TestStripPort(t *testing.T) {
	for in, want := range map[string]string{
		"foo.com":       "foo.com",
		"foo.com:80":    "foo.com",
		"foo.com:":      "foo.com",
		"foo.com:x":     "foo.com",
		"[::1]":         "[::1]",
		"[::1]:443":     "[::1]",
		"::1":           "::1",
		"[fe80::1%25]:": "[fe80::1%25]",
		":80":           "",
	} {
		if got := stripPort(in); got != want {
			t.Errorf("stripPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRequestPath(t *testing.T) {
	r := request("GET", "h", "/a%2Fb?x=1")
	if got := requestPath(r); got != "/a%2Fb?x=1" {
		t.Errorf("origin form: %q", got)
	}
	for target, want := range map[string]string{
		"http://h:80/p?q=1": "/p?q=1",
		"http://h":          "/",
		"http://h?q":        "/?q",
		"*":                 "*",
	} {
		r.RequestURI = target
		if got := requestPath(r); got != want {
			t.Errorf("requestPath(%q) = %q, want %q", target, got, want)
		}
	}
	// Without RequestURI (a client-side request), the escaped URL path and the raw query.
	r.RequestURI = ""
	r.URL.Path, r.URL.RawPath, r.URL.RawQuery = "/a/b", "/a%2Fb", "k=v%20w"
	if got := requestPath(r); got != "/a%2Fb?k=v%20w" {
		t.Errorf("from URL: %q", got)
	}
	r.URL.Path, r.URL.RawPath, r.URL.RawQuery = "/a b", "", ""
	if got := requestPath(r); got != "/a%20b" {
		t.Errorf("from URL, no raw path: %q", got)
	}
}

func TestNewErrors(t *testing.T) {
	// A config built by hand bypasses config validation: New still reports bad input with
	// field paths.
	no := false
	l := &config.Listener{VirtualHosts: []config.VirtualHost{
		{Domains: []string{"*"}, Routes: []config.Route{
			{Match: config.RouteMatch{Prefix: "/"}, Cluster: "a"},
			{Match: config.RouteMatch{Regex: "/(unclosed"}, Cluster: "a"},
		}},
		{Domains: []string{"a.*.com", "*"}, Routes: []config.Route{
			{Match: config.RouteMatch{Prefix: "/", CaseSensitive: &no, Headers: []config.HeaderMatch{{Name: "x", StringMatch: config.StringMatch{Regex: "[z-a]"}}}}, Cluster: "a"},
			{Match: config.RouteMatch{Prefix: "/"}, WeightedClusters: []config.WeightedCluster{{Name: "a"}}},
			{Match: config.RouteMatch{Prefix: "/"}},
			{Match: config.RouteMatch{Prefix: "/"}, Cluster: "a", RegexRewrite: &config.RegexRewrite{Pattern: "/(a)", Substitution: `\2`}},
		}},
	}}
	_, err := New(nil, "listeners[3]", l)
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v (%T), want config.Errors", err, err)
	}
	want := []string{
		"listeners[3].virtual_hosts[0].routes[1].match.regex",
		"listeners[3].virtual_hosts[1].domains[0]",
		"listeners[3].virtual_hosts[1].domains[1]",
		"listeners[3].virtual_hosts[1].routes[0].match.headers[0].regex",
		"listeners[3].virtual_hosts[1].routes[1].weighted_clusters",
		"listeners[3].virtual_hosts[1].routes[2]",
		"listeners[3].virtual_hosts[1].routes[3].regex_rewrite.substitution",
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for i, e := range errs {
		if e.Path != want[i] {
			t.Errorf("error %d path = %q, want %q (%v)", i, e.Path, want[i], e)
		}
		if e.Msg == "" || e.Msg[0] < 'a' || e.Msg[0] > 'z' {
			t.Errorf("error %d message %q should start lower-case", i, e.Msg)
		}
	}
	if !strings.Contains(errs[0].Msg, "invalid regular expression") || strings.Contains(errs[0].Msg, "^(?:") {
		t.Errorf("regex error should name the pattern as written: %q", errs[0].Msg)
	}
}

func TestNewErrorLine(t *testing.T) {
	// A bad regex_rewrite substitution is refused with its path and line (config.Load
	// checks it; New would too for a hand-built config).
	_, err := config.Load([]byte(`listeners:
  - name: l
    address: 127.0.0.1:8080
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            cluster: a
            regex_rewrite: {pattern: "^/(a)/", substitution: "/\\q/"}
clusters:
  - {name: a, endpoints: [127.0.0.1:1]}
`))
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("err = %v, want one config error", err)
	}
	e := errs[0]
	if e.Path != "listeners[0].virtual_hosts[0].routes[0].regex_rewrite.substitution" || e.Line != 9 {
		t.Errorf("got %v, want the substitution's path at line 9", e)
	}
}

func TestConcurrentMatch(t *testing.T) {
	tb := tableFor(t, vhostsYAML)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 1000 {
				host := []string{"WWW.FOO.COM", "x.foo.com", "foo.bar", "nope"}[(i+j)%4]
				if tb.Match(request("GET", host, "/x")) == nil {
					t.Error("no match")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestOnlyCatchAll(t *testing.T) {
	tb := tableFor(t, `
virtual_hosts:
  - domains: ["*"]
    routes: [{match: {prefix: /}, cluster: a}]
`)
	for _, host := range []string{"", "x", "WWW.FOO.COM:1"} {
		if got, ok := tb.VirtualHost(host); !ok || got != "*" {
			t.Errorf("VirtualHost(%q) = %q, %v", host, got, ok)
		}
	}
}
