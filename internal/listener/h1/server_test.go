package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// syncBuffer collects ErrorLog output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type testServer struct {
	*Server
	addr   string
	logs   *syncBuffer
	served chan error
}

func startServer(t testing.TB, h http.Handler, configure ...func(*Server)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	s := &Server{Handler: h, ErrorLog: log.New(logs, "", 0)}
	for _, f := range configure {
		f(s)
	}
	ts := &testServer{Server: s, addr: ln.Addr().String(), logs: logs, served: make(chan error, 1)}
	go func() { ts.served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-ts.served:
			if !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve returned %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return ts
}

func (ts *testServer) dial(t testing.TB) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

func (ts *testServer) url(path string) string { return "http://" + ts.addr + path }

func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}
}

func readResp(t testing.TB, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	resp.Body.Close()
	return resp, string(body)
}

// expectClosed checks that the server closes the connection (EOF, nothing more).
func expectClosed(t testing.TB, c net.Conn, br *bufio.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := br.ReadByte()
	if err == nil {
		t.Fatalf("connection still open: read %q", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection not closed by the server")
	}
}

func TestKeepAlive100Requests(t *testing.T) {
	var newConns, closed atomic.Int32
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.URL.Path)
	}), func(s *Server) {
		s.ConnState = func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				newConns.Add(1)
			case http.StateClosed:
				closed.Add(1)
			}
		}
	})
	cl := newClient()
	for i := range 100 {
		resp, err := cl.Get(ts.url("/" + strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := "hello /" + strconv.Itoa(i); string(b) != want || resp.ContentLength != int64(len(want)) {
			t.Fatalf("got %q (len %d), want %q", b, resp.ContentLength, want)
		}
		if resp.Header.Get("Date") == "" {
			t.Fatal("no Date")
		}
		if _, ok := resp.Header["Content-Type"]; ok {
			t.Fatal("Content-Type was added")
		}
	}
	if n := newConns.Load(); n != 1 {
		t.Fatalf("StateNew seen %d times, want 1", n)
	}
	cl.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for closed.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if closed.Load() != 1 {
		t.Fatal("StateClosed not reported")
	}
}

func TestConnStateSequence(t *testing.T) {
	var mu sync.Mutex
	var states []http.ConnState
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), func(s *Server) {
		s.ConnState = func(_ net.Conn, st http.ConnState) {
			mu.Lock()
			states = append(states, st)
			mu.Unlock()
		}
	})
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	readResp(t, br, "GET")
	c.Close()
	want := []http.ConnState{http.StateNew, http.StateActive, http.StateIdle, http.StateClosed}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := fmt.Sprint(states)
		mu.Unlock()
		if got == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("states %s, want %v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFraming(t *testing.T) {
	big := strings.Repeat("x", 10000)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cl":
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			io.WriteString(w, big)
		case "/chunked":
			io.WriteString(w, big[:3000])
			io.WriteString(w, big[3000:])
		case "/small":
			io.WriteString(w, "a")
			io.WriteString(w, "bc")
		case "/empty":
		case "/te-identity":
			w.Header().Set("Transfer-Encoding", "identity")
			io.WriteString(w, "streamed")
		case "/too-long":
			// As net/http: the refused bytes still count, so the connection is not reused.
			w.Header().Set("Content-Length", "3")
			io.WriteString(w, "abc")
			if _, err := io.WriteString(w, "d"); err != http.ErrContentLength {
				panic(fmt.Sprintf("write past Content-Length: %v", err))
			}
		case "/short":
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "abc")
		}
	}))
	cases := []struct {
		path      string
		body      string
		cl        int64
		chunked   bool
		closeConn bool
	}{
		{"/cl", big, int64(len(big)), false, false},
		{"/chunked", big, -1, true, false},
		{"/small", "abc", 3, false, false},
		{"/empty", "", 0, false, false},
		{"/too-long", "abc", 3, false, true},
		{"/te-identity", "streamed", -1, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			c := ts.dial(t)
			br := bufio.NewReader(c)
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", tc.path)
			resp, body := readResp(t, br, "GET")
			if body != tc.body {
				t.Fatalf("body %d bytes, want %d", len(body), len(tc.body))
			}
			if resp.ContentLength != tc.cl {
				t.Fatalf("ContentLength %d, want %d", resp.ContentLength, tc.cl)
			}
			if got := len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"; got != tc.chunked {
				t.Fatalf("chunked %v, want %v", got, tc.chunked)
			}
			if tc.closeConn {
				expectClosed(t, c, br)
				return
			}
			// The connection stays usable.
			io.WriteString(c, "GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
			if _, body := readResp(t, br, "GET"); body != "abc" {
				t.Fatalf("follow-up body %q", body)
			}
		})
	}
	t.Run("/short", func(t *testing.T) {
		c := ts.dial(t)
		br := bufio.NewReader(c)
		io.WriteString(c, "GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ContentLength != 10 {
			t.Fatalf("ContentLength %d", resp.ContentLength)
		}
		if _, err := io.ReadAll(resp.Body); err != io.ErrUnexpectedEOF {
			t.Fatalf("short body read: %v, want unexpected EOF", err)
		}
	})
}

