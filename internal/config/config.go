// Package config defines Pylon's own YAML configuration, its defaults and its validation.
//
// The types here are the user-facing schema. They are plain data: every other package
// compiles what it needs from them into live objects (see internal/runtime).
package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the root of a Pylon configuration file.
type Config struct {
	// Admin is the admin listener (stats, config dump, readiness).
	Admin Admin `yaml:"admin" json:"admin"`
	// DrainTimeout bounds how long SIGTERM waits for in-flight requests (default 15s).
	DrainTimeout Duration `yaml:"drain_timeout,omitempty" json:"drain_timeout,omitempty"`
	// Listeners accept downstream traffic.
	Listeners []Listener `yaml:"listeners" json:"listeners"`
	// Clusters are named groups of upstream endpoints.
	Clusters []Cluster `yaml:"clusters,omitempty" json:"clusters,omitempty"`
	// Providers are LLM providers: clusters that speak an LLM API (see llm.go).
	Providers []Provider `yaml:"providers,omitempty" json:"providers,omitempty"`
	// Models map public model names to provider targets.
	Models []Model `yaml:"models,omitempty" json:"models,omitempty"`
	// LLM tunes the LLM gateway.
	LLM LLM `yaml:"llm,omitempty" json:"llm,omitempty"`
	// Store keeps the management plane's objects (tenants, keys, subscriptions, limits);
	// nil: no management plane (see mgmt.go).
	Store *StoreConfig `yaml:"store,omitempty" json:"store,omitempty"`
	// Redis, when set, holds the state several nodes share (limits, sessions, cache).
	Redis *RedisConfig `yaml:"redis,omitempty" json:"redis,omitempty"`

	lines *lineIndex // field path -> line, set by Load
}

// Admin configures the admin listener.
type Admin struct {
	// Address is host:port; empty disables the admin listener.
	Address string `yaml:"address,omitempty" json:"address,omitempty"`
	// Token is the bearer token of the management API's administrator (/api/v1); without
	// it the management API accepts only users' own tokens.
	Token *Secret `yaml:"token,omitempty" json:"token,omitempty"`
}

// Listener is one downstream address with its HTTP connection manager settings.
type Listener struct {
	Name    string `yaml:"name" json:"name"`
	Address string `yaml:"address" json:"address"`
	// StatPrefix names the listener in stats (default: Name).
	StatPrefix string `yaml:"stat_prefix,omitempty" json:"stat_prefix,omitempty"`
	// TLS terminates TLS on the listener; nil means plain text.
	TLS *ListenerTLS `yaml:"tls,omitempty" json:"tls,omitempty"`
	// HTTP2 enables HTTP/2: ALPN h2 over TLS, h2c with prior knowledge in plain text (default true).
	HTTP2 *bool `yaml:"http2,omitempty" json:"http2,omitempty"`
	// MaxRequestHeadersKB bounds the request header block; larger requests get 431 (default 60).
	MaxRequestHeadersKB int `yaml:"max_request_headers_kb,omitempty" json:"max_request_headers_kb,omitempty"`
	// UseRemoteAddress appends the peer address to x-forwarded-for and overwrites
	// x-forwarded-proto, as Envoy's use_remote_address does (default true: Pylon is an edge proxy).
	UseRemoteAddress *bool `yaml:"use_remote_address,omitempty" json:"use_remote_address,omitempty"`
	// ServerName is the value of the server response header (default "pylon").
	ServerName string `yaml:"server_name,omitempty" json:"server_name,omitempty"`
	// AccessLog lists the access log sinks of this listener.
	AccessLog []AccessLog `yaml:"access_log,omitempty" json:"access_log,omitempty"`
	// Filters is the ordered HTTP filter chain; the router is implied last.
	Filters []Filter `yaml:"filters,omitempty" json:"filters,omitempty"`
	// IdleTimeout is the stream idle timeout (Envoy's stream_idle_timeout): a request with no
	// bytes flowing in either direction for this long is answered 408 "stream timeout", or reset
	// once its response started (default 5m; 0 disables; a route may override it).
	IdleTimeout *Duration `yaml:"idle_timeout,omitempty" json:"idle_timeout,omitempty"`
	// RequestTimeout bounds the time to receive the whole request (Envoy's request_timeout):
	// past it, a request still being received is answered 408 "request timeout" (default 0: none).
	RequestTimeout Duration `yaml:"request_timeout,omitempty" json:"request_timeout,omitempty"`
	// InternalAddresses are the CIDR ranges of internal clients: only their requests may tune
	// retries and timeouts with x-envoy-* headers (Envoy's internal_address_config). Default:
	// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 127.0.0.1/32, fd00::/8, ::1/128; [] makes
	// every client external.
	InternalAddresses *[]string `yaml:"internal_addresses,omitempty" json:"internal_addresses,omitempty"`
	// IgnorePortInHostMatching drops the :port of the host before matching domains
	// (default false, as Envoy: "example.com:8080" then matches only a domain with that port or a wildcard).
	IgnorePortInHostMatching bool `yaml:"ignore_port_in_host_matching,omitempty" json:"ignore_port_in_host_matching,omitempty"`
	// VirtualHosts is the route table.
	VirtualHosts []VirtualHost `yaml:"virtual_hosts" json:"virtual_hosts"`
}

