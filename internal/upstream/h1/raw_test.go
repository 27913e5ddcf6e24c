package h1

import (
	"bufio"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/h1head"
)

func rawHead(method, target string, fields ...string) []byte {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: upstream.test\r\n")
	for _, f := range fields {
		b.WriteString(f + "\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// rawDo runs one exchange, reads the whole body and closes resp.
func rawDo(tr *Transport, ctx context.Context, addr string, head []byte, deadline time.Time, resp *RawResponse) (string, error) {
	if err := tr.RoundTripRaw(ctx, addr, head, true, deadline, resp); err != nil {
		return "", err
	}
	b, err := io.ReadAll(resp)
	resp.Close()
	return string(b), err
}

// scriptServer answers every request on a connection with resp, and closes the connection
// after it when closeAfter is set.
func scriptServer(t *testing.T, resp string, closeAfter bool) *rawServer {
	return newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, _, err := readRequest(br); err != nil {
				return
			}
			if _, err := io.WriteString(c, resp); err != nil || closeAfter {
				return
			}
		}
	})
}

func TestRawFraming(t *testing.T) {
	cases := []struct {
		name       string
		method     string
		resp       string
		closeAfter bool // the server closes the connection after the response
		interim    int  // interim heads before the final one
		status     int
		minor      int
		cl         int64
		chunked    bool
		body       string
		trailer    string
		reused     bool
	}{
		{name: "content-length", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
			status: 200, minor: 1, cl: 5, body: "hello", reused: true},
		{name: "empty content-length", resp: "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
			status: 201, minor: 1, body: "", reused: true},
		{name: "chunked", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n",
			status: 200, minor: 1, cl: -1, chunked: true, body: "hello, world", reused: true},
		{name: "chunked with trailers", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum, X-Other\r\n\r\nA \r\n0123456789\r\n0\r\nX-Sum: 45\r\nx-other:  b \r\n\r\n",
			status: 200, minor: 1, cl: -1, chunked: true, body: "0123456789", trailer: "X-Sum: 45\r\nx-other:  b \r\n", reused: true},
		{name: "close-delimited", resp: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", closeAfter: true,
			status: 200, minor: 1, cl: -1, body: "until the end"},
		{name: "HTTP/1.0 close", resp: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", closeAfter: true,
			status: 200, minor: 0, cl: 2, body: "ok"},
		{name: "HTTP/1.0 keep-alive", resp: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
			status: 200, minor: 0, cl: 2, body: "ok", reused: true},
		{name: "Connection close", resp: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", closeAfter: true,
			status: 200, minor: 1, cl: 2, body: "ok"},
		{name: "HEAD", method: "HEAD", resp: "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
			status: 200, minor: 1, cl: 0, reused: true},
		{name: "HEAD chunked", method: "HEAD", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
			status: 200, minor: 1, cl: 0, reused: true},
		{name: "204", resp: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, minor: 1, reused: true},
		{name: "304", resp: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: \"x\"\r\n\r\n", status: 304, minor: 1, reused: true},
		{name: "1xx skipped", resp: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
			interim: 2, status: 200, minor: 1, cl: 2, body: "ok", reused: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := scriptServer(t, tc.resp, tc.closeAfter)
			tr, d := newTransport()
			method := tc.method
			if method == "" {
				method = "GET"
			}
			wantHead := tc.resp
			for range tc.interim {
				wantHead = wantHead[h1head.HeadLen([]byte(wantHead)):]
			}
			wantHead = wantHead[:h1head.HeadLen([]byte(wantHead))]
			var resp RawResponse
			for i := range 2 {
				body, err := rawDo(tr, context.Background(), srv.addr(), rawHead(method, "/x"), time.Time{}, &resp)
				if err != nil {
					t.Fatalf("exchange %d: %v", i, err)
				}
				if resp.StatusCode != tc.status || resp.ProtoMinor != tc.minor || resp.ContentLength != tc.cl ||
					resp.Chunked != tc.chunked || body != tc.body || string(resp.Head) != wantHead || string(resp.Trailer) != tc.trailer {
					t.Fatalf("exchange %d: status %d minor %d length %d chunked %v body %q trailer %q head %q",
						i, resp.StatusCode, resp.ProtoMinor, resp.ContentLength, resp.Chunked, body, resp.Trailer, resp.Head)
				}
				if tc.trailer == "" && resp.Trailer != nil {
					t.Fatalf("Trailer %q, want nil", resp.Trailer)
				}
				total, idle := poolState(tr, srv.addr())
				if tc.reused && (total != 1 || idle != 1) || !tc.reused && total != 0 {
					t.Fatalf("exchange %d: pool total %d idle %d (reuse %v)", i, total, idle, tc.reused)
				}
			}
			if want := map[bool]int{true: 1, false: 2}[tc.reused]; d.count() != want {
				t.Fatalf("%d dials, want %d", d.count(), want)
			}
		})
	}
}

