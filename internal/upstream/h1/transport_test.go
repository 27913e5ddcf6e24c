package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var _ http.RoundTripper = (*Transport)(nil)

func TestGet(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if ua := r.Header["User-Agent"]; ua != nil {
			t.Errorf("User-Agent sent: %q", ua)
		}
		if ae := r.Header["Accept-Encoding"]; ae != nil {
			t.Errorf("Accept-Encoding sent: %q", ae)
		}
		if r.ContentLength != 0 || r.TransferEncoding != nil {
			t.Errorf("GET with body framing: cl=%d te=%q", r.ContentLength, r.TransferEncoding)
		}
		fmt.Fprintf(w, "%s %s %s %s", r.Method, r.Host, r.URL.RequestURI(), r.Header.Get("X-Test"))
	})
	tr, _ := newTransport()
	req := newRequest(t, context.Background(), "GET", srv.URL+"/a%2Fb/c?x=1&y=%20", nil)
	req.Host = "example.com"
	req.Header.Set("X-Test", "v1")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if want := "GET example.com /a%2Fb/c?x=1&y=%20 v1"; string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
	if resp.StatusCode != 200 || resp.Request != req || resp.ProtoMajor != 1 || resp.ProtoMinor != 1 {
		t.Fatalf("bad response %+v", resp)
	}
}

func TestHostDefaultsToURLHost(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Host) })
	tr, _ := newTransport()
	req := newRequest(t, context.Background(), "GET", srv.URL, nil)
	req.Host = ""
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != addrOf(srv) {
		t.Fatalf("Host %q, want %q", b, addrOf(srv))
	}
}

func TestPostContentLength(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.TransferEncoding != nil {
			t.Errorf("chunked body, want Content-Length")
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d:%s", r.ContentLength, b)
	})
	tr, d := newTransport()
	for i := range 5 {
		payload := strings.Repeat("p", i*1000+1)
		// A reader net/http cannot see through: the length comes from ContentLength only.
		req := newRequest(t, context.Background(), "POST", srv.URL, io.NopCloser(strings.NewReader(payload)))
		req.ContentLength = int64(len(payload))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("%d:%s", len(payload), payload); string(b) != want {
			t.Fatalf("got %.40q, want %.40q", b, want)
		}
	}
	if d.count() != 1 {
		t.Fatalf("%d dials, want 1", d.count())
	}
}

func TestEmptyPostSendsContentLengthZero(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%q", r.Header["Content-Length"])
	})
	tr, _ := newTransport()
	_, body := doReq(t, tr, newRequest(t, context.Background(), "POST", srv.URL, nil))
	if body != `["0"]` {
		t.Fatalf("Content-Length %s, want 0", body)
	}
}

func doReq(t testing.TB, tr *Transport, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestShortRequestBody(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	tr, _ := newTransport()
	req := newRequest(t, context.Background(), "POST", srv.URL, io.NopCloser(strings.NewReader("abc")))
	req.ContentLength = 10
	if _, err := tr.RoundTrip(req); !errors.Is(err, errShortBody) {
		t.Fatalf("err %v, want %v", err, errShortBody)
	}
	if total, _ := poolState(tr, addrOf(srv)); total != 0 {
		t.Fatalf("%d connections counted after a failed request", total)
	}
}

func TestRequestBodyReadError(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	tr, _ := newTransport()
	boom := errors.New("boom")
	req := newRequest(t, context.Background(), "POST", srv.URL, io.NopCloser(io.MultiReader(strings.NewReader("abc"), errReader{boom})))
	req.ContentLength = -1
	if _, err := tr.RoundTrip(req); !errors.Is(err, boom) {
		t.Fatalf("err %v, want %v", err, boom)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestChunkedRequestBodyAndTrailers(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("server read: %v", err)
		}
		fmt.Fprintf(w, "%q %d %s trailer=%q", r.TransferEncoding, len(b), b[:min(len(b), 5)], r.Trailer.Get("X-Sum"))
	})
	tr, d := newTransport()
	for _, n := range []int{1, 100, 20000, 100000} {
		payload := strings.Repeat("abcde", n)[:n]
		req := newRequest(t, context.Background(), "PUT", srv.URL, io.NopCloser(strings.NewReader(payload)))
		req.ContentLength = -1
		req.Trailer = http.Header{"X-Sum": {strconv.Itoa(n)}}
		_, body := doReq(t, tr, req)
		want := fmt.Sprintf(`["chunked"] %d %s trailer="%d"`, n, payload[:min(n, 5)], n)
		if body != want {
			t.Fatalf("got %s, want %s", body, want)
		}
	}
	if d.count() != 1 {
		t.Fatalf("%d dials, want 1", d.count())
	}
}

