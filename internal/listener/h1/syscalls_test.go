package h1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
)

// countingListener counts Read and Write calls on accepted connections.
type countingListener struct {
	net.Listener
	reads, writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, l: l}, nil
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.l.reads.Add(1)
	return c.Conn.Read(p)
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.l.writes.Add(1)
	return c.Conn.Write(p)
}

// callsPerRequest serves n sequential keep-alive GETs and returns the Read and Write calls the
// server made per request.
func callsPerRequest(t *testing.T, serve func(net.Listener) func(), n int) (reads, writes float64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	stop := serve(cl)
	defer stop()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for range n {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		readResp(t, br, "GET")
	}
	return float64(cl.reads.Load()) / float64(n), float64(cl.writes.Load()) / float64(n)
}

func TestOneReadOneWritePerRequest(t *testing.T) {
	const n = 200
	r, w := callsPerRequest(t, func(ln net.Listener) func() {
		s := &Server{Handler: http.HandlerFunc(handler64)}
		go s.Serve(ln)
		return func() { s.Close() }
	}, n)
	nr, nw := callsPerRequest(t, func(ln net.Listener) func() {
		s := &http.Server{Handler: http.HandlerFunc(handler64)}
		go s.Serve(ln)
		return func() { s.Close() }
	}, n)
	t.Logf("per request: h1 %.2f reads %.2f writes; net/http %.2f reads %.2f writes", r, w, nr, nw)
	// One Read per request (plus the one that is waiting for the next), one Write.
	if r > 1+2.0/n || w != 1 {
		t.Fatalf("h1: %.2f reads, %.2f writes per request", r, w)
	}
}
