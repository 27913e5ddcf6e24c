package proxy

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pylon-gateway/pylon/internal/h1head"
	"github.com/pylon-gateway/pylon/internal/listener/h1"
	"github.com/pylon-gateway/pylon/internal/stream"
	uh1 "github.com/pylon-gateway/pylon/internal/upstream/h1"
)

// The fast path serves the plainest and most common request, a GET (HEAD, DELETE, OPTIONS)
// without a body on a route that forwards it as it is, straight from the raw request head to
// raw bytes upstream and back, without http.Request, http.Response or header maps. It applies
// the standard path's rules (Envoy's header sanitizing, timeouts, circuit breakers, stats,
// local replies) to what it takes; everything else goes the standard way (ServeHTTP), and
// nothing is written or counted before that choice is made. Differences a client can see:
// header fields keep the case and order they had instead of being canonicalized and sorted.

// fastState is the fast path's pooled per-request state.
type fastState struct {
	fr     fastRequest
	fields []byte // the client's fields to forward
	buf    []byte // the upstream request head, then the downstream response head
	chunk  [20]byte
	resp   uh1.RawResponse
	info   stream.Info
}

var fastPool = sync.Pool{New: func() any {
	return &fastState{fields: make([]byte, 0, 1024), buf: make([]byte, 0, 2048)}
}}

// fastEligible reports whether the listener lets the fast path serve at all: no filter chain
// (filters see http.Requests) and no access log (it logs request headers).
func (l *Listener) fastEligible() bool {
	return l.Chain == nil && len(l.AccessLogs) == 0
}

