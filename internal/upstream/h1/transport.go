package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pylon-gateway/pylon/internal/h1head"
	"golang.org/x/net/http/httpguts"
)

// Defaults for the zero values of Transport's fields.
const (
	DefaultMaxIdleConnsPerHost    = 256
	DefaultIdleTimeout            = 60 * time.Second
	DefaultBufferSize             = 16 << 10
	DefaultMaxResponseHeaderBytes = 1 << 20
)

const (
	// probeAfter is how long a connection may sit idle before it is probed for an
	// upstream close before reuse. Upstreams close idle connections after seconds
	// (uvicorn and Node.js after 5 s, gunicorn after 2 s); a connection reused
	// sooner is reused unprobed, so a busy pool makes no extra syscall.
	probeAfter = 500 * time.Millisecond

	// maxDrain bounds what Close of an unfinished body reads to save the connection.
	maxDrain = 64 << 10

	minBufferSize = 4 << 10
)

// Transport is an HTTP/1.1 client for one cluster: a pool of persistent connections per
// endpoint address (req.URL.Host, always "ip:port"), used by the calling goroutine directly.
//
// The fields must not change once the Transport is in use. A Transport must not be copied
// after first use.
type Transport struct {
	// Dial opens a connection to addr (the cluster supplies one that counts connections,
	// applies the connect timeout, wraps errors, and does TLS when the cluster uses TLS).
	// Its errors are returned by RoundTrip unchanged. Nil dials TCP with a net.Dialer.
	Dial func(ctx context.Context, addr string) (net.Conn, error)

	// MaxConnsPerHost bounds the connections to one endpoint, counting those being
	// dialed, in use (including upgraded ones) and idle. 0 means unlimited. When the
	// bound is reached RoundTrip waits for a connection until its context ends.
	MaxConnsPerHost int

	// MaxIdleConnsPerHost is how many idle connections are kept per endpoint
	// (0 means DefaultMaxIdleConnsPerHost; negative keeps none).
	MaxIdleConnsPerHost int

	// IdleTimeout closes connections idle for longer (0 means DefaultIdleTimeout).
	IdleTimeout time.Duration

	// ReadBufferSize and WriteBufferSize size each connection's buffers
	// (0 means DefaultBufferSize; at least 4 KiB).
	ReadBufferSize, WriteBufferSize int

	// MaxResponseHeaderBytes bounds the bytes read for a response head, interim (1xx)
	// responses included (0 means DefaultMaxResponseHeaderBytes).
	MaxResponseHeaderBytes int

	mu         sync.Mutex                       // guards hosts updates and the sweep timer
	hosts      atomic.Pointer[map[string]*pool] // copy on write: read without locking
	sweeping   atomic.Bool
	sweepTimer *time.Timer
	readers    sync.Pool // *bufio.Reader of the read buffer size
	writers    sync.Pool // *bufio.Writer of the write buffer size
}

var (
	errNilURL          = errors.New("h1: nil request URL")
	errMissingHost     = errors.New("h1: request URL has no host")
	errNilBody         = errors.New("h1: request has a ContentLength but no Body")
	errShortBody       = errors.New("h1: request body shorter than its ContentLength")
	errHeaderTooLarge  = errors.New("h1: response headers too large")
	errBodyClosed      = errors.New("h1: read on closed response body")
	errWouldBlock      = errors.New("h1: drain would block")
	errInvalidMethod   = errors.New("h1: invalid request method")
	errInvalidHost     = errors.New("h1: invalid Host header")
	errInvalidTarget   = errors.New("h1: invalid request target")
	errInvalidHeader   = errors.New("h1: invalid header field name")
	errInvalidValue    = errors.New("h1: invalid header field value")
	errInvalidTrailer  = errors.New("h1: invalid trailer field name")
	errConnClosedEarly = errors.New("h1: connection closed before the response")
)

// canceledError reports that the request's context ended during the exchange.
type canceledError struct{ err error }

func (e *canceledError) Error() string { return "h1: request canceled: " + e.err.Error() }
func (e *canceledError) Unwrap() error { return e.err }

// Timeout reports whether the context's deadline passed (net.Error's method).
func (e *canceledError) Timeout() bool { return errors.Is(e.err, context.DeadlineExceeded) }

// opError wraps an I/O error with what was being done.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return "h1: " + e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// RoundTrip sends req on a pooled connection to req.URL.Host and returns the response with
// its body streaming from the connection. It implements http.RoundTripper: req is not
// modified and its Body is always closed.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.roundTrip(req, time.Time{})
}