// TestRawRequestClose: a request that closes its connection (a "close" option, or HTTP/1.0
// without keep-alive) does not leave it in the pool, even when the upstream keeps it open.
func TestRawRequestClose(t *testing.T) {
	srv := scriptServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)
	for _, tc := range []struct {
		head   string
		reused bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nconnection: Keep-Alive, CLOSE\r\n\r\n", false},
		{"GET / HTTP/1.0\r\nHost: a\r\n\r\n", false},
		{"GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nX-Connection: close\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nConnection: upgrade-later\r\n\r\n", true},
	} {
		tr, _ := newTransport()
		var resp RawResponse
		body, err := rawDo(tr, context.Background(), srv.addr(), []byte(tc.head), time.Time{}, &resp)
		if err != nil || body != "ok" {
			t.Fatalf("%q: %q %v", tc.head, body, err)
		}
		if total, _ := poolState(tr, srv.addr()); (total == 1) != tc.reused {
			t.Errorf("%q: pool total %d, reuse %v", tc.head, total, tc.reused)
		}
	}
}

func TestRawInvalidRequestHead(t *testing.T) {
	tr, d := newTransport()
	var resp RawResponse
	for _, head := range []string{"GET / HTTP/1.1\r\nHost: a\r\n", "", "G(T / HTTP/1.1\r\n\r\n", " / HTTP/1.1\r\n\r\n"} {
		if err := tr.RoundTripRaw(context.Background(), "127.0.0.1:9", []byte(head), true, time.Time{}, &resp); err == nil {
			t.Errorf("%q accepted", head)
		}
	}
	if d.count() != 0 {
		t.Fatalf("%d dials for invalid heads", d.count())
	}
}

// TestRawKeepAlive runs many exchanges of every kind on one connection.
func TestRawKeepAlive(t *testing.T) {
	srv, ct := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", "6")
			io.WriteString(w, "length")
		case "/chunked":
			io.WriteString(w, "chunk")
			w.(http.Flusher).Flush()
			io.WriteString(w, "ed")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/big":
			io.Copy(w, &genReader{n: 100000})
		}
	})
	tr, d := newTransport()
	var resp RawResponse
	want := map[string]string{"/length": "length", "/chunked": "chunked", "/empty": ""}
	for i := range 200 {
		path := []string{"/length", "/chunked", "/empty", "/big"}[i%4]
		method := "GET"
		if i%20 == 19 {
			method = "HEAD"
		}
		body, err := rawDo(tr, context.Background(), addrOf(srv), rawHead(method, path), time.Now().Add(5*time.Second), &resp)
		if err != nil {
			t.Fatalf("%d %s %s: %v", i, method, path, err)
		}
		switch {
		case method == "HEAD":
			if body != "" {
				t.Fatalf("HEAD body %q", body)
			}
		case path == "/big":
			if len(body) != 100000 || crc32.ChecksumIEEE([]byte(body)) != genSum(100000) {
				t.Fatalf("big body of %d bytes, corrupt", len(body))
			}
		case body != want[path]:
			t.Fatalf("%s: body %q", path, body)
		}
	}
	if _, _, accepted, _ := ct.snapshot(); accepted != 1 || d.count() != 1 {
		t.Fatalf("server accepted %d connections, %d dials", accepted, d.count())
	}
	if total, idle := poolState(tr, addrOf(srv)); total != 1 || idle != 1 {
		t.Fatalf("pool total %d idle %d", total, idle)
	}
}

