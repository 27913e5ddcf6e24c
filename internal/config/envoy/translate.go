package envoy

import (
	"fmt"
	"net"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	lrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"github.com/pylon-gateway/pylon/internal/config"
)

// httpProtocolOptionsKey is the key of typed_extension_protocol_options for HTTP upstreams.
const httpProtocolOptionsKey = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"

// translator turns a validated Bootstrap into a Pylon config, collecting every problem.
type translator struct {
	c    *converter
	errs config.Errors
	pmap map[string]string // Pylon field path -> Envoy field path

	clusterType map[string]string // cluster name -> Pylon type
	hashUses    map[string][]hashUse
}

// hashUse is a route's hash_policy for one of its clusters.
type hashUse struct {
	path   string // the Envoy path of the route action
	policy []config.HashPolicy
}

func (t *translator) fail(path, format string, args ...any) {
	t.errs = append(t.errs, config.FieldError{Path: orDoc(path), Line: t.c.line(path), Msg: fmt.Sprintf(format, args...)})
}

// m records that the Pylon field pylon comes from the Envoy field envoy.
func (t *translator) m(pylon, envoy string) { t.pmap[pylon] = envoy }

// only reports every field set in msg (at path) but not handled: the translation never
// ignores a field silently.
func (t *translator) only(path string, msg proto.Message, handled ...string) {
	if msg == nil || reflect.ValueOf(msg).IsNil() {
		return
	}
	msg.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		name := string(fd.Name())
		for _, h := range handled {
			if h == name {
				return true
			}
		}
		t.fail(join(path, name), "not supported yet: Pylon's Envoy translation does not implement %s.%s", fd.ContainingMessage().Name(), name)
		return true
	})
}

// unpack opens an Any and validates the message in it (PGV), as Envoy does.
func (t *translator) unpack(path string, a *anypb.Any) proto.Message {
	if a == nil {
		t.fail(path, "typed_config is required")
		return nil
	}
	msg, err := a.UnmarshalNew()
	if err != nil {
		t.fail(path, "cannot read %s: %v", a.GetTypeUrl(), err)
		return nil
	}
	if v, ok := msg.(interface{ ValidateAll() error }); ok {
		before := len(t.errs)
		pgvErrors(&t.errs, t.c, path, msg.ProtoReflect().Descriptor(), v.ValidateAll())
		if len(t.errs) > before {
			return nil
		}
	}
	return msg
}

func ptr[T any](v T) *T { return &v }

func dur(d *durationpb.Duration) config.Duration { return config.Duration(d.AsDuration()) }

func (t *translator) bootstrap(bs *bootstrapv3.Bootstrap) *config.Config {
	t.only("", bs, "admin", "static_resources", "node") // node names the proxy to a control plane: nothing to do for static config
	cfg := &config.Config{}
	if a := bs.GetAdmin(); a != nil {
		t.only("admin", a, "address")
		if a.GetAddress() != nil {
			cfg.Admin.Address = t.address("admin.address", a.GetAddress())
			t.m("admin.address", "admin.address")
		}
	}
	sr := bs.GetStaticResources()
	if sr == nil {
		t.fail("static_resources", "is required: Pylon loads static listeners and clusters")
		return cfg
	}
	t.only("static_resources", sr, "listeners", "clusters")
	t.m("listeners", "static_resources.listeners")
	t.m("clusters", "static_resources.clusters")
	for i, cl := range sr.GetClusters() {
		cfg.Clusters = append(cfg.Clusters, t.cluster(fmt.Sprintf("static_resources.clusters[%d]", i), fmt.Sprintf("clusters[%d]", i), cl))
	}
	for i, l := range sr.GetListeners() {
		cfg.Listeners = append(cfg.Listeners, t.listener(fmt.Sprintf("static_resources.listeners[%d]", i), fmt.Sprintf("listeners[%d]", i), i, l))
	}
	t.applyHash(cfg)
	return cfg
}

func (t *translator) address(path string, a *corev3.Address) string {
	t.only(path, a, "socket_address")
	sa := a.GetSocketAddress()
	if sa == nil {
		t.fail(path, "only socket_address is supported")
		return ""
	}
	sp := join(path, "socket_address")
	t.only(sp, sa, "address", "port_value")
	return net.JoinHostPort(sa.GetAddress(), strconv.FormatUint(uint64(sa.GetPortValue()), 10))
}

// ---- listeners ----

func (t *translator) listener(p, pl string, i int, l *listenerv3.Listener) config.Listener {
	t.only(p, l, "name", "address", "filter_chains", "listener_filters")
	t.m(pl, p)
	out := config.Listener{Name: l.GetName()}
	if out.Name == "" {
		out.Name = fmt.Sprintf("listener_%d", i) // Envoy makes up a name too
	}
	t.m(pl+".name", p+".name")
	out.Address = t.address(p+".address", l.GetAddress())
	t.m(pl+".address", p+".address")
	for j, lf := range l.GetListenerFilters() {
		fp := fmt.Sprintf("%s.listener_filters[%d]", p, j)
		t.only(fp, lf, "name", "typed_config")
		if lf.GetTypedConfig() == nil && lf.GetName() == "envoy.filters.listener.tls_inspector" {
			continue
		}
		switch msg := t.unpack(fp+".typed_config", lf.GetTypedConfig()).(type) {
		case nil:
		case *tlsinspectorv3.TlsInspector:
			// Pylon reads the TLS client hello itself: nothing to translate.
			t.only(fp+".typed_config", msg)
		default:
			t.fail(fp, "listener filter %q is not supported (only envoy.filters.listener.tls_inspector)", lf.GetName())
		}
	}
	chains := l.GetFilterChains()
	if len(chains) != 1 {
		t.fail(p+".filter_chains", "exactly one filter chain is supported, got %d", len(chains))
		return out
	}
	fp := p + ".filter_chains[0]"
	fc := chains[0]
	t.only(fp, fc, "filters", "transport_socket", "name")
	h2ALPN := true
	if ts := fc.GetTransportSocket(); ts != nil {
		out.TLS, h2ALPN = t.downstreamTLS(fp+".transport_socket", ts)
		t.m(pl+".tls", fp+".transport_socket")
	}
	if len(fc.GetFilters()) != 1 {
		t.fail(fp+".filters", "exactly one network filter, envoy.filters.network.http_connection_manager, is supported; got %d", len(fc.GetFilters()))
		return out
	}
	ffp := fp + ".filters[0]"
	f := fc.GetFilters()[0]
	t.only(ffp, f, "name", "typed_config")
	switch h := t.unpack(ffp+".typed_config", f.GetTypedConfig()).(type) {
	case nil:
	case *hcmv3.HttpConnectionManager:
		t.hcm(ffp+".typed_config", pl, h, &out, h2ALPN)
	default:
		t.fail(ffp, "network filter %q is not supported: only envoy.filters.network.http_connection_manager", f.GetName())
	}
	return out
}

