// Package h1head parses plain HTTP/1.x message heads quickly, for Pylon's HTTP/1.1 server
// (internal/listener/h1) and client (internal/upstream/h1).
//
// # Why
//
// http.ReadRequest and http.ReadResponse read a head line by line through net/textproto:
// one string per line, one per header value, a map grown as fields arrive, a URL parse,
// and readTransfer's generic framing. On a proxy that is a large share of the CPU spent on
// a request outside the kernel. The heads a gateway sees are almost always plain: a short
// origin-form target, a handful of fields, a Content-Length or no body at all.
//
// # Design
//
// The caller hands over a complete head that is already in its read buffer (HeadLen finds
// its end). ParseRequest and ParseResponse accept only the plain forms they are written
// for, and for those build exactly the *http.Request or *http.Response that net/http's
// parser builds from the same bytes: the whole head becomes one string, and the method,
// target, field names and values are substrings of it; field names are canonicalised
// without allocating when they are already canonical or common; one []string backs every
// value. For anything else (obsolete line folding, a bare LF, Transfer-Encoding, Trailer,
// a repeated Content-Length or Host, a Connection field other than keep-alive, Pragma,
// absolute-form or asterisk targets, a path that net/url would unescape, interim and
// bodiless statuses, any byte net/http would reject...) they report false and the caller
// parses the same bytes with net/http, which also produces the precise error. A
// differential fuzz test (FuzzRequest, FuzzResponse) holds the two parsers to the same
// result on every input the fast path accepts.
//
// The body of a message with a Content-Length is NewBody: net/http's rules (io.EOF
// together with the last bytes, io.ErrUnexpectedEOF when the connection ends first).
package h1head

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
)

// HeadLen returns the length of the head at the start of b, through the CRLF CRLF that ends
// it, or -1 when b does not hold a whole head.
func HeadLen(b []byte) int {
	i := bytes.Index(b, crlfcrlf)
	if i < 0 {
		return -1
	}
	return i + 4
}

var crlfcrlf = []byte("\r\n\r\n")

// ParseRequest parses head, a complete request head ending with CRLF CRLF as HeadLen
// delimits it, into the request http.ReadRequest would return for it. The request has no
// Body yet: the caller attaches NewBody(r, req.ContentLength) when ContentLength > 0, or
// http.NoBody. ok is false when head is not in the plain form handled here; nothing has
// been consumed then, and the caller falls back to http.ReadRequest.
func ParseRequest(head []byte) (req *http.Request, ok bool) {
	s := string(head)
	line, rest, ok := cutLine(s)
	if !ok {
		return nil, false
	}
	// Request line: METHOD SP origin-form SP HTTP/1.x
	sp1 := indexByte(line, ' ')
	if sp1 <= 0 {
		return nil, false
	}
	method := line[:sp1]
	if !IsToken(method) {
		return nil, false
	}
	target := line[sp1+1:]
	sp2 := indexByte(target, ' ')
	if sp2 <= 0 {
		return nil, false
	}
	proto := target[sp2+1:]
	target = target[:sp2]
	var minor int
	switch proto {
	case "HTTP/1.1":
		minor = 1
	case "HTTP/1.0":
		minor = 0
	default:
		return nil, false
	}
	u, ok := parseOriginForm(target)
	if !ok || method == "CONNECT" {
		return nil, false
	}
	req = &http.Request{
		Method:     internMethod(method),
		URL:        u,
		Proto:      proto,
		ProtoMajor: 1,
		ProtoMinor: minor,
		RequestURI: target,
	}
	var f fields
	if !f.parse(rest, true) {
		return nil, false
	}
	req.Header = f.h
	req.Host = f.host
	req.ContentLength = max(f.cl, 0) // no Content-Length: no body (RFC 9112 6.3)
	if minor == 0 {
		req.Close = !f.keepAlive
	}
	return req, true
}

