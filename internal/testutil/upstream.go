package testutil

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Upstream is a real HTTP server on loopback that records what reaches it.
type Upstream struct {
	*httptest.Server
	Name     string
	mu       sync.Mutex
	requests []*Seen
	count    atomic.Int64
}

// Seen is one request as the upstream received it.
type Seen struct {
	Method, Host, RequestURI, Proto string
	Header                          http.Header
	Body                            []byte
}

// Echo is the default upstream behaviour: 200 with a JSON description of the request,
// and an x-upstream header naming the server.
func Echo(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", name)
		json.NewEncoder(w).Encode(map[string]any{
			"upstream": name, "method": r.Method, "host": r.Host, "uri": r.RequestURI,
			"proto": r.Proto, "headers": r.Header, "body_len": len(body),
		})
	}
}

// StartUpstream starts an upstream named name; h nil means Echo(name).
func StartUpstream(t testing.TB, name string, h http.Handler) *Upstream {
	t.Helper()
	u := &Upstream{Name: name}
	if h == nil {
		h = Echo(name)
	}
	u.Server = httptest.NewUnstartedServer(u.record(h))
	u.Start()
	t.Cleanup(u.Close)
	return u
}

// StartTLSUpstream starts an HTTPS upstream (HTTP/2 enabled) with the given certificate.
func StartTLSUpstream(t testing.TB, name string, h http.Handler, cert tls.Certificate) *Upstream {
	t.Helper()
	u := &Upstream{Name: name}
	if h == nil {
		h = Echo(name)
	}
	u.Server = httptest.NewUnstartedServer(u.record(h))
	u.EnableHTTP2 = true
	u.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	u.StartTLS()
	t.Cleanup(u.Close)
	return u
}

func (u *Upstream) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.count.Add(1)
		u.mu.Lock()
		u.requests = append(u.requests, &Seen{Method: r.Method, Host: r.Host, RequestURI: r.RequestURI, Proto: r.Proto, Header: r.Header.Clone()})
		u.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// Addr is the upstream's ip:port.
func (u *Upstream) Addr() string { return u.Listener.Addr().String() }

// Count is the number of requests received.
func (u *Upstream) Count() int64 { return u.count.Load() }

// Last is the last request received (nil if none).
func (u *Upstream) Last() *Seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.requests) == 0 {
		return nil
	}
	return u.requests[len(u.requests)-1]
}

// ClosedPort returns a loopback address on which nothing listens.
func ClosedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// StartH2CUpstream starts a cleartext upstream that speaks HTTP/2 with prior knowledge (and
// HTTP/1.1).
func StartH2CUpstream(t testing.TB, name string, h http.Handler) *Upstream {
	t.Helper()
	u := &Upstream{Name: name}
	if h == nil {
		h = Echo(name)
	}
	u.Server = httptest.NewUnstartedServer(u.record(h))
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	u.Config.Protocols = p
	u.Start()
	t.Cleanup(u.Close)
	return u
}
