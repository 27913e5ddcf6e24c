package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fastFunc func(fc *FastConn, head []byte) bool

func (f fastFunc) ServeFast(fc *FastConn, head []byte) bool { return f(fc, head) }

const fastOK = "HTTP/1.1 200 OK\r\nX-Served: fast\r\nContent-Length: 2\r\n\r\nok"

// fastRecorder serves "GET /fast" and "GET /big" itself, declines everything else, and
// records the heads it was offered.
type fastRecorder struct {
	mu     sync.Mutex
	heads  []string
	served []bool
}

var bigFastBody = strings.Repeat("B", 10000) // outgrows the output buffer: written directly

func (f *fastRecorder) ServeFast(fc *FastConn, head []byte) bool {
	ok := true
	switch {
	case bytes.HasPrefix(head, []byte("GET /fast ")):
		fc.WriteString(fastOK)
	case bytes.HasPrefix(head, []byte("GET /big ")):
		fmt.Fprintf(fc, "HTTP/1.1 200 OK\r\nX-Served: fast\r\nContent-Length: %d\r\n\r\n", len(bigFastBody))
		fc.WriteString(bigFastBody)
	default:
		ok = false
	}
	f.mu.Lock()
	f.heads = append(f.heads, string(head))
	f.served = append(f.served, ok)
	f.mu.Unlock()
	return ok
}

// echoHandler answers normal requests with what it saw.
var echoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "normal %s %s host=%s x-test=%s body=%s", r.Method, r.URL.Path, r.Host, r.Header.Get("X-Test"), b)
})

func TestFastKeepAlive(t *testing.T) {
	type exchange struct {
		req    string
		method string
		want   string // body
		fast   bool   // served by the fast handler
	}
	get := func(path string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: x\r\nX-Test: " + path + "\r\n\r\n"
	}
	fastX := exchange{get("/fast"), "GET", "ok", true}
	normalX := exchange{get("/n"), "GET", "normal GET /n host=x x-test=/n body=", false}
	bigX := exchange{get("/big"), "GET", bigFastBody, true}
	postX := exchange{"POST /p HTTP/1.1\r\nHost: x\r\nX-Test: p\r\nContent-Length: 3\r\n\r\nabc", "POST", "normal POST /p host=x x-test=p body=abc", false}
	// An old client's CRLF after a POST body, then a fast request.
	postCRLF := exchange{postX.req + "\r\n", "POST", postX.want, false}
	headX := exchange{"HEAD /fast HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD", "", false}
	for _, tc := range []struct {
		name      string
		pipelined bool
		xs        []exchange
	}{
		{"fast-only", false, []exchange{fastX, fastX, fastX}},
		{"mixed", false, []exchange{fastX, normalX, fastX, postX, normalX, fastX}},
		{"mixed-pipelined", true, []exchange{fastX, normalX, fastX, postX, fastX, normalX, fastX}},
		{"big", false, []exchange{bigX, normalX, bigX, fastX}},
		{"big-pipelined", true, []exchange{fastX, bigX, normalX, bigX, fastX}},
		{"post-crlf", false, []exchange{postCRLF, fastX, postCRLF, normalX}},
		{"post-crlf-pipelined", true, []exchange{postCRLF, fastX, postCRLF, normalX}},
		{"declined-head", false, []exchange{headX, fastX}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fr := &fastRecorder{}
			ts := startServer(t, echoHandler, func(s *Server) { s.Fast = fr })
			c := ts.dial(t)
			br := bufio.NewReader(c)
			if tc.pipelined {
				var all strings.Builder
				for _, x := range tc.xs {
					all.WriteString(x.req)
				}
				io.WriteString(c, all.String())
			}
			var wantHeads []string
			for i, x := range tc.xs {
				if !tc.pipelined {
					io.WriteString(c, x.req)
				}
				resp, body := readResp(t, br, x.method)
				if resp.StatusCode != 200 || body != x.want || resp.Close {
					t.Fatalf("#%d: %d %q close=%v, want 200 %q", i, resp.StatusCode, body, resp.Close, x.want)
				}
				if got := resp.Header.Get("X-Served") == "fast"; got != x.fast {
					t.Fatalf("#%d: served fast: %v, want %v", i, got, x.fast)
				}
				head := x.req[:strings.Index(x.req, "\r\n\r\n")+4]
				wantHeads = append(wantHeads, head)
			}
			fr.mu.Lock()
			defer fr.mu.Unlock()
			// Each request was offered whole (when its head arrived in one piece, as here),
			// and exactly once.
			if len(fr.heads) != len(wantHeads) {
				t.Fatalf("offered %d heads, want %d: %q", len(fr.heads), len(wantHeads), fr.heads)
			}
			for i := range wantHeads {
				if fr.heads[i] != wantHeads[i] || fr.served[i] != tc.xs[i].fast {
					t.Fatalf("#%d: offered %q (served %v), want %q", i, fr.heads[i], fr.served[i], wantHeads[i])
				}
			}
		})
	}
}

