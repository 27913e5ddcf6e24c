package h1

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// blockUntilCanceled is a handler that waits for its request context (at most 5s) and reports
// when it ended, and whether by cancellation.
func blockUntilCanceled(done chan<- time.Time, canceled chan<- bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
			canceled <- true
		case <-time.After(5 * time.Second):
			canceled <- false
		}
		done <- time.Now()
	}
}

func TestDisconnectCancelsContext(t *testing.T) {
	if !probeSupported {
		t.Skip("no disconnect probe on this platform")
	}
	for _, tc := range []struct {
		name  string
		req   string
		reset bool
	}{
		{"get-fin", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"get-rst", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
		{"post-body-read", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", false},
		{"post-chunked-read", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done, canceled := make(chan time.Time, 1), make(chan bool, 1)
			ts := startServer(t, blockUntilCanceled(done, canceled))
			c := ts.dial(t)
			io.WriteString(c, tc.req)
			if tc.reset {
				time.Sleep(50 * time.Millisecond) // let the request arrive before the reset
				c.(*net.TCPConn).SetLinger(0)
			}
			closed := time.Now()
			c.Close()
			if !<-canceled {
				t.Fatal("request context not canceled after the client disconnected")
			}
			if d := (<-done).Sub(closed); d > 500*time.Millisecond {
				t.Fatalf("canceled %v after the disconnect, want <= 500ms", d)
			} else {
				t.Logf("canceled %v after the disconnect", d)
			}
		})
	}
}

// A request whose body has not been read is not probed (net/http waits for the body's end
// too): the bytes on the socket are the body's, and a client that half-closes after sending
// it is not gone.
func TestDisconnectWaitsForBody(t *testing.T) {
	canceled := make(chan bool, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			canceled <- true
		case <-time.After(600 * time.Millisecond):
			canceled <- false
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	c := ts.dial(t)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	c.(*net.TCPConn).CloseWrite()
	if <-canceled {
		t.Fatal("request canceled while its body was unread")
	}
	if _, body := readResp(t, bufio.NewReader(c), "POST"); body != "ok" {
		t.Fatalf("%q", body)
	}
}

func TestPipelinedRequestIsNotDisconnect(t *testing.T) {
	for _, together := range []bool{false, true} {
		t.Run(fmt.Sprintf("together=%v", together), func(t *testing.T) {
			ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					select {
					case <-r.Context().Done():
						io.WriteString(w, "canceled")
						return
					case <-time.After(800 * time.Millisecond):
					}
				}
				io.WriteString(w, r.URL.Path)
			}))
			c := ts.dial(t)
			br := bufio.NewReader(c)
			first := "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
			second := "GET /two HTTP/1.1\r\nHost: x\r\n\r\n"
			if together {
				io.WriteString(c, first+second) // the second one lands in the server's buffer
			} else {
				io.WriteString(c, first)
				time.Sleep(300 * time.Millisecond) // the watcher probes the first request
				io.WriteString(c, second)          // and then finds bytes waiting on the socket
			}
			for _, want := range []string{"/slow", "/two"} {
				if _, body := readResp(t, br, "GET"); body != want {
					t.Fatalf("got %q, want %q", body, want)
				}
			}
		})
	}
}

func TestDisconnectSkipsHijacked(t *testing.T) {
	canceled := make(chan bool, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hc, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			canceled <- false
			return
		}
		defer hc.Close()
		select {
		case <-r.Context().Done():
			canceled <- true
		case <-time.After(500 * time.Millisecond):
			canceled <- false
		}
	}))
	c := ts.dial(t)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(20 * time.Millisecond)
	c.Close()
	if <-canceled {
		t.Fatal("hijacked request's context canceled by the disconnect watcher")
	}
}

func TestWatcherStopsWithServer(t *testing.T) {
	if !probeSupported {
		t.Skip("no disconnect probe on this platform")
	}
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	c := ts.dial(t)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := readResp(t, bufio.NewReader(c), "GET"); body != "ok" {
		t.Fatalf("%q", body)
	}
	watching := func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return ts.watching
	}
	if !watching() {
		t.Fatal("watcher not started with a connection")
	}
	ts.Close()
	for deadline := time.Now().Add(2 * time.Second); watching(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("watcher still running after Close")
		}
	}
}

func TestDisconnectUnixSocket(t *testing.T) {
	if !probeSupported {
		t.Skip("no disconnect probe on this platform")
	}
	ln, err := net.Listen("unix", t.TempDir()+"/s")
	if err != nil {
		t.Skip(err)
	}
	done, canceled := make(chan time.Time, 1), make(chan bool, 1)
	s := &Server{Handler: blockUntilCanceled(done, canceled)}
	go s.Serve(ln)
	defer s.Close()
	c, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	closed := time.Now()
	c.Close()
	if !<-canceled {
		t.Fatal("request context not canceled after the client disconnected")
	}
	if d := (<-done).Sub(closed); d > 500*time.Millisecond {
		t.Fatalf("canceled %v after the disconnect, want <= 500ms", d)
	}
}
