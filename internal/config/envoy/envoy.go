// Package envoy loads an Envoy v3 bootstrap (YAML) and translates the subset that Pylon
// implements into a Pylon *config.Config.
//
// # Loading, as Envoy does
//
// The YAML is turned into proto3 JSON and read with Envoy's own protobuf types
// (go-control-plane) by protojson with unknown fields refused; enum values are accepted in
// any case (Envoy's case_insensitive_enum_parsing: lb_policy: round_robin), field names in
// snake_case or lowerCamelCase (statPrefix), durations as "0.25s", wrappers as plain
// scalars. Any (typed_config) types resolve when their extension is linked in (see
// translate.go's imports). The Bootstrap and every typed_config are then checked with their
// PGV rules (ValidateAll), as Envoy does at load. Every error names the Envoy field path
// (static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[1].routes[0].route.retry_policy)
// and its line. Envoy's own load-time checks are copied with Envoy's messages: the router
// must be the last HTTP filter, domains are unique and "*" is used once per route
// configuration, routes name existing clusters (validate_clusters defaults to true for a
// static route_config), header append and append_action are exclusive, LOGICAL_DNS
// clusters have one endpoint, direct response bodies fit max_direct_response_body_size_bytes
// (4096 by default).
//
// # What is translated
//
//   - admin.address.socket_address -> admin.address.
//   - static_resources.listeners[]: name (made up as listener_N when empty, like Envoy),
//     address.socket_address, listener_filters (envoy.filters.listener.tls_inspector only, a
//     no-op for Pylon), exactly one filter_chains[] entry with exactly one network filter,
//     envoy.filters.network.http_connection_manager:
//     stat_prefix; codec_type AUTO (http2 on, but over TLS only when
//     common_tls_context.alpn_protocols lists h2, as Envoy offers no ALPN otherwise), HTTP1
//     (http2 off), HTTP2; use_remote_address (Envoy's default false is written out);
//     server_name (Envoy's default "envoy" is written out); max_request_headers_kb;
//     upgrade_configs (websocket only: Pylon always proxies WebSocket, also without it);
//     access_log (envoy.access_loggers.file with path, format, json_format, log_format
//     text_format / text_format_source.inline_string / json_format of strings;
//     envoy.access_loggers.stdout and stderr); an inline route_config; http_filters.
//   - Filter chain transport_socket DownstreamTlsContext: common_tls_context.tls_certificates
//     (certificate_chain.filename, private_key.filename) -> tls.certificates,
//     tls_params.tls_minimum_protocol_version TLSv1_2 / TLSv1_3, alpn_protocols h2 / http/1.1.
//   - http_filters: envoy.filters.http.router (must be last, no options),
//     envoy.filters.http.cors -> Pylon cors, envoy.filters.http.local_ratelimit -> Pylon
//     local_ratelimit (token_bucket -> max_tokens, tokens_per_fill, fill_interval; status,
//     response_headers_to_add, enable_x_ratelimit_headers DRAFT_VERSION_03; stat_prefix is
//     required by Envoy and unused by Pylon).
//     IMPORTANT: Envoy's filter_enabled and filter_enforced default to 0%: a local rate limit
//     without both at 100% never limits anything in Envoy, and is translated to a filter that
//     limits nothing (an empty listener config, {disabled: true} on a route). 0% or 100% only;
//     any other fraction is an error ("fractional enforcement not supported").
//   - route_config: name, validate_clusters (true only), ignore_port_in_host_matching,
//     max_direct_response_body_size_bytes, virtual_hosts[]: name, domains, routes,
//     request/response_headers_to_add (append_action APPEND_IF_EXISTS_OR_ADD or
//     OVERWRITE_IF_EXISTS_OR_ADD, legacy append; an empty value adds nothing, as in Envoy),
//     request/response_headers_to_remove, typed_per_filter_config (cors policies are copied to
//     the routes without their own; a local rate limit bucket there is refused since Envoy
//     shares it across the virtual host's routes).
//   - routes[]: name, match (prefix, "" as "/"; path; safe_regex; path_separated_prefix;
//     case_sensitive, dropped for safe_regex as Envoy ignores it there; headers with
//     string_match exact/prefix/suffix/contains/safe_regex + ignore_case, the legacy
//     exact_match/prefix_match/suffix_match/contains_match/safe_regex_match, present_match,
//     invert_match; query_parameters with string_match or present_match), route (cluster,
//     weighted_clusters name+weight, prefix_rewrite, regex_rewrite, host_rewrite_literal,
//     auto_host_rewrite (kept for DNS clusters only, where Envoy applies it), timeout,
//     hash_policy header / cookie name / connection_properties.source_ip), redirect (all but
//     regex_rewrite), direct_response (status, body inline_string / inline_bytes / filename),
//     header mutations, typed_per_filter_config (CorsPolicy, LocalRateLimit, FilterConfig
//     {config, disabled}).
//     CorsPolicy: allow_origin_string_match (exact -> allow_origins, "*" -> any origin;
//     prefix/suffix/contains/safe_regex -> allow_origin_regex; a matcher that matches "*"
//     allows any origin, as in Envoy), allow_methods, allow_headers, expose_headers, max_age,
//     allow_credentials, forward_not_matching_preflights, filter_enabled 0% or 100%.
//   - hash_policy: Pylon keeps it on the cluster. It is translated when every route to a
//     RING_HASH or MAGLEV cluster has the same policy (else an error); with several policies
//     all but the last must be terminal (Pylon uses the first that yields a value). Envoy
//     ignores hash_policy for other clusters, and so does the translation.
//   - static_resources.clusters[]: name, type STATIC / STRICT_DNS / LOGICAL_DNS (both DNS
//     types become Pylon's dns, which uses every resolved address), connect_timeout,
//     dns_refresh_rate, lb_policy ROUND_ROBIN / LEAST_REQUEST / RANDOM / RING_HASH / MAGLEV,
//     ring_hash_lb_config min/max sizes, load_assignment.endpoints[].lb_endpoints[]
//     (endpoint.address.socket_address, load_balancing_weight), circuit_breakers.thresholds[0]
//     .max_connections, http2_protocol_options (deprecated) or typed_extension_protocol_options
//     envoy.extensions.upstreams.http.v3.HttpProtocolOptions explicit_http_config
//     (http2_protocol_options / http_protocol_options) and common_http_protocol_options
//     .idle_timeout, transport_socket UpstreamTlsContext (sni, tls_certificates[0] as the client
//     certificate, validation_context.trusted_ca.filename).
//     health_checks (one): timeout, interval, interval_jitter, no_traffic_interval,
//     healthy_threshold and unhealthy_threshold (0 is refused), reuse_connection true,
//     http_health_check (path, host, expected_statuses and retriable_statuses, Envoy's
//     half-open ranges made inclusive, method GET, codec HTTP1) or tcp_health_check without
//     send/receive (a connect check). outlier_detection: every field but the local-origin
//     ones (split_external_local_origin_errors...), monitors and detect_degraded_hosts;
//     success_rate_stdev_factor is divided by 1000. common_lb_config.healthy_panic_threshold.
//     IMPORTANT: Envoy does not verify an upstream's certificate without trusted_ca. Such a
//     cluster is translated with insecure_skip_verify: true, to behave as it did in Envoy.
//     Add a trusted_ca to get verification. With trusted_ca, Pylon also checks the host
//     name (SNI or endpoint host), which Envoy does only with match_typed_subject_alt_names.
//
// # What is refused
//
// Every field that Envoy accepts and this translation does not implement is an error that
// names it, never silently dropped: among them node, dynamic_resources (xDS), layered_runtime,
// rds and scoped_routes ("rds is not supported; inline route_config"), several filter chains,
// filter_chain_match, network filters other than the HTTP connection manager, HTTP filters
// other than router/cors/local_ratelimit, several health_checks, gRPC health checks, retry_policy,
// request_mirror_policies, rate_limits, hedge_policy, cluster_header, EDS and ORIGINAL_DST
// clusters, dns_lookup_family, circuit breaker thresholds other than max_connections,
// localities and priorities, SDS and inline certificates, mTLS on listeners, access log
// filters, ADD_IF_ABSENT / OVERWRITE_IF_EXISTS header actions. v2 fields get a hint
// (per_filter_config was removed in Envoy v3: use typed_per_filter_config).
//
// The result is what config.Load gives for the translated Pylon YAML: Pylon's defaults are
// applied and Pylon's validation runs; its errors are reported at the Envoy field they come
// from. The returned Config has no line index (Config.Line returns 0), since its lines would
// be those of the intermediate Pylon YAML.
package envoy

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/pylon-gateway/pylon/internal/config"
)