func TestNoBodyResponses(t *testing.T) {
	writeErrs := make(chan error, 4)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
			_, err := io.WriteString(w, "nope")
			writeErrs <- err
		case "/304":
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Etag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
			_, err := io.WriteString(w, "nope")
			writeErrs <- err
		default:
			io.WriteString(w, "hello body") // for HEAD: counted, not sent
		}
	}))
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := readResp(t, br, "HEAD")
	if body != "" || resp.ContentLength != 10 || resp.StatusCode != 200 {
		t.Fatalf("HEAD: status %d cl %d body %q", resp.StatusCode, resp.ContentLength, body)
	}
	resp, _ = readResp(t, br, "GET")
	if resp.StatusCode != 204 || resp.Header.Get("Content-Length") != "" || len(resp.TransferEncoding) != 0 {
		t.Fatalf("204: %+v", resp)
	}
	resp, _ = readResp(t, br, "GET")
	if resp.StatusCode != 304 || resp.Header.Get("Content-Type") != "" || resp.Header.Get("Etag") != `"x"` || resp.Header.Get("Content-Length") != "" {
		t.Fatalf("304: %v", resp.Header)
	}
	if _, body := readResp(t, br, "GET"); body != "hello body" {
		t.Fatalf("after no-body responses: %q", body)
	}
	for range 2 {
		if err := <-writeErrs; err != http.ErrBodyNotAllowed {
			t.Fatalf("Write on a no-body status: %v", err)
		}
	}
}

