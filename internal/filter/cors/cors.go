// Package cors is Pylon's cors HTTP filter: Cross-Origin Resource Sharing with Envoy's
// semantics (envoy.filters.http.cors with a CorsPolicy), configured on the listener with
// per-route overrides.
//
//	filters:
//	  - cors:
//	      allow_origins: ["https://app.example.com", "*.example.org"]
//	      allow_methods: [GET, POST, PUT]
//	      allow_headers: [content-type, authorization]
//	      expose_headers: [x-request-id]
//	      max_age: 10m
//	      allow_credentials: true
//
// Only requests with a non-empty Origin header are CORS requests; every other request goes
// through untouched, at the cost of one header lookup.
//
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin
// is answered by Pylon, 200 with no body, and goes no further: access-control-allow-origin
// (the request's origin), -allow-methods, -allow-headers, -max-age, -allow-credentials: true
// when allow_credentials is set, and vary: origin. A preflight from another origin is
// forwarded unchanged (Envoy's forward_not_matching_preflights, default true).
//
// Any other request from an allowed origin is passed on, and its response (whoever answers
// it: upstream, direct response, a later filter's local reply) gets
// access-control-allow-origin, replacing the upstream's, plus -expose-headers and
// -allow-credentials when configured, and "Origin" added to vary. The value of
// access-control-allow-origin is the request's origin, or "*" when allow_origins contains
// "*" and allow_credentials is false (Envoy always echoes the origin). Requests from other
// origins get no CORS headers. Protocol upgrades (WebSocket), which browsers do not subject
// to CORS, are passed through untouched.
//
// Origins:
//
//   - "*" allows any origin.
//   - "https://app.example.com" allows that exact origin (scheme://host[:port], no path;
//     compared ignoring case). "null" is accepted for sandboxed documents.
//   - "*.example.org" allows any strict subdomain of example.org (a.example.org,
//     a.b.example.org; not example.org itself), with whatever scheme and port the origin has.
//   - "https://*.example.org" allows strict subdomains with exactly that scheme, and exactly
//     the port written (none: the origin must have no explicit port).
//   - allow_origin_regex entries (RE2 syntax) must match the whole Origin value.
//
// allow_methods and allow_headers are sent as configured; ["*"] echoes the preflight's
// Access-Control-Request-Method / -Headers, as Envoy does with "*". Without allow_methods no
// access-control-allow-methods is sent, and browsers then allow only GET, HEAD and POST.
// Lists may also be written as one comma-separated string, Envoy's format ("GET, POST").
//
// A route's `filters: {cors: {...}}` replaces the listener's policy for that route (nothing is
// inherited) and must allow some origin; `{disabled: true}` turns CORS off for the route. The
// listener's config may be empty (`cors: {}`), leaving CORS to the routes that set a policy.
// Requests that match no route get no CORS handling, as in Envoy. Put cors first in the
// chain so that preflights are answered before authentication and so that other filters'
// local replies (401, 429...) carry the CORS headers.
//
// Not supported: Envoy's filter_enabled / shadow_enabled fractions (a configured policy is
// always enforced) and allow_private_network_access.
package cors

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/filter"
	"github.com/pylon-gateway/pylon/internal/stream"
)

// Name is the filter's name in the config.
const Name = "cors"

func init() { filter.Register(Name, Factory{}) }

// example is shown when the config is not a mapping.
const example = `{allow_origins: ["https://app.example.com"]}`

// Factory builds cors filters.
type Factory struct{}

// New builds the listener-level policy.
func (Factory) New(cfg yaml.Node) (filter.Filter, error) { return build(cfg, false) }

// PerRoute builds a route's policy, which replaces the listener's.
func (Factory) PerRoute(_ filter.Filter, cfg yaml.Node) (filter.Filter, error) {
	return build(cfg, true)
}

// settings is the YAML config.
type settings struct {
	Origins         []string
	Regexes         []string
	Methods         []string
	Headers         []string
	Expose          []string
	MaxAge          *config.Duration
	Credentials     *bool
	ForwardNotMatch *bool
	Disabled        bool
}