// TestChunkedEncodingOnTheWire checks the exact bytes of a chunked request.
func TestChunkedEncodingOnTheWire(t *testing.T) {
	got := make(chan string, 1)
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		var buf bytes.Buffer
		for !strings.HasSuffix(buf.String(), "0\r\n\r\n") {
			line, err := br.ReadString('\n')
			buf.WriteString(line)
			if err != nil {
				break
			}
		}
		got <- buf.String()
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	})
	tr, _ := newTransport()
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("hello"))
		pw.Write([]byte(strings.Repeat("x", 26)))
		pw.Close()
	}()
	req := newRequest(t, context.Background(), "POST", srv.url()+"up", pr)
	req.Host = "h"
	doReq(t, tr, req)
	want := "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1a\r\n" + strings.Repeat("x", 26) + "\r\n0\r\n\r\n"
	if s := <-got; s != want {
		t.Fatalf("wire:\n%q\nwant\n%q", s, want)
	}
}

func TestLargeStreamingBodies(t *testing.T) {
	const size = 64 << 20
	sum := genSum(size)
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/up":
			h := crc32.NewIEEE()
			n, err := io.Copy(h, r.Body)
			fmt.Fprintf(w, "%d %d %v", n, h.Sum32(), err)
		case "/down":
			if r.URL.Query().Get("cl") == "1" {
				w.Header().Set("Content-Length", strconv.Itoa(size))
			}
			io.Copy(w, &genReader{n: size})
		}
	})
	tr, d := newTransport()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, cl := range []int64{size, -1} {
		req := newRequest(t, context.Background(), "POST", srv.URL+"/up", io.NopCloser(&genReader{n: size}))
		req.ContentLength = cl
		_, body := doReq(t, tr, req)
		if want := fmt.Sprintf("%d %d <nil>", size, sum); body != want {
			t.Fatalf("upload (cl=%d): server saw %s, want %s", cl, body, want)
		}
	}
	for _, q := range []string{"?cl=1", ""} {
		resp, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", srv.URL+"/down"+q, nil))
		if err != nil {
			t.Fatal(err)
		}
		h := crc32.NewIEEE()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil || n != size || h.Sum32() != sum {
			t.Fatalf("download %q: %d bytes, err %v, sum ok %v", q, n, err, h.Sum32() == sum)
		}
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Fatalf("%d MiB allocated moving 4 x 64 MiB: bodies are being buffered", alloc>>20)
	}
	if d.count() != 1 {
		t.Fatalf("%d dials, want 1", d.count())
	}
}

func TestHeadAndNoBodyStatuses(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/head":
			w.Header().Set("Content-Length", "1234")
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.Header().Set("Etag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
		default:
			io.WriteString(w, "ok")
		}
	})
	tr, d := newTransport()
	for range 3 {
		resp, err := tr.RoundTrip(newRequest(t, context.Background(), "HEAD", srv.URL+"/head", nil))
		if err != nil {
			t.Fatal(err)
		}
		if resp.ContentLength != 1234 || resp.Body != http.NoBody {
			t.Fatalf("HEAD: ContentLength %d, body %T", resp.ContentLength, resp.Body)
		}
		resp.Body.Close()
		for _, p := range []string{"/204", "/304"} {
			resp, body := get(t, tr, srv.URL+p)
			if strconv.Itoa(resp.StatusCode) != p[1:] || body != "" {
				t.Fatalf("%s: %d %q", p, resp.StatusCode, body)
			}
		}
		if _, body := get(t, tr, srv.URL+"/"); body != "ok" {
			t.Fatalf("body %q after no-body responses", body)
		}
	}
	if d.count() != 1 {
		t.Fatalf("%d dials, want 1", d.count())
	}
}

func TestChunkedResponseTrailers(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "part1,")
		w.(http.Flusher).Flush()
		io.WriteString(w, "part2")
		w.Header().Set("X-Checksum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	})
	tr, d := newTransport()
	for range 2 {
		resp, body := get(t, tr, srv.URL)
		if body != "part1,part2" || resp.ContentLength != -1 {
			t.Fatalf("body %q cl %d", body, resp.ContentLength)
		}
		if resp.Trailer.Get("X-Checksum") != "42" || resp.Trailer.Get("X-Late") != "late" {
			t.Fatalf("trailers %v", resp.Trailer)
		}
	}
	if d.count() != 1 {
		t.Fatalf("%d dials, want 1", d.count())
	}
}

func TestCloseDelimitedResponse(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, _, err := readRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
	})
	tr, d := newTransport()
	for range 3 {
		resp, body := get(t, tr, srv.url())
		if body != "until the end" || !resp.Close {
			t.Fatalf("body %q close %v", body, resp.Close)
		}
	}
	if d.count() != 3 {
		t.Fatalf("%d dials, want 3 (close-delimited bodies end their connection)", d.count())
	}
	if total, idle := poolState(tr, srv.addr()); total != 0 || idle != 0 {
		t.Fatalf("pool total %d idle %d, want 0", total, idle)
	}
}

