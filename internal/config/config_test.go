package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/pylon-gateway/pylon/internal/config"
)

// marker ends the line where a test expects an error.
const marker = "# <-"

// markedLine returns the 1-based line of the first marker in doc.
func markedLine(t testing.TB, doc string) int {
	t.Helper()
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, marker) {
			return i + 1
		}
	}
	t.Fatalf("no %q marker in:\n%s", marker, doc)
	return 0
}

// indent indents every non-empty line of s by n spaces.
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// loadErrors loads doc and returns its errors, failing the test unless Load returns Errors.
func loadErrors(t testing.TB, doc string) config.Errors {
	t.Helper()
	cfg, err := config.Load([]byte(doc))
	if err == nil {
		t.Fatalf("Load succeeded, want errors; config: %+v\n%s", cfg, numbered(doc))
	}
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v (%T), want config.Errors", err, err)
	}
	if len(errs) == 0 {
		t.Fatal("Load returned an empty Errors")
	}
	for _, e := range errs {
		if r, _ := utf8.DecodeRuneInString(e.Msg); e.Msg == "" || unicode.IsUpper(r) {
			t.Errorf("message %q should not start with a capital letter (%v)", e.Msg, e)
		}
	}
	return errs
}

func mustLoad(t testing.TB, doc string) *config.Config {
	t.Helper()
	cfg, err := config.Load([]byte(doc))
	if err != nil {
		t.Fatalf("Load: %v\n%s", err, numbered(doc))
	}
	return cfg
}

func numbered(doc string) string {
	var b strings.Builder
	for i, l := range strings.Split(doc, "\n") {
		fmt.Fprintf(&b, "%3d %s\n", i+1, l)
	}
	return b.String()
}

// wantError checks that errs holds exactly one error, at path and line, whose message
// contains frag.
func wantError(t testing.TB, errs config.Errors, path string, line int, frag string) {
	t.Helper()
	if len(errs) != 1 {
		t.Fatalf("got %d errors, want 1 (%s at line %d):\n%v", len(errs), path, line, errs)
	}
	checkError(t, errs[0], path, line, frag)
}

func checkError(t testing.TB, e config.FieldError, path string, line int, frag string) {
	t.Helper()
	if e.Path != path || e.Line != line || !strings.Contains(e.Msg, frag) {
		t.Errorf("got %v\nwant %s (line %d): ...%s...", e, path, line, frag)
	}
}