func build(cfg yaml.Node, perRoute bool) (filter.Filter, error) {
	var s settings
	list := func(field string, dst *[]string, commaSeparated bool) func(yaml.Node) error {
		return func(n yaml.Node) error {
			if commaSeparated && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
				// Envoy's spelling: one string, "GET, POST".
				*dst = splitComma(n.Value)
				return nil
			}
			if n.Kind == yaml.SequenceNode {
				*dst = make([]string, len(n.Content))
			}
			return filter.DecodeList(field, n, func(i int, item yaml.Node) error {
				if item.Kind != yaml.ScalarNode {
					return fmt.Errorf("want a string, got %s", filter.KindOf(item))
				}
				return filter.Strict(item, &(*dst)[i])
			})
		}
	}
	err := filter.DecodeFields(cfg, example, map[string]func(yaml.Node) error{
		"allow_origins":                   list("allow_origins", &s.Origins, false),
		"allow_origin_regex":              list("allow_origin_regex", &s.Regexes, false),
		"allow_methods":                   list("allow_methods", &s.Methods, true),
		"allow_headers":                   list("allow_headers", &s.Headers, true),
		"expose_headers":                  list("expose_headers", &s.Expose, true),
		"max_age":                         func(n yaml.Node) error { return filter.Strict(n, &s.MaxAge) },
		"allow_credentials":               func(n yaml.Node) error { return filter.Strict(n, &s.Credentials) },
		"forward_not_matching_preflights": func(n yaml.Node) error { return filter.Strict(n, &s.ForwardNotMatch) },
		"disabled":                        func(n yaml.Node) error { return filter.Strict(n, &s.Disabled) },
	})
	if err != nil {
		return nil, err
	}
	return compile(&s, perRoute)
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

// compile validates the settings and builds the policy; every error names its field.
func compile(s *settings, perRoute bool) (filter.Filter, error) {
	var errs []string
	add := func(field, format string, args ...any) {
		errs = append(errs, field+": "+fmt.Sprintf(format, args...))
	}
	p := &policy{forwardNotMatching: s.ForwardNotMatch == nil || *s.ForwardNotMatch}
	if s.Disabled && !perRoute {
		add("disabled", "only applies to a route's filters (remove the filter from the listener instead)")
	}

	for i, o := range s.Origins {
		if err := p.addOrigin(o); err != nil {
			add(fmt.Sprintf("allow_origins[%d]", i), "%v", err)
		}
	}
	for i, re := range s.Regexes {
		if re == "" {
			add(fmt.Sprintf("allow_origin_regex[%d]", i), "is empty")
			continue
		}
		rx, err := regexp.Compile(`^(?:` + re + `)$`)
		if err != nil {
			add(fmt.Sprintf("allow_origin_regex[%d]", i), "invalid regular expression %q: %v", re, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
			continue
		}
		p.regexes = append(p.regexes, rx)
	}
	hasOrigins := len(s.Origins) > 0 || len(s.Regexes) > 0
	if !hasOrigins {
		if perRoute {
			add("allow_origins", "is required: a route's cors policy replaces the listener's and must allow some origin (allow_origins or allow_origin_regex); use {disabled: true} to turn CORS off for the route")
		} else {
			for _, f := range []struct {
				field string
				set   bool
			}{
				{"allow_methods", s.Methods != nil}, {"allow_headers", s.Headers != nil}, {"expose_headers", s.Expose != nil},
				{"max_age", s.MaxAge != nil}, {"allow_credentials", s.Credentials != nil}, {"forward_not_matching_preflights", s.ForwardNotMatch != nil},
			} {
				if f.set {
					add(f.field, "has no effect without allow_origins or allow_origin_regex at this level (a route's cors policy replaces the listener's): allow some origin here, or move %s to the routes", f.field)
				}
			}
		}
	}
	p.active = hasOrigins
	p.credentials = s.Credentials != nil && *s.Credentials

	var echo bool
	p.allowMethods, echo = tokenList("allow_methods", s.Methods, true, add)
	p.echoMethods = echo
	p.allowHeaders, echo = tokenList("allow_headers", s.Headers, true, add)
	p.echoHeaders = echo
	p.expose, _ = tokenList("expose_headers", s.Expose, false, add)
	if p.credentials && p.expose != nil && hasStar(s.Expose) {
		add("expose_headers", `"*" is not a wildcard for requests with credentials (allow_credentials: true): list the headers`)
	}
	if s.MaxAge != nil {
		switch d := s.MaxAge.D(); {
		case d < 0:
			add("max_age", "must not be negative, got %v", d)
		case d%time.Second != 0:
			add("max_age", "must be a whole number of seconds, got %v", d)
		default:
			p.maxAge = []string{strconv.FormatInt(int64(d/time.Second), 10)}
		}
	}
	p.star = p.any && !p.credentials
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return p, nil
}

// tokenList validates a list of header names or methods and returns the header value to
// send, or echo when the list is ["*"] and star echoes.
func tokenList(field string, list []string, starEchoes bool, add func(string, string, ...any)) (value []string, echo bool) {
	if list == nil {
		return nil, false
	}
	if len(list) == 0 {
		return nil, false
	}
	for i, v := range list {
		switch {
		case v == "*" && starEchoes && len(list) > 1:
			add(fmt.Sprintf("%s[%d]", field, i), `"*" must be the only entry: it echoes what the preflight asks for`)
		case v == "*":
		case !isToken(v):
			add(fmt.Sprintf("%s[%d]", field, i), "invalid token %q", v)
		}
	}
	if starEchoes && len(list) == 1 && list[0] == "*" {
		return nil, true
	}
	return []string{strings.Join(list, ",")}, false
}

func hasStar(list []string) bool {
	for _, v := range list {
		if v == "*" {
			return true
		}
	}
	return false
}

// isToken reports whether s is an RFC 9110 token (a method or a header name).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return s != ""
}