func TestHTTP10(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			io.WriteString(w, strings.Repeat("y", 9000))
			return
		}
		io.WriteString(w, "ten")
	}))
	t.Run("close", func(t *testing.T) {
		c := ts.dial(t)
		br := bufio.NewReader(c)
		io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
		resp, body := readResp(t, br, "GET")
		if resp.Proto != "HTTP/1.0" || body != "ten" || resp.Header.Get("Connection") != "" {
			t.Fatalf("%s %q %v", resp.Proto, body, resp.Header)
		}
		expectClosed(t, c, br)
	})
	t.Run("close-delimited", func(t *testing.T) {
		c := ts.dial(t)
		br := bufio.NewReader(c)
		io.WriteString(c, "GET /big HTTP/1.0\r\n\r\n")
		resp, body := readResp(t, br, "GET")
		if len(body) != 9000 || resp.ContentLength != -1 || len(resp.TransferEncoding) != 0 {
			t.Fatalf("len %d cl %d te %v", len(body), resp.ContentLength, resp.TransferEncoding)
		}
	})
	t.Run("http11-close", func(t *testing.T) {
		c := ts.dial(t)
		br := bufio.NewReader(c)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, body := readResp(t, br, "GET")
		if body != "ten" || !resp.Close {
			t.Fatalf("%q %v", body, resp.Header)
		}
		expectClosed(t, c, br)
	})
	t.Run("keep-alive", func(t *testing.T) {
		c := ts.dial(t)
		br := bufio.NewReader(c)
		for range 3 {
			io.WriteString(c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			resp, body := readResp(t, br, "GET")
			if body != "ten" || resp.Header.Get("Connection") != "keep-alive" || resp.ContentLength != 3 {
				t.Fatalf("%q %v", body, resp.Header)
			}
		}
		// Without a length the 1.0 keep-alive cannot be honoured.
		io.WriteString(c, "GET /big HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		readResp(t, br, "GET")
		expectClosed(t, c, br)
	})
}

func TestRequestBodies(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			fmt.Fprintf(w, "%d:%s", r.ContentLength, b)
		case "/ignore":
			io.WriteString(w, "ignored")
		case "/close-early":
			r.Body.Read(make([]byte, 10))
			r.Body.Close()
			io.WriteString(w, "closed")
		}
	}))
	cl := newClient()
	t.Run("content-length", func(t *testing.T) {
		resp, err := cl.Post(ts.url("/echo"), "text/plain", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "5:hello" {
			t.Fatalf("%q", b)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		c := ts.dial(t)
		br := bufio.NewReader(c)
		io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
		if _, body := readResp(t, br, "GET"); body != "-1:abcde" {
			t.Fatalf("%q", body)
		}
	})
	unread := func(t *testing.T, path string, size int, wantClose bool) {
		c := ts.dial(t)
		br := bufio.NewReader(c)
		go func() {
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", path, size)
			c.Write(bytes.Repeat([]byte("z"), size))
		}()
		resp, _ := readResp(t, br, "GET")
		if got := resp.Close; got != wantClose {
			t.Fatalf("resp.Close %v, want %v (%v)", got, wantClose, resp.Header)
		}
		if wantClose {
			c.(*net.TCPConn).CloseWrite()
			expectClosed(t, c, br)
			return
		}
		io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
		if _, body := readResp(t, br, "GET"); body != "2:ok" {
			t.Fatalf("follow-up %q", body)
		}
	}
	t.Run("unread-small", func(t *testing.T) { unread(t, "/ignore", 100<<10, false) })
	t.Run("closed-small", func(t *testing.T) { unread(t, "/close-early", 100<<10, false) })
	t.Run("unread-huge", func(t *testing.T) { unread(t, "/ignore", 2<<20, true) })
	t.Run("unread-huge-chunked", func(t *testing.T) {
		c := ts.dial(t)
		br := bufio.NewReader(c)
		go func() {
			io.WriteString(c, "POST /ignore HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
			chunk := "8000\r\n" + strings.Repeat("q", 0x8000) + "\r\n"
			for range 40 {
				if _, err := io.WriteString(c, chunk); err != nil {
					return
				}
			}
		}()
		resp, body := readResp(t, br, "GET")
		if body != "ignored" || !resp.Close {
			t.Fatalf("%q close=%v", body, resp.Close)
		}
		expectClosed(t, c, br)
	})
}

func TestExpectContinue(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/reject" {
			http.Error(w, "no thanks", http.StatusForbidden)
			return
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %s", b)
	}))
	t.Run("read", func(t *testing.T) {
		c := ts.dial(t)
		br := bufio.NewReader(c)
		io.WriteString(c, "PUT /read HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
		line, err := br.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("%q %v", line, err)
		}
		if blank, _ := br.ReadString('\n'); blank != "\r\n" {
			t.Fatalf("%q", blank)
		}
		io.WriteString(c, "data")
		resp, body := readResp(t, br, "PUT")
		if body != "got data" || resp.Close {
			t.Fatalf("%q close=%v", body, resp.Close)
		}
	})
	t.Run("unread", func(t *testing.T) {
		c := ts.dial(t)
		br := bufio.NewReader(c)
		io.WriteString(c, "PUT /reject HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
		resp, _ := readResp(t, br, "PUT")
		if resp.StatusCode != 403 || !resp.Close {
			t.Fatalf("status %d close %v", resp.StatusCode, resp.Close)
		}
		expectClosed(t, c, br)
	})
	t.Run("client", func(t *testing.T) {
		cl := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}
		req, _ := http.NewRequest("PUT", ts.url("/read"), strings.NewReader("payload"))
		req.Header.Set("Expect", "100-continue")
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "got payload" {
			t.Fatalf("%q", b)
		}
	})
	t.Run("unknown-expectation", func(t *testing.T) {
		c := ts.dial(t)
		br := bufio.NewReader(c)
		io.WriteString(c, "PUT /read HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: magic\r\n\r\ndata")
		resp, _ := readResp(t, br, "PUT")
		if resp.StatusCode != http.StatusExpectationFailed {
			t.Fatalf("status %d", resp.StatusCode)
		}
		expectClosed(t, c, br)
	})
}

