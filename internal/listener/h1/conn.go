package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pylon-gateway/pylon/internal/h1head"
	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
)

const (
	readBufSize   = 4 << 10
	outBufSize    = 4 << 10
	lingerTimeout = 500 * time.Millisecond // as net/http's rstAvoidanceDelay
)

var (
	readerPool sync.Pool // *bufio.Reader
	outPool    sync.Pool // *[]byte, cap outBufSize
)

func getReader(r io.Reader) *bufio.Reader {
	if v := readerPool.Get(); v != nil {
		br := v.(*bufio.Reader)
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, readBufSize)
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readerPool.Put(br)
}

func getOut() []byte {
	if v := outPool.Get(); v != nil {
		return (*(v.(*[]byte)))[:0]
	}
	return make([]byte, 0, outBufSize)
}

func putOut(b []byte) {
	if cap(b) != outBufSize {
		return // grown by a huge header line; let it go
	}
	b = b[:0]
	outPool.Put(&b)
}

// connReader is the bufio.Reader's source: it stops (io.EOF) after remain bytes, which bounds
// what ReadRequest may consume for a request head (net/http's connReader does the same).
type connReader struct {
	c      net.Conn
	remain int64
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.c.Read(p)
	r.remain -= int64(n)
	return n, err
}

// conn is one accepted connection. Everything but state, closedByServer (under Server.mu) and
// the writes of a 100 Continue (under response.mu) belongs to the connection's goroutine,
// which is also the handler's goroutine.
type conn struct {
	s          *Server
	rwc        net.Conn
	remoteAddr string
	ctx        context.Context // the listener's base context + LocalAddrContextKey
	ctxDone    bool            // ctx can be canceled: requests get context.WithCancel's context

	lr  connReader
	br  *bufio.Reader
	out []byte // pending output: at most one syscall per flush

	iovArr  [3][]byte
	iov     net.Buffers
	scratch []byte   // managed header fields built at commit
	keys    []string // header key sorting

	werr       error     // first write error; the connection is not reused after one
	cur        *response // request being served
	hijacked   bool
	rdl, wdl   time.Time // read/write deadlines currently set on rwc
	lastMethod string

	fast *FastConn // Server.Fast's view of the connection, made for its first offer

	inflight       atomic.Pointer[response] // request in progress, for Server.Close
	state          atomic.Int32             // http.ConnState
	newAt          int64                    // accept time, unix seconds
	closedByServer bool                     // Server.mu
	watchSeen      *response                // Server.mu, disconnect watcher only: in flight at its last tick
}

func (c *conn) setState(st http.ConnState) {
	c.state.Store(int32(st))
	if hook := c.s.ConnState; hook != nil {
		hook(c.rwc, st)
	}
}

func (c *conn) setReadDeadline(t time.Time) {
	if t.Equal(c.rdl) {
		return
	}
	c.rdl = t
	c.rwc.SetReadDeadline(t)
}

// armIdle sets the keep-alive deadline. Deadline updates cost a timer operation each, so a
// deadline set less than 1/8 of the timeout (at most 1s) ago is kept as it is: the idle limit
// is then up to that much shorter than IdleTimeout.
func (c *conn) armIdle() {
	d := c.s.IdleTimeout
	if d <= 0 {
		c.setReadDeadline(time.Time{})
		return
	}
	want := time.Now().Add(d)
	slack := min(d/8, time.Second)
	if !c.rdl.IsZero() && !c.rdl.After(want) && c.rdl.After(want.Add(-slack)) {
		return
	}
	c.setReadDeadline(want)
}

