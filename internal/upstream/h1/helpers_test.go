package h1

import (
	"bufio"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// dialCounter is a Transport.Dial that counts the connections it opens.
type dialCounter struct {
	n    atomic.Int64
	wrap func(net.Conn) net.Conn
}

func (d *dialCounter) dial(ctx context.Context, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	d.n.Add(1)
	if d.wrap != nil {
		c = d.wrap(c)
	}
	return c, nil
}

func (d *dialCounter) count() int { return int(d.n.Load()) }

func newTransport() (*Transport, *dialCounter) {
	d := &dialCounter{}
	return &Transport{Dial: d.dial}, d
}

// wrappedConn hides the socket the way a stats-counting conn does, but offers NetConn.
type wrappedConn struct{ net.Conn }

func (c wrappedConn) NetConn() net.Conn { return c.Conn }

func newRequest(t testing.TB, ctx context.Context, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func get(t testing.TB, tr *Transport, url string) (*http.Response, string) {
	t.Helper()
	resp, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", url, nil))
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp, string(b)
}

// poolState reports an endpoint's counted and idle connections.
func poolState(tr *Transport, addr string) (total, idle int) {
	p := tr.hostMap()[addr]
	if p == nil {
		return 0, 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total, len(p.idle)
}

// connTracker counts an httptest server's connections.
type connTracker struct {
	mu          sync.Mutex
	open, max   int
	accepted    int
	closedTotal int
}

func (c *connTracker) hook(_ net.Conn, s http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch s {
	case http.StateNew:
		c.open++
		c.accepted++
		c.max = max(c.max, c.open)
	case http.StateClosed, http.StateHijacked:
		c.open--
		c.closedTotal++
	}
}

func (c *connTracker) snapshot() (open, maxOpen, accepted, closed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open, c.max, c.accepted, c.closedTotal
}

func newServer(t testing.TB, h http.HandlerFunc) (*httptest.Server, *connTracker) {
	t.Helper()
	ct := &connTracker{}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = ct.hook
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, ct
}

func addrOf(srv *httptest.Server) string { return srv.Listener.Addr().String() }

// rawServer serves each accepted connection with handle on its own goroutine.
type rawServer struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func newRawServer(t testing.TB, handle func(c net.Conn, br *bufio.Reader)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				handle(c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *rawServer) addr() string { return s.ln.Addr().String() }
func (s *rawServer) url() string  { return "http://" + s.addr() + "/" }

// readRequest reads one request and its whole body from a raw server connection.
func readRequest(br *bufio.Reader) (*http.Request, []byte, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(req.Body)
	return req, b, err
}

// readHead reads a request head only, leaving any body unread.
func readHead(br *bufio.Reader) error {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.TrimRight(line, "\r\n") == "" {
			return nil
		}
	}
}

// genReader generates n bytes of a repeating pattern without holding them.
type genReader struct {
	n   int64
	off int
}

var pattern = func() []byte {
	b := make([]byte, 8191) // odd length: chunk boundaries never line up with it
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}()

func (g *genReader) Read(p []byte) (int, error) {
	if g.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.n {
		p = p[:g.n]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], pattern[g.off:])
		n += c
		g.off = (g.off + c) % len(pattern)
	}
	g.n -= int64(n)
	return n, nil
}

// genSum is the CRC of what a genReader of n bytes produces.
func genSum(n int64) uint32 {
	h := crc32.NewIEEE()
	io.Copy(h, &genReader{n: n})
	return h.Sum32()
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func isCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
