package router

import (
	"net/http"
	"regexp"
	"strings"
)

type pathKind uint8

const (
	pathPrefix    pathKind = iota // prefix of the path with its query
	pathExact                     // the path without its query
	pathRegex                     // the whole path without its query
	pathSeparated                 // prefix followed by end, "/" (the query is cut first)
)

type pathMatcher struct {
	kind  pathKind
	value string
	fold  bool // ASCII case-insensitive (not for regex)
	re    *regexp.Regexp
}

func (m *pathMatcher) match(path string) bool {
	switch m.kind {
	case pathPrefix:
		return hasPrefix(path, m.value, m.fold)
	case pathExact:
		return equal(cutQuery(path), m.value, m.fold)
	case pathRegex:
		return m.re != nil && m.re.MatchString(cutQuery(path))
	case pathSeparated:
		p := cutQuery(path)
		return hasPrefix(p, m.value, m.fold) && (len(p) == len(m.value) || p[len(m.value)] == '/')
	}
	return false
}

// matchedLen is how much of path (with query) the route's path condition consumed: what a
// prefix_rewrite replaces. For path and regex routes it is the whole path without the query.
func (m *pathMatcher) matchedLen(path string) int {
	switch m.kind {
	case pathPrefix, pathSeparated:
		return min(len(m.value), len(path))
	}
	return len(cutQuery(path))
}

type matchKind uint8

const (
	matchPresent matchKind = iota
	matchExact
	matchPrefix
	matchSuffix
	matchContains
	matchRegex
)

// stringMatcher is a compiled config.StringMatch, or a presence condition.
type stringMatcher struct {
	kind    matchKind
	value   string // lower-cased when fold
	fold    bool
	re      *regexp.Regexp // anchored
	present bool           // matchPresent: whether the value must be present
}

// match reports whether a present value satisfies the condition.
func (m *stringMatcher) match(v string) bool {
	switch m.kind {
	case matchPresent:
		return m.present
	case matchExact:
		return equal(v, m.value, m.fold)
	case matchPrefix:
		return hasPrefix(v, m.value, m.fold)
	case matchSuffix:
		return len(v) >= len(m.value) && equal(v[len(v)-len(m.value):], m.value, m.fold)
	case matchContains:
		if !m.fold {
			return strings.Contains(v, m.value)
		}
		for i := 0; i+len(m.value) <= len(v); i++ {
			if equalFoldASCII(v[i:i+len(m.value)], m.value) {
				return true
			}
		}
		return false
	case matchRegex:
		return m.re != nil && m.re.MatchString(v)
	}
	return false
}

type pseudoHeader uint8

const (
	pseudoNone pseudoHeader = iota
	pseudoAuthority
	pseudoMethod
	pseudoPath
	pseudoScheme
)

type headerMatcher struct {
	name   string // canonical key of r.Header
	pseudo pseudoHeader
	value  stringMatcher
	invert bool
}

func (m *headerMatcher) match(r *http.Request, host, path string) bool {
	var v string
	switch m.pseudo {
	case pseudoAuthority:
		v = host
	case pseudoMethod:
		v = method(r)
	case pseudoPath:
		v = path
	case pseudoScheme:
		v = "http"
		if r.TLS != nil {
			v = "https"
		}
	default:
		vs := r.Header[m.name]
		switch len(vs) {
		case 0:
			// Envoy: a missing header fails a value condition even when inverted; a presence
			// condition is about absence, so invert applies to it.
			if m.value.kind != matchPresent {
				return false
			}
			return !m.value.present != m.invert
		case 1:
			v = vs[0]
		default:
			v = strings.Join(vs, ",")
		}
	}
	return m.value.match(v) != m.invert
}

type queryMatcher struct {
	name  string // raw, as on the wire
	value stringMatcher
}

func (m *queryMatcher) match(query string) bool {
	v, ok := queryValue(query, m.name)
	if !ok {
		return m.value.kind == matchPresent && !m.value.present
	}
	return m.value.match(v)
}

// queryValue returns the first value of key in a raw query string, not decoded.
func queryValue(query, key string) (string, bool) {
	for query != "" {
		var kv string
		kv, query, _ = strings.Cut(query, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

func (r *Route) matches(req *http.Request, host, path string) bool {
	if !r.path.match(path) {
		return false
	}
	if len(r.methods) > 0 {
		m, ok := method(req), false
		for _, want := range r.methods {
			if m == want {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for i := range r.headers {
		if !r.headers[i].match(req, host, path) {
			return false
		}
	}
	if len(r.query) > 0 {
		_, query, _ := strings.Cut(path, "?")
		for i := range r.query {
			if !r.query[i].match(query) {
				return false
			}
		}
	}
	return true
}

func method(r *http.Request) string {
	if r.Method == "" {
		return http.MethodGet
	}
	return r.Method
}

func cutQuery(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		return path[:i]
	}
	return path
}

// hasPrefix compares ASCII letters case-insensitively when fold is set (Envoy's
// absl::StartsWithIgnoreCase); prefix is then already lower-cased or compared folded.
func hasPrefix(s, prefix string, fold bool) bool {
	if len(s) < len(prefix) {
		return false
	}
	if !fold {
		return s[:len(prefix)] == prefix
	}
	return equalFoldASCII(s[:len(prefix)], prefix)
}

func equal(a, b string, fold bool) bool {
	if !fold {
		return a == b
	}
	return len(a) == len(b) && equalFoldASCII(a, b)
}

// equalFoldASCII reports whether a and b, of equal length, are equal ignoring ASCII case.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] != b[i] && lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}
