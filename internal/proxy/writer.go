package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync/atomic"
)

// responseWriter records what was sent downstream (status and body bytes) for stats and the
// access log, and keeps Flush and Hijack reachable through the wrapper.
type responseWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	server []string // the server header, set on every response that lacks one (filter replies)
}

// headerAdopter is a ResponseWriter that can take over a header map (internal/listener/h1).
type headerAdopter interface {
	AdoptHeader(http.Header) bool
}

// AdoptHeader passes the map to the listener's writer when it can take it.
func (w *responseWriter) AdoptHeader(h http.Header) bool {
	a, ok := w.ResponseWriter.(headerAdopter)
	return ok && a.AdoptHeader(h)
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
		if h := w.ResponseWriter.Header(); h["Server"] == nil {
			h["Server"] = w.server
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush sends buffered data to the client now (server-sent events, streamed bodies).
func (w *responseWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack hands the connection over for protocol upgrades (WebSocket).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts request body bytes read (the access log's BYTES_RECEIVED). The upstream
// transport reads it from its own goroutine, hence the atomic.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
