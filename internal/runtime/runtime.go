package runtime

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/listener/h1"
	"github.com/pylon-gateway/pylon/internal/llm/gateway"
	"github.com/pylon-gateway/pylon/internal/stats"
	"github.com/pylon-gateway/pylon/internal/store"
)

// Runtime owns the listeners' sockets and servers and the current snapshot.
type Runtime struct {
	opts BuildOptions
	log  *slog.Logger

	// Admin, when set, serves the admin listener; it reads the runtime through Current.
	Admin http.Handler

	cur     atomic.Pointer[Snapshot]
	version atomic.Int64

	mu      sync.Mutex // serialises Apply and Shutdown
	servers map[string]*server
	closed  bool
}

// New creates a runtime that serves nothing until Apply.
func New(opts BuildOptions) *Runtime {
	if opts.Stats == nil {
		opts.Stats = stats.New()
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.LLM == nil {
		opts.LLM = gateway.NewShared()
	}
	return &Runtime{opts: opts, log: opts.Log, servers: map[string]*server{}}
}

// Stats returns the metrics registry.
func (rt *Runtime) Stats() *stats.Registry { return rt.opts.Stats }

// Store returns the management plane's store, nil without one.
func (rt *Runtime) Store() store.Store { return rt.opts.Store }

// Current returns the snapshot serving new requests (nil before the first Apply).
func (rt *Runtime) Current() *Snapshot { return rt.cur.Load() }

// Addr returns the bound address of a listener by name ("admin" for the admin listener),
// useful when the config asked for port 0.
func (rt *Runtime) Addr(name string) string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if s, ok := rt.servers[serverName(name)]; ok {
		return s.sock.ln.Addr().String()
	}
	return ""
}

const adminServer = "\x00admin"

func serverName(name string) string {
	if name == "admin" {
		return adminServer
	}
	return name
}

// acquireCurrent pins the current snapshot for one request; pass the stripe it returns to the
// snapshot's release.
func (rt *Runtime) acquireCurrent() (*Snapshot, int) {
	for {
		s := rt.cur.Load()
		if s == nil {
			return nil, 0
		}
		i := s.acquire()
		if rt.cur.Load() == s {
			return s, i
		}
		s.release(i)
	}
}

// serverKey is what a running server cannot change without being replaced.
type serverKey struct {
	address    string
	tls        bool
	http2      bool
	maxHeaders int
	statPrefix string
}

// httpServer is what both servers offer: net/http's (TLS listeners: ALPN, HTTP/2) and the
// lean HTTP/1.1 one of internal/listener/h1 (plain-text listeners, h2c by prior knowledge).
type httpServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

type server struct {
	name string
	key  serverKey
	sock *socket
	ln   *vlistener
	srv  httpServer
	done chan struct{}
}

