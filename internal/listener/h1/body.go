package h1

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// maxPostHandlerReadBytes is how much unread request body the server reads (and drops) to keep
// a connection; with more left it closes the connection instead (net/http's value).
const maxPostHandlerReadBytes = 256 << 10

// reqBody wraps the body http.ReadRequest returned. It sends "100 Continue" on the first Read
// when the client asked for it, keeps Close from draining an arbitrarily large body (the
// server decides that after the handler), and fences the connection's reader off once the
// request is over: a goroutine the handler left behind gets ErrBodyReadAfterClose instead of
// reading the next request's bytes. Reads may come from any goroutine (http.Transport reads a
// proxied body from its own), hence the mutex.
type reqBody struct {
	mu     sync.Mutex
	w      *response
	src    io.ReadCloser
	cl     int64 // declared length, -1 for chunked
	n      int64 // bytes read
	sawEOF bool
	eof    atomic.Bool // sawEOF, for the disconnect watcher
	err    error       // a read error other than io.EOF: the connection cannot be reused
	closed bool        // closed by the handler (reads fail; the server may still drain)
	shutv  bool        // request over: nothing reads src any more
	expect bool        // 100 Continue still to be sent on the first Read
}

func (b *reqBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed || b.shutv:
		return 0, http.ErrBodyReadAfterClose
	case b.sawEOF:
		return 0, io.EOF
	case b.err != nil:
		return 0, b.err
	}
	if b.expect {
		b.expect = false
		b.w.writeContinue()
	}
	n, err := b.src.Read(p)
	b.n += int64(n)
	if err == io.EOF {
		b.sawEOF = true
		b.eof.Store(true)
	} else if err != nil {
		b.err = err
	}
	return n, err
}

func (b *reqBody) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// done reports whether the body was read to its end.
func (b *reqBody) done() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sawEOF
}

type drainResult int

const (
	drainOK     drainResult = iota // body read to its end
	drainTooBig                    // more than maxPostHandlerReadBytes left
	drainFailed                    // broken body, or 100 Continue never sent
)

// drain reads what is left of the body, up to maxPostHandlerReadBytes.
func (b *reqBody) drain() drainResult {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.sawEOF:
		return drainOK
	case b.err != nil || b.shutv:
		return drainFailed
	case b.expect:
		// The client waits for 100 Continue before sending the body: nothing to drain
		// without asking for it.
		return drainFailed
	case b.cl > 0 && b.cl-b.n > maxPostHandlerReadBytes:
		return drainTooBig
	}
	n, err := io.CopyN(io.Discard, b.src, maxPostHandlerReadBytes+1)
	b.n += n
	switch err {
	case nil:
		return drainTooBig
	case io.EOF:
		b.sawEOF = true
		b.eof.Store(true)
		return drainOK
	default:
		b.err = err
		return drainFailed
	}
}

// shut ends the body for good (waiting for a Read in progress) and reports whether it had been
// read to its end. It is a no-op on a response without a body.
func (b *reqBody) shut() bool {
	if b.src == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.shutv = true
	return b.sawEOF
}