func TestConnectionCloseNotReused(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	tr, d := newTransport()
	for range 3 {
		if _, body := get(t, tr, srv.URL); body != "bye" {
			t.Fatal(body)
		}
	}
	if d.count() != 3 {
		t.Fatalf("%d dials, want 3", d.count())
	}
}

func TestRequestCloseNotReused(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Close)
	})
	tr, d := newTransport()
	for range 2 {
		req := newRequest(t, context.Background(), "GET", srv.URL, nil)
		req.Close = true
		if _, body := doReq(t, tr, req); body != "true" {
			t.Fatalf("server saw Close=%s", body)
		}
	}
	if d.count() != 2 {
		t.Fatalf("%d dials, want 2", d.count())
	}
}

func TestKeepAliveReuse(t *testing.T) {
	srv, ct := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "hello")
	})
	tr, d := newTransport()
	for i := range 100 {
		var resp *http.Response
		var body string
		if i%2 == 0 {
			resp, body = get(t, tr, srv.URL)
		} else {
			req := newRequest(t, context.Background(), "POST", srv.URL, strings.NewReader("data"))
			resp, body = doReq(t, tr, req)
		}
		if resp.StatusCode != 200 || body != "hello" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if d.count() != 1 {
		t.Fatalf("%d dials for 100 sequential requests, want 1", d.count())
	}
	if _, _, accepted, _ := ct.snapshot(); accepted != 1 {
		t.Fatalf("server accepted %d connections", accepted)
	}
	if total, idle := poolState(tr, addrOf(srv)); total != 1 || idle != 1 {
		t.Fatalf("pool total %d idle %d, want 1 1", total, idle)
	}
}

// staleServer answers one request per connection, then closes it: the second request on
// a kept-alive connection meets a closed socket.
func staleServer(t *testing.T) *rawServer {
	return newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		req, _, err := readRequest(br)
		if err != nil {
			return
		}
		body := req.Method + " ok"
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	})
}

func TestStaleConnRetry(t *testing.T) {
	srv := staleServer(t)
	tr, d := newTransport()
	for i := range 3 {
		if _, body := get(t, tr, srv.url()); body != "GET ok" {
			t.Fatalf("request %d: %q", i, body)
		}
	}
	// Each request after the first met a stale connection and was retried on a new one.
	if d.count() != 3 {
		t.Fatalf("%d dials, want 3", d.count())
	}
	if total, _ := poolState(tr, srv.addr()); total != 1 {
		t.Fatalf("pool total %d, want 1", total)
	}
}

func TestStaleConnNoRetryForUnrewindablePost(t *testing.T) {
	srv := staleServer(t)
	tr, d := newTransport()
	get(t, tr, srv.url())
	req := newRequest(t, context.Background(), "POST", srv.url(), io.NopCloser(strings.NewReader("payload")))
	req.ContentLength = 7
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("POST on a stale connection succeeded: it was sent twice")
	}
	if d.count() != 1 || srv.accepted.Load() != 1 {
		t.Fatalf("dials %d accepted %d, want 1 1 (no resend)", d.count(), srv.accepted.Load())
	}
	// A bodyless POST is not idempotent either: it may have reached the server.
	get(t, tr, srv.url())
	if _, err := tr.RoundTrip(newRequest(t, context.Background(), "POST", srv.url(), nil)); err == nil {
		t.Fatal("bodyless POST on a stale connection was retried")
	}
}

func TestStaleConnRetryWithGetBodyAndIdempotencyKey(t *testing.T) {
	srv := staleServer(t)
	tr, d := newTransport()
	get(t, tr, srv.url())
	req := newRequest(t, context.Background(), "POST", srv.url(), strings.NewReader("payload")) // sets GetBody
	req.Header.Set("Idempotency-Key", "k1")
	if _, body := doReq(t, tr, req); body != "POST ok" {
		t.Fatalf("body %q", body)
	}
	if d.count() != 2 {
		t.Fatalf("%d dials, want 2", d.count())
	}
}

