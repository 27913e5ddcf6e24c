package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestReverseProxy runs httputil.ReverseProxy on the server: the request body is read by the
// transport's goroutine while the handler waits, as in Pylon's proxy.
func TestReverseProxy(t *testing.T) {
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sse":
			for i := range 3 {
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
				time.Sleep(5 * time.Millisecond)
			}
		case "/early":
			http.Error(w, "too big", http.StatusRequestEntityTooLarge)
		default:
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Len", fmt.Sprint(len(b)))
			w.Write(b)
		}
	})}
	go up.Serve(upLn)
	defer up.Close()
	target, _ := url.Parse("http://" + upLn.Addr().String())
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	ts := startServer(t, rp)
	cl := newClient()
	for _, size := range []int{0, 10, 5000, 300 << 10} {
		body := strings.Repeat("p", size)
		resp, err := cl.Post(ts.url("/echo"), "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != body || resp.Header.Get("X-Len") != fmt.Sprint(size) {
			t.Fatalf("size %d: got %d bytes", size, len(b))
		}
	}
	resp, err := cl.Get(ts.url("/sse"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "data: 0\n\ndata: 1\n\ndata: 2\n\n" {
		t.Fatalf("%q", b)
	}
	// The upstream answers without reading a large body: the client gets the answer.
	resp, err = cl.Post(ts.url("/early"), "text/plain", bytes.NewReader(make([]byte, 1<<20)))
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestConcurrentClients mixes request kinds over several connections (for the race detector).
func TestConcurrentClients(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			// Without full duplex the first commit would consume the rest of the body, as in
			// net/http.
			http.NewResponseController(w).EnableFullDuplex()
			io.Copy(w, r.Body)
		case "/stream":
			for range 5 {
				w.Write(bytes.Repeat([]byte("s"), 3000))
				w.(http.Flusher).Flush()
			}
		case "/ignore":
			w.WriteHeader(http.StatusAccepted)
		default:
			io.WriteString(w, "ok")
		}
	}), func(s *Server) { s.IdleTimeout = time.Second })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", ts.addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(c)
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			wrote := make(chan struct{})
			close(wrote)
			for i := range 60 {
				var req, want string
				n := rng.IntN(20000)
				switch i % 4 {
				case 0:
					req = fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", n, strings.Repeat("e", n))
					want = strings.Repeat("e", n)
				case 1:
					req = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
					want = strings.Repeat("s", 15000)
				case 2:
					req = fmt.Sprintf("POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", n, strings.Repeat("i", n))
				default:
					req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
					want = "ok"
				}
				// The write goes on while the response is read (a server may answer before it
				// reads the whole body); the next request starts only once it is done, so two
				// requests' bytes never interleave.
				<-wrote
				wrote = make(chan struct{})
				go func(done chan struct{}) {
					defer close(done)
					io.WriteString(c, req)
				}(wrote)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- fmt.Errorf("conn %d req %d: %v", g, i, err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				if err != nil || string(b) != want {
					errs <- fmt.Errorf("conn %d req %d: %d bytes, %v", g, i, len(b), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
