package proxy

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/google/uuid"
	"github.com/pylon-gateway/pylon/internal/stream"
)

// externalOnlyHeaders are the x-envoy-* request headers that tune retries and timeouts; Envoy
// honours them only from internal clients and strips them from external ones. The value says
// whether an internal client may send it (false: removed from every request, as Pylon sets
// or derives it itself).
var externalOnlyHeaders = map[string]bool{
	"X-Envoy-Retry-On":                         true,
	"X-Envoy-Retry-Grpc-On":                    true,
	"X-Envoy-Max-Retries":                      true,
	"X-Envoy-Upstream-Alt-Stat-Name":           true,
	"X-Envoy-Upstream-Rq-Timeout-Ms":           true,
	"X-Envoy-Upstream-Rq-Per-Try-Timeout-Ms":   true,
	"X-Envoy-Upstream-Rq-Timeout-Alt-Response": true,
	"X-Envoy-Expected-Rq-Timeout-Ms":           true,
	"X-Envoy-Force-Trace":                      true,
	"X-Envoy-Ip-Tags":                          true,
	"X-Envoy-Internal":                         false,
	"X-Envoy-Decorator-Operation":              true,
	"X-Envoy-Downstream-Service-Cluster":       true,
	"X-Envoy-Downstream-Service-Node":          true,
	"X-Envoy-Original-Path":                    false,
	"X-Envoy-External-Address":                 false,
}

var trueHeader = []string{"true"}

// sanitize applies Envoy's connection-manager header rules to a downstream request:
// x-forwarded-for / -proto, x-request-id, and the x-envoy-* headers an external client may
// not set.
func (l *Listener) sanitize(r *http.Request, info *stream.Info) {
	h := r.Header
	info.RemoteIP = remoteIP(r.RemoteAddr)
	// Envoy: a request is internal iff x-forwarded-for (after appending) holds a single
	// address and it is internal; without x-forwarded-for and use_remote_address it is external.
	var peer []string
	if l.UseRemoteAddress {
		peer = []string{info.RemoteIP}
		if prior, ok := h["X-Forwarded-For"]; ok && len(prior) > 0 {
			h["X-Forwarded-For"] = []string{strings.Join(prior, ", ") + ", " + info.RemoteIP}
		} else {
			h["X-Forwarded-For"] = peer
			info.Internal = l.internal(info.RemoteIP)
		}
	} else if xff := h["X-Forwarded-For"]; len(xff) == 1 && !strings.Contains(xff[0], ",") {
		info.Internal = l.internal(strings.TrimSpace(xff[0]))
	}
	for k := range h {
		if len(k) > 8 && k[:8] == "X-Envoy-" {
			if internalOK, ok := externalOnlyHeaders[k]; ok && !(internalOK && info.Internal) {
				delete(h, k)
			}
		}
	}
	if info.Internal {
		h["X-Envoy-Internal"] = trueHeader
	}
	if l.UseRemoteAddress {
		h["X-Forwarded-Proto"] = l.schemeHeader
		if !info.Internal {
			h["X-Envoy-External-Address"] = peer // shared, read-only: header values are replaced, never written through
		}
	} else if _, ok := h["X-Forwarded-Proto"]; !ok {
		h["X-Forwarded-Proto"] = l.schemeHeader
	}
	if id := h["X-Request-Id"]; len(id) > 0 && id[0] != "" {
		info.RequestID = id[0]
	} else {
		info.RequestID = uuid.New().String()
		h["X-Request-Id"] = []string{info.RequestID}
	}
}

// internal reports whether ip is in the listener's internal address ranges.
func (l *Listener) internal(ip string) bool {
	if len(l.InternalAddresses) == 0 {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range l.InternalAddresses {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// remoteIP strips the port from an ip:port (or [ipv6]:port) without allocating.
func remoteIP(addr string) string {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr
	}
	host := addr[:i]
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	return host
}

// hopHeaders are connection-specific and never forwarded (RFC 9110 7.6.1).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopHeaders deletes hop-by-hop headers and those the Connection header names.
func removeHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				delete(h, http.CanonicalHeaderKey(f))
			}
		}
	}
	for _, k := range hopHeaders {
		if _, ok := h[k]; ok {
			delete(h, k)
		}
	}
}

// upgradeType returns the requested protocol upgrade ("websocket"), or "".
func upgradeType(h http.Header) string {
	conn := h["Connection"]
	if len(conn) == 0 {
		return ""
	}
	for _, v := range conn {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "upgrade") {
				return strings.ToLower(h.Get("Upgrade"))
			}
		}
	}
	return ""
}
