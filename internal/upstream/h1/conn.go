package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pylon-gateway/pylon/internal/h1head"
)

// persistConn is one connection with its buffers. Outside the pool it belongs to the one
// exchange using it; only onCancel (closing the net.Conn) may run on another goroutine.
type persistConn struct {
	t        *Transport
	pool     *pool
	conn     net.Conn
	br       *bufio.Reader // reads through the persistConn (Read)
	bw       *bufio.Writer // writes through the persistConn (Write)
	tls      *tls.ConnectionState
	onCancel func() // pc.cancel, bound once

	idleAt time.Time // when it was put in the idle stack; guarded by pool.mu while idle
	reused bool      // served an exchange before the current one

	// timer bounds the exchanges of RoundTripTimeout: created with the connection's first
	// such exchange and re-armed for each one (no allocation per request). When it fires it
	// sets timedOut and closes the connection, as a context deadline would through stop.
	timer    *time.Timer
	timedOut atomic.Bool

	// State of the current exchange.
	stop      func() bool    // stops the context.AfterFunc; nil when there is none
	notifier  cancelNotifier // or the context that notifies onCancel; nil when none
	armed     bool           // timer is armed for this exchange
	nread     int64          // bytes read from conn
	nwritten  int64          // bytes written to conn
	werr      error          // first error writing to conn
	readLimit int64          // bytes left for the response head; -1 when not reading one
	limitHit  bool           // the response head outgrew readLimit
	noBlock   bool           // reads must not touch the network (draining)
	broken    bool           // must not be reused after this exchange
	lr        io.LimitedReader
}

// result is the outcome of an exchange that returned no response.
type result struct {
	err      error
	retry    bool // safe to send again on another connection
	bodyRead bool // the request body was read from
	early    bool // the response came while the request body was being written
}

// cancel runs from context.AfterFunc when the request's context ends: it closes the
// connection so that the I/O blocked on it returns.
func (pc *persistConn) cancel() { pc.conn.Close() }

// timeout runs from the timer when a RoundTripTimeout deadline passes.
func (pc *persistConn) timeout() {
	pc.timedOut.Store(true)
	pc.conn.Close()
}

// arm starts the deadline timer for this exchange (a zero deadline sets none).
func (pc *persistConn) arm(deadline time.Time) {
	if deadline.IsZero() {
		return
	}
	d := time.Until(deadline)
	if pc.timer == nil {
		pc.timer = time.AfterFunc(d, pc.timeout)
	} else {
		pc.timer.Reset(d)
	}
	pc.armed = true
}

// cancelNotifier is a context that can run one function when it is canceled without
// context.AfterFunc's allocations: the request contexts of Pylon's HTTP/1.1 server
// (internal/listener/h1) are, when the transport is handed one as it is.
type cancelNotifier interface {
	NotifyCancel(f func()) bool
	StopNotify() bool
}

// watch arranges for the connection to close when ctx ends.
func (pc *persistConn) watch(ctx context.Context) {
	if n, ok := ctx.(cancelNotifier); ok && n.NotifyCancel(pc.onCancel) {
		pc.notifier = n
		return
	}
	if ctx.Done() != nil {
		pc.stop = context.AfterFunc(ctx, pc.onCancel)
	}
}

// disarm stops the context watch and the deadline timer of the exchange. It reports false
// when either already fired: the connection is closed or closing.
func (pc *persistConn) disarm() bool {
	ok := true
	switch {
	case pc.notifier != nil:
		ok = pc.notifier.StopNotify()
		pc.notifier = nil
	case pc.stop != nil:
		ok = pc.stop()
		pc.stop = nil
	}
	if pc.armed {
		pc.armed = false
		if !pc.timer.Stop() {
			// Fired, though timeout may not have run yet: record it now so that
			// ctxErr reports the deadline either way.
			pc.timedOut.Store(true)
			ok = false
		}
	}
	return ok
}