// TestRawLargeBodies checks streamed bodies end to end with reads of odd sizes.
func TestRawLargeBodies(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		io.Copy(w, &genReader{n: int64(n)})
	})
	tr, _ := newTransport()
	tr.ReadBufferSize = 4096
	var resp RawResponse
	buf := make([]byte, 1237)
	for _, q := range []string{"n=3000000", "n=3000000&chunked=1", "n=1&chunked=1", "n=70000"} {
		if err := tr.RoundTripRaw(context.Background(), addrOf(srv), rawHead("GET", "/?"+q), true, time.Time{}, &resp); err != nil {
			t.Fatal(err)
		}
		h := crc32.NewIEEE()
		var n int64
		for {
			m, err := resp.Read(buf[:1+int(n)%len(buf)])
			h.Write(buf[:m])
			n += int64(m)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v after %d bytes", q, err, n)
			}
		}
		resp.Close()
		want, _ := strconv.Atoi(strings.TrimPrefix(strings.Split(q, "&")[0], "n="))
		if n != int64(want) || h.Sum32() != genSum(n) {
			t.Fatalf("%s: %d bytes, checksum mismatch %v", q, n, h.Sum32() != genSum(n))
		}
	}
}

// TestRawChunkedStreams: a Read returns the data of a chunk that arrived without waiting
// for the next one.
func TestRawChunkedStreams(t *testing.T) {
	next := make(chan struct{})
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, _, err := readRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
		<-next
		io.WriteString(c, "6\r\nsecond\r\n0\r\n\r\n")
	})
	tr, _ := newTransport()
	var resp RawResponse
	if err := tr.RoundTripRaw(context.Background(), srv.addr(), rawHead("GET", "/"), true, time.Now().Add(5*time.Second), &resp); err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	buf := make([]byte, 100)
	n, err := resp.Read(buf)
	if err != nil || string(buf[:n]) != "first" {
		t.Fatalf("first read %q %v", buf[:n], err)
	}
	close(next)
	if b, err := io.ReadAll(&resp); err != nil || string(b) != "second" {
		t.Fatalf("rest %q %v", b, err)
	}
}

// TestRawHeadAcrossReads: heads longer than the read buffer, and heads arriving in pieces
// (the CRLF CRLF split between reads), are read whole.
func TestRawHeadAcrossReads(t *testing.T) {
	big := "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("b", 20000) + "\r\nContent-Length: 2\r\n\r\n"
	for _, pieces := range [][]string{
		{big + "ok"},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r", "\nok"},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", "\r\nok"},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r", "\n\r\nok"},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2", "\r\n\r\nok"},
		{"HTTP/1.1 100 Continue\r\n\r", "\nHTTP/1.1 200 OK\r\n", "Content-Length: 2\r\n\r\no", "k"},
		{big[:10000], big[10000:] + "ok"},
	} {
		srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
			for {
				if _, _, err := readRequest(br); err != nil {
					return
				}
				for _, p := range pieces {
					io.WriteString(c, p)
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
		tr, d := newTransport()
		tr.ReadBufferSize = 4096
		var resp RawResponse
		for range 2 {
			body, err := rawDo(tr, context.Background(), srv.addr(), rawHead("GET", "/"), time.Time{}, &resp)
			all := strings.Join(pieces, "")
			all = all[strings.LastIndex(all, "HTTP/1.1"):]
			if err != nil || body != "ok" || string(resp.Head) != all[:len(all)-2] {
				t.Fatalf("%q: body %q err %v head %d bytes", pieces, body, err, len(resp.Head))
			}
		}
		if d.count() != 1 {
			t.Fatalf("%q: %d dials", pieces, d.count())
		}
	}
}

func TestRawStaleConnRetry(t *testing.T) {
	srv := staleServer(t)
	tr, d := newTransport()
	var resp RawResponse
	for i := range 3 {
		if body, err := rawDo(tr, context.Background(), srv.addr(), rawHead("GET", "/"), time.Time{}, &resp); err != nil || body != "GET ok" {
			t.Fatalf("request %d: %q %v", i, body, err)
		}
	}
	// Each request after the first met a stale connection and was sent again on a new one.
	if d.count() != 3 {
		t.Fatalf("%d dials, want 3", d.count())
	}
	// Not idempotent: the request may have reached the upstream, so it is not resent.
	err := tr.RoundTripRaw(context.Background(), srv.addr(), rawHead("POST", "/", "Content-Length: 0"), false, time.Time{}, &resp)
	if err == nil {
		resp.Close()
		t.Fatal("non-idempotent request on a stale connection was sent again")
	}
	if d.count() != 3 || srv.accepted.Load() != 3 {
		t.Fatalf("dials %d accepted %d, want 3 3 (no resend)", d.count(), srv.accepted.Load())
	}
	if total, _ := poolState(tr, srv.addr()); total != 0 {
		t.Fatalf("pool total %d", total)
	}
}

func TestRawDialErrorUnwrapped(t *testing.T) {
	want := &dialError{"x"}
	tr := &Transport{Dial: func(context.Context, string) (net.Conn, error) { return nil, want }}
	var resp RawResponse
	if err := tr.RoundTripRaw(context.Background(), "127.0.0.1:9", rawHead("GET", "/"), true, time.Time{}, &resp); err != want {
		t.Fatalf("err %v (%T), want the Dial's error itself", err, err)
	}
	if total, _ := poolState(tr, "127.0.0.1:9"); total != 0 {
		t.Fatalf("pool total %d after a failed dial", total)
	}
}

// hangServer serves /ok at once, sends /body's head and part of its body, and hangs on
// anything else until the client goes.
func hangServer(t *testing.T) (string, *connTracker) {
	release := make(chan struct{})
	srv, ct := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			io.WriteString(w, "ok")
			return
		case "/body":
			io.WriteString(w, "first part")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	return addrOf(srv), ct
}

func timeoutErr(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want DeadlineExceeded", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err %v is not a net.Error timeout", err)
	}
}