func (t *translator) downstreamTLS(p string, ts *corev3.TransportSocket) (*config.ListenerTLS, bool) {
	t.only(p, ts, "name", "typed_config")
	tp := p + ".typed_config"
	d, ok := t.unpack(tp, ts.GetTypedConfig()).(*tlsv3.DownstreamTlsContext)
	if !ok {
		if ts.GetTypedConfig() != nil {
			t.fail(tp, "a listener's transport socket must be an envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext")
		}
		return nil, false
	}
	t.only(tp, d, "common_tls_context")
	cp := tp + ".common_tls_context"
	ctx := d.GetCommonTlsContext()
	t.only(cp, ctx, "tls_certificates", "tls_params", "alpn_protocols")
	out := &config.ListenerTLS{}
	for i, c := range ctx.GetTlsCertificates() {
		cert, key := t.certificate(fmt.Sprintf("%s.tls_certificates[%d]", cp, i), c)
		out.Certificates = append(out.Certificates, config.Certificate{Cert: cert, Key: key})
	}
	if len(out.Certificates) == 0 {
		t.fail(cp+".tls_certificates", "at least one certificate is required (SDS is not supported)")
	}
	if tp := ctx.GetTlsParams(); tp != nil {
		pp := cp + ".tls_params"
		t.only(pp, tp, "tls_minimum_protocol_version")
		switch tp.GetTlsMinimumProtocolVersion() {
		case tlsv3.TlsParameters_TLS_AUTO, tlsv3.TlsParameters_TLSv1_2:
		case tlsv3.TlsParameters_TLSv1_3:
			out.MinVersion = "1.3"
		default:
			t.fail(pp+".tls_minimum_protocol_version", "Pylon accepts TLS 1.2 and 1.3 only: use TLSv1_2 or TLSv1_3")
		}
	}
	// Envoy offers ALPN only when alpn_protocols lists it: without h2 clients speak HTTP/1.1.
	h2 := false
	for i, a := range ctx.GetAlpnProtocols() {
		switch a {
		case "h2":
			h2 = true
		case "http/1.1":
		default:
			t.fail(fmt.Sprintf("%s.alpn_protocols[%d]", cp, i), "only h2 and http/1.1 are supported, got %q", a)
		}
	}
	return out, h2
}

func (t *translator) certificate(p string, c *tlsv3.TlsCertificate) (cert, key string) {
	t.only(p, c, "certificate_chain", "private_key")
	return t.fileName(p+".certificate_chain", c.GetCertificateChain()), t.fileName(p+".private_key", c.GetPrivateKey())
}

// fileName reads a DataSource that must name a file.
func (t *translator) fileName(p string, ds *corev3.DataSource) string {
	if ds == nil {
		t.fail(p, "is required (a filename)")
		return ""
	}
	t.only(p, ds, "filename")
	if ds.GetFilename() == "" {
		t.fail(p, "only filename is supported here")
	}
	return ds.GetFilename()
}

func (t *translator) hcm(hp, pl string, h *hcmv3.HttpConnectionManager, out *config.Listener, h2ALPN bool) {
	t.only(hp, h, "stat_prefix", "codec_type", "route_config", "rds", "http_filters", "use_remote_address",
		"server_name", "max_request_headers_kb", "access_log", "upgrade_configs", "stream_idle_timeout",
		"request_timeout", "internal_address_config")
	out.StatPrefix = h.GetStatPrefix()
	t.m(pl+".stat_prefix", hp+".stat_prefix")
	switch h.GetCodecType() {
	case hcmv3.HttpConnectionManager_AUTO:
		out.HTTP2 = ptr(out.TLS == nil || h2ALPN)
	case hcmv3.HttpConnectionManager_HTTP1:
		out.HTTP2 = ptr(false)
	case hcmv3.HttpConnectionManager_HTTP2:
		out.HTTP2 = ptr(true)
	default:
		t.fail(hp+".codec_type", "only AUTO, HTTP1 and HTTP2 are supported")
	}
	t.m(pl+".http2", hp+".codec_type")
	// Envoy's defaults, which are not Pylon's.
	out.UseRemoteAddress = ptr(h.GetUseRemoteAddress().GetValue())
	t.m(pl+".use_remote_address", hp+".use_remote_address")
	out.ServerName = h.GetServerName()
	if out.ServerName == "" {
		out.ServerName = "envoy"
	}
	t.m(pl+".server_name", hp+".server_name")
	if v := h.GetMaxRequestHeadersKb(); v != nil {
		out.MaxRequestHeadersKB = int(v.GetValue())
		t.m(pl+".max_request_headers_kb", hp+".max_request_headers_kb")
	}
	if d := h.GetStreamIdleTimeout(); d != nil {
		out.IdleTimeout = ptr(dur(d))
		t.m(pl+".idle_timeout", hp+".stream_idle_timeout")
	}
	if d := h.GetRequestTimeout(); d != nil {
		out.RequestTimeout = dur(d)
		t.m(pl+".request_timeout", hp+".request_timeout")
	}
	t.internalAddresses(hp+".internal_address_config", pl, h.GetInternalAddressConfig(), out)
	for i, u := range h.GetUpgradeConfigs() {
		up := fmt.Sprintf("%s.upgrade_configs[%d]", hp, i)
		t.only(up, u, "upgrade_type", "enabled")
		if !strings.EqualFold(u.GetUpgradeType(), "websocket") || (u.GetEnabled() != nil && !u.GetEnabled().GetValue()) {
			t.fail(up, "only an enabled websocket upgrade is supported (Pylon always proxies WebSocket)")
		}
	}
	for i, al := range h.GetAccessLog() {
		ap := fmt.Sprintf("%s.access_log[%d]", hp, i)
		t.m(fmt.Sprintf("%s.access_log[%d]", pl, len(out.AccessLog)), ap)
		if a, ok := t.accessLog(ap, al); ok {
			out.AccessLog = append(out.AccessLog, a)
		}
	}
	names := t.httpFilters(hp, pl, h.GetHttpFilters(), out)
	if h.GetRds() != nil {
		t.fail(hp+".rds", "rds is not supported; inline route_config")
		return
	}
	rc := h.GetRouteConfig()
	if rc == nil {
		t.fail(hp, "route_config is required (rds and scoped_routes are not supported)")
		return
	}
	t.routeConfig(hp+".route_config", pl, rc, out, names)
}

// internalAddresses translates internal_address_config. Without one, Envoy 1.33 and later
// treat no client as internal, so neither does the translation (Pylon's own default is the
// legacy RFC 1918 and loopback set).
func (t *translator) internalAddresses(p, pl string, ic *hcmv3.HttpConnectionManager_InternalAddressConfig, out *config.Listener) {
	cidrs := []string{}
	t.only(p, ic, "cidr_ranges")
	for i, r := range ic.GetCidrRanges() {
		rp := fmt.Sprintf("%s.cidr_ranges[%d]", p, i)
		t.only(rp, r, "address_prefix", "prefix_len")
		t.m(fmt.Sprintf("%s.internal_addresses[%d]", pl, len(cidrs)), rp)
		cidrs = append(cidrs, fmt.Sprintf("%s/%d", r.GetAddressPrefix(), r.GetPrefixLen().GetValue()))
	}
	out.InternalAddresses = &cidrs
	t.m(pl+".internal_addresses", p)
}

// httpFilters translates the filter chain; it returns Envoy filter name -> Pylon filter name.
func (t *translator) httpFilters(hp, pl string, fs []*hcmv3.HttpFilter, out *config.Listener) map[string]string {
	names := map[string]string{}
	for i, f := range fs {
		fp := fmt.Sprintf("%s.http_filters[%d]", hp, i)
		t.only(fp, f, "name", "typed_config", "is_optional")
		tp := fp + ".typed_config"
		msg := t.unpack(tp, f.GetTypedConfig())
		last := i == len(fs)-1
		pylon := ""
		var cfg yaml.Node
		switch m := msg.(type) {
		case nil:
			continue
		case *routerv3.Router:
			t.only(tp, m)
			if !last {
				t.fail(fp, "terminal filter named %s of type envoy.filters.http.router must be the last filter in a http filter chain.", f.GetName())
			}
			continue
		case *corsv3.Cors:
			t.only(tp, m)
			pylon = "cors"
		case *lrlv3.LocalRateLimit:
			pylon = "local_ratelimit"
			cfg = t.localRateLimit(tp, m, false)
		default:
			t.fail(tp, "HTTP filter %q (%s) is not supported: Pylon translates envoy.filters.http.router, cors and local_ratelimit", f.GetName(), f.GetTypedConfig().GetTypeUrl())
			continue
		}
		if last && !hasRouter(fs) {
			t.fail(fp, "non-terminal filter named %s of type %s is the last filter in a http filter chain.", f.GetName(), msgName(msg))
		}
		for _, prev := range names {
			if prev == pylon {
				t.fail(fp, "a second %s filter is not supported", pylon)
			}
		}
		names[f.GetName()] = pylon
		t.m(fmt.Sprintf("%s.filters[%d]", pl, len(out.Filters)), fp)
		t.m(fmt.Sprintf("%s.filters.%s", pl, pylon), fp)
		out.Filters = append(out.Filters, config.Filter{Name: pylon, Config: cfg})
	}
	if len(fs) == 0 {
		t.fail(hp+".http_filters", "the last HTTP filter must be envoy.filters.http.router")
	}
	return names
}