// ListenerTLS terminates TLS. The first certificate is the default; the others are chosen by SNI.
type ListenerTLS struct {
	Certificates []Certificate `yaml:"certificates" json:"certificates"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version,omitempty" json:"min_version,omitempty"`
}

// Certificate is a PEM certificate chain and its private key, read from files.
type Certificate struct {
	Cert string `yaml:"cert" json:"cert"`
	Key  string `yaml:"key" json:"key"`
}

// AccessLog is one access log sink.
type AccessLog struct {
	// Path is "stdout", "stderr" or a file path.
	Path string `yaml:"path" json:"path"`
	// Format is an Envoy format string (default: Envoy's default format).
	Format string `yaml:"format,omitempty" json:"format,omitempty"`
	// JSON, when set, writes one JSON object a line: key -> Envoy format string.
	JSON map[string]string `yaml:"json,omitempty" json:"json,omitempty"`
}

// Filter is one entry of the HTTP filter chain: a bare filter name, or a single-key map,
// filter name -> its config.
type Filter struct {
	Name   string    `json:"name"`
	Config yaml.Node `json:"-"`
	Line   int       `json:"-"`
}

// VirtualHost groups routes under a set of domains.
type VirtualHost struct {
	Name            string   `yaml:"name,omitempty" json:"name,omitempty"`
	Domains         []string `yaml:"domains" json:"domains"`
	Routes          []Route  `yaml:"routes" json:"routes"`
	HeaderMutations `yaml:",inline" json:",inline"`
}

// HeaderMutations add and remove request and response headers.
type HeaderMutations struct {
	RequestHeadersToAdd     []HeaderValue `yaml:"request_headers_to_add,omitempty" json:"request_headers_to_add,omitempty"`
	RequestHeadersToRemove  []string      `yaml:"request_headers_to_remove,omitempty" json:"request_headers_to_remove,omitempty"`
	ResponseHeadersToAdd    []HeaderValue `yaml:"response_headers_to_add,omitempty" json:"response_headers_to_add,omitempty"`
	ResponseHeadersToRemove []string      `yaml:"response_headers_to_remove,omitempty" json:"response_headers_to_remove,omitempty"`
}

// HeaderValue is a header to add. Append adds a value beside existing ones (default);
// append: false replaces them.
type HeaderValue struct {
	Name   string `yaml:"name" json:"name"`
	Value  string `yaml:"value" json:"value"`
	Append *bool  `yaml:"append,omitempty" json:"append,omitempty"`
}