// ServeFast serves a request from its raw head when it can (h1.FastHandler); it returns false,
// having done nothing, to leave the request to ServeHTTP.
func (l *Listener) ServeFast(fc *h1.FastConn, head []byte) bool {
	if !l.fastOK {
		return false
	}
	fs := fastPool.Get().(*fastState)
	defer fastPool.Put(fs)
	fs.fr = fastRequest{}
	fr := &fs.fr
	useRemote := l.UseRemoteAddress
	fields, ok := scanRequest(head, fr, fs.fields[:0], useRemote)
	fs.fields = fields[:0]
	if !ok {
		return false
	}
	rt, ok := l.Table.MatchPlain(fr.host, fr.target, fr.method)
	if !ok || rt == nil || !rt.Plain() {
		return false
	}
	idle := rt.IdleTimeout
	if idle < 0 {
		idle = l.StreamIdleTimeout
	}
	if idle > 0 && (rt.Timeout <= 0 || rt.Timeout > idle) {
		return false // the stream idle timeout needs the standard path's watchdog
	}
	name := rt.PickCluster(rand.Uint64())
	c := l.Clusters[name]
	if c == nil {
		return false
	}
	tr := c.H1()
	if tr == nil {
		return false
	}
	host, ok := c.PickPlain()
	if !ok || host == nil {
		return false
	}

	// From here on the request is the fast path's.
	fs.info = stream.Info{}
	info := &fs.info
	info.Start = time.Now()
	info.Listener = l.Name
	info.UpstreamServiceTime = -1
	info.Route = rt
	info.Cluster = name
	info.UpstreamHost = host.Address
	info.RemoteIP = remoteIP(fc.RemoteAddr())
	st := l.Stats
	st.RqTotal.Inc()
	st.RqActive.Inc()
	st.RqHTTP1.Inc()
	st.RqFast.Inc()
	status := 0
	defer func() {
		st.RqActive.Dec()
		if status == 0 && info.Flags == "" {
			info.Flags = "DC"
		}
		st.Response(status, time.Since(info.Start))
	}()

	// Envoy's sanitizing, as sanitize does it.
	if useRemote {
		if !fr.hasXFF {
			info.Internal = l.internal(info.RemoteIP)
		}
	} else if fr.hasXFF && strings.IndexByte(fr.xff, ',') < 0 {
		info.Internal = l.internal(fr.xff)
	}
	out := fs.buf[:0]
	out = append(out, fr.method...)
	out = append(out, ' ')
	out = append(out, fr.target...)
	out = append(out, " HTTP/1.1\r\nHost: "...)
	out = append(out, fr.host...)
	out = append(out, "\r\n"...)
	out = append(out, fields...)
	if useRemote {
		// The client's value with the peer appended, written in place (no string built).
		out = append(out, "X-Forwarded-For: "...)
		if fr.hasXFF {
			out = append(out, fr.xff...)
			out = append(out, ", "...)
		}
		out = append(out, info.RemoteIP...)
		out = append(out, "\r\n"...)
	}
	if info.Internal {
		out = append(out, "X-Envoy-Internal: true\r\n"...)
	}
	if useRemote {
		out = appendField(out, "X-Forwarded-Proto", l.scheme())
		if !info.Internal {
			out = appendField(out, "X-Envoy-External-Address", info.RemoteIP)
		}
	} else if !fr.hasXFP {
		out = appendField(out, "X-Forwarded-Proto", l.scheme())
	}
	if fr.reqID == "" {
		out = append(out, "X-Request-Id: "...)
		out = appendRequestID(out)
		out = append(out, "\r\n"...)
	}
	var deadline time.Time
	if rt.Timeout > 0 {
		deadline = info.Start.Add(rt.Timeout) // the microseconds since Start do not matter: one clock read less
		out = append(out, "X-Envoy-Expected-Rq-Timeout-Ms: "...)
		out = strconv.AppendInt(out, rt.Timeout.Milliseconds(), 10)
		out = append(out, "\r\n"...)
	}
	out = append(out, "\r\n"...)
	fs.buf = out

	cst := c.Stats
	ctx := fc.Context()
	if err := c.Breaker.Acquire(ctx, deadline); err != nil {
		status = l.fastLocal(fc, fr, func(w http.ResponseWriter) { l.breakerFailure(w, ctx, info, c, err, "") })
		return true
	}
	cst.RqTotal.Inc()
	cst.RqActive.Inc()
	hostStripe := host.AcquireStriped()
	defer func() {
		cst.RqActive.Dec()
		host.ReleaseStriped(hostStripe)
		c.Breaker.Release()
	}()

	sent := info.Start
	resp := &fs.resp
	// net/http's rule for sending again on a fresh connection: GET, HEAD and OPTIONS.
	err := tr.RoundTripRaw(ctx, host.Address, out, fr.method != "DELETE", deadline, resp)
	if err != nil {
		c.ReportOutcome(host, 0, err)
		if ctx.Err() != nil {
			info.Flags, info.Details = "DC", "downstream_remote_disconnect"
			l.Stats.RxReset.Inc()
			fc.SetClose()
			return true
		}
		status = l.fastLocal(fc, fr, func(w http.ResponseWriter) {
			l.upstreamFailure(w, info, c, err, classify(err, false), "")
		})
		return true
	}
	defer resp.Close()
	status = resp.StatusCode
	c.ReportOutcome(host, status, nil)
	info.UpstreamServiceTime = time.Since(sent)
	cst.Response(status, info.UpstreamServiceTime)
	info.Details = "via_upstream"

	closing := fr.close || fc.Closing()
	out, flushEach := l.fastResponseHead(fs.buf[:0], fr, resp, info.UpstreamServiceTime, closing)
	fs.buf = out
	fc.Write(out)
	if closing {
		fc.SetClose()
	}
	if fr.method == "HEAD" || !bodyAllowed(status) {
		return true
	}
	if err := fastCopyBody(fc, resp, flushEach, &fs.chunk); err != nil {
		// The response started: cut the connection so the client never takes a partial body
		// for a whole one.
		fc.SetClose()
		switch {
		case err == errClientGone:
			info.Flags = "DC"
			l.Stats.RxReset.Inc()
			return true
		case errors.Is(err, context.DeadlineExceeded):
			cst.RqTimeout.Inc()
			info.Flags = "UT"
		case ctx.Err() != nil:
			info.Flags = "DC"
			l.Stats.RxReset.Inc()
			return true
		default:
			cst.RqReset.Inc()
			info.Flags = "UR"
		}
		l.Stats.TxReset.Inc()
	}
	return true
}