// ctxErr is the reason the exchange was cut short: the context's error, or
// context.DeadlineExceeded when the RoundTripTimeout deadline passed; nil if neither.
func (pc *persistConn) ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if pc.timedOut.Load() {
		return context.DeadlineExceeded
	}
	return nil
}

// Read is the bufio.Reader's source: it counts bytes and bounds the response head.
func (pc *persistConn) Read(p []byte) (int, error) {
	if pc.noBlock {
		return 0, errWouldBlock
	}
	if pc.readLimit >= 0 {
		if pc.readLimit == 0 {
			pc.limitHit = true
			return 0, errHeaderTooLarge
		}
		if int64(len(p)) > pc.readLimit {
			p = p[:pc.readLimit]
		}
	}
	n, err := pc.conn.Read(p)
	pc.nread += int64(n)
	if pc.readLimit > 0 {
		pc.readLimit -= int64(n)
	}
	return n, err
}

// Write is the bufio.Writer's sink: it counts bytes and keeps the first error, which tells
// a failed connection from a failed request body.
func (pc *persistConn) Write(p []byte) (int, error) {
	n, err := pc.conn.Write(p)
	pc.nwritten += int64(n)
	if err != nil && pc.werr == nil {
		pc.werr = err
	}
	return n, err
}

// roundTrip runs one exchange. Unless it returns a response whose body streams from the
// connection, the connection is back in the pool or closed when it returns.
func (pc *persistConn) roundTrip(ctx context.Context, req *http.Request, body io.ReadCloser, cl int64, deadline time.Time) (*http.Response, result) {
	pc.nread, pc.nwritten, pc.werr, pc.broken = 0, 0, nil, false
	pc.watch(ctx)
	pc.arm(deadline)
	closing := wantsClose(req)
	bodyRead, err := pc.writeRequest(req, body, cl, closing)
	if err != nil {
		if pc.werr == nil && pc.ctxErr(ctx) == nil {
			// The request body failed (or was short), not the connection.
			pc.destroy()
			return nil, result{err: err}
		}
		if pc.ctxErr(ctx) == nil {
			// The upstream may have answered early (a 413, say) and closed without
			// reading the body: return the answer if it is there.
			if resp, rerr := pc.readResponse(req); rerr == nil {
				pc.broken = true
				resp, res := pc.deliver(ctx, resp)
				res.early = true
				return resp, res
			}
		}
		return nil, pc.fail(ctx, req, body, bodyRead, err)
	}
	resp, err := pc.readResponse(req)
	if err != nil {
		return nil, pc.fail(ctx, req, body, bodyRead, err)
	}
	if closing {
		pc.broken = true
	}
	return pc.deliver(ctx, resp)
}

// fail closes the connection after a failed exchange and decides whether the request may
// be sent again: only when the connection was reused (an upstream may have closed it while
// idle), no byte of a response arrived, the body can be sent again, and either nothing was
// written or the request is idempotent.
func (pc *persistConn) fail(ctx context.Context, req *http.Request, body io.ReadCloser, bodyRead bool, err error) result {
	reused, nread, nwritten := pc.reused, pc.nread, pc.nwritten
	pc.destroy()
	if cerr := pc.ctxErr(ctx); cerr != nil {
		return result{err: &canceledError{cerr}}
	}
	res := result{err: err, bodyRead: bodyRead}
	if reused && nread == 0 {
		replayable := body == nil || !bodyRead || req.GetBody != nil
		res.retry = replayable && (nwritten == 0 || idempotent(req))
	}
	return res
}

// deliver hands the response over, with a body that returns the connection at its end.
func (pc *persistConn) deliver(ctx context.Context, resp *http.Response) (*http.Response, result) {
	resp.TLS = pc.tls
	if resp.Close {
		pc.broken = true
	}
	switch {
	case resp.StatusCode == http.StatusSwitchingProtocols:
		// The connection now carries another protocol, owned by the caller; the
		// request's context no longer governs it.
		if !pc.disarm() {
			err := pc.ctxErr(ctx)
			pc.destroy()
			return nil, result{err: &canceledError{err}}
		}
		resp.Body = &upgradeBody{pc: pc}
	case resp.Body == http.NoBody:
		pc.finish(true)
	default:
		resp.Body = &bodyReader{pc: pc, conn: pc.conn, rc: resp.Body, ctx: ctx}
	}
	return resp, result{}
}

