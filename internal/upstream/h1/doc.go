// Package h1 is a lean HTTP/1.1 client connection pool for proxying: an
// http.RoundTripper in which the goroutine that calls RoundTrip does all the
// I/O of its exchange itself.
//
// # Caller-goroutine I/O
//
// net/http's Transport gives every persistent connection a read loop and a
// write loop goroutine and hands each request to them over channels, which
// costs goroutine switches and wake-ups on every request. Here a connection is
// a plain struct (net.Conn plus a bufio.Reader and bufio.Writer that live as
// long as it does). RoundTrip takes a connection from the pool, appends the
// request head straight into the bufio.Writer, streams the body behind it
// (one write syscall for a head and a small body), and parses the response
// head with http.ReadResponse on the same goroutine. The response body is read
// by whoever reads resp.Body; the read that meets the end of the body puts the
// connection back in the pool. No goroutine exists per connection or per
// request.
//
// # Pooling
//
// Each endpoint address (req.URL.Host) has its own pool: a LIFO stack of idle
// connections (the most recently used is reused first, so a small hot set
// stays warm and the cold tail ages out), a count of the connections that
// exist (dialing, in use and idle, bounded by MaxConnsPerHost) and a FIFO of
// requests waiting for one. A connection goes back to the pool only when its
// response was read to the end, neither side asked to close, the request was
// written completely and no error or cancellation touched the exchange. A
// returned connection is handed straight to a waiter if there is one. Idle
// connections older than IdleTimeout are closed when met on reuse and by a
// periodic sweep (one timer per Transport, running only while pools exist).
//
// An upstream closes idle keep-alive connections whenever it likes, and with
// no goroutine reading an idle connection the close goes unseen. So a
// connection that sat idle for more than a short while is probed before reuse
// with a non-blocking read on its socket: end-of-file or unexpected bytes
// discard it. The probe needs the socket: it works when the dialed net.Conn
// (or what its NetConn method returns, recursively, as *tls.Conn offers)
// implements syscall.Conn; other connections are reused unprobed.
//
// # Retry rule
//
// A request that fails on a reused connection before any byte of the
// response arrived is retried once on a new connection when that is safe, as
// net/http does: the request's body must be replayable (no body, a body not
// read from yet, or GetBody set) and either nothing of the request reached
// the connection or the request is idempotent (GET, HEAD, OPTIONS, TRACE, or
// an Idempotency-Key or X-Idempotency-Key header). A request is never retried
// once response bytes arrived, and a POST whose body was streamed from a
// reader that cannot be rewound is never sent twice.
//
// # Early responses
//
// The whole request is written before the response is read. When writing
// fails (an upstream answering 413 and closing without reading the body), a
// response already sent is still read and returned, and the connection is
// not reused. (The request body, not read to its end then, is closed on a
// goroutine of its own, since closing a server's request body may read on.)
//
// # Cancellation
//
// While an exchange is in progress (from the write of the request until its
// response body ends or is closed) a context.AfterFunc on the request's
// context closes the connection when the context ends, so blocked reads and
// writes return at once; the error then returned, from RoundTrip or from a
// body Read, wraps the context's error. A context that can never end costs
// nothing; the request contexts of Pylon's HTTP/1.1 server (internal/listener/h1),
// handed over as they are, are watched in place through their NotifyCancel method,
// without context.AfterFunc's allocations. After a 101 Switching Protocols response the connection belongs to
// the caller and the context no longer governs it.
//
// # Raw exchanges
//
// RoundTripRaw is the proxy's fast path: it takes the request head as bytes, built by
// the caller (no body), and returns the response head as bytes in a RawResponse that the
// caller reuses, whose Read de-chunks the body. No http.Request, http.Response or header
// map is built: the response head is validated and its framing read by
// h1head.ScanResponse (net/http's rules, refusing a few forms a proxy must not pass on),
// interim responses are skipped and a 101 is an error. Everything else is RoundTrip's:
// the pool, the retry rule (the caller says whether the request is idempotent), the
// deadline timer of RoundTripTimeout, cancellation, the reuse rules, Close's cheap drain.
// A keep-alive exchange allocates nothing.
package h1