// writeKeyPair writes a self-signed certificate and its key to dir.
func writeKeyPair(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "pylon.test"},
		DNSNames:     []string{"pylon.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// fullConfig uses every part of the schema. It leaves every defaulted field unset in its
// first listener, route and cluster, and sets each of them in the second ones.
const fullConfig = `
admin:
  address: 127.0.0.1:9901
listeners:
  - name: public
    address: 0.0.0.0:8080
    access_log:
      - path: stdout
      - path: stderr
        json: {status: "%RESPONSE_CODE%", path: "%REQ(:PATH)%"}
    filters:
      - cors: {allow_origins: ["*"]}
      - ratelimit
    virtual_hosts:
      - name: api
        domains: [api.example.com, "*.api.example.com"]
        request_headers_to_add: [{name: x-gateway, value: pylon}]
        response_headers_to_remove: [server]
        routes:
          - name: v1
            match:
              prefix: /v1/
              headers:
                - {name: x-tenant, exact: acme}
                - {name: ":method", regex: "GET|HEAD"}
              query: [{name: debug, present: true}]
              methods: [GET, HEAD]
            cluster: backend
            prefix_rewrite: /
            filters:
              cors: {disabled: true}
          - match: {regex: "/v2/(\\w+)/(\\d+)"}
            weighted_clusters: [{name: backend, weight: 90}, {name: canary, weight: 10}]
            regex_rewrite: {pattern: "^/v2/(\\w+)/(\\d+)$", substitution: "/\\2/\\1\\\\"}
          - match: {path: /health}
            direct_response: {status: 200, body: ok}
          - match: {path_separated_prefix: /old}
            redirect: {path_redirect: /new}
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            redirect: {https_redirect: true}
  - name: internal
    address: 127.0.0.1:8081
    stat_prefix: int
    http2: false
    use_remote_address: false
    max_request_headers_kb: 32
    server_name: edge
    ignore_port_in_host_matching: true
    tls:
      min_version: "1.3"
      certificates: [{cert: CERT, key: KEY}]
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /, case_sensitive: false}
            cluster: dns
            timeout: 0s
            host_rewrite: internal.example.com
          - match: {prefix: /r}
            redirect: {scheme_redirect: http, host_redirect: "example.com:8443", port_redirect: 8443, response_code: 308}
clusters:
  - name: backend
    endpoints: ["10.0.0.1:8080", {address: "10.0.0.2:8080", weight: 3}]
  - name: canary
    endpoints: ["[::1]:8080"]
  - name: dns
    type: dns
    endpoints: [backend.internal:443]
    dns_refresh_rate: 30s
    lb: ring_hash
    hash_policy: [{header: x-user}, {source_ip: true}]
    ring_hash: {minimum_ring_size: 64, maximum_ring_size: 1024}
    connect_timeout: 250ms
    max_connections: 10
    max_idle_connections: 5
    idle_timeout: 90s
    http2: true
    tls: {sni: backend.internal, insecure_skip_verify: true}
drain_timeout: 30s
`

func loadFull(t testing.TB) *config.Config {
	t.Helper()
	cert, key := writeKeyPair(t, t.TempDir())
	doc := strings.NewReplacer("CERT", cert, "KEY", key).Replace(fullConfig)
	return mustLoad(t, doc)
}

func TestFullConfigDefaults(t *testing.T) {
	cfg := loadFull(t)
	check := func(name string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("drain_timeout (set)", cfg.DrainTimeout.D(), 30*time.Second)
	check("admin.address", cfg.Admin.Address, "127.0.0.1:9901")
	if len(cfg.Listeners) != 2 || len(cfg.Clusters) != 3 {
		t.Fatalf("got %d listeners and %d clusters", len(cfg.Listeners), len(cfg.Clusters))
	}

	// Listener defaults, then the same fields set explicitly.
	l := cfg.Listeners[0]
	check("stat_prefix", l.StatPrefix, "public")
	check("http2", *l.HTTP2, true)
	check("use_remote_address", *l.UseRemoteAddress, true)
	check("max_request_headers_kb", l.MaxRequestHeadersKB, config.DefaultMaxRequestHeadersKB)
	check("server_name", l.ServerName, config.DefaultServerName)
	check("tls", l.TLS == nil, true)
	l2 := cfg.Listeners[1]
	check("stat_prefix (set)", l2.StatPrefix, "int")
	check("http2 (set)", *l2.HTTP2, false)
	check("use_remote_address (set)", *l2.UseRemoteAddress, false)
	check("max_request_headers_kb (set)", l2.MaxRequestHeadersKB, 32)
	check("server_name (set)", l2.ServerName, "edge")
	check("tls.min_version (set)", l2.TLS.MinVersion, "1.3")
	check("ignore_port_in_host_matching", l2.IgnorePortInHostMatching, true)

	// Filters: a single-key map with its config, and a bare name.
	check("filters", len(l.Filters), 2)
	check("filters[0].name", l.Filters[0].Name, "cors")
	check("filters[0].config kind", l.Filters[0].Config.Kind, yaml.MappingNode)
	check("filters[1].name", l.Filters[1].Name, "ratelimit")
	check("filters[1].config kind", l.Filters[1].Config.Kind, yaml.Kind(0))

	// Route defaults.
	routes := l.VirtualHosts[0].Routes
	check("case_sensitive", *routes[0].Match.CaseSensitive, true)
	check("timeout (cluster)", routes[0].Timeout.D(), config.DefaultRouteTimeout)
	check("timeout (weighted_clusters)", routes[1].Timeout.D(), config.DefaultRouteTimeout)
	check("timeout (direct_response)", routes[2].Timeout == nil, true)
	check("timeout (redirect)", routes[3].Timeout == nil, true)
	check("redirect.response_code", routes[3].Redirect.ResponseCode, 301)
	check("regex_rewrite.substitution", routes[1].RegexRewrite.Substitution, `/\2/\1\\`)
	check("route filters", len(routes[0].Filters), 1)
	r2 := l2.VirtualHosts[0].Routes
	check("case_sensitive (set)", *r2[0].Match.CaseSensitive, false)
	check("timeout 0s (set: disabled)", *r2[0].Timeout, config.Duration(0))
	check("redirect.response_code (set)", r2[1].Redirect.ResponseCode, 308)

	// Cluster defaults.
	c := cfg.Clusters[0]
	check("type", c.Type, "static")
	check("lb", c.LB, "round_robin")
	check("connect_timeout", c.ConnectTimeout.D(), config.DefaultConnectTimeout)
	check("dns_refresh_rate", c.DNSRefreshRate.D(), config.DefaultDNSRefreshRate)
	check("idle_timeout", c.IdleTimeout.D(), config.DefaultIdleTimeout)
	check("max_connections", c.MaxConnections, config.DefaultMaxConnections)
	check("max_idle_connections", c.MaxIdleConnections, config.DefaultMaxIdleConnections)
	check("endpoints", c.Endpoints, []config.Endpoint{{Address: "10.0.0.1:8080", Weight: 1}, {Address: "10.0.0.2:8080", Weight: 3}})
	c3 := cfg.Clusters[2]
	check("type (set)", c3.Type, "dns")
	check("lb (set)", c3.LB, "ring_hash")
	check("connect_timeout (set)", c3.ConnectTimeout.D(), 250*time.Millisecond)
	check("dns_refresh_rate (set)", c3.DNSRefreshRate.D(), 30*time.Second)
	check("idle_timeout (set)", c3.IdleTimeout.D(), 90*time.Second)
	check("max_connections (set)", c3.MaxConnections, 10)
	check("max_idle_connections (set)", c3.MaxIdleConnections, 5)

	// Line reports where each field is, for compile steps outside this package.
	check("Line(listeners[1].tls)", cfg.Line("listeners[1].tls"), strings.Count(fullConfig[:strings.Index(fullConfig, "    tls:\n      min")], "\n")+1)
	check("Line(unknown path)", cfg.Line("nope"), 0)
}

func TestMinimalTLSDefaults(t *testing.T) {
	cert, key := writeKeyPair(t, t.TempDir())
	cfg := mustLoad(t, fmt.Sprintf(`
listeners:
  - name: l
    address: :8080
    tls: {certificates: [{cert: %q, key: %q}]}
    virtual_hosts: [{domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 204}}]}]
`, cert, key))
	if got := cfg.DrainTimeout.D(); got != config.DefaultDrainTimeout {
		t.Errorf("drain_timeout = %v, want %v", got, config.DefaultDrainTimeout)
	}
	if cfg.Admin.Address != "" {
		t.Errorf("admin.address = %q: an unset admin address stays empty (no admin listener)", cfg.Admin.Address)
	}
	if got := cfg.Listeners[0].TLS.MinVersion; got != "1.2" {
		t.Errorf("tls.min_version = %q, want 1.2", got)
	}
	if cfg.Clusters != nil {
		t.Errorf("clusters = %v, want none", cfg.Clusters)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pylon.yaml")
	doc := "listeners: [{name: l, address: ':0', virtual_hosts: [{domains: ['*'], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}]}]\n"
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := config.LoadFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("LoadFile(missing) = %v, want an error naming the file", err)
	}
}

// listenerDoc is a valid document around extra listener fields and clusters.
func listenerDoc(listener, clusters string) string {
	doc := "listeners:\n  - name: l\n    address: 127.0.0.1:8080\n" + indent(listener, 4)
	if !strings.Contains(listener, "virtual_hosts") {
		doc += "    virtual_hosts: [{domains: [\"*\"], routes: [{match: {prefix: /}, cluster: a}]}]\n"
	}
	if clusters == "" {
		clusters = "- {name: a, endpoints: [\"127.0.0.1:9000\"]}"
	}
	return doc + "clusters:\n" + indent(clusters, 2)
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		path string
		frag string
	}{
		{"unknown top-level field", "listners: [] " + marker + "\n" + listenerDoc("", ""),
			"listners", `unknown field "listners"`},
		{"unknown nested field", listenerDoc("stat_prefx: x "+marker, ""),
			"listeners[0].stat_prefx", `unknown field "stat_prefx"`},
		{"unknown field in a deep block", listenerDoc(`
virtual_hosts:
  - domains: ["*"]
    routes:
      - match:
          prefix: /
          header: x `+marker+`
        cluster: a`, ""),
			"listeners[0].virtual_hosts[0].routes[0].match.header", `unknown field "header"`},
		{"unknown field in a flow map", listenerDoc(`virtual_hosts: [{domains: ["*"], routes: [{match: {prefix: /, exact: /x}, cluster: a}]}] `+marker, ""),
			"listeners[0].virtual_hosts[0].routes[0].match.exact", `unknown field "exact"`},
		{"unknown cluster field", listenerDoc("", `- {name: a, endpoints: ["127.0.0.1:9000"], retries: 3} `+marker),
			"clusters[0].retries", `unknown field "retries"`},
		{"unknown endpoint key", listenerDoc("", `- {name: a, endpoints: [{address: "127.0.0.1:9000", wieght: 2}]} `+marker),
			"clusters[0].endpoints[0].wieght", `unknown field "wieght"`},
		{"duplicate key", listenerDoc("name: m "+marker, ""),
			"listeners[0].name", `mapping key "name" already defined at line 2`},
		{"integer as string", listenerDoc("", "- name: a\n  endpoints: [\"127.0.0.1:9000\"]\n  max_connections: abc "+marker),
			"clusters[0].max_connections", `"abc" is a string, want an integer`},
		{"string for a list", listenerDoc(`virtual_hosts: [{domains: "x", routes: [{match: {prefix: /}, cluster: a}]}] `+marker, ""),
			"listeners[0].virtual_hosts[0].domains", `"x" is a string, want a list`},
		{"list for a string", listenerDoc("server_name: [a, b] "+marker, ""),
			"listeners[0].server_name", "got a list, want a string"},
		{"negative weight", listenerDoc(`virtual_hosts: [{domains: ["*"], routes: [{match: {prefix: /}, weighted_clusters: [{name: a, weight: -1}]}]}] `+marker, ""),
			"listeners[0].virtual_hosts[0].routes[0].weighted_clusters[0].weight", `"-1" is a number, want a non-negative integer`},
		{"long value", listenerDoc("max_request_headers_kb: sixty-four-kilobytes "+marker, ""),
			"listeners[0].max_request_headers_kb", `"sixty-four-kilobytes" is a string, want an integer`},
		{"boolean", listenerDoc("http2: maybe "+marker, ""),
			"listeners[0].http2", `"maybe" is a string, want true or false`},
		{"map for a string in a block list", "listeners:\n  - name: {a: b} " + marker + "\n    address: 127.0.0.1:8080\n    virtual_hosts: [{domains: [\"*\"], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}]\n",
			"listeners[0].name", "got a map, want a string"},
		{"bad duration", listenerDoc("", "- {name: a, endpoints: [\"127.0.0.1:9000\"], connect_timeout: bad} "+marker),
			"clusters[0].connect_timeout", `invalid duration "bad"`},
		{"duration map", "drain_timeout: {s: 1} " + marker + "\n" + listenerDoc("", ""),
			"drain_timeout", `want a duration such as "15s"`},
		{"infinite duration", "drain_timeout: inf " + marker + "\n" + listenerDoc("", ""),
			"drain_timeout", `invalid duration "inf"`},
		{"overflowing duration", "drain_timeout: 1e12 " + marker + "\n" + listenerDoc("", ""),
			"drain_timeout", `invalid duration "1e12"`},
		{"endpoint list", listenerDoc("", `- {name: a, endpoints: [["127.0.0.1:9000"]]} `+marker),
			"clusters[0].endpoints[0]", `an endpoint is "host:port" or {address: host:port, weight: N}`},
		{"endpoint weight", listenerDoc("", `- {name: a, endpoints: [{address: "127.0.0.1:9000", weight: heavy}]} `+marker),
			"clusters[0].endpoints[0].weight", `"heavy" is a string, want a non-negative integer`},
		{"filter list", listenerDoc("filters: [[cors]] "+marker, ""),
			"listeners[0].filters[0]", "a filter is a name or a single-key map"},
		{"filter with two keys", listenerDoc("filters: [{cors: {}, ratelimit: {}}] "+marker, ""),
			"listeners[0].filters[0]", "a filter is a name or a single-key map"},
		{"document not a map", "- a " + marker + "\n",
			"(document)", "got a list, want a map"},
		{"second document", listenerDoc("", "") + "---\nlisteners: [] " + marker + "\n",
			"(document)", "a config is a single YAML document"},
		{"syntax error", "listeners:\n  - name: l\n    address: [127.0.0.1:8080 " + marker + "\n",
			"(document)", "did not find expected ',' or ']'"},
		{"tab indentation", "listeners:\n\t- name: l " + marker + "\n",
			"(document)", "found character that cannot start any token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := loadErrors(t, tt.doc)
			wantError(t, errs, tt.path, markedLine(t, tt.doc), tt.frag)
		})
	}
}

