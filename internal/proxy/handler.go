// Package proxy is Pylon's HTTP connection manager and router: for each downstream request it
// sanitises headers as Envoy does, matches the route, runs the listener's filter chain and
// then performs the route's action (forward to a cluster, direct response, redirect),
// streaming bodies both ways, and finally records stats and the access log.
package proxy

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/pylon-gateway/pylon/internal/accesslog"
	"github.com/pylon-gateway/pylon/internal/cluster"
	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/router"
	"github.com/pylon-gateway/pylon/internal/stats"
	"github.com/pylon-gateway/pylon/internal/stream"
)

func init() {
	// Request ids are generated for every request that lacks one: draw them from a buffered
	// pool of randomness instead of one crypto/rand read each.
	uuid.EnableRandPool()
}

// Listener is the compiled request path of one listener in one config snapshot. It is
// immutable once built.
type Listener struct {
	Name             string
	ServerName       string
	UseRemoteAddress bool
	TLS              bool
	// InternalAddresses are the internal client ranges (x-envoy-* tuning headers honoured).
	InternalAddresses []netip.Prefix
	// StreamIdleTimeout and RequestTimeout are Envoy's stream_idle_timeout and
	// request_timeout (0 disables); a route may override the idle timeout.
	StreamIdleTimeout, RequestTimeout time.Duration
	Stats                             *stats.Listener
	Table                             *router.Table
	Clusters                          map[string]*cluster.Cluster
	AccessLogs                        []*accesslog.Logger
	Log                               *slog.Logger

	serverHeader, schemeHeader []string

	// LLM serves the routes whose action is llm (nil when the config has none).
	LLM LLMServer

	// Chain, when set, runs the listener's filters in front of the router for a route.
	// nil means no filters: the router is called directly.
	Chain func(*router.Route) http.Handler

	// NoFastPath turns the fast path off (fast.go): every request goes through ServeHTTP.
	NoFastPath bool
	fastOK     bool
}

// LLMServer serves the requests of llm routes: the LLM gateway.
type LLMServer interface {
	ServeLLM(w http.ResponseWriter, r *http.Request, info *stream.Info, route *config.RouteLLM)
}

// Init precomputes per-listener values; call it once after filling the fields.
func (l *Listener) Init() {
	l.serverHeader = []string{l.ServerName}
	l.schemeHeader = []string{l.scheme()}
	l.fastOK = !l.NoFastPath && l.fastEligible()
}

// exchange is the pooled per-request state: the stream info, the response writer wrapper and
// the request body counter live in one allocation.
type exchange struct {
	info stream.Info
	rw   responseWriter
	// body is allocated apart: the upstream transport may still read a request body after
	// the handler returns, so it must not go back to the pool with the exchange.
	body *countingBody
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

// ServeHTTP is the connection manager for one request.
func (l *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangePool.Get().(*exchange)
	*ex = exchange{}
	info := &ex.info
	info.Start = time.Now()
	info.Listener = l.Name
	info.UpstreamServiceTime = -1
	ex.rw.ResponseWriter = w
	ex.rw.server = l.serverHeader
	rw := &ex.rw
	if r.Body != nil && r.Body != http.NoBody {
		ex.body = &countingBody{ReadCloser: r.Body}
		r.Body = ex.body
	}

	st := l.Stats
	st.RqTotal.Inc()
	st.RqActive.Inc()
	if r.ProtoMajor == 2 {
		st.RqHTTP2.Inc()
	} else {
		st.RqHTTP1.Inc()
	}

	defer func() {
		st.RqActive.Dec()
		d := time.Since(info.Start)
		if rw.status == 0 && info.Upgraded {
			rw.status = http.StatusSwitchingProtocols
		}
		if rw.status == 0 && info.Flags == "" {
			info.Flags = "DC"
		}
		st.Response(rw.status, d)
		if len(l.AccessLogs) > 0 {
			l.logAccess(r, ex, d)
		}
		ex.rw.ResponseWriter = nil
		exchangePool.Put(ex)
	}()

	l.sanitize(r, info)
	info.Route = l.Table.Match(r)
	if l.Chain != nil {
		if ctx := stream.With(r.Context(), info); ctx != r.Context() {
			r = r.WithContext(ctx)
		}
		l.Chain(info.Route).ServeHTTP(rw, r)
		return
	}
	l.route(rw, r, info)
}

// Router returns the terminal handler of a filter chain: it reads the stream info from the
// request context.
func (l *Listener) Router() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := stream.From(r.Context())
		if info == nil {
			http.Error(w, "pylon: router called outside a listener", http.StatusInternalServerError)
			return
		}
		l.route(w, r, info)
	})
}

