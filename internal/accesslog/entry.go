package accesslog

import (
	"net/http"
	"sync"
	"time"
)

// Entry is what one request leaves behind. The proxy fills it and hands it over with
// [Logger.Log]; after Log the proxy never touches it again: the logger owns it, formats it
// from its writer goroutine and then returns it to the pool [AcquireEntry] draws from.
//
// The header maps are read, never written, by the logger. They are read after Log returns,
// from another goroutine, so whoever owns them must not change them after Log.
type Entry struct {
	StartTime           time.Time
	Duration            time.Duration // start to last byte sent
	Method, Path        string        // Path is the original :path incl. query (before rewrites)
	OriginalPath        string        // set when the router rewrote the path (x-envoy-original-path)
	Authority, Protocol string        // Protocol "HTTP/1.1", "HTTP/2"
	Scheme              string
	RequestHeaders      http.Header // downstream request headers (read-only for the logger)
	ResponseHeaders     http.Header // headers sent downstream
	ResponseCode        int         // 0 if none was sent
	ResponseFlags       string      // Envoy flags, e.g. "NR", "UH", "UF", "UT", "" for none; several are comma-separated
	ResponseCodeDetails string      // e.g. "via_upstream", "route_not_found"
	BytesReceived       int64       // request body bytes
	BytesSent           int64       // response body bytes
	UpstreamHost        string      // ip:port of the chosen endpoint, "" if none
	UpstreamCluster     string
	// UpstreamServiceTime is -1 if no upstream response headers arrived. AcquireEntry
	// returns entries with -1 here; an Entry built as a literal must set it explicitly.
	UpstreamServiceTime  time.Duration
	RouteName            string
	DownstreamRemoteAddr string // ip:port
	DownstreamLocalAddr  string
	RequestID            string
	RequestedServerName  string // TLS SNI
}

var entryPool = sync.Pool{New: func() any { return &Entry{UpstreamServiceTime: -1} }}

// AcquireEntry returns a reset Entry from a pool (UpstreamServiceTime is -1, everything
// else is zero). The logger returns it to the pool once it has been written or dropped.
func AcquireEntry() *Entry {
	return entryPool.Get().(*Entry)
}

// Clone returns a shallow copy of e drawn from the pool. The copy shares e's header maps,
// which is fine because loggers only read them. Use it to hand one request to several
// loggers: each Log call takes ownership of the entry it is given, so give every logger
// but one a clone (and clone before the first Log).
func (e *Entry) Clone() *Entry {
	c := AcquireEntry()
	*c = *e
	return c
}

// releaseEntry resets e, dropping its references so the pool does not keep header maps
// alive, and puts it back into the pool.
func releaseEntry(e *Entry) {
	*e = Entry{UpstreamServiceTime: -1}
	entryPool.Put(e)
}
