package config

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"
)

// validator collects every problem with its path and line.
type validator struct {
	lines    *lineIndex
	issues   []decodeIssue // what the decoder already reported
	errs     Errors
	hasStore bool // the config has a management plane
}

func (v *validator) add(path, format string, args ...any) {
	if v.hidden(path) {
		return
	}
	v.errs = append(v.errs, FieldError{Path: path, Line: v.lines.line(path), Msg: fmt.Sprintf(format, args...)})
}

// hidden reports whether a problem at path is likely a consequence of a decode error,
// which is reported instead: a field that failed to decode (type error) is left empty, so
// checks on it, inside it or on what contains it say nothing new; an unknown field (often
// a misspelt one) leaves its parent without the field it meant to set.
func (v *validator) hidden(path string) bool {
	for _, is := range v.issues {
		if is.kind == unknownField {
			if path == is.subject {
				return true
			}
		} else if is.subject == "" || related(path, is.subject) {
			return true
		}
	}
	return false
}

// undecoded reports whether a type error left the field at path undecoded: the field
// itself or what contains it failed to decode.
func (v *validator) undecoded(path string) bool {
	for _, is := range v.issues {
		if is.kind == typeError && (is.subject == "" || path == is.subject || inside(path, is.subject)) {
			return true
		}
	}
	return false
}

// namesUndecoded reports whether the name of some item of the list at path (clusters,
// filters) failed to decode; references to those names are then not checked. name is
// the field that holds the name of an item, "" when the item itself is the name.
func (v *validator) namesUndecoded(path string, n int, name string) bool {
	if len(v.issues) == 0 {
		return false
	}
	if v.undecoded(path) {
		return true
	}
	for i := range n {
		p := fmt.Sprintf("%s[%d]", path, i)
		if name != "" {
			p += "." + name
		}
		if v.undecoded(p) {
			return true
		}
	}
	return false
}

// related reports whether one of two field paths is, contains or is inside the other.
func related(a, b string) bool { return a == b || inside(a, b) || inside(b, a) }

// inside reports whether path p is strictly inside path anc.
func inside(p, anc string) bool {
	return len(p) > len(anc) && strings.HasPrefix(p, anc) && (p[len(anc)] == '.' || p[len(anc)] == '[')
}

func parentPath(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// validate checks a decoded config and applies its defaults. issues are the decode errors
// already found, whose consequences are not reported again.
func validate(c *Config, lines *lineIndex, issues []decodeIssue) Errors {
	v := &validator{lines: lines, issues: issues, hasStore: c.Store != nil}
	c.lines = lines
	v.explicit(c)
	llmDefaults(c, os.Getenv)
	mgmtDefaults(c)
	applyDefaults(c)
	if c.Admin.Address != "" {
		v.hostPort("admin.address", c.Admin.Address, false)
	}
	if c.DrainTimeout < 0 {
		v.add("drain_timeout", "must not be negative")
	}
	clusters := map[string]bool{}
	for i, cl := range c.Clusters {
		p := fmt.Sprintf("clusters[%d]", i)
		v.cluster(p, &cl)
		if cl.Name != "" {
			if clusters[cl.Name] {
				v.add(p+".name", "duplicate cluster name %q", cl.Name)
			}
			clusters[cl.Name] = true
		}
	}
	if len(c.Listeners) == 0 {
		v.add("listeners", "at least one listener is required")
	}
	fileClusters := map[string]bool{}
	for _, cl := range c.Clusters {
		if cl.Provider == "" {
			fileClusters[cl.Name] = true
		}
	}
	v.llm(c, fileClusters)
	v.mgmt(c)
	if v.namesUndecoded("clusters", len(c.Clusters), "name") {
		clusters = nil // unknown: skip the checks of cluster references
	}
	names, addrs := map[string]bool{}, map[string]string{}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		p := fmt.Sprintf("listeners[%d]", i)
		if l.Name == "" {
			v.add(p+".name", "is required")
		} else if names[l.Name] {
			v.add(p+".name", "duplicate listener name %q", l.Name)
		}
		names[l.Name] = true
		if v.hostPort(p+".address", l.Address, false) && !strings.HasSuffix(l.Address, ":0") {
			if other, ok := addrs[l.Address]; ok {
				v.add(p+".address", "address %s is already used by listener %q", l.Address, other)
			}
			addrs[l.Address] = l.Name
		}
		if c.Admin.Address != "" && l.Address == c.Admin.Address && !strings.HasSuffix(l.Address, ":0") {
			v.add(p+".address", "address %s is already used by the admin listener", l.Address)
		}
		v.listener(p, l, clusters)
	}
	return v.errs
}