// IsEnvoy reports whether a YAML document is an Envoy bootstrap: a map with a top-level
// static_resources or dynamic_resources key (Pylon's own config has neither).
func IsEnvoy(data []byte) bool {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return false
	}
	n := resolve(&root)
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = resolve(n.Content[0])
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "static_resources", "staticResources", "dynamic_resources", "dynamicResources":
			return true
		}
	}
	return false
}

// Load parses an Envoy v3 bootstrap YAML with Envoy's own protobuf types and translates the
// supported subset into a Pylon config, with Pylon's defaults applied and validated. The
// error is a config.Errors whose paths are Envoy field paths, sorted by line.
func Load(data []byte) (*config.Config, error) {
	cfg, t, err := translate(data)
	if err != nil {
		return nil, err
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, config.Errors{{Path: "(document)", Msg: fmt.Sprintf("cannot write the Pylon config: %v", err)}}
	}
	loaded, err := config.Load(out)
	if err != nil {
		return nil, sorted(t.mapErrors(err))
	}
	if errs := t.check(loaded); len(errs) > 0 {
		return nil, sorted(errs)
	}
	// A fresh value drops the line index of the intermediate Pylon YAML.
	return &config.Config{
		Admin:        loaded.Admin,
		DrainTimeout: loaded.DrainTimeout,
		Listeners:    loaded.Listeners,
		Clusters:     loaded.Clusters,
	}, nil
}

