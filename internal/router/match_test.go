package router

import (
	"crypto/tls"
	"testing"
)

type matchCase struct {
	name    string
	method  string // "" = GET
	host    string // "" = example.com
	target  string
	headers []string
	want    string // route name, "" = no route
}

func runMatchCases(t *testing.T, tb *Table, cases []matchCase) {
	t.Helper()
	for _, tc := range cases {
		method, host := tc.method, tc.host
		if method == "" {
			method = "GET"
		}
		if host == "" {
			host = "example.com"
		}
		if got := routeName(tb.Match(request(method, host, tc.target, tc.headers...))); got != tc.want {
			t.Errorf("%s: %s %s %v matched %q, want %q", tc.name, method, tc.target, tc.headers, got, tc.want)
		}
	}
}

func TestPathMatch(t *testing.T) {
	tb := tableFor(t, `
virtual_hosts:
  - domains: ["*"]
    routes:
      # Conformance case 2: order wins.
      - {name: api-prefix, match: {prefix: /api}, cluster: a}
      - {name: api-exact, match: {path: /api/exact}, cluster: b}
      - {name: p-exact, match: {path: /p}, cluster: a}
      - {name: sep, match: {path_separated_prefix: /sep}, cluster: a}
      - {name: regex, match: {regex: "/re/[0-9]+"}, cluster: a}
      - {name: alt, match: {regex: "/alt|/alternative"}, cluster: a}
      - {name: ci-path, match: {path: /CI/Exact, case_sensitive: false}, cluster: a}
      - {name: ci-sep, match: {path_separated_prefix: /Ci-Sep, case_sensitive: false}, cluster: a}
      - {name: regex-not-ci, match: {regex: "/rx"}, cluster: a}
      - {name: query-prefix, match: {prefix: "/q?debug"}, cluster: a}
      - {name: cs, match: {prefix: /Case}, cluster: a}
`)
	runMatchCases(t, tb, []matchCase{
		{name: "case 2 order", target: "/api/exact", want: "api-prefix"},
		{name: "prefix", target: "/apix", want: "api-prefix"},
		{name: "exact ignores query", target: "/p?x=1", want: "p-exact"},
		{name: "exact", target: "/p", want: "p-exact"},
		{name: "exact not prefix", target: "/p/", want: ""},
		{name: "sep exact", target: "/sep", want: "sep"},
		{name: "sep slash", target: "/sep/", want: "sep"},
		{name: "sep sub", target: "/sep/v1", want: "sep"},
		{name: "sep query", target: "/sep?x=1", want: "sep"},
		{name: "sep rejects longer", target: "/sepx", want: ""},
		{name: "sep case", target: "/SEP", want: ""},
		{name: "regex whole", target: "/re/42", want: "regex"},
		{name: "regex query cut", target: "/re/42?a=b", want: "regex"},
		{name: "regex anchored end", target: "/re/42/x", want: ""},
		{name: "regex anchored start", target: "/x/re/42", want: ""},
		{name: "regex alternation anchored", target: "/alternative", want: "alt"},
		{name: "regex alternation no partial", target: "/altx", want: ""},
		{name: "ci path", target: "/ci/EXACT?z", want: "ci-path"},
		{name: "ci sep", target: "/ci-sep/x", want: "ci-sep"},
		{name: "ci sep longer", target: "/ci-sepx", want: ""},
		{name: "regex ignores case_sensitive", target: "/RX", want: ""},
		{name: "regex ignores case_sensitive lower", target: "/rx", want: "regex-not-ci"},
		{name: "prefix sees the query", target: "/q?debug=1", want: "query-prefix"},
		{name: "prefix query mismatch", target: "/q?x", want: ""},
		{name: "case sensitive default", target: "/case", want: ""},
		{name: "case sensitive default ok", target: "/Case/x", want: "cs"},
	})
}

func TestCaseInsensitivePrefixRewrite(t *testing.T) {
	// Conformance case 3 (router_check Test12).
	tb := tableFor(t, `
virtual_hosts:
  - domains: ["*"]
    routes:
      - {name: ci, match: {prefix: /api, case_sensitive: false}, prefix_rewrite: /rewrote, cluster: a}
`)
	r := tb.Match(request("GET", "h", "/API/locations?works=true"))
	if r == nil {
		t.Fatal("no match")
	}
	got, ok := r.RewritePath("/API/locations?works=true")
	if got != "/rewrote/locations?works=true" || !ok {
		t.Errorf("RewritePath = %q, %v; want /rewrote/locations?works=true, true", got, ok)
	}
	if got, ok := r.RewritePath("/Api?works=true"); got != "/rewrote?works=true" || !ok {
		t.Errorf("RewritePath = %q, %v; want /rewrote?works=true", got, ok)
	}
}