// explicit checks fields whose defaults would hide whether the document set them.
func (v *validator) explicit(c *Config) {
	for i := range c.Listeners {
		for j := range c.Listeners[i].VirtualHosts {
			for k := range c.Listeners[i].VirtualHosts[j].Routes {
				m := &c.Listeners[i].VirtualHosts[j].Routes[k].Match
				if m.CaseSensitive != nil && m.Regex != "" && m.Prefix == "" && m.Path == "" && m.PathSeparatedPrefix == "" {
					v.add(fmt.Sprintf("listeners[%d].virtual_hosts[%d].routes[%d].match.case_sensitive", i, j, k),
						"applies to prefix, path and path_separated_prefix only: for regex, use (?i) in the pattern")
				}
			}
		}
	}
}

func (v *validator) listener(p string, l *Listener, clusters map[string]bool) {
	if l.MaxRequestHeadersKB < 1 || l.MaxRequestHeadersKB > 8192 {
		v.add(p+".max_request_headers_kb", "must be between 1 and 8192, got %d", l.MaxRequestHeadersKB)
	}
	if l.IdleTimeout != nil && *l.IdleTimeout < 0 {
		v.add(p+".idle_timeout", "must not be negative")
	}
	if l.RequestTimeout < 0 {
		v.add(p+".request_timeout", "must not be negative")
	}
	if l.InternalAddresses != nil {
		for i, cidr := range *l.InternalAddresses {
			if _, _, err := net.ParseCIDR(cidr); err != nil {
				v.add(fmt.Sprintf("%s.internal_addresses[%d]", p, i), "invalid CIDR range %q: want an address/prefix such as 10.0.0.0/8", cidr)
			}
		}
	}
	if l.TLS != nil {
		tp := p + ".tls"
		if len(l.TLS.Certificates) == 0 {
			v.add(tp+".certificates", "at least one certificate is required")
		}
		for i, c := range l.TLS.Certificates {
			cp := fmt.Sprintf("%s.certificates[%d]", tp, i)
			if c.Cert == "" || c.Key == "" {
				v.add(cp, "both cert and key are required")
				continue
			}
			if err := loadKeyPair(c.Cert, c.Key); err != nil {
				v.add(cp, "cannot load the key pair: %v", err)
			}
		}
		if l.TLS.MinVersion != "1.2" && l.TLS.MinVersion != "1.3" {
			v.add(tp+".min_version", "must be \"1.2\" or \"1.3\", got %q", l.TLS.MinVersion)
		}
	}
	for i, a := range l.AccessLog {
		ap := fmt.Sprintf("%s.access_log[%d]", p, i)
		if a.Path == "" {
			v.add(ap+".path", "is required (stdout, stderr or a file path)")
		}
		if a.Format != "" && len(a.JSON) > 0 {
			v.add(ap, "format and json are mutually exclusive")
		}
	}
	filters := map[string]bool{}
	for i, f := range l.Filters {
		if f.Name == "" {
			v.add(fmt.Sprintf("%s.filters[%d]", p, i), "a filter needs a name")
		}
		filters[f.Name] = true
	}
	lf := &listenerFilters{path: p + ".filters", names: filters, list: l.Filters}
	if v.namesUndecoded(lf.path, len(l.Filters), "") {
		lf.names = nil // unknown: skip the checks of per-route filter config
	}
	if len(l.VirtualHosts) == 0 {
		v.add(p+".virtual_hosts", "at least one virtual host is required")
	}
	domains := map[string]string{}
	for i := range l.VirtualHosts {
		vh := &l.VirtualHosts[i]
		vp := fmt.Sprintf("%s.virtual_hosts[%d]", p, i)
		if len(vh.Domains) == 0 {
			v.add(vp+".domains", "at least one domain is required (\"*\" matches any host)")
		}
		for j, d := range vh.Domains {
			dp := fmt.Sprintf("%s.domains[%d]", vp, j)
			ld := strings.ToLower(d)
			if err := checkDomain(ld); err != "" {
				v.add(dp, "%s", err)
				continue
			}
			if prev, ok := domains[ld]; ok {
				if ld == "*" {
					v.add(dp, "only one virtual host may have the wildcard domain \"*\" (also in %s)", prev)
				} else {
					v.add(dp, "duplicate domain %q (also in %s)", d, prev)
				}
				continue
			}
			domains[ld] = vp
		}
		v.mutations(vp, &vh.HeaderMutations)
		for j := range vh.Routes {
			v.route(fmt.Sprintf("%s.routes[%d]", vp, j), &vh.Routes[j], clusters, lf)
		}
	}
}