func TestRawDeadline(t *testing.T) {
	addr, ct := hangServer(t)
	tr, d := newTransport()
	var resp RawResponse

	// In time: the connection is reused, also after the deadline has passed since.
	for range 2 {
		if body, err := rawDo(tr, context.Background(), addr, rawHead("GET", "/ok"), time.Now().Add(50*time.Millisecond), &resp); err != nil || body != "ok" {
			t.Fatalf("%q %v", body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d.count() != 1 {
		t.Fatalf("%d dials, want 1", d.count())
	}

	// Waiting for the head.
	start := time.Now()
	err := tr.RoundTripRaw(context.Background(), addr, rawHead("GET", "/hang"), true, time.Now().Add(100*time.Millisecond), &resp)
	timeoutErr(t, err)
	if el := time.Since(start); el > time.Second {
		t.Fatalf("returned after %v", el)
	}
	waitFor(t, "server to see the close", func() bool { open, _, _, _ := ct.snapshot(); return open == 0 })

	// Reading the body.
	if err := tr.RoundTripRaw(context.Background(), addr, rawHead("GET", "/body"), true, time.Now().Add(100*time.Millisecond), &resp); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(&resp)
	timeoutErr(t, err)
	if !strings.Contains(string(b), "first part") {
		t.Fatalf("read %q before the deadline", b)
	}
	if _, err := resp.Read(make([]byte, 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read after the failure: %v", err)
	}
	resp.Close()
	if total, _ := poolState(tr, addr); total != 0 {
		t.Fatalf("pool total %d", total)
	}

	// A deadline already passed.
	timeoutErr(t, tr.RoundTripRaw(context.Background(), addr, rawHead("GET", "/ok"), true, time.Now().Add(-time.Second), &resp))
	if body, err := rawDo(tr, context.Background(), addr, rawHead("GET", "/ok"), time.Time{}, &resp); err != nil || body != "ok" {
		t.Fatalf("%q %v", body, err)
	}
}

// notifyCtx is a context with NotifyCancel and StopNotify, as the listener's request
// contexts have.
type notifyCtx struct {
	context.Context
	mu       sync.Mutex
	f        func()
	canceled bool
}

func (c *notifyCtx) NotifyCancel(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.canceled {
		return false
	}
	c.f = f
	return true
}

func (c *notifyCtx) StopNotify() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok := c.f != nil
	c.f = nil
	return ok
}

func (c *notifyCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.canceled {
		return context.Canceled
	}
	return nil
}

func (c *notifyCtx) cancel() {
	c.mu.Lock()
	c.canceled = true
	f := c.f
	c.f = nil
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

func TestRawCancel(t *testing.T) {
	for _, kind := range []string{"context", "notifier"} {
		t.Run(kind, func(t *testing.T) {
			addr, ct := hangServer(t)
			tr, d := newTransport()
			newCtx := func() (context.Context, func()) {
				if kind == "context" {
					return context.WithCancel(context.Background())
				}
				c := &notifyCtx{Context: context.Background()}
				return c, c.cancel
			}
			var resp RawResponse

			// Waiting for the head.
			ctx, cancel := newCtx()
			time.AfterFunc(50*time.Millisecond, cancel)
			err := tr.RoundTripRaw(ctx, addr, rawHead("GET", "/hang"), true, time.Time{}, &resp)
			if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "h1: ") {
				t.Fatalf("err %v, want Canceled", err)
			}
			waitFor(t, "server to see the close", func() bool { open, _, _, _ := ct.snapshot(); return open == 0 })

			// Reading the body.
			ctx, cancel = newCtx()
			if err := tr.RoundTripRaw(ctx, addr, rawHead("GET", "/body"), true, time.Time{}, &resp); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 100)
			if n, err := io.ReadAtLeast(&resp, buf, len("first part")); err != nil || !strings.HasSuffix(string(buf[:n]), "first part") {
				t.Fatalf("read %q %v", buf[:n], err)
			}
			time.AfterFunc(50*time.Millisecond, cancel)
			if _, err := io.ReadAll(&resp); !errors.Is(err, context.Canceled) {
				t.Fatalf("body read err %v, want Canceled", err)
			}
			resp.Close()

			// Canceled before it starts.
			if err := tr.RoundTripRaw(ctx, addr, rawHead("GET", "/ok"), true, time.Time{}, &resp); !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v", err)
			}
			if body, err := rawDo(tr, context.Background(), addr, rawHead("GET", "/ok"), time.Time{}, &resp); err != nil || body != "ok" {
				t.Fatalf("%q %v", body, err)
			}
			if d.count() != 3 {
				t.Fatalf("%d dials, want 3 (a canceled connection reused?)", d.count())
			}
		})
	}
}

func TestRawMalformed(t *testing.T) {
	cases := []struct {
		name     string
		resp     string
		headErr  bool // RoundTripRaw fails (else reading the body does)
		contains string
	}{
		{"garbage status line", "garbage\r\n\r\n", true, "malformed"},
		{"bad status code", "HTTP/1.1 2x0 OK\r\n\r\n", true, "malformed"},
		{"bad version", "HTTP/9.x 200 OK\r\n\r\n", true, "malformed"},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", true, "malformed"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 2\r\n\r\nok", true, "malformed"},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", true, "malformed"},
		{"length and chunked", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true, "malformed"},
		{"unknown coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nab", true, "malformed"},
		{"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nraw", true, "101"},
		{"malformed interim", "HTTP/1.1 100 Continue\r\nX:\x01\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true, "malformed"},
		{"oversized head", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 8000) + "\r\n\r\n", true, "too large"},
		{"endless head line", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("b", 100000), true, "too large"},
		{"oversized interims", strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 200) + "HTTP/1.1 200 OK\r\n\r\n", true, "too large"},
		{"empty", "", true, "closed before the response"},
		{"head cut", "HTTP/1.1 200 OK\r\nX-A: b", true, "unexpected EOF"},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, "unexpected EOF"},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", false, "chunked"},
		{"bare LF chunk line", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n", false, "chunked"},
		{"empty chunk line", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\n", false, "chunked"},
		{"huge chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\nab", false, "chunked"},
		{"chunk data too long", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", false, "chunked"},
		{"truncated chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nab", false, "unexpected EOF"},
		{"truncated trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nX: y\r\n", false, "unexpected EOF"},
		{"malformed trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nX y\r\n\r\n", false, "trailer"},
		{"trailer too long", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nX: " + strings.Repeat("t", 20000) + "\r\n\r\n", false, "trailer"},
		{"chunk overhead", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("1;"+strings.Repeat("e", 1000)+"\r\nx\r\n", 40) + "0\r\n\r\n", false, "non-data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The server keeps the connection open after its bytes: nothing may wait for more.
			srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
				if _, _, err := readRequest(br); err != nil {
					return
				}
				io.WriteString(c, tc.resp)
				if tc.resp != "" && !strings.Contains(tc.name, "cut") && !strings.Contains(tc.name, "short") && !strings.Contains(tc.name, "truncated") {
					io.Copy(io.Discard, br)
				}
			})
			tr, _ := newTransport()
			tr.MaxResponseHeaderBytes = 4096
			var resp RawResponse
			start := time.Now()
			err := tr.RoundTripRaw(context.Background(), srv.addr(), rawHead("GET", "/"), true, time.Now().Add(5*time.Second), &resp)
			if err == nil {
				if tc.headErr {
					resp.Close()
					t.Fatalf("RoundTripRaw succeeded: %d", resp.StatusCode)
				}
				_, err = io.ReadAll(&resp)
				resp.Close()
			} else if !tc.headErr {
				t.Fatalf("RoundTripRaw: %v", err)
			}
			if err == nil || !strings.Contains(err.Error(), tc.contains) || !strings.HasPrefix(err.Error(), "h1: ") {
				t.Fatalf("err %v, want one mentioning %q", err, tc.contains)
			}
			if isCanceled(err) || time.Since(start) > 2*time.Second {
				t.Fatalf("waited for more: %v after %v", err, time.Since(start))
			}
			if total, _ := poolState(tr, srv.addr()); total != 0 {
				t.Fatalf("pool total %d after a malformed response", total)
			}
		})
	}
}