func hasRouter(fs []*hcmv3.HttpFilter) bool {
	for _, f := range fs {
		if f.GetTypedConfig().GetTypeUrl() == "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" {
			return true
		}
	}
	return false
}

func msgName(m proto.Message) string { return string(m.ProtoReflect().Descriptor().FullName()) }

// fraction returns 0 or 100 for a runtime fraction that is 0% or 100%; other values are errors (-1).
func (t *translator) fraction(p string, f *corev3.RuntimeFractionalPercent, absent int) int {
	if f == nil {
		return absent
	}
	t.only(p, f, "default_value", "runtime_key")
	return t.percent(p+".default_value", f.GetDefaultValue())
}

func (t *translator) percent(p string, f *typev3.FractionalPercent) int {
	t.only(p, f, "numerator", "denominator")
	den := uint32(100)
	switch f.GetDenominator() {
	case typev3.FractionalPercent_TEN_THOUSAND:
		den = 10000
	case typev3.FractionalPercent_MILLION:
		den = 1000000
	}
	switch n := f.GetNumerator(); {
	case n == 0:
		return 0
	case n >= den:
		return 100
	}
	t.fail(p, "fractional enforcement not supported: Pylon applies a filter to all requests (100%%) or none (0%%)")
	return -1
}

// lrlConfig is Pylon's local_ratelimit config.
type lrlConfig struct {
	MaxTokens            uint32               `yaml:"max_tokens,omitempty"`
	TokensPerFill        *uint32              `yaml:"tokens_per_fill,omitempty"`
	FillInterval         string               `yaml:"fill_interval,omitempty"`
	Status               int                  `yaml:"status,omitempty"`
	ResponseHeadersToAdd []config.HeaderValue `yaml:"response_headers_to_add,omitempty"`
	EnableXHeaders       bool                 `yaml:"enable_x_ratelimit_headers,omitempty"`
	Disabled             bool                 `yaml:"disabled,omitempty"`
}

func encode(v any) yaml.Node {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		panic(err) // plain structs always encode
	}
	return n
}

// disabledNode is a per-route `{disabled: true}`.
func disabledNode() yaml.Node { return encode(map[string]bool{"disabled": true}) }

// localRateLimit translates a LocalRateLimit. A config that Envoy never enforces
// (filter_enabled or filter_enforced absent or 0%: Envoy's default) limits nothing: an empty
// listener config, or `{disabled: true}` on a route.
func (t *translator) localRateLimit(p string, m *lrlv3.LocalRateLimit, perRoute bool) yaml.Node {
	t.only(p, m, "stat_prefix", "token_bucket", "filter_enabled", "filter_enforced", "status",
		"response_headers_to_add", "enable_x_ratelimit_headers")
	enabled := t.fraction(p+".filter_enabled", m.GetFilterEnabled(), 0)
	enforced := t.fraction(p+".filter_enforced", m.GetFilterEnforced(), 0)
	if enabled < 0 || enforced < 0 {
		return yaml.Node{}
	}
	if enabled == 0 || enforced == 0 {
		if enabled == 100 && m.GetEnableXRatelimitHeaders() != ratelimitv3.XRateLimitHeadersRFCVersion_OFF {
			t.fail(p+".enable_x_ratelimit_headers", "is not supported on a filter that is enabled but not enforced")
		}
		if perRoute {
			return disabledNode()
		}
		return yaml.Node{}
	}
	tb := m.GetTokenBucket()
	if tb == nil {
		t.fail(p+".token_bucket", "is required when the filter is enabled and enforced (descriptors are not supported)")
		return yaml.Node{}
	}
	tp := p + ".token_bucket"
	t.only(tp, tb, "max_tokens", "tokens_per_fill", "fill_interval")
	c := lrlConfig{MaxTokens: tb.GetMaxTokens(), FillInterval: tb.GetFillInterval().AsDuration().String()}
	if v := tb.GetTokensPerFill(); v != nil {
		c.TokensPerFill = ptr(v.GetValue())
	}
	if s := m.GetStatus(); s != nil {
		t.only(p+".status", s, "code")
		c.Status = int(s.GetCode())
	}
	c.ResponseHeadersToAdd = t.headersToAdd(p+".response_headers_to_add", "", m.GetResponseHeadersToAdd())
	c.EnableXHeaders = m.GetEnableXRatelimitHeaders() == ratelimitv3.XRateLimitHeadersRFCVersion_DRAFT_VERSION_03
	return encode(c)
}

// corsConfig is Pylon's cors config.
type corsConfig struct {
	AllowOrigins     []string `yaml:"allow_origins,omitempty"`
	AllowOriginRegex []string `yaml:"allow_origin_regex,omitempty"`
	AllowMethods     []string `yaml:"allow_methods,omitempty"`
	AllowHeaders     []string `yaml:"allow_headers,omitempty"`
	ExposeHeaders    []string `yaml:"expose_headers,omitempty"`
	MaxAge           string   `yaml:"max_age,omitempty"`
	AllowCredentials *bool    `yaml:"allow_credentials,omitempty"`
	ForwardNotMatch  *bool    `yaml:"forward_not_matching_preflights,omitempty"`
}

func splitComma(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// corsPolicy translates a per-route CorsPolicy.
func (t *translator) corsPolicy(p string, m *corsv3.CorsPolicy) yaml.Node {
	t.only(p, m, "allow_origin_string_match", "allow_methods", "allow_headers", "expose_headers", "max_age",
		"allow_credentials", "filter_enabled", "forward_not_matching_preflights")
	switch t.fraction(p+".filter_enabled", m.GetFilterEnabled(), 100) {
	case 0:
		return disabledNode()
	case -1:
		return yaml.Node{}
	}
	var c corsConfig
	for i, sm := range m.GetAllowOriginStringMatch() {
		sp := fmt.Sprintf("%s.allow_origin_string_match[%d]", p, i)
		t.only(sp, sm, "exact", "prefix", "suffix", "contains", "safe_regex", "ignore_case")
		re := ""
		switch x := sm.GetMatchPattern().(type) {
		case *matcherv3.StringMatcher_Exact:
			if x.Exact == "*" {
				c.AllowOrigins = append(c.AllowOrigins, "*")
				continue
			}
			if strings.Contains(x.Exact, "*") {
				t.fail(sp+".exact", "an origin with \"*\" cannot be expressed in Pylon, which reads \"*\" in an origin as a wildcard")
				continue
			}
			// Pylon compares exact origins ignoring case; browsers send them in lower case.
			c.AllowOrigins = append(c.AllowOrigins, x.Exact)
			continue
		case *matcherv3.StringMatcher_Prefix:
			re = regexp.QuoteMeta(x.Prefix) + ".*"
		case *matcherv3.StringMatcher_Suffix:
			re = ".*" + regexp.QuoteMeta(x.Suffix)
		case *matcherv3.StringMatcher_Contains:
			re = ".*" + regexp.QuoteMeta(x.Contains) + ".*"
		case *matcherv3.StringMatcher_SafeRegex:
			re = t.regex(sp+".safe_regex", x.SafeRegex)
		default:
			t.fail(sp, "only exact, prefix, suffix, contains and safe_regex are supported")
			continue
		}
		if sm.GetIgnoreCase() {
			if _, ok := sm.GetMatchPattern().(*matcherv3.StringMatcher_SafeRegex); !ok {
				re = "(?i)" + re
			}
		}
		// Envoy allows every origin when a matcher matches the string "*".
		if rx, err := regexp.Compile(`^(?:` + re + `)$`); err == nil && rx.MatchString("*") {
			c.AllowOrigins = append(c.AllowOrigins, "*")
			continue
		}
		c.AllowOriginRegex = append(c.AllowOriginRegex, re)
	}
	c.AllowMethods = splitComma(m.GetAllowMethods())
	c.AllowHeaders = splitComma(m.GetAllowHeaders())
	c.ExposeHeaders = splitComma(m.GetExposeHeaders())
	if s := m.GetMaxAge(); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > 1<<31 {
			t.fail(p+".max_age", "must be a whole number of seconds, got %q", s)
		} else {
			c.MaxAge = (time.Duration(n) * time.Second).String()
		}
	}
	if v := m.GetAllowCredentials(); v != nil {
		c.AllowCredentials = ptr(v.GetValue())
	}
	if v := m.GetForwardNotMatchingPreflights(); v != nil {
		c.ForwardNotMatch = ptr(v.GetValue())
	}
	return encode(c)
}

