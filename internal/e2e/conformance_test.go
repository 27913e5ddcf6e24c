package e2e_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/pylon-gateway/pylon/internal/testutil"
)

// TestEnvoyConformance encodes "given this config and this request, Envoy answers this" for
// the data-plane cases of section 9 of shared/reference/envoy-semantics.md that the foundation
// covers (the others live in the tests named in the comments).
func TestEnvoyConformance(t *testing.T) {
	up := testutil.StartUpstream(t, "svc", nil)
	gw := testutil.StartGateway(t, fmt.Sprintf(`
admin: {address: "127.0.0.1:0"}
listeners:
  - name: ingress_http
    address: 127.0.0.1:0
    virtual_hosts:
      - name: a
        domains: [www.foo.com]
        routes:
          - {match: {prefix: /api, case_sensitive: false}, cluster: svc, prefix_rewrite: /rewrote}
          - {match: {path: /p}, direct_response: {status: 200, body: exact}}
          - {match: {prefix: /http}, redirect: {https_redirect: true}}
          - {match: {prefix: /strip}, redirect: {https_redirect: true, strip_query: true}}
          - {match: {prefix: /temp}, redirect: {path_redirect: /moved, response_code: 307}}
          - {match: {prefix: /}, direct_response: {status: 200, body: a}}
      - name: b
        domains: ["*.foo.com"]
        routes: [{match: {prefix: /}, direct_response: {status: 200, body: b}}]
      - name: c
        domains: ["foo.*"]
        routes: [{match: {prefix: /}, direct_response: {status: 200, body: c}}]
      - name: d
        domains: ["*"]
        routes:
          - {match: {prefix: /v, headers: [{name: x-v, exact: "2"}]}, direct_response: {status: 200, body: v2}}
          - {match: {prefix: /v, headers: [{name: x-v, present: false}]}, direct_response: {status: 200, body: absent}}
          - {match: {prefix: /v}, direct_response: {status: 200, body: v1}}
          - {match: {prefix: /}, direct_response: {status: 200, body: d}}
clusters:
  - name: svc
    endpoints: [%s]
`, up.Addr()))
	base := gw.URL("ingress_http")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(host, path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		return get(t, base+path, append([]string{"Host", host}, hdr...)...)
	}

	// Case 1: virtual host order (exact, *.suffix, prefix.*, *); the port is part of the key.
	for _, c := range []struct{ host, want string }{
		{"WWW.FOO.COM", "a"}, {"x.y.foo.com", "b"}, {"foo.bar", "c"}, {"bar.com", "d"}, {"www.foo.com:8080", "d"},
	} {
		if _, body := do(c.host, "/"); body != c.want {
			t.Errorf("case 1: host %s -> %q, want %q", c.host, body, c.want)
		}
	}
	// Case 2: exact path matches with a query string but not with a trailing slash.
	if _, body := do("www.foo.com", "/p?x=1"); body != "exact" {
		t.Errorf("case 2: /p?x=1 -> %q", body)
	}
	if _, body := do("www.foo.com", "/p/"); body != "a" {
		t.Errorf("case 2: /p/ -> %q", body)
	}
	// Case 3: case-insensitive prefix with prefix_rewrite keeps the query and records the original path.
	do("www.foo.com", "/API/locations?works=true")
	if seen := up.Last(); seen == nil || seen.RequestURI != "/rewrote/locations?works=true" || seen.Header.Get("X-Envoy-Original-Path") != "/API/locations?works=true" {
		t.Errorf("case 3: upstream saw %+v", seen)
	}
	// Case 4: header matches, present: false.
	for _, c := range []struct {
		hdr  []string
		want string
	}{{[]string{"X-V", "2"}, "v2"}, {[]string{"X-V", "22"}, "v1"}, {nil, "absent"}} {
		if _, body := do("any", "/v", c.hdr...); body != c.want {
			t.Errorf("case 4: %v -> %q, want %q", c.hdr, body, c.want)
		}
	}
	// Case 16: redirects.
	for _, c := range []struct {
		path, loc string
		code      int
	}{
		{"/http/a?b=1", "https://www.foo.com/http/a?b=1", 301},
		{"/strip/a?b=1", "https://www.foo.com/strip/a", 301},
		{"/temp?x=1", "http://www.foo.com/moved?x=1", 307},
	} {
		req, _ := http.NewRequest("GET", base+c.path, nil)
		req.Host = "www.foo.com"
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code || resp.Header.Get("Location") != c.loc || resp.Header.Get("Content-Length") != "0" {
			t.Errorf("case 16: %s -> %d %q (content-length %q), want %d %q", c.path, resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Content-Length"), c.code, c.loc)
		}
	}
	// Case 17: direct response framing and counter.
	resp, body := do("other", "/")
	if body != "d" || resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("Content-Length") != "1" {
		t.Errorf("case 17: %q %v", body, resp.Header)
	}
	if v := gw.Stat("http.ingress_http.rq_direct_response"); v == "" || v == "0" {
		t.Errorf("case 17: rq_direct_response = %q", v)
	}
	if v := gw.Stat("http.ingress_http.rq_redirect"); v != "3" {
		t.Errorf("case 16: rq_redirect = %q, want 3", v)
	}
	// Cases 5-10 and 19: TestLocalRepliesAsEnvoy, TestForwardSetsEnvoyHeaders, TestWeightedClustersAndEndpointWeights.
}
