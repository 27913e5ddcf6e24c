package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// errResponseDone is returned to a ResponseWriter used after its handler returned.
var errResponseDone = errors.New("h1: ResponseWriter used after the handler returned")

// commitReserve keeps room in the output buffer for the fields added when the head is
// completed (Content-Length, Connection, Date), so a small response leaves in one write.
const commitReserve = 128

// response is the http.ResponseWriter of one request. It is allocated per request on purpose:
// it is the handle the handler holds, so a handler (or a goroutine it leaked) that uses it after
// returning hits the done flag instead of another request's response, which a pooled struct
// could not guarantee without a per-request handle anyway. What is worth pooling (the read and
// write buffers) lives in the connection.
//
// The head is produced in two steps. WriteHeader appends the status line and the handler's
// fields to the output buffer at once (this is the snapshot net/http takes there: later header
// changes only matter for trailers); the fields that depend on how the response ends
// (Content-Length or chunking, Connection, Date) are inserted when the head is committed: when
// the body outgrows the buffer, on Flush or Hijack, or when the handler returns.
type response struct {
	c      *conn
	req    *http.Request
	header http.Header
	// The request's context: rctx, or (when the connection's context can end) a
	// context.WithCancel's context with its cancelFunc. cancel ends either.
	rctx       *requestContext
	cancelFunc context.CancelFunc
	body       reqBody
	fast       *FastConn // set when this is a FastConn's stand-in for its requests

	status        int
	contentLength int64 // declared or computed; -1 unknown
	written       int64 // body bytes accepted from the handler
	headEnd       int   // where the managed fields go in c.out, until committed
	te            []string
	connHdr       []string
	trailers      []string // declared with the Trailer field

	mu               sync.Mutex // with expectContinue: canWriteContinue, and c.out against Body.Read
	canWriteContinue bool

	done atomic.Bool // the handler returned

	watchDone bool // Server.mu, disconnect watcher only: canceled, not probed again

	hasBody          bool
	is11             bool
	isHEAD           bool
	wants10KeepAlive bool
	wantsClose       bool
	expectContinue   bool
	wroteHeader      bool
	committed        bool
	chunking         bool
	closeAfterReply  bool
	handlerDone      bool
	fullDuplex       bool
	hasConnHdr       bool
	hasDate          bool
	hasTrailers      bool
	hasUpgrade       bool
}

// cancel cancels the request's context.
func (w *response) cancel() {
	if w.rctx != nil {
		w.rctx.cancel()
	} else {
		w.cancelFunc()
	}
}

// serveRequest runs the handler for req and completes the response. It reports whether the
// connection may serve another request.
func (c *conn) serveRequest(req *http.Request) bool {
	w := &response{
		c:             c,
		req:           req,
		contentLength: -1,
		headEnd:       -1,
		is11:          req.ProtoAtLeast(1, 1),
		isHEAD:        req.Method == http.MethodHead,
	}
	var ctx context.Context
	if c.ctxDone {
		ctx, w.cancelFunc = context.WithCancel(c.ctx)
	} else {
		w.rctx = &requestContext{Context: c.ctx}
		ctx = w.rctx
	}
	*req = *req.WithContext(ctx) // inlined: no copy escapes
	req.RemoteAddr = c.remoteAddr
	connTokens := req.Header["Connection"]
	w.wants10KeepAlive = req.ProtoMajor == 1 && req.ProtoMinor == 0 && httpguts.HeaderValuesContainsToken(connTokens, "keep-alive")
	w.wantsClose = req.Close || httpguts.HeaderValuesContainsToken(connTokens, "close")
	if isH2Upgrade(req) {
		w.closeAfterReply = true
	}
	if req.Body != http.NoBody {
		w.hasBody = true
		w.body.w = w
		w.body.src = req.Body
		w.body.cl = req.ContentLength
		req.Body = &w.body
		// The body is read without a deadline, as net/http without ReadTimeout.
		c.setReadDeadline(time.Time{})
	}
	c.cur = w
	c.inflight.Store(w)
	defer c.inflight.Store(nil)

	if ex := req.Header["Expect"]; len(ex) > 0 && ex[0] != "" {
		if httpguts.HeaderValuesContainsToken(ex[:1], "100-continue") {
			if w.is11 && req.ContentLength != 0 {
				w.expectContinue = true
				w.canWriteContinue = true
				w.body.expect = true
			}
		} else {
			// RFC 7231 5.1.1, as net/http: 417 and close.
			w.Header().Set("Connection", "close")
			w.writeHeader(http.StatusExpectationFailed)
			w.done.Store(true)
			w.cancel()
			w.finish()
			w.body.shut()
			c.cur = nil
			return false
		}
	}

	panicked := c.runHandler(w, req)
	w.done.Store(true)
	w.cancel()
	if panicked {
		// Close without sending anything more: the client sees a cut response, never a
		// complete-looking one. finalize closes and fences the body off.
		c.out = c.out[:0]
		return false
	}
	if c.hijacked {
		w.body.shut()
		c.cur = nil
		return false
	}
	w.finish()
	keep := !w.closeAfterReply && c.werr == nil
	complete := w.body.shut()
	c.cur = nil
	if !c.wdl.IsZero() {
		c.wdl = time.Time{}
		c.rwc.SetWriteDeadline(time.Time{})
	}
	if !keep {
		if !complete {
			c.lingeringClose()
		}
		return false
	}
	return true
}