// perFilter translates typed_per_filter_config into Pylon's route filters.
func (t *translator) perFilter(p string, cfgs map[string]*anypb.Any, names map[string]string, vhost bool) map[string]yaml.Node {
	if len(cfgs) == 0 {
		return nil
	}
	out := map[string]yaml.Node{}
	for _, name := range sortedKeys(cfgs) {
		fp := join(p, name)
		msg := t.unpack(fp, cfgs[name])
		if fc, ok := msg.(*routev3.FilterConfig); ok {
			t.only(fp, fc, "config", "is_optional", "disabled")
			if fc.GetDisabled() {
				if pylon, ok := names[name]; ok {
					out[pylon] = disabledNode()
				} else {
					t.fail(fp, "no HTTP filter named %q in the listener's http_filters", name)
				}
				continue
			}
			fp += ".config"
			msg = t.unpack(fp, fc.GetConfig())
		}
		if msg == nil {
			continue
		}
		pylon, ok := names[name]
		if !ok {
			t.fail(fp, "no HTTP filter named %q in the listener's http_filters", name)
			continue
		}
		switch m := msg.(type) {
		case *corsv3.CorsPolicy:
			if pylon != "cors" {
				t.fail(fp, "a CorsPolicy for filter %q, which is not the cors filter", name)
				continue
			}
			out[pylon] = t.corsPolicy(fp, m)
		case *lrlv3.LocalRateLimit:
			if pylon != "local_ratelimit" {
				t.fail(fp, "a LocalRateLimit for filter %q, which is not the local_ratelimit filter", name)
				continue
			}
			n := t.localRateLimit(fp, m, true)
			if vhost && !isDisabled(n) && n.Kind != 0 {
				t.fail(fp, "a local rate limit bucket on a virtual host (shared by its routes) is not supported: set typed_per_filter_config on each route")
				continue
			}
			out[pylon] = n
		default:
			t.fail(fp, "per-route config of type %s is not supported", msgName(msg))
		}
	}
	return out
}