// RoundTripTimeout is RoundTrip bounded by timeout (from the call to the end of the response
// body) as if req's context had that deadline: errors it causes match context.DeadlineExceeded
// with errors.Is. It creates no context: the exchange is bounded by a timer that belongs to the
// connection and is re-armed for each exchange, which saves the proxy a context.WithTimeout (a
// context, a timer and a registration with the parent context) per request. Only waiting for or
// dialing a connection, the uncommon paths, still derive a context with the deadline.
func (t *Transport) RoundTripTimeout(req *http.Request, timeout time.Duration) (*http.Response, error) {
	return t.roundTrip(req, time.Now().Add(timeout))
}

// roundTrip is RoundTrip with an optional deadline (zero: none besides the context's).
func (t *Transport) roundTrip(req *http.Request, deadline time.Time) (*http.Response, error) {
	body := req.Body
	if body == http.NoBody {
		body = nil
	}
	if err := validate(req, body); err != nil {
		closeBody(body)
		return nil, err
	}
	ctx := req.Context()
	cl := outgoingLength(req, body)
	addr := req.URL.Host
	fresh := false
	for attempt := 0; ; attempt++ {
		pc, err := t.getConn(ctx, addr, fresh, deadline)
		if err != nil {
			closeBody(body)
			return nil, err
		}
		resp, res := pc.roundTrip(ctx, req, body, cl, deadline)
		if res.err == nil {
			if res.early && body != nil {
				// The body was not read to its end, and closing it may block (a
				// server's request body reads on to reuse its connection).
				go body.Close()
			} else {
				closeBody(body)
			}
			return resp, nil
		}
		if attempt > 0 || !res.retry || ctx.Err() != nil || expired(deadline) {
			closeBody(body)
			return nil, res.err
		}
		if res.bodyRead {
			// Only reached with GetBody set: the retry sends a fresh copy.
			closeBody(body)
			nb, gerr := req.GetBody()
			if gerr != nil {
				return nil, &opError{"rewind request body", gerr}
			}
			body = nb
			if body == http.NoBody {
				body = nil
			}
			cl = outgoingLength(req, body)
		}
		fresh = true
	}
}

// expired reports whether a deadline is set and has passed.
func expired(deadline time.Time) bool {
	return !deadline.IsZero() && !time.Now().Before(deadline)
}

func closeBody(b io.ReadCloser) {
	if b != nil {
		b.Close()
	}
}

// outgoingLength is the request body's length: 0 for none, -1 for unknown (sent chunked).
func outgoingLength(req *http.Request, body io.ReadCloser) int64 {
	if body == nil {
		return 0
	}
	if req.ContentLength > 0 {
		return req.ContentLength
	}
	return -1
}

// validate checks everything that goes into the request head, so that an invalid request
// fails before any byte is written (and before a connection is taken).
func validate(req *http.Request, body io.ReadCloser) error {
	u := req.URL
	if u == nil {
		return errNilURL
	}
	if u.Host == "" {
		return errMissingHost
	}
	if body == nil && req.ContentLength > 0 {
		return errNilBody
	}
	if m := req.Method; m != "" && !h1head.IsToken(m) {
		return errInvalidMethod
	}
	host := req.Host
	if host == "" {
		host = u.Host
	}
	if !httpguts.ValidHostHeader(host) {
		return errInvalidHost
	}
	if !validTargetPart(u.RawQuery) || !validTargetPart(u.Opaque) {
		return errInvalidTarget
	}
	if err := validHeader(req.Header); err != nil {
		return err
	}
	for k := range req.Trailer {
		if skipHeader(k) {
			return errInvalidTrailer
		}
	}
	return validHeader(req.Trailer)
}

func validHeader(h http.Header) error {
	for k, vv := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return errInvalidHeader
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return errInvalidValue
			}
		}
	}
	return nil
}