func (c *conn) runHandler(w *response, req *http.Request) (panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			panicked = true
			if p != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.s.logf("http: panic serving %v: %v\n%s", c.remoteAddr, p, buf)
			}
		}
	}()
	h := c.s.handler()
	if req.RequestURI == "*" && req.Method == http.MethodOptions {
		h = globalOptionsHandler{}
	}
	h.ServeHTTP(w, req)
	return false
}

// globalOptionsHandler answers "OPTIONS *" as net/http does.
type globalOptionsHandler struct{}

func (globalOptionsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		io.Copy(io.Discard, io.LimitReader(r.Body, 4<<10))
	}
}

func (w *response) logMisuse(what string) {
	caller := "?"
	if pc, file, line, ok := runtime.Caller(2); ok {
		name := "?"
		if f := runtime.FuncForPC(pc); f != nil {
			name = f.Name()
		}
		caller = fmt.Sprintf("%s (%s:%d)", name, path.Base(file), line)
	}
	w.c.s.logf("http: %s from %s", what, caller)
}

// Header returns the response header map.
func (w *response) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

// AdoptHeader makes h the response's header map, when the handler has not put anything in
// the one Header returns yet (it reports false otherwise, and nothing changes). A proxy
// hands over the header of the upstream response it owns this way instead of copying it
// field by field; h belongs to the response from then on.
func (w *response) AdoptHeader(h http.Header) bool {
	if len(w.header) > 0 || w.wroteHeader || h == nil {
		return false
	}
	w.header = h
	return true
}

// WriteHeader sends (logically) the response head. Codes 100 and 102-199 are sent at once as
// informational responses; 101 is a final status.
func (w *response) WriteHeader(code int) {
	if w.done.Load() {
		w.logMisuse("response.WriteHeader after the handler returned")
		return
	}
	if w.c.hijacked {
		w.logMisuse("response.WriteHeader on hijacked connection")
		return
	}
	if w.wroteHeader {
		w.logMisuse("superfluous response.WriteHeader call")
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 101 || code > 199 {
		w.disableContinue()
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.writeInformational(code)
		return
	}
	w.writeHeader(code)
}

func (w *response) disableContinue() {
	if !w.expectContinue {
		return
	}
	w.mu.Lock()
	w.canWriteContinue = false
	w.mu.Unlock()
}

// writeContinue sends "100 Continue"; Body.Read calls it, possibly from another goroutine.
func (w *response) writeContinue() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.canWriteContinue {
		return
	}
	w.canWriteContinue = false
	c := w.c
	c.out = append(c.out, "HTTP/1.1 100 Continue\r\n\r\n"...)
	c.flush()
}

func (w *response) writeInformational(code int) {
	if w.expectContinue {
		w.mu.Lock()
		defer w.mu.Unlock()
	}
	c := w.c
	c.out = appendStatusLine(c.out, w.is11, code)
	w.appendFields(false)
	c.makeRoom(2)
	c.out = append(c.out, "\r\n"...)
	c.flush()
}