func isDisabled(n yaml.Node) bool {
	return n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "disabled" && n.Content[1].Value == "true"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ---- access log ----

func (t *translator) accessLog(p string, al interface {
	proto.Message
	GetName() string
	GetTypedConfig() *anypb.Any
}) (config.AccessLog, bool) {
	t.only(p, al, "name", "typed_config")
	tp := p + ".typed_config"
	switch m := t.unpack(tp, al.GetTypedConfig()).(type) {
	case nil:
	case *filev3.FileAccessLog:
		t.only(tp, m, "path", "log_format", "format", "json_format")
		out := config.AccessLog{Path: m.GetPath()}
		switch out.Path {
		case "/dev/stdout":
			out.Path = "stdout"
		case "/dev/stderr":
			out.Path = "stderr"
		}
		if m.GetFormat() != "" {
			out.Format = m.GetFormat()
		}
		if js := m.GetJsonFormat(); js != nil {
			out.JSON = t.jsonFormat(tp+".json_format", js.AsMap())
		}
		if lf := m.GetLogFormat(); lf != nil {
			t.logFormat(tp+".log_format", lf, &out)
		}
		return out, true
	case *streamv3.StdoutAccessLog:
		t.only(tp, m, "log_format")
		out := config.AccessLog{Path: "stdout"}
		if lf := m.GetLogFormat(); lf != nil {
			t.logFormat(tp+".log_format", lf, &out)
		}
		return out, true
	case *streamv3.StderrAccessLog:
		t.only(tp, m, "log_format")
		out := config.AccessLog{Path: "stderr"}
		if lf := m.GetLogFormat(); lf != nil {
			t.logFormat(tp+".log_format", lf, &out)
		}
		return out, true
	default:
		t.fail(tp, "access logger %q is not supported: only envoy.access_loggers.file, stdout and stderr", al.GetName())
	}
	return config.AccessLog{}, false
}

func (t *translator) logFormat(p string, lf *corev3.SubstitutionFormatString, out *config.AccessLog) {
	t.only(p, lf, "text_format", "text_format_source", "json_format")
	switch {
	case lf.GetTextFormat() != "":
		out.Format = lf.GetTextFormat()
	case lf.GetTextFormatSource() != nil:
		ds := lf.GetTextFormatSource()
		t.only(p+".text_format_source", ds, "inline_string")
		out.Format = ds.GetInlineString()
	case lf.GetJsonFormat() != nil:
		out.JSON = t.jsonFormat(p+".json_format", lf.GetJsonFormat().AsMap())
	}
}

func (t *translator) jsonFormat(p string, m map[string]any) map[string]string {
	out := map[string]string{}
	for _, k := range sortedKeys(m) {
		s, ok := m[k].(string)
		if !ok {
			t.fail(join(p, k), "only string values are supported in json_format")
			continue
		}
		out[k] = s
	}
	return out
}

// ---- routes ----

func (t *translator) routeConfig(rp, pl string, rc *routev3.RouteConfiguration, out *config.Listener, names map[string]string) {
	t.only(rp, rc, "name", "virtual_hosts", "validate_clusters", "ignore_port_in_host_matching", "max_direct_response_body_size_bytes")
	if v := rc.GetValidateClusters(); v != nil && !v.GetValue() {
		t.fail(rp+".validate_clusters", "false is not supported: Pylon always checks that routes name existing clusters")
	}
	out.IgnorePortInHostMatching = rc.GetIgnorePortInHostMatching()
	t.m(pl+".ignore_port_in_host_matching", rp+".ignore_port_in_host_matching")
	bodyLimit := 4096
	if v := rc.GetMaxDirectResponseBodySizeBytes(); v != nil {
		bodyLimit = int(v.GetValue())
	}
	t.m(pl+".virtual_hosts", rp+".virtual_hosts")
	// Envoy's load-time checks on domains.
	seen := map[string]bool{}
	wildcard := false
	for i, vh := range rc.GetVirtualHosts() {
		for j, d := range vh.GetDomains() {
			dp := fmt.Sprintf("%s.virtual_hosts[%d].domains[%d]", rp, i, j)
			ld := strings.ToLower(d)
			switch {
			case ld == "*" && wildcard:
				t.fail(dp, "Only a single wildcard domain is permitted in route %s", rc.GetName())
			case ld != "*" && seen[ld]:
				t.fail(dp, "Only unique values for domains are permitted. Duplicate entry of domain %s in route %s", ld, rc.GetName())
			}
			wildcard = wildcard || ld == "*"
			seen[ld] = true
		}
	}
	for i, vh := range rc.GetVirtualHosts() {
		out.VirtualHosts = append(out.VirtualHosts, t.vhost(fmt.Sprintf("%s.virtual_hosts[%d]", rp, i), fmt.Sprintf("%s.virtual_hosts[%d]", pl, i), vh, names, bodyLimit))
	}
}

func (t *translator) vhost(p, pl string, vh *routev3.VirtualHost, names map[string]string, bodyLimit int) config.VirtualHost {
	t.only(p, vh, "name", "domains", "routes", "request_headers_to_add", "request_headers_to_remove",
		"response_headers_to_add", "response_headers_to_remove", "typed_per_filter_config")
	t.m(pl, p)
	out := config.VirtualHost{Name: vh.GetName(), Domains: vh.GetDomains()}
	for _, f := range []string{"name", "domains", "routes"} {
		t.m(pl+"."+f, p+"."+f)
	}
	t.mutations(p, pl, vh, &out.HeaderMutations)
	// Envoy: the most specific per-filter config wins, so a virtual host's applies to the
	// routes without their own. Pylon has none on virtual hosts: copy it to those routes.
	vhFilters := t.perFilter(p+".typed_per_filter_config", vh.GetTypedPerFilterConfig(), names, true)
	for i, r := range vh.GetRoutes() {
		rp, rpl := fmt.Sprintf("%s.routes[%d]", p, i), fmt.Sprintf("%s.routes[%d]", pl, i)
		route := t.route(rp, rpl, r, names, bodyLimit)
		for name, n := range vhFilters {
			if _, own := route.Filters[name]; !own {
				if route.Filters == nil {
					route.Filters = map[string]yaml.Node{}
				}
				route.Filters[name] = n
				t.m(rpl+".filters."+name, p+".typed_per_filter_config")
			}
		}
		out.Routes = append(out.Routes, route)
	}
	return out
}

// mutable is what virtual hosts and routes share.
type mutable interface {
	GetRequestHeadersToAdd() []*corev3.HeaderValueOption
	GetRequestHeadersToRemove() []string
	GetResponseHeadersToAdd() []*corev3.HeaderValueOption
	GetResponseHeadersToRemove() []string
}

func (t *translator) mutations(p, pl string, m mutable, out *config.HeaderMutations) {
	out.RequestHeadersToAdd = t.headersToAdd(p+".request_headers_to_add", pl+".request_headers_to_add", m.GetRequestHeadersToAdd())
	out.ResponseHeadersToAdd = t.headersToAdd(p+".response_headers_to_add", pl+".response_headers_to_add", m.GetResponseHeadersToAdd())
	out.RequestHeadersToRemove = m.GetRequestHeadersToRemove()
	out.ResponseHeadersToRemove = m.GetResponseHeadersToRemove()
	t.m(pl+".request_headers_to_remove", p+".request_headers_to_remove")
	t.m(pl+".response_headers_to_remove", p+".response_headers_to_remove")
}

func (t *translator) headersToAdd(p, pl string, hs []*corev3.HeaderValueOption) []config.HeaderValue {
	var out []config.HeaderValue
	for i, h := range hs {
		hp := fmt.Sprintf("%s[%d]", p, i)
		t.only(hp, h, "header", "append", "append_action")
		hv := h.GetHeader()
		t.only(hp+".header", hv, "key", "value", "raw_value")
		val := hv.GetValue()
		if len(hv.GetRawValue()) > 0 {
			val = string(hv.GetRawValue())
		}
		if h.GetAppend() != nil && h.GetAppendAction() != corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD {
			t.fail(hp, "Both append and append_action are set and it's not allowed")
			continue
		}
		var app *bool
		if h.GetAppend() != nil && !h.GetAppend().GetValue() {
			app = ptr(false)
		}
		switch h.GetAppendAction() {
		case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
			app = ptr(false)
		default:
			t.fail(hp+".append_action", "only APPEND_IF_EXISTS_OR_ADD and OVERWRITE_IF_EXISTS_OR_ADD are supported")
			continue
		}
		if val == "" {
			continue // Envoy adds no header with an empty value (keep_empty_value unset)
		}
		if pl != "" {
			t.m(fmt.Sprintf("%s[%d]", pl, len(out)), hp)
		}
		out = append(out, config.HeaderValue{Name: hv.GetKey(), Value: val, Append: app})
	}
	return out
}

func (t *translator) route(p, pl string, r *routev3.Route, names map[string]string, bodyLimit int) config.Route {
	t.only(p, r, "name", "match", "route", "redirect", "direct_response", "request_headers_to_add",
		"request_headers_to_remove", "response_headers_to_add", "response_headers_to_remove", "typed_per_filter_config")
	t.m(pl, p)
	out := config.Route{Name: r.GetName()}
	t.match(p+".match", pl+".match", r.GetMatch(), &out.Match)
	if _, ok := r.GetMatch().GetPathSpecifier().(*routev3.RouteMatch_Prefix); ok && r.GetMatch().GetPrefix() == "" && r.GetRoute().GetPrefixRewrite() != "" {
		t.fail(p+".match.prefix", "an empty prefix with prefix_rewrite cannot be translated: write prefix: /")
	}
	switch a := r.GetAction().(type) {
	case *routev3.Route_Route:
		t.routeAction(p+".route", pl, a.Route, &out)
	case *routev3.Route_Redirect:
		t.redirect(p+".redirect", pl, a.Redirect, &out)
	case *routev3.Route_DirectResponse:
		t.directResponse(p+".direct_response", pl, a.DirectResponse, &out, bodyLimit)
	}
	t.mutations(p, pl, r, &out.HeaderMutations)
	out.Filters = t.perFilter(p+".typed_per_filter_config", r.GetTypedPerFilterConfig(), names, false)
	for name := range out.Filters {
		t.m(pl+".filters."+name, join(p+".typed_per_filter_config", envoyName(names, name)))
	}
	return out
}

func envoyName(names map[string]string, pylon string) string {
	for e, p := range names {
		if p == pylon {
			return e
		}
	}
	return pylon
}

func (t *translator) regex(p string, rm *matcherv3.RegexMatcher) string {
	t.only(p, rm, "regex", "google_re2")
	if g := rm.GetGoogleRe2(); g != nil {
		t.only(p+".google_re2", g)
	}
	return rm.GetRegex()
}

// match translates a RouteMatch.
func (t *translator) match(p, pl string, m *routev3.RouteMatch, out *config.RouteMatch) {
	t.only(p, m, "prefix", "path", "safe_regex", "path_separated_prefix", "case_sensitive", "headers", "query_parameters")
	t.m(pl, p)
	regex := false
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		out.Prefix = ps.Prefix
		if out.Prefix == "" {
			out.Prefix = "/" // "" and "/" both match every path
		}
		t.m(pl+".prefix", p+".prefix")
	case *routev3.RouteMatch_Path:
		out.Path = ps.Path
		t.m(pl+".path", p+".path")
	case *routev3.RouteMatch_SafeRegex:
		out.Regex = t.regex(p+".safe_regex", ps.SafeRegex)
		t.m(pl+".regex", p+".safe_regex")
		regex = true
	case *routev3.RouteMatch_PathSeparatedPrefix:
		out.PathSeparatedPrefix = ps.PathSeparatedPrefix
		t.m(pl+".path_separated_prefix", p+".path_separated_prefix")
	}
	// Envoy ignores case_sensitive for regex; Pylon refuses it there.
	if v := m.GetCaseSensitive(); v != nil && !regex {
		out.CaseSensitive = ptr(v.GetValue())
	}
	for i, h := range m.GetHeaders() {
		hp := fmt.Sprintf("%s.headers[%d]", p, i)
		t.m(fmt.Sprintf("%s.headers[%d]", pl, i), hp)
		t.m(fmt.Sprintf("%s.headers[%d].name", pl, i), hp+".name")
		t.only(hp, h, "name", "string_match", "exact_match", "safe_regex_match", "prefix_match", "suffix_match",
			"contains_match", "present_match", "invert_match")
		hm := config.HeaderMatch{Name: h.GetName(), Invert: h.GetInvertMatch()}
		switch x := h.GetHeaderMatchSpecifier().(type) {
		case *routev3.HeaderMatcher_StringMatch:
			hm.StringMatch = t.stringMatch(hp+".string_match", x.StringMatch)
		case *routev3.HeaderMatcher_ExactMatch:
			hm.Exact = ptr(x.ExactMatch)
		case *routev3.HeaderMatcher_SafeRegexMatch:
			hm.Regex = t.regex(hp+".safe_regex_match", x.SafeRegexMatch)
		case *routev3.HeaderMatcher_PrefixMatch:
			hm.Prefix = x.PrefixMatch
		case *routev3.HeaderMatcher_SuffixMatch:
			hm.Suffix = x.SuffixMatch
		case *routev3.HeaderMatcher_ContainsMatch:
			hm.Contains = x.ContainsMatch
		case *routev3.HeaderMatcher_PresentMatch:
			hm.Present = ptr(x.PresentMatch)
		}
		out.Headers = append(out.Headers, hm)
	}
	for i, q := range m.GetQueryParameters() {
		qp := fmt.Sprintf("%s.query_parameters[%d]", p, i)
		t.m(fmt.Sprintf("%s.query[%d]", pl, i), qp)
		t.m(fmt.Sprintf("%s.query[%d].name", pl, i), qp+".name")
		t.only(qp, q, "name", "string_match", "present_match")
		qm := config.QueryMatch{Name: q.GetName()}
		switch x := q.GetQueryParameterMatchSpecifier().(type) {
		case *routev3.QueryParameterMatcher_StringMatch:
			qm.StringMatch = t.stringMatch(qp+".string_match", x.StringMatch)
		case *routev3.QueryParameterMatcher_PresentMatch:
			// Envoy checks presence whatever the value of present_match.
			qm.Present = ptr(true)
		}
		out.Query = append(out.Query, qm)
	}
}

