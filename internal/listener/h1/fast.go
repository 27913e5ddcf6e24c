package h1

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/pylon-gateway/pylon/internal/h1head"
)

// FastHandler serves requests from their raw head, without an http.Request.
type FastHandler interface {
	// ServeFast is offered each request whose head is whole in the read buffer, before it is
	// parsed. head is the raw head: request line through the final CRLF CRLF; it aliases the
	// read buffer and is valid only until ServeFast returns. The server has not validated it.
	// ServeFast must not read the connection: the request it accepts has no body. It returns
	// false, having written nothing, to let the server parse and serve the request the usual
	// way; true when it served the request through fc.
	ServeFast(fc *FastConn, head []byte) bool
}

// FastConn is what a FastHandler serves a request through: the connection's output buffer and
// the request's context. There is one per connection, reused for each of its requests: it
// must not be used once ServeFast has returned (a Context it returned stays valid, canceled).
// Only Context may be called from other goroutines.
type FastConn struct {
	c *conn
	// w stands for the request where the connection publishes its request in flight (for
	// Server.Close, write errors and the disconnect watcher), which all cancel the request
	// through w.cancel: its cancelFunc is fc.cancel.
	w response

	closeReq bool // SetClose
	wrote    bool // something was written: declining is no longer possible

	seq atomic.Uint64 // the request's number on the connection, from 1; changed under mu

	mu        sync.Mutex // the context: Context may race with Close and the watcher
	canceled  bool
	ctx       context.Context    // made by Context; nil until then
	rctx      *requestContext    // ctx, when it is a requestContext
	cancelCtx context.CancelFunc // ctx's, when it is context.WithCancel's
	spare     *requestContext    // the last request's context, reused when nothing could see it

	// Disconnect watcher only, under Server.mu: the request seen in flight at its last
	// tick, and the request it canceled last.
	watchSeq, watchDoneSeq uint64
}

func newFastConn(c *conn) *FastConn {
	fc := &FastConn{c: c}
	fc.w.c = c
	fc.w.fast = fc
	fc.w.cancelFunc = fc.cancel
	return fc
}

// RemoteAddr is the client's address, as http.Request.RemoteAddr.
func (fc *FastConn) RemoteAddr() string { return fc.c.remoteAddr }

// LocalAddr is the address the connection was accepted on.
func (fc *FastConn) LocalAddr() net.Addr { return fc.c.rwc.LocalAddr() }

// Write queues raw response bytes: the handler writes the whole response, status line,
// fields, framing and body. Bytes collect in the connection's output buffer, which leaves
// when it is full, on Flush, or after ServeFast returns; a write that does not fit goes out
// at once (with the buffer, in one writev). It returns the first write error on the
// connection.
func (fc *FastConn) Write(p []byte) (int, error) {
	c := fc.c
	if c.werr != nil {
		return 0, c.werr
	}
	if len(p) == 0 {
		return 0, nil
	}
	fc.wrote = true
	c.write(p)
	if c.werr != nil {
		return 0, c.werr
	}
	return len(p), nil
}

// WriteString is Write without the conversion copy.
func (fc *FastConn) WriteString(s string) (int, error) {
	return fc.Write(stringBytes(s))
}

// Flush sends what is queued and returns the first write error on the connection.
func (fc *FastConn) Flush() error {
	fc.c.flush()
	return fc.c.werr
}

// Err returns the first write error on the connection, if any. A failed write also cancels
// the request's context, and the connection is closed after ServeFast returns.
func (fc *FastConn) Err() error { return fc.c.werr }

// SetClose closes the connection after this response. The handler writes its own
// "Connection: close" field.
func (fc *FastConn) SetClose() { fc.closeReq = true }

// Closing reports that the server is shutting down: the handler should answer with
// "Connection: close" and call SetClose (the connection is closed after the response in any
// case).
func (fc *FastConn) Closing() bool { return fc.c.s.shuttingDown() }

// Context returns the request's context, made on the first call. It is canceled when the
// client goes away while ServeFast runs (a failed write, or the disconnect watcher for a
// request in flight for about 100-200ms), by Server.Close, and when ServeFast returns. It is
// the context a normal request gets (NotifyCancel and AttachValue included), with the
// connection's values (http.ServerContextKey, http.LocalAddrContextKey). It must not be used
// after ServeFast returns: one that nothing waited on (no Done channel, no NotifyCancel or
// AfterFunc registration left) is not canceled then but reused for the next request, which
// saves an allocation per request.
func (fc *FastConn) Context() context.Context {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.ctx == nil {
		c := fc.c
		if c.ctxDone {
			fc.ctx, fc.cancelCtx = context.WithCancel(c.ctx)
		} else {
			if fc.rctx = fc.spare; fc.rctx != nil {
				fc.spare = nil
				fc.rctx.err, fc.rctx.key, fc.rctx.val = nil, nil, nil
			} else {
				fc.rctx = &requestContext{Context: c.ctx}
			}
			fc.ctx = fc.rctx
		}
		if fc.canceled {
			fc.cancelMade()
		}
	}
	return fc.ctx
}