// Route is one match and what to do with the requests it matches.
type Route struct {
	Name  string     `yaml:"name,omitempty" json:"name,omitempty"`
	Match RouteMatch `yaml:"match" json:"match"`

	// Exactly one action.
	Cluster          string            `yaml:"cluster,omitempty" json:"cluster,omitempty"`
	WeightedClusters []WeightedCluster `yaml:"weighted_clusters,omitempty" json:"weighted_clusters,omitempty"`
	DirectResponse   *DirectResponse   `yaml:"direct_response,omitempty" json:"direct_response,omitempty"`
	Redirect         *Redirect         `yaml:"redirect,omitempty" json:"redirect,omitempty"`
	// LLM serves the LLM gateway's APIs (OpenAI and Anthropic) on this route.
	LLM *RouteLLM `yaml:"llm,omitempty" json:"llm,omitempty"`

	// Forwarding options (cluster and weighted_clusters actions).
	PrefixRewrite string        `yaml:"prefix_rewrite,omitempty" json:"prefix_rewrite,omitempty"`
	RegexRewrite  *RegexRewrite `yaml:"regex_rewrite,omitempty" json:"regex_rewrite,omitempty"`
	HostRewrite   string        `yaml:"host_rewrite,omitempty" json:"host_rewrite,omitempty"`
	// AutoHostRewrite sets the host header to the chosen endpoint's host name.
	AutoHostRewrite bool `yaml:"auto_host_rewrite,omitempty" json:"auto_host_rewrite,omitempty"`
	// Timeout covers the whole upstream exchange, retries included (default 15s; 0 disables).
	Timeout *Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// IdleTimeout overrides the listener's stream idle timeout for this route (0 disables).
	IdleTimeout *Duration `yaml:"idle_timeout,omitempty" json:"idle_timeout,omitempty"`
	// Retry retries failed tries (Envoy's retry_policy); nil means no retries.
	Retry *RetryPolicy `yaml:"retry,omitempty" json:"retry,omitempty"`
	// Mirror copies a share of the requests to shadow clusters (request_mirror_policies).
	Mirror []MirrorPolicy `yaml:"mirror,omitempty" json:"mirror,omitempty"`

	HeaderMutations `yaml:",inline" json:",inline"`

	// Filters holds per-route filter config, by filter name; `disabled: true` turns a filter off.
	Filters map[string]yaml.Node `yaml:"filters,omitempty" json:"-"`
}

// RouteMatch selects requests. All given conditions must hold; exactly one path condition.
type RouteMatch struct {
	Prefix              string `yaml:"prefix,omitempty" json:"prefix,omitempty"`
	Path                string `yaml:"path,omitempty" json:"path,omitempty"`
	Regex               string `yaml:"regex,omitempty" json:"regex,omitempty"`
	PathSeparatedPrefix string `yaml:"path_separated_prefix,omitempty" json:"path_separated_prefix,omitempty"`
	// CaseSensitive applies to prefix, path and path_separated_prefix (default true).
	CaseSensitive *bool         `yaml:"case_sensitive,omitempty" json:"case_sensitive,omitempty"`
	Headers       []HeaderMatch `yaml:"headers,omitempty" json:"headers,omitempty"`
	Query         []QueryMatch  `yaml:"query,omitempty" json:"query,omitempty"`
	Methods       []string      `yaml:"methods,omitempty" json:"methods,omitempty"`
}

// StringMatch is one string condition: exactly one of exact, prefix, suffix, contains, regex.
type StringMatch struct {
	Exact      *string `yaml:"exact,omitempty" json:"exact,omitempty"`
	Prefix     string  `yaml:"prefix,omitempty" json:"prefix,omitempty"`
	Suffix     string  `yaml:"suffix,omitempty" json:"suffix,omitempty"`
	Contains   string  `yaml:"contains,omitempty" json:"contains,omitempty"`
	Regex      string  `yaml:"regex,omitempty" json:"regex,omitempty"`
	IgnoreCase bool    `yaml:"ignore_case,omitempty" json:"ignore_case,omitempty"`
}

// HeaderMatch matches a request header. With no string condition and no present, it
// matches when the header is present. Several values of one header are joined by ",".
type HeaderMatch struct {
	Name        string `yaml:"name" json:"name"`
	StringMatch `yaml:",inline" json:",inline"`
	// Present: true matches when the header is present, false when it is absent.
	Present *bool `yaml:"present,omitempty" json:"present,omitempty"`
	// Invert negates the result.
	Invert bool `yaml:"invert,omitempty" json:"invert,omitempty"`
}

// QueryMatch matches a query parameter (its first value, not URL-decoded).
type QueryMatch struct {
	Name        string `yaml:"name" json:"name"`
	StringMatch `yaml:",inline" json:",inline"`
	Present     *bool `yaml:"present,omitempty" json:"present,omitempty"`
}

// WeightedCluster is one cluster of a weighted_clusters action.
type WeightedCluster struct {
	Name   string `yaml:"name" json:"name"`
	Weight uint32 `yaml:"weight" json:"weight"`
}