func (t *translator) stringMatch(p string, sm *matcherv3.StringMatcher) config.StringMatch {
	t.only(p, sm, "exact", "prefix", "suffix", "contains", "safe_regex", "ignore_case")
	out := config.StringMatch{IgnoreCase: sm.GetIgnoreCase()}
	switch x := sm.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		out.Exact = ptr(x.Exact)
	case *matcherv3.StringMatcher_Prefix:
		out.Prefix = x.Prefix
	case *matcherv3.StringMatcher_Suffix:
		out.Suffix = x.Suffix
	case *matcherv3.StringMatcher_Contains:
		out.Contains = x.Contains
	case *matcherv3.StringMatcher_SafeRegex:
		out.Regex = t.regex(p+".safe_regex", x.SafeRegex)
		out.IgnoreCase = false // Envoy ignores ignore_case for safe_regex
	}
	return out
}

func (t *translator) routeAction(p, pl string, a *routev3.RouteAction, out *config.Route) {
	t.only(p, a, "cluster", "weighted_clusters", "prefix_rewrite", "regex_rewrite", "host_rewrite_literal",
		"auto_host_rewrite", "timeout", "hash_policy", "retry_policy", "request_mirror_policies", "idle_timeout")
	var clusters []string
	switch cs := a.GetClusterSpecifier().(type) {
	case *routev3.RouteAction_Cluster:
		out.Cluster = cs.Cluster
		clusters = append(clusters, cs.Cluster)
		t.m(pl+".cluster", p+".cluster")
	case *routev3.RouteAction_WeightedClusters:
		wp := p + ".weighted_clusters"
		t.only(wp, cs.WeightedClusters, "clusters")
		for i, cw := range cs.WeightedClusters.GetClusters() {
			cp := fmt.Sprintf("%s.clusters[%d]", wp, i)
			t.only(cp, cw, "name", "weight")
			t.m(fmt.Sprintf("%s.weighted_clusters[%d]", pl, i), cp)
			out.WeightedClusters = append(out.WeightedClusters, config.WeightedCluster{Name: cw.GetName(), Weight: cw.GetWeight().GetValue()})
			clusters = append(clusters, cw.GetName())
		}
		t.m(pl+".weighted_clusters", wp)
	}
	out.PrefixRewrite = a.GetPrefixRewrite()
	t.m(pl+".prefix_rewrite", p+".prefix_rewrite")
	if rr := a.GetRegexRewrite(); rr != nil {
		rp := p + ".regex_rewrite"
		t.only(rp, rr, "pattern", "substitution")
		out.RegexRewrite = &config.RegexRewrite{Pattern: t.regex(rp+".pattern", rr.GetPattern()), Substitution: rr.GetSubstitution()}
		t.m(pl+".regex_rewrite", rp)
	}
	out.HostRewrite = a.GetHostRewriteLiteral()
	t.m(pl+".host_rewrite", p+".host_rewrite_literal")
	if a.GetAutoHostRewrite().GetValue() {
		// Envoy rewrites the host only for DNS clusters (a static endpoint has no host name).
		for _, c := range clusters {
			if t.clusterType[c] == "dns" {
				out.AutoHostRewrite = true
			}
		}
		t.m(pl+".auto_host_rewrite", p+".auto_host_rewrite")
	}
	if a.GetTimeout() != nil {
		out.Timeout = ptr(dur(a.GetTimeout()))
		t.m(pl+".timeout", p+".timeout")
	}
	if a.GetIdleTimeout() != nil {
		out.IdleTimeout = ptr(dur(a.GetIdleTimeout()))
		t.m(pl+".idle_timeout", p+".idle_timeout")
	}
	if rp := a.GetRetryPolicy(); rp != nil {
		out.Retry = t.retryPolicy(p+".retry_policy", pl+".retry", rp)
	}
	for i, mp := range a.GetRequestMirrorPolicies() {
		mpp := fmt.Sprintf("%s.request_mirror_policies[%d]", p, i)
		t.only(mpp, mp, "cluster", "runtime_fraction")
		if mp.GetCluster() == "" {
			t.fail(mpp+".cluster", "is required (cluster_header is not supported)")
			continue
		}
		m := config.MirrorPolicy{Cluster: mp.GetCluster()}
		if f := mp.GetRuntimeFraction(); f != nil {
			t.only(mpp+".runtime_fraction", f, "default_value", "runtime_key")
			m.Percent = ptr(fractionPercent(f.GetDefaultValue()))
		}
		t.m(fmt.Sprintf("%s.mirror[%d]", pl, len(out.Mirror)), mpp)
		t.m(fmt.Sprintf("%s.mirror[%d].cluster", pl, len(out.Mirror)), mpp+".cluster")
		out.Mirror = append(out.Mirror, m)
	}
	policy := t.hashPolicy(p+".hash_policy", a.GetHashPolicy())
	for _, c := range clusters {
		t.hashUses[c] = append(t.hashUses[c], hashUse{path: p, policy: policy})
	}
}