// policy is the compiled filter.
type policy struct {
	active bool // allows some origin; false: the filter passes everything through

	any       bool                // "*"
	exact     map[string]struct{} // lower-cased origins
	wildcards []wildcard
	regexes   []*regexp.Regexp

	allowMethods, allowHeaders []string // header values, nil: not sent
	echoMethods, echoHeaders   bool     // ["*"]: echo the preflight's request
	expose                     []string
	maxAge                     []string
	credentials                bool
	forwardNotMatching         bool
	star                       bool // answer "*" rather than the origin
}

// wildcard is a "*.host" entry: a strict subdomain of suffix's host.
type wildcard struct {
	scheme string // "" any scheme (and any port)
	suffix string // ".example.org", lower case
	port   string // with scheme: ":8443", or "" for no explicit port
}

func (p *policy) addOrigin(o string) error {
	switch {
	case o == "":
		return errors.New("is empty")
	case o == "*":
		p.any = true
		return nil
	case strings.EqualFold(o, "null"):
		p.addExact("null")
		return nil
	case strings.HasPrefix(o, "*."):
		host := o[1:]
		if strings.ContainsAny(host, ":/") {
			return fmt.Errorf(`%q: "*.host" matches any scheme and port and has no path; to require a scheme or a port write "https://*.host[:port]"`, o)
		}
		if err := checkHost(host[1:], false); err != nil {
			return fmt.Errorf("%q: %v", o, err)
		}
		p.wildcards = append(p.wildcards, wildcard{suffix: strings.ToLower(host)})
		return nil
	}
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok {
		return fmt.Errorf(`%q is not an origin: write scheme://host[:port] ("https://app.example.com"), "*.example.com" for subdomains, or "*"`, o)
	}
	if !isScheme(scheme) {
		return fmt.Errorf("%q: invalid scheme %q", o, scheme)
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		return fmt.Errorf("%q: an origin has no path, query or fragment (remove %q)", o, rest[i:])
	}
	if strings.HasPrefix(rest, "*.") {
		host, port := splitPort(rest[2:])
		if err := checkHost(host, false); err != nil {
			return fmt.Errorf("%q: %v", o, err)
		}
		if err := checkPort(port); err != nil {
			return fmt.Errorf("%q: %v", o, err)
		}
		p.wildcards = append(p.wildcards, wildcard{scheme: strings.ToLower(scheme), suffix: "." + strings.ToLower(host), port: port})
		return nil
	}
	host, port := splitPort(rest)
	if err := checkHost(host, true); err != nil {
		return fmt.Errorf("%q: %v", o, err)
	}
	if err := checkPort(port); err != nil {
		return fmt.Errorf("%q: %v", o, err)
	}
	p.addExact(strings.ToLower(o))
	return nil
}