// checkDomain accepts "*", an exact host[:port], "*suffix" and "prefix*".
func checkDomain(d string) string {
	if d == "" {
		return "must not be empty"
	}
	if d == "*" {
		return ""
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(d, "*"), "*")
	if strings.HasPrefix(d, "*") && strings.HasSuffix(d, "*") {
		return fmt.Sprintf("invalid domain %q: a wildcard may be a prefix or a suffix, not both", d)
	}
	if strings.Contains(inner, "*") {
		return fmt.Sprintf("invalid domain %q: \"*\" may only lead or end the domain", d)
	}
	return ""
}

// listenerFilters is what a route's per-route filter config is checked against.
type listenerFilters struct {
	path  string // the listener's filters field
	names map[string]bool
	list  []Filter
}

func (lf *listenerFilters) String() string {
	if len(lf.list) == 0 {
		return "the listener has no filters"
	}
	names := make([]string, len(lf.list))
	for i, f := range lf.list {
		names[i] = f.Name
	}
	return "the listener's filters are " + strings.Join(names, ", ")
}

var methodRE = regexp.MustCompile(`^[A-Z]+$`)

// matchablePseudo are the pseudo-headers a header condition can match.
var matchablePseudo = map[string]bool{":authority": true, ":method": true, ":path": true, ":scheme": true}