// DirectResponse answers from the gateway itself.
type DirectResponse struct {
	Status int    `yaml:"status" json:"status"`
	Body   string `yaml:"body,omitempty" json:"body,omitempty"`
	// ContentType defaults to text/plain when there is a body.
	ContentType string `yaml:"content_type,omitempty" json:"content_type,omitempty"`
}

// Redirect answers with a redirect built from the request.
type Redirect struct {
	HTTPSRedirect  bool   `yaml:"https_redirect,omitempty" json:"https_redirect,omitempty"`
	SchemeRedirect string `yaml:"scheme_redirect,omitempty" json:"scheme_redirect,omitempty"`
	HostRedirect   string `yaml:"host_redirect,omitempty" json:"host_redirect,omitempty"`
	PortRedirect   int    `yaml:"port_redirect,omitempty" json:"port_redirect,omitempty"`
	PathRedirect   string `yaml:"path_redirect,omitempty" json:"path_redirect,omitempty"`
	PrefixRewrite  string `yaml:"prefix_rewrite,omitempty" json:"prefix_rewrite,omitempty"`
	StripQuery     bool   `yaml:"strip_query,omitempty" json:"strip_query,omitempty"`
	// ResponseCode is 301 (default), 302, 303, 307 or 308.
	ResponseCode int `yaml:"response_code,omitempty" json:"response_code,omitempty"`
}

// RetryPolicy says when and how often a failed upstream try is retried (Envoy's RetryPolicy).
type RetryPolicy struct {
	// On lists the retry conditions: 5xx, gateway-error, reset, connect-failure,
	// retriable-4xx, refused-stream, retriable-status-codes.
	On []string `yaml:"on" json:"on"`
	// Attempts is the number of retries after the first try (Envoy's num_retries, default 1).
	Attempts *int `yaml:"attempts,omitempty" json:"attempts,omitempty"`
	// PerTryTimeout bounds each try (default 0: only the route timeout applies).
	PerTryTimeout Duration `yaml:"per_try_timeout,omitempty" json:"per_try_timeout,omitempty"`
	// RetriableStatusCodes are the statuses retried under retriable-status-codes.
	RetriableStatusCodes []int `yaml:"retriable_status_codes,omitempty" json:"retriable_status_codes,omitempty"`
	// Backoff spaces the retries (default base 25ms, max 10 times the base).
	Backoff *RetryBackoff `yaml:"backoff,omitempty" json:"backoff,omitempty"`
}

// RetryBackoff is Envoy's fully jittered exponential back-off: retry n waits a random time
// in [0, (2^n - 1) * base_interval), capped by max_interval.
type RetryBackoff struct {
	BaseInterval Duration `yaml:"base_interval,omitempty" json:"base_interval,omitempty"`
	MaxInterval  Duration `yaml:"max_interval,omitempty" json:"max_interval,omitempty"`
}

// MirrorPolicy copies requests to a shadow cluster, fire and forget.
type MirrorPolicy struct {
	Cluster string `yaml:"cluster" json:"cluster"`
	// Percent of the requests mirrored, 0 to 100 (default 100).
	Percent *float64 `yaml:"percent,omitempty" json:"percent,omitempty"`
}

// RegexRewrite replaces every match of Pattern in the path (query kept) with Substitution
// (Envoy/RE2 style: \0-\9 are back references, \\ is a backslash).
type RegexRewrite struct {
	Pattern      string `yaml:"pattern" json:"pattern"`
	Substitution string `yaml:"substitution" json:"substitution"`
}