// fastResponseHead writes the downstream response head for resp: the upstream's fields but
// the hop-by-hop ones, those the Connection field names, Server, Content-Length and
// x-envoy-upstream-service-time, which Pylon sets. It reports whether the body must be
// flushed as it comes (an event stream, or a body of unknown length).
func (l *Listener) fastResponseHead(out []byte, fr *fastRequest, resp *uh1.RawResponse, upstreamTime time.Duration, closing bool) ([]byte, bool) {
	status := resp.StatusCode
	out = h1.AppendStatusLine(out, status)
	_, rest, _ := cutCRLF(resp.Head)
	mark := len(out)
	out, flushEach, date, named := copyResponseFields(out, rest, resp.ContentLength < 0, fr.method == "HEAD", status, false)
	if named {
		// The Connection field names fields to drop (rare): copy again, without them.
		out, flushEach, date, _ = copyResponseFields(out[:mark], rest, resp.ContentLength < 0, fr.method == "HEAD", status, true)
	}
	chunked := resp.ContentLength < 0
	out = appendField(out, "Server", l.ServerName)
	out = append(out, "X-Envoy-Upstream-Service-Time: "...)
	out = strconv.AppendInt(out, upstreamTime.Milliseconds(), 10)
	out = append(out, "\r\n"...)
	if bodyAllowed(status) && fr.method != "HEAD" {
		if chunked {
			out = append(out, "Transfer-Encoding: chunked\r\n"...)
		} else {
			out = append(out, "Content-Length: "...)
			out = strconv.AppendInt(out, resp.ContentLength, 10)
			out = append(out, "\r\n"...)
		}
	}
	if !date {
		out = h1.AppendDate(out)
	}
	if fr.close || closing {
		out = append(out, "Connection: close\r\n"...)
	}
	return append(out, "\r\n"...), flushEach
}

// copyResponseFields appends the fields of a response head (rest: after the status line) that
// go downstream. It reports whether the body must be flushed as it comes, whether a Date field
// was there, and whether the Connection field names other fields; those are dropped too when
// dropNamed is set.
func copyResponseFields(out, rest []byte, chunked, head bool, status int, dropNamed bool) (_ []byte, flushEach, date, named bool) {
	flushEach = chunked
	for r := rest; ; {
		line, more, ok := cutCRLF(r)
		if !ok || len(line) == 0 {
			break
		}
		r = more
		colon := indexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := line[:colon]
		drop := false
		switch len(name) {
		case 2:
			drop = h1head.EqualFold(name, "te")
		case 4:
			date = date || h1head.EqualFold(name, "date")
		case 6:
			drop = h1head.EqualFold(name, "server")
		case 7:
			drop = h1head.EqualFold(name, "upgrade") || h1head.EqualFold(name, "trailer") && !chunked
		case 10:
			switch {
			case h1head.EqualFold(name, "connection"):
				drop = true
				if !named {
					v, _ := fieldValue(line[colon+1:])
					named = !h1head.EqualFold(v, "close") && !h1head.EqualFold(v, "keep-alive")
				}
			case h1head.EqualFold(name, "keep-alive"):
				drop = true
			}
		case 12:
			if h1head.EqualFold(name, "content-type") {
				if v, _ := fieldValue(line[colon+1:]); len(v) >= 17 && h1head.EqualFold(v[:17], "text/event-stream") {
					flushEach = true
				}
			}
		case 14:
			drop = h1head.EqualFold(name, "content-length") && status != http.StatusNotModified && !head
		case 16:
			drop = h1head.EqualFold(name, "proxy-connection")
		case 17:
			drop = h1head.EqualFold(name, "transfer-encoding")
		case 18, 19:
			drop = h1head.EqualFold(name, "proxy-authenticate") || h1head.EqualFold(name, "proxy-authorization")
		case 29:
			drop = h1head.EqualFold(name, "x-envoy-upstream-service-time")
		}
		if !drop && dropNamed {
			drop = namedByConnection(rest, name)
		}
		if !drop {
			out = append(out, line...)
			out = append(out, "\r\n"...)
		}
	}
	return out, flushEach, date, named
}

