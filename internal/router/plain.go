package router

// The proxy's fast path serves requests from their raw head, without an http.Request: these
// are the questions it asks of the table and of a route.

// MatchPlain is Match for a request known by its host, its path as sent (query included) and
// its method. ok is false when that is not enough to decide: a route of the chosen virtual
// host, up to the one that matches, also looks at headers or the query; then call Match.
func (t *Table) MatchPlain(host, path, method string) (rt *Route, ok bool) {
	vh := t.virtualHost(host)
	if vh == nil {
		return nil, true
	}
	for _, r := range vh.routes {
		if len(r.headers) > 0 || len(r.query) > 0 {
			return nil, false
		}
		if r.matchesPlain(path, method) {
			return r, true
		}
	}
	return nil, true
}

func (r *Route) matchesPlain(path, method string) bool {
	if !r.path.match(path) {
		return false
	}
	if len(r.methods) == 0 {
		return true
	}
	for _, want := range r.methods {
		if method == want {
			return true
		}
	}
	return false
}

// Plain reports whether the route forwards requests as they come: to a cluster (or weighted
// clusters) with no retry policy, no mirror, no path or host rewrite and no header mutation,
// its own or its virtual host's.
func (r *Route) Plain() bool {
	if r.Action != ActionCluster && r.Action != ActionWeightedClusters {
		return false
	}
	if r.Retry != nil || len(r.Mirrors) > 0 || r.prefixRewrite != "" || r.regexRewrite != nil {
		return false
	}
	if lit, auto := r.HostRewrite(); lit != "" || auto {
		return false
	}
	if !r.mut.empty() {
		return false
	}
	return r.vh == nil || r.vh.mut.empty()
}

func (m *mutations) empty() bool {
	return len(m.reqAdd) == 0 && len(m.respAdd) == 0 && len(m.reqRemove) == 0 && len(m.respRemove) == 0
}
