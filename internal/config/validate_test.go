package config_test

import (
	"strings"
	"testing"
)

// Paths of the documents below.
const (
	L  = "listeners[0]"
	VH = L + ".virtual_hosts[0]"
	R  = VH + ".routes[0]"
	C  = "clusters[0]"
)

// routeDoc wraps routes (list items) into a valid document: listener l with the filters
// cors and ratelimit, one virtual host, clusters a and b.
func routeDoc(routes string) string {
	return listenerDoc("filters: [cors, ratelimit]\nvirtual_hosts:\n  - domains: [\"*\"]\n    routes:\n"+indent(routes, 6),
		"- {name: a, endpoints: [\"127.0.0.1:9000\"]}\n- {name: b, endpoints: [\"127.0.0.1:9001\"]}")
}

// vhostDoc wraps virtual hosts (list items) into a valid document.
func vhostDoc(vhosts string) string {
	return listenerDoc("virtual_hosts:\n"+indent(vhosts, 2), "")
}

// clusterDoc wraps clusters (list items) into a valid document whose route uses cluster a.
func clusterDoc(clusters string) string { return listenerDoc("", clusters) }

// ok is a route action that validates.
const ok = "direct_response: {status: 200}"

type ruleCase struct {
	name string
	doc  string // with a marker on the line of the error; CERT and KEY name a valid key pair
	path string
	frag string
}