func (v *validator) route(p string, r *Route, clusters map[string]bool, lf *listenerFilters) {
	m := &r.Match
	mp := p + ".match"
	n := 0
	for _, s := range []string{m.Prefix, m.Path, m.Regex, m.PathSeparatedPrefix} {
		if s != "" {
			n++
		}
	}
	if n == 0 {
		// prefix "" is legal in Envoy but easy to miss: ask for one explicit path condition.
		v.add(mp, "one of prefix, path, regex or path_separated_prefix is required (prefix: / matches every path)")
	}
	if n > 1 {
		v.add(mp, "prefix, path, regex and path_separated_prefix are mutually exclusive")
	}
	if m.Path != "" && !strings.HasPrefix(m.Path, "/") {
		v.add(mp+".path", "must start with \"/\"")
	}
	if m.Regex != "" {
		if _, err := regexp.Compile(m.Regex); err != nil {
			v.add(mp+".regex", "invalid regular expression: %v", err)
		}
	}
	if s := m.PathSeparatedPrefix; s != "" {
		if !strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.ContainsAny(s, "?#") {
			v.add(mp+".path_separated_prefix", "must start with \"/\", not end with \"/\" and not contain \"?\" or \"#\"")
		}
	}
	for i, h := range m.Headers {
		hp := fmt.Sprintf("%s.headers[%d]", mp, i)
		switch {
		case h.Name == "":
			v.add(hp+".name", "is required")
		case strings.HasPrefix(h.Name, ":") && !matchablePseudo[strings.ToLower(h.Name)]:
			v.add(hp+".name", "pseudo-header %q cannot be matched: use :authority, :method, :path or :scheme", h.Name)
		}
		v.stringMatch(hp, &h.StringMatch, h.Present != nil)
	}
	for i, q := range m.Query {
		qp := fmt.Sprintf("%s.query[%d]", mp, i)
		if q.Name == "" {
			v.add(qp+".name", "is required")
		}
		v.stringMatch(qp, &q.StringMatch, q.Present != nil)
	}
	for i, meth := range m.Methods {
		if !methodRE.MatchString(meth) {
			v.add(fmt.Sprintf("%s.methods[%d]", mp, i), "invalid method %q: want an upper-case token such as GET", meth)
		}
	}

	actions := 0
	if r.Cluster != "" {
		actions++
		if clusters != nil && !clusters[r.Cluster] {
			v.add(p+".cluster", "unknown cluster %q", r.Cluster)
		}
	}
	if len(r.WeightedClusters) > 0 {
		actions++
		var total uint64
		for i, wc := range r.WeightedClusters {
			wp := fmt.Sprintf("%s.weighted_clusters[%d]", p, i)
			if clusters != nil && !clusters[wc.Name] {
				v.add(wp+".name", "unknown cluster %q", wc.Name)
			}
			total += uint64(wc.Weight)
		}
		if total == 0 {
			v.add(p+".weighted_clusters", "the weights must not all be zero")
		}
	}
	if d := r.DirectResponse; d != nil {
		actions++
		if d.Status < 200 || d.Status > 599 {
			v.add(p+".direct_response.status", "must be between 200 and 599, got %d", d.Status)
		}
		if len(d.Body) > 64<<10 {
			v.add(p+".direct_response.body", "is %d bytes; the limit is 65536", len(d.Body))
		}
	}
	if rd := r.Redirect; rd != nil {
		actions++
		rp := p + ".redirect"
		switch rd.ResponseCode {
		case 301, 302, 303, 307, 308:
		default:
			v.add(rp+".response_code", "must be 301, 302, 303, 307 or 308, got %d", rd.ResponseCode)
		}
		if rd.HTTPSRedirect && rd.SchemeRedirect != "" {
			v.add(rp, "https_redirect and scheme_redirect are mutually exclusive")
		}
		if rd.PathRedirect != "" && rd.PrefixRewrite != "" {
			v.add(rp, "path_redirect and prefix_rewrite are mutually exclusive")
		}
		if rd.PortRedirect < 0 || rd.PortRedirect > 65535 {
			v.add(rp+".port_redirect", "must be a port number, got %d", rd.PortRedirect)
		}
		if s := rd.SchemeRedirect; s != "" && s != "http" && s != "https" {
			v.add(rp+".scheme_redirect", "must be http or https (lower-case), got %q", s)
		}
		if s := rd.PathRedirect; s != "" && !strings.HasPrefix(s, "/") {
			v.add(rp+".path_redirect", "must start with \"/\", got %q", s)
		}
		if h := rd.HostRedirect; strings.IndexFunc(h, badHostRune) >= 0 {
			v.add(rp+".host_redirect", "must be a host[:port] without \"/\", \"?\", \"#\" or spaces, got %q", h)
		}
	}
	if r.LLM != nil {
		actions++
		if r.LLM.API != "" && !r.LLM.Auth {
			v.add(p+".llm.api", "needs auth: true (subscriptions belong to the applications of API keys)")
		}
		if r.LLM.Auth && !v.hasStore {
			v.add(p+".llm.auth", "needs a management plane: set store (for example store: {dsn: \"sqlite:pylon-data/pylon.db\"})")
		}
	}
	switch {
	case actions == 0:
		v.add(p, "a route needs one action: cluster, weighted_clusters, direct_response, redirect or llm")
	case actions > 1:
		v.add(p, "cluster, weighted_clusters, direct_response, redirect and llm are mutually exclusive")
	}
	forwards := r.Cluster != "" || len(r.WeightedClusters) > 0
	for _, opt := range []struct {
		name string
		set  bool
	}{
		{"prefix_rewrite", r.PrefixRewrite != ""},
		{"regex_rewrite", r.RegexRewrite != nil},
		{"host_rewrite", r.HostRewrite != ""},
		{"auto_host_rewrite", r.AutoHostRewrite},
		{"retry", r.Retry != nil},
		{"mirror", len(r.Mirror) > 0},
	} {
		if opt.set && !forwards {
			v.add(p+"."+opt.name, "applies only to routes that forward to a cluster")
		}
	}
	if r.PrefixRewrite != "" && r.RegexRewrite != nil {
		v.add(p, "prefix_rewrite and regex_rewrite are mutually exclusive")
	}
	if rr := r.RegexRewrite; rr != nil {
		if rr.Pattern == "" {
			v.add(p+".regex_rewrite.pattern", "is required")
		} else if re, err := regexp.Compile(rr.Pattern); err != nil {
			v.add(p+".regex_rewrite.pattern", "invalid regular expression: %v", err)
		} else if msg := checkSubstitution(rr.Substitution, re.NumSubexp()); msg != "" {
			v.add(p+".regex_rewrite.substitution", "%s", msg)
		}
	}
	if r.HostRewrite != "" && r.AutoHostRewrite {
		v.add(p, "host_rewrite and auto_host_rewrite are mutually exclusive")
	}
	if r.Timeout != nil && *r.Timeout < 0 {
		v.add(p+".timeout", "must not be negative")
	}
	if r.IdleTimeout != nil && *r.IdleTimeout < 0 {
		v.add(p+".idle_timeout", "must not be negative")
	}
	if r.Retry != nil {
		v.retry(p+".retry", r.Retry)
	}
	for i, m := range r.Mirror {
		mp := fmt.Sprintf("%s.mirror[%d]", p, i)
		if m.Cluster == "" {
			v.add(mp+".cluster", "is required")
		} else if clusters != nil && !clusters[m.Cluster] {
			v.add(mp+".cluster", "unknown cluster %q", m.Cluster)
		}
		if m.Percent != nil && (*m.Percent < 0 || *m.Percent > 100) {
			v.add(mp+".percent", "must be between 0 and 100, got %g", *m.Percent)
		}
	}
	v.mutations(p, &r.HeaderMutations)
	if len(r.Filters) > 0 && lf.names != nil {
		names := make([]string, 0, len(r.Filters))
		for name := range r.Filters {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if !lf.names[name] {
				v.add(p+".filters."+name, "filter %q is not in the listener's filter chain (%v)", name, lf)
			}
		}
	}
}