func TestMalformedRequests(t *testing.T) {
	var called atomic.Int32
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called.Add(1)
	}), func(s *Server) { s.MaxHeaderBytes = 4096 })
	cases := []struct {
		name, req string
		status    int
		text      string
	}{
		{"too-large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 10000) + "\r\n\r\n", 431, "Request Header Fields Too Large"},
		{"garbage", "\x00\x01garbage\r\n\r\n", 400, "Bad Request"},
		{"no-host", "GET / HTTP/1.1\r\n\r\n", 400, "missing required Host header"},
		{"bad-host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "malformed Host header"},
		{"two-hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "Bad Request"},
		{"bad-te", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "Unsupported transfer encoding"},
		{"http2-version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "unsupported protocol version"},
		{"two-lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400, "Bad Request"},
		{"empty-host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, "missing required Host header"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.dial(t)
			br := bufio.NewReader(c)
			io.WriteString(c, tc.req)
			resp, body := readResp(t, br, "GET")
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.text) || !resp.Close {
				t.Fatalf("status %d body %q close %v", resp.StatusCode, body, resp.Close)
			}
			expectClosed(t, c, br)
		})
	}
	t.Run("within-limit", func(t *testing.T) {
		c := ts.dial(t)
		br := bufio.NewReader(c)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("b", 3000)+"\r\n\r\n")
		if resp, _ := readResp(t, br, "GET"); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	if n := called.Load(); n != 1 {
		t.Fatalf("handler ran %d times", n)
	}
}

func TestPipelining(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(20 * time.Millisecond)
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s%s", r.URL.Path, b)
	}))
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"+
		"POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"+
		"POST /three HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"+
		"GET /four HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"/slow", "/twoabc", "/threez", "/four"} {
		if _, body := readResp(t, br, "GET"); body != want {
			t.Fatalf("got %q, want %q", body, want)
		}
	}
}

func TestTrailers(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum, X-Count")
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
		w.Header().Set("X-Count", "1")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
		w.Header().Set("X-Not-A-Trailer", "dropped")
	}))
	resp, err := newClient().Get(ts.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "body" || len(resp.TransferEncoding) == 0 {
		t.Fatalf("%q %v", b, resp.TransferEncoding)
	}
	if resp.Trailer.Get("X-Sum") != "42" || resp.Trailer.Get("X-Count") != "1" || resp.Trailer.Get("X-Late") != "late" {
		t.Fatalf("trailers %v", resp.Trailer)
	}
	if resp.Trailer.Get("X-Not-A-Trailer") != "" || resp.Header.Get("X-Sum") != "" {
		t.Fatalf("trailers %v header %v", resp.Trailer, resp.Header)
	}
}

func TestFlushStreams(t *testing.T) {
	release := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: two\n\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			panic(err)
		}
	}))
	defer close(release)
	resp, err := newClient().Get(ts.url("/events"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("%q %v", line, err)
	}
	if resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("%v", resp.TransferEncoding)
	}
	release <- struct{}{}
	br.ReadString('\n')
	if line, _ := br.ReadString('\n'); line != "data: two\n" {
		t.Fatalf("%q", line)
	}
}

func TestInformational(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("X-Final", "yes")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "final")
	}))
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	tp := "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
	got := make([]byte, len(tp))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != tp {
		t.Fatalf("%q %v", got, err)
	}
	resp, body := readResp(t, br, "GET")
	if body != "final" || resp.Header.Get("X-Final") != "yes" || resp.Header.Get("Link") == "" {
		t.Fatalf("%q %v", body, resp.Header)
	}
}