// ParseResponse parses head, a complete response head ending with CRLF CRLF as HeadLen
// delimits it, into the response http.ReadResponse(r, req) would return for it. Only final
// responses with a Content-Length (a body of known length, or none) to a request other
// than HEAD are handled. The response has no Body yet: the caller attaches NewBody(r,
// resp.ContentLength) when ContentLength > 0, or http.NoBody. ok is false when head is not
// in the plain form handled here; the caller then uses http.ReadResponse.
func ParseResponse(head []byte, req *http.Request) (resp *http.Response, ok bool) {
	if req != nil && req.Method == http.MethodHead {
		return nil, false
	}
	s := string(head)
	line, rest, ok := cutLine(s)
	if !ok || len(line) < len("HTTP/1.1 200") {
		return nil, false
	}
	var minor int
	switch line[:9] {
	case "HTTP/1.1 ":
		minor = 1
	case "HTTP/1.0 ":
		minor = 0
	default:
		return nil, false
	}
	status := line[9:]
	if len(status) > 3 && status[3] != ' ' {
		return nil, false
	}
	code := 0
	for i := 0; i < 3; i++ {
		c := status[i]
		if c < '0' || c > '9' {
			return nil, false
		}
		code = code*10 + int(c-'0')
	}
	// Interim responses, and statuses without a body, keep net/http's handling.
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		return nil, false
	}
	var f fields
	if !f.parse(rest, false) || f.cl < 0 {
		return nil, false // no Content-Length: close-delimited, left to net/http
	}
	resp = &http.Response{
		Status:        status,
		StatusCode:    code,
		Proto:         line[:8],
		ProtoMajor:    1,
		ProtoMinor:    minor,
		Header:        f.h,
		ContentLength: f.cl,
		Request:       req,
	}
	if minor == 0 {
		resp.Close = !f.keepAlive
	} else if f.close {
		resp.Close = true
		delete(f.h, "Connection") // net/http's shouldClose removes it from a response
	}
	return resp, true
}

// fields is the result of parsing a field section.
type fields struct {
	h         http.Header
	host      string
	cl        int64 // -1: no Content-Length
	keepAlive bool  // Connection: keep-alive
	close     bool  // Connection: close
}

// parse reads the field lines of s (each ending with CRLF, then the final CRLF). isReq:
// the Host field moves out of the header (http.ReadRequest's rule) and must appear once,
// and "Connection: close" is kept (it is removed from responses only).
func (f *fields) parse(s string, isReq bool) bool {
	f.cl = -1
	n := 0
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '\r' && s[i+1] == '\n' {
			n++
		}
	}
	if n == 0 {
		return false
	}
	n-- // the final CRLF
	f.h = make(http.Header, n)
	strs := make([]string, n)
	seenHost := false
	for {
		line, rest, ok := cutLine(s)
		if !ok {
			return false
		}
		s = rest
		if line == "" {
			return s == ""
		}
		colon := indexByte(line, ':')
		if colon <= 0 {
			return false
		}
		key, ok := canonicalKey(line[:colon])
		if !ok {
			return false
		}
		v := trim(line[colon+1:])
		if !validValue(v) {
			return false
		}
		switch key {
		case "Host":
			if seenHost {
				return false
			}
			seenHost = true
			if isReq {
				f.host = v
				continue
			}
		case "Content-Length":
			if f.cl >= 0 {
				return false
			}
			if f.cl = parseContentLength(v); f.cl < 0 {
				return false
			}
		case "Connection":
			switch {
			case f.keepAlive || f.close:
				return false
			case EqualFold(v, "keep-alive"):
				f.keepAlive = true
			case EqualFold(v, "close") && !isReq:
				f.close = true
			default:
				return false
			}
		case "Transfer-Encoding", "Trailer", "Pragma":
			return false
		}
		if vv, dup := f.h[key]; dup {
			f.h[key] = append(vv, v)
			continue
		}
		strs[0] = v
		f.h[key] = strs[:1:1]
		strs = strs[1:]
	}
}