// route performs the matched route's action.
func (l *Listener) route(w http.ResponseWriter, r *http.Request, info *stream.Info) {
	rt := info.Route
	if rt == nil {
		l.Stats.NoRoute.Inc()
		info.Flags, info.Details = "NR", "route_not_found"
		l.localReply(w, http.StatusNotFound, "")
		return
	}
	switch rt.Action {
	case router.ActionDirectResponse:
		l.Stats.RqDirectResponse.Inc()
		info.Details = "direct_response"
		status, body, ctype := rt.DirectResponse()
		h := w.Header()
		rt.ApplyResponseHeaders(h)
		if len(body) > 0 {
			h.Set("Content-Type", ctype)
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		h.Set("Server", l.ServerName)
		w.WriteHeader(status)
		w.Write(body)
	case router.ActionRedirect:
		l.Stats.RqRedirect.Inc()
		info.Details = "direct_response"
		loc, code := rt.Redirect(r, l.scheme())
		h := w.Header()
		rt.ApplyResponseHeaders(h)
		h.Set("Location", loc)
		h.Set("Content-Length", "0")
		h.Set("Server", l.ServerName)
		w.WriteHeader(code)
	case router.ActionLLM:
		if l.LLM == nil {
			info.Flags, info.Details = "NC", "llm_not_configured"
			l.localReply(w, http.StatusServiceUnavailable, "")
			return
		}
		var opts *config.RouteLLM
		if rt.Config != nil {
			opts = rt.Config.LLM
		}
		l.LLM.ServeLLM(w, r, info, opts)
	default:
		name := rt.PickCluster(rand.Uint64())
		c := l.Clusters[name]
		info.Cluster = name
		if c == nil {
			l.Stats.NoCluster.Inc()
			info.Flags, info.Details = "NC", "cluster_not_found"
			l.localReply(w, http.StatusServiceUnavailable, "")
			return
		}
		l.forward(w, r, info, rt, c)
	}
}

func (l *Listener) scheme() string {
	if l.TLS {
		return "https"
	}
	return "http"
}

// localReply answers from Pylon itself, shaped as Envoy's local replies: text/plain with a
// content-length, the server header, nothing else.
func (l *Listener) localReply(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	if body != "" {
		h["Content-Type"] = textPlain
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	h["Server"] = l.serverHeader
	w.WriteHeader(status)
	if body != "" {
		w.Write([]byte(body))
	}
}

var textPlain = []string{"text/plain"}

func (l *Listener) logAccess(r *http.Request, ex *exchange, d time.Duration) {
	info := &ex.info
	for _, lg := range l.AccessLogs {
		e := accesslog.AcquireEntry()
		e.StartTime = info.Start
		e.Duration = d
		e.Method = r.Method
		e.Path = r.RequestURI
		e.OriginalPath = info.OriginalPath
		e.Authority = r.Host
		e.Protocol = r.Proto
		e.Scheme = l.scheme()
		e.RequestHeaders = r.Header
		e.ResponseHeaders = ex.rw.Header()
		e.ResponseCode = ex.rw.status
		e.ResponseFlags = info.Flags
		e.ResponseCodeDetails = info.Details
		if ex.body != nil {
			e.BytesReceived = ex.body.n.Load()
		}
		e.BytesSent = ex.rw.bytes
		e.UpstreamHost = info.UpstreamHost
		e.UpstreamCluster = info.Cluster
		e.UpstreamServiceTime = info.UpstreamServiceTime
		if info.Route != nil {
			e.RouteName = info.Route.Name
		}
		e.DownstreamRemoteAddr = r.RemoteAddr
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(interface{ String() string }); ok {
			e.DownstreamLocalAddr = a.String()
		}
		e.RequestID = info.RequestID
		if r.TLS != nil {
			e.RequestedServerName = r.TLS.ServerName
		}
		lg.Log(e)
	}
}