// TestIdleProbe: a connection idle for a while is checked before reuse, so that a POST with
// a body that cannot be resent does not fail on a connection the upstream closed.
func TestIdleProbe(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		t.Run(fmt.Sprintf("wrapped=%v", wrap), func(t *testing.T) {
			if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
				t.Skip("no socket probe on this platform")
			}
			srv := staleServer(t)
			tr, d := newTransport()
			if wrap {
				d.wrap = func(c net.Conn) net.Conn { return wrappedConn{c} }
			}
			get(t, tr, srv.url())
			time.Sleep(probeAfter + 100*time.Millisecond)
			req := newRequest(t, context.Background(), "POST", srv.url(), io.NopCloser(strings.NewReader("payload")))
			req.ContentLength = 7
			if _, body := doReq(t, tr, req); body != "POST ok" {
				t.Fatalf("body %q", body)
			}
			if d.count() != 2 {
				t.Fatalf("%d dials, want 2", d.count())
			}
		})
	}
}

func TestEarlyResponse413(t *testing.T) {
	const size = 10 << 20
	t.Run("httptest", func(t *testing.T) {
		srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			io.WriteString(w, "too large")
		})
		testEarlyResponse(t, srv.URL, size)
	})
	t.Run("raw-close", func(t *testing.T) {
		srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
			if readHead(br) != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 9\r\n\r\ntoo large")
			// Half-close, give the client a moment, close with the body unread.
			c.(*net.TCPConn).CloseWrite()
			time.Sleep(50 * time.Millisecond)
		})
		testEarlyResponse(t, srv.url(), size)
	})
	t.Run("raw-reset", func(t *testing.T) {
		srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
			if readHead(br) != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 9\r\n\r\ntoo large")
			// Closing with the body unread resets the connection at once.
		})
		testEarlyResponse(t, srv.url(), size)
	})
}

func testEarlyResponse(t *testing.T, url string, size int64) {
	tr, _ := newTransport()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := newRequest(t, ctx, "POST", url, io.NopCloser(&genReader{n: size}))
	req.ContentLength = size
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || string(b) != "too large" {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
	if total, idle := poolState(tr, req.URL.Host); total != 0 || idle != 0 {
		t.Fatalf("pool total %d idle %d: the connection must not be reused", total, idle)
	}
}

func TestCancelWhileWaitingForHeaders(t *testing.T) {
	release := make(chan struct{})
	srv, ct := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	tr, _ := newTransport()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := tr.RoundTrip(newRequest(t, ctx, "GET", srv.URL, nil))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("returned after %v", el)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err %v is not a net.Error timeout", err)
	}
	if !strings.HasPrefix(err.Error(), "h1: ") {
		t.Fatalf("error %q lacks the h1 prefix", err)
	}
	waitFor(t, "server to see the close", func() bool { open, _, _, _ := ct.snapshot(); return open == 0 })
	if total, _ := poolState(tr, addrOf(srv)); total != 0 {
		t.Fatalf("pool total %d after cancel", total)
	}
}

func TestCancelDuringBodyRead(t *testing.T) {
	release := make(chan struct{})
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			io.WriteString(w, "ok")
			return
		}
		io.WriteString(w, "first part")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	tr, d := newTransport()
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := tr.RoundTrip(newRequest(t, ctx, "GET", srv.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, err := resp.Body.Read(buf)
	if err != nil || string(buf[:n]) != "first part" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("body read err %v, want context.Canceled", err)
	}
	if _, err := resp.Body.Read(buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("second read err %v", err)
	}
	resp.Body.Close()
	if _, body := get(t, tr, srv.URL+"/ok"); body != "ok" {
		t.Fatal(body)
	}
	if d.count() != 2 {
		t.Fatalf("%d dials, want 2 (canceled connection reused?)", d.count())
	}
}

func TestCancelWhileWritingBody(t *testing.T) {
	stop := make(chan struct{})
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		<-stop // never reads
	})
	t.Cleanup(func() { close(stop) }) // runs before the server's cleanup
	tr, _ := newTransport()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	req := newRequest(t, ctx, "POST", srv.url(), io.NopCloser(&genReader{n: 256 << 20}))
	req.ContentLength = 256 << 20
	start := time.Now()
	_, err := tr.RoundTrip(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("returned after %v", el)
	}
}

func TestContextDoneBeforeRoundTrip(t *testing.T) {
	tr, d := newTransport()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tr.RoundTrip(newRequest(t, ctx, "GET", "http://127.0.0.1:1/", nil))
	if !errors.Is(err, context.Canceled) || d.count() != 0 {
		t.Fatalf("err %v dials %d", err, d.count())
	}
}