func TestRawCloseBeforeEOF(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		if r.URL.Query().Get("trailer") != "" {
			w.Header().Set("Trailer", "X-Sum")
		}
		if r.URL.Query().Get("chunked") != "" {
			w.(http.Flusher).Flush() // chunked, however short the body
		}
		io.Copy(w, &genReader{n: int64(n)})
		if r.URL.Query().Get("trailer") != "" {
			w.Header().Set("X-Sum", "1")
		}
	})
	cases := []struct {
		query string
		reuse bool
	}{
		{"n=100", true},                     // the rest is in the read buffer: drained
		{"n=100&chunked=1", true},           // same, chunked
		{"n=100&chunked=1&trailer=1", true}, // and with a trailer
		{"n=8000000", false},                // too much left: closed
		{"n=8000000&chunked=1", false},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			tr, d := newTransport()
			var resp RawResponse
			if err := tr.RoundTripRaw(context.Background(), addrOf(srv), rawHead("GET", "/?"+tc.query), true, time.Time{}, &resp); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 10)
			if _, err := io.ReadFull(&resp, buf); err != nil {
				t.Fatal(err)
			}
			if tc.reuse {
				// Let the whole small response arrive before closing.
				waitFor(t, "the response to be buffered", func() bool {
					b, _ := resp.pc.br.Peek(resp.pc.br.Buffered())
					return strings.HasSuffix(string(b), "\r\n\r\n") || !resp.Chunked && len(b) >= 90
				})
			}
			start := time.Now()
			resp.Close()
			if el := time.Since(start); el > time.Second {
				t.Fatalf("Close took %v", el)
			}
			resp.Close() // idempotent
			if _, err := resp.Read(buf); !errors.Is(err, errBodyClosed) {
				t.Fatalf("read after close: %v", err)
			}
			if total, idle := poolState(tr, addrOf(srv)); tc.reuse && idle != 1 || !tc.reuse && total != 0 {
				t.Fatalf("pool total %d idle %d after Close", total, idle)
			}
			if body, err := rawDo(tr, context.Background(), addrOf(srv), rawHead("GET", "/?n=1"), time.Time{}, &resp); err != nil || len(body) != 1 {
				t.Fatalf("next exchange: %q %v", body, err)
			}
			if want := map[bool]int{true: 1, false: 2}[tc.reuse]; d.count() != want {
				t.Fatalf("%d dials, want %d", d.count(), want)
			}
		})
	}

	// A RawResponse passed again without Close ends its exchange first.
	tr, d := newTransport()
	var resp RawResponse
	for range 3 {
		if err := tr.RoundTripRaw(context.Background(), addrOf(srv), rawHead("GET", "/?n=8000000"), true, time.Time{}, &resp); err != nil {
			t.Fatal(err)
		}
	}
	resp.Close()
	if total, _ := poolState(tr, addrOf(srv)); total != 0 || d.count() != 3 {
		t.Fatalf("pool total %d, %d dials", total, d.count())
	}
}

