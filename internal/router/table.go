package router

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/pylon-gateway/pylon/internal/config"
)

// Table is the compiled route table of one listener. Immutable and safe for concurrent use.
type Table struct {
	ignorePort bool
	exact      map[string]*virtualHost
	suffixes   []wildcardGroup // by suffix length, longest first
	prefixes   []wildcardGroup // by prefix length, longest first
	catchAll   *virtualHost    // the "*" virtual host, if any
	routes     []*Route        // every route, in config order
}

// wildcardGroup holds the wildcard domains of one length, without their "*".
type wildcardGroup struct {
	n int
	m map[string]*virtualHost
}

// virtualHost is a compiled config.VirtualHost.
type virtualHost struct {
	name   string
	routes []*Route
	mut    mutations
}

// Routes returns every compiled route in config order (for building per-route state).
func (t *Table) Routes() []*Route { return t.routes }

// New compiles l.VirtualHosts. Errors are config.Errors whose paths start with listenerPath
// ("listeners[0]") and carry the line of the field in cfg when it is known; cfg may be nil.
func New(cfg *config.Config, listenerPath string, l *config.Listener) (*Table, error) {
	c := &compiler{cfg: cfg}
	t := &Table{ignorePort: l.IgnorePortInHostMatching, exact: map[string]*virtualHost{}}
	suffixes := map[int]map[string]*virtualHost{}
	prefixes := map[int]map[string]*virtualHost{}
	seen := map[string]string{}
	for i := range l.VirtualHosts {
		src := &l.VirtualHosts[i]
		vp := fmt.Sprintf("%s.virtual_hosts[%d]", listenerPath, i)
		vh := &virtualHost{name: src.Name, mut: compileMutations(&src.HeaderMutations)}
		if vh.name == "" && len(src.Domains) > 0 {
			vh.name = src.Domains[0]
		}
		for j, d := range src.Domains {
			dp := fmt.Sprintf("%s.domains[%d]", vp, j)
			d = toLowerASCII(d)
			if msg := checkDomain(d); msg != "" {
				c.add(dp, "%s", msg)
				continue
			}
			if prev, ok := seen[d]; ok {
				c.add(dp, "duplicate domain %q (also in %s)", d, prev)
				continue
			}
			seen[d] = vp
			switch {
			case d == "*":
				t.catchAll = vh
			case d[0] == '*':
				addWildcard(suffixes, d[1:], vh)
			case d[len(d)-1] == '*':
				addWildcard(prefixes, d[:len(d)-1], vh)
			default:
				t.exact[d] = vh
			}
		}
		for j := range src.Routes {
			if r := c.route(fmt.Sprintf("%s.routes[%d]", vp, j), &src.Routes[j], vh); r != nil {
				vh.routes = append(vh.routes, r)
				t.routes = append(t.routes, r)
			}
		}
	}
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	t.suffixes = sortGroups(suffixes)
	t.prefixes = sortGroups(prefixes)
	return t, nil
}

func addWildcard(groups map[int]map[string]*virtualHost, key string, vh *virtualHost) {
	g := groups[len(key)]
	if g == nil {
		g = map[string]*virtualHost{}
		groups[len(key)] = g
	}
	g[key] = vh
}

func sortGroups(groups map[int]map[string]*virtualHost) []wildcardGroup {
	out := make([]wildcardGroup, 0, len(groups))
	for n, m := range groups {
		out = append(out, wildcardGroup{n: n, m: m})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n > out[j].n })
	return out
}

// checkDomain accepts "*", an exact host[:port], "*suffix" and "prefix*" (as config does: a
// Table may be built from a config that was not loaded through config.Load).
func checkDomain(d string) string {
	switch {
	case d == "":
		return "must not be empty"
	case d == "*":
		return ""
	case len(d) == 1 || strings.Contains(d[1:len(d)-1], "*") || (d[0] == '*' && d[len(d)-1] == '*'):
		return fmt.Sprintf("invalid domain %q: \"*\" may only lead or end the domain", d)
	}
	return ""
}

// Match finds the virtual host for the request host (port included unless the listener
// ignores it) and the first of its routes that matches. A nil Route means no route (404).
func (t *Table) Match(r *http.Request) *Route {
	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	vh := t.virtualHost(host)
	if vh == nil || len(vh.routes) == 0 {
		return nil
	}
	path := requestPath(r)
	for _, rt := range vh.routes {
		if rt.matches(r, host, path) {
			return rt
		}
	}
	return nil
}

// VirtualHost returns the name of the virtual host chosen for host, and whether there is one.
func (t *Table) VirtualHost(host string) (string, bool) {
	vh := t.virtualHost(host)
	if vh == nil {
		return "", false
	}
	return vh.name, true
}

// maxStackHost bounds the hosts lower-cased on the stack; longer ones are lower-cased on the heap.
const maxStackHost = 256

func (t *Table) virtualHost(host string) *virtualHost {
	if len(t.exact) == 0 && len(t.suffixes) == 0 && len(t.prefixes) == 0 {
		return t.catchAll // only "*" (or nothing): the host does not matter
	}
	if t.ignorePort {
		host = stripPort(host)
	}
	if !hasUpper(host) {
		return lookup(t, host)
	}
	if len(host) > maxStackHost {
		return lookup(t, toLowerASCII(host))
	}
	var buf [maxStackHost]byte
	b := buf[:len(host)]
	for i := 0; i < len(host); i++ {
		b[i] = lowerASCII(host[i])
	}
	return lookup(t, b)
}

// lookup is generic so that a lower-cased []byte host is looked up without a copy
// (m[string(b)] does not allocate).
func lookup[S string | []byte](t *Table, host S) *virtualHost {
	if vh, ok := t.exact[string(host)]; ok {
		return vh
	}
	n := len(host)
	for _, g := range t.suffixes {
		if n > g.n {
			if vh, ok := g.m[string(host[n-g.n:])]; ok {
				return vh
			}
		}
	}
	for _, g := range t.prefixes {
		if n > g.n {
			if vh, ok := g.m[string(host[:g.n])]; ok {
				return vh
			}
		}
	}
	return t.catchAll
}

// stripPort removes the :port of host as Envoy's getPortStart does (whatever follows the last
// ":" outside IPv6 brackets: "[::1]:80" -> "[::1]"). An unbracketed IPv6 address, which is not
// a valid host header anyway, is left alone rather than cut.
func stripPort(host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 {
		return host
	}
	if host[0] == '[' {
		if host[i-1] != ']' {
			return host
		}
	} else if strings.IndexByte(host, ':') != i {
		return host
	}
	return host[:i]
}

// requestPath returns the request-target as sent: r.RequestURI in origin form (absolute form
// is cut to its path), else the escaped URL path plus the raw query.
func requestPath(r *http.Request) string {
	if u := r.RequestURI; u != "" {
		if u[0] == '/' || u == "*" {
			return u
		}
		if i := strings.Index(u, "://"); i > 0 {
			rest := u[i+3:]
			if j := strings.IndexAny(rest, "/?"); j >= 0 {
				if rest[j] == '?' {
					return "/" + rest[j:]
				}
				return rest[j:]
			}
			return "/"
		}
	}
	if r.URL == nil {
		return "/"
	}
	p := r.URL.EscapedPath()
	if p == "" {
		p = "/"
	}
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		return p + "?" + r.URL.RawQuery
	}
	return p
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// toLowerASCII lower-cases ASCII letters only, as Envoy's LowerCaseString does.
func toLowerASCII(s string) string {
	if !hasUpper(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerASCII(c)
	}
	return string(b)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