// Apply builds a snapshot from cfg, binds any new listener addresses, and swaps it in. On
// any error the old snapshot keeps serving and nothing new is left behind.
func (rt *Runtime) Apply(ctx context.Context, cfg *config.Config) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return errors.New("runtime: shut down")
	}
	prev := rt.cur.Load()
	snap, err := Build(cfg, prev, rt.opts)
	if err != nil {
		return err
	}
	snap.Version = rt.version.Add(1)

	// Work out which servers stay, which are new, which go.
	want := map[string]serverKey{}
	for _, l := range cfg.Listeners {
		want[l.Name] = serverKey{address: l.Address, tls: l.TLS != nil, http2: *l.HTTP2, maxHeaders: l.MaxRequestHeadersKB * 1024, statPrefix: l.StatPrefix}
	}
	if cfg.Admin.Address != "" && rt.Admin != nil {
		want[adminServer] = serverKey{address: cfg.Admin.Address}
	}
	// First bind every address that no running server holds: the only step that can fail,
	// and undone by closing what it opened.
	sockets := map[string]*socket{} // by listener name, for servers to (re)start
	var opened []*socket
	for name, key := range want {
		if old, ok := rt.servers[name]; ok && old.key == key {
			continue
		}
		if sock := rt.socketFor(name, key.address, want); sock != nil {
			sockets[name] = sock
			continue
		}
		ln, err := net.Listen("tcp", key.address)
		if err != nil {
			for _, s := range opened {
				s.close()
			}
			snap.close()
			return fmt.Errorf("runtime: listener %q: %w", displayName(name), err)
		}
		sock := newSocket(ln)
		opened = append(opened, sock)
		sockets[name] = sock
	}
	// From here nothing fails: attach new servers, swap the snapshot, retire the old.
	started := map[string]*server{}
	for name, sock := range sockets {
		started[name] = rt.newServer(name, want[name], sock)
	}
	var stale []*server
	for name, old := range rt.servers {
		if k, ok := want[name]; !ok || k != old.key {
			stale = append(stale, old)
			delete(rt.servers, name)
		}
	}
	for _, c := range snap.Clusters {
		c.Start(ctx)
	}
	rt.cur.Store(snap)
	for name, s := range started {
		rt.servers[name] = s
		go s.serve(rt.log)
	}
	if prev != nil {
		prev.retire()
	}
	for _, s := range stale {
		s.sock.refs--
		if s.sock.refs == 0 {
			s.sock.close() // the address is no longer served
		}
		go s.shutdown(time.Duration(cfg.DrainTimeout))
	}
	rt.log.Info("config applied", "version", snap.Version, "listeners", len(cfg.Listeners), "clusters", len(cfg.Clusters))
	return nil
}

func displayName(name string) string {
	if name == adminServer {
		return "admin"
	}
	return name
}

// socketFor returns a running server's socket that the server for listener name can take
// over: the one of the same listener (its configured or bound address), or one on the same
// address whose listener this apply removes or moves. Port 0 means "any port", never a
// particular socket, unless it is the listener's own.
func (rt *Runtime) socketFor(name, addr string, want map[string]serverKey) *socket {
	holds := func(s *server) bool { return s.key.address == addr || s.sock.ln.Addr().String() == addr }
	if s, ok := rt.servers[name]; ok && holds(s) {
		return s.sock
	}
	if strings.HasSuffix(addr, ":0") {
		return nil
	}
	for other, s := range rt.servers {
		if k, kept := want[other]; kept && k.address == s.key.address {
			continue // still serving its own address
		}
		if holds(s) {
			return s.sock
		}
	}
	return nil
}

func (rt *Runtime) newServer(name string, key serverKey, sock *socket) *server {
	sock.refs++
	s := &server{name: name, key: key, sock: sock, ln: sock.attach(), done: make(chan struct{})}
	var h http.Handler
	if name == adminServer {
		h = rt.Admin
	} else {
		h = rt.listenerHandler(name)
	}
	errLog := log.New(slogWriter{rt.log.With("listener", displayName(name))}, "", 0)
	var connState func(net.Conn, http.ConnState)
	if name != adminServer {
		st := rt.opts.Stats.Listener(key.statPrefix)
		connState = func(_ net.Conn, cs http.ConnState) {
			switch cs {
			case http.StateNew:
				st.CxTotal.Inc()
				st.CxActive.Inc()
			case http.StateClosed, http.StateHijacked:
				st.CxActive.Dec()
			}
		}
	}
	if !key.tls {
		// Plain text: the lean server, one goroutine per connection and one read and one
		// write per request (net/http adds a background read per request).
		s.srv = &h1.Server{
			Handler:        h,
			Fast:           rt.listenerFast(name),
			MaxHeaderBytes: key.maxHeaders,
			IdleTimeout:    time.Hour, // Envoy's default connection idle timeout
			H2C:            key.http2,
			ConnState:      connState,
			ErrorLog:       errLog,
		}
		return s
	}
	srv := &http.Server{
		Handler:        h,
		MaxHeaderBytes: key.maxHeaders,
		IdleTimeout:    time.Hour,
		ErrorLog:       errLog,
		ConnState:      connState,
	}
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	if key.http2 {
		protos.SetHTTP2(true)
	}
	srv.Protocols = protos
	srv.TLSConfig = &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			if snap := rt.cur.Load(); snap != nil {
				if tc := snap.TLS[name]; tc != nil {
					return tc, nil
				}
			}
			return nil, errors.New("listener has no TLS config")
		},
	}
	if key.http2 {
		srv.TLSConfig.NextProtos = []string{"h2", "http/1.1"}
	}
	s.srv = tlsServer{srv}
	return s
}