// Translate returns the Pylon YAML that Load validates (without Pylon's defaults), for
// tooling that shows the translation. It reports the errors of parsing and translation,
// not those of Pylon's validation.
func Translate(data []byte) ([]byte, error) {
	cfg, _, err := translate(data)
	if err != nil {
		return nil, err
	}
	return yaml.Marshal(cfg)
}

func translate(data []byte) (*config.Config, *translator, error) {
	bs, c, err := parse(data)
	if err != nil {
		return nil, nil, sorted(err)
	}
	t := &translator{
		c:           c,
		pmap:        map[string]string{},
		clusterType: map[string]string{},
		hashUses:    map[string][]hashUse{},
	}
	cfg := t.bootstrap(bs)
	if len(t.errs) > 0 {
		return nil, nil, sorted(t.errs)
	}
	return cfg, t, nil
}

func sorted(err error) error {
	var es config.Errors
	if !errors.As(err, &es) {
		return err
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
	return es
}

// mapErrors puts the errors of config.Load (Pylon paths) on the Envoy fields they come from.
func (t *translator) mapErrors(err error) error {
	var es config.Errors
	if !errors.As(err, &es) {
		return err
	}
	out := make(config.Errors, 0, len(es))
	for _, e := range es {
		p, exact := t.envoyPath(e.Path)
		msg := e.Msg
		if !exact {
			msg = fmt.Sprintf("%s (Pylon's %s)", e.Msg, e.Path)
		}
		out = append(out, config.FieldError{Path: orDoc(p), Line: t.c.line(p), Msg: msg})
	}
	return out
}

// envoyPath finds the Envoy field of a Pylon path: its own, or its nearest ancestor's.
func (t *translator) envoyPath(p string) (string, bool) {
	for q := p; q != ""; {
		if e, ok := t.pmap[q]; ok {
			return e, q == p
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	return "", false
}