// Cluster is a named group of upstream endpoints.
type Cluster struct {
	Name string `yaml:"name" json:"name"`
	// Type is "static" (default: endpoints are IP addresses) or "dns" (each endpoint host is
	// resolved, every address becomes an endpoint, re-resolved every dns_refresh_rate).
	Type           string     `yaml:"type,omitempty" json:"type,omitempty"`
	Endpoints      []Endpoint `yaml:"endpoints" json:"endpoints"`
	DNSRefreshRate Duration   `yaml:"dns_refresh_rate,omitempty" json:"dns_refresh_rate,omitempty"`
	// LB is round_robin (default), least_request, random, ring_hash or maglev.
	LB string `yaml:"lb,omitempty" json:"lb,omitempty"`
	// HashPolicy feeds ring_hash and maglev: the first policy that yields a value is used.
	HashPolicy []HashPolicy `yaml:"hash_policy,omitempty" json:"hash_policy,omitempty"`
	// RingHash tunes ring_hash.
	RingHash *RingHash `yaml:"ring_hash,omitempty" json:"ring_hash,omitempty"`
	// ConnectTimeout bounds a TCP (and TLS) connect (default 5s).
	ConnectTimeout Duration `yaml:"connect_timeout,omitempty" json:"connect_timeout,omitempty"`
	// MaxConnections bounds connections per endpoint (default 1024).
	MaxConnections int `yaml:"max_connections,omitempty" json:"max_connections,omitempty"`
	// CircuitBreakers bound what the cluster takes at once; beyond them requests fail fast
	// with 503 and x-envoy-overloaded (Envoy's DEFAULT priority thresholds).
	CircuitBreakers *CircuitBreakers `yaml:"circuit_breakers,omitempty" json:"circuit_breakers,omitempty"`
	// MaxIdleConnections bounds idle keep-alive connections per endpoint (default 256).
	MaxIdleConnections int `yaml:"max_idle_connections,omitempty" json:"max_idle_connections,omitempty"`
	// IdleTimeout closes keep-alive connections idle this long (default 60s).
	IdleTimeout Duration `yaml:"idle_timeout,omitempty" json:"idle_timeout,omitempty"`
	// HTTP2 speaks HTTP/2 to the upstream (ALPN over TLS, prior knowledge in plain text).
	HTTP2 bool `yaml:"http2,omitempty" json:"http2,omitempty"`
	// TLS originates TLS to the endpoints.
	TLS *UpstreamTLS `yaml:"tls,omitempty" json:"tls,omitempty"`
	// Provider names the LLM provider this cluster was made for; such clusters are not
	// written in the file but derived from providers (see llm.go).
	Provider string `yaml:"-" json:"provider,omitempty"`
	// HealthCheck actively checks every endpoint; nil means no active checking.
	HealthCheck *HealthCheck `yaml:"health_check,omitempty" json:"health_check,omitempty"`
	// OutlierDetection ejects endpoints whose responses keep failing; nil means none.
	OutlierDetection *OutlierDetection `yaml:"outlier_detection,omitempty" json:"outlier_detection,omitempty"`
	// HealthyPanicThreshold is the percentage of healthy endpoints below which the balancer
	// ignores health and spreads requests over every endpoint (default 50; 0 disables).
	HealthyPanicThreshold *float64 `yaml:"healthy_panic_threshold,omitempty" json:"healthy_panic_threshold,omitempty"`
}

// CircuitBreakers are a cluster's Envoy circuit-breaker thresholds (0 means the default).
type CircuitBreakers struct {
	// MaxConnections bounds the connections to the whole cluster (default 1024): an HTTP/1.1
	// request beyond it waits as pending.
	MaxConnections int `yaml:"max_connections,omitempty" json:"max_connections,omitempty"`
	// MaxPendingRequests bounds the requests waiting for a connection (default 1024).
	MaxPendingRequests int `yaml:"max_pending_requests,omitempty" json:"max_pending_requests,omitempty"`
	// MaxRequests bounds the requests in flight to the cluster (default 1024).
	MaxRequests int `yaml:"max_requests,omitempty" json:"max_requests,omitempty"`
	// MaxRetries bounds the retries in flight to the cluster (default 3).
	MaxRetries int `yaml:"max_retries,omitempty" json:"max_retries,omitempty"`
}

// Endpoint is host:port with a weight. In YAML it is either "host:port" or a map.
type Endpoint struct {
	Address string `yaml:"address" json:"address"`
	Weight  uint32 `yaml:"weight,omitempty" json:"weight,omitempty"`
}

// HashPolicy is one source of the hash key: exactly one of header, cookie, source_ip.
type HashPolicy struct {
	Header   string `yaml:"header,omitempty" json:"header,omitempty"`
	Cookie   string `yaml:"cookie,omitempty" json:"cookie,omitempty"`
	SourceIP bool   `yaml:"source_ip,omitempty" json:"source_ip,omitempty"`
}

