// Package h1 is a lean HTTP/1.1 server for Pylon's plain-text listeners. It keeps the
// net/http Handler interface, so handlers written for net/http run unchanged, and hands
// HTTP/2-with-prior-knowledge (h2c) connections to golang.org/x/net/http2.
//
// # Why
//
// net/http's server starts a background read on the connection after each request (to notice
// a client that goes away) and aborts it with a past read deadline when the handler ends:
// extra goroutine wake-ups, reads and context switches on every request. This server runs one
// goroutine per connection that reads a request, runs the handler, writes the response and
// loops. Nothing else runs per request.
//
// # Design
//
//   - Requests are parsed by http.ReadRequest (the standard parser). A limiting reader under
//     the connection's bufio.Reader bounds the head to MaxHeaderBytes plus 4096 bytes of
//     slack (net/http's rule). A head that does not fit gets 431 and the connection closes.
//     The checks net/http's server adds are applied too: Host present and valid, header
//     names and values valid, protocol version, Expect. Failures get net/http's 400, 417,
//     501 and 505 answers.
//   - Each connection has a pooled 4 KiB bufio.Reader and a pooled 4 KiB output buffer.
//     WriteHeader appends the status line (precomputed) and the handler's fields
//     (sorted, sanitized) straight into the output buffer. Body bytes follow. When the handler
//     returns with everything still buffered, Content-Length, Connection and a cached Date
//     line are inserted between the two, and the response leaves in one write. A body that
//     outgrows the buffer, a Flush or a Hijack commits the head first: the declared
//     Content-Length, else chunked on HTTP/1.1, else close-delimited on HTTP/1.0. When a
//     write does not fit, the buffer and the write go out in one writev.
//   - Framing, keep-alive, trailers (the Trailer field and http.TrailerPrefix), HEAD, 1xx,
//     204 and 304 follow net/http's rules (chunkWriter.writeHeader). So does consuming an
//     unread request body: up to 256 KiB is read and dropped when the head is committed,
//     unless EnableFullDuplex was called. With more left, the response says
//     "Connection: close" and the connection closes.
//   - When the server closes a connection that still has unread request bytes, it first
//     sends what is pending, half-closes, and reads what is left for up to 500ms. Without
//     that "lingering close", the reset could destroy the response in the client's buffer.
//   - A request's context (reqctx.go) is context.WithCancel's equivalent with fewer costs:
//     its Done channel is made only when asked for, the upstream transport watches it in
//     place (NotifyCancel) instead of through context.AfterFunc, and the proxy attaches its
//     per-request state to it without a WithValue wrapper (AttachValue), so the contexts
//     derived from it still have it as their direct parent. When the listener's base
//     context can itself be canceled, requests get a plain context.WithCancel instead.
//   - Each request allocates its *response, the ResponseWriter, on purpose. The handler holds
//     it, so a handler (or a goroutine it leaked) that uses it after returning gets
//     an error from a done flag. It can never touch another request's response, which a
//     pooled writer could not guarantee. The request body wrapper lives inside it and fences
//     off the connection's reader once the request is over.
//   - Disconnect watcher: while the server has connections, one goroutine (watch.go) looks
//     every 100ms at the requests in flight. A request it already saw in flight on its
//     previous tick, whose body has been read to its end (or that has none), gets its socket
//     probed with a non-blocking recv(MSG_PEEK|MSG_DONTWAIT) through syscall.RawConn.Control
//     (not RawConn.Read, whose read lock the connection's goroutine may hold while it waits
//     for the next request). End of file or ECONNRESET cancels the request's context. Bytes
//     waiting (a pipelined request) are not a disconnect, and nothing is consumed. Hijacked
//     and HTTP/2 connections are not probed, nor are connections whose net.Conn does not
//     reach a socket (syscall.Conn, directly or through NetConn). The per-request fast path
//     gains nothing: the watcher reads the in-flight pointer each connection publishes for
//     Close anyway, and keeps its own bookkeeping.
//   - Shutdown closes idle connections at once. Each active connection finishes its current
//     response (with "Connection: close" when the head is not out yet) and closes. HTTP/2
//     connections get a graceful GOAWAY: the x/net/http2 server is bound to a private
//     http.Server with http2.ConfigureServer, and that server's Shutdown triggers the
//     GOAWAYs.
//
// # Fast path
//
// A proxy spends much of a request's CPU building an http.Request and its Header maps.
// With Server.Fast set, each request whose head is already whole in the read buffer is first
// offered, raw, to the FastHandler (fast.go). It either declines, having written nothing,
// and the request is parsed and served as usual, or serves it itself: it writes the whole
// response (status line, fields, framing, body) through the connection's output buffer, and
// the head is then dropped from the read buffer. A request it serves has no body. Its
// FastConn is reused for each request on the connection, and the request's context is made
// only when asked for, so such a request allocates nothing in this package. Otherwise it is
// treated as a normal request: ConnState goes active then idle, Shutdown waits for it, Close
// and a failed write cancel its context, the disconnect watcher probes it, and a panic
// closes the connection. The connection closes after it when the handler calls SetClose,
// when the server is shutting down, or when a write failed.
//
// # Differences from net/http's server
//
//   - No background read. A client that disconnects while a handler runs is noticed in
//     two ways. A failed write: Write returns the error and the request context is
//     canceled, as net/http does on write errors. And the disconnect watcher (see Design),
//     for requests that have run for about 100-200ms with their body read to its end (or
//     without one): the request context is canceled within about 100ms of the client's
//     FIN or RST (on Unix-like systems; elsewhere only the write notices). A request that
//     ends sooner is never probed, so a disconnect during a fast request is only noticed
//     by a write. As with net/http, a client that half-closes its side after sending the
//     request counts as gone, and a request whose body is still unread is not watched.
//     Request.Context is also canceled when the handler returns, and by Server.Close.
//     CloseNotifier is not implemented.
//   - There is no Content-Type sniffing. A response without a Content-Type field is sent
//     without one.
//   - http.ReadRequest deletes the Host field, so the server checks Request.Host. An
//     empty "Host:" on HTTP/1.1 is rejected like a missing one (net/http accepts it).
//     An absolute-form request target without a Host field is accepted (net/http rejects it).
//   - A request read during Shutdown on an already-accepted connection is served with
//     "Connection: close"; net/http drops it unanswered.
//   - With ReadHeaderTimeout unset, IdleTimeout also bounds the wait for a new connection's
//     first byte, and the read of a head (net/http has no limit for either). The keep-alive
//     deadline is only re-armed when it has drifted by more than min(IdleTimeout/8, 1s), to
//     save timer operations, so an idle connection may be closed up to that much early.
//   - Write buffering: before the head is committed, up to about 4 KiB (minus the head) is
//     buffered. net/http buffers 2 KiB. So a response of 2-4 KiB gets a Content-Length
//     where net/http would chunk it. After the commit, each Write of a chunked body is one
//     chunk (net/http coalesces small writes into 2 KiB chunks); the bytes still leave in
//     4 KiB batches.
//   - A handler panic closes the connection without flushing anything the server still
//     held. net/http flushes its connection buffer first.
//   - ReadFrom (io.Copy into the ResponseWriter) copies through a pooled 32 KiB buffer. There is
//     no sendfile.
//   - Plain text only: Request.TLS is always nil, and a *tls.Conn listener is not handshaken.
//     The "Upgrade: h2c" path is not supported (use prior knowledge). An HTTP/2 connection
//     reports only StateNew and StateClosed to ConnState, as net/http does for them.
//   - Header fields are emitted in sorted order like net/http, except the server-managed
//     Content-Length, Transfer-Encoding, Connection and Date, which come after the handler's.
package h1
