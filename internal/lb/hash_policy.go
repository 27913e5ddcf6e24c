package lb

import (
	"net/http"
	"net/textproto"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// HashSource is one source of a request's hash key, as one entry of Envoy's hash_policy list.
// Exactly one field should be set; if several are, Header wins over Cookie over SourceIP, and
// a source with none set never yields a key.
type HashSource struct {
	// Header hashes the values of this request header, joined by ",". "host" and
	// ":authority" mean the request's authority (Go keeps it out of r.Header), ":path" its
	// request target and ":method" its method, as Envoy's pseudo-headers.
	Header string
	// Cookie hashes the value of the cookie with this name.
	Cookie string
	// SourceIP hashes the client's IP address.
	SourceIP bool
}

// HashPolicy computes the hash key for ring_hash and maglev from a request: the first source
// that yields a value wins; none yields means no key (HasHash false, a random host).
//
// Envoy combines the hashes of every source that yields one unless a source is marked
// terminal; Pylon's configuration promises "the first that yields a value is used", which is
// Envoy's behaviour with every source terminal.
//
// A HashPolicy is immutable and safe for concurrent use. A nil *HashPolicy yields no key.
type HashPolicy struct {
	sources []hashSource
}

type hashKind uint8

const (
	kindNone hashKind = iota
	kindHeader
	kindAuthority
	kindPath
	kindMethod
	kindCookie
	kindSourceIP
)

type hashSource struct {
	kind hashKind
	name string // canonical header key, or cookie name
}

// NewHashPolicy compiles sources. It returns nil (no key, ever) for an empty list.
func NewHashPolicy(sources []HashSource) *HashPolicy {
	if len(sources) == 0 {
		return nil
	}
	p := &HashPolicy{sources: make([]hashSource, 0, len(sources))}
	for _, s := range sources {
		var hs hashSource
		switch {
		case s.Header != "":
			switch strings.ToLower(s.Header) {
			case "host", ":authority":
				hs.kind = kindAuthority
			case ":path":
				hs.kind = kindPath
			case ":method":
				hs.kind = kindMethod
			default:
				// Incoming requests carry canonical keys (the HTTP/1 and HTTP/2 servers both
				// canonicalize), so looking up the canonical key directly skips
				// Header.Values' per-call canonicalization.
				hs = hashSource{kind: kindHeader, name: textproto.CanonicalMIMEHeaderKey(s.Header)}
			}
		case s.Cookie != "":
			hs = hashSource{kind: kindCookie, name: s.Cookie}
		case s.SourceIP:
			hs.kind = kindSourceIP
		}
		p.sources = append(p.sources, hs)
	}
	return p
}

// Hash returns the hash key of r from the first source that yields one, and whether one did.
// remoteIP is the client's address without the port, as the listener saw it (Envoy hashes the
// downstream address, not X-Forwarded-For; configure a header source for that). r may be nil
// when only the source IP is wanted.
func (p *HashPolicy) Hash(r *http.Request, remoteIP string) (uint64, bool) {
	if p == nil {
		return 0, false
	}
	for _, s := range p.sources {
		if s.kind == kindSourceIP {
			if remoteIP != "" {
				return xxhash.Sum64String(remoteIP), true
			}
			continue
		}
		if r == nil {
			continue
		}
		switch s.kind {
		case kindHeader:
			if h, ok := hashHeaderValues(r.Header[s.name]); ok {
				return h, true
			}
		case kindAuthority:
			if r.Host != "" {
				return xxhash.Sum64String(r.Host), true
			}
		case kindPath:
			if h, ok := hashRequestPath(r); ok {
				return h, true
			}
		case kindMethod:
			if r.Method != "" {
				return xxhash.Sum64String(r.Method), true
			}
		case kindCookie:
			if v, ok := cookieValue(r.Header, s.name); ok {
				return xxhash.Sum64String(v), true
			}
		}
	}
	return 0, false
}

// hashRequestPath hashes the request target in origin form ("/path?query"), Envoy's :path. The
// target as received is used when it is in origin form; an absolute-form target
// ("http://host/path", sent to proxies) and client-built requests fall back to the parsed
// URL, streamed into the digest so that nothing is allocated.
func hashRequestPath(r *http.Request) (uint64, bool) {
	if strings.HasPrefix(r.RequestURI, "/") {
		return xxhash.Sum64String(r.RequestURI), true
	}
	if r.URL == nil {
		return 0, false
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	var d xxhash.Digest
	d.Reset()
	_, _ = d.WriteString(path)
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		_, _ = d.WriteString("?")
		_, _ = d.WriteString(r.URL.RawQuery)
	}
	return d.Sum64(), true
}

// hashHeaderValues hashes the values joined by "," without building the joined string: the
// digest is streamed value by value, so it equals xxhash64(strings.Join(vs, ",")) but does
// not allocate. A header that is present with an empty value still yields (Envoy's rule).
func hashHeaderValues(vs []string) (uint64, bool) {
	switch len(vs) {
	case 0:
		return 0, false
	case 1:
		return xxhash.Sum64String(vs[0]), true
	}
	var d xxhash.Digest
	d.Reset()
	for i, v := range vs {
		if i > 0 {
			_, _ = d.WriteString(",")
		}
		_, _ = d.WriteString(v)
	}
	return d.Sum64(), true
}

// cookieValue returns the value of the first cookie named name in the Cookie headers, like
// Envoy's parseCookieValue: pairs split on ";", surrounding blanks trimmed, the name matched
// exactly, one pair of surrounding double quotes stripped from the value. Unlike
// r.Cookie it neither allocates nor validates other cookies: one malformed cookie set by
// some other application on the domain must not stop affinity. An empty value counts as
// absent, as in Envoy.
func cookieValue(h http.Header, name string) (string, bool) {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(part, "=")
			if !ok || trimBlanks(k) != name {
				continue
			}
			v = trimBlanks(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if v == "" {
				return "", false
			}
			return v, true
		}
	}
	return "", false
}

// trimBlanks trims spaces and tabs, the only blanks a Cookie header may hold around pairs.
func trimBlanks(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