// retryPolicy translates a route's RetryPolicy. Conditions Pylon does not implement are errors
// that name them.
func (t *translator) retryPolicy(p, pl string, rp *routev3.RetryPolicy) *config.RetryPolicy {
	t.only(p, rp, "retry_on", "num_retries", "per_try_timeout", "retriable_status_codes", "retry_back_off")
	t.m(pl, p)
	out := &config.RetryPolicy{}
	for _, on := range splitComma(rp.GetRetryOn()) {
		if !config.RetryOn[on] {
			t.fail(p+".retry_on", "not supported yet: retry condition %q (Pylon implements 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes)", on)
			continue
		}
		out.On = append(out.On, on)
	}
	t.m(pl+".on", p+".retry_on")
	if v := rp.GetNumRetries(); v != nil {
		out.Attempts = ptr(int(v.GetValue()))
		t.m(pl+".attempts", p+".num_retries")
	}
	if d := rp.GetPerTryTimeout(); d != nil {
		out.PerTryTimeout = dur(d)
		t.m(pl+".per_try_timeout", p+".per_try_timeout")
	}
	for _, c := range rp.GetRetriableStatusCodes() {
		out.RetriableStatusCodes = append(out.RetriableStatusCodes, int(c))
	}
	t.m(pl+".retriable_status_codes", p+".retriable_status_codes")
	if b := rp.GetRetryBackOff(); b != nil {
		bp := p + ".retry_back_off"
		t.only(bp, b, "base_interval", "max_interval")
		out.Backoff = &config.RetryBackoff{BaseInterval: dur(b.GetBaseInterval())}
		if b.GetMaxInterval() != nil {
			out.Backoff.MaxInterval = dur(b.GetMaxInterval())
		}
		t.m(pl+".backoff", bp)
		t.m(pl+".backoff.base_interval", bp+".base_interval")
		t.m(pl+".backoff.max_interval", bp+".max_interval")
	}
	return out
}

// fractionPercent turns a FractionalPercent into a percentage.
func fractionPercent(f *typev3.FractionalPercent) float64 {
	den := 100.0
	switch f.GetDenominator() {
	case typev3.FractionalPercent_TEN_THOUSAND:
		den = 10000
	case typev3.FractionalPercent_MILLION:
		den = 1000000
	}
	return min(100, float64(f.GetNumerator())*100/den)
}

func (t *translator) hashPolicy(p string, hps []*routev3.RouteAction_HashPolicy) []config.HashPolicy {
	var out []config.HashPolicy
	for i, hp := range hps {
		pp := fmt.Sprintf("%s[%d]", p, i)
		t.only(pp, hp, "header", "cookie", "connection_properties", "terminal")
		var h config.HashPolicy
		switch x := hp.GetPolicySpecifier().(type) {
		case *routev3.RouteAction_HashPolicy_Header_:
			t.only(pp+".header", x.Header, "header_name")
			h.Header = x.Header.GetHeaderName()
		case *routev3.RouteAction_HashPolicy_Cookie_:
			t.only(pp+".cookie", x.Cookie, "name")
			h.Cookie = x.Cookie.GetName()
		case *routev3.RouteAction_HashPolicy_ConnectionProperties_:
			t.only(pp+".connection_properties", x.ConnectionProperties, "source_ip")
			if !x.ConnectionProperties.GetSourceIp() {
				t.fail(pp+".connection_properties.source_ip", "must be true")
			}
			h.SourceIP = true
		}
		if i < len(hps)-1 && !hp.GetTerminal() {
			t.fail(pp+".terminal", "Pylon uses the first hash policy that yields a value (Envoy's terminal: true); set terminal: true on every policy but the last, or keep one policy")
		}
		out = append(out, h)
	}
	return out
}

func (t *translator) redirect(p, pl string, rd *routev3.RedirectAction, out *config.Route) {
	t.only(p, rd, "https_redirect", "scheme_redirect", "host_redirect", "port_redirect", "path_redirect",
		"prefix_rewrite", "response_code", "strip_query")
	t.m(pl+".redirect", p)
	r := &config.Redirect{
		HTTPSRedirect:  rd.GetHttpsRedirect(),
		SchemeRedirect: rd.GetSchemeRedirect(),
		HostRedirect:   rd.GetHostRedirect(),
		PortRedirect:   int(rd.GetPortRedirect()),
		PathRedirect:   rd.GetPathRedirect(),
		PrefixRewrite:  rd.GetPrefixRewrite(),
		StripQuery:     rd.GetStripQuery(),
	}
	switch rd.GetResponseCode() {
	case routev3.RedirectAction_MOVED_PERMANENTLY:
		r.ResponseCode = 301
	case routev3.RedirectAction_FOUND:
		r.ResponseCode = 302
	case routev3.RedirectAction_SEE_OTHER:
		r.ResponseCode = 303
	case routev3.RedirectAction_TEMPORARY_REDIRECT:
		r.ResponseCode = 307
	case routev3.RedirectAction_PERMANENT_REDIRECT:
		r.ResponseCode = 308
	}
	out.Redirect = r
}

func (t *translator) directResponse(p, pl string, d *routev3.DirectResponseAction, out *config.Route, bodyLimit int) {
	t.only(p, d, "status", "body")
	t.m(pl+".direct_response", p)
	dr := &config.DirectResponse{Status: int(d.GetStatus())}
	if b := d.GetBody(); b != nil {
		bp := p + ".body"
		t.only(bp, b, "inline_string", "inline_bytes", "filename")
		switch {
		case b.GetFilename() != "":
			data, err := os.ReadFile(b.GetFilename())
			if err != nil {
				t.fail(bp+".filename", "cannot read: %v", err)
			}
			dr.Body = string(data)
		case b.GetInlineBytes() != nil:
			dr.Body = string(b.GetInlineBytes())
		default:
			dr.Body = b.GetInlineString()
		}
		if len(dr.Body) > bodyLimit {
			t.fail(bp, "response body size is %d bytes; maximum is %d", len(dr.Body), bodyLimit)
		}
	}
	out.DirectResponse = dr
}

// applyHash puts the routes' hash_policy on their clusters: Pylon keeps it per cluster.
func (t *translator) applyHash(cfg *config.Config) {
	for i := range cfg.Clusters {
		cl := &cfg.Clusters[i]
		uses := t.hashUses[cl.Name]
		if (cl.LB != "ring_hash" && cl.LB != "maglev") || len(uses) == 0 {
			continue // Envoy uses hash_policy only for RING_HASH and MAGLEV
		}
		first := uses[0]
		for _, u := range uses[1:] {
			if !reflect.DeepEqual(u.policy, first.policy) {
				t.fail(join(u.path, "hash_policy"), "the routes to cluster %q have different hash_policy (see %s): Pylon sets hash_policy on the cluster, so every route to it must agree", cl.Name, first.path)
				break
			}
		}
		cl.HashPolicy = first.policy
		t.m(fmt.Sprintf("clusters[%d].hash_policy", i), join(first.path, "hash_policy"))
	}
}

// ---- clusters ----

