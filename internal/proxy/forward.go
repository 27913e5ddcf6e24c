package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pylon-gateway/pylon/internal/cluster"
	"github.com/pylon-gateway/pylon/internal/lb"
	"github.com/pylon-gateway/pylon/internal/router"
	"github.com/pylon-gateway/pylon/internal/stream"
)

// Envoy's local reply bodies for upstream failures.
const (
	bodyNoHealthyUpstream = "no healthy upstream"
	bodyTimeout           = "upstream request timeout"
	bodyResetPrefix       = "upstream connect error or disconnect/reset before headers. reset reason: "
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// forward sends the request to an endpoint of c and streams the response back. A route
// with a retry policy may try several endpoints; the client only ever sees the last try's
// response, so retries happen before the first response byte goes downstream.
func (l *Listener) forward(w http.ResponseWriter, r *http.Request, info *stream.Info, rt *router.Route, c *cluster.Cluster) {
	host := c.Pick(r, info.RemoteIP)
	if host == nil {
		info.Flags, info.Details = "UH", "no_healthy_upstream"
		l.localReply(w, http.StatusServiceUnavailable, bodyNoHealthyUpstream)
		return
	}
	info.UpstreamHost = host.Address
	st := c.Stats

	upgrade := ""
	if r.ProtoMajor == 1 {
		upgrade = upgradeType(r.Header)
	}
	lim := requestLimits(rt, r.Header, info.Internal)
	if upgrade != "" {
		lim.retries = 0 // an upgraded connection cannot be replayed
	}
	// The upstream request and its URL escape to the transport: one allocation for both.
	ob := new(outbound)
	out := &ob.req
	err := l.outboundRequest(out, &ob.url, r, info, rt, c, host.Address, host.Hostname, upgrade)
	if err != nil {
		info.Flags, info.Details = "", "invalid_path"
		l.localReply(w, http.StatusBadRequest, "invalid path")
		return
	}
	idle := rt.IdleTimeout
	if idle < 0 {
		idle = l.StreamIdleTimeout
	}
	wd := newWatchdog(w, info.Start, idle, lim.timeout, l.RequestTimeout, out.Body != nil)
	if wd != nil {
		defer wd.stop()
		if out.Body != nil {
			out.Body = &watchBody{ReadCloser: out.Body, wd: wd}
		}
	}

	// Retries and mirrors send the body again: keep it when it is small enough.
	mirrors := sampleMirrors(rt.Mirrors)
	var replay *replayBody
	if out.Body != nil && (lim.retries > 0 || mirrors != 0) {
		rb, rest, err := bufferBody(out.Body, out.ContentLength)
		if err != nil {
			l.downstreamError(w, r, info, wd)
			return
		}
		if rb == nil {
			st.RetryOrShadowAbandoned.Inc()
			lim.retries, mirrors = 0, 0
			out.Body = rest
		} else {
			replay = rb
			out.Body, out.ContentLength = rb.reader(), int64(len(rb.data))
			out.GetBody = func() (io.ReadCloser, error) { return rb.reader(), nil }
		}
	}
	if mirrors != 0 {
		l.mirror(out, rt, mirrors, replay, lim.timeout)
	}

	ctx := r.Context()
	tr := c.Transport()
	// A timeout bounds the whole exchange. A transport that takes the timeout itself
	// (h1.Transport) bounds it with a timer of the connection's; others get a context, and so
	// does every try when the watchdog may have to cancel it.
	ttr, _ := tr.(timeoutRoundTripper)
	if wd != nil {
		ttr = nil
	}
	var deadline time.Time
	if lim.timeout > 0 {
		deadline = time.Now().Add(lim.timeout)
	}
	if expected := lim.perTry; expected > 0 || lim.timeout > 0 {
		if expected == 0 {
			expected = lim.timeout
		}
		out.Header["X-Envoy-Expected-Rq-Timeout-Ms"] = msHeader(expected)
	}
	// The request goes out with the downstream request's context (its cancellation reaches the
	// upstream exchange). Copying WithContext's result into out keeps it to one Request.
	*out = *out.WithContext(ctx)

	var (
		resp       *http.Response
		tries      tried
		held       *lb.Host // the try whose slots are held
		cancelTry  context.CancelFunc
		retryHeld  bool
		retried    bool
		retryFlags string
		fail       failure
		sent       time.Time
	)
	defer func() {
		if cancelTry != nil {
			cancelTry()
		}
		if held != nil {
			st.RqActive.Dec()
			held.Release()
			c.Breaker.Release()
		}
	}()
	for {
		tries.add(host)
		if err := c.Breaker.Acquire(ctx, deadline); err != nil {
			if retryHeld {
				c.Breaker.ReleaseRetry()
			}
			l.breakerError(w, r, info, c, err, retryFlags)
			return
		}
		held = host
		st.RqTotal.Inc()
		st.RqActive.Inc()
		host.Acquire()

		tryDeadline, perTry := deadline, false
		if lim.perTry > 0 {
			if t := time.Now().Add(lim.perTry); deadline.IsZero() || t.Before(deadline) {
				tryDeadline, perTry = t, true
			}
		}
		sent = time.Now()
		if ttr != nil {
			if tryDeadline.IsZero() {
				resp, err = tr.RoundTrip(out)
			} else {
				resp, err = ttr.RoundTripTimeout(out, tryDeadline.Sub(sent))
			}
		} else {
			if wd != nil || !tryDeadline.IsZero() {
				tctx, cancel := ctx, context.CancelFunc(nil)
				if tryDeadline.IsZero() {
					tctx, cancel = context.WithCancel(ctx)
				} else {
					tctx, cancel = context.WithDeadline(ctx, tryDeadline)
				}
				cancelTry = cancel
				*out = *out.WithContext(tctx)
				if wd != nil {
					wd.setTry(cancel, nil)
				}
			}
			resp, err = tr.RoundTrip(out)
		}
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		c.ReportOutcome(host, status, err)
		if retryHeld {
			c.Breaker.ReleaseRetry()
			retryHeld = false
		}
		if err != nil && (ctx.Err() != nil || wd.timedOut() != "") {
			l.downstreamError(w, r, info, wd)
			return
		}
		fail = classify(err, perTry)
		if fail == failPerTryTimeout {
			st.RqPerTryTimeout.Inc()
		}
		if !retriable(lim.policy, status, fail) {
			if retried && err == nil {
				st.RqRetrySuccess.Inc()
			}
			break
		}
		if lim.retries == 0 {
			if lim.policy != nil && lim.policy.NumRetries > 0 {
				st.RqRetryLimitExceeded.Inc()
				retryFlags = "URX"
			}
			break
		}
		if !c.Breaker.AcquireRetry() {
			retryFlags = "UO"
			break
		}
		retryHeld = true
		lim.retries--
		// This try is dropped: free what it holds before waiting for the next.
		if resp != nil {
			resp.Body.Close()
			resp = nil
		}
		if cancelTry != nil {
			cancelTry()
			cancelTry = nil
		}
		st.RqActive.Dec()
		held.Release()
		c.Breaker.Release()
		held = nil
		st.RqRetry.Inc()
		retried = true
		if !sleepCtx(ctx, lim.policy.Backoff(tries.n), deadline) {
			c.Breaker.ReleaseRetry()
			if ctx.Err() != nil {
				l.downstreamError(w, r, info, wd)
				return
			}
			l.upstreamError(w, r, info, c, context.DeadlineExceeded, failTimeout, retryFlags)
			return
		}
		next := pickRetryHost(c, r, info.RemoteIP, &tries)
		if next == nil {
			c.Breaker.ReleaseRetry()
			info.Flags, info.Details = "UH", "no_healthy_upstream"
			l.localReply(w, http.StatusServiceUnavailable, bodyNoHealthyUpstream)
			return
		}
		host = next
		info.UpstreamHost = host.Address
		ob.url.Host = host.Address
		out.Host = authority(r, rt, host.Address, host.Hostname)
		if replay != nil {
			out.Body = replay.reader()
		}
	}
	if err != nil {
		l.upstreamError(w, r, info, c, err, fail, retryFlags)
		return
	}
	if retryFlags != "" {
		info.Flags = retryFlags
	}
	info.UpstreamServiceTime = time.Since(sent)
	st.Response(resp.StatusCode, info.UpstreamServiceTime)
	info.Details = "via_upstream"
	if wd != nil {
		wd.setTry(cancelTry, resp.Body)
	}

	if resp.StatusCode == http.StatusSwitchingProtocols {
		l.upgradeResponse(w, r, info, rt, resp)
		return
	}
	defer resp.Body.Close()

	h := resp.Header
	if a, ok := w.(headerAdopter); !ok || !a.AdoptHeader(h) {
		h = w.Header()
		for k, vv := range resp.Header {
			h[k] = vv
		}
	}
	removeHopHeaders(h)
	announceTrailers(h, resp)
	h["Server"] = l.serverHeader
	h["X-Envoy-Upstream-Service-Time"] = msHeader(info.UpstreamServiceTime)
	rt.ApplyResponseHeaders(h)
	w.WriteHeader(resp.StatusCode)

	if err := copyBody(w, resp, flushEach(resp), wd); err != nil {
		// The response started: the only honest signal left is to reset the stream, so the
		// client never mistakes a cut body for a complete one.
		switch {
		case err == errClientGone:
			info.Flags = "DC"
			l.Stats.RxReset.Inc()
			return
		case wd.timedOut() != "":
			info.Flags = "SI"
			l.Stats.RqIdleTimeout.Inc()
		case errors.Is(err, context.DeadlineExceeded):
			st.RqTimeout.Inc()
			info.Flags = "UT"
		case r.Context().Err() != nil:
			info.Flags = "DC"
			l.Stats.RxReset.Inc()
			return
		default:
			st.RqReset.Inc()
			info.Flags = "UR"
		}
		l.Stats.TxReset.Inc()
		panic(http.ErrAbortHandler)
	}
	copyTrailers(h, resp)
}

// outbound is an upstream request with its URL.
type outbound struct {
	req http.Request
	url url.URL
}

// timeoutRoundTripper is a transport that bounds an exchange by a timeout without a context
// (h1.Transport): errors caused by the timeout match context.DeadlineExceeded.
type timeoutRoundTripper interface {
	RoundTripTimeout(req *http.Request, timeout time.Duration) (*http.Response, error)
}

// outboundRequest builds the upstream request from the downstream one. The downstream header
// map is reused: nothing reads it as the client sent it after this point.
func (l *Listener) outboundRequest(out *http.Request, u *url.URL, r *http.Request, info *stream.Info, rt *router.Route, c *cluster.Cluster, addr, hostname, upgrade string) error {
	h := r.Header
	te := h["Te"]
	removeHopHeaders(h)
	for _, v := range te {
		if strings.Contains(strings.ToLower(v), "trailers") {
			h["Te"] = []string{"trailers"}
			break
		}
	}
	if upgrade != "" {
		h["Connection"] = []string{"Upgrade"}
		h["Upgrade"] = []string{upgrade}
	}
	*u = url.URL{Scheme: c.Scheme(), Host: addr, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	if p, changed := rt.RewritePath(requestPath(r)); changed {
		info.OriginalPath = requestPath(r)
		h["X-Envoy-Original-Path"] = []string{info.OriginalPath}
		raw, q, _ := strings.Cut(p, "?")
		dec, err := url.PathUnescape(raw)
		if err != nil {
			return err
		}
		u.Path, u.RawPath, u.RawQuery = dec, raw, q
	}
	rt.ApplyRequestHeaders(h)
	*out = http.Request{
		Method:        r.Method,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          r.Body,
		ContentLength: r.ContentLength,
		Host:          authority(r, rt, addr, hostname),
		Trailer:       r.Trailer,
	}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	return nil
}

// authority is the upstream request's host: the client's, or the route's host rewrite (a
// literal, or the endpoint's host name with auto_host_rewrite).
func authority(r *http.Request, rt *router.Route, addr, hostname string) string {
	lit, auto := rt.HostRewrite()
	switch {
	case lit != "":
		return lit
	case auto:
		if _, port, err := net.SplitHostPort(addr); err == nil && port != "80" && port != "443" {
			return net.JoinHostPort(hostname, port)
		}
		return hostname
	}
	return r.Host
}

// msHeader renders a duration in whole milliseconds as a header value. Values below a second
// come from a table built once, so the common case allocates nothing; the slices are shared
// and must only be replaced, never written through.
func msHeader(d time.Duration) []string {
	ms := d.Milliseconds()
	if ms >= 0 && ms < int64(len(msValues)) {
		return msValues[ms]
	}
	if ms == 15000 {
		return ms15000
	}
	return []string{strconv.FormatInt(ms, 10)}
}

var (
	msValues = func() [][]string {
		v := make([][]string, 1000)
		for i := range v {
			v[i] = []string{strconv.Itoa(i)}
		}
		return v
	}()
	ms15000 = []string{"15000"}
)

// requestPath is the request target as the client sent it: path (escaped as sent) and query.
func requestPath(r *http.Request) string {
	if r.RequestURI != "" && r.RequestURI[0] == '/' {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// upstreamError answers a try that got no response as Envoy does. flags are the retry flags
// (URX, UO) to add to the failure's own.
func (l *Listener) upstreamError(w http.ResponseWriter, r *http.Request, info *stream.Info, c *cluster.Cluster, err error, f failure, flags string) {
	if r.Context().Err() != nil {
		l.downstreamError(w, r, info, nil)
		return
	}
	l.upstreamFailure(w, info, c, err, f, flags)
}

// upstreamFailure is upstreamError for a client that is still there.
func (l *Listener) upstreamFailure(w http.ResponseWriter, info *stream.Info, c *cluster.Cluster, err error, f failure, flags string) {
	var ce *cluster.ConnectError
	switch {
	case f == failPerTryTimeout:
		info.Flags, info.Details = "UT", "upstream_per_try_timeout"
		l.localReply(w, http.StatusGatewayTimeout, bodyTimeout)
	case f == failTimeout:
		c.Stats.RqTimeout.Inc()
		info.Flags, info.Details = "UT", "upstream_response_timeout"
		l.localReply(w, http.StatusGatewayTimeout, bodyTimeout)
	case errors.As(err, &ce):
		info.Flags, info.Details = "UF", "upstream_reset_before_response_started{connection_failure}"
		reason := "remote connection failure, transport failure reason: " + transportReason(ce.Err)
		if ce.Timeout {
			reason = "connection timeout"
		}
		l.localReply(w, http.StatusServiceUnavailable, bodyResetPrefix+reason)
	case f == failRefused:
		c.Stats.RqReset.Inc()
		info.Flags, info.Details = "UR", "upstream_reset_before_response_started{remote_refused_stream_reset}"
		l.localReply(w, http.StatusServiceUnavailable, bodyResetPrefix+"remote refused stream reset")
	default:
		c.Stats.RqReset.Inc()
		info.Flags, info.Details = "UC", "upstream_reset_before_response_started{connection_termination}"
		l.localReply(w, http.StatusServiceUnavailable, bodyResetPrefix+"connection termination")
	}
	if flags != "" {
		info.Flags += "," + flags
	}
}

// downstreamError ends a request whose client went away or timed out on its side: a stream
// idle or request timeout is answered 408, a client gone is only recorded.
func (l *Listener) downstreamError(w http.ResponseWriter, r *http.Request, info *stream.Info, wd *watchdog) {
	switch body := wd.timedOut(); body {
	case bodyStreamTimeout:
		l.Stats.RqIdleTimeout.Inc()
		info.Flags, info.Details = "SI", "stream_idle_timeout"
		l.localReply(w, http.StatusRequestTimeout, body)
	case bodyRequestTimeout:
		l.Stats.RqTimeout.Inc()
		info.Flags, info.Details = "", "request_overall_timeout"
		l.localReply(w, http.StatusRequestTimeout, body)
	default:
		// The client went away: nobody to answer.
		info.Flags, info.Details = "DC", "downstream_remote_disconnect"
		l.Stats.RxReset.Inc()
	}
}

// breakerError answers a try that a circuit breaker refused (503, x-envoy-overloaded, UO) or
// that gave up waiting for a connection.
func (l *Listener) breakerError(w http.ResponseWriter, r *http.Request, info *stream.Info, c *cluster.Cluster, err error, flags string) {
	l.breakerFailure(w, r.Context(), info, c, err, flags)
}

// breakerFailure is breakerError with the request's context.
func (l *Listener) breakerFailure(w http.ResponseWriter, ctx context.Context, info *stream.Info, c *cluster.Cluster, err error, flags string) {
	switch {
	case errors.Is(err, cluster.ErrOverflow):
		info.Flags, info.Details = "UO", "upstream_reset_before_response_started{overflow}"
		if flags != "" && flags != "UO" {
			info.Flags += "," + flags
		}
		w.Header()["X-Envoy-Overloaded"] = trueHeader
		l.localReply(w, http.StatusServiceUnavailable, bodyResetPrefix+"overflow")
	case ctx.Err() != nil:
		l.downstreamError(w, nil, info, nil)
	default:
		l.upstreamFailure(w, info, c, err, failTimeout, flags)
	}
}

// transportReason shortens a dial error to its cause ("connection refused").
func transportReason(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && !strings.HasPrefix(s, "TLS error") {
		return s[i+2:]
	}
	return s
}

// flushEach reports whether each chunk of the body must reach the client as soon as it is
// read: event streams and bodies of unknown length (streamed responses).
func flushEach(resp *http.Response) bool {
	if resp.ContentLength == -1 {
		return true
	}
	ct := resp.Header["Content-Type"]
	return len(ct) > 0 && len(ct[0]) >= 17 && strings.EqualFold(ct[0][:17], "text/event-stream")
}

// copyBody streams the upstream body to the client with a pooled buffer. Read and write
// errors are told apart: a failed read is the upstream's fault, a failed write the client's.
func copyBody(w http.ResponseWriter, resp *http.Response, flush bool, wd *watchdog) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var flusher http.Flusher
	if flush {
		flusher, _ = w.(http.Flusher)
	}
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return errClientGone
			}
			if flusher != nil {
				flusher.Flush()
			}
			if wd != nil {
				wd.touch()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

var errClientGone = errors.New("proxy: client went away")

// announceTrailers declares the upstream's trailers so the server sends them after the body.
func announceTrailers(h http.Header, resp *http.Response) {
	if len(resp.Trailer) == 0 {
		return
	}
	keys := make([]string, 0, len(resp.Trailer))
	for k := range resp.Trailer {
		keys = append(keys, k)
	}
	h["Trailer"] = []string{strings.Join(keys, ", ")}
}

func copyTrailers(h http.Header, resp *http.Response) {
	for k, vv := range resp.Trailer {
		h[k] = vv
	}
}
