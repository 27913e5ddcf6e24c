package h1head

import "bytes"

// ResponseInfo is what ScanResponse reads from a response head: the status line and how
// the body that follows is framed.
type ResponseInfo struct {
	StatusCode int
	ProtoMinor int // 0 or 1 (HTTP/1.0 or HTTP/1.1)

	// ContentLength is the body's length: 0 when the response has none (an answer to
	// HEAD, 1xx, 204 and 304, whatever the head declares), -1 when it is chunked or
	// delimited by the connection's close.
	ContentLength int64

	// Chunked reports a chunked body (never set for a response without a body).
	Chunked bool

	// Close reports that the connection must not carry another exchange: the response
	// says Connection: close, is HTTP/1.0 without keep-alive, or its body ends with the
	// connection.
	Close bool
}

// ScanResponse validates head, a complete response head ending with CRLF CRLF as HeadLen
// delimits it, and reads its status and body framing by the rules of http.ReadResponse
// (headReq: the response answers a HEAD request), without allocating and without building
// a header. It handles every status, chunked and close-delimited bodies included.
//
// ok is false for every head http.ReadResponse rejects, and also for some it accepts that a
// proxy forwarding the head's bytes must not pass on or could misread:
//   - a version other than HTTP/1.0 and HTTP/1.1, a status code below 100 or not made of
//     three digits;
//   - a bare CR or LF, obsolete line folding, a space in a field name;
//   - Transfer-Encoding in an HTTP/1.0 response, and Transfer-Encoding together with
//     Content-Length (RFC 9112 6.3 asks an intermediary to treat both as an error or to
//     remove the Content-Length).
//
// Identical repeated Content-Length fields are accepted, as net/http does.
func ScanResponse(head []byte, headReq bool) (r ResponseInfo, ok bool) {
	eol := bytes.IndexByte(head, '\n')
	if eol < 1 || head[eol-1] != '\r' {
		return r, false
	}
	line := head[:eol-1]
	if len(line) < len("HTTP/1.1 200") {
		return r, false
	}
	switch string(line[:9]) {
	case "HTTP/1.1 ":
		r.ProtoMinor = 1
	case "HTTP/1.0 ":
	default:
		return r, false
	}
	status := line[9:]
	for len(status) > 0 && status[0] == ' ' { // net/http trims spaces before the code
		status = status[1:]
	}
	if len(status) < 3 || len(status) > 3 && status[3] != ' ' {
		return r, false
	}
	for _, c := range status[:3] {
		if c < '0' || c > '9' {
			return r, false
		}
		r.StatusCode = r.StatusCode*10 + int(c-'0')
	}
	if r.StatusCode < 100 {
		return r, false
	}
	if bytes.IndexByte(status, '\r') >= 0 {
		return r, false // a bare CR; other bytes of the reason phrase pass, as in net/http
	}

	var (
		cl            = int64(-1)
		clValue       []byte // the first Content-Length's value; nil when none
		te            int    // Transfer-Encoding fields
		chunked       bool   // the last Transfer-Encoding field says chunked
		connClose     bool   // Connection: close
		keepAlive     bool   // Connection: keep-alive
		badTrailerKey bool   // Trailer names a field a trailer must not carry
	)
	rest := head[eol+1:]
	for {
		eol := bytes.IndexByte(rest, '\n')
		if eol < 1 || rest[eol-1] != '\r' {
			return r, false
		}
		line := rest[:eol-1]
		rest = rest[eol+1:]
		if len(line) == 0 {
			if len(rest) != 0 {
				return r, false
			}
			break
		}
		name, value, ok := field(line)
		if !ok {
			return r, false
		}
		switch len(name) {
		case len("Content-Length"):
			if !EqualFold(name, "content-length") {
				break
			}
			if clValue != nil {
				if !bytes.Equal(value, clValue) {
					return r, false // net/http: differing Content-Length values
				}
				break
			}
			clValue = value
			if cl = parseLength(value); cl < 0 {
				return r, false
			}
		case len("Transfer-Encoding"):
			if EqualFold(name, "transfer-encoding") {
				te++
				chunked = EqualFold(value, "chunked")
			}
		case len("Connection"):
			if EqualFold(name, "connection") {
				connClose = connClose || ContainsToken(value, "close")
				keepAlive = keepAlive || ContainsToken(value, "keep-alive")
			}
		case len("Trailer"):
			if EqualFold(name, "trailer") {
				badTrailerKey = badTrailerKey || ContainsToken(value, "content-length") ||
					ContainsToken(value, "transfer-encoding") || ContainsToken(value, "trailer")
			}
		}
	}
	if te > 0 {
		// net/http ignores Transfer-Encoding in HTTP/1.0 and accepts a single
		// "chunked" field in HTTP/1.1.
		if r.ProtoMinor == 0 || te > 1 || !chunked || clValue != nil || badTrailerKey {
			return r, false
		}
	}
	r.Close = connClose || r.ProtoMinor == 0 && !keepAlive
	switch code := r.StatusCode; {
	case headReq || code < 200 || code == 204 || code == 304:
		r.ContentLength = 0
	case chunked:
		r.ContentLength = -1
		r.Chunked = true
	case cl >= 0:
		r.ContentLength = cl
	default:
		r.ContentLength = -1
		r.Close = true // the body ends with the connection
	}
	return r, true
}

// ValidFields reports whether b is a field section without its final empty line: zero
// or more field lines, each "name: value" ending with CRLF, by the rules ScanResponse
// applies (a token name, no obsolete line folding, no bare CR or LF, value bytes net/http
// accepts). It validates the trailer section of a chunked body.
func ValidFields(b []byte) bool {
	for len(b) > 0 {
		eol := bytes.IndexByte(b, '\n')
		if eol < 1 || b[eol-1] != '\r' {
			return false
		}
		if _, _, ok := field(b[:eol-1]); !ok {
			return false
		}
		b = b[eol+1:]
	}
	return true
}

// field splits a field line (without its CRLF) into its name, a token, and its value,
// trimmed of spaces and tabs. ok is false when the line is malformed.
func field(line []byte) (name, value []byte, ok bool) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, nil, false
	}
	name = line[:colon]
	for _, c := range name {
		if !tokenByte[c] {
			return nil, nil, false
		}
	}
	value = line[colon+1:]
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, nil, false
		}
	}
	return name, trimOWS(value), true
}

// ContainsToken reports whether the comma-separated list v holds token, compared without
// regard to ASCII case (httpguts.HeaderValuesContainsToken for one field value). token must
// be lower-case.
func ContainsToken(v []byte, token string) bool {
	for {
		comma := bytes.IndexByte(v, ',')
		if comma < 0 {
			return EqualFold(trimOWS(v), token)
		}
		if EqualFold(trimOWS(v[:comma]), token) {
			return true
		}
		v = v[comma+1:]
	}
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// EqualFold reports whether s equals lower, which is lower-case ASCII, ignoring ASCII case.
func EqualFold[S string | []byte](s S, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// IsToken reports whether s is a non-empty token (RFC 9110 5.6.2): a valid method or field name.
func IsToken[S string | []byte](s S) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte[s[i]] {
			return false
		}
	}
	return true
}

// parseLength parses a Content-Length value as net/http does (strconv.ParseUint(v, 10,
// 63): digits only, at most 1<<63 - 1); -1 when it is not that.
func parseLength(v []byte) int64 {
	if len(v) == 0 {
		return -1
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return -1
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return -1
		}
		n = n*10 + d
	}
	return n
}