func TestMaxConnsPerHost(t *testing.T) {
	srv, ct := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(30 * time.Millisecond)
		io.WriteString(w, "slow")
	})
	tr, d := newTransport()
	tr.MaxConnsPerHost = 2
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			resp, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", srv.URL, nil))
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != "slow" {
				errs <- fmt.Errorf("body %q %v", b, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, maxOpen, _, _ := ct.snapshot(); maxOpen > 2 {
		t.Fatalf("server saw %d connections open at once", maxOpen)
	}
	if d.count() > 2 {
		t.Fatalf("%d dials", d.count())
	}
}

func TestMaxConnsWaiterCanceled(t *testing.T) {
	release := make(chan struct{})
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-release
		}
		io.WriteString(w, "ok")
	})
	tr, _ := newTransport()
	tr.MaxConnsPerHost = 1
	held := make(chan *http.Response)
	go func() {
		resp, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", srv.URL+"/hold", nil))
		if err != nil {
			t.Error(err)
		}
		held <- resp
	}()
	waitFor(t, "the first request to take the slot", func() bool { total, _ := poolState(tr, addrOf(srv)); return total == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := tr.RoundTrip(newRequest(t, ctx, "GET", srv.URL, nil)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting request: %v", err)
	}
	close(release)
	resp := <-held
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if _, body := get(t, tr, srv.URL); body != "ok" {
		t.Fatal(body)
	}
	if total, idle := poolState(tr, addrOf(srv)); total != 1 || idle != 1 {
		t.Fatalf("pool total %d idle %d", total, idle)
	}
}

func TestInterimResponses(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			if _, _, err := readRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	tr, d := newTransport()
	for range 2 {
		req := newRequest(t, context.Background(), "POST", srv.url(), strings.NewReader("body"))
		req.Header.Set("Expect", "100-continue")
		resp, body := doReq(t, tr, req)
		if resp.StatusCode != 200 || body != "ok" || resp.Header.Get("Link") != "" {
			t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
		}
	}
	if d.count() != 1 {
		t.Fatalf("%d dials", d.count())
	}
}

func TestUpgradeEcho(t *testing.T) {
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
		req, _, err := readRequest(br)
		if err != nil {
			return
		}
		if req.Header.Get("Upgrade") != "echo" || req.Header.Get("Connection") != "Upgrade" {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		// Bytes right behind the head land in the client's read buffer.
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhello")
		io.Copy(c, br)
	})
	tr, _ := newTransport()
	tr.MaxConnsPerHost = 1
	req := newRequest(t, context.Background(), "GET", srv.url(), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	ctx, cancel := context.WithCancel(context.Background())
	req = req.WithContext(ctx)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	cancel() // the upgraded connection outlives the request's context
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatal(resp.Status)
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("body %T is not an io.ReadWriteCloser", resp.Body)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(rwc, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q %v", buf, err)
	}
	for _, msg := range []string{"ping", strings.Repeat("z", 100000)} {
		go rwc.Write([]byte(msg))
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(rwc, got); err != nil || string(got) != msg {
			t.Fatalf("echo %.20q: %v", got, err)
		}
	}
	if total, idle := poolState(tr, srv.addr()); total != 1 || idle != 0 {
		t.Fatalf("pool total %d idle %d while upgraded", total, idle)
	}
	if err := rwc.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := rwc.Read(buf); err != io.EOF {
		t.Fatalf("read after CloseWrite: %v, want EOF (server echo ended)", err)
	}
	rwc.Close()
	rwc.Close()
	if total, _ := poolState(tr, srv.addr()); total != 0 {
		t.Fatalf("pool total %d after close", total)
	}
}

func TestInvalidRequestsWriteNothing(t *testing.T) {
	tr, d := newTransport()
	srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {})
	cases := map[string]func(r *http.Request){
		"header value CRLF": func(r *http.Request) { r.Header["X-Bad"] = []string{"a\r\nInjected: 1"} },
		"header value LF":   func(r *http.Request) { r.Header["X-Bad"] = []string{"a\nb"} },
		"header name":       func(r *http.Request) { r.Header["X Bad"] = []string{"v"} },
		"trailer value":     func(r *http.Request) { r.Trailer = http.Header{"X-T": {"a\r\nb"}} },
		"trailer key":       func(r *http.Request) { r.Trailer = http.Header{"Content-Length": {"1"}} },
		"host":              func(r *http.Request) { r.Host = "h\r\nX: y" },
		"method":            func(r *http.Request) { r.Method = "GET /x HTTP/1.1\r\n" },
		"query":             func(r *http.Request) { r.URL.RawQuery = "a=b c" },
		"no host":           func(r *http.Request) { r.URL.Host = "" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			closed := false
			req := newRequest(t, context.Background(), "POST", srv.url(), io.NopCloser(strings.NewReader("x")))
			req.Body = closeTracker{req.Body, &closed}
			mutate(req)
			if _, err := tr.RoundTrip(req); err == nil || !strings.HasPrefix(err.Error(), "h1: ") {
				t.Fatalf("err %v", err)
			}
			if !closed {
				t.Fatal("request body not closed")
			}
		})
	}
	if d.count() != 0 || srv.accepted.Load() != 0 {
		t.Fatalf("dials %d accepted %d: invalid requests must not reach the network", d.count(), srv.accepted.Load())
	}
}