func TestEmptyDocument(t *testing.T) {
	for _, doc := range []string{"", "\n\n", "# nothing but a comment\n", "---\n", "~\n", "--- # empty\n...\n"} {
		errs := loadErrors(t, doc)
		wantError(t, errs, "listeners", 0, "the config is empty")
	}
	errs := loadErrors(t, "listeners: [] "+marker+"\n")
	wantError(t, errs, "listeners", 1, "at least one listener is required")
	// A trailing empty document is harmless.
	mustLoad(t, listenerDoc("", "")+"---\n")
}

func TestDurations(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"250ms", 250 * time.Millisecond},
		{"15s", 15 * time.Second},
		{"1m30s", 90 * time.Second},
		{`"2h"`, 2 * time.Hour},
		{"1.5", 1500 * time.Millisecond},
		{"3", 3 * time.Second},
		{"0.001", time.Millisecond},
	}
	for _, tt := range tests {
		cfg := mustLoad(t, "drain_timeout: "+tt.in+"\n"+listenerDoc("", ""))
		if got := cfg.DrainTimeout.D(); got != tt.want {
			t.Errorf("drain_timeout: %s = %v, want %v", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"bad", "nan", "-inf", "1e10", "15 s", "[1s]", "{s: 1}"} {
		doc := "drain_timeout: " + bad + " " + marker + "\n" + listenerDoc("", "")
		errs := loadErrors(t, doc)
		if len(errs) != 1 || errs[0].Path != "drain_timeout" || errs[0].Line != 1 || !strings.Contains(errs[0].Msg, "duration") {
			t.Errorf("drain_timeout: %s: got %v, want one duration error at line 1", bad, errs)
		}
	}
	errs := loadErrors(t, "drain_timeout: -1s "+marker+"\n"+listenerDoc("", ""))
	wantError(t, errs, "drain_timeout", 1, "must not be negative")
}

func TestEndpointForms(t *testing.T) {
	cfg := mustLoad(t, listenerDoc("", `
- name: a
  endpoints:
    - 127.0.0.1:9000
    - "10.0.0.1:80"
    - {address: "10.0.0.2:80", weight: 5}
    - address: "[::1]:80"
      weight: 0
`))
	want := []config.Endpoint{
		{Address: "127.0.0.1:9000", Weight: 1},
		{Address: "10.0.0.1:80", Weight: 1},
		{Address: "10.0.0.2:80", Weight: 5},
		{Address: "[::1]:80", Weight: 1},
	}
	if got := cfg.Clusters[0].Endpoints; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("endpoints = %v, want %v", got, want)
	}
	// Every problem of a map endpoint is reported.
	doc := listenerDoc("", `- {name: a, endpoints: [{address: "127.0.0.1:9000", port: 1, weight: x, address: "127.0.0.1:9001"}]} `+marker)
	errs := loadErrors(t, doc)
	if len(errs) != 3 {
		t.Fatalf("got %v, want 3 errors", errs)
	}
	line := markedLine(t, doc)
	checkError(t, errs[0], "clusters[0].endpoints[0].port", line, `unknown field "port"`)
	checkError(t, errs[1], "clusters[0].endpoints[0].weight", line, `"x" is a string`)
	checkError(t, errs[2], "clusters[0].endpoints[0].address", line, "already defined")
}