// validTargetPart rejects what would break the request line: controls, spaces, non-ASCII.
func validTargetPart(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// idempotent reports whether a request may be sent again after it may have reached the
// server (net/http's rule).
func idempotent(req *http.Request) bool {
	switch req.Method {
	case "", "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}

// wantsClose reports whether the request asks for the connection to close after it.
func wantsClose(req *http.Request) bool {
	if req.Close {
		return true
	}
	return httpguts.HeaderValuesContainsToken(req.Header["Connection"], "close")
}

// CloseIdleConnections closes every idle connection. Connections in use are not touched.
func (t *Transport) CloseIdleConnections() {
	var idle []*persistConn
	t.mu.Lock()
	hosts := t.hostMap()
	remaining := make(map[string]*pool, len(hosts))
	for addr, p := range hosts {
		p.mu.Lock()
		idle = append(idle, p.idle...)
		clear(p.idle)
		n := len(p.idle)
		p.idle = p.idle[:0]
		p.releaseLocked(n)
		if p.total == 0 && len(p.waiters) == 0 {
			p.dead = true
		} else {
			remaining[addr] = p
		}
		p.mu.Unlock()
	}
	t.hosts.Store(&remaining)
	t.mu.Unlock()
	for _, pc := range idle {
		pc.discard()
	}
}

func (t *Transport) hostMap() map[string]*pool {
	if m := t.hosts.Load(); m != nil {
		return *m
	}
	return nil
}

// pool returns the endpoint's pool, creating it if needed.
func (t *Transport) pool(addr string) *pool {
	if p := t.hostMap()[addr]; p != nil {
		return p
	}
	t.mu.Lock()
	old := t.hostMap()
	p := old[addr]
	if p == nil {
		p = &pool{t: t, addr: addr}
		m := make(map[string]*pool, len(old)+1)
		for k, v := range old {
			m[k] = v
		}
		m[addr] = p
		t.hosts.Store(&m)
	}
	t.mu.Unlock()
	t.ensureSweep()
	return p
}

func (t *Transport) idleTimeout() time.Duration {
	if t.IdleTimeout > 0 {
		return t.IdleTimeout
	}
	return DefaultIdleTimeout
}

func (t *Transport) maxIdle() int {
	switch {
	case t.MaxIdleConnsPerHost == 0:
		return DefaultMaxIdleConnsPerHost
	case t.MaxIdleConnsPerHost < 0:
		return 0
	}
	return t.MaxIdleConnsPerHost
}

func (t *Transport) maxHeaderBytes() int64 {
	if t.MaxResponseHeaderBytes > 0 {
		return int64(t.MaxResponseHeaderBytes)
	}
	return DefaultMaxResponseHeaderBytes
}

func bufferSize(n int) int {
	switch {
	case n == 0:
		return DefaultBufferSize
	case n < minBufferSize:
		return minBufferSize
	}
	return n
}

func (t *Transport) dial(ctx context.Context, addr string) (net.Conn, error) {
	if t.Dial != nil {
		return t.Dial(ctx, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// newConn wraps a dialed connection, with buffers from the Transport's free lists.
func (t *Transport) newConn(p *pool, c net.Conn) *persistConn {
	pc := &persistConn{t: t, pool: p, conn: c, readLimit: -1}
	pc.onCancel = pc.cancel
	if br, _ := t.readers.Get().(*bufio.Reader); br != nil {
		br.Reset(pc)
		pc.br = br
	} else {
		pc.br = bufio.NewReaderSize(pc, bufferSize(t.ReadBufferSize))
	}
	if bw, _ := t.writers.Get().(*bufio.Writer); bw != nil {
		bw.Reset(pc)
		pc.bw = bw
	} else {
		pc.bw = bufio.NewWriterSize(pc, bufferSize(t.WriteBufferSize))
	}
	if cs, ok := c.(interface{ ConnectionState() tls.ConnectionState }); ok {
		st := cs.ConnectionState()
		pc.tls = &st
	}
	return pc
}

// ensureSweep starts the idle sweep unless it runs already.
func (t *Transport) ensureSweep() {
	if t.sweeping.Load() {
		return
	}
	t.mu.Lock()
	if !t.sweeping.Load() {
		t.sweeping.Store(true)
		if t.sweepTimer == nil {
			t.sweepTimer = time.AfterFunc(t.sweepInterval(), t.sweep)
		} else {
			t.sweepTimer.Reset(t.sweepInterval())
		}
	}
	t.mu.Unlock()
}

func (t *Transport) sweepInterval() time.Duration {
	return max(t.idleTimeout()/2, 10*time.Millisecond)
}

// sweep closes expired idle connections and forgets endpoints without connections. It
// runs on a timer while any pool exists.
func (t *Transport) sweep() {
	now := time.Now()
	timeout := t.idleTimeout()
	var expired []*persistConn
	t.mu.Lock()
	hosts := t.hostMap()
	var keep map[string]*pool
	for addr, p := range hosts {
		p.mu.Lock()
		i := 0 // idle is oldest first
		for i < len(p.idle) && now.Sub(p.idle[i].idleAt) > timeout {
			i++
		}
		if i > 0 {
			expired = append(expired, p.idle[:i]...)
			n := copy(p.idle, p.idle[i:])
			clear(p.idle[n:])
			p.idle = p.idle[:n]
			p.releaseLocked(i)
		}
		if p.total == 0 && len(p.waiters) == 0 {
			p.dead = true
			if keep == nil {
				keep = make(map[string]*pool, len(hosts))
				for k, v := range hosts {
					keep[k] = v
				}
			}
			delete(keep, addr)
		}
		p.mu.Unlock()
	}
	if keep != nil {
		t.hosts.Store(&keep)
		hosts = keep
	}
	if len(hosts) > 0 {
		t.sweepTimer.Reset(t.sweepInterval())
	} else {
		t.sweeping.Store(false)
	}
	t.mu.Unlock()
	for _, pc := range expired {
		pc.discard()
	}
}