// RingHash tunes the ring_hash policy.
type RingHash struct {
	MinimumRingSize int `yaml:"minimum_ring_size,omitempty" json:"minimum_ring_size,omitempty"`
	MaximumRingSize int `yaml:"maximum_ring_size,omitempty" json:"maximum_ring_size,omitempty"`
}

// UpstreamTLS originates TLS. Verification is on unless insecure_skip_verify.
type UpstreamTLS struct {
	// SNI is the server name sent and verified (default: the endpoint host).
	SNI string `yaml:"sni,omitempty" json:"sni,omitempty"`
	// CAFile holds PEM roots to trust instead of the system pool.
	CAFile string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	// InsecureSkipVerify turns verification off (tests only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
	// Cert and Key present a client certificate (mutual TLS).
	Cert string `yaml:"cert,omitempty" json:"cert,omitempty"`
	Key  string `yaml:"key,omitempty" json:"key,omitempty"`
}

// HealthCheck is an active health check of every endpoint of a cluster (Envoy's HealthCheck):
// exactly one of HTTP and TCP.
type HealthCheck struct {
	HTTP *HTTPHealthCheck `yaml:"http,omitempty" json:"http,omitempty"`
	TCP  *TCPHealthCheck  `yaml:"tcp,omitempty" json:"tcp,omitempty"`
	// Interval is the time between the end of one check and the start of the next (default 5s).
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// IntervalJitter adds a random time in [0, interval_jitter) to each interval (default 0).
	IntervalJitter Duration `yaml:"interval_jitter,omitempty" json:"interval_jitter,omitempty"`
	// NoTrafficInterval replaces Interval until the cluster has opened its first connection
	// for a request (default 60s, as Envoy).
	NoTrafficInterval Duration `yaml:"no_traffic_interval,omitempty" json:"no_traffic_interval,omitempty"`
	// Timeout bounds one check; a check that takes longer fails (default 1s).
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// HealthyThreshold is the number of passing checks in a row that bring an unhealthy
	// endpoint back (default 2). The first check of an endpoint needs only one.
	HealthyThreshold int `yaml:"healthy_threshold,omitempty" json:"healthy_threshold,omitempty"`
	// UnhealthyThreshold is the number of failing checks in a row (timeouts, connection
	// failures, retriable statuses) that take a healthy endpoint out (default 3). An HTTP
	// status that is neither expected nor retriable takes it out at once.
	UnhealthyThreshold int `yaml:"unhealthy_threshold,omitempty" json:"unhealthy_threshold,omitempty"`
}

// HTTPHealthCheck checks an endpoint with GET path.
type HTTPHealthCheck struct {
	Path string `yaml:"path" json:"path"`
	// Host is the host header (default: the cluster name, as Envoy).
	Host string `yaml:"host,omitempty" json:"host,omitempty"`
	// ExpectedStatuses are the passing statuses (default 200 only).
	ExpectedStatuses []StatusRange `yaml:"expected_statuses,omitempty" json:"expected_statuses,omitempty"`
	// RetriableStatuses fail a check without taking the endpoint out at once: they count
	// towards unhealthy_threshold like a timeout.
	RetriableStatuses []StatusRange `yaml:"retriable_statuses,omitempty" json:"retriable_statuses,omitempty"`
}

// TCPHealthCheck passes when a TCP connection to the endpoint opens.
type TCPHealthCheck struct{}

// StatusRange is an inclusive range of HTTP statuses. In YAML it is a status (200) or a
// range ("200-299").
type StatusRange struct {
	Min, Max int
}

// Contains reports whether status is in the range.
func (r StatusRange) Contains(status int) bool { return status >= r.Min && status <= r.Max }