// A head that is not whole in the buffer is not offered: the usual path reads and serves it.
func TestFastSplitHeadGoesTheUsualWay(t *testing.T) {
	fr := &fastRecorder{}
	ts := startServer(t, echoHandler, func(s *Server) { s.Fast = fr })
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: x\r\n")
	time.Sleep(50 * time.Millisecond)
	io.WriteString(c, "X-Test: split\r\n\r\n")
	if _, body := readResp(t, br, "GET"); body != "normal GET /fast host=x x-test=split body=" {
		t.Fatalf("%q", body)
	}
	io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := readResp(t, br, "GET"); body != "ok" || resp.Header.Get("X-Served") != "fast" {
		t.Fatalf("%q", body)
	}
}

// Nil Fast: the usual path alone (the rest of the suite covers it in depth).
func TestFastNil(t *testing.T) {
	ts := startServer(t, echoHandler)
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := readResp(t, br, "GET"); body != "normal GET /fast host=x x-test= body=" {
		t.Fatalf("%q", body)
	}
}

func TestFastConnState(t *testing.T) {
	var mu sync.Mutex
	var states []http.ConnState
	ts := startServer(t, echoHandler, func(s *Server) {
		s.Fast = &fastRecorder{}
		s.ConnState = func(_ net.Conn, st http.ConnState) {
			mu.Lock()
			states = append(states, st)
			mu.Unlock()
		}
	})
	c := ts.dial(t)
	br := bufio.NewReader(c)
	for _, p := range []string{"/fast", "/n", "/fast"} {
		io.WriteString(c, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n")
		readResp(t, br, "GET")
	}
	c.Close()
	want := fmt.Sprint([]http.ConnState{http.StateNew,
		http.StateActive, http.StateIdle, http.StateActive, http.StateIdle, http.StateActive, http.StateIdle,
		http.StateClosed})
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := fmt.Sprint(states)
		mu.Unlock()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("states %s, want %s", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// SetClose, Flush and Err, and a handler that breaks the contract.
func TestFastClosing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		serve  func(fc *FastConn) bool
		want   string // response body; "" for none
		logged string
	}{
		{"set-close", func(fc *FastConn) bool {
			fc.WriteString("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
			fc.SetClose()
			return true
		}, "ok", ""},
		{"flush-then-close", func(fc *FastConn) bool {
			fc.WriteString("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nok")
			if err := fc.Flush(); err != nil || fc.Err() != nil {
				panic(err)
			}
			fc.WriteString("ok")
			fc.SetClose()
			return true
		}, "okok", ""},
		{"declined-after-write", func(fc *FastConn) bool {
			fc.WriteString("HTTP/1.1 200 OK\r\n")
			return false
		}, "", "declined a request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, echoHandler, func(s *Server) {
				s.Fast = fastFunc(func(fc *FastConn, head []byte) bool { return tc.serve(fc) })
			})
			c := ts.dial(t)
			br := bufio.NewReader(c)
			// The second request is never answered.
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /n HTTP/1.1\r\nHost: x\r\n\r\n")
			if tc.want != "" {
				resp, body := readResp(t, br, "GET")
				if body != tc.want || !resp.Close {
					t.Fatalf("%q close=%v", body, resp.Close)
				}
			}
			expectClosed(t, c, br)
			if logs := ts.logs.String(); !strings.Contains(logs, tc.logged) || tc.logged == "" && logs != "" {
				t.Fatalf("logs %q, want %q", logs, tc.logged)
			}
		})
	}
}

