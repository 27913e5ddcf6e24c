package proxy

import (
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/pylon-gateway/pylon/internal/stream"
)

// externalOnlyHeaders are the x-envoy-* request headers that tune retries and timeouts; Envoy
// honours them only from internal clients and strips them from external ones. Pylon treats
// every downstream client as external (Envoy >= 1.33 without internal_address_config).
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
	"X-Envoy-Internal":                         true,
	"X-Envoy-Decorator-Operation":              true,
	"X-Envoy-Downstream-Service-Cluster":       true,
	"X-Envoy-Downstream-Service-Node":          true,
	"X-Envoy-Original-Path":                    true,
	"X-Envoy-External-Address":                 true,
}

// sanitize applies Envoy's connection-manager header rules to a downstream request:
// x-forwarded-for / -proto, x-request-id, and the x-envoy-* headers an external client may
// not set.
func (l *Listener) sanitize(r *http.Request, info *stream.Info) {
	h := r.Header
	info.RemoteIP = remoteIP(r.RemoteAddr)
	for k := range h {
		if len(k) > 8 && k[:8] == "X-Envoy-" && externalOnlyHeaders[k] {
			delete(h, k)
		}
	}
	if l.UseRemoteAddress {
		peer := []string{info.RemoteIP}
		if prior, ok := h["X-Forwarded-For"]; ok && len(prior) > 0 {
			h["X-Forwarded-For"] = []string{strings.Join(prior, ", ") + ", " + info.RemoteIP}
		} else {
			h["X-Forwarded-For"] = peer
		}
		h["X-Forwarded-Proto"] = l.schemeHeader
		h["X-Envoy-External-Address"] = peer // shared, read-only: header values are replaced, never written through
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