type closeTracker struct {
	io.ReadCloser
	closed *bool
}

func (c closeTracker) Close() error { *c.closed = true; return c.ReadCloser.Close() }

func TestMalformedResponses(t *testing.T) {
	cases := []struct {
		name     string
		resp     string
		headErr  bool // RoundTrip fails (else the body read does)
		contains string
	}{
		{"garbage status line", "garbage\r\n\r\n", true, "malformed"},
		{"bad status code", "HTTP/1.1 2x0 OK\r\n\r\n", true, "status code"},
		{"bad version", "HTTP/9.x 200 OK\r\n\r\n", true, "version"},
		{"oversized headers", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 8000) + "\r\n\r\n", true, "too large"},
		{"endless header line", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("b", 100000), true, "too large"},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", true, "Content-Length"},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", false, "chunk"},
		{"truncated chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nab", false, "unexpected EOF"},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, "unexpected EOF"},
		{"empty", "", true, "closed before the response"},
		{"headers cut", "HTTP/1.1 200 OK\r\nX-A: b", true, "unexpected EOF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRawServer(t, func(c net.Conn, br *bufio.Reader) {
				if _, _, err := readRequest(br); err != nil {
					return
				}
				io.WriteString(c, tc.resp)
			})
			tr, _ := newTransport()
			tr.MaxResponseHeaderBytes = 4096
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			resp, err := tr.RoundTrip(newRequest(t, ctx, "GET", srv.url(), nil))
			if err == nil {
				if tc.headErr {
					resp.Body.Close()
					t.Fatalf("RoundTrip succeeded: %d", resp.StatusCode)
				}
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			} else if !tc.headErr {
				t.Fatalf("RoundTrip: %v", err)
			}
			if err == nil || !strings.Contains(err.Error(), tc.contains) || !strings.HasPrefix(err.Error(), "h1: ") {
				t.Fatalf("err %v, want one mentioning %q", err, tc.contains)
			}
			if isCanceled(err) {
				t.Fatalf("timed out: %v", err)
			}
			if total, _ := poolState(tr, srv.addr()); total != 0 {
				t.Fatalf("pool total %d after a malformed response", total)
			}
		})
	}
}

func TestBodyCloseBeforeEOF(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		io.Copy(w, &genReader{n: int64(n)})
	})
	cases := []struct {
		query string
		reuse bool
	}{
		{"n=100", true},           // the rest is in the read buffer: drained
		{"n=100&chunked=1", true}, // same, chunked
		{"n=8000000", false},      // too much left: closed
		{"n=8000000&chunked=1", false},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			tr, d := newTransport()
			resp, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", srv.URL+"/?"+tc.query, nil))
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 10)
			if _, err := io.ReadFull(resp.Body, buf); err != nil {
				t.Fatal(err)
			}
			if tc.reuse {
				// Let the whole small response arrive before closing.
				waitFor(t, "the response to be buffered", func() bool { return resp.Body.(*bodyReader).pc.br.Buffered() >= 90 })
			}
			start := time.Now()
			if err := resp.Body.Close(); err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el > time.Second {
				t.Fatalf("Close took %v", el)
			}
			resp.Body.Close() // idempotent
			if _, err := resp.Body.Read(buf); !errors.Is(err, errBodyClosed) {
				t.Fatalf("read after close: %v", err)
			}
			get(t, tr, srv.URL+"/?n=1")
			if want := map[bool]int{true: 1, false: 2}[tc.reuse]; d.count() != want {
				t.Fatalf("%d dials, want %d", d.count(), want)
			}
		})
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	release := make(chan struct{})
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "start")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	tr, _ := newTransport()
	resp, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", srv.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	io.ReadFull(resp.Body, buf)
	done := make(chan error)
	go func() {
		_, err := resp.Body.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	resp.Body.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("blocked read returned no error")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock the read")
	}
	if total, _ := poolState(tr, addrOf(srv)); total != 0 {
		t.Fatalf("pool total %d", total)
	}
}

func TestIdleTimeout(t *testing.T) {
	srv, ct := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr, d := newTransport()
	tr.IdleTimeout = 100 * time.Millisecond
	get(t, tr, srv.URL)
	// The sweep closes the idle connection without any request.
	waitFor(t, "the sweep to close the idle connection", func() bool { _, _, _, closed := ct.snapshot(); return closed == 1 })
	get(t, tr, srv.URL)
	if d.count() != 2 {
		t.Fatalf("%d dials", d.count())
	}
	// With nothing left, the endpoint is forgotten and the sweep stops.
	waitFor(t, "the sweep to forget the endpoint", func() bool { return len(tr.hostMap()) == 0 && !tr.sweeping.Load() })
	get(t, tr, srv.URL)
	if d.count() != 3 {
		t.Fatalf("%d dials", d.count())
	}
}