// Shutdown waits for a request in ServeFast, which sees Closing; the idle connection next to
// it is closed at once.
func TestFastShutdown(t *testing.T) {
	inFast := make(chan struct{})
	release := make(chan struct{})
	closing := make(chan bool, 1)
	ts := startServer(t, echoHandler, func(s *Server) {
		s.Fast = fastFunc(func(fc *FastConn, head []byte) bool {
			if bytes.HasPrefix(head, []byte("GET /slow ")) {
				close(inFast)
				<-release
				closing <- fc.Closing()
				if fc.Closing() {
					fc.WriteString("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nslow")
					fc.SetClose()
					return true
				}
			}
			if fc.Closing() {
				panic("Closing before Shutdown")
			}
			fc.WriteString(fastOK)
			return true
		})
	})
	idle := ts.dial(t)
	idleBR := bufio.NewReader(idle)
	io.WriteString(idle, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
	readResp(t, idleBR, "GET")

	slow := ts.dial(t)
	slowBR := bufio.NewReader(slow)
	io.WriteString(slow, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-inFast

	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- ts.Shutdown(context.Background()) }()
	expectClosed(t, idle, idleBR)
	select {
	case err := <-shutdownDone:
		t.Fatalf("Shutdown returned %v with a request in ServeFast", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if !<-closing {
		t.Fatal("Closing() false during Shutdown")
	}
	resp, body := readResp(t, slowBR, "GET")
	if body != "slow" || !resp.Close {
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

// The request context: what it holds, and what cancels it.
func TestFastContext(t *testing.T) {
	type seen struct {
		ctx           context.Context
		errInFast     error
		remote        string
		local, ctxLoc net.Addr
		srv           any
		notifier      bool
	}
	for _, cancelableBase := range []bool{false, true} {
		t.Run(fmt.Sprint("cancelable-base=", cancelableBase), func(t *testing.T) {
			got := make(chan seen, 1)
			ts := startServer(t, echoHandler, func(s *Server) {
				if cancelableBase {
					base, cancel := context.WithCancel(context.Background())
					t.Cleanup(cancel)
					s.BaseContext = func(net.Listener) context.Context { return base }
				}
				s.Fast = fastFunc(func(fc *FastConn, head []byte) bool {
					ctx := fc.Context()
					if fc.Context() != ctx {
						panic("Context changed within a request")
					}
					if strings.Contains(string(head), "wait") {
						ctx.Done() // something waits on it: it is canceled when ServeFast returns
					}
					_, notifier := ctx.(interface{ NotifyCancel(func()) bool })
					got <- seen{ctx, ctx.Err(), fc.RemoteAddr(), fc.LocalAddr(),
						ctx.Value(http.LocalAddrContextKey).(net.Addr), ctx.Value(http.ServerContextKey), notifier}
					fc.WriteString(fastOK)
					return true
				})
			})
			c := ts.dial(t)
			br := bufio.NewReader(c)
			io.WriteString(c, "GET /fast?wait HTTP/1.1\r\nHost: x\r\n\r\n")
			readResp(t, br, "GET")
			s := <-got
			if s.errInFast != nil {
				t.Fatalf("context canceled in ServeFast: %v", s.errInFast)
			}
			if s.ctx.Err() != context.Canceled {
				t.Fatalf("context not canceled after ServeFast: %v", s.ctx.Err())
			}
			select {
			case <-s.ctx.Done():
			default:
				t.Fatal("Done not closed")
			}
			if s.remote != c.LocalAddr().String() || s.local.String() != ts.addr || s.ctxLoc.String() != ts.addr {
				t.Fatalf("remote %s local %v ctx local %v", s.remote, s.local, s.ctxLoc)
			}
			if s.srv == nil {
				t.Fatal("no http.ServerContextKey")
			}
			if s.notifier == cancelableBase {
				t.Fatalf("NotifyCancel offered: %v", s.notifier)
			}
			// The next request gets a new context: the last one was canceled.
			io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
			readResp(t, br, "GET")
			s2 := <-got
			if s2.ctx == s.ctx || s2.errInFast != nil {
				t.Fatalf("context reused (%v) or canceled (%v)", s2.ctx == s.ctx, s2.errInFast)
			}
			// Nothing waited on that one: the next request reuses it, live (a cancelable base
			// gets context.WithCancel's context, never reused).
			io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
			readResp(t, br, "GET")
			s3 := <-got
			if (s3.ctx == s2.ctx) == cancelableBase || s3.errInFast != nil {
				t.Fatalf("context reused: %v (cancelable base %v), canceled: %v", s3.ctx == s2.ctx, cancelableBase, s3.errInFast)
			}
			if s3.srv == nil || s3.ctxLoc.String() != ts.addr {
				t.Fatal("reused context lost the connection's values")
			}
		})
	}
}

// waitCanceled is a FastHandler that waits (at most 5s) for its context, reports whether it
// was canceled, and answers.
func waitCanceled(inFast chan<- struct{}, canceled chan<- bool) fastFunc {
	return func(fc *FastConn, head []byte) bool {
		ctx := fc.Context()
		close(inFast)
		select {
		case <-ctx.Done():
			canceled <- true
		case <-time.After(5 * time.Second):
			canceled <- false
		}
		fc.WriteString(fastOK)
		return true
	}
}

func TestFastCloseCancelsContext(t *testing.T) {
	inFast, canceled := make(chan struct{}), make(chan bool, 1)
	ts := startServer(t, echoHandler, func(s *Server) { s.Fast = waitCanceled(inFast, canceled) })
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-inFast
	go func() {
		time.Sleep(10 * time.Millisecond)
		ts.Close()
	}()
	expectClosed(t, c, br)
	if !<-canceled {
		t.Fatal("Close did not cancel the context")
	}
}

// Context made after Close canceled the request: canceled from the start.
func TestFastContextAfterCancel(t *testing.T) {
	inFast, release := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	ts := startServer(t, echoHandler, func(s *Server) {
		s.Fast = fastFunc(func(fc *FastConn, head []byte) bool {
			close(inFast)
			<-release
			errc <- fc.Context().Err()
			return true
		})
	})
	c := ts.dial(t)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-inFast
	ts.Close()
	close(release)
	if err := <-errc; err != context.Canceled {
		t.Fatalf("Context().Err() = %v after Close", err)
	}
}

func TestFastDisconnectCancelsContext(t *testing.T) {
	if !probeSupported {
		t.Skip("no disconnect probe on this platform")
	}
	for _, reset := range []bool{false, true} {
		t.Run(fmt.Sprint("reset=", reset), func(t *testing.T) {
			inFast, canceled := make(chan struct{}), make(chan bool, 1)
			ts := startServer(t, echoHandler, func(s *Server) { s.Fast = waitCanceled(inFast, canceled) })
			c := ts.dial(t)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			<-inFast
			if reset {
				c.(*net.TCPConn).SetLinger(0)
			}
			closed := time.Now()
			c.Close()
			if !<-canceled {
				t.Fatal("context not canceled after the client disconnected")
			}
			if d := time.Since(closed); d > 500*time.Millisecond {
				t.Fatalf("canceled %v after the disconnect, want <= 500ms", d)
			}
		})
	}
}

// The fast requests of a connection share one stand-in in flight: the watcher must still
// only probe a request that has been in flight for about a tick. Here the client half-closes
// after pipelining short requests (a half-close counts as gone once probed): a request that
// is canceled must have run for a good part of a tick first (on a loaded machine, a short
// sleep can last longer than a tick). Taking each request for the one seen at the previous
// tick would cancel some of them right after they start.
func TestFastWatcherSkipsShortRequests(t *testing.T) {
	if !probeSupported {
		t.Skip("no disconnect probe on this platform")
	}
	const n = 12
	ts := startServer(t, echoHandler, func(s *Server) {
		s.Fast = fastFunc(func(fc *FastConn, head []byte) bool {
			ctx := fc.Context().(*requestContext)
			t0 := time.Now()
			var after atomic.Int64
			ctx.NotifyCancel(func() { after.Store(int64(time.Since(t0))) })
			time.Sleep(watchInterval / 4)
			if ctx.Err() != nil {
				d := time.Duration(after.Load())
				body := "canceled after " + d.String()
				if d >= watchInterval/2 {
					body = "ok" // slept through the ticks
				}
				fmt.Fprintf(fc, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
				return true
			}
			ctx.StopNotify()
			fc.WriteString(fastOK)
			return true
		})
	})
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", n))
	c.(*net.TCPConn).CloseWrite()
	for i := range n {
		if _, body := readResp(t, br, "GET"); body != "ok" {
			t.Fatalf("#%d: %q", i, body)
		}
	}
}

func TestFastWriteErrorCancelsContext(t *testing.T) {
	inFast, release := make(chan struct{}), make(chan struct{})
	result := make(chan error, 1)
	ts := startServer(t, echoHandler, func(s *Server) {
		s.Fast = fastFunc(func(fc *FastConn, head []byte) bool {
			ctx := fc.Context()
			close(inFast)
			<-release
			chunk := strings.Repeat("x", 64<<10)
			fc.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
			for range 2000 {
				if _, err := fc.WriteString(chunk); err != nil {
					break
				}
			}
			if fc.Err() == nil {
				result <- errors.New("no write error")
			} else if ctx.Err() == nil {
				result <- errors.New("write error did not cancel the context")
			} else {
				result <- nil
			}
			return true
		})
	})
	c := ts.dial(t)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-inFast
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	close(release)
	if err := <-result; err != nil {
		t.Fatal(err)
	}
}

func TestFastPanic(t *testing.T) {
	var sawAbort atomic.Bool
	ts := startServer(t, echoHandler, func(s *Server) {
		s.Fast = fastFunc(func(fc *FastConn, head []byte) bool {
			switch {
			case bytes.HasPrefix(head, []byte("GET /panic ")):
				fc.WriteString("HTTP/1.1 200 OK\r\n")
				panic("fast boom")
			case bytes.HasPrefix(head, []byte("GET /abort ")):
				fc.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
				fc.Flush()
				sawAbort.Store(true)
				panic(http.ErrAbortHandler)
			case bytes.HasPrefix(head, []byte("GET /fast ")):
				fc.WriteString(fastOK)
				return true
			}
			return false
		})
	})
	for _, tc := range []struct {
		path     string
		cutBody  bool // the client sees a cut body, else no response
		logCount int
	}{
		{"/panic", false, 1},
		{"/abort", true, 1}, // ErrAbortHandler is not logged
	} {
		c := ts.dial(t)
		br := bufio.NewReader(c)
		// The pipelined request after it is never answered.
		io.WriteString(c, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if !tc.cutBody {
			if err == nil {
				t.Fatalf("%s: got a response after a panic: %v", tc.path, resp.Status)
			}
		} else {
			if err != nil {
				t.Fatalf("%s: %v", tc.path, err)
			}
			if _, err := io.ReadAll(resp.Body); err != io.ErrUnexpectedEOF {
				t.Fatalf("%s: cut body read: %v", tc.path, err)
			}
		}
		expectClosed(t, c, br)
		if logs := ts.logs.String(); strings.Count(logs, "panic serving") != tc.logCount || !strings.Contains(logs, "fast boom") {
			t.Fatalf("%s: logs %q", tc.path, logs)
		}
	}
	if !sawAbort.Load() {
		t.Fatal("abort case not run")
	}
	// The server keeps serving, fast and normal.
	c := ts.dial(t)
	br := bufio.NewReader(c)
	io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\nGET /n HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := readResp(t, br, "GET"); body != "ok" {
		t.Fatalf("%q", body)
	}
	if _, body := readResp(t, br, "GET"); !strings.HasPrefix(body, "normal GET /n") {
		t.Fatalf("%q", body)
	}
}

// fastBench answers every GET as handler64 would, with a Date line.
type fastBench struct {
	mu  sync.Mutex
	buf []byte
}

func (f *fastBench) ServeFast(fc *FastConn, head []byte) bool {
	if !bytes.HasPrefix(head, []byte("GET ")) {
		return false
	}
	f.mu.Lock()
	b := append(f.buf[:0], "HTTP/1.1 200 OK\r\nContent-Length: 64\r\n"...)
	b = appendDate(b)
	b = append(b, "\r\n"...)
	b = append(b, body64...)
	fc.Write(b)
	f.buf = b
	f.mu.Unlock()
	return true
}

func BenchmarkServeFastKeepAlive(b *testing.B) {
	benchKeepAlive(b, func(ln net.Listener) func() {
		s := &Server{Handler: http.HandlerFunc(handler64), Fast: &fastBench{}}
		go s.Serve(ln)
		return func() { s.Close() }
	})
}

// With Context: one allocation per request.
func BenchmarkServeFastKeepAliveContext(b *testing.B) {
	fb := &fastBench{}
	benchKeepAlive(b, func(ln net.Listener) func() {
		s := &Server{Handler: http.HandlerFunc(handler64), Fast: fastFunc(func(fc *FastConn, head []byte) bool {
			if fc.Context().Err() != nil {
				return false
			}
			return fb.ServeFast(fc, head)
		})}
		go s.Serve(ln)
		return func() { s.Close() }
	})
}