// writeHeader records the final status and appends the status line and the handler's fields.
func (w *response) writeHeader(code int) {
	w.wroteHeader = true
	w.status = code
	if cl := w.header["Content-Length"]; len(cl) > 0 && cl[0] != "" {
		v, err := strconv.ParseInt(cl[0], 10, 64)
		if err == nil && v >= 0 {
			w.contentLength = v
		} else {
			w.c.s.logf("http: invalid Content-Length of %q", cl[0])
			delete(w.header, "Content-Length")
		}
	}
	c := w.c
	c.out = appendStatusLine(c.out, w.is11, code)
	w.appendFields(true)
	w.headEnd = len(c.out)
}

// appendFields appends the handler's header fields, sorted by name as net/http does. For the
// final head it leaves out, and records, the fields the server manages.
func (w *response) appendFields(final bool) {
	h := w.header
	if len(h) == 0 {
		return
	}
	c := w.c
	keys := c.keys[:0]
	for k := range h {
		keys = append(keys, k)
	}
	if len(keys) > 1 {
		slices.Sort(keys)
	}
	for _, k := range keys {
		vv := h[k]
		switch k {
		case "Content-Length":
			continue
		case "Transfer-Encoding":
			if final {
				w.te = vv
			}
			continue
		}
		if final {
			switch k {
			case "Connection":
				w.hasConnHdr = true
				w.connHdr = vv
				continue
			case "Date":
				w.hasDate = true
			case "Trailer":
				for _, v := range vv {
					w.hasTrailers = true
					foreachHeaderElement(v, w.declareTrailer)
				}
			case "Upgrade":
				w.hasUpgrade = len(vv) > 0 && vv[0] != ""
			case "Content-Type":
				if w.status == http.StatusNotModified {
					continue
				}
			}
			if strings.HasPrefix(k, http.TrailerPrefix) {
				w.hasTrailers = true
				continue
			}
		}
		if !httpguts.ValidHeaderFieldName(k) {
			continue // as net/http: invalid names are dropped
		}
		for _, v := range vv {
			c.appendField(k, v)
		}
	}
	clear(keys)
	c.keys = keys[:0]
}

func (w *response) declareTrailer(k string) {
	k = http.CanonicalHeaderKey(k)
	if !httpguts.ValidTrailerHeader(k) {
		return
	}
	w.trailers = append(w.trailers, k)
}