func TestFilterForms(t *testing.T) {
	doc := listenerDoc(`
filters:
  - cors:
      allow_origins: ["*"]
  - ratelimit
  - {authz: {mode: deny}}
  - buffer: ~
`, "")
	cfg := mustLoad(t, doc)
	fs := cfg.Listeners[0].Filters
	want := []struct {
		name string
		kind yaml.Kind
		line int
	}{{"cors", yaml.MappingNode, 5}, {"ratelimit", 0, 7}, {"authz", yaml.MappingNode, 8}, {"buffer", yaml.ScalarNode, 9}}
	if len(fs) != len(want) {
		t.Fatalf("filters = %+v", fs)
	}
	for i, w := range want {
		if fs[i].Name != w.name || fs[i].Config.Kind != w.kind || fs[i].Line != w.line {
			t.Errorf("filters[%d] = {%s kind %v line %d}, want {%s kind %v line %d}", i, fs[i].Name, fs[i].Config.Kind, fs[i].Line, w.name, w.kind, w.line)
		}
	}
	var cors struct {
		AllowOrigins []string `yaml:"allow_origins"`
	}
	if err := fs[0].Config.Decode(&cors); err != nil || len(cors.AllowOrigins) != 1 {
		t.Errorf("cors config = %+v, %v", cors, err)
	}
}

