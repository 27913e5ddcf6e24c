package h1

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzRoundTripResponse feeds arbitrary server bytes to RoundTrip (through a net.Pipe, one
// per connection, closed after the bytes): whatever arrives, RoundTrip and the body must
// neither panic nor hang, and the pool's accounting must come back to rest.
func FuzzRoundTripResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X\r\n\r\n2\r\nok\r\n0\r\nX: y\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nok",
		"HTTP/1.0 200 OK\r\n\r\nclose delimited",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nraw bytes",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nab",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 5000) + "\r\n\r\n",
		"HTTP/1.1 999 Weird\r\n\r\n",
		"\r\n\r\n",
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
		for i, method := range []string{"GET", "POST", "HEAD", "GET"} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var body io.Reader
			if method == "POST" {
				body = io.NopCloser(strings.NewReader("request body"))
			}
			req := newRequest(t, ctx, method, "http://127.0.0.1:1/", body)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				if i == 3 {
					resp.Body.Read(make([]byte, 3)) // abandon the body early
				} else {
					io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
				}
				resp.Body.Close()
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