func TestHeaderMatch(t *testing.T) {
	// Conformance case 4 first, then one route per condition, each before a fallback.
	tb := tableFor(t, `
virtual_hosts:
  - domains: ["*"]
    routes:
      - {name: v2, match: {prefix: /c4, headers: [{name: x-v, exact: "2"}]}, cluster: v2}
      - {name: v1, match: {prefix: /c4}, cluster: v1}
      - {name: absent, match: {prefix: /absent, headers: [{name: x-v, present: false}]}, cluster: a}
      - {name: present, match: {prefix: /present, headers: [{name: x-v, present: true}]}, cluster: a}
      - {name: bare, match: {prefix: /bare, headers: [{name: X-V}]}, cluster: a}
      - {name: bare-inv, match: {prefix: /inv-bare, headers: [{name: x-v, invert: true}]}, cluster: a}
      - {name: absent-inv, match: {prefix: /inv-absent, headers: [{name: x-v, present: false, invert: true}]}, cluster: a}
      - {name: exact-empty, match: {prefix: /exact-empty, headers: [{name: x-v, exact: ""}]}, cluster: a}
      - {name: exact-ci, match: {prefix: /exact-ci, headers: [{name: x-v, exact: AbC, ignore_case: true}]}, cluster: a}
      - {name: prefix, match: {prefix: /prefix, headers: [{name: x-v, prefix: ab}]}, cluster: a}
      - {name: prefix-ci, match: {prefix: /pfx-ci, headers: [{name: x-v, prefix: AB, ignore_case: true}]}, cluster: a}
      - {name: suffix, match: {prefix: /suffix, headers: [{name: x-v, suffix: yz}]}, cluster: a}
      - {name: suffix-ci, match: {prefix: /sfx-ci, headers: [{name: x-v, suffix: YZ, ignore_case: true}]}, cluster: a}
      - {name: contains, match: {prefix: /contains, headers: [{name: x-v, contains: mid}]}, cluster: a}
      - {name: contains-ci, match: {prefix: /ctn-ci, headers: [{name: x-v, contains: MiD, ignore_case: true}]}, cluster: a}
      - {name: regex, match: {prefix: /regex, headers: [{name: x-v, regex: "v[0-9]"}]}, cluster: a}
      - {name: inv-exact, match: {prefix: /inv-exact, headers: [{name: x-v, exact: "1", invert: true}]}, cluster: a}
      - {name: joined, match: {prefix: /joined, headers: [{name: x-v, exact: "a,b"}]}, cluster: a}
      - {name: two, match: {prefix: /two, headers: [{name: x-a, exact: "1"}, {name: x-b, exact: "2"}]}, cluster: a}
      - {name: authority, match: {prefix: /authority, headers: [{name: ":authority", suffix: ":8080"}]}, cluster: a}
      - {name: method, match: {prefix: /method, headers: [{name: ":method", exact: POST}]}, cluster: a}
      - {name: path, match: {prefix: /, headers: [{name: ":path", contains: "pseudo-path"}]}, cluster: a}
      - {name: scheme, match: {prefix: /scheme, headers: [{name: ":scheme", exact: https}]}, cluster: a}
      - {name: host-is-authority, match: {prefix: /hostheader, headers: [{name: host}]}, cluster: a}
`)
	runMatchCases(t, tb, []matchCase{
		{name: "case 4 exact", target: "/c4", headers: []string{"x-v", "2"}, want: "v2"},
		{name: "case 4 other value", target: "/c4", headers: []string{"x-v", "22"}, want: "v1"},
		{name: "case 4 missing", target: "/c4", want: "v1"},
		{name: "present false, absent", target: "/absent", want: "absent"},
		{name: "present false, present", target: "/absent", headers: []string{"x-v", ""}},
		{name: "present true", target: "/present", headers: []string{"x-v", ""}, want: "present"},
		{name: "present true, absent", target: "/present"},
		{name: "bare = presence, canonical name", target: "/bare", headers: []string{"x-v", "1"}, want: "bare"},
		{name: "bare absent", target: "/bare"},
		{name: "bare inverted, absent", target: "/inv-bare", want: "bare-inv"},
		{name: "bare inverted, present", target: "/inv-bare", headers: []string{"x-v", "1"}},
		{name: "present false inverted, present", target: "/inv-absent", headers: []string{"x-v", "1"}, want: "absent-inv"},
		{name: "present false inverted, absent", target: "/inv-absent"},
		{name: "exact empty", target: "/exact-empty", headers: []string{"x-v", ""}, want: "exact-empty"},
		{name: "exact empty, absent", target: "/exact-empty"},
		{name: "exact ci", target: "/exact-ci", headers: []string{"x-v", "aBc"}, want: "exact-ci"},
		{name: "exact ci longer", target: "/exact-ci", headers: []string{"x-v", "aBcd"}},
		{name: "prefix", target: "/prefix", headers: []string{"x-v", "abc"}, want: "prefix"},
		{name: "prefix case", target: "/prefix", headers: []string{"x-v", "ABc"}},
		{name: "prefix ci", target: "/pfx-ci", headers: []string{"x-v", "aBc"}, want: "prefix-ci"},
		{name: "suffix", target: "/suffix", headers: []string{"x-v", "xyz"}, want: "suffix"},
		{name: "suffix short", target: "/suffix", headers: []string{"x-v", "z"}},
		{name: "suffix ci", target: "/sfx-ci", headers: []string{"x-v", "xYz"}, want: "suffix-ci"},
		{name: "contains", target: "/contains", headers: []string{"x-v", "amidb"}, want: "contains"},
		{name: "contains no", target: "/contains", headers: []string{"x-v", "amiDb"}},
		{name: "contains ci", target: "/ctn-ci", headers: []string{"x-v", "amIdb"}, want: "contains-ci"},
		{name: "contains ci no", target: "/ctn-ci", headers: []string{"x-v", "mi"}},
		{name: "regex full", target: "/regex", headers: []string{"x-v", "v1"}, want: "regex"},
		{name: "regex anchored", target: "/regex", headers: []string{"x-v", "xv1"}},
		{name: "inverted exact, other value", target: "/inv-exact", headers: []string{"x-v", "2"}, want: "inv-exact"},
		{name: "inverted exact, same value", target: "/inv-exact", headers: []string{"x-v", "1"}},
		{name: "inverted exact, absent: no match", target: "/inv-exact"},
		{name: "values joined with ,", target: "/joined", headers: []string{"x-v", "a", "X-V", "b"}, want: "joined"},
		{name: "all must hold", target: "/two", headers: []string{"x-a", "1", "x-b", "2"}, want: "two"},
		{name: "all must hold, one missing", target: "/two", headers: []string{"x-a", "1"}},
		{name: ":authority", host: "api:8080", target: "/authority", want: "authority"},
		{name: ":authority other port", host: "api:8081", target: "/authority"},
		{name: ":method", method: "POST", target: "/method", want: "method"},
		{name: ":method no", target: "/method"},
		{name: ":path", target: "/x?pseudo-path", want: "path"},
		{name: ":scheme http", target: "/scheme"},
		{name: "host reads the :authority", target: "/hostheader", want: "host-is-authority"},
	})
	r := request("GET", "h", "/scheme")
	r.TLS = &tls.ConnectionState{}
	if got := routeName(tb.Match(r)); got != "scheme" {
		t.Errorf(":scheme https matched %q", got)
	}
}

