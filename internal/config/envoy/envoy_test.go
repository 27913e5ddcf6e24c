package envoy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pylon-gateway/pylon/internal/config"
)

// normalize turns a config into plain data for comparison, filter configs included (they
// are yaml.Nodes, whose positions and styles differ between documents).
func normalize(t *testing.T, c *config.Config) any {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	decode := func(n yaml.Node) any {
		if n.Kind == 0 {
			return nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	filters := map[string]any{}
	for i, l := range c.Listeners {
		for j, f := range l.Filters {
			filters[fmt.Sprintf("listeners[%d].filters[%d].%s", i, j, f.Name)] = decode(f.Config)
		}
		for j, vh := range l.VirtualHosts {
			for k, r := range vh.Routes {
				for name, n := range r.Filters {
					filters[fmt.Sprintf("listeners[%d].virtual_hosts[%d].routes[%d].filters.%s", i, j, k, name)] = decode(n)
				}
			}
		}
	}
	out["(filters)"] = filters
	return out
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.pylon.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, want := range files {
		name := strings.TrimSuffix(filepath.Base(want), ".pylon.yaml")
		t.Run(name, func(t *testing.T) {
			envoyYAML, err := os.ReadFile(filepath.Join("testdata", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			pylonYAML, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if !IsEnvoy(envoyYAML) {
				t.Errorf("IsEnvoy(%s.yaml) = false", name)
			}
			if IsEnvoy(pylonYAML) {
				t.Errorf("IsEnvoy(%s.pylon.yaml) = true", name)
			}
			got, err := Load(envoyYAML)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			exp, err := config.Load(pylonYAML)
			if err != nil {
				t.Fatalf("config.Load of the expected Pylon YAML: %v", err)
			}
			g, e := normalize(t, got), normalize(t, exp)
			if !reflect.DeepEqual(g, e) {
				gj, _ := json.MarshalIndent(g, "", "  ")
				ej, _ := json.MarshalIndent(e, "", "  ")
				t.Errorf("translation differs\n--- got\n%s\n--- want\n%s", gj, ej)
			}
			if l := got.Line("listeners[0]"); l != 0 {
				t.Errorf("Line() = %d, want 0 (no line index of the intermediate YAML)", l)
			}
		})
	}
}

// minimal wraps a route config and clusters into a bootstrap. Lines of the route config
// start at line 16.
func minimal(httpFilters, routeConfig, clusters string) string {
	if httpFilters == "" {
		httpFilters = `
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`
	}
	if clusters == "" {
		clusters = `
    - name: web
      load_assignment:
        cluster_name: web
        endpoints:
          - lb_endpoints:
              - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8081}}}`
	}
	return `static_resources:
  listeners:
    - name: public
      address:
        socket_address: {address: 127.0.0.1, port_value: 10000}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                http_filters:` + httpFilters + `
                route_config:
` + routeConfig + `
  clusters:` + clusters + "\n"
}

const simpleRoutes = `                  name: local
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: {prefix: /}
                          route: {cluster: web}`

const hcmPath = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config"

func TestMinimal(t *testing.T) {
	c, err := Load([]byte(minimal("", simpleRoutes, "")))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Listeners[0]
	if *l.UseRemoteAddress || l.ServerName != "envoy" || !*l.HTTP2 || l.StatPrefix != "ingress" {
		t.Errorf("Envoy defaults not applied: use_remote_address %v, server_name %q, http2 %v, stat_prefix %q", *l.UseRemoteAddress, l.ServerName, *l.HTTP2, l.StatPrefix)
	}
	r := l.VirtualHosts[0].Routes[0]
	if r.Timeout == nil || r.Timeout.D() != config.DefaultRouteTimeout {
		t.Errorf("route timeout = %v, want the default", r.Timeout)
	}
	if c.Clusters[0].Type != "static" || c.Clusters[0].LB != "round_robin" || c.Clusters[0].Endpoints[0].Weight != 1 {
		t.Errorf("cluster = %+v", c.Clusters[0])
	}
}

// TestNodeAccepted: node (the proxy's identity for a control plane) is common in static
// configs and means nothing without one.
func TestNodeAccepted(t *testing.T) {
	if _, err := Load([]byte("node: {id: a, cluster: b}\n" + minimal("", simpleRoutes, ""))); err != nil {
		t.Fatal(err)
	}
}

func TestSpellings(t *testing.T) {
	doc := minimal("", simpleRoutes, `
    - name: web
      connectTimeout: "0.25s"
      lbPolicy: round_robin
      type: strict_dns
      loadAssignment:
        clusterName: web
        endpoints:
          - lbEndpoints:
              - endpoint: {address: {socketAddress: {address: localhost, portValue: 8081}}}`)
	doc = strings.Replace(doc, "stat_prefix: ingress", "statPrefix: ingress\n                codecType: http1", 1)
	c, err := Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	cl := c.Clusters[0]
	if cl.LB != "round_robin" || cl.Type != "dns" || cl.ConnectTimeout.D().Milliseconds() != 250 || cl.Endpoints[0].Address != "localhost:8081" {
		t.Errorf("cluster = %+v", cl)
	}
	if l := c.Listeners[0]; l.StatPrefix != "ingress" || *l.HTTP2 {
		t.Errorf("listener: stat_prefix %q, http2 %v", l.StatPrefix, *l.HTTP2)
	}
}

// wantErr loads doc and checks that one error has the path, the line (when > 0) and a
// message containing msg.
func wantErr(t *testing.T, doc, path string, line int, msg string) {
	t.Helper()
	_, err := Load([]byte(doc))
	if err == nil {
		t.Fatalf("Load succeeded, want an error at %s", path)
	}
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, want config.Errors: %v", err, err)
	}
	for _, e := range es {
		if e.Path == path && (line == 0 || e.Line == line) && strings.Contains(e.Msg, msg) {
			return
		}
	}
	t.Errorf("no error at %s (line %d) containing %q; got:\n%v", path, line, msg, err)
}

func TestErrors(t *testing.T) {
	routes := func(extra string) string {
		return minimal("", simpleRoutes+extra, "")
	}
	vh := hcmPath + ".route_config.virtual_hosts[0]"
	tests := []struct {
		name, doc, path string
		line            int
		msg             string
	}{
		{"unknown field", routes("\n                          bogus: 1"), vh + ".routes[0].bogus", 24, `unknown field "bogus"`},
		{"unknown field camel", strings.Replace(minimal("", simpleRoutes, ""), "stat_prefix: ingress", "stat_prefix: ingress\n                fooBar: true", 1),
			hcmPath + ".fooBar", 12, `unknown field "fooBar"`},
		{"per_filter_config", routes("\n                          per_filter_config: {}"), vh + ".routes[0].per_filter_config", 24,
			"per_filter_config was removed in Envoy v3: use typed_per_filter_config"},
		{"retry_policy", routes("\n                          " + `retry_policy: {retry_on: 5xx}`), "", 0, ""},
		{"health_checks unhealthy_interval", minimal("", simpleRoutes, `
    - name: web
      health_checks:
        - timeout: 1s
          interval: 5s
          unhealthy_threshold: 2
          healthy_threshold: 2
          unhealthy_interval: 1s
          tcp_health_check: {}
      load_assignment:
        cluster_name: web
        endpoints:
          - lb_endpoints:
              - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8081}}}`),
			"static_resources.clusters[0].health_checks[0].unhealthy_interval", 31, "not supported yet: Pylon's Envoy translation does not implement HealthCheck.unhealthy_interval"},
		{"missing cluster", strings.Replace(routes(""), "{cluster: web}", "{cluster: nope}", 1), vh + ".routes[0].route.cluster", 23, `unknown cluster "nope"`},
		{"router not last", minimal(`
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
                  - name: envoy.filters.http.cors
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors`, simpleRoutes, ""),
			hcmPath + ".http_filters[0]", 13,
			"terminal filter named envoy.filters.http.router of type envoy.filters.http.router must be the last filter in a http filter chain."},
		{"duplicate domains", minimal("", `                  name: local
                  virtual_hosts:
                    - name: a
                      domains: ["a.example.com"]
                      routes: [{match: {prefix: /}, route: {cluster: web}}]
                    - name: b
                      domains: ["A.example.com"]
                      routes: [{match: {prefix: /}, route: {cluster: web}}]`, ""),
			hcmPath + ".route_config.virtual_hosts[1].domains[0]", 23,
			"Only unique values for domains are permitted. Duplicate entry of domain a.example.com in route local"},
		{"two wildcards", minimal("", `                  name: local
                  virtual_hosts:
                    - name: a
                      domains: ["*"]
                      routes: [{match: {prefix: /}, route: {cluster: web}}]
                    - name: b
                      domains: ["*"]
                      routes: [{match: {prefix: /}, route: {cluster: web}}]`, ""),
			hcmPath + ".route_config.virtual_hosts[1].domains[0]", 23, "Only a single wildcard domain is permitted in route local"},
		{"rds", strings.Replace(minimal("", "", ""), "                route_config:\n", `                rds:
                  route_config_name: r
                  config_source: {ads: {}}
`, 1), hcmPath + ".rds", 16, "rds is not supported; inline route_config"},
		{"bad enum", strings.Replace(minimal("", simpleRoutes, ""), "    - name: web\n", "    - name: web\n      lb_policy: fastest\n", 1),
			"static_resources.clusters[0].lb_policy", 26, "invalid value for enum"},
		{"bad duration", strings.Replace(minimal("", simpleRoutes, ""), "    - name: web\n", "    - name: web\n      connect_timeout: soon\n", 1),
			"static_resources.clusters[0].connect_timeout", 26, "invalid google.protobuf.Duration"},
		{"pgv", strings.Replace(minimal("", simpleRoutes, ""), "stat_prefix: ingress", `stat_prefix: ""`, 1),
			hcmPath + ".stat_prefix", 11, "length"},
		{"fractional", minimal(`
                  - name: envoy.filters.http.local_ratelimit
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                      stat_prefix: rl
                      token_bucket: {max_tokens: 1, fill_interval: 1s}
                      filter_enabled: {default_value: {numerator: 50}}
                      filter_enforced: {default_value: {numerator: 100}}
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`, simpleRoutes, ""),
			hcmPath + ".http_filters[0].typed_config.filter_enabled.default_value", 18, "fractional enforcement not supported"},
		{"unknown typed_config", minimal(`
                  - name: envoy.filters.http.lua
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`, simpleRoutes, ""),
			hcmPath + ".http_filters[0].typed_config.@type", 15, "unsupported type"},
		{"dynamic_resources", "dynamic_resources: {ads_config: {api_type: GRPC}}\n" + minimal("", simpleRoutes, ""), "dynamic_resources", 1, "not supported yet"},
		{"two filter chains", strings.Replace(minimal("", simpleRoutes, ""), "      filter_chains:\n", "      filter_chains:\n        - filters: []\n", 1),
			"static_resources.listeners[0].filter_chains", 6, "exactly one filter chain"},
		{"pylon validation", strings.Replace(minimal("", simpleRoutes, ""), "port_value: 8081", "port_value: 0", 1),
			"static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0]", 0, "invalid port"},
		{"yaml syntax", "static_resources: [\n", "(document)", 0, ""},
		{"empty", "", "static_resources", 0, "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "retry_policy" {
				// The route action is a flow map: add retry_policy inside it.
				// Pylon translates retry_policy; a condition it does not implement is named.
				doc := strings.Replace(routes(""), "{cluster: web}", "{cluster: web, retry_policy: {retry_on: \"5xx,envoy-ratelimited\"}}", 1)
				wantErr(t, doc, vh+".routes[0].route.retry_policy.retry_on", 23, `not supported yet: retry condition "envoy-ratelimited"`)
				return
			}
			wantErr(t, tc.doc, tc.path, tc.line, tc.msg)
		})
	}
}

func TestLocalRateLimitNoop(t *testing.T) {
	// Envoy's filter_enabled defaults to 0%: a bucket without it limits nothing.
	doc := minimal(`
                  - name: envoy.filters.http.local_ratelimit
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                      stat_prefix: rl
                      token_bucket: {max_tokens: 1, fill_interval: 1s}
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`, simpleRoutes+`
                          typed_per_filter_config:
                            envoy.filters.http.local_ratelimit:
                              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                              stat_prefix: rl
                              token_bucket: {max_tokens: 1, fill_interval: 1s}`, "")
	c, err := Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	f := c.Listeners[0].Filters[0]
	if f.Name != "local_ratelimit" || f.Config.Kind != 0 {
		t.Errorf("listener filter = %s %v, want local_ratelimit without config", f.Name, f.Config.Kind)
	}
	n := c.Listeners[0].VirtualHosts[0].Routes[0].Filters["local_ratelimit"]
	var v map[string]any
	if err := n.Decode(&v); err != nil || !reflect.DeepEqual(v, map[string]any{"disabled": true}) {
		t.Errorf("route filter = %v (%v), want {disabled: true}", v, err)
	}
}

func TestIsEnvoy(t *testing.T) {
	for doc, want := range map[string]bool{
		"static_resources: {}":             true,
		"staticResources: {}":              true,
		"dynamic_resources: {}":            true,
		"listeners: []":                    false,
		"admin: {address: 127.0.0.1:9901}": false,
		"":                                 false,
		"[":                                false,
		"- a":                              false,
	} {
		if got := IsEnvoy([]byte(doc)); got != want {
			t.Errorf("IsEnvoy(%q) = %v, want %v", doc, got, want)
		}
	}
}

func TestMoreErrors(t *testing.T) {
	vh := hcmPath + ".route_config.virtual_hosts[0]"
	ringHash := `
    - name: web
      lb_policy: RING_HASH
      load_assignment:
        cluster_name: web
        endpoints:
          - lb_endpoints:
              - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8081}}}`
	corsFilters := `
                  - name: envoy.filters.http.cors
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors
                  - name: envoy.filters.http.local_ratelimit
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                      stat_prefix: rl
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`
	tests := []struct {
		name, doc, path string
		msg             string
	}{
		{"hash policies differ", minimal("", `                  name: local
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: {prefix: /a}
                          route: {cluster: web, hash_policy: [{header: {header_name: x-user}}]}
                        - match: {prefix: /}
                          route: {cluster: web}`, ringHash),
			vh + ".routes[1].route.hash_policy", `have different hash_policy`},
		{"hash policy not terminal", minimal("", `                  name: local
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: {prefix: /}
                          route: {cluster: web, hash_policy: [{header: {header_name: x-user}}, {cookie: {name: c}}]}`, ringHash),
			vh + ".routes[0].route.hash_policy[0].terminal", "terminal: true"},
		{"cors origin Pylon refuses", minimal(corsFilters, simpleRoutes+`
                          typed_per_filter_config:
                            envoy.filters.http.cors:
                              "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy
                              allow_origin_string_match: [{exact: "https://app.example.com/path"}]`, ""),
			vh + ".routes[0].typed_per_filter_config.envoy.filters.http.cors", "allow_origins[0]"},
		{"vhost bucket", minimal(corsFilters, `                  name: local
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      typed_per_filter_config:
                        envoy.filters.http.local_ratelimit:
                          "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                          stat_prefix: rl
                          token_bucket: {max_tokens: 1, fill_interval: 1s}
                          filter_enabled: {default_value: {numerator: 100}}
                          filter_enforced: {default_value: {numerator: 100}}
                      routes:
                        - match: {prefix: /}
                          route: {cluster: web}`, ""),
			vh + ".typed_per_filter_config.envoy.filters.http.local_ratelimit", "virtual host"},
		{"per-route config for a missing filter", minimal("", simpleRoutes+`
                          typed_per_filter_config:
                            envoy.filters.http.cors:
                              "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy
                              allow_origin_string_match: [{exact: "*"}]`, ""),
			vh + ".routes[0].typed_per_filter_config.envoy.filters.http.cors", "no HTTP filter named"},
		{"append and append_action", minimal("", simpleRoutes+`
                          request_headers_to_add:
                            - header: {key: x-a, value: b}
                              append: true
                              append_action: ADD_IF_ABSENT`, ""),
			vh + ".routes[0].request_headers_to_add[0]", "Both append and append_action are set"},
		{"logical dns endpoints", minimal("", simpleRoutes, `
    - name: web
      type: LOGICAL_DNS
      load_assignment:
        cluster_name: web
        endpoints:
          - lb_endpoints:
              - endpoint: {address: {socket_address: {address: a.local, port_value: 80}}}
              - endpoint: {address: {socket_address: {address: b.local, port_value: 80}}}`),
			"static_resources.clusters[0].load_assignment", "LOGICAL_DNS clusters must have a single"},
		{"circuit breaker field", minimal("", simpleRoutes, `
    - name: web
      circuit_breakers: {thresholds: [{max_connections: 10, track_remaining: true}]}
      load_assignment:
        cluster_name: web
        endpoints:
          - lb_endpoints:
              - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8081}}}`),
			"static_resources.clusters[0].circuit_breakers.thresholds[0].track_remaining", "not supported yet"},
		{"direct response body limit", minimal("", `                  name: local
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: {prefix: /}
                          direct_response: {status: 200, body: {inline_string: "`+strings.Repeat("x", 4097)+`"}}`, ""),
			vh + ".routes[0].direct_response.body", "maximum is 4096"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.doc, tc.path, 0, tc.msg) })
	}
}