// TestAllErrorsReported: one load names every problem of a document, whatever its kind.
func TestAllErrorsReported(t *testing.T) {
	doc := `listeners:
  - name: l
    address: 127.0.0.1:8080
    max_request_headers_kb: lots
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /, cas_sensitive: false}
            cluster: nope
clusters:
  - {name: a, endpoints: ["127.0.0.1:9000"], connect_timeout: soon}
`
	errs := loadErrors(t, doc)
	want := []struct {
		path string
		line int
		frag string
	}{
		{"listeners[0].max_request_headers_kb", 4, `"lots" is a string`},
		{"listeners[0].virtual_hosts[0].routes[0].match.cas_sensitive", 8, `unknown field "cas_sensitive"`},
		{"listeners[0].virtual_hosts[0].routes[0].cluster", 9, `unknown cluster "nope"`},
		{"clusters[0].connect_timeout", 11, `invalid duration "soon"`},
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		checkError(t, errs[i], w.path, w.line, w.frag)
	}
	// Three validation problems: three errors, sorted by line.
	errs = loadErrors(t, listenerDoc(`
virtual_hosts:
  - domains: ["*", "*"]
    routes:
      - {match: {prefix: /}, cluster: b}
      - {match: {path: x}, direct_response: {status: 200}}
`, ""))
	if len(errs) != 3 {
		t.Fatalf("got %d errors, want 3:\n%v", len(errs), errs)
	}
	checkError(t, errs[0], "listeners[0].virtual_hosts[0].domains[1]", 5, "wildcard")
	checkError(t, errs[1], "listeners[0].virtual_hosts[0].routes[0].cluster", 7, `unknown cluster "b"`)
	checkError(t, errs[2], "listeners[0].virtual_hosts[0].routes[1].match.path", 8, `must start with "/"`)
}