// namedByConnection reports whether a Connection field of the head (rest: after the status
// line) names the field name, other than close and keep-alive.
func namedByConnection(rest, name []byte) bool {
	for r := rest; ; {
		line, more, ok := cutCRLF(r)
		if !ok || len(line) == 0 {
			return false
		}
		r = more
		colon := indexByte(line, ':')
		if colon <= 0 || !h1head.EqualFold(line[:colon], "connection") {
			continue
		}
		for v := line[colon+1:]; len(v) > 0; {
			var tok []byte
			if i := indexByte(v, ','); i >= 0 {
				tok, v = v[:i], v[i+1:]
			} else {
				tok, v = v, nil
			}
			if tok, _ = fieldValue(tok); foldEqBytes(tok, name) {
				return true
			}
		}
	}
}

// foldEqBytes reports whether a and b are equal ignoring ASCII case.
func foldEqBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// bodyAllowed reports whether a response with this status has a body (not 1xx, 204, 304).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// fastCopyBody streams the response body downstream: as it is when its length is known,
// re-chunked (trailers included) when not.
func fastCopyBody(fc *h1.FastConn, resp *uh1.RawResponse, flushEach bool, hdr *[20]byte) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	chunked := resp.ContentLength < 0
	for {
		n, rerr := resp.Read(buf)
		if n > 0 {
			if chunked {
				h := strconv.AppendUint(hdr[:0], uint64(n), 16)
				fc.Write(append(h, "\r\n"...))
				fc.Write(buf[:n])
				fc.WriteString("\r\n")
			} else {
				fc.Write(buf[:n])
			}
			if flushEach {
				fc.Flush()
			}
			if fc.Err() != nil {
				return errClientGone
			}
		}
		if rerr == io.EOF {
			if chunked {
				fc.WriteString("0\r\n")
				fc.Write(resp.Trailer)
				fc.WriteString("\r\n")
			}
			if fc.Flush() != nil {
				return errClientGone
			}
			return nil
		}
		if rerr != nil {
			fc.Flush()
			return rerr
		}
	}
}

// fastLocal answers with a local reply written by reply (localReply and the error paths of
// the standard path, through an http.ResponseWriter on the raw connection) and returns its
// status.
func (l *Listener) fastLocal(fc *h1.FastConn, fr *fastRequest, reply func(http.ResponseWriter)) int {
	w := &rawReplyWriter{h: http.Header{}}
	reply(w)
	if w.status == 0 {
		return 0
	}
	b := h1.AppendStatusLine(nil, w.status)
	keys := make([]string, 0, len(w.h))
	for k := range w.h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range w.h[k] {
			b = appendField(b, k, v)
		}
	}
	b = h1.AppendDate(b)
	if fr.close || fc.Closing() {
		b = append(b, "Connection: close\r\n"...)
		fc.SetClose()
	}
	b = append(b, "\r\n"...)
	if fr.method != "HEAD" {
		b = append(b, w.body...)
	}
	fc.Write(b)
	return w.status
}

// rawReplyWriter collects a local reply.
type rawReplyWriter struct {
	h      http.Header
	status int
	body   []byte
}

func (w *rawReplyWriter) Header() http.Header { return w.h }
func (w *rawReplyWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *rawReplyWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// appendField appends "k: v\r\n".
func appendField(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	b = append(b, v...)
	return append(b, "\r\n"...)
}

// appendRequestID appends a new random (version 4) UUID in its text form, as the request
// ids the standard path draws with uuid.New, from the runtime's per-thread ChaCha8 source
// (math/rand/v2): no lock, no allocation.
func appendRequestID(b []byte) []byte {
	var u [16]byte
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	const hex = "0123456789abcdef"
	for i, c := range u {
		switch i {
		case 4, 6, 8, 10:
			b = append(b, '-')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return b
}

var _ h1.FastHandler = (*Listener)(nil)