// cutLine splits s at its first CRLF. A bare CR or LF before it fails (net/http's
// tolerance of bare LF line ends is left to net/http).
func cutLine(s string) (line, rest string, ok bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				return s[:i], s[i+2:], true
			}
			return "", "", false
		case '\n':
			return "", "", false
		}
	}
	return "", "", false
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// trim removes the spaces and tabs around a field value (the only whitespace left in a
// line: cutLine rejects CR and LF).
func trim(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// validValue reports whether every byte of v is one net/http accepts in a field value:
// visible ASCII, space, tab, or any byte >= 0x80.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// parseContentLength parses a Content-Length value: digits only, at most 18 of them (well
// inside net/http's 63-bit limit); -1 when it is not that.
func parseContentLength(v string) int64 {
	if v == "" || len(v) > 18 {
		return -1
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// parseOriginForm builds the URL net/url.ParseRequestURI returns for an origin-form target
// whose path needs no unescaping: '/' followed by characters net/url keeps as they are in a
// path. The query is taken as it is (control bytes excluded, as net/url does).
func parseOriginForm(target string) (*url.URL, bool) {
	if len(target) == 0 || target[0] != '/' {
		return nil, false
	}
	path, query := target, ""
	hasQuery := false
	if q := indexByte(target, '?'); q >= 0 {
		path, query, hasQuery = target[:q], target[q+1:], true
	}
	for i := 0; i < len(path); i++ {
		if !pathByte[path[i]] {
			return nil, false
		}
	}
	for i := 0; i < len(query); i++ {
		if c := query[i]; c < 0x21 || c == 0x7f {
			return nil, false
		}
	}
	u := &url.URL{Path: path, RawQuery: query}
	if hasQuery && query == "" {
		// net/url: a lone trailing '?' sets ForceQuery; a second '?' makes the query
		// non-empty, so this is the only case.
		u.ForceQuery = true
	}
	return u, true
}

// pathByte marks the bytes net/url leaves unescaped in a path (shouldEscape with
// encodePath is false): letters, digits, "-_.~" and "$&+,/:;=@".
var pathByte = alnumAnd("-_.~$&+,/:;=@")

// tokenByte marks the bytes of an RFC 9110 token (field names, methods).
var tokenByte = alnumAnd("!#$%&'*+-.^_`|~")

// alnumAnd is a byte table of the ASCII letters and digits and the bytes of extra.
func alnumAnd(extra string) (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range extra {
		t[c] = true
	}
	return t
}

func internMethod(m string) string {
	switch m {
	case "GET":
		return http.MethodGet
	case "POST":
		return http.MethodPost
	case "PUT":
		return http.MethodPut
	case "DELETE":
		return http.MethodDelete
	case "PATCH":
		return http.MethodPatch
	case "OPTIONS":
		return http.MethodOptions
	}
	return m
}

// canonicalKey returns the canonical form of the field name k (textproto's
// CanonicalMIMEHeaderKey), without allocating when k is canonical already or a common
// name; false when k is not a token.
func canonicalKey(k string) (string, bool) {
	if len(k) == 0 || len(k) > maxKeyLen {
		return "", false
	}
	upper := true
	canonical := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !tokenByte[c] {
			return "", false
		}
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canonical = false
		}
		upper = c == '-'
	}
	if canonical {
		return k, true
	}
	var buf [maxKeyLen]byte
	b := buf[:len(k)]
	upper = true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	if s, ok := commonKeys[string(b)]; ok { // no allocation for the lookup
		return s, true
	}
	return string(b), true
}

const maxKeyLen = 128

// commonKeys interns the canonical names clients commonly send in lower case (HTTP/2-era
// clients and the OpenAI and Anthropic SDKs).
var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Connection", "Content-Encoding", "Content-Length", "Content-Type", "Cookie", "Date",
		"Etag", "Expect", "Host", "If-Match", "If-Modified-Since", "If-None-Match",
		"Last-Modified", "Location", "Origin", "Referer", "Retry-After", "Server",
		"Set-Cookie", "Traceparent", "Tracestate", "User-Agent", "Vary", "Via",
		"X-Api-Key", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id",
		"Anthropic-Version", "Anthropic-Beta", "Openai-Organization", "Openai-Project",
		"X-Stainless-Arch", "X-Stainless-Lang", "X-Stainless-Os", "X-Stainless-Package-Version",
		"X-Stainless-Retry-Count", "X-Stainless-Runtime", "X-Stainless-Runtime-Version",
		"X-Stainless-Timeout", "X-Stainless-Async", "X-Stainless-Helper-Method",
		"X-Session-Id", "X-Pylon-Session", "Openai-Processing-Ms", "Openai-Version",
		"X-Ratelimit-Limit-Requests", "X-Ratelimit-Limit-Tokens",
		"X-Ratelimit-Remaining-Requests", "X-Ratelimit-Remaining-Tokens",
		"X-Ratelimit-Reset-Requests", "X-Ratelimit-Reset-Tokens", "Request-Id",
		"Strict-Transport-Security", "Access-Control-Allow-Origin", "Alt-Svc",
	} {
		m[k] = k
	}
	return m
}()

// NewBody returns the body of a message with Content-Length n > 0 read from r, with
// net/http's semantics: io.EOF comes with the last bytes, and io.ErrUnexpectedEOF when r
// ends before n bytes. Close does nothing (the owner of r decides what happens to what is
// left).
func NewBody(r io.Reader, n int64) io.ReadCloser {
	return &body{r: r, n: n}
}

type body struct {
	r   io.Reader
	n   int64
	err error
}

func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.n <= 0 {
		b.err = io.EOF
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	switch {
	case err == io.EOF && b.n > 0:
		err = io.ErrUnexpectedEOF
	case b.n == 0 && err == nil:
		err = io.EOF
	}
	if err != nil {
		b.err = err
	}
	return n, err
}

func (b *body) Close() error { return nil }