// TestDecodeErrorsHideTheirConsequences: a field that failed to decode is empty; the
// checks of it do not add errors of their own.
func TestDecodeErrorsHideTheirConsequences(t *testing.T) {
	tests := []struct {
		name, doc, path string
	}{
		{"listeners", "listeners: 5\n", "listeners"},
		{"domains", listenerDoc(`virtual_hosts: [{domains: x, routes: [{match: {prefix: /}, cluster: a}]}]`, ""), "listeners[0].virtual_hosts[0].domains"},
		{"route action", listenerDoc(`virtual_hosts: [{domains: ["*"], routes: [{match: {prefix: /}, cluster: [a]}]}]`, ""), "listeners[0].virtual_hosts[0].routes[0].cluster"},
		{"clusters", "clusters: x\nlisteners: [{name: l, address: ':0', virtual_hosts: [{domains: ['*'], routes: [{match: {prefix: /}, cluster: a}]}]}]\n", "clusters"},
		{"cluster name", listenerDoc("", "- {name: [a], endpoints: [\"127.0.0.1:9000\"]}"), "clusters[0].name"},
		{"misspelt match field", listenerDoc(`virtual_hosts: [{domains: ["*"], routes: [{match: {prefx: /}, cluster: a}]}]`, ""), "listeners[0].virtual_hosts[0].routes[0].match.prefx"},
		{"misspelt endpoint address", listenerDoc("", `- {name: a, endpoints: [{adress: "127.0.0.1:9000"}]}`), "clusters[0].endpoints[0].adress"},
		{"dropped list item", listenerDoc("", `- {name: a, endpoints: [{address: "127.0.0.1:9000", port: 1}, "127.0.0.1:0"]}`), "clusters[0].endpoints[0].port"},
		{"dropped cluster", listenerDoc("", "- a\n- {name: b, endpoints: [\"127.0.0.1:9000\"]}"), "clusters[0]"},
		{"dropped domain", listenerDoc(`virtual_hosts: [{domains: [a.com, [b], a.com], routes: [{match: {prefix: /}, cluster: a}]}]`, ""), "listeners[0].virtual_hosts[0].domains[1]"},
		{"duplicate key", listenerDoc(`virtual_hosts: [{domains: ["*"], routes: [{match: {prefix: /, prefix: /a}, cluster: a}]}]`, ""), "listeners[0].virtual_hosts[0].routes[0].match.prefix"},
		{"duplicate key in a list item", "listeners:\n  - {name: l, name: m, address: ':0'}\n", "listeners[0].name"},
		{"duplicate top-level key", "listeners: []\nlisteners: []\n", "listeners"},
		{"filters", listenerDoc(`
filters: cors
virtual_hosts: [{domains: ["*"], routes: [{match: {prefix: /}, cluster: a, filters: {cors: {disabled: true}}}]}]`, ""), "listeners[0].filters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := loadErrors(t, tt.doc)
			if len(errs) != 1 || errs[0].Path != tt.path {
				t.Errorf("got %v, want one error at %s", errs, tt.path)
			}
		})
	}
}