func TestIdleTimeoutOnReuse(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr, d := newTransport()
	tr.IdleTimeout = time.Hour
	get(t, tr, srv.URL)
	p := tr.hostMap()[addrOf(srv)]
	p.mu.Lock()
	p.idle[0].idleAt = time.Now().Add(-2 * time.Hour)
	p.mu.Unlock()
	get(t, tr, srv.URL)
	if d.count() != 2 {
		t.Fatalf("%d dials: an expired connection was reused", d.count())
	}
}

func TestMaxIdleConnsPerHost(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		io.WriteString(w, "ok")
	})
	tr, _ := newTransport()
	tr.MaxIdleConnsPerHost = 2
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() { get(t, tr, srv.URL) })
	}
	wg.Wait()
	if total, idle := poolState(tr, addrOf(srv)); total != 2 || idle != 2 {
		t.Fatalf("pool total %d idle %d, want 2 2", total, idle)
	}
}

func TestCloseIdleConnections(t *testing.T) {
	srv, ct := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr, d := newTransport()
	get(t, tr, srv.URL)
	tr.CloseIdleConnections()
	waitFor(t, "the server to see the close", func() bool { open, _, _, _ := ct.snapshot(); return open == 0 })
	get(t, tr, srv.URL)
	if d.count() != 2 {
		t.Fatalf("%d dials", d.count())
	}
}

type dialError struct{ addr string }

func (e *dialError) Error() string { return "cannot dial " + e.addr }

func TestDialErrorUnwrapped(t *testing.T) {
	want := &dialError{"x"}
	tr := &Transport{Dial: func(context.Context, string) (net.Conn, error) { return nil, want }}
	_, err := tr.RoundTrip(newRequest(t, context.Background(), "GET", "http://127.0.0.1:9/", nil))
	var de *dialError
	if err != want || !errors.As(err, &de) {
		t.Fatalf("err %v (%T), want the Dial's error itself", err, err)
	}
	if total, _ := poolState(tr, "127.0.0.1:9"); total != 0 {
		t.Fatalf("pool total %d after a failed dial", total)
	}
}

// TestConcurrentMix hammers one endpoint from many goroutines with a mix of exchanges and
// checks the pool's accounting at the end.
func TestConcurrentMix(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/close":
			w.Header().Set("Connection", "close")
		case "/big":
			io.Copy(w, &genReader{n: 200000})
			return
		}
		w.Write(b)
	})
	tr, d := newTransport()
	tr.MaxConnsPerHost = 4
	var open, maxOpen atomic.Int64
	d.wrap = func(c net.Conn) net.Conn {
		n := open.Add(1)
		for m := maxOpen.Load(); n > m && !maxOpen.CompareAndSwap(m, n); m = maxOpen.Load() {
		}
		return &onCloseConn{Conn: c, f: func() { open.Add(-1) }}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 60 {
				path := []string{"/", "/close", "/big", "/"}[(g+i)%4]
				var body io.Reader
				if i%3 == 0 {
					body = strings.NewReader(strings.Repeat("q", i*100))
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				resp, err := tr.RoundTrip(newRequest(t, ctx, "POST", srv.URL+path, body))
				if err != nil {
					t.Error(err)
					cancel()
					return
				}
				if path == "/big" && i%2 == 0 {
					resp.Body.Read(make([]byte, 100)) // abandon early
				} else if _, err := io.Copy(io.Discard, resp.Body); err != nil {
					t.Error(err)
				}
				resp.Body.Close()
				cancel()
			}
		})
	}
	wg.Wait()
	total, idle := poolState(tr, addrOf(srv))
	if total != idle || total > 4 {
		t.Fatalf("pool total %d idle %d after all requests ended", total, idle)
	}
	if maxOpen.Load() > 4 || open.Load() != int64(total) {
		t.Fatalf("%d connections open at once (max 4), %d open at the end", maxOpen.Load(), open.Load())
	}
}

// onCloseConn calls f once when closed.
type onCloseConn struct {
	net.Conn
	once sync.Once
	f    func()
}

func (c *onCloseConn) Close() error {
	c.once.Do(c.f)
	return c.Conn.Close()
}

func TestNoGoroutinesPerConnection(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr, _ := newTransport()
	tr.IdleTimeout = time.Hour
	get(t, tr, srv.URL)
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			req := newRequest(t, context.Background(), "GET", srv.URL, nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	_, idle := poolState(tr, addrOf(srv))
	if idle < 2 {
		t.Skipf("only %d connections opened", idle)
	}
	// The server has a goroutine per connection; the client none. The test's own goroutines
	// may still be exiting after wg.Wait, so let the count settle.
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(2 * time.Second); after-before > idle && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		after = runtime.NumGoroutine()
	}
	if after-before > idle {
		t.Fatalf("goroutines %d -> %d with %d idle connections", before, after, idle)
	}
}