func (t *translator) cluster(p, pl string, cl *clusterv3.Cluster) config.Cluster {
	t.only(p, cl, "name", "type", "connect_timeout", "lb_policy", "load_assignment", "dns_refresh_rate",
		"ring_hash_lb_config", "transport_socket", "typed_extension_protocol_options", "http2_protocol_options", "circuit_breakers",
		"health_checks", "outlier_detection", "common_lb_config")
	t.m(pl, p)
	out := config.Cluster{Name: cl.GetName()}
	t.m(pl+".name", p+".name")
	switch cl.GetType() {
	case clusterv3.Cluster_STATIC:
		out.Type = "static"
	case clusterv3.Cluster_STRICT_DNS, clusterv3.Cluster_LOGICAL_DNS:
		// LOGICAL_DNS connects to the first address only; Pylon's dns uses every address.
		out.Type = "dns"
	default:
		t.fail(p+".type", "only STATIC, STRICT_DNS and LOGICAL_DNS are supported")
	}
	t.m(pl+".type", p+".type")
	if cl.GetConnectTimeout() != nil {
		out.ConnectTimeout = dur(cl.GetConnectTimeout())
		t.m(pl+".connect_timeout", p+".connect_timeout")
	}
	if cl.GetDnsRefreshRate() != nil {
		out.DNSRefreshRate = dur(cl.GetDnsRefreshRate())
		t.m(pl+".dns_refresh_rate", p+".dns_refresh_rate")
	}
	switch cl.GetLbPolicy() {
	case clusterv3.Cluster_ROUND_ROBIN:
		out.LB = "round_robin"
	case clusterv3.Cluster_LEAST_REQUEST:
		out.LB = "least_request"
	case clusterv3.Cluster_RANDOM:
		out.LB = "random"
	case clusterv3.Cluster_RING_HASH:
		out.LB = "ring_hash"
	case clusterv3.Cluster_MAGLEV:
		out.LB = "maglev"
	default:
		t.fail(p+".lb_policy", "only ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH and MAGLEV are supported")
	}
	t.m(pl+".lb", p+".lb_policy")
	if rh := cl.GetRingHashLbConfig(); rh != nil && out.LB == "ring_hash" {
		rp := p + ".ring_hash_lb_config"
		t.only(rp, rh, "minimum_ring_size", "maximum_ring_size")
		out.RingHash = &config.RingHash{
			MinimumRingSize: int(rh.GetMinimumRingSize().GetValue()),
			MaximumRingSize: int(rh.GetMaximumRingSize().GetValue()),
		}
		t.m(pl+".ring_hash", rp)
	}
	if la := cl.GetLoadAssignment(); la != nil {
		lp := p + ".load_assignment"
		t.only(lp, la, "cluster_name", "endpoints")
		for i, le := range la.GetEndpoints() {
			ep := fmt.Sprintf("%s.endpoints[%d]", lp, i)
			t.only(ep, le, "lb_endpoints")
			for j, lbe := range le.GetLbEndpoints() {
				bp := fmt.Sprintf("%s.lb_endpoints[%d]", ep, j)
				t.only(bp, lbe, "endpoint", "load_balancing_weight")
				e := lbe.GetEndpoint()
				t.only(bp+".endpoint", e, "address")
				t.m(fmt.Sprintf("%s.endpoints[%d]", pl, len(out.Endpoints)), bp)
				out.Endpoints = append(out.Endpoints, config.Endpoint{
					Address: t.address(bp+".endpoint.address", e.GetAddress()),
					Weight:  lbe.GetLoadBalancingWeight().GetValue(),
				})
			}
		}
		t.m(pl+".endpoints", lp)
	}
	if cl.GetType() == clusterv3.Cluster_LOGICAL_DNS && len(out.Endpoints) != 1 {
		t.fail(p+".load_assignment", "LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint")
	}
	if ts := cl.GetTransportSocket(); ts != nil {
		out.TLS = t.upstreamTLS(p+".transport_socket", ts)
		t.m(pl+".tls", p+".transport_socket")
	}
	if o := cl.GetHttp2ProtocolOptions(); o != nil {
		t.only(p+".http2_protocol_options", o)
		out.HTTP2 = true
		t.m(pl+".http2", p+".http2_protocol_options")
	}
	for _, key := range sortedKeys(cl.GetTypedExtensionProtocolOptions()) {
		kp := p + ".typed_extension_protocol_options." + key
		if key != httpProtocolOptionsKey {
			t.fail(kp, "only %s is supported", httpProtocolOptionsKey)
			continue
		}
		o, ok := t.unpack(kp, cl.GetTypedExtensionProtocolOptions()[key]).(*httpv3.HttpProtocolOptions)
		if !ok {
			continue
		}
		t.only(kp, o, "explicit_http_config", "common_http_protocol_options")
		if x := o.GetExplicitHttpConfig(); x != nil {
			xp := kp + ".explicit_http_config"
			t.only(xp, x, "http_protocol_options", "http2_protocol_options")
			if h2 := x.GetHttp2ProtocolOptions(); h2 != nil {
				t.only(xp+".http2_protocol_options", h2)
				out.HTTP2 = true
				t.m(pl+".http2", xp)
			}
			if h1 := x.GetHttpProtocolOptions(); h1 != nil {
				t.only(xp+".http_protocol_options", h1)
			}
		} else {
			t.fail(kp, "explicit_http_config is required (auto_config and use_downstream_protocol_config are not supported)")
		}
		if c := o.GetCommonHttpProtocolOptions(); c != nil {
			cp := kp + ".common_http_protocol_options"
			t.only(cp, c, "idle_timeout")
			if c.GetIdleTimeout() != nil {
				out.IdleTimeout = dur(c.GetIdleTimeout())
				t.m(pl+".idle_timeout", cp+".idle_timeout")
			}
		}
	}
	if cb := cl.GetCircuitBreakers(); cb != nil {
		cp := p + ".circuit_breakers"
		t.only(cp, cb, "thresholds")
		for i, th := range cb.GetThresholds() {
			tp := fmt.Sprintf("%s.thresholds[%d]", cp, i)
			if i > 0 {
				t.fail(tp, "not supported yet: only one threshold (priority DEFAULT) is supported")
				continue
			}
			t.only(tp, th, "priority", "max_connections", "max_pending_requests", "max_requests", "max_retries")
			if th.GetPriority() != corev3.RoutingPriority_DEFAULT {
				t.fail(tp+".priority", "not supported yet: only the DEFAULT priority has circuit breakers in Pylon")
			}
			cb := &config.CircuitBreakers{}
			for _, f := range []struct {
				name string
				v    interface{ GetValue() uint32 }
				to   *int
			}{
				{"max_connections", th.GetMaxConnections(), &cb.MaxConnections},
				{"max_pending_requests", th.GetMaxPendingRequests(), &cb.MaxPendingRequests},
				{"max_requests", th.GetMaxRequests(), &cb.MaxRequests},
				{"max_retries", th.GetMaxRetries(), &cb.MaxRetries},
			} {
				if reflect.ValueOf(f.v).IsNil() {
					continue
				}
				if f.v.GetValue() == 0 {
					t.fail(tp+"."+f.name, "0 is not supported: Pylon reads 0 as the default (remove the retry policy to disable retries)")
					continue
				}
				*f.to = int(f.v.GetValue())
				t.m(pl+".circuit_breakers."+f.name, tp+"."+f.name)
			}
			out.CircuitBreakers = cb
			t.m(pl+".circuit_breakers", tp)
		}
	}
	t.clusterHealth(p, pl, cl, &out)
	t.clusterType[out.Name] = out.Type
	return out
}

func (t *translator) upstreamTLS(p string, ts *corev3.TransportSocket) *config.UpstreamTLS {
	t.only(p, ts, "name", "typed_config")
	tp := p + ".typed_config"
	u, ok := t.unpack(tp, ts.GetTypedConfig()).(*tlsv3.UpstreamTlsContext)
	if !ok {
		if ts.GetTypedConfig() != nil {
			t.fail(tp, "a cluster's transport socket must be an envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext")
		}
		return nil
	}
	t.only(tp, u, "sni", "common_tls_context")
	out := &config.UpstreamTLS{SNI: u.GetSni()}
	cp := tp + ".common_tls_context"
	ctx := u.GetCommonTlsContext()
	t.only(cp, ctx, "tls_certificates", "validation_context")
	switch certs := ctx.GetTlsCertificates(); len(certs) {
	case 0:
	case 1:
		out.Cert, out.Key = t.certificate(cp+".tls_certificates[0]", certs[0])
	default:
		t.fail(cp+".tls_certificates", "at most one client certificate is supported")
	}
	if vc := ctx.GetValidationContext(); vc != nil {
		vp := cp + ".validation_context"
		t.only(vp, vc, "trusted_ca")
		if ca := vc.GetTrustedCa(); ca != nil {
			out.CAFile = t.fileName(vp+".trusted_ca", ca)
		}
	}
	// Envoy verifies the upstream's certificate only against a trusted_ca: without one it
	// accepts any certificate, and so must the translation.
	out.InsecureSkipVerify = out.CAFile == ""
	return out
}