func TestErrorsString(t *testing.T) {
	errs := config.Errors{{Path: "a.b", Line: 3, Msg: "bad"}, {Path: "c", Msg: "worse"}}
	if got, want := errs.Error(), "a.b (line 3): bad\nc: worse"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestAliases(t *testing.T) {
	cfg := mustLoad(t, `
listeners:
  - &l
    name: l
    address: 127.0.0.1:8080
    virtual_hosts: [{domains: ["*"], routes: [{match: {prefix: /}, cluster: a}]}]
clusters:
  - {name: a, endpoints: &eps ["127.0.0.1:9000"]}
  - {name: b, endpoints: *eps}
`)
	if len(cfg.Clusters[1].Endpoints) != 1 {
		t.Errorf("aliased endpoints = %v", cfg.Clusters[1].Endpoints)
	}
	// An anchor that contains itself is an error, not a hang; the error names the alias.
	doc := listenerDoc("", "- &c {name: a, endpoints: [\"127.0.0.1:9000\"], tls: *c} "+marker)
	errs := loadErrors(t, doc)
	if len(errs) != 3 {
		t.Fatalf("got %v, want 3 errors", errs)
	}
	for i, f := range []string{"name", "endpoints", "tls"} {
		checkError(t, errs[i], "clusters[0].tls."+f, markedLine(t, doc), "unknown field")
	}
	// A type error inside an anchor names the alias where it was decoded.
	doc = listenerDoc("", `
- {name: a, endpoints: ["127.0.0.1:9000"], connect_timeout: &t soon} `+marker+`
- {name: b, endpoints: ["127.0.0.1:9000"], connect_timeout: *t}`)
	errs = loadErrors(t, doc)
	if len(errs) != 2 {
		t.Fatalf("got %v, want 2 errors", errs)
	}
	checkError(t, errs[0], "clusters[0].connect_timeout", markedLine(t, doc), `invalid duration "soon"`)
	checkError(t, errs[1], "clusters[1].connect_timeout", markedLine(t, doc), `invalid duration "soon"`)
	errs = loadErrors(t, "a: &a [*a]\n"+listenerDoc("", ""))
	wantError(t, errs, "a", 1, `unknown field "a"`)
}

func TestManyAliases(t *testing.T) {
	// "Billion laughs": nested aliases must not blow up the line index.
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
	}
	start := time.Now()
	loadErrors(t, b.String())
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Load took %v", d)
	}
}