func TestHeaderSnapshotAndSanitizing(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Before", "1")
		w.Header()["X-Inject"] = []string{"a\r\nX-Evil: 1"}
		w.Header()["Bad Name"] = []string{"v"}
		w.WriteHeader(http.StatusTeapot)
		w.Header().Set("X-After", "ignored")
		io.WriteString(w, "tea")
	}))
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := readResp(t, br, "GET")
	if resp.StatusCode != 418 || body != "tea" || resp.Header.Get("X-Before") != "1" || resp.Header.Get("X-After") != "" {
		t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp.Header.Get("X-Evil") != "" || resp.Header.Get("X-Inject") != "a  X-Evil: 1" {
		t.Fatalf("injection: %v", resp.Header)
	}
}

func TestHijackEcho(t *testing.T) {
	var hijacked atomic.Int32
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		if _, err := w.Write([]byte("x")); err != http.ErrHijacked {
			panic(fmt.Sprintf("Write after Hijack: %v", err))
		}
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString("echo: " + line)
			brw.Flush()
		}
	}), func(s *Server) {
		s.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateHijacked {
				hijacked.Add(1)
			}
		}
	})
	c := ts.dial(t)
	br := bufio.NewReader(c)
	// The first frame travels with the request: it must reach the hijacker's reader.
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nfirst\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("%v %v", resp, err)
	}
	for _, msg := range []string{"first", "second", "third"} {
		if msg != "first" {
			io.WriteString(c, msg+"\n")
		}
		line, err := br.ReadString('\n')
		if err != nil || line != "echo: "+msg+"\n" {
			t.Fatalf("%q %v", line, err)
		}
	}
	if hijacked.Load() != 1 {
		t.Fatal("StateHijacked not reported")
	}
	// Close does not touch hijacked connections.
	ts.Close()
	io.WriteString(c, "after close\n")
	if line, _ := br.ReadString('\n'); line != "echo: after close\n" {
		t.Fatalf("%q", line)
	}
}

func TestHijackAfterWriteHeader(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Upgrade", "raw")
		w.Header().Set("Connection", "Upgrade")
		w.WriteHeader(http.StatusSwitchingProtocols)
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		brw.WriteString("raw bytes")
		brw.Flush()
	}))
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: raw\r\nConnection: Upgrade\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Connection") != "Upgrade" {
		t.Fatalf("%v %v", resp, err)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "raw bytes" {
		t.Fatalf("%q", rest)
	}
}

func TestPanicClosesConn(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			io.WriteString(w, "partial")
			panic("boom")
		case "/abort":
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "fine")
	}))
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(br, nil); err == nil {
		t.Fatalf("got a response after a panic: %v", resp.Status)
	}
	if logs := ts.logs.String(); !strings.Contains(logs, "panic serving") || !strings.Contains(logs, "boom") {
		t.Fatalf("panic not logged: %q", logs)
	}
	// ErrAbortHandler: quiet, and the client sees a cut body.
	c2 := ts.dial(t)
	br2 := bufio.NewReader(c2)
	io.WriteString(c2, "GET /abort HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != io.ErrUnexpectedEOF {
		t.Fatalf("cut body read: %v", err)
	}
	if strings.Count(ts.logs.String(), "panic serving") != 1 {
		t.Fatalf("ErrAbortHandler was logged: %q", ts.logs.String())
	}
	// The server keeps serving.
	resp2, err := newClient().Get(ts.url("/ok"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if string(b) != "fine" {
		t.Fatalf("%q", b)
	}
}

func TestRequestFieldsAndContext(t *testing.T) {
	type seen struct {
		ctx        context.Context
		remote     string
		uri, host  string
		proto      string
		local      net.Addr
		srv        *http.Server
		bodyIsNone bool
		tls        bool
	}
	got := make(chan seen, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
		got <- seen{r.Context(), r.RemoteAddr, r.RequestURI, r.Host, r.Proto, la, srv, r.Body == http.NoBody, r.TLS != nil}
	}))
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
	readResp(t, br, "GET")
	s := <-got
	if s.remote != c.LocalAddr().String() || s.uri != "/p?q=1" || s.host != "example.com" || s.proto != "HTTP/1.1" {
		t.Fatalf("%+v", s)
	}
	if s.local == nil || s.local.String() != ts.addr {
		t.Fatalf("LocalAddrContextKey = %v", s.local)
	}
	if s.srv == nil || !s.bodyIsNone || s.tls {
		t.Fatalf("%+v", s)
	}
	select {
	case <-s.ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("request context not canceled after the handler returned")
	}
}

