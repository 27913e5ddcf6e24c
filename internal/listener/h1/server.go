package h1

import (
	"context"
	"errors"
	"log"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
)

// Server serves HTTP/1.x (and, with H2C, HTTP/2 with prior knowledge) on plain-text listeners.
// The zero value is usable; fields must not be changed once Serve has been called.
type Server struct {
	// Handler answers requests; nil means http.DefaultServeMux.
	Handler http.Handler

	// MaxHeaderBytes bounds the request line plus headers. A request whose head does not fit
	// in MaxHeaderBytes+4096 bytes (net/http's slack, kept for identical behaviour) is answered
	// 431 "Request Header Fields Too Large" and the connection is closed. 0 means 1 MiB.
	MaxHeaderBytes int

	// IdleTimeout bounds how long a keep-alive connection may wait for its next request, and how
	// long a new connection may wait for its first one when ReadHeaderTimeout is 0. 0 = none.
	IdleTimeout time.Duration

	// ReadHeaderTimeout bounds the time to read a request's head, from its first byte (from the
	// accept for a connection's first request). 0 = none.
	ReadHeaderTimeout time.Duration

	// H2C accepts HTTP/2 with prior knowledge: a connection that starts with the HTTP/2 client
	// preface is handed to golang.org/x/net/http2.
	H2C bool

	// ConnState, when set, is called as net/http calls it: StateNew (from the accept loop),
	// StateActive and StateIdle around each request, StateHijacked, StateClosed. HTTP/2
	// connections only report StateNew and StateClosed (as net/http does for them).
	ConnState func(net.Conn, http.ConnState)

	// Fast, when set, is offered each request whose head is already whole in the
	// connection's read buffer, before it is parsed (see FastHandler). A request it serves
	// never becomes an http.Request; one it declines is parsed and served by Handler as
	// usual. Server.Close, Shutdown, ConnState, the disconnect watcher and panic recovery
	// treat a request in ServeFast as one running in Handler. nil: no fast path.
	Fast FastHandler

	// ErrorLog receives handler panics and misuse reports; nil means the log package.
	ErrorLog *log.Logger

	// BaseContext, when set, returns the base context of the connections accepted from a
	// listener; it must not return nil.
	BaseContext func(net.Listener) context.Context

	initOnce sync.Once
	base     *http.Server  // configuration mirror: http.ServerContextKey, x/net/http2's base
	h2       *http2.Server // nil unless H2C

	inShutdown atomic.Bool
	mu         sync.Mutex
	listeners  map[*onceCloseListener]struct{}
	conns      map[*conn]struct{}
	connGone   chan struct{} // poked (never blocking) whenever a conn leaves conns
	watching   bool          // the disconnect watcher (watch.go) runs; under mu
}

const (
	defaultMaxHeaderBytes = http.DefaultMaxHeaderBytes
	headerSlack           = 4096 // net/http allows MaxHeaderBytes + 4096 too
	newConnGrace          = 5    // seconds a silent new conn is left alone by Shutdown (as net/http)
)

func (s *Server) init() {
	s.base = &http.Server{
		Handler:           s.handler(),
		MaxHeaderBytes:    s.maxHeaderBytes(),
		IdleTimeout:       s.IdleTimeout,
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		ErrorLog:          s.ErrorLog,
	}
	s.connGone = make(chan struct{}, 1)
	if s.H2C {
		h2 := &http2.Server{}
		// ConfigureServer ties h2's connections to base: base.Shutdown sends each of them a
		// graceful GOAWAY (through RegisterOnShutdown in x/net's own implementation, through
		// net/http's connection tracking when x/net wraps net/http's HTTP/2 server).
		if err := http2.ConfigureServer(s.base, h2); err != nil {
			s.logf("h1: h2c disabled: %v", err)
		} else {
			s.h2 = h2
		}
	}
}

func (s *Server) handler() http.Handler {
	if s.Handler != nil {
		return s.Handler
	}
	return http.DefaultServeMux
}

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return defaultMaxHeaderBytes
}

func (s *Server) headerLimit() int64 {
	return int64(s.maxHeaderBytes()) + headerSlack
}