func TestTranslate(t *testing.T) {
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Translate(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(out); err != nil {
		t.Errorf("config.Load of the translation: %v\n%s", err, out)
	}
	if _, err := Translate([]byte("static_resources: {bogus: 1}")); err == nil {
		t.Error("Translate accepted an unknown field")
	}
}

// TestResilienceTranslation: retry_policy, request_mirror_policies, route idle_timeout, the
// HCM timeouts and internal_address_config, and DEFAULT circuit-breaker thresholds.
func TestResilienceTranslation(t *testing.T) {
	routes := strings.Replace(simpleRoutes, "{cluster: web}", `{cluster: web, idle_timeout: 30s,
                            retry_policy: {retry_on: "5xx,connect-failure,retriable-status-codes", num_retries: 3,
                              per_try_timeout: 0.5s, retriable_status_codes: [429], retry_back_off: {base_interval: 0.01s}},
                            request_mirror_policies: [{cluster: web, runtime_fraction: {default_value: {numerator: 25}}}]}`, 1)
	clusters := `
    - name: web
      circuit_breakers: {thresholds: [{priority: DEFAULT, max_connections: 10, max_pending_requests: 5, max_requests: 20, max_retries: 2}]}
      load_assignment:
        cluster_name: web
        endpoints:
          - lb_endpoints:
              - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8081}}}`
	doc := strings.Replace(minimal("", routes, clusters), "stat_prefix: ingress", `stat_prefix: ingress
                stream_idle_timeout: 60s
                request_timeout: 10s
                internal_address_config: {cidr_ranges: [{address_prefix: 10.0.0.0, prefix_len: 8}]}`, 1)
	cfg, err := Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Listeners[0]
	if l.IdleTimeout.D() != time.Minute || l.RequestTimeout.D() != 10*time.Second || !reflect.DeepEqual(*l.InternalAddresses, []string{"10.0.0.0/8"}) {
		t.Errorf("listener: idle %v request %v internal %v", l.IdleTimeout.D(), l.RequestTimeout.D(), *l.InternalAddresses)
	}
	r := l.VirtualHosts[0].Routes[0]
	want := config.RetryPolicy{On: []string{"5xx", "connect-failure", "retriable-status-codes"}, Attempts: ptr(3),
		PerTryTimeout: config.Duration(500 * time.Millisecond), RetriableStatusCodes: []int{429},
		Backoff: &config.RetryBackoff{BaseInterval: config.Duration(10 * time.Millisecond), MaxInterval: config.Duration(100 * time.Millisecond)}}
	if r.Retry == nil || !reflect.DeepEqual(*r.Retry, want) {
		t.Errorf("retry = %+v, want %+v", r.Retry, want)
	}
	if r.IdleTimeout.D() != 30*time.Second || len(r.Mirror) != 1 || r.Mirror[0].Cluster != "web" || *r.Mirror[0].Percent != 25 {
		t.Errorf("route idle %v mirror %+v", r.IdleTimeout.D(), r.Mirror)
	}
	if cb := cfg.Clusters[0].CircuitBreakers; *cb != (config.CircuitBreakers{MaxConnections: 10, MaxPendingRequests: 5, MaxRequests: 20, MaxRetries: 2}) {
		t.Errorf("circuit_breakers = %+v", *cb)
	}

	// Without internal_address_config no client is internal (Envoy 1.33+).
	cfg, err = Load([]byte(minimal("", simpleRoutes, "")))
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Listeners[0].InternalAddresses; a == nil || len(*a) != 0 {
		t.Errorf("internal_addresses = %v, want []", a)
	}
}