func TestBaseContext(t *testing.T) {
	type key struct{}
	got := make(chan any, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Context().Value(key{})
	}), func(s *Server) {
		s.BaseContext = func(net.Listener) context.Context { return context.WithValue(context.Background(), key{}, "base") }
	})
	resp, err := newClient().Get(ts.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := <-got; v != "base" {
		t.Fatalf("%v", v)
	}
}

func TestWriteErrorCancelsContext(t *testing.T) {
	result := make(chan error, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("w"), 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				select {
				case <-r.Context().Done():
					result <- err
				case <-time.After(5 * time.Second):
					result <- errors.New("context not canceled after a write error")
				}
				return
			}
		}
	}))
	c := ts.dial(t)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 100)
	io.ReadFull(c, buf)
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	select {
	case err := <-result:
		if err == nil || strings.Contains(err.Error(), "not canceled") {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handler never saw a write error")
	}
}

func TestResponseController(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			panic(err)
		}
		if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
			panic(err)
		}
		if err := rc.EnableFullDuplex(); err != nil {
			panic(err)
		}
		w.WriteHeader(200)
		rc.Flush()
		// Full duplex: the body is still there after the head went out.
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "duplex")
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "duplex" {
		t.Fatalf("%q", b)
	}
}

func TestStaleResponseWriter(t *testing.T) {
	leaked := make(chan http.ResponseWriter, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/leak" {
			leaked <- w
		}
		io.WriteString(w, r.URL.Path)
	}))
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET /leak HTTP/1.1\r\nHost: x\r\n\r\n")
	readResp(t, br, "GET")
	w := <-leaked
	if _, err := w.Write([]byte("stale")); err == nil {
		t.Fatal("stale Write succeeded")
	}
	io.WriteString(c, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := readResp(t, br, "GET"); body != "/next" {
		t.Fatalf("%q", body)
	}
}

func TestOptionsStar(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("handler called for OPTIONS *")
	}))
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := readResp(t, br, "OPTIONS"); resp.StatusCode != 200 || resp.ContentLength != 0 {
		t.Fatalf("%v", resp)
	}
}

func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), func(s *Server) {
		s.IdleTimeout = 100 * time.Millisecond
	})
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	readResp(t, br, "GET")
	start := time.Now()
	expectClosed(t, c, br)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("idle conn closed after %v", d)
	}
}

func TestReadHeaderTimeout(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), func(s *Server) {
		s.ReadHeaderTimeout = 100 * time.Millisecond
	})
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET / HTTP/1.1\r\n") // never finished
	expectClosed(t, c, br)
}

func TestShutdown(t *testing.T) {
	inHandler := make(chan struct{})
	release := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(inHandler)
			<-release
		}
		io.WriteString(w, "done "+r.URL.Path)
	}))

	// An idle keep-alive connection.
	idle := ts.dial(t)
	idleBR := bufio.NewReader(idle)
	io.WriteString(idle, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
	readResp(t, idleBR, "GET")

	// An in-flight request.
	slow := ts.dial(t)
	slowBR := bufio.NewReader(slow)
	io.WriteString(slow, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-inHandler

	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- ts.Shutdown(context.Background()) }()

	// The idle connection is closed at once.
	start := time.Now()
	expectClosed(t, idle, idleBR)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("idle conn closed after %v", d)
	}
	select {
	case err := <-shutdownDone:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	// New connections are refused.
	if c, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, _ := c.Read(make([]byte, 1)); n > 0 {
			t.Fatal("new connection served during shutdown")
		}
		c.Close()
	}
	close(release)
	resp, body := readResp(t, slowBR, "GET")
	if body != "done /slow" || !resp.Close {
		t.Fatalf("%q close=%v", body, resp.Close)
	}
	expectClosed(t, slow, slowBR)
	select {
	case err := <-shutdownDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if err := <-ts.served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	ts.served <- http.ErrServerClosed // for the cleanup
}