// RetryOn are the retry conditions a retry policy may list (Envoy's x-envoy-retry-on values
// that Pylon implements).
var RetryOn = map[string]bool{
	"5xx": true, "gateway-error": true, "reset": true, "connect-failure": true,
	"retriable-4xx": true, "refused-stream": true, "retriable-status-codes": true,
}

func (v *validator) retry(p string, rp *RetryPolicy) {
	if len(rp.On) == 0 {
		v.add(p+".on", "at least one retry condition is required (5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes)")
	}
	codes := false
	for i, on := range rp.On {
		if !RetryOn[on] {
			v.add(fmt.Sprintf("%s.on[%d]", p, i), "unknown retry condition %q: want 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream or retriable-status-codes", on)
		}
		codes = codes || on == "retriable-status-codes"
	}
	if rp.Attempts != nil && *rp.Attempts < 0 {
		v.add(p+".attempts", "must not be negative")
	}
	if rp.PerTryTimeout < 0 {
		v.add(p+".per_try_timeout", "must not be negative")
	}
	for i, c := range rp.RetriableStatusCodes {
		if c < 100 || c > 599 {
			v.add(fmt.Sprintf("%s.retriable_status_codes[%d]", p, i), "must be an HTTP status between 100 and 599, got %d", c)
		}
	}
	if len(rp.RetriableStatusCodes) > 0 && !codes {
		v.add(p+".retriable_status_codes", "is used only with the retriable-status-codes condition in on")
	}
	if b := rp.Backoff; b != nil {
		if b.BaseInterval < 0 {
			v.add(p+".backoff.base_interval", "must not be negative")
		}
		if b.MaxInterval < 0 {
			v.add(p+".backoff.max_interval", "must not be negative")
		} else if b.MaxInterval > 0 && b.MaxInterval < b.BaseInterval {
			v.add(p+".backoff.max_interval", "must not be less than base_interval (%s)", b.BaseInterval.D())
		}
	}
}

// badHostRune reports a rune that cannot be part of a host[:port].
func badHostRune(r rune) bool {
	return r == '/' || r == '?' || r == '#' || r < ' ' || r == 0x7f || unicode.IsSpace(r)
}