// commit completes the head: it decides the framing and whether the connection survives, and
// inserts the managed fields between the handler's fields and the body bytes buffered so far.
// The rules are net/http's (chunkWriter.writeHeader), minus Content-Type sniffing.
func (w *response) commit() {
	c := w.c
	w.committed = true
	keepAlives := !c.s.shuttingDown()
	bodyOK := bodyAllowedForStatus(w.status)
	te := ""
	if len(w.te) > 0 {
		te = w.te[0]
	}
	hasTE := te != ""

	// The handler is done and everything it wrote is buffered: send a Content-Length, even 0.
	// Not for HEAD without bytes: the handler may just have skipped the body.
	if w.handlerDone && !w.hasTrailers && !hasTE && bodyOK && w.contentLength == -1 && (!w.isHEAD || w.written > 0) {
		w.contentLength = w.written
	}
	hasCL := w.contentLength != -1

	keepAliveField := false
	if w.wants10KeepAlive && (w.isHEAD || hasCL || !bodyOK) {
		keepAliveField = !w.hasConnHdr
	} else if !w.is11 || w.wantsClose {
		w.closeAfterReply = true
	}
	if (len(w.connHdr) > 0 && w.connHdr[0] == "close") || !keepAlives {
		w.closeAfterReply = true
	}

	// The request body must be consumed before the next request can be read. Like net/http,
	// do it now (a client that sends its whole request before reading the response would
	// otherwise deadlock with a large response), unless the handler asked for full duplex.
	forceClose := false
	if w.hasBody {
		if w.expectContinue && !w.body.done() {
			// The client may be holding its body back; don't read into it.
			w.closeAfterReply = true
		}
		if !w.closeAfterReply && !w.fullDuplex {
			switch w.body.drain() {
			case drainTooBig:
				w.closeAfterReply = true
				forceClose = true
			case drainFailed:
				w.closeAfterReply = true
			}
		}
	}

	if hasCL && hasTE && te != "identity" {
		c.s.logf("http: WriteHeader called with both Transfer-Encoding of %q and a Content-Length of %d", te, w.contentLength)
		hasCL = false
		w.contentLength = -1
	}
	emitCL := false
	switch {
	case w.isHEAD || !bodyOK:
		emitCL = hasCL && bodyOK
	case hasCL:
		emitCL = true
	case w.is11:
		if te == "identity" {
			w.closeAfterReply = true // close-delimited, as net/http (SSE-style)
		} else {
			w.chunking = true
		}
	default:
		w.closeAfterReply = true // HTTP/1.0 without a length: close-delimited
	}

	ext := c.scratch[:0]
	if emitCL {
		ext = append(ext, "Content-Length: "...)
		ext = strconv.AppendInt(ext, w.contentLength, 10)
		ext = append(ext, "\r\n"...)
	}
	if w.chunking {
		for _, v := range w.te {
			if v != "" && !strings.EqualFold(v, "chunked") && !strings.EqualFold(v, "identity") {
				ext = appendField(ext, "Transfer-Encoding", v)
			}
		}
		ext = append(ext, "Transfer-Encoding: chunked\r\n"...)
	}
	protoSwitch := w.status == http.StatusSwitchingProtocols && w.hasUpgrade &&
		httpguts.HeaderValuesContainsToken(w.connHdr, "Upgrade")
	if w.closeAfterReply && !protoSwitch {
		if w.is11 || forceClose || httpguts.HeaderValuesContainsToken(w.connHdr, "close") {
			ext = append(ext, "Connection: close\r\n"...)
		}
	} else {
		for _, v := range w.connHdr {
			ext = appendField(ext, "Connection", v)
		}
		if keepAliveField {
			ext = append(ext, "Connection: keep-alive\r\n"...)
		}
	}
	if !w.hasDate {
		ext = appendDate(ext)
	}
	ext = append(ext, "\r\n"...)
	pending := len(c.out) - w.headEnd // body bytes buffered so far (never any for HEAD)
	if w.chunking && pending > 0 {
		ext = strconv.AppendUint(ext, uint64(pending), 16)
		ext = append(ext, "\r\n"...)
	}
	c.scratch = ext
	c.insert(w.headEnd, ext)
	w.headEnd = -1
	if w.chunking && pending > 0 {
		c.makeRoom(2)
		c.out = append(c.out, "\r\n"...)
	}
}

// Write sends body bytes. Until the head is committed they are buffered (so a small response
// gets a Content-Length and leaves in one write); afterwards they are framed and queued.
func (w *response) Write(p []byte) (int, error) {
	if w.done.Load() {
		return 0, errResponseDone
	}
	c := w.c
	if c.hijacked {
		if len(p) > 0 {
			w.logMisuse("response.Write on hijacked connection")
		}
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.disableContinue()
		w.writeHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if c.werr != nil {
		return 0, c.werr
	}
	w.written += int64(len(p))
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if !w.committed {
		if int64(w.headEnd)+w.written+commitReserve <= int64(cap(c.out)) {
			if !w.isHEAD {
				c.out = append(c.out, p...)
			}
			return len(p), nil
		}
		w.commit()
	}
	if !w.isHEAD { // HEAD: counted, not sent
		if w.chunking {
			c.writeChunk(p)
		} else {
			c.write(p)
		}
	}
	if c.werr != nil {
		return 0, c.werr
	}
	return len(p), nil
}

// WriteString is Write without the conversion copy.
func (w *response) WriteString(s string) (int, error) {
	return w.Write(stringBytes(s))
}

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writerOnly hides ReadFrom from io.CopyBuffer.
type writerOnly struct{ io.Writer }

// ReadFrom copies src with a pooled buffer (io.Copy would allocate 32 KiB per call).
func (w *response) ReadFrom(src io.Reader) (int64, error) {
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	return io.CopyBuffer(writerOnly{w}, src, *bp)
}

// Flush sends the head (if needed) and everything buffered to the client now.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush reporting the write error (http.ResponseController uses it).
func (w *response) FlushError() error {
	if w.done.Load() {
		return errResponseDone
	}
	c := w.c
	if c.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.disableContinue()
		w.writeHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit()
	}
	c.flush()
	return c.werr
}

