package router

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/pylon-gateway/pylon/internal/config"
)

// fuzzTable exercises every kind of condition and action.
const fuzzTable = `
virtual_hosts:
  - name: exact
    domains: [www.foo.com, "www.foo.com:8080", "[::1]:80"]
    request_headers_to_add: [{name: x-vh, value: "1", append: false}]
    routes:
      - {match: {prefix: /api, case_sensitive: false}, prefix_rewrite: /rewrote, cluster: a}
      - {match: {path: /p}, prefix_rewrite: /q, cluster: a}
      - {match: {path_separated_prefix: /sep, case_sensitive: false}, prefix_rewrite: /s, cluster: a}
      - {match: {regex: "/re/([a-z]+)/(.*)"}, regex_rewrite: {pattern: "([a-z]+)", substitution: '<\1>'}, cluster: a}
      - match: {prefix: /h, headers: [{name: x-a, exact: v, invert: true}, {name: x-b, regex: "[0-9]*"}, {name: ":authority", contains: foo, ignore_case: true}]}
        cluster: b
      - match: {prefix: /q, query: [{name: a, suffix: z, ignore_case: true}, {name: b, present: false}]}
        weighted_clusters: [{name: a, weight: 3}, {name: b, weight: 0}, {name: c, weight: 7}]
      - {match: {prefix: /r, methods: [GET, POST]}, redirect: {https_redirect: true, strip_query: true}}
      - {match: {prefix: /pr}, redirect: {prefix_rewrite: /x, port_redirect: 81}}
      - {match: {prefix: /}, direct_response: {status: 200, body: ok}}
  - name: suffix
    domains: ["*.foo.com", "*-api.foo.com"]
    routes: [{match: {prefix: /}, redirect: {path_redirect: "/moved?x=1", host_redirect: h}}]
  - name: prefix
    domains: ["foo.*", "api-*"]
    routes: [{match: {prefix: /}, cluster: c}]
  - name: any
    domains: ["*"]
    routes: [{match: {path: /only}, cluster: d}]
`

func FuzzMatch(f *testing.F) {
	tb := tableFor(f, fuzzTable)
	tbNoPort := tableFor(f, "ignore_port_in_host_matching: true\n"+fuzzTable)
	f.Add("WWW.FOO.COM", "/API/locations", "works=true", "x-a", "v", uint8(0), uint64(0))
	f.Add("x.foo.com:8080", "/re/abc/def", "", "x-b", "123", uint8(1), uint64(5))
	f.Add("[::1]:80", "/h", "a=xyz&b", ":authority", "", uint8(2), uint64(9))
	f.Add("foo.bar", "/q", "a=Z", "X-B", "a", uint8(3), uint64(1<<63))
	f.Add("", "", "%zz", "", "", uint8(4), uint64(2))
	f.Fuzz(func(t *testing.T, host, path, query, hname, hval string, mode uint8, rnd uint64) {
		req := &http.Request{
			Method: []string{"GET", "POST", "", "PUT"}[mode%4],
			Host:   host,
			URL:    &url.URL{Path: path, RawQuery: query},
			Header: http.Header{},
		}
		switch mode % 3 {
		case 0: // origin form as sent
			req.RequestURI = path
			if query != "" {
				req.RequestURI += "?" + query
			}
		case 1: // absolute form
			req.RequestURI = "http://" + host + path
		}
		if hname != "" {
			req.Header[hname] = []string{hval, hval}
			req.Header.Add(hname, hval)
		}
		for _, table := range []*Table{tb, tbNoPort} {
			r := table.Match(req)
			if r2 := table.Match(req); r2 != r {
				t.Fatalf("Match is not deterministic: %p vs %p", r, r2)
			}
			if r == nil {
				continue
			}
			p := requestPath(req)
			if r.path.kind == pathPrefix && !hasPrefix(p, r.path.value, r.path.fold) {
				t.Fatalf("route with prefix %q matched %q", r.path.value, p)
			}
			r.RewritePath(p)
			r.RewritePath(path) // any input, not only the matched one
			r.Redirect(req, "http")
			if c := r.PickCluster(rnd); r.Action == ActionWeightedClusters && c == "b" {
				t.Fatalf("weight-0 cluster picked for %d", rnd)
			}
			r.DirectResponse()
			h := req.Header.Clone()
			r.ApplyRequestHeaders(h)
			r.ApplyResponseHeaders(h)
		}
	})
}

func FuzzRewrite(f *testing.F) {
	f.Add("/api/v1?x=1", "^/api/(v[0-9]+)", `/\1/x`, "/api", "/new")
	f.Add("/a?b?c", "(a)|(b)", `\2\1\\`, "/a?b", "")
	f.Add("", "x*", `\0`, "", "/")
	f.Add("/é/ü", "[^/]+", "$1${2}", "/É", "/")
	f.Fuzz(func(t *testing.T, path, pattern, sub, prefix, prefixRewrite string) {
		no := false
		l := &config.Listener{VirtualHosts: []config.VirtualHost{{
			Domains: []string{"*"},
			Routes: []config.Route{
				{Match: config.RouteMatch{Prefix: "/"}, Cluster: "a", RegexRewrite: &config.RegexRewrite{Pattern: pattern, Substitution: sub}},
				{Match: config.RouteMatch{Prefix: prefix, CaseSensitive: &no}, Cluster: "a", PrefixRewrite: prefixRewrite},
				{Match: config.RouteMatch{Path: prefix}, Cluster: "a", PrefixRewrite: prefixRewrite},
				{Match: config.RouteMatch{Regex: prefix}, Cluster: "a", PrefixRewrite: prefixRewrite},
				{Match: config.RouteMatch{PathSeparatedPrefix: prefix}, Cluster: "a", PrefixRewrite: prefixRewrite},
				{Match: config.RouteMatch{Prefix: prefix}, Redirect: &config.Redirect{PrefixRewrite: prefixRewrite, StripQuery: true}},
			},
		}}}
		tb, err := New(nil, "listeners[0]", l)
		if err != nil {
			// Bad patterns, substitutions or prefixes must be reported, not panic; compile the
			// routes that are fine one by one.
			for i := range l.VirtualHosts[0].Routes {
				one := *l
				one.VirtualHosts = []config.VirtualHost{{Domains: []string{"*"}, Routes: l.VirtualHosts[0].Routes[i : i+1]}}
				if tb1, err := New(nil, "listeners[0]", &one); err == nil {
					exercise(t, tb1, path)
				}
			}
			return
		}
		exercise(t, tb, path)
	})
}

func exercise(t *testing.T, tb *Table, path string) {
	for _, vh := range []*virtualHost{tb.catchAll} {
		for _, r := range vh.routes {
			got, ok := r.RewritePath(path)
			if !ok && got != path {
				t.Fatalf("no rewrite but %q -> %q", path, got)
			}
			if r.prefixRewrite != "" && r.path.match(path) {
				// The rewrite keeps what follows the matched part, query included.
				if len(got) < len(r.prefixRewrite) || got[:len(r.prefixRewrite)] != r.prefixRewrite {
					t.Fatalf("prefix rewrite %q of %q gave %q", r.prefixRewrite, path, got)
				}
			}
			req := &http.Request{Host: "h", RequestURI: path, URL: &url.URL{}}
			r.Redirect(req, "https")
		}
	}
}