// checkSubstitution checks an Envoy (RE2) rewrite string, where \0-\9 refer to the groups of
// a pattern with groups groups and \\ is a backslash. It returns a message, "" when valid.
func checkSubstitution(s string, groups int) string {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		if i+1 == len(s) {
			return fmt.Sprintf("a trailing \\ ends %q: write \\\\ for a backslash", s)
		}
		i++
		switch d := s[i]; {
		case d >= '0' && d <= '9':
			if int(d-'0') > groups {
				return fmt.Sprintf("back reference \\%c refers to a group the pattern does not have (it has %d)", d, groups)
			}
		case d == '\\':
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return fmt.Sprintf("invalid escape \\%c in %q: use \\0-\\9 for groups and \\\\ for a backslash", r, s)
		}
	}
	return ""
}

func (v *validator) stringMatch(p string, s *StringMatch, present bool) {
	n := 0
	if s.Exact != nil {
		n++
	}
	for _, x := range []string{s.Prefix, s.Suffix, s.Contains, s.Regex} {
		if x != "" {
			n++
		}
	}
	if present {
		n++
	}
	if n > 1 {
		v.add(p, "exact, prefix, suffix, contains, regex and present are mutually exclusive")
	}
	if s.Regex != "" {
		if _, err := regexp.Compile(s.Regex); err != nil {
			v.add(p+".regex", "invalid regular expression: %v", err)
		}
		if s.IgnoreCase {
			v.add(p+".ignore_case", "does not apply to regex: use (?i) in the pattern")
		}
	}
}

func (v *validator) mutations(p string, m *HeaderMutations) {
	check := func(field string, i int, name string, request bool) {
		fp := fmt.Sprintf("%s.%s[%d]", p, field, i)
		lname := strings.ToLower(name)
		switch {
		case name == "":
			v.add(fp, "a header name is required")
		case strings.HasPrefix(name, ":"):
			v.add(fp, "pseudo-header %q cannot be changed", name)
		case !httpguts.ValidHeaderFieldName(name):
			v.add(fp, "invalid header name %q", name)
		case request && lname == "host":
			v.add(fp, "the host header cannot be changed here: use host_rewrite")
		}
	}
	value := func(field string, i int, val, remove string) {
		vp := fmt.Sprintf("%s.%s[%d].value", p, field, i)
		switch {
		case val == "":
			v.add(vp, "an empty value adds nothing; remove the entry or use %s", remove)
		case !httpguts.ValidHeaderFieldValue(val):
			v.add(vp, "invalid header value: control characters other than tab are not allowed")
		}
	}
	for i, h := range m.RequestHeadersToAdd {
		check("request_headers_to_add", i, h.Name, true)
		value("request_headers_to_add", i, h.Value, "request_headers_to_remove")
	}
	for i, h := range m.RequestHeadersToRemove {
		check("request_headers_to_remove", i, h, true)
	}
	for i, h := range m.ResponseHeadersToAdd {
		check("response_headers_to_add", i, h.Name, false)
		value("response_headers_to_add", i, h.Value, "response_headers_to_remove")
	}
	for i, h := range m.ResponseHeadersToRemove {
		check("response_headers_to_remove", i, h, false)
	}
}

var lbPolicies = map[string]bool{"round_robin": true, "least_request": true, "random": true, "ring_hash": true, "maglev": true}