func TestQueryAndMethodMatch(t *testing.T) {
	tb := tableFor(t, `
virtual_hosts:
  - domains: ["*"]
    routes:
      - {name: exact, match: {prefix: /exact, query: [{name: v, exact: "1"}]}, cluster: a}
      - {name: raw, match: {prefix: /raw, query: [{name: q, exact: "a%20b"}]}, cluster: a}
      - {name: present, match: {prefix: /present, query: [{name: debug}]}, cluster: a}
      - {name: absent, match: {prefix: /absent, query: [{name: debug, present: false}]}, cluster: a}
      - {name: regex, match: {prefix: /regex, query: [{name: id, regex: "[0-9]+"}]}, cluster: a}
      - {name: ci, match: {prefix: /ci, query: [{name: x, prefix: AB, ignore_case: true}]}, cluster: a}
      - {name: both, match: {prefix: /both, query: [{name: a, exact: "1"}, {name: b, suffix: "z"}]}, cluster: a}
      - {name: methods, match: {prefix: /methods, methods: [POST, PUT]}, cluster: a}
`)
	runMatchCases(t, tb, []matchCase{
		{name: "exact", target: "/exact?v=1", want: "exact"},
		{name: "exact among others", target: "/exact?a=2&v=1&z", want: "exact"},
		{name: "first value only", target: "/exact?v=2&v=1"},
		{name: "first value only ok", target: "/exact?v=1&v=2", want: "exact"},
		{name: "exact other", target: "/exact?v=10"},
		{name: "no query", target: "/exact"},
		{name: "not decoded", target: "/raw?q=a%20b", want: "raw"},
		{name: "not decoded, plus", target: "/raw?q=a+b"},
		{name: "present, no value", target: "/present?debug", want: "present"},
		{name: "present, empty", target: "/present?x=1&debug=", want: "present"},
		{name: "present missing", target: "/present?debugx=1"},
		{name: "absent ok", target: "/absent?x=1", want: "absent"},
		{name: "absent no query", target: "/absent", want: "absent"},
		{name: "absent but there", target: "/absent?debug=0"},
		{name: "regex anchored", target: "/regex?id=123", want: "regex"},
		{name: "regex anchored no", target: "/regex?id=123a"},
		{name: "ci", target: "/ci?x=aBc", want: "ci"},
		{name: "both", target: "/both?b=xyz&a=1", want: "both"},
		{name: "both one wrong", target: "/both?b=xy&a=1"},
		{name: "method POST", method: "POST", target: "/methods", want: "methods"},
		{name: "method PUT", method: "PUT", target: "/methods", want: "methods"},
		{name: "method GET", target: "/methods"},
		{name: "method case", method: "post", target: "/methods"},
	})
}