var benchDoc = func() string {
	var b strings.Builder
	b.WriteString("admin: {address: 127.0.0.1:9901}\nlisteners:\n")
	for l := range 4 {
		fmt.Fprintf(&b, "  - name: l%d\n    address: 127.0.0.1:%d\n    filters: [cors, {ratelimit: {rps: 100}}]\n    access_log: [{path: stdout}]\n    virtual_hosts:\n", l, 8080+l)
		for v := range 5 {
			fmt.Fprintf(&b, "      - name: vh%d\n        domains: [\"svc%d.example.com\", \"*.svc%d.example.com\"]\n", v, v, v)
			b.WriteString("        request_headers_to_add: [{name: x-gw, value: pylon}]\n        routes:\n")
			for r := range 10 {
				fmt.Fprintf(&b, "          - name: r%d\n            match:\n              prefix: /api/v%d/\n              headers: [{name: x-tenant, exact: t%d}]\n", r, r, r)
				fmt.Fprintf(&b, "            cluster: c%d\n            timeout: 5s\n            prefix_rewrite: /\n", (l*50+v*10+r)%20)
			}
			b.WriteString("          - {match: {prefix: /}, direct_response: {status: 404, body: not found}}\n")
		}
	}
	b.WriteString("clusters:\n")
	for c := range 20 {
		fmt.Fprintf(&b, "  - name: c%d\n    connect_timeout: 1s\n    lb: least_request\n    endpoints:\n", c)
		for e := range 4 {
			fmt.Fprintf(&b, "      - {address: \"10.0.%d.%d:8080\", weight: %d}\n", c, e+1, e+1)
		}
	}
	return b.String()
}()

func BenchmarkLoad(b *testing.B) {
	data := []byte(benchDoc)
	if _, err := config.Load(data); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := config.Load(data); err != nil {
			b.Fatal(err)
		}
	}
}