func (v *validator) cluster(p string, c *Cluster) {
	if c.Name == "" {
		v.add(p+".name", "is required")
	}
	switch c.Type {
	case "static", "dns":
	default:
		v.add(p+".type", "must be static or dns, got %q", c.Type)
	}
	for i, e := range c.Endpoints {
		ep := fmt.Sprintf("%s.endpoints[%d]", p, i)
		if !v.hostPort(ep, e.Address, true) {
			continue
		}
		host, _, _ := net.SplitHostPort(e.Address)
		if c.Type == "static" && net.ParseIP(host) == nil {
			v.add(ep, "%q is not an IP address: a static cluster needs IP endpoints (set type: dns to resolve names)", e.Address)
		}
	}
	if !lbPolicies[c.LB] {
		v.add(p+".lb", "must be one of round_robin, least_request, random, ring_hash, maglev; got %q", c.LB)
	}
	if len(c.HashPolicy) > 0 && c.LB != "ring_hash" && c.LB != "maglev" {
		v.add(p+".hash_policy", "is used only by lb ring_hash or maglev")
	}
	for i, h := range c.HashPolicy {
		n := 0
		if h.Header != "" {
			n++
		}
		if h.Cookie != "" {
			n++
		}
		if h.SourceIP {
			n++
		}
		if n != 1 {
			v.add(fmt.Sprintf("%s.hash_policy[%d]", p, i), "exactly one of header, cookie or source_ip is required")
		}
	}
	if rh := c.RingHash; rh != nil {
		if c.LB != "ring_hash" {
			v.add(p+".ring_hash", "is used only by lb ring_hash")
		}
		if rh.MinimumRingSize < 0 || rh.MaximumRingSize < 0 || (rh.MaximumRingSize > 0 && rh.MinimumRingSize > rh.MaximumRingSize) {
			v.add(p+".ring_hash", "minimum_ring_size must be between 0 and maximum_ring_size")
		}
		if rh.MaximumRingSize > 8<<20 {
			v.add(p+".ring_hash.maximum_ring_size", "must be at most 8388608")
		}
	}
	if c.ConnectTimeout <= 0 {
		v.add(p+".connect_timeout", "must be positive")
	}
	if c.DNSRefreshRate <= 0 {
		v.add(p+".dns_refresh_rate", "must be positive")
	}
	if c.IdleTimeout < 0 {
		v.add(p+".idle_timeout", "must not be negative")
	}
	if c.MaxConnections < 0 {
		v.add(p+".max_connections", "must not be negative")
	}
	if c.MaxIdleConnections < 0 {
		v.add(p+".max_idle_connections", "must not be negative")
	}
	if cb := c.CircuitBreakers; cb != nil {
		for _, f := range []struct {
			name string
			n    int
		}{{"max_connections", cb.MaxConnections}, {"max_pending_requests", cb.MaxPendingRequests}, {"max_requests", cb.MaxRequests}, {"max_retries", cb.MaxRetries}} {
			if f.n < 0 {
				v.add(p+".circuit_breakers."+f.name, "must not be negative")
			}
		}
	}
	if t := c.TLS; t != nil {
		if t.CAFile != "" {
			if err := regularFile(t.CAFile); err != nil {
				v.add(p+".tls.ca_file", "cannot read: %v", err)
			}
		}
		if (t.Cert == "") != (t.Key == "") {
			v.add(p+".tls", "cert and key go together")
		} else if t.Cert != "" {
			if err := loadKeyPair(t.Cert, t.Key); err != nil {
				v.add(p+".tls", "cannot load the client key pair: %v", err)
			}
		}
	}
	v.health(p, c)
}