func (p *policy) addExact(o string) {
	if p.exact == nil {
		p.exact = map[string]struct{}{}
	}
	p.exact[o] = struct{}{}
}

func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !('a' <= c && c <= 'z') && !(i > 0 && (('0' <= s[i] && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.')) {
			return false
		}
	}
	return s != ""
}

// checkHost accepts a DNS name, an IPv4 address or (when literal) a bracketed IPv6 address.
func checkHost(h string, literal bool) error {
	if h == "" {
		return errors.New("the host is missing")
	}
	if literal && h[0] == '[' && h[len(h)-1] == ']' {
		return nil
	}
	if strings.Contains(h, "*") {
		return errors.New(`"*" is only allowed alone or as a leading "*." label`)
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return fmt.Errorf("invalid character %q in host %q", c, h)
		}
	}
	if h[0] == '.' || h[len(h)-1] == '.' || strings.Contains(h, "..") {
		return fmt.Errorf("invalid host %q", h)
	}
	return nil
}

func checkPort(p string) error {
	if p == "" {
		return nil
	}
	n, err := strconv.Atoi(p[1:])
	if err != nil || n < 1 || n > 65535 || p[1] == '+' {
		return fmt.Errorf("invalid port %q", p[1:])
	}
	return nil
}

// splitPort splits "host:port" into "host" and ":port" (IPv6 literals in brackets).
func splitPort(hp string) (host, port string) {
	if strings.HasPrefix(hp, "[") {
		if i := strings.IndexByte(hp, ']'); i >= 0 {
			return hp[:i+1], hp[i+1:]
		}
		return hp, ""
	}
	if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		return hp[:i], hp[i:]
	}
	return hp, ""
}

// allowed reports whether origin (non-empty) is allowed.
func (p *policy) allowed(origin string) bool {
	if p.any {
		return true
	}
	if p.exact != nil {
		if _, ok := p.exact[origin]; ok {
			return true
		}
		if hasUpper(origin) {
			if _, ok := p.exact[strings.ToLower(origin)]; ok {
				return true
			}
		}
	}
	if len(p.wildcards) > 0 {
		if scheme, rest, ok := strings.Cut(origin, "://"); ok && !hasDelimiter(rest) {
			host, port := splitPort(rest)
			for _, w := range p.wildcards {
				if w.matches(scheme, host, port) {
					return true
				}
			}
		}
	}
	for _, rx := range p.regexes {
		if rx.MatchString(origin) {
			return true
		}
	}
	return false
}

func (w *wildcard) matches(scheme, host, port string) bool {
	if w.scheme != "" && (!strings.EqualFold(scheme, w.scheme) || port != w.port) {
		return false
	}
	n := len(host) - len(w.suffix)
	return n > 0 && host[n-1] != '.' && strings.EqualFold(host[n:], w.suffix)
}

// hasDelimiter reports whether s has a character that cannot be in an origin's host[:port].
func hasDelimiter(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '/', '?', '#', '@':
			return true
		}
	}
	return false
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// Canonical header keys.
const (
	hOrigin         = "Origin"
	hRequestMethod  = "Access-Control-Request-Method"
	hRequestHeaders = "Access-Control-Request-Headers"
	hAllowOrigin    = "Access-Control-Allow-Origin"
	hAllowCreds     = "Access-Control-Allow-Credentials"
	hAllowMethods   = "Access-Control-Allow-Methods"
	hAllowHeaders   = "Access-Control-Allow-Headers"
	hMaxAge         = "Access-Control-Max-Age"
	hExpose         = "Access-Control-Expose-Headers"
	hVary           = "Vary"
)