// tlsServer serves TLS with net/http, whose ServeTLS negotiates HTTP/2 by ALPN.
type tlsServer struct{ *http.Server }

func (t tlsServer) Serve(ln net.Listener) error { return t.Server.ServeTLS(ln, "", "") }

// listenerHandler serves a listener from whichever snapshot is current when a request starts.
func (rt *Runtime) listenerHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap, ref := rt.acquireCurrent()
		if snap == nil {
			http.Error(w, "pylon is starting", http.StatusServiceUnavailable)
			return
		}
		defer snap.release(ref)
		l := snap.Listeners[name]
		if l == nil {
			// The listener was removed by a reload; this connection predates it.
			w.Header().Set("Connection", "close")
			http.Error(w, "listener removed", http.StatusServiceUnavailable)
			return
		}
		l.ServeHTTP(w, r)
	})
}

// listenerFast offers requests to the fast path of the listener in whichever snapshot is
// current when a request starts (nil for the admin listener).
func (rt *Runtime) listenerFast(name string) h1.FastHandler {
	if name == adminServer {
		return nil
	}
	return fastHandler{rt, name}
}

type fastHandler struct {
	rt   *Runtime
	name string
}

func (f fastHandler) ServeFast(fc *h1.FastConn, head []byte) bool {
	snap, ref := f.rt.acquireCurrent()
	if snap == nil {
		return false
	}
	defer snap.release(ref)
	l := snap.Listeners[f.name]
	return l != nil && l.ServeFast(fc, head)
}

func (s *server) serve(lg *slog.Logger) {
	defer close(s.done)
	err := s.srv.Serve(s.ln)
	if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		lg.Error("listener stopped", "listener", displayName(s.name), "error", err)
	}
}

// shutdown retires a server that a reload replaced. New connections already go to its
// successor. The server first gets a grace period, with keep-alive off where it can be
// turned off, in which the connections it accepted (one may still be on its way from the
// socket's dispatcher) are taken in and deliver their first request: a server that is
// already shutting down refuses new connections (net/http also drops a request that arrives
// after Shutdown starts). Then in-flight requests finish within drain.
func (s *server) shutdown(drain time.Duration) {
	s.ln.Close()
	if ts, ok := s.srv.(tlsServer); ok {
		ts.SetKeepAlivesEnabled(false)
	}
	time.Sleep(min(retireGrace, drain))
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
}

// retireGrace is how long a replaced server keeps serving the connections it accepted.
const retireGrace = time.Second

// ReopenLogs reopens the access log files of the current snapshot (log rotation).
func (rt *Runtime) ReopenLogs() error {
	snap, ref := rt.acquireCurrent()
	if snap == nil {
		return nil
	}
	defer snap.release(ref)
	var errs []error
	for _, lg := range snap.logs {
		if err := lg.Reopen(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Shutdown drains every listener within ctx's deadline, then releases the snapshot.
func (rt *Runtime) Shutdown(ctx context.Context) error {
	rt.mu.Lock()
	rt.closed = true
	servers := rt.servers
	rt.servers = map[string]*server{}
	for _, s := range servers {
		s.sock.close()
	}
	rt.mu.Unlock()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.srv.Shutdown(ctx); err != nil {
				s.srv.Close()
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("runtime: draining %s: %w", displayName(s.name), err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if snap := rt.cur.Swap(nil); snap != nil {
		snap.retire()
	}
	return firstErr
}

// slogWriter routes net/http's own error log (TLS handshake errors and the like) to slog at
// debug level: they are the client's problem, not the operator's.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug(string(p))
	return len(p), nil
}