// cancelMade cancels the context made by Context.
func (fc *FastConn) cancelMade() {
	if fc.rctx != nil {
		fc.rctx.cancel()
	} else if fc.cancelCtx != nil {
		fc.cancelCtx()
	}
}

// begin starts request number seq+1 on the connection's goroutine.
func (fc *FastConn) begin() {
	fc.closeReq, fc.wrote = false, false
	fc.mu.Lock()
	fc.seq.Add(1)
	fc.canceled = false
	fc.ctx, fc.rctx, fc.cancelCtx = nil, nil, nil
	fc.mu.Unlock()
}

// end ends the request's context when ServeFast returns. A requestContext that nothing
// waits on (no Done channel, no NotifyCancel or AfterFunc registration) cannot be seen to end:
// it is kept for the connection's next request instead, which then allocates nothing. (The
// handler must not keep the context past ServeFast.) Any other is canceled.
func (fc *FastConn) end() {
	fc.mu.Lock()
	if r := fc.rctx; r != nil && !fc.canceled && r.idle() {
		fc.canceled = true // late cancels of this request are ignored
		fc.spare = r
		fc.mu.Unlock()
		return
	}
	fc.mu.Unlock()
	fc.cancel()
}

// cancel cancels the current request's context (w.cancel). Server.Close may call it late,
// for the request after the one it saw in flight: that one is being closed too.
func (fc *FastConn) cancel() { fc.cancelSeq(0) }

// cancelSeq cancels the context of request seq (0: the current one), unless it is over.
func (fc *FastConn) cancelSeq(seq uint64) {
	fc.mu.Lock()
	if fc.canceled || seq != 0 && fc.seq.Load() != seq {
		fc.mu.Unlock()
		return
	}
	fc.canceled = true
	rctx, cancelCtx := fc.rctx, fc.cancelCtx
	fc.mu.Unlock()
	// As requestContext.cancel: what waits for the context runs outside the lock.
	if rctx != nil {
		rctx.cancel()
	} else if cancelCtx != nil {
		cancelCtx()
	}
}

// serveFast offers the request at the start of the read buffer to Server.Fast, when its head
// is whole there. served reports that the fast handler took it (or broke the connection);
// keep, that the connection may serve another request. When served is false nothing was
// consumed or written, and the request goes the usual way.
func (c *conn) serveFast() (served, keep bool) {
	s := c.s
	if c.lastMethod == "POST" {
		// What readRequest would skip; it must not skip again (from what arrives next).
		c.skipPostCRLF()
		c.lastMethod = ""
		if c.br.Buffered() == 0 {
			// Only the CRLF was there: wait for the head, as readRequest would. After an
			// error, readRequest reads again and meets it again.
			if _, err := c.br.Peek(1); err != nil {
				return false, true
			}
		}
	}
	b, _ := c.br.Peek(c.br.Buffered())
	n := h1head.HeadLen(b)
	if n < 0 || int64(n) > s.headerLimit() {
		return false, true
	}
	fc := c.fast
	if fc == nil {
		fc = newFastConn(c)
		c.fast = fc
	}
	fc.begin()
	c.cur = &fc.w
	c.inflight.Store(&fc.w)
	ok, panicked := c.runFast(fc, b[:n:n])
	c.inflight.Store(nil)
	fc.end()
	c.cur = nil
	switch {
	case panicked:
		// As a handler panic: close without sending what is still buffered.
		c.out = c.out[:0]
		return true, false
	case !ok && fc.wrote:
		s.logf("h1: FastHandler declined a request from %v after writing a response; closing", c.remoteAddr)
		c.out = c.out[:0]
		return true, false
	case !ok:
		return false, true
	}
	c.lastMethod = ""
	if bytes.HasPrefix(b, []byte("POST ")) {
		c.lastMethod = "POST" // keep readRequest's tolerance of a CRLF after a POST
	}
	c.br.Discard(n)
	c.flush()
	return true, !fc.closeReq && c.werr == nil && !s.shuttingDown()
}

// runFast runs ServeFast, turning a panic into panicked as runHandler does.
func (c *conn) runFast(fc *FastConn, head []byte) (ok, panicked bool) {
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
	return c.s.Fast.ServeFast(fc, head), false
}