func (c *conn) serve(ctx context.Context) {
	s := c.s
	defer c.finalize()
	if ra := c.rwc.RemoteAddr(); ra != nil {
		c.remoteAddr = ra.String()
	}
	c.ctx = context.WithValue(ctx, http.LocalAddrContextKey, c.rwc.LocalAddr())
	c.ctxDone = c.ctx.Done() != nil
	c.lr.c = c.rwc
	c.br = getReader(&c.lr)
	c.out = getOut()
	limit := s.headerLimit()

	// A new connection gets ReadHeaderTimeout for its first request; without one it is treated
	// as idle (net/http would wait forever).
	if d := s.ReadHeaderTimeout; d > 0 {
		c.setReadDeadline(time.Now().Add(d))
	} else if d := s.IdleTimeout; d > 0 {
		c.setReadDeadline(time.Now().Add(d))
	}

	for first := true; ; first = false {
		c.lr.remain = limit
		if !first {
			c.setState(http.StateIdle)
			if s.shuttingDown() {
				return
			}
			c.armIdle()
		}
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		if first && s.h2 != nil && c.sawH2Preface() {
			c.serveH2()
			return
		}
		c.setState(http.StateActive)
		if d := s.ReadHeaderTimeout; d > 0 && !first {
			c.setReadDeadline(time.Now().Add(d))
		}
		if s.Fast != nil {
			if served, keep := c.serveFast(); served {
				if !keep {
					return
				}
				continue
			}
		}
		req, err := c.readRequest()
		if err != nil {
			c.replyReadError(err)
			return
		}
		if !c.serveRequest(req) {
			return
		}
	}
}

// finalize runs when the connection's goroutine ends.
func (c *conn) finalize() {
	if p := recover(); p != nil {
		buf := make([]byte, 64<<10)
		buf = buf[:runtime.Stack(buf, false)]
		c.s.logf("h1: internal panic serving %v: %v\n%s", c.remoteAddr, p, buf)
		c.br = nil // may be in an unknown state: do not pool it
	}
	if c.hijacked {
		if c.out != nil {
			putOut(c.out)
			c.out = nil
		}
		return // the reader went to the hijacker
	}
	c.rwc.Close()
	if w := c.cur; w != nil {
		// A goroutine the handler left behind may still read the body: wait for it (the
		// close above ends a blocked read) and fence it off before the reader is reused.
		w.body.shut()
		c.cur = nil
	}
	c.setState(http.StateClosed)
	c.s.untrackConn(c)
	if c.br != nil {
		putReader(c.br)
		c.br = nil
	}
	if c.out != nil {
		putOut(c.out)
		c.out = nil
	}
}

var errTooLarge = errors.New("h1: request head too large")

type statusError struct {
	code int
	text string
}

func (e statusError) Error() string { return http.StatusText(e.code) + ": " + e.text }

func badRequest(text string) error { return statusError{http.StatusBadRequest, text} }

// readRequest reads the next request head with http.ReadRequest and applies the checks net/http's
// server adds on top of it.
func (c *conn) readRequest() (*http.Request, error) {
	if c.lastMethod == "POST" {
		c.skipPostCRLF()
	}
	if req := c.readPlainRequest(); req != nil {
		return req, nil
	}
	req, err := http.ReadRequest(c.br)
	if err != nil {
		if c.lr.remain <= 0 {
			return nil, errTooLarge
		}
		return nil, err
	}
	c.lr.remain = math.MaxInt64
	if !(req.ProtoMajor == 1 || isH2Upgrade(req)) {
		return nil, statusError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
	}
	c.lastMethod = req.Method
	// http.ReadRequest moves the Host field to req.Host (rejecting duplicates) and deletes it
	// from req.Header, so unlike net/http's server an empty Host field cannot be told from a
	// missing one (both are rejected), and an absolute-form target supplies the host.
	if req.Host == "" && req.ProtoAtLeast(1, 1) && !isH2Upgrade(req) && req.Method != "CONNECT" {
		return nil, badRequest("missing required Host header")
	}
	if !httpguts.ValidHostHeader(req.Host) {
		return nil, badRequest("malformed Host header")
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, badRequest("invalid header name")
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, badRequest("invalid header value")
			}
		}
	}
	if req.Body == nil {
		req.Body = http.NoBody
	}
	return req, nil
}

