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

// forward sends the request to an endpoint of c and streams the response back.
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
	// The upstream request and its URL escape to the transport: one allocation for both.
	ob := new(outbound)
	out := &ob.req
	err := l.outboundRequest(out, &ob.url, r, info, rt, c, host.Address, host.Hostname, upgrade)
	if err != nil {
		info.Flags, info.Details = "", "invalid_path"
		l.localReply(w, http.StatusBadRequest, "invalid path")
		return
	}
	ctx := r.Context()
	tr := c.Transport()
	// The route timeout bounds the whole exchange. A transport that takes the timeout itself
	// (h1.Transport) bounds it with a timer of the connection's; others get a context.
	ttr, _ := tr.(timeoutRoundTripper)
	if rt.Timeout > 0 {
		if ttr == nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, rt.Timeout)
			defer cancel()
		}
		out.Header["X-Envoy-Expected-Rq-Timeout-Ms"] = msHeader(rt.Timeout)
	}
	// The request goes out with the downstream request's context (its cancellation reaches the
	// upstream exchange). Copying WithContext's result into out keeps it to one Request.
	*out = *out.WithContext(ctx)

	st.RqTotal.Inc()
	st.RqActive.Inc()
	host.Acquire()
	defer func() {
		st.RqActive.Dec()
		host.Release()
	}()
	sent := time.Now()
	var resp *http.Response
	if ttr != nil && rt.Timeout > 0 {
		resp, err = ttr.RoundTripTimeout(out, rt.Timeout)
	} else {
		resp, err = tr.RoundTrip(out)
	}
	if err != nil {
		l.upstreamError(w, r, info, c, err)
		return
	}
	info.UpstreamServiceTime = time.Since(sent)
	st.Response(resp.StatusCode, info.UpstreamServiceTime)
	info.Details = "via_upstream"

	if resp.StatusCode == http.StatusSwitchingProtocols {
		l.upgradeResponse(w, r, info, rt, resp)
		return
	}
	defer resp.Body.Close()

	h := w.Header()
	for k, vv := range resp.Header {
		h[k] = vv
	}
	removeHopHeaders(h)
	announceTrailers(h, resp)
	h["Server"] = l.serverHeader
	h["X-Envoy-Upstream-Service-Time"] = msHeader(info.UpstreamServiceTime)
	rt.ApplyResponseHeaders(h)
	w.WriteHeader(resp.StatusCode)

	if err := copyBody(w, resp, flushEach(resp)); err != nil {
		// The response started: the only honest signal left is to reset the stream, so the
		// client never mistakes a cut body for a complete one.
		switch {
		case err == errClientGone:
			info.Flags = "DC"
			l.Stats.RxReset.Inc()
			return
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
	authority := r.Host
	if lit, auto := rt.HostRewrite(); lit != "" {
		authority = lit
	} else if auto {
		authority = hostname
		if _, port, err := net.SplitHostPort(addr); err == nil && port != "80" && port != "443" {
			authority = net.JoinHostPort(hostname, port)
		}
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
		Host:          authority,
		Trailer:       r.Trailer,
	}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	return nil
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

// upstreamError answers a failed upstream exchange as Envoy does.
func (l *Listener) upstreamError(w http.ResponseWriter, r *http.Request, info *stream.Info, c *cluster.Cluster, err error) {
	var ce *cluster.ConnectError
	switch {
	case r.Context().Err() != nil:
		// The client went away: nobody to answer.
		info.Flags, info.Details = "DC", "downstream_remote_disconnect"
		l.Stats.RxReset.Inc()
	case errors.Is(err, context.DeadlineExceeded):
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
	default:
		c.Stats.RqReset.Inc()
		info.Flags, info.Details = "UC", "upstream_reset_before_response_started{connection_termination}"
		l.localReply(w, http.StatusServiceUnavailable, bodyResetPrefix+"connection termination")
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
func copyBody(w http.ResponseWriter, resp *http.Response, flush bool) error {
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