// finish ends the exchange: the connection goes back to the pool if it can be reused.
func (pc *persistConn) finish(reuse bool) {
	if !pc.disarm() {
		reuse = false // the context ended or the deadline passed: the connection is closed or closing
	}
	if reuse && !pc.broken && pc.br.Buffered() == 0 {
		pc.pool.put(pc)
		return
	}
	pc.destroy()
}

// destroy closes a connection taken from the pool and frees its slot.
func (pc *persistConn) destroy() {
	pc.disarm()
	pc.discard()
	pc.pool.release(1)
}

// discard closes the connection and recycles its buffers. Nothing may use it any more
// (except a cancel already running, which only closes the net.Conn).
func (pc *persistConn) discard() {
	pc.conn.Close()
	if br := pc.br; br != nil {
		pc.br = nil
		br.Reset(nil)
		pc.t.readers.Put(br)
	}
	if bw := pc.bw; bw != nil {
		pc.bw = nil
		bw.Reset(nil)
		pc.t.writers.Put(bw)
	}
}

// writeRequest writes the request head and body and flushes. bodyRead reports whether the
// body was read from.
func (pc *persistConn) writeRequest(req *http.Request, body io.Reader, cl int64, closing bool) (bodyRead bool, err error) {
	bw := pc.bw
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	bw.WriteString(method)
	bw.WriteByte(' ')
	if u := req.URL; u.Opaque != "" {
		bw.WriteString(u.RequestURI())
	} else {
		path := u.EscapedPath()
		if path == "" {
			path = "/"
		}
		bw.WriteString(path)
		if u.ForceQuery || u.RawQuery != "" {
			bw.WriteByte('?')
			bw.WriteString(u.RawQuery)
		}
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	if req.Host != "" {
		bw.WriteString(req.Host)
	} else {
		bw.WriteString(req.URL.Host)
	}
	bw.WriteString("\r\n")
	for k, vv := range req.Header {
		if skipHeader(k) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if closing && req.Close && !hasCloseHeader(req.Header) {
		bw.WriteString("Connection: close\r\n")
	}
	chunked := false
	switch {
	case body == nil:
		switch method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			bw.WriteString("Content-Length: 0\r\n")
		}
	case cl > 0:
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), cl, 10))
		bw.WriteString("\r\n")
	default:
		chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		if len(req.Trailer) > 0 {
			keys := make([]string, 0, len(req.Trailer))
			for k := range req.Trailer {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			bw.WriteString("Trailer: ")
			bw.WriteString(strings.Join(keys, ", "))
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("\r\n")
	switch {
	case body == nil:
		return false, pc.flush()
	case chunked:
		return true, pc.writeChunked(body, req)
	}
	return true, pc.writeFixed(body, cl)
}

// skipHeader reports header fields the transport writes itself.
func skipHeader(k string) bool {
	switch len(k) {
	case 4:
		return strings.EqualFold(k, "Host")
	case 7:
		return strings.EqualFold(k, "Trailer")
	case 14:
		return strings.EqualFold(k, "Content-Length")
	case 17:
		return strings.EqualFold(k, "Transfer-Encoding")
	}
	return false
}

func hasCloseHeader(h http.Header) bool {
	for _, v := range h["Connection"] {
		if strings.Contains(strings.ToLower(v), "close") {
			return true
		}
	}
	return false
}

func (pc *persistConn) flush() error {
	if err := pc.bw.Flush(); err != nil {
		return &opError{"write request", err}
	}
	return nil
}

// writeFixed copies exactly cl body bytes, read straight into the write buffer.
func (pc *persistConn) writeFixed(body io.Reader, cl int64) error {
	pc.lr = io.LimitedReader{R: body, N: cl}
	n, err := pc.bw.ReadFrom(&pc.lr)
	pc.lr.R = nil
	switch {
	case pc.werr != nil:
		return &opError{"write request", pc.werr}
	case err != nil:
		return &opError{"read request body", err}
	case n < cl:
		return errShortBody
	}
	return pc.flush()
}

// chunkReserve is room left before a chunk's data for its size line: 8 hex digits and CRLF.
const chunkReserve = 10

// writeChunked sends the body in chunked encoding, each chunk flushed as soon as it is
// read so that a streaming body streams. A chunk is read into the write buffer behind room
// for its size line, then moved up against it: no copy through another buffer.
func (pc *persistConn) writeChunked(body io.Reader, req *http.Request) error {
	bw := pc.bw
	empty := 0
	for {
		if bw.Available() < chunkReserve+2+512 {
			if err := pc.flush(); err != nil {
				return err
			}
		}
		buf := bw.AvailableBuffer()
		buf = buf[:min(cap(buf), 1<<30)]
		n, rerr := body.Read(buf[chunkReserve : len(buf)-2])
		if n > 0 {
			empty = 0
			h := strconv.AppendUint(buf[:0], uint64(n), 16)
			h = append(h, '\r', '\n')
			m := len(h)
			copy(buf[m:], buf[chunkReserve:chunkReserve+n])
			buf[m+n] = '\r'
			buf[m+n+1] = '\n'
			bw.Write(buf[:m+n+2])
		} else if rerr == nil {
			if empty++; empty >= 100 {
				rerr = io.ErrNoProgress
			}
		}
		switch {
		case rerr == io.EOF:
			bw.WriteString("0\r\n")
			for k, vv := range req.Trailer {
				for _, v := range vv {
					bw.WriteString(k)
					bw.WriteString(": ")
					bw.WriteString(v)
					bw.WriteString("\r\n")
				}
			}
			bw.WriteString("\r\n")
			return pc.flush()
		case rerr != nil:
			if pc.werr != nil {
				return &opError{"write request", pc.werr}
			}
			return &opError{"read request body", rerr}
		case n > 0:
			if err := pc.flush(); err != nil {
				return err
			}
		}
	}
}

// readResponse reads the response head, skipping interim (1xx) responses other than 101.
func (pc *persistConn) readResponse(req *http.Request) (*http.Response, error) {
	pc.readLimit = pc.t.maxHeaderBytes()
	pc.limitHit = false
	for {
		resp, err := pc.readPlainResponse(req)
		if resp == nil && err == nil {
			resp, err = http.ReadResponse(pc.br, req)
		}
		if err != nil {
			pc.readLimit = -1
			switch {
			case pc.limitHit:
				return nil, errHeaderTooLarge
			case pc.nread == 0 && (err == io.ErrUnexpectedEOF || err == io.EOF):
				return nil, errConnClosedEarly
			}
			return nil, &opError{"read response", err}
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue
		}
		pc.readLimit = -1
		return resp, nil
	}
}

// readPlainResponse waits for the first bytes of the response and, when its whole head is
// then in the buffer, parses it with h1head's fast path (the response http.ReadResponse
// would build, for the plain heads it accepts). It returns nil and no error, with nothing
// consumed, for anything else: readResponse goes the standard way.
func (pc *persistConn) readPlainResponse(req *http.Request) (*http.Response, error) {
	if _, err := pc.br.Peek(1); err != nil {
		return nil, err
	}
	b, _ := pc.br.Peek(pc.br.Buffered())
	n := h1head.HeadLen(b)
	if n < 0 {
		return nil, nil
	}
	resp, ok := h1head.ParseResponse(b[:n], req)
	if !ok {
		return nil, nil
	}
	pc.br.Discard(n)
	if resp.ContentLength > 0 {
		resp.Body = h1head.NewBody(pc.br, resp.ContentLength)
	} else {
		resp.Body = http.NoBody
	}
	return resp, nil
}