func TestShutdownDeadline(t *testing.T) {
	release := make(chan struct{})
	inHandler := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inHandler)
		<-release
	}))
	defer close(release)
	c := ts.dial(t)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-inHandler
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestClose(t *testing.T) {
	inHandler := make(chan struct{})
	handlerDone := make(chan error, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inHandler)
		select {
		case <-r.Context().Done(): // Close cancels requests in progress
			handlerDone <- nil
		case <-time.After(5 * time.Second):
			handlerDone <- errors.New("request context not canceled by Close")
		}
	}))
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-inHandler
	// Close cuts the connection even though the handler is still running.
	go func() {
		time.Sleep(10 * time.Millisecond)
		ts.Close()
	}()
	expectClosed(t, c, br)
	if err := <-handlerDone; err != nil {
		t.Fatal(err)
	}
}

func TestServeAfterShutdown(t *testing.T) {
	s := &Server{}
	s.Shutdown(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); err != http.ErrServerClosed {
		t.Fatalf("%v", err)
	}
}

func h2cClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p}, Timeout: 10 * time.Second}
}

func TestH2C(t *testing.T) {
	var states sync.Map
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		fmt.Fprintf(w, "%s %s %s %v", r.Proto, r.URL.Path, b, la != nil)
	}), func(s *Server) {
		s.H2C = true
		s.ConnState = func(_ net.Conn, st http.ConnState) { states.Store(st, true) }
	})
	cl := h2cClient()
	for i := range 3 {
		resp, err := cl.Post(ts.url("/h2/"+strconv.Itoa(i)), "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 || string(b) != fmt.Sprintf("HTTP/2.0 /h2/%d body true", i) {
			t.Fatalf("%s %q", resp.Proto, b)
		}
	}
	if _, ok := states.Load(http.StateNew); !ok {
		t.Fatal("no StateNew")
	}
	// HTTP/1 still works on the same listener, including requests shorter than the preface.
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	if _, body := readResp(t, br, "GET"); body != "HTTP/1.0 /  true" {
		t.Fatalf("%q", body)
	}
	c2 := ts.dial(t)
	br2 := bufio.NewReader(c2)
	io.WriteString(c2, "PRI / HTTP/1.1\r\nHost: x\r\n\r\n") // starts like the preface, is not
	if _, body := readResp(t, br2, "GET"); body != "HTTP/1.1 /  true" {
		t.Fatalf("%q", body)
	}
}

func TestH2CShutdown(t *testing.T) {
	inHandler := make(chan struct{}, 1)
	release := make(chan struct{})
	var opened, closed atomic.Int32
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			inHandler <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok "+r.URL.Path)
	}), func(s *Server) {
		s.H2C = true
		s.ConnState = func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				opened.Add(1)
			case http.StateClosed:
				closed.Add(1)
			}
		}
	})
	cl := h2cClient()
	resp, err := cl.Get(ts.url("/warm"))
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()

	slowDone := make(chan string, 1)
	go func() {
		resp, err := cl.Get(ts.url("/slow"))
		if err != nil {
			slowDone <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slowDone <- string(b)
	}()
	<-inHandler

	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- ts.Shutdown(context.Background()) }()
	select {
	case err := <-shutdownDone:
		t.Fatalf("Shutdown returned %v with an h2 stream in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if got := <-slowDone; got != "ok /slow" {
		t.Fatalf("in-flight h2 request: %q", got)
	}
	select {
	case err := <-shutdownDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return after the h2 stream ended")
	}
	// Shutdown returned: every connection (the transport may have opened more than one) is gone.
	if o, c := opened.Load(), closed.Load(); o == 0 || o != c {
		t.Fatalf("StateNew %d times, StateClosed %d times", o, c)
	}
}

func TestH2CShutdownIdle(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), func(s *Server) { s.H2C = true })
	cl := h2cClient()
	resp, err := cl.Get(ts.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Shutdown with an idle h2 connection took %v", time.Since(start))
}