// Hijack hands the connection over. A head already written (WriteHeader) is completed and sent
// first; bytes the client sent past the request are in the returned reader.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.done.Load() {
		return nil, nil, errResponseDone
	}
	c := w.c
	if c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	w.disableContinue()
	if w.wroteHeader && !w.committed {
		w.commit()
	}
	c.flush()
	c.hijacked = true
	c.lr.remain = math.MaxInt64
	c.rwc.SetDeadline(time.Time{})
	c.rdl, c.wdl = time.Time{}, time.Time{}
	c.s.untrackConn(c)
	c.setState(http.StateHijacked)
	return c.rwc, bufio.NewReadWriter(c.br, bufio.NewWriterSize(c.rwc, outBufSize)), nil
}

// SetReadDeadline sets the connection's read deadline (http.ResponseController).
func (w *response) SetReadDeadline(t time.Time) error {
	if w.done.Load() {
		return errResponseDone
	}
	w.c.rdl = t
	return w.c.rwc.SetReadDeadline(t)
}

// SetWriteDeadline sets the connection's write deadline (http.ResponseController); it is
// cleared after the response.
func (w *response) SetWriteDeadline(t time.Time) error {
	if w.done.Load() {
		return errResponseDone
	}
	w.c.wdl = t
	return w.c.rwc.SetWriteDeadline(t)
}

// EnableFullDuplex lets the handler keep reading the request body after the response head is
// sent (http.ResponseController); otherwise the rest of the body is consumed at that point.
func (w *response) EnableFullDuplex() error {
	if w.done.Load() {
		return errResponseDone
	}
	w.fullDuplex = true
	return nil
}

// finish completes the response after the handler returned.
func (w *response) finish() {
	c := w.c
	w.handlerDone = true
	w.disableContinue()
	if !w.wroteHeader {
		w.writeHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit()
	}
	if w.chunking {
		w.writeTrailers()
	}
	if !w.isHEAD && w.contentLength != -1 && bodyAllowedForStatus(w.status) && w.contentLength != w.written {
		w.closeAfterReply = true // short (or long) body: the framing is broken
	}
	c.flush()
	if w.hasBody && !w.closeAfterReply && c.werr == nil {
		// Only left after full duplex: the same rule as at commit.
		if w.body.drain() != drainOK {
			w.closeAfterReply = true
		}
	}
}

// writeTrailers ends a chunked body: the last chunk, then the trailers (fields named with
// http.TrailerPrefix, then those declared in the Trailer field).
func (w *response) writeTrailers() {
	c := w.c
	c.makeRoom(3)
	c.out = append(c.out, "0\r\n"...)
	if h := w.header; len(h) > 0 {
		keys := c.keys[:0]
		for k := range h {
			if strings.HasPrefix(k, http.TrailerPrefix) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			name := k[len(http.TrailerPrefix):]
			if !httpguts.ValidHeaderFieldName(name) {
				continue
			}
			for _, v := range h[k] {
				c.appendField(name, v)
			}
		}
		clear(keys)
		c.keys = keys[:0]
		for _, k := range w.trailers {
			for _, v := range h[k] {
				c.appendField(k, v)
			}
		}
	}
	c.makeRoom(2)
	c.out = append(c.out, "\r\n"...)
}

// insert puts ext at pos in c.out, or sends c.out[:pos], ext and the rest in one writev when
// they do not fit.
func (c *conn) insert(pos int, ext []byte) {
	n := len(c.out)
	if n+len(ext) <= cap(c.out) {
		c.out = c.out[:n+len(ext)]
		copy(c.out[pos+len(ext):], c.out[pos:n])
		copy(c.out[pos:], ext)
		return
	}
	c.writev(c.out[:pos], ext, c.out[pos:n])
	c.out = c.out[:0]
}
