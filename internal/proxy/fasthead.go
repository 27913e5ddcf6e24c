package proxy

import (
	"unsafe"

	"github.com/pylon-gateway/pylon/internal/h1head"

	"golang.org/x/net/http/httpguts"
)

// The fast path's reading of a request head: only the plainest requests are taken (see
// scanRequest); anything else is left to the standard path, which parses with h1head and
// gives the precise errors.

// fastRequest is what the fast path needs of a request head. Its strings are views into the
// head: they must not outlive the ServeFast call.
type fastRequest struct {
	method, target, host string
	xff                  string // the X-Forwarded-For value when present
	hasXFF, hasXFP       bool
	reqID                string // the X-Request-Id value when present and not empty
	close                bool   // Connection: close
}

// maxFastFields bounds the header fields of a request the fast path takes.
const maxFastFields = 64

// scanRequest reads head (request line through the final CRLF CRLF) and appends the upstream
// request's copy of the client's fields to dst: every field but Host and Connection, and, when
// dropForwarded, but X-Forwarded-For and X-Forwarded-Proto (the proxy rewrites them). It
// reports false for a request the fast path does not take: not HTTP/1.1, a method that may
// carry a body, an origin-form target with characters the standard path would re-escape, a
// body (Content-Length, Transfer-Encoding), Expect, an upgrade or any other hop-by-hop field
// but Connection: keep-alive/close, x-envoy-* fields, repeated Host, X-Forwarded-For or
// X-Request-Id fields, obs-fold, non-ASCII or control bytes, or more than maxFastFields fields.
func scanRequest(head []byte, fr *fastRequest, dst []byte, dropForwarded bool) ([]byte, bool) {
	line, rest, ok := cutCRLF(head)
	if !ok {
		return dst, false
	}
	sp := indexByte(line, ' ')
	if sp <= 0 {
		return dst, false
	}
	switch m := view(line[:sp]); m {
	case "GET", "HEAD", "DELETE", "OPTIONS":
		fr.method = m
	default:
		return dst, false
	}
	line = line[sp+1:]
	sp = indexByte(line, ' ')
	if sp <= 0 || view(line[sp+1:]) != "HTTP/1.1" || !validFastTarget(line[:sp]) {
		return dst, false
	}
	fr.target = view(line[:sp])

	hostSeen, reqIDSeen := false, false
	for n := 0; ; n++ {
		line, rest, ok = cutCRLF(rest)
		if !ok || n > maxFastFields {
			return dst, false
		}
		if len(line) == 0 {
			return dst, len(rest) == 0 && hostSeen
		}
		colon := indexByte(line, ':')
		if colon <= 0 || !h1head.IsToken(line[:colon]) {
			return dst, false
		}
		name := line[:colon]
		value, ok := fieldValue(line[colon+1:])
		if !ok {
			return dst, false
		}
		keep := true
		switch len(name) {
		case 2:
			if h1head.EqualFold(name, "te") {
				return dst, false
			}
		case 4:
			if h1head.EqualFold(name, "host") {
				if hostSeen || len(value) == 0 || !httpguts.ValidHostHeader(view(value)) {
					return dst, false
				}
				hostSeen, keep = true, false
				fr.host = view(value)
			}
		case 6:
			if h1head.EqualFold(name, "expect") {
				return dst, false
			}
		case 7:
			if h1head.EqualFold(name, "upgrade") || h1head.EqualFold(name, "trailer") {
				return dst, false
			}
		case 10:
			switch {
			case h1head.EqualFold(name, "connection"):
				switch {
				case fr.close:
					return dst, false
				case h1head.EqualFold(value, "close"):
					fr.close = true
				case !h1head.EqualFold(value, "keep-alive"):
					return dst, false
				}
				keep = false
			case h1head.EqualFold(name, "keep-alive"):
				return dst, false
			}
		case 12:
			if h1head.EqualFold(name, "x-request-id") {
				if reqIDSeen {
					return dst, false
				}
				reqIDSeen = true
				if len(value) == 0 {
					keep = false // replaced by a generated one, as the standard path does
				} else {
					fr.reqID = view(value)
				}
			}
		case 14:
			if h1head.EqualFold(name, "content-length") {
				return dst, false
			}
		case 15:
			if h1head.EqualFold(name, "x-forwarded-for") {
				if fr.hasXFF {
					return dst, false
				}
				fr.hasXFF, fr.xff = true, view(value)
				keep = !dropForwarded
			}
		case 16:
			if h1head.EqualFold(name, "proxy-connection") {
				return dst, false
			}
		case 17:
			switch {
			case h1head.EqualFold(name, "transfer-encoding"):
				return dst, false
			case h1head.EqualFold(name, "x-forwarded-proto"):
				fr.hasXFP = true
				keep = !dropForwarded
			}
		case 18, 19:
			if h1head.EqualFold(name, "proxy-authenticate") || h1head.EqualFold(name, "proxy-authorization") {
				return dst, false
			}
		}
		if len(name) > 8 && h1head.EqualFold(name[:8], "x-envoy-") {
			return dst, false
		}
		if keep {
			dst = append(dst, line...)
			dst = append(dst, "\r\n"...)
		}
	}
}

// cutCRLF cuts b at its first CRLF; a bare LF or CR is refused.
func cutCRLF(b []byte) (line, rest []byte, ok bool) {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\r':
			if i+1 < len(b) && b[i+1] == '\n' {
				return b[:i], b[i+2:], true
			}
			return nil, nil, false
		case '\n':
			return nil, nil, false
		}
	}
	return nil, nil, false
}

func indexByte(b []byte, c byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// fieldValue trims a field value's optional whitespace and checks its bytes: visible ASCII,
// space and tab only (obs-fold, controls and obs-text go the standard way).
func fieldValue(v []byte) ([]byte, bool) {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	for _, c := range v {
		if (c < ' ' && c != '\t') || c >= 0x7f {
			return nil, false
		}
	}
	return v, true
}

// validFastTarget accepts an origin-form target whose path the standard path forwards as
// sent: unreserved and sub-delimiter characters, ':', '@', '/', and well-formed %-escapes
// (others, such as '"' or '{', it would re-escape). The query may hold any visible ASCII
// but '#'.
func validFastTarget(t []byte) bool {
	if len(t) == 0 || t[0] != '/' {
		return false
	}
	i := 0
	for ; i < len(t) && t[i] != '?'; i++ {
		c := t[i]
		if c == '%' {
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return false
			}
			i += 2
			continue
		}
		if !pathChar[c] {
			return false
		}
	}
	for ; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	return true
}

var pathChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~!$&'()*+,;=:@/" {
		t[c] = true
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// view is b as a string without a copy: only for the duration of the call that owns b.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