// validationCases hold one case for every rule of validate.go.
var validationCases = []ruleCase{
	// Top level.
	{"admin address", "admin: {address: nowhere} " + marker + "\n" + clusterDoc(""), "admin.address", `invalid address "nowhere": want host:port`},
	{"drain_timeout negative", "drain_timeout: -1s " + marker + "\n" + clusterDoc(""), "drain_timeout", "must not be negative"},
	{"no listeners", "listeners: [] " + marker + "\n", "listeners", "at least one listener is required"},
	{"duplicate cluster", clusterDoc("- {name: a, endpoints: [\"127.0.0.1:9000\"]}\n- {name: a, endpoints: [\"127.0.0.1:9001\"]} " + marker), "clusters[1].name", `duplicate cluster name "a"`},

	// Listeners.
	{"listener name", "listeners:\n  - address: 127.0.0.1:8080 " + marker + "\n    virtual_hosts: [{domains: [\"*\"], routes: [{match: {prefix: /}, " + ok + "}]}]\n", L + ".name", "is required"},
	{"duplicate listener name", `listeners:
  - {name: l, address: 127.0.0.1:8080, virtual_hosts: [{domains: ["*"], routes: [{match: {prefix: /}, ` + ok + `}]}]}
  - {name: l, address: 127.0.0.1:8081, virtual_hosts: [{domains: ["*"], routes: [{match: {prefix: /}, ` + ok + `}]}]} ` + marker + "\n", "listeners[1].name", `duplicate listener name "l"`},
	{"listener address missing", "listeners:\n  - name: l " + marker + "\n    virtual_hosts: [{domains: [\"*\"], routes: [{match: {prefix: /}, " + ok + "}]}]\n", L + ".address", "an address host:port is required"},
	{"listener address", "listeners:\n  - name: l\n    address: localhost " + marker + "\n    virtual_hosts: [{domains: [\"*\"], routes: [{match: {prefix: /}, " + ok + "}]}]\n", L + ".address", `invalid address "localhost"`},
	{"listener port", "listeners:\n  - name: l\n    address: 127.0.0.1:65536 " + marker + "\n    virtual_hosts: [{domains: [\"*\"], routes: [{match: {prefix: /}, " + ok + "}]}]\n", L + ".address", `invalid port in "127.0.0.1:65536"`},
	{"duplicate listener address", `listeners:
  - {name: l, address: 127.0.0.1:8080, virtual_hosts: [{domains: ["*"], routes: [{match: {prefix: /}, ` + ok + `}]}]}
  - {name: m, address: 127.0.0.1:8080, virtual_hosts: [{domains: ["*"], routes: [{match: {prefix: /}, ` + ok + `}]}]} ` + marker + "\n", "listeners[1].address", `address 127.0.0.1:8080 is already used by listener "l"`},
	{"listener on the admin address", "admin: {address: 127.0.0.1:8080}\nlisteners:\n  - name: l\n    address: 127.0.0.1:8080 " + marker + "\n    virtual_hosts: [{domains: [\"*\"], routes: [{match: {prefix: /}, " + ok + "}]}]\n", L + ".address", "already used by the admin listener"},
	{"max_request_headers_kb", listenerDoc("max_request_headers_kb: 9000 "+marker, ""), L + ".max_request_headers_kb", "must be between 1 and 8192, got 9000"},
	{"max_request_headers_kb negative", listenerDoc("max_request_headers_kb: -1 "+marker, ""), L + ".max_request_headers_kb", "got -1"},
	{"tls without certificates", listenerDoc("tls: {certificates: []} "+marker, ""), L + ".tls.certificates", "at least one certificate is required"},
	{"tls certificate without key", listenerDoc("tls:\n  certificates:\n    - {cert: CERT} "+marker, ""), L + ".tls.certificates[0]", "both cert and key are required"},
	{"tls certificate missing", listenerDoc("tls:\n  certificates:\n    - {cert: /nonexistent/cert.pem, key: KEY} "+marker, ""), L + ".tls.certificates[0]", "cannot load the key pair: stat /nonexistent/cert.pem"},
	{"tls certificate not a file", listenerDoc("tls:\n  certificates:\n    - {cert: /dev/null, key: KEY} "+marker, ""), L + ".tls.certificates[0]", "/dev/null is not a regular file"},
	{"tls certificate not a certificate", listenerDoc("tls:\n  certificates:\n    - {cert: KEY, key: KEY} "+marker, ""), L + ".tls.certificates[0]", "cannot load the key pair"},
	{"tls min_version", listenerDoc("tls:\n  certificates: [{cert: CERT, key: KEY}]\n  min_version: \"1.1\" "+marker, ""), L + ".tls.min_version", `must be "1.2" or "1.3", got "1.1"`},
	{"access_log path", listenerDoc("access_log:\n  - format: \"%RESPONSE_CODE%\" "+marker, ""), L + ".access_log[0].path", "is required"},
	{"access_log format and json", listenerDoc("access_log:\n  - {path: stdout, format: x, json: {a: b}} "+marker, ""), L + ".access_log[0]", "format and json are mutually exclusive"},
	{"filter name", listenerDoc("filters:\n  - \"\" "+marker, ""), L + ".filters[0]", "a filter needs a name"},
	{"no virtual hosts", listenerDoc("virtual_hosts: [] "+marker, ""), L + ".virtual_hosts", "at least one virtual host is required"},

	// Virtual hosts.
	{"no domains", vhostDoc("- domains: [] " + marker + "\n  routes: [{match: {prefix: /}, " + ok + "}]"), VH + ".domains", `at least one domain is required ("*" matches any host)`},
	{"empty domain", vhostDoc("- domains: [\"\"] " + marker + "\n  routes: [{match: {prefix: /}, " + ok + "}]"), VH + ".domains[0]", "must not be empty"},
	{"domain wildcard both ends", vhostDoc("- domains: [\"*.foo.*\"] " + marker + "\n  routes: [{match: {prefix: /}, " + ok + "}]"), VH + ".domains[0]", "a wildcard may be a prefix or a suffix, not both"},
	{"domain wildcard inside", vhostDoc("- domains: [\"a*b\"] " + marker + "\n  routes: [{match: {prefix: /}, " + ok + "}]"), VH + ".domains[0]", `"*" may only lead or end the domain`},
	{"two wildcard hosts", vhostDoc("- domains: [\"*\"]\n  routes: [{match: {prefix: /}, " + ok + "}]\n- domains: [\"*\"] " + marker + "\n  routes: [{match: {prefix: /}, " + ok + "}]"),
		"listeners[0].virtual_hosts[1].domains[0]", `only one virtual host may have the wildcard domain "*" (also in listeners[0].virtual_hosts[0])`},
	{"duplicate domain", vhostDoc("- domains: [a.com, A.COM] " + marker + "\n  routes: [{match: {prefix: /}, " + ok + "}]"), VH + ".domains[1]", `duplicate domain "A.COM"`},
	{"vhost header name", vhostDoc("- domains: [\"*\"]\n  routes: [{match: {prefix: /}, " + ok + "}]\n  request_headers_to_add: [{value: x}] " + marker), VH + ".request_headers_to_add[0]", "a header name is required"},

	// Header mutations.
	{"pseudo-header added", routeDoc("- match: {prefix: /}\n  " + ok + "\n  request_headers_to_add: [{name: \":path\", value: /x}] " + marker), R + ".request_headers_to_add[0]", `pseudo-header ":path" cannot be changed`},
	{"invalid header name", routeDoc("- match: {prefix: /}\n  " + ok + "\n  response_headers_to_add: [{name: \"x y\", value: z}] " + marker), R + ".response_headers_to_add[0]", `invalid header name "x y"`},
	{"host header added", routeDoc("- match: {prefix: /}\n  " + ok + "\n  request_headers_to_add: [{name: Host, value: x}] " + marker), R + ".request_headers_to_add[0]", "use host_rewrite"},
	{"host header removed", routeDoc("- match: {prefix: /}\n  " + ok + "\n  request_headers_to_remove: [host] " + marker), R + ".request_headers_to_remove[0]", "use host_rewrite"},
	{"pseudo-header removed", routeDoc("- match: {prefix: /}\n  " + ok + "\n  response_headers_to_remove: [\":status\"] " + marker), R + ".response_headers_to_remove[0]", `pseudo-header ":status" cannot be changed`},
	{"empty request header value", routeDoc("- match: {prefix: /}\n  " + ok + "\n  request_headers_to_add:\n    - name: x-a\n      value: \"\" " + marker), R + ".request_headers_to_add[0].value", "an empty value adds nothing; remove the entry or use request_headers_to_remove"},
	{"missing response header value", routeDoc("- match: {prefix: /}\n  " + ok + "\n  response_headers_to_add:\n    - {name: x-a, append: false} " + marker), R + ".response_headers_to_add[0].value", "an empty value adds nothing; remove the entry or use response_headers_to_remove"},
	{"invalid header value", routeDoc("- match: {prefix: /}\n  " + ok + "\n  response_headers_to_add:\n    - name: x-a\n      value: \"a\\u0001b\" " + marker), R + ".response_headers_to_add[0].value", "invalid header value"},

	// Route match.
	{"no path condition", routeDoc("- match: {methods: [GET]} " + marker + "\n  " + ok), R + ".match", "one of prefix, path, regex or path_separated_prefix is required"},
	{"two path conditions", routeDoc("- match: {prefix: /, path: /a} " + marker + "\n  " + ok), R + ".match", "prefix, path, regex and path_separated_prefix are mutually exclusive"},
	{"relative path", routeDoc("- match:\n    path: a " + marker + "\n  " + ok), R + ".match.path", `must start with "/"`},
	{"invalid regex", routeDoc("- match:\n    regex: \"/(a\" " + marker + "\n  " + ok), R + ".match.regex", "invalid regular expression: error parsing regexp: missing closing )"},
	{"path_separated_prefix trailing slash", routeDoc("- match:\n    path_separated_prefix: /a/ " + marker + "\n  " + ok), R + ".match.path_separated_prefix", `not end with "/"`},
	{"path_separated_prefix relative", routeDoc("- match:\n    path_separated_prefix: a " + marker + "\n  " + ok), R + ".match.path_separated_prefix", `must start with "/"`},
	{"case_sensitive with regex", routeDoc("- match:\n    regex: /a.*\n    case_sensitive: false " + marker + "\n  " + ok), R + ".match.case_sensitive", "applies to prefix, path and path_separated_prefix only: for regex, use (?i) in the pattern"},
	{"case_sensitive true with regex", routeDoc("- match: {regex: /a.*, case_sensitive: true} " + marker + "\n  " + ok), R + ".match.case_sensitive", "use (?i) in the pattern"},
	{"header name", routeDoc("- match:\n    prefix: /\n    headers:\n      - {exact: x} " + marker + "\n  " + ok), R + ".match.headers[0].name", "is required"},
	{"header pseudo-header", routeDoc("- match:\n    prefix: /\n    headers:\n      - name: \":status\" " + marker + "\n        exact: \"200\"\n  " + ok), R + ".match.headers[0].name", `pseudo-header ":status" cannot be matched: use :authority, :method, :path or :scheme`},
	{"header two conditions", routeDoc("- match:\n    prefix: /\n    headers:\n      - {name: x, exact: a, prefix: b} " + marker + "\n  " + ok), R + ".match.headers[0]", "exact, prefix, suffix, contains, regex and present are mutually exclusive"},
	{"header present and exact", routeDoc("- match:\n    prefix: /\n    headers:\n      - {name: x, exact: a, present: true} " + marker + "\n  " + ok), R + ".match.headers[0]", "mutually exclusive"},
	{"header invalid regex", routeDoc("- match:\n    prefix: /\n    headers:\n      - name: x\n        regex: \"[z-a]\" " + marker + "\n  " + ok), R + ".match.headers[0].regex", "invalid regular expression"},
	{"header ignore_case with regex", routeDoc("- match:\n    prefix: /\n    headers:\n      - name: x\n        regex: \"a.*\"\n        ignore_case: true " + marker + "\n  " + ok), R + ".match.headers[0].ignore_case", "does not apply to regex: use (?i) in the pattern"},
	{"query name", routeDoc("- match:\n    prefix: /\n    query:\n      - {present: true} " + marker + "\n  " + ok), R + ".match.query[0].name", "is required"},
	{"query two conditions", routeDoc("- match:\n    prefix: /\n    query:\n      - {name: q, suffix: a, contains: b} " + marker + "\n  " + ok), R + ".match.query[0]", "mutually exclusive"},
	{"query ignore_case with regex", routeDoc("- match:\n    prefix: /\n    query:\n      - {name: q, regex: \"a+\", ignore_case: true} " + marker + "\n  " + ok), R + ".match.query[0].ignore_case", "use (?i) in the pattern"},
	{"method", routeDoc("- match:\n    prefix: /\n    methods:\n      - GET\n      - get " + marker + "\n  " + ok), R + ".match.methods[1]", `invalid method "get": want an upper-case token such as GET`},

	// Route actions.
	{"unknown cluster", routeDoc("- match: {prefix: /}\n  cluster: c " + marker), R + ".cluster", `unknown cluster "c"`},
	{"unknown weighted cluster", routeDoc("- match: {prefix: /}\n  weighted_clusters:\n    - {name: a, weight: 1}\n    - {name: c, weight: 1} " + marker), R + ".weighted_clusters[1].name", `unknown cluster "c"`},
	{"weights all zero", routeDoc("- match: {prefix: /}\n  weighted_clusters: [{name: a}, {name: b, weight: 0}] " + marker), R + ".weighted_clusters", "the weights must not all be zero"},
	{"direct_response status", routeDoc("- match: {prefix: /}\n  direct_response:\n    status: 100 " + marker), R + ".direct_response.status", "must be between 200 and 599, got 100"},
	{"direct_response body", routeDoc("- match: {prefix: /}\n  direct_response:\n    status: 200\n    body: " + strings.Repeat("x", 64<<10+1) + " " + marker), R + ".direct_response.body", "is 65537 bytes; the limit is 65536"},
	{"redirect response_code", routeDoc("- match: {prefix: /}\n  redirect:\n    path_redirect: /x\n    response_code: 300 " + marker), R + ".redirect.response_code", "must be 301, 302, 303, 307 or 308, got 300"},
	{"https_redirect and scheme_redirect", routeDoc("- match: {prefix: /}\n  redirect: {https_redirect: true, scheme_redirect: https} " + marker), R + ".redirect", "https_redirect and scheme_redirect are mutually exclusive"},
	{"path_redirect and prefix_rewrite", routeDoc("- match: {prefix: /}\n  redirect: {path_redirect: /a, prefix_rewrite: /b} " + marker), R + ".redirect", "path_redirect and prefix_rewrite are mutually exclusive"},
	{"port_redirect", routeDoc("- match: {prefix: /}\n  redirect:\n    port_redirect: 70000 " + marker), R + ".redirect.port_redirect", "must be a port number, got 70000"},
	{"scheme_redirect upper-case", routeDoc("- match: {prefix: /}\n  redirect:\n    scheme_redirect: HTTPS " + marker), R + ".redirect.scheme_redirect", `must be http or https (lower-case), got "HTTPS"`},
	{"scheme_redirect other", routeDoc("- match: {prefix: /}\n  redirect:\n    scheme_redirect: ftp " + marker), R + ".redirect.scheme_redirect", `got "ftp"`},
	{"path_redirect relative", routeDoc("- match: {prefix: /}\n  redirect:\n    path_redirect: new " + marker), R + ".redirect.path_redirect", `must start with "/", got "new"`},
	{"host_redirect slash", routeDoc("- match: {prefix: /}\n  redirect:\n    host_redirect: a.com/b " + marker), R + ".redirect.host_redirect", `must be a host[:port] without "/", "?", "#" or spaces, got "a.com/b"`},
	{"host_redirect query", routeDoc("- match: {prefix: /}\n  redirect:\n    host_redirect: a.com?b " + marker), R + ".redirect.host_redirect", `got "a.com?b"`},
	{"host_redirect fragment", routeDoc("- match: {prefix: /}\n  redirect:\n    host_redirect: \"a.com#b\" " + marker), R + ".redirect.host_redirect", `got "a.com#b"`},
	{"host_redirect space", routeDoc("- match: {prefix: /}\n  redirect:\n    host_redirect: a .com " + marker), R + ".redirect.host_redirect", `got "a .com"`},
	{"host_redirect tab", routeDoc("- match: {prefix: /}\n  redirect:\n    host_redirect: \"a\\t.com\" " + marker), R + ".redirect.host_redirect", `got "a\t.com"`},
	{"no action", routeDoc("- match: {prefix: /} " + marker), R, "a route needs one action: cluster, weighted_clusters, direct_response, redirect or llm"},
	{"two actions", routeDoc("- match: {prefix: /} " + marker + "\n  cluster: a\n  " + ok), R, "cluster, weighted_clusters, direct_response, redirect and llm are mutually exclusive"},

	// Forwarding options.
	{"prefix_rewrite without cluster", routeDoc("- match: {prefix: /}\n  " + ok + "\n  prefix_rewrite: /x " + marker), R + ".prefix_rewrite", "applies only to routes that forward to a cluster"},
	{"regex_rewrite without cluster", routeDoc("- match: {prefix: /}\n  " + ok + "\n  regex_rewrite: {pattern: a, substitution: b} " + marker), R + ".regex_rewrite", "applies only to routes that forward to a cluster"},
	{"host_rewrite without cluster", routeDoc("- match: {prefix: /}\n  redirect: {https_redirect: true}\n  host_rewrite: x " + marker), R + ".host_rewrite", "applies only to routes that forward to a cluster"},
	{"auto_host_rewrite without cluster", routeDoc("- match: {prefix: /}\n  " + ok + "\n  auto_host_rewrite: true " + marker), R + ".auto_host_rewrite", "applies only to routes that forward to a cluster"},
	{"prefix_rewrite and regex_rewrite", routeDoc("- match: {prefix: /} " + marker + "\n  cluster: a\n  prefix_rewrite: /x\n  regex_rewrite: {pattern: a, substitution: b}"), R, "prefix_rewrite and regex_rewrite are mutually exclusive"},
	{"regex_rewrite pattern required", routeDoc("- match: {prefix: /}\n  cluster: a\n  regex_rewrite: {substitution: b} " + marker), R + ".regex_rewrite.pattern", "is required"},
	{"regex_rewrite pattern", routeDoc("- match: {prefix: /}\n  cluster: a\n  regex_rewrite:\n    pattern: \"a)\" " + marker + "\n    substitution: b"), R + ".regex_rewrite.pattern", "invalid regular expression: error parsing regexp: unexpected )"},
	{"substitution bad escape", routeDoc("- match: {prefix: /}\n  cluster: a\n  regex_rewrite:\n    pattern: \"/(a)\"\n    substitution: '/\\q' " + marker), R + ".regex_rewrite.substitution", `invalid escape \q in "/\\q": use \0-\9 for groups and \\ for a backslash`},
	{"substitution non-ASCII escape", routeDoc("- match: {prefix: /}\n  cluster: a\n  regex_rewrite:\n    pattern: \"/(a)\"\n    substitution: '/\\é' " + marker), R + ".regex_rewrite.substitution", `invalid escape \é`},
	{"substitution trailing backslash", routeDoc("- match: {prefix: /}\n  cluster: a\n  regex_rewrite:\n    pattern: \"/(a)\"\n    substitution: '/\\1\\' " + marker), R + ".regex_rewrite.substitution", `a trailing \ ends "/\\1\\": write \\ for a backslash`},
	{"substitution group out of range", routeDoc("- match: {prefix: /}\n  cluster: a\n  regex_rewrite:\n    pattern: \"/(a)/(?:b)\"\n    substitution: '\\1\\2' " + marker), R + ".regex_rewrite.substitution", `back reference \2 refers to a group the pattern does not have (it has 1)`},
	{"substitution group without groups", routeDoc("- match: {prefix: /}\n  cluster: a\n  regex_rewrite: {pattern: /a, substitution: '\\1'} " + marker), R + ".regex_rewrite.substitution", "(it has 0)"},
	{"host_rewrite and auto_host_rewrite", routeDoc("- match: {prefix: /} " + marker + "\n  cluster: a\n  host_rewrite: x\n  auto_host_rewrite: true"), R, "host_rewrite and auto_host_rewrite are mutually exclusive"},
	{"timeout negative", routeDoc("- match: {prefix: /}\n  cluster: a\n  timeout: -1s " + marker), R + ".timeout", "must not be negative"},
	{"retry without conditions", routeDoc("- match: {prefix: /}\n  cluster: a\n  retry: {attempts: 2} " + marker), R + ".retry.on", "at least one retry condition is required"},
	{"retry unknown condition", routeDoc("- match: {prefix: /}\n  cluster: a\n  retry:\n    on: [5xx, envoy-ratelimited] " + marker), R + ".retry.on[1]", `unknown retry condition "envoy-ratelimited"`},
	{"retry status codes without condition", routeDoc("- match: {prefix: /}\n  cluster: a\n  retry:\n    on: [5xx]\n    retriable_status_codes: [429] " + marker), R + ".retry.retriable_status_codes", "is used only with the retriable-status-codes condition"},
	{"retry backoff max below base", routeDoc("- match: {prefix: /}\n  cluster: a\n  retry:\n    on: [5xx]\n    backoff: {base_interval: 1s, max_interval: 10ms} " + marker), R + ".retry.backoff.max_interval", "must not be less than base_interval"},
	{"retry on a direct response", routeDoc("- match: {prefix: /}\n  " + ok + "\n  retry: {on: [5xx]} " + marker), R + ".retry", "applies only to routes that forward to a cluster"},
	{"mirror unknown cluster", routeDoc("- match: {prefix: /}\n  cluster: a\n  mirror:\n    - {cluster: nope} " + marker), R + ".mirror[0].cluster", `unknown cluster "nope"`},
	{"mirror percent", routeDoc("- match: {prefix: /}\n  cluster: a\n  mirror:\n    - {cluster: b, percent: 101} " + marker), R + ".mirror[0].percent", "must be between 0 and 100"},
	{"route idle_timeout negative", routeDoc("- match: {prefix: /}\n  cluster: a\n  idle_timeout: -1s " + marker), R + ".idle_timeout", "must not be negative"},
	{"route filter not in the listener", routeDoc("- match: {prefix: /}\n  cluster: a\n  filters:\n    cors: {disabled: true}\n    authz: {disabled: true} " + marker), R + ".filters.authz", `filter "authz" is not in the listener's filter chain (the listener's filters are cors, ratelimit)`},
	{"route filter without listener filters", listenerDoc("virtual_hosts:\n  - domains: [\"*\"]\n    routes:\n      - match: {prefix: /}\n        cluster: a\n        filters: {cors: {disabled: true}} "+marker, ""), R + ".filters.cors", "(the listener has no filters)"},

	// Clusters.
	{"cluster name", clusterDoc("- {name: a, endpoints: [\"127.0.0.1:9000\"]}\n- {endpoints: [\"127.0.0.1:9000\"]} " + marker), "clusters[1].name", "is required"},
	{"cluster type", clusterDoc("- name: a\n  type: eds " + marker + "\n  endpoints: [\"127.0.0.1:9000\"]"), C + ".type", `must be static or dns, got "eds"`},
	{"endpoint address missing", clusterDoc("- name: a\n  endpoints:\n    - {weight: 2} " + marker), C + ".endpoints[0]", "an address host:port is required"},
	{"endpoint address", clusterDoc("- name: a\n  endpoints:\n    - 127.0.0.1 " + marker), C + ".endpoints[0]", `invalid address "127.0.0.1": want host:port`},
	{"endpoint port 0", clusterDoc("- name: a\n  endpoints:\n    - 127.0.0.1:0 " + marker), C + ".endpoints[0]", `invalid port in "127.0.0.1:0"`},
	{"endpoint host", clusterDoc("- name: a\n  endpoints:\n    - \":80\" " + marker), C + ".endpoints[0]", `a host is required in ":80"`},
	{"static endpoint name", clusterDoc("- name: a\n  endpoints:\n    - backend:80 " + marker), C + ".endpoints[0]", `"backend:80" is not an IP address: a static cluster needs IP endpoints (set type: dns to resolve names)`},
	{"lb", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  lb: fastest " + marker), C + ".lb", `got "fastest"`},
	{"hash_policy without hashing lb", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  hash_policy: [{source_ip: true}] " + marker), C + ".hash_policy", "is used only by lb ring_hash or maglev"},
	{"hash_policy empty entry", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  lb: maglev\n  hash_policy:\n    - {header: x}\n    - {source_ip: false} " + marker), C + ".hash_policy[1]", "exactly one of header, cookie or source_ip is required"},
	{"hash_policy two sources", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  lb: maglev\n  hash_policy:\n    - {header: x, cookie: y} " + marker), C + ".hash_policy[0]", "exactly one of"},
	{"ring_hash without ring_hash lb", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  lb: maglev\n  ring_hash: {minimum_ring_size: 8} " + marker), C + ".ring_hash", "is used only by lb ring_hash"},
	{"ring_hash sizes", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  lb: ring_hash\n  ring_hash: {minimum_ring_size: 64, maximum_ring_size: 8} " + marker), C + ".ring_hash", "minimum_ring_size must be between 0 and maximum_ring_size"},
	{"ring_hash maximum", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  lb: ring_hash\n  ring_hash:\n    maximum_ring_size: 8388609 " + marker), C + ".ring_hash.maximum_ring_size", "must be at most 8388608"},
	{"connect_timeout", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  connect_timeout: -1s " + marker), C + ".connect_timeout", "must be positive"},
	{"dns_refresh_rate", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  dns_refresh_rate: -5s " + marker), C + ".dns_refresh_rate", "must be positive"},
	{"idle_timeout", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  idle_timeout: -1ms " + marker), C + ".idle_timeout", "must not be negative"},
	{"max_connections", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  max_connections: -1 " + marker), C + ".max_connections", "must not be negative"},
	{"max_idle_connections", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  max_idle_connections: -1 " + marker), C + ".max_idle_connections", "must not be negative"},
	{"circuit_breakers negative", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  circuit_breakers:\n    max_retries: -1 " + marker), C + ".circuit_breakers.max_retries", "must not be negative"},
	{"upstream ca_file", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  tls:\n    ca_file: /nonexistent/ca.pem " + marker), C + ".tls.ca_file", "cannot read: stat /nonexistent/ca.pem"},
	{"upstream ca_file not a file", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  tls:\n    ca_file: / " + marker), C + ".tls.ca_file", "/ is not a regular file"},
	{"upstream cert without key", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  tls: {cert: CERT} " + marker), C + ".tls", "cert and key go together"},
	{"upstream key pair", clusterDoc("- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  tls: {cert: CERT, key: CERT} " + marker), C + ".tls", "cannot load the client key pair"},
}

func TestValidationRules(t *testing.T) {
	cert, key := writeKeyPair(t, t.TempDir())
	files := strings.NewReplacer("CERT", cert, "KEY", key)
	seen := map[string]bool{}
	for _, tt := range validationCases {
		if seen[tt.name] {
			t.Fatalf("duplicate case name %q", tt.name)
		}
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			doc := files.Replace(tt.doc)
			errs := loadErrors(t, doc)
			wantError(t, errs, tt.path, markedLine(t, doc), tt.frag)
		})
	}
}

// TestValidEdges holds documents at the edges of the rules that must load.
func TestValidEdges(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"substitution escapes", routeDoc(`- match: {prefix: /}
  cluster: a
  regex_rewrite: {pattern: "^/(a)/(b)$", substitution: '\0\1\2\\'}`)},
		{"substitution without escapes", routeDoc("- match: {prefix: /}\n  cluster: a\n  regex_rewrite: {pattern: /a, substitution: /b}")},
		{"empty substitution", routeDoc("- match: {prefix: /}\n  cluster: a\n  regex_rewrite: {pattern: /a, substitution: ''}")},
		{"matchable pseudo-headers", routeDoc(`- match:
    prefix: /
    headers:
      - {name: ":authority", suffix: .com, ignore_case: true}
      - {name: ":METHOD", exact: GET}
      - {name: ":path", prefix: /}
      - {name: ":scheme", exact: https}
  cluster: a`)},
		{"case_sensitive on path conditions", routeDoc(`- {match: {prefix: /a, case_sensitive: false}, cluster: a}
- {match: {path: /b, case_sensitive: true}, cluster: a}
- {match: {path_separated_prefix: /c, case_sensitive: false}, cluster: a}
- {match: {regex: "(?i)/d"}, cluster: a}`)},
		{"ignore_case without regex", routeDoc(`- match:
    prefix: /
    query: [{name: q, exact: A, ignore_case: true}]
    headers: [{name: x, contains: B, ignore_case: true}]
  cluster: a`)},
		{"redirects", routeDoc(`- {match: {prefix: /a}, redirect: {scheme_redirect: http, host_redirect: "example.com:8443", path_redirect: "/b?c=d"}}
- {match: {prefix: /b}, redirect: {scheme_redirect: https, host_redirect: "[::1]:8443", response_code: 307}}`)},
		{"duplicate route names", routeDoc(`- {name: r, match: {prefix: /a}, cluster: a}
- {name: r, match: {prefix: /b}, cluster: b}`)},
		{"per-route filters of the listener", routeDoc(`- match: {prefix: /}
  cluster: a
  filters: {cors: {disabled: true}, ratelimit: {rps: 5}}`)},
		{"header values", routeDoc(`- match: {prefix: /}
  cluster: a
  request_headers_to_add: [{name: x-a, value: " ", append: false}]
  response_headers_to_add: [{name: x-b, value: "0"}]`)},
		{"listeners on port 0", `listeners:
  - {name: l, address: ":0", virtual_hosts: [{domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}]}
  - {name: m, address: ":0", virtual_hosts: [{domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}]}
`},
		{"route timeout disabled", routeDoc("- {match: {prefix: /}, cluster: a, timeout: 0}")},
		{"retry and mirror", routeDoc("- {match: {prefix: /}, cluster: a, idle_timeout: 0s, retry: {on: [5xx, retriable-status-codes], retriable_status_codes: [429], attempts: 0}, mirror: [{cluster: b, percent: 0.5}]}")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { mustLoad(t, tt.doc) })
	}
}