func TestFreshConnAtLimitEvictsIdle(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr, d := newTransport()
	tr.MaxConnsPerHost = 1
	get(t, tr, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pc, err := tr.getConn(ctx, addrOf(srv), true, time.Time{})
	if err != nil {
		t.Fatalf("fresh connection at the limit with an idle one: %v", err)
	}
	if pc.reused || d.count() != 2 {
		t.Fatalf("reused %v dials %d", pc.reused, d.count())
	}
	if total, idle := poolState(tr, addrOf(srv)); total != 1 || idle != 0 {
		t.Fatalf("pool total %d idle %d", total, idle)
	}
	pc.destroy()
}

func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, r.TLS != nil)
	}))
	srv.Config.IdleTimeout = 200 * time.Millisecond
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cfg := srv.Client().Transport.(*http.Transport).TLSClientConfig
	var dials atomic.Int64
	tr := &Transport{Dial: func(ctx context.Context, addr string) (net.Conn, error) {
		dials.Add(1)
		d := &tls.Dialer{Config: cfg}
		return d.DialContext(ctx, "tcp", addr)
	}}
	for range 20 {
		resp, body := get(t, tr, srv.URL)
		if body != "true" || resp.TLS == nil || !resp.TLS.HandshakeComplete {
			t.Fatalf("body %q TLS %v", body, resp.TLS)
		}
	}
	if dials.Load() != 1 {
		t.Fatalf("%d dials", dials.Load())
	}
	// The server closes the idle connection (with a close_notify alert): the probe,
	// reaching the socket under the TLS connection, sees it before the POST is sent.
	time.Sleep(probeAfter + 200*time.Millisecond)
	req := newRequest(t, context.Background(), "POST", srv.URL, io.NopCloser(strings.NewReader("payload")))
	req.ContentLength = 7
	if _, body := doReq(t, tr, req); body != "true" {
		t.Fatal(body)
	}
	if dials.Load() != 2 {
		t.Fatalf("%d dials", dials.Load())
	}
}

// RoundTripTimeout bounds the exchange as a context deadline would: waiting for the head, the
// body, and a connection under MaxConnsPerHost; a connection whose exchange finished in time
// is reused and its timer does not fire later.
func TestRoundTripTimeout(t *testing.T) {
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
	defer close(release)
	tr, d := newTransport()
	tr.MaxConnsPerHost = 2
	timeoutErr := func(err error) {
		t.Helper()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want DeadlineExceeded", err)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("err %v is not a net.Error timeout", err)
		}
	}

	// In time: the connection is reused, also after the timeout has passed since.
	for range 2 {
		resp, err := tr.RoundTripTimeout(newRequest(t, context.Background(), "GET", srv.URL+"/ok", nil), 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
			t.Fatalf("body %q", b)
		}
		resp.Body.Close()
		time.Sleep(100 * time.Millisecond)
	}
	if d.count() != 1 {
		t.Fatalf("%d dials, want 1", d.count())
	}

	// Waiting for the head.
	start := time.Now()
	_, err := tr.RoundTripTimeout(newRequest(t, context.Background(), "GET", srv.URL+"/hang", nil), 100*time.Millisecond)
	timeoutErr(err)
	if el := time.Since(start); el > time.Second {
		t.Fatalf("returned after %v", el)
	}
	waitFor(t, "server to see the close", func() bool { open, _, _, _ := ct.snapshot(); return open == 0 })

	// Reading the body.
	resp, err := tr.RoundTripTimeout(newRequest(t, context.Background(), "GET", srv.URL+"/body", nil), 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	timeoutErr(err)
	resp.Body.Close()

	// Waiting for a connection: two exchanges hold both slots.
	var held sync.WaitGroup
	for range 2 {
		held.Add(1)
		go func() {
			defer held.Done()
			tr.RoundTripTimeout(newRequest(t, context.Background(), "GET", srv.URL+"/hang", nil), 300*time.Millisecond)
		}()
	}
	waitFor(t, "both slots taken", func() bool { total, _ := poolState(tr, addrOf(srv)); return total == 2 })
	_, err = tr.RoundTripTimeout(newRequest(t, context.Background(), "GET", srv.URL+"/ok", nil), 50*time.Millisecond)
	timeoutErr(err)
	held.Wait()
	if _, body := get(t, tr, srv.URL+"/ok"); body != "ok" {
		t.Fatal(body)
	}
}
