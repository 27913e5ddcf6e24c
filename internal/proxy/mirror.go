package proxy

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/pylon-gateway/pylon/internal/cluster"
	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/router"
)

// maxShadowDrain is how much of a shadow response is read (and dropped) so that its
// connection can be reused; a longer one closes the connection instead.
const maxShadowDrain = 64 << 10

// sampleMirrors draws, for each of the route's mirror policies, whether this request is
// mirrored; bit i stands for policy i.
func sampleMirrors(ms []router.Mirror) uint64 {
	var set uint64
	for i := range ms {
		if i < 64 && ms[i].Sampled(rand.Uint64()) {
			set |= 1 << i
		}
	}
	return set
}

// mirror sends a copy of the outbound request to each chosen shadow cluster, as Envoy's
// request_mirror_policies: fire and forget, with the authority suffixed by "-shadow", the
// response dropped. It never waits and never changes the client's request: the copy is made
// here, and a shadow cluster whose circuit breakers are full (max_requests, or no free
// connection: shadows never wait as pending) drops the copy. That bounds the shadow
// goroutines by the shadow clusters' max_requests. Only a buffered body is mirrored; forward
// gives up mirroring a body too large to buffer (retry_or_shadow_abandoned).
func (l *Listener) mirror(out *http.Request, rt *router.Route, set uint64, body *replayBody, timeout time.Duration) {
	if timeout <= 0 {
		timeout = config.DefaultRouteTimeout // a shadow is never unbounded
	}
	for i := range rt.Mirrors {
		if set&(1<<i) == 0 {
			continue
		}
		c := l.Clusters[rt.Mirrors[i].Cluster]
		if c == nil || !c.Breaker.TryAcquire() {
			continue
		}
		u := *out.URL
		req := &http.Request{
			Method:     out.Method,
			URL:        &u,
			Proto:      "HTTP/1.1",
			ProtoMajor: 1,
			ProtoMinor: 1,
			Header:     out.Header.Clone(),
			Host:       shadowHost(out.Host),
		}
		if body != nil {
			req.Body, req.ContentLength = body.reader(), int64(len(body.data))
		}
		go l.shadow(c, req, timeout)
	}
}

// shadow runs one mirrored request; it holds a breaker slot taken by mirror.
func (l *Listener) shadow(c *cluster.Cluster, req *http.Request, timeout time.Duration) {
	defer c.Breaker.Release()
	host := c.Pick(req, "")
	if host == nil {
		return
	}
	req.URL.Host = host.Address
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req = req.WithContext(ctx)
	st := c.Stats
	st.RqTotal.Inc()
	st.RqActive.Inc()
	host.Acquire()
	defer func() {
		st.RqActive.Dec()
		host.Release()
	}()
	sent := time.Now()
	resp, err := c.Transport().RoundTrip(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
		st.Response(status, time.Since(sent))
		io.CopyN(io.Discard, resp.Body, maxShadowDrain)
		resp.Body.Close()
	} else if ctx.Err() != nil {
		st.RqTimeout.Inc()
	}
	c.ReportOutcome(host, status, err)
}

// shadowHost appends "-shadow" to the host part of an authority: foo:8000 -> foo-shadow:8000.
func shadowHost(authority string) string {
	if host, port, err := net.SplitHostPort(authority); err == nil {
		return net.JoinHostPort(host+"-shadow", port)
	}
	return authority + "-shadow"
}
