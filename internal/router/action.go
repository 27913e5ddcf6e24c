package router

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/pylon-gateway/pylon/internal/config"
	"go.yaml.in/yaml/v3"
)

// PickCluster returns the cluster for this request: Cluster, or for weighted clusters the
// one whose cumulative weight range holds rnd modulo the total weight (Envoy takes the
// random value modulo the total too). Callers pass rand.Uint64(); tests pass fixed values.
// A cluster of weight 0 is never picked.
func (r *Route) PickCluster(rnd uint64) string {
	if r.Action != ActionWeightedClusters {
		return r.Cluster
	}
	if r.total == 0 {
		return ""
	}
	rnd %= r.total
	ws := r.weighted
	lo, hi := 0, len(ws)-1
	for lo < hi { // the first cluster whose cumulative weight exceeds rnd
		mid := int(uint(lo+hi) >> 1)
		if ws[mid].cum > rnd {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return ws[lo].name
}

// TotalWeight is the sum of the weights of a weighted_clusters route (0 for other actions).
func (r *Route) TotalWeight() uint64 { return r.total }

// RewritePath returns the upstream path (path?query as on the wire) after prefix_rewrite or
// regex_rewrite, given the request-target the route matched. ok reports whether the route
// rewrites paths at all (Envoy then sets x-envoy-original-path), even when a regex rewrite
// happens to leave this path as it was.
//
// prefix_rewrite replaces what the path condition matched (the prefix, or the whole path for
// path and regex conditions) and keeps the rest, query included. regex_rewrite replaces every
// match in the path without its query and keeps the query.
func (r *Route) RewritePath(pathWithQuery string) (string, bool) {
	switch {
	case r.prefixRewrite != "":
		return r.replacePrefix(pathWithQuery, r.prefixRewrite), true
	case r.regexRewrite != nil:
		p, q := pathWithQuery, ""
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p, q = p[:i], p[i:]
		}
		return r.regexRewrite.ReplaceAllString(p, r.substitution) + q, true
	}
	return pathWithQuery, false
}

func (r *Route) replacePrefix(path, with string) string {
	return with + path[r.path.matchedLen(path):]
}

// HostRewrite returns the literal host rewrite ("" if none) and whether auto_host_rewrite is
// on (the host header becomes the chosen endpoint's host name).
func (r *Route) HostRewrite() (literal string, auto bool) {
	if r.Config == nil {
		return "", false
	}
	return r.Config.HostRewrite, r.Config.AutoHostRewrite
}

type redirect struct {
	scheme       string // "" keeps the request's
	host         string // "" keeps the request's
	port         string // ":8443", or ""
	path         string
	pathHasQuery bool
	prefix       string // prefix_rewrite
	stripQuery   bool
	code         int
}

func compileRedirect(rd *config.Redirect) *redirect {
	c := &redirect{
		scheme:     strings.ToLower(rd.SchemeRedirect),
		host:       rd.HostRedirect,
		path:       rd.PathRedirect,
		prefix:     rd.PrefixRewrite,
		stripQuery: rd.StripQuery,
		code:       rd.ResponseCode,
	}
	if rd.HTTPSRedirect {
		c.scheme = "https"
	}
	if rd.PortRedirect > 0 {
		c.port = ":" + strconv.Itoa(rd.PortRedirect)
		if c.host != "" {
			if i := portStart(c.host); i >= 0 {
				c.host = c.host[:i]
			}
		}
	}
	c.pathHasQuery = strings.Contains(c.path, "?")
	if c.code == 0 {
		c.code = http.StatusMovedPermanently
	}
	return c
}

// Redirect builds the Location of an ActionRedirect route for req, whose downstream
// connection has scheme ("http" or "https"), and returns it with the status code; "" and 0
// for other actions. As Envoy's Http::Utility::newUri: a path_redirect with its own query
// keeps it (and strip_query does not touch it), otherwise the request's query is kept unless
// strip_query; a scheme change drops the request's explicit default port (:80 for http,
// :443 for https); port_redirect replaces the port.
func (r *Route) Redirect(req *http.Request, scheme string) (location string, code int) {
	rd := r.redirect
	if rd == nil {
		return "", 0
	}
	path := requestPath(req)
	if rd.prefix != "" {
		path = r.replacePrefix(path, rd.prefix)
	}
	newScheme := scheme
	if rd.scheme != "" {
		newScheme = rd.scheme
	}
	host := rd.host
	if host == "" {
		host = req.Host
		if host == "" && req.URL != nil {
			host = req.URL.Host
		}
		host = redirectHost(host, newScheme, scheme, rd.port)
	}
	if rd.path != "" {
		if rd.pathHasQuery {
			path = rd.path
		} else if i := strings.IndexByte(path, '?'); i >= 0 {
			path = rd.path + path[i:]
		} else {
			path = rd.path
		}
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if rd.stripQuery && !rd.pathHasQuery {
		path = cutQuery(path)
	}
	return newScheme + "://" + host + rd.port + path, rd.code
}

// redirectHost is Envoy's processRequestHost: the request host without its port when the
// redirect sets a port, or when the scheme changes and the port is the old scheme's default.
func redirectHost(host, newScheme, oldScheme, newPort string) string {
	i := portStart(host)
	if i < 0 {
		return host
	}
	port := host[i:]
	remove := newPort != ""
	if !strings.EqualFold(newScheme, oldScheme) {
		remove = remove ||
			(strings.EqualFold(oldScheme, "https") && port == ":443") ||
			(strings.EqualFold(oldScheme, "http") && port == ":80")
	}
	if remove {
		return host[:i]
	}
	return host
}

// portStart is the index of the ":" of host's port, or -1.
func portStart(host string) int {
	if strings.HasPrefix(host, "[") {
		if i := strings.LastIndex(host, "]:"); i >= 0 {
			return i + 1
		}
		return -1
	}
	return strings.LastIndexByte(host, ':')
}

// DirectResponse returns the status, body and content type of an ActionDirectResponse route.
// The content type is text/plain when the body is not empty and none is configured. The body
// is shared: do not modify it.
func (r *Route) DirectResponse() (status int, body []byte, contentType string) {
	return r.directStatus, r.directBody, r.directType
}

// ApplyRequestHeaders applies the route's, then the virtual host's request header mutations
// to h (Envoy's order, most specific first: a virtual host's append: false can overwrite what
// the route added). At each level removals come before additions.
func (r *Route) ApplyRequestHeaders(h http.Header) {
	apply(h, r.mut.reqRemove, r.mut.reqAdd)
	if r.vh != nil {
		apply(h, r.vh.mut.reqRemove, r.vh.mut.reqAdd)
	}
}

// ApplyResponseHeaders applies the route's, then the virtual host's response header
// mutations to h, as ApplyRequestHeaders.
func (r *Route) ApplyResponseHeaders(h http.Header) {
	apply(h, r.mut.respRemove, r.mut.respAdd)
	if r.vh != nil {
		apply(h, r.vh.mut.respRemove, r.vh.mut.respAdd)
	}
}

// FilterConfig returns the raw per-route config of the filter name and whether the route sets
// one. The node is shared: do not modify it.
func (r *Route) FilterConfig(name string) (yaml.Node, bool) {
	if r.Config == nil {
		return yaml.Node{}, false
	}
	n, ok := r.Config.Filters[name]
	return n, ok
}

type headerAdd struct {
	key    string // canonical
	value  string
	append bool
}

type mutations struct {
	reqAdd, respAdd       []headerAdd
	reqRemove, respRemove []string // canonical keys
}

func compileMutations(m *config.HeaderMutations) mutations {
	adds := func(hs []config.HeaderValue) []headerAdd {
		var out []headerAdd
		for _, h := range hs {
			if h.Value == "" {
				// Envoy drops an empty value unless keep_empty_value, which Pylon does not have.
				continue
			}
			out = append(out, headerAdd{
				key:    textproto.CanonicalMIMEHeaderKey(h.Name),
				value:  h.Value,
				append: h.Append == nil || *h.Append,
			})
		}
		return out
	}
	removes := func(names []string) []string {
		var out []string
		for _, n := range names {
			out = append(out, textproto.CanonicalMIMEHeaderKey(n))
		}
		return out
	}
	return mutations{
		reqAdd:     adds(m.RequestHeadersToAdd),
		respAdd:    adds(m.ResponseHeadersToAdd),
		reqRemove:  removes(m.RequestHeadersToRemove),
		respRemove: removes(m.ResponseHeadersToRemove),
	}
}

func apply(h http.Header, removes []string, adds []headerAdd) {
	for _, k := range removes {
		delete(h, k)
	}
	for _, a := range adds {
		if a.append {
			h[a.key] = append(h[a.key], a.value)
		} else {
			h[a.key] = []string{a.value}
		}
	}
}
