package runtime

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// socket is one bound listening socket that outlives the servers using it. A reload that
// must replace a listener's server (a socket-level setting changed) attaches the new server
// to the same socket: the kernel's accept queue is never closed, so no connection is refused
// or reset, which closing and rebinding (even with SO_REUSEPORT) cannot promise.
type socket struct {
	ln     net.Listener
	target atomic.Pointer[vlistener]
	refs   int // servers attached; guarded by Runtime.mu
}

func newSocket(ln net.Listener) *socket {
	s := &socket{ln: ln}
	go s.acceptLoop()
	return s
}

func (s *socket) acceptLoop() {
	var delay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as net/http does.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.dispatch(c)
	}
}

// dispatch hands a connection to the current server; if that server is retired while the
// connection waits, the connection goes to its successor.
func (s *socket) dispatch(c net.Conn) {
	for {
		vl := s.target.Load()
		if vl == nil {
			c.Close()
			return
		}
		select {
		case vl.ch <- c:
			return
		case <-vl.done:
			if s.target.Load() == vl {
				c.Close() // no successor: the listener is going away
				return
			}
		}
	}
}

// attach makes a new virtual listener the receiver of new connections.
func (s *socket) attach() *vlistener {
	vl := &vlistener{sock: s, ch: make(chan net.Conn), done: make(chan struct{})}
	s.target.Store(vl)
	return vl
}

// close stops accepting for good.
func (s *socket) close() error {
	s.target.Store(nil)
	return s.ln.Close()
}

// vlistener is what one http server accepts from: a view of a socket that it may close
// without closing the socket.
type vlistener struct {
	sock *socket
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (v *vlistener) Accept() (net.Conn, error) {
	select {
	case c := <-v.ch:
		return c, nil
	case <-v.done:
		return nil, net.ErrClosed
	}
}

func (v *vlistener) Close() error {
	v.once.Do(func() { close(v.done) })
	return nil
}

func (v *vlistener) Addr() net.Addr { return v.sock.ln.Addr() }
