package h1

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fuzzHandler behaves according to the path's first letter, to reach the server's paths.
func fuzzHandler(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case strings.HasPrefix(p, "r"): // read the body
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "read")
	case strings.HasPrefix(p, "c"): // chunked, flushed
		w.Header().Set("Trailer", "X-T")
		io.WriteString(w, strings.Repeat("c", 5000))
		w.(http.Flusher).Flush()
		w.Header().Set("X-T", "t")
	case strings.HasPrefix(p, "l"): // declared length
		w.Header().Set("Content-Length", "4")
		io.WriteString(w, "long")
	case strings.HasPrefix(p, "1"): // informational, then final
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(p, "h"): // hijack
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	case strings.HasPrefix(p, "a"):
		panic(http.ErrAbortHandler)
	default:
		io.WriteString(w, "ok")
	}
}

// FuzzServeConn writes arbitrary bytes on a connection: the server must neither panic nor hang;
// once the client has finished writing, the connection always ends.
func FuzzServeConn(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /c HTTP/1.1\r\nHost: x\r\n\r\nHEAD /l HTTP/1.1\r\nHost: x\r\n\r\nGET /1 HTTP/1.0\r\n\r\n",
		"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /r HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n",
		"PUT /r HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
		"GET /h HTTP/1.1\r\nHost: x\r\n\r\nleftover",
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("y", 3000) + "\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
		"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
	} {
		f.Add([]byte(seed))
	}
	ts := startServer(f, http.HandlerFunc(fuzzHandler), func(s *Server) {
		s.H2C = true
		s.MaxHeaderBytes = 2048
		s.ReadHeaderTimeout = 5 * time.Second
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			c.Write(data)
			c.(*net.TCPConn).CloseWrite()
		}()
		_, err = io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("server neither answered nor closed for input %q", data)
		}
		if logs := ts.logs.String(); strings.Contains(logs, "panic") {
			t.Fatalf("server logged a panic for input %q:\n%s", data, logs)
		}
	})
}