// OutlierDetection ejects endpoints whose responses fail (Envoy's OutlierDetection). Counts
// and percentages that may be set to 0 are pointers, so that 0 differs from unset.
type OutlierDetection struct {
	// Consecutive5xx ejects an endpoint after this many 5xx responses (or connection failures,
	// resets and timeouts) in a row (default 5; 0 disables).
	Consecutive5xx *int `yaml:"consecutive_5xx,omitempty" json:"consecutive_5xx,omitempty"`
	// ConsecutiveGatewayFailure ejects after this many 502, 503 or 504 (or connection
	// failures, resets and timeouts) in a row (default 5; 0 disables); enforced only as
	// enforcing_consecutive_gateway_failure says (default 0%).
	ConsecutiveGatewayFailure *int `yaml:"consecutive_gateway_failure,omitempty" json:"consecutive_gateway_failure,omitempty"`
	// Interval is how often ejections expire and success rates are computed (default 10s).
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// BaseEjectionTime is the ejection time, multiplied by the number of recent ejections of
	// the endpoint (default 30s).
	BaseEjectionTime Duration `yaml:"base_ejection_time,omitempty" json:"base_ejection_time,omitempty"`
	// MaxEjectionTime caps the ejection time (default 300s, or base_ejection_time if longer).
	MaxEjectionTime Duration `yaml:"max_ejection_time,omitempty" json:"max_ejection_time,omitempty"`
	// MaxEjectionTimeJitter adds a random time in [0, max_ejection_time_jitter] to each ejection.
	MaxEjectionTimeJitter Duration `yaml:"max_ejection_time_jitter,omitempty" json:"max_ejection_time_jitter,omitempty"`
	// MaxEjectionPercent bounds the share of endpoints ejected at once (default 10).
	MaxEjectionPercent *int `yaml:"max_ejection_percent,omitempty" json:"max_ejection_percent,omitempty"`
	// AlwaysEjectOneHost allows one ejection whatever max_ejection_percent says.
	AlwaysEjectOneHost bool `yaml:"always_eject_one_host,omitempty" json:"always_eject_one_host,omitempty"`
	// SuccessRateMinimumHosts is the number of endpoints with enough requests in an interval
	// for success-rate ejection to run (default 5).
	SuccessRateMinimumHosts *int `yaml:"success_rate_minimum_hosts,omitempty" json:"success_rate_minimum_hosts,omitempty"`
	// SuccessRateRequestVolume is the number of requests an endpoint needs in an interval to
	// take part in success-rate ejection (default 100).
	SuccessRateRequestVolume *int `yaml:"success_rate_request_volume,omitempty" json:"success_rate_request_volume,omitempty"`
	// SuccessRateStdevFactor: endpoints whose success rate is below mean - factor * stdev are
	// ejected (default 1.9; Envoy writes it times 1000, 1900).
	SuccessRateStdevFactor *float64 `yaml:"success_rate_stdev_factor,omitempty" json:"success_rate_stdev_factor,omitempty"`
	// FailurePercentageThreshold ejects endpoints whose failure percentage reaches it (default 85).
	FailurePercentageThreshold *int `yaml:"failure_percentage_threshold,omitempty" json:"failure_percentage_threshold,omitempty"`
	// FailurePercentageMinimumHosts is as success_rate_minimum_hosts, for failure percentage (default 5).
	FailurePercentageMinimumHosts *int `yaml:"failure_percentage_minimum_hosts,omitempty" json:"failure_percentage_minimum_hosts,omitempty"`
	// FailurePercentageRequestVolume is as success_rate_request_volume, for failure percentage (default 50).
	FailurePercentageRequestVolume *int `yaml:"failure_percentage_request_volume,omitempty" json:"failure_percentage_request_volume,omitempty"`
	// The enforcing_* percentages are the chance that a detected outlier is ejected.
	EnforcingConsecutive5xx            *int `yaml:"enforcing_consecutive_5xx,omitempty" json:"enforcing_consecutive_5xx,omitempty"`                         // default 100
	EnforcingConsecutiveGatewayFailure int  `yaml:"enforcing_consecutive_gateway_failure,omitempty" json:"enforcing_consecutive_gateway_failure,omitempty"` // default 0
	EnforcingSuccessRate               *int `yaml:"enforcing_success_rate,omitempty" json:"enforcing_success_rate,omitempty"`                               // default 100
	EnforcingFailurePercentage         int  `yaml:"enforcing_failure_percentage,omitempty" json:"enforcing_failure_percentage,omitempty"`                   // default 0
	// SuccessfulActiveHealthCheckUnejectHost returns an ejected endpoint as soon as an active
	// health check of it passes (default true).
	SuccessfulActiveHealthCheckUnejectHost *bool `yaml:"successful_active_health_check_uneject_host,omitempty" json:"successful_active_health_check_uneject_host,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("250ms", "15s") in YAML.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