var (
	trueValue  = []string{"true"}
	starValue  = []string{"*"}
	zeroValue  = []string{"0"}
	varyOrigin = []string{hOrigin}
)

// ServeHTTP answers preflights and decorates the responses to allowed origins.
func (p *policy) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	ov := r.Header[hOrigin]
	if !p.active || len(ov) == 0 || ov[0] == "" {
		next.ServeHTTP(w, r)
		return
	}
	origin := ov[0]
	info := stream.From(r.Context())
	if info != nil && info.Route == nil {
		// No route, no policy (Envoy): the router answers 404.
		next.ServeHTTP(w, r)
		return
	}
	ok := p.allowed(origin)
	if r.Method == http.MethodOptions {
		if rm := r.Header[hRequestMethod]; len(rm) > 0 && rm[0] != "" {
			if !ok && p.forwardNotMatching {
				next.ServeHTTP(w, r)
				return
			}
			p.preflight(w, r, info, ok, origin, rm[0])
			return
		}
	}
	if !ok || len(r.Header["Upgrade"]) > 0 {
		next.ServeHTTP(w, r)
		return
	}
	next.ServeHTTP(&writer{ResponseWriter: w, p: p, origin: [1]string{origin}}, r)
}

// preflight answers a preflight request itself (Envoy's cors_response).
func (p *policy) preflight(w http.ResponseWriter, r *http.Request, info *stream.Info, ok bool, origin, method string) {
	h := w.Header()
	if ok {
		h[hAllowOrigin] = []string{origin}
	}
	if p.credentials {
		h[hAllowCreds] = trueValue
	}
	switch {
	case p.echoMethods:
		h[hAllowMethods] = []string{method}
		addVary(h, hRequestMethod)
	case p.allowMethods != nil:
		h[hAllowMethods] = p.allowMethods
	}
	switch {
	case p.echoHeaders:
		if v := r.Header[hRequestHeaders]; len(v) > 0 {
			h[hAllowHeaders] = []string{strings.Join(v, ",")}
		}
		addVary(h, hRequestHeaders)
	case p.allowHeaders != nil:
		h[hAllowHeaders] = p.allowHeaders
	}
	if p.maxAge != nil {
		h[hMaxAge] = p.maxAge
	}
	addVary(h, hOrigin)
	h["Content-Length"] = zeroValue
	if info != nil {
		info.Details = "cors_response"
	}
	w.WriteHeader(http.StatusOK)
}

// addVary adds token to the Vary header unless it (or "*") is already there.
func addVary(h http.Header, token string) {
	old := h[hVary]
	if len(old) == 0 {
		if token == hOrigin {
			h[hVary] = varyOrigin // shared, len == cap: appending to it copies
		} else {
			h[hVary] = []string{token}
		}
		return
	}
	for _, v := range old {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, token) {
				return
			}
		}
	}
	h[hVary] = append(old[:len(old):len(old)], token)
}

// writer adds the CORS response headers when the response starts, after whoever answers has
// set its own, so that Pylon's values replace an upstream's (as Envoy's encodeHeaders does).
type writer struct {
	http.ResponseWriter
	p      *policy
	origin [1]string // the access-control-allow-origin value, in the same allocation
	done   bool
}

func (w *writer) decorate() {
	if w.done {
		return
	}
	w.done = true
	h := w.ResponseWriter.Header()
	if w.p.star {
		h[hAllowOrigin] = starValue
	} else {
		h[hAllowOrigin] = w.origin[:]
	}
	if w.p.credentials {
		h[hAllowCreds] = trueValue
	}
	if w.p.expose != nil {
		h[hExpose] = w.p.expose
	}
	addVary(h, hOrigin)
}

// WriteHeader decorates the final response (not 1xx informational ones).
func (w *writer) WriteHeader(code int) {
	if code >= 200 {
		w.decorate()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(b []byte) (int, error) {
	w.decorate()
	return w.ResponseWriter.Write(b)
}

// Flush keeps streamed responses (server-sent events) flushing through the wrapper.
func (w *writer) Flush() {
	w.decorate()
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the writers underneath.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