// health checks a cluster's health_check, outlier_detection and healthy_panic_threshold.
func (v *validator) health(p string, c *Cluster) {
	if t := c.HealthyPanicThreshold; t != nil && (*t < 0 || *t > 100) {
		v.add(p+".healthy_panic_threshold", "must be a percentage between 0 and 100, got %v", *t)
	}
	if hc := c.HealthCheck; hc != nil {
		hp := p + ".health_check"
		if (hc.HTTP == nil) == (hc.TCP == nil) {
			v.add(hp, "exactly one of http or tcp is required")
		}
		if h := hc.HTTP; h != nil {
			if !strings.HasPrefix(h.Path, "/") {
				v.add(hp+".http.path", "must start with \"/\", got %q", h.Path)
			}
			if !httpguts.ValidHostHeader(h.Host) {
				v.add(hp+".http.host", "invalid host %q", h.Host)
			}
			v.statusRanges(hp+".http.expected_statuses", h.ExpectedStatuses)
			v.statusRanges(hp+".http.retriable_statuses", h.RetriableStatuses)
		}
		for _, d := range []struct {
			name string
			d    Duration
		}{{"interval", hc.Interval}, {"timeout", hc.Timeout}, {"no_traffic_interval", hc.NoTrafficInterval}} {
			if d.d <= 0 {
				v.add(hp+"."+d.name, "must be positive")
			}
		}
		if hc.IntervalJitter < 0 {
			v.add(hp+".interval_jitter", "must not be negative")
		}
		if hc.HealthyThreshold < 0 {
			v.add(hp+".healthy_threshold", "must be positive")
		}
		if hc.UnhealthyThreshold < 0 {
			v.add(hp+".unhealthy_threshold", "must be positive")
		}
	}
	od := c.OutlierDetection
	if od == nil {
		return
	}
	op := p + ".outlier_detection"
	for _, d := range []struct {
		name string
		d    Duration
	}{{"interval", od.Interval}, {"base_ejection_time", od.BaseEjectionTime}, {"max_ejection_time", od.MaxEjectionTime}} {
		if d.d <= 0 {
			v.add(op+"."+d.name, "must be positive")
		}
	}
	if od.MaxEjectionTimeJitter < 0 {
		v.add(op+".max_ejection_time_jitter", "must not be negative")
	}
	if od.MaxEjectionTime > 0 && od.MaxEjectionTime < od.BaseEjectionTime {
		v.add(op+".max_ejection_time", "must not be shorter than base_ejection_time (%v)", od.BaseEjectionTime.D())
	}
	counts := []struct {
		name string
		n    *int
	}{
		{"consecutive_5xx", od.Consecutive5xx}, {"consecutive_gateway_failure", od.ConsecutiveGatewayFailure},
		{"success_rate_minimum_hosts", od.SuccessRateMinimumHosts}, {"success_rate_request_volume", od.SuccessRateRequestVolume},
		{"failure_percentage_minimum_hosts", od.FailurePercentageMinimumHosts}, {"failure_percentage_request_volume", od.FailurePercentageRequestVolume},
	}
	for _, f := range counts {
		if f.n != nil && *f.n < 0 {
			v.add(op+"."+f.name, "must not be negative")
		}
	}
	percents := []struct {
		name string
		n    *int
	}{
		{"max_ejection_percent", od.MaxEjectionPercent}, {"failure_percentage_threshold", od.FailurePercentageThreshold},
		{"enforcing_consecutive_5xx", od.EnforcingConsecutive5xx}, {"enforcing_consecutive_gateway_failure", &od.EnforcingConsecutiveGatewayFailure},
		{"enforcing_success_rate", od.EnforcingSuccessRate}, {"enforcing_failure_percentage", &od.EnforcingFailurePercentage},
	}
	for _, f := range percents {
		if f.n != nil && (*f.n < 0 || *f.n > 100) {
			v.add(op+"."+f.name, "must be a percentage between 0 and 100, got %d", *f.n)
		}
	}
	if f := od.SuccessRateStdevFactor; f != nil {
		switch {
		case *f < 0:
			v.add(op+".success_rate_stdev_factor", "must not be negative")
		case *f >= 100:
			// Envoy writes the factor times 1000 (1900 for 1.9): a copied value lands here.
			v.add(op+".success_rate_stdev_factor", "%v standard deviations ejects nothing: the factor is a plain number here (Envoy's 1900 is 1.9)", *f)
		}
	}
}

// statusRanges checks a list of HTTP status ranges.
func (v *validator) statusRanges(p string, rs []StatusRange) {
	for i, r := range rs {
		switch {
		case r.Min < 100 || r.Max > 599:
			v.add(fmt.Sprintf("%s[%d]", p, i), "statuses must be between 100 and 599")
		case r.Min > r.Max:
			v.add(fmt.Sprintf("%s[%d]", p, i), "the range %d-%d is empty", r.Min, r.Max)
		}
	}
}

// loadKeyPair checks that a PEM certificate and key load. It reads regular files only, so
// that a path such as /dev/stdin cannot block validation.
func loadKeyPair(cert, key string) error {
	for _, f := range []string{cert, key} {
		if err := regularFile(f); err != nil {
			return err
		}
	}
	_, err := tls.LoadX509KeyPair(cert, key)
	return err
}

func regularFile(name string) error {
	fi, err := os.Stat(name)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", name)
	}
	return nil
}

// hostPort checks a host:port address and reports whether it is well formed.
func (v *validator) hostPort(p, addr string, needHost bool) bool {
	if addr == "" {
		v.add(p, "an address host:port is required")
		return false
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(p, "invalid address %q: want host:port", addr)
		return false
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (needHost && n == 0) {
		v.add(p, "invalid port in %q", addr)
		return false
	}
	if needHost && host == "" {
		v.add(p, "a host is required in %q", addr)
		return false
	}
	return true
}

// Line returns the line of a field path in the source document (0 if unknown); compile steps
// outside this package use it to name lines in their errors.
func (c *Config) Line(path string) int {
	if c.lines == nil {
		return 0
	}
	return c.lines.line(path)
}