// skipPostCRLF drops the CR and LF bytes buffered at the start of the next request: RFC 7230
// section 3 tolerates a CRLF after a POST body from old clients.
func (c *conn) skipPostCRLF() {
	b, _ := c.br.Peek(c.br.Buffered())
	n := 0
	for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
		n++
	}
	c.br.Discard(n)
}

// readPlainRequest parses a request head that is already whole in the read buffer with
// h1head's fast path, which builds the request http.ReadRequest would for the plain heads it
// accepts and validates what the checks below would. It returns nil (nothing consumed) for
// anything else, and readRequest goes the standard way.
func (c *conn) readPlainRequest() *http.Request {
	b, _ := c.br.Peek(c.br.Buffered())
	n := h1head.HeadLen(b)
	if n < 0 || int64(n) > c.s.headerLimit() {
		return nil
	}
	req, ok := h1head.ParseRequest(b[:n])
	if !ok || req.Host == "" && req.ProtoMinor == 1 {
		return nil // the standard path gives the precise error
	}
	if !httpguts.ValidHostHeader(req.Host) {
		return nil
	}
	c.br.Discard(n)
	c.lr.remain = math.MaxInt64
	c.lastMethod = req.Method
	if req.ContentLength > 0 {
		req.Body = h1head.NewBody(c.br, req.ContentLength)
	} else {
		req.Body = http.NoBody
	}
	return req
}

// isH2Upgrade reports a "PRI * HTTP/2.0" request: net/http hands it to the handler (and then
// closes) when h2c is off, so handlers can wire their own HTTP/2.
func isH2Upgrade(r *http.Request) bool {
	return r.Method == "PRI" && r.RequestURI == "*" && r.ProtoMajor == 2 && r.ProtoMinor == 0
}

const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// replyReadError answers a request that could not be read, as net/http does; the connection is
// then closed.
func (c *conn) replyReadError(err error) {
	var se statusError
	switch {
	case err == errTooLarge:
		const msg = "431 Request Header Fields Too Large"
		c.out = append(c.out[:0], "HTTP/1.1 "+msg+errorHeaders+msg...)
		c.lingeringClose()
		return
	case isUnsupportedTEError(err):
		const msg = "501 Not Implemented"
		c.out = append(c.out[:0], "HTTP/1.1 "+msg+errorHeaders+"Unsupported transfer encoding"...)
	case isCommonNetReadError(err):
		return
	case errors.As(err, &se):
		line := strconv.Itoa(se.code) + " " + http.StatusText(se.code) + ": " + se.text
		c.out = append(c.out[:0], "HTTP/1.1 "...)
		c.out = append(c.out, line...)
		c.out = append(c.out, errorHeaders...)
		c.out = append(c.out, line...)
	default:
		const msg = "400 Bad Request"
		c.out = append(c.out[:0], "HTTP/1.1 "+msg+errorHeaders+msg...)
	}
	c.flush()
}

func isUnsupportedTEError(err error) bool {
	// net/http's unsupportedTEError is unexported; its message is stable.
	return strings.HasPrefix(err.Error(), "unsupported transfer encoding")
}

func isCommonNetReadError(err error) bool {
	if err == io.EOF {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}

// lingeringClose sends what is pending, half-closes, and reads (and drops) what the client
// still sends until it closes or lingerTimeout passes, so that closing with unread input does
// not reset the connection and destroy the response in the client's receive buffer. net/http
// sleeps 500ms instead; this returns as soon as the client closes.
func (c *conn) lingeringClose() {
	c.flush()
	if c.werr != nil {
		return
	}
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() != nil {
			return
		}
	}
	c.rwc.SetReadDeadline(time.Now().Add(lingerTimeout))
	c.rdl = time.Time{} // unknown from here on; the conn is about to close
	buf := c.out[:cap(c.out)]
	for {
		if _, err := c.rwc.Read(buf); err != nil {
			return
		}
	}
}

// Output. Bytes collect in c.out and leave in one write (or one writev) per flush.