func TestRawZeroValue(t *testing.T) {
	var resp RawResponse
	if n, err := resp.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read on the zero value: %d %v", n, err)
	}
	if err := resp.Close(); err != nil {
		t.Fatal(err)
	}
}

// quietServer answers every request head with resp, allocating nothing per request (the
// allocations of every goroutine count in testing.AllocsPerRun).
func quietServer(t *testing.T, resp string) *rawServer {
	b := []byte(resp)
	return newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break
				}
			}
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	})
}

// TestRawNoAllocations: a keep-alive exchange on a pooled connection with a reused
// RawResponse allocates nothing, with a deadline or a cancellable listener context too.
func TestRawNoAllocations(t *testing.T) {
	srv := quietServer(t, string(benchResponse))
	chunked := quietServer(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nHello,\r\n7\r\n World!\r\n0\r\nX: 1\r\n\r\n")
	tr := &Transport{}
	head := rawHead("GET", "/v1/models", "Accept: */*", "X-Request-Id: 0f3c1a9e-5b7d-4e21-9c8a-2d6f4b1e7a90")
	nctx := &notifyCtx{Context: context.Background()}
	buf := make([]byte, 512)
	var resp RawResponse
	for _, tc := range []struct {
		name     string
		addr     string
		ctx      context.Context
		deadline bool
	}{
		{"plain", srv.addr(), context.Background(), false},
		{"deadline", srv.addr(), context.Background(), true},
		{"notifier", srv.addr(), nctx, true},
		{"chunked", chunked.addr(), nctx, true},
	} {
		exchange := func() {
			var deadline time.Time
			if tc.deadline {
				deadline = time.Now().Add(5 * time.Second)
			}
			if err := tr.RoundTripRaw(tc.ctx, tc.addr, head, true, deadline, &resp); err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				m, err := resp.Read(buf[n:])
				n += m
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			resp.Close()
			if string(buf[:n]) != "Hello, World!" {
				t.Fatalf("body %q", buf[:n])
			}
		}
		exchange()
		if a := testing.AllocsPerRun(200, exchange); a != 0 {
			t.Errorf("%s: %v allocations per exchange", tc.name, a)
		}
	}
}

// FuzzRoundTripRaw feeds arbitrary server bytes to RoundTripRaw: whatever arrives, neither
// it nor the body may panic or hang, and the pool's accounting must come back to rest.
func FuzzRoundTripRaw(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X\r\n\r\n2\r\nok\r\n0\r\nX: y\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nok",
		"HTTP/1.0 200 OK\r\n\r\nclose delimited",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nraw bytes",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nab",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 5000) + "\r\n\r\n",
		"HTTP/1.1 200 OK\n\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := &Transport{
			Dial: func(ctx context.Context, addr string) (net.Conn, error) {
				c, s := net.Pipe()
				go io.Copy(io.Discard, s)
				go func() {
					s.Write(data)
					s.Close()
				}()
				return c, nil
			},
			MaxResponseHeaderBytes: 4096,
			MaxConnsPerHost:        1,
		}
		var resp RawResponse
		for i, method := range []string{"GET", "HEAD", "GET"} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := tr.RoundTripRaw(ctx, "127.0.0.1:1", rawHead(method, "/"), true, time.Time{}, &resp)
			if err == nil {
				if i == 2 {
					resp.Read(make([]byte, 3)) // abandon the body early
				} else {
					io.Copy(io.Discard, io.LimitReader(&resp, 1<<20))
				}
				resp.Close()
			}
			if ctx.Err() != nil {
				t.Fatalf("%s hung on %q", method, data)
			}
			cancel()
		}
		if total, idle := poolState(tr, "127.0.0.1:1"); total != idle {
			t.Fatalf("pool total %d idle %d after all exchanges ended", total, idle)
		}
		tr.CloseIdleConnections()
	})
}
