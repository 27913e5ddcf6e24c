package h1

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// States of a bodyReader's exchange.
const (
	bodyActive   int32 = iota // the connection belongs to the body
	bodyAborting              // Close closed the connection under a Read in progress
	bodyDone                  // the exchange ended
)

// bodyReader is a response body streaming from its connection. The Read that meets the
// end of the body gives the connection back to the pool; Close before that drains what is
// already buffered (at most maxDrain bytes) to save the connection, or closes it.
//
// Read and Close may be called from different goroutines: a Close while a Read is blocked
// closes the connection under it.
type bodyReader struct {
	conn  net.Conn // the connection, for Close to interrupt a Read without the lock
	state atomic.Int32

	mu  sync.Mutex // held by Read for its whole duration
	pc  *persistConn
	rc  io.ReadCloser // the body as http.ReadResponse frames it
	ctx context.Context
	err error // what reads return after the exchange ended (nil: io.EOF)
}

func (b *bodyReader) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pc == nil {
		if b.err != nil {
			return 0, b.err
		}
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		b.end(b.state.CompareAndSwap(bodyActive, bodyDone))
		return n, io.EOF
	case b.state.Load() == bodyAborting:
		err = errBodyClosed
	default:
		if cerr := b.pc.ctxErr(b.ctx); cerr != nil {
			err = &canceledError{cerr}
		} else {
			err = &opError{"read response body", err}
		}
	}
	b.err = err
	b.end(false)
	return n, err
}

// Close ends the body. It is idempotent and always returns nil.
func (b *bodyReader) Close() error {
	if !b.mu.TryLock() {
		// A Read is in progress and may be blocked: close the connection under it,
		// unless that Read is ending the exchange itself.
		if b.state.CompareAndSwap(bodyActive, bodyAborting) {
			b.conn.Close()
		}
		b.mu.Lock()
	}
	defer b.mu.Unlock()
	if b.pc != nil {
		reuse := b.state.CompareAndSwap(bodyActive, bodyDone) && b.drain()
		b.end(reuse)
	}
	b.err = errBodyClosed
	return nil
}

// drain reads the rest of the body if it is already buffered and small, so that the
// connection can be reused. It never waits on the network.
func (b *bodyReader) drain() bool {
	pc := b.pc
	if pc.broken {
		return false
	}
	pc.noBlock = true
	n, err := io.CopyN(io.Discard, b.rc, maxDrain+1)
	pc.noBlock = false
	return err == io.EOF && n <= maxDrain
}

func (b *bodyReader) end(reuse bool) {
	pc := b.pc
	b.pc, b.rc, b.ctx = nil, nil, nil
	pc.finish(reuse)
}

// upgradeBody is the body of a 101 Switching Protocols response: the raw connection,
// read through the connection's buffer (which may hold bytes sent right after the
// response head). It stays counted against MaxConnsPerHost until closed and is never
// pooled. Read and Write may run concurrently.
type upgradeBody struct {
	pc   *persistConn
	once sync.Once
}

func (u *upgradeBody) Read(p []byte) (int, error)  { return u.pc.br.Read(p) }
func (u *upgradeBody) Write(p []byte) (int, error) { return u.pc.conn.Write(p) }

// Close closes the connection. It is idempotent.
func (u *upgradeBody) Close() error {
	var err error
	u.once.Do(func() {
		err = u.pc.conn.Close()
		u.pc.pool.release(1)
	})
	return err
}

// CloseWrite half-closes the connection when it supports that (TCP, TLS), else closes it.
func (u *upgradeBody) CloseWrite() error {
	if cw, ok := u.pc.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return u.Close()
}