func (c *conn) setWriteErr(err error) {
	if c.werr == nil {
		c.werr = err
		if c.cur != nil {
			// As net/http: a failed write is how a vanished client is noticed.
			c.cur.cancel()
		}
	}
}

func (c *conn) flush() {
	if len(c.out) > 0 && c.werr == nil {
		if _, err := c.rwc.Write(c.out); err != nil {
			c.setWriteErr(err)
		}
	}
	c.out = c.out[:0]
}

func (c *conn) writev(bufs ...[]byte) {
	if c.werr != nil {
		return
	}
	c.iov = append(c.iovArr[:0], bufs...)
	_, err := c.iov.WriteTo(c.rwc)
	c.iovArr = [3][]byte{}
	c.iov = nil
	if err != nil {
		c.setWriteErr(err)
	}
}

// write queues p, sending c.out and p together when they do not fit.
func (c *conn) write(p []byte) {
	if c.werr != nil {
		return
	}
	if len(c.out)+len(p) <= cap(c.out) {
		c.out = append(c.out, p...)
		return
	}
	if len(c.out) == 0 {
		if _, err := c.rwc.Write(p); err != nil {
			c.setWriteErr(err)
		}
		return
	}
	c.writev(c.out, p)
	c.out = c.out[:0]
}

const maxChunkHeader = 16 + 2 // hex digits of an int64 + CRLF

// writeChunk queues p as one chunk of a chunked body.
func (c *conn) writeChunk(p []byte) {
	if c.werr != nil || len(p) == 0 {
		return
	}
	if len(c.out)+maxChunkHeader+len(p)+2 <= cap(c.out) {
		c.out = strconv.AppendUint(c.out, uint64(len(p)), 16)
		c.out = append(c.out, "\r\n"...)
		c.out = append(c.out, p...)
		c.out = append(c.out, "\r\n"...)
		return
	}
	if len(c.out)+maxChunkHeader > cap(c.out) {
		c.flush()
	}
	c.out = strconv.AppendUint(c.out, uint64(len(p)), 16)
	c.out = append(c.out, "\r\n"...)
	c.writev(c.out, p)
	c.out = append(c.out[:0], "\r\n"...)
}

// makeRoom flushes c.out when n more bytes would not fit.
func (c *conn) makeRoom(n int) {
	if len(c.out) > 0 && len(c.out)+n > cap(c.out) {
		c.flush()
	}
}

// HTTP/2 with prior knowledge.

var h2Preface = []byte(http2.ClientPreface)

// sawH2Preface reports whether the connection starts with the HTTP/2 client preface. It only
// waits for more bytes while what arrived so far is a prefix of the preface.
func (c *conn) sawH2Preface() bool {
	for {
		n := min(c.br.Buffered(), len(h2Preface))
		b, _ := c.br.Peek(n)
		if !bytes.Equal(b, h2Preface[:n]) {
			return false
		}
		if n == len(h2Preface) {
			return true
		}
		if _, err := c.br.Peek(n + 1); err != nil {
			return false // ReadRequest reports it
		}
	}
}

// h2Conn replays the bytes the detection buffered before reading the connection.
type h2Conn struct {
	net.Conn
	pre []byte
}

func (c *h2Conn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *conn) serveH2() {
	s := c.s
	if s.shuttingDown() {
		return
	}
	buffered, _ := c.br.Peek(c.br.Buffered())
	hc := &h2Conn{Conn: c.rwc, pre: bytes.Clone(buffered)}
	putReader(c.br)
	c.br = nil
	putOut(c.out)
	c.out = nil
	c.rwc.SetReadDeadline(time.Time{})
	c.rwc.SetWriteDeadline(time.Time{})
	c.rdl, c.wdl = time.Time{}, time.Time{}
	c.state.Store(int32(http.StateActive)) // as net/http: no hook, never idle for Shutdown
	s.h2.ServeConn(hc, &http2.ServeConnOpts{
		Context:    c.ctx,
		Handler:    s.handler(),
		BaseConfig: h2BaseConfig(s.base),
	})
}