func (s *Server) shuttingDown() bool { return s.inShutdown.Load() }

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// Serve accepts connections on ln and serves each on its own goroutine. It always returns a
// non-nil error and closes ln; after Shutdown or Close the error is http.ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	s.initOnce.Do(s.init)
	l := &onceCloseListener{Listener: ln}
	defer l.Close()
	if !s.trackListener(l, true) {
		return http.ErrServerClosed
	}
	defer s.trackListener(l, false)

	ctx := context.Background()
	if s.BaseContext != nil {
		ctx = s.BaseContext(ln)
		if ctx == nil {
			panic("h1: BaseContext returned a nil context")
		}
	}
	ctx = context.WithValue(ctx, http.ServerContextKey, s.base)

	var tempDelay time.Duration
	for {
		rwc, err := l.Accept()
		if err != nil {
			if s.shuttingDown() {
				return http.ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				if tempDelay == 0 {
					tempDelay = 5 * time.Millisecond
				} else {
					tempDelay *= 2
				}
				if tempDelay > time.Second {
					tempDelay = time.Second
				}
				s.logf("h1: accept error: %v; retrying in %v", err, tempDelay)
				time.Sleep(tempDelay)
				continue
			}
			return err
		}
		tempDelay = 0
		c := &conn{s: s, rwc: rwc, newAt: time.Now().Unix()}
		c.lr.remain = math.MaxInt64
		if !s.trackConn(c) {
			rwc.Close()
			continue
		}
		c.setState(http.StateNew)
		go c.serve(ctx)
	}
}

func (s *Server) trackListener(l *onceCloseListener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.shuttingDown() {
			return false
		}
		if s.listeners == nil {
			s.listeners = make(map[*onceCloseListener]struct{})
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
	}
	return true
}

func (s *Server) trackConn(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shuttingDown() {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	s.startWatchLocked()
	return true
}

func (s *Server) untrackConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	select {
	case s.connGone <- struct{}{}:
	default:
	}
}

func (s *Server) closeListenersLocked() error {
	var err error
	for l := range s.listeners {
		if cerr := l.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// Shutdown stops accepting, closes idle connections at once (and connections that have not
// sent a byte for 5 seconds, as net/http), lets each active HTTP/1 connection finish its
// current response (sent with "Connection: close" when it has not started yet) and close,
// sends HTTP/2 connections a graceful GOAWAY, and waits until every connection is gone. When
// ctx ends first it returns ctx.Err() and leaves the remaining connections running (Close
// ends them). Hijacked connections are not waited for.
func (s *Server) Shutdown(ctx context.Context) error {
	s.initOnce.Do(s.init)
	s.inShutdown.Store(true)
	s.mu.Lock()
	lnerr := s.closeListenersLocked()
	s.mu.Unlock()

	h2ctx, cancelH2 := context.WithCancel(context.Background())
	defer cancelH2()
	s.goAwayH2(h2ctx)

	const maxInterval = 500 * time.Millisecond
	interval := time.Millisecond
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for ticks := 1; ; {
		if s.closeIdleConns() {
			return lnerr
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.connGone:
		case <-timer.C:
			// An h2 connection handed to x/net/http2 just as Shutdown began may have registered
			// after the first GOAWAY round; repeat it a few times (it is idempotent).
			if ticks == 1 || ticks == 5 || ticks == 9 {
				s.goAwayH2(h2ctx)
			}
			ticks++
			if interval *= 2; interval > maxInterval {
				interval = maxInterval
			}
			timer.Reset(interval)
		}
	}
}

// goAwayH2 asks x/net/http2 to shut its connections down gracefully.
func (s *Server) goAwayH2(ctx context.Context) {
	if s.h2 == nil {
		return
	}
	// base never serves anything itself: Shutdown returns as soon as the GOAWAYs are sent (or,
	// when x/net wraps net/http, once those connections are gone or ctx ends).
	go s.base.Shutdown(ctx) //nolint:errcheck
}

// closeIdleConns closes idle connections and reports whether none is left.
func (s *Server) closeIdleConns() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().Unix()
	for c := range s.conns {
		st := http.ConnState(c.state.Load())
		if st == http.StateNew && c.newAt < now-newConnGrace {
			st = http.StateIdle
		}
		if st == http.StateIdle && !c.closedByServer {
			c.closedByServer = true
			c.rwc.Close()
		}
	}
	return len(s.conns) == 0
}

// Close closes the listeners and every tracked connection now (hijacked ones excepted), and
// cancels the contexts of the requests in progress on them (net/http gets the same effect from
// its background read failing). It does not wait for the connections' goroutines.
func (s *Server) Close() error {
	s.initOnce.Do(s.init)
	s.inShutdown.Store(true)
	s.mu.Lock()
	err := s.closeListenersLocked()
	for c := range s.conns {
		c.closedByServer = true
		c.rwc.Close()
		if w := c.inflight.Load(); w != nil {
			w.cancel()
		}
	}
	s.mu.Unlock()
	if s.h2 != nil {
		s.base.Close()
	}
	return err
}

// onceCloseListener makes Close idempotent (Serve's defer and Shutdown both close it).
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
