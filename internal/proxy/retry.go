package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pylon-gateway/pylon/internal/cluster"
	"github.com/pylon-gateway/pylon/internal/lb"
	"github.com/pylon-gateway/pylon/internal/router"
)

// maxReplayBody is the largest request body kept in memory so that a retry or a mirror can
// send it again: Envoy's default buffer limit (per_connection_buffer_limit_bytes, 1 MiB).
// A larger body streams through once; retries and mirrors are then given up
// (retry_or_shadow_abandoned), as in Envoy.
const maxReplayBody = 1 << 20

// hostPickAttempts is how many times a retry asks the balancer for a host it has not tried
// yet before taking what it gets (Envoy's host_selection_retry_max_attempts, which Pylon
// always applies with the previous_hosts predicate).
const hostPickAttempts = 3

// limits are one request's retry policy and timeouts, after the x-envoy-* headers of an
// internal client.
type limits struct {
	timeout time.Duration // the route timeout: all tries; 0 = none
	perTry  time.Duration // each try; 0 = none
	policy  *router.RetryPolicy
	retries int // retries left
}

// requestLimits returns the route's limits, tuned by the x-envoy-* headers of an internal
// client (Envoy strips them from external ones in sanitize). The headers are consumed: they
// never reach the upstream. Values that are not integers are ignored, as in Envoy.
func requestLimits(rt *router.Route, h http.Header, internal bool) limits {
	lim := limits{timeout: rt.Timeout, policy: rt.Retry}
	if internal {
		if v, ok := headerMs(h, "X-Envoy-Upstream-Rq-Timeout-Ms"); ok {
			lim.timeout = v
		}
		if on := h["X-Envoy-Retry-On"]; len(on) > 0 {
			delete(h, "X-Envoy-Retry-On")
			// The header's conditions join the route's (Envoy merges them); a route without
			// a policy gets Envoy's defaults: one retry, 25ms back-off.
			if flags := router.ParseRetryOn(strings.Join(on, ",")); flags != 0 {
				if lim.policy == nil {
					lim.policy = router.HeaderRetryPolicy(flags)
				} else if lim.policy.On|flags != lim.policy.On {
					p := *lim.policy
					p.On |= flags
					lim.policy = &p
				}
			}
		}
		if v := h["X-Envoy-Max-Retries"]; len(v) > 0 {
			delete(h, "X-Envoy-Max-Retries")
			if n, err := strconv.Atoi(strings.TrimSpace(v[0])); err == nil && n >= 0 && lim.policy != nil {
				p := *lim.policy
				p.NumRetries = n
				lim.policy = &p
			}
		}
	}
	if lim.policy != nil {
		lim.perTry = lim.policy.PerTryTime
		lim.retries = lim.policy.NumRetries
	}
	if internal {
		if v, ok := headerMs(h, "X-Envoy-Upstream-Rq-Per-Try-Timeout-Ms"); ok {
			lim.perTry = v
		}
	}
	// Envoy ignores a per-try timeout that is not shorter than the route timeout.
	if lim.timeout > 0 && lim.perTry >= lim.timeout {
		lim.perTry = 0
	}
	return lim
}

// headerMs reads and removes an integer millisecond header.
func headerMs(h http.Header, k string) (time.Duration, bool) {
	v := h[k]
	if len(v) == 0 {
		return 0, false
	}
	delete(h, k)
	n, err := strconv.ParseInt(strings.TrimSpace(v[0]), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return time.Duration(n) * time.Millisecond, true
}

// failure classifies a try that got no response, in Envoy's terms.
type failure uint8

const (
	failNone          failure = iota
	failConnect               // could not connect: connect-failure
	failReset                 // the upstream reset or closed the stream before a response
	failRefused               // HTTP/2 REFUSED_STREAM
	failPerTryTimeout         // the per-try timeout fired (a reset for retry purposes)
	failTimeout               // the route timeout fired: never retried
)

func classify(err error, perTryFired bool) failure {
	if err == nil {
		return failNone // apart: errors.As below moves its target to the heap
	}
	var ce *cluster.ConnectError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		if perTryFired {
			return failPerTryTimeout
		}
		return failTimeout
	case errors.As(err, &ce):
		return failConnect
	case strings.Contains(err.Error(), "REFUSED_STREAM"):
		return failRefused
	}
	return failReset
}

// retriable reports whether a try's outcome asks for a retry under policy p (Envoy's
// RetryStateImpl: 5xx, gateway-error and reset retry any failure to get a response).
func retriable(p *router.RetryPolicy, status int, f failure) bool {
	if p == nil {
		return false
	}
	switch f {
	case failNone:
		return p.RetriableStatus(status)
	case failTimeout:
		return false
	case failConnect:
		if p.On&router.RetryConnectFailure != 0 {
			return true
		}
	case failRefused:
		if p.On&router.RetryRefusedStream != 0 {
			return true
		}
	}
	return p.On&(router.Retry5xx|router.RetryGatewayError|router.RetryReset) != 0
}

// replayBody holds a buffered request body that each try reads afresh.
type replayBody struct {
	data []byte
}

// bufferBody reads a request body of up to maxReplayBody bytes into memory. When the body is
// larger it returns nil and a reader that yields the whole body once (what was read, then
// the rest).
func bufferBody(body io.ReadCloser, contentLength int64) (*replayBody, io.ReadCloser, error) {
	if contentLength > maxReplayBody {
		return nil, body, nil
	}
	n := contentLength
	if n < 0 {
		n = 4 << 10
	}
	buf := bytes.NewBuffer(make([]byte, 0, n+1))
	_, err := buf.ReadFrom(io.LimitReader(body, maxReplayBody+1))
	if err != nil {
		return nil, nil, err
	}
	if buf.Len() > maxReplayBody {
		return nil, struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf.Bytes()), body), body}, nil
	}
	return &replayBody{data: buf.Bytes()}, nil, nil
}

// reader returns a fresh copy of the body for one try.
func (b *replayBody) reader() io.ReadCloser {
	if len(b.data) == 0 {
		return nil
	}
	return io.NopCloser(bytes.NewReader(b.data))
}

// tried remembers the hosts a request already tried, for retries to avoid them.
type tried struct {
	hosts [4]*lb.Host
	n     int
}

func (t *tried) add(h *lb.Host) {
	if t.n < len(t.hosts) {
		t.hosts[t.n] = h
		t.n++
	}
}

func (t *tried) has(h *lb.Host) bool {
	for _, x := range t.hosts[:t.n] {
		if x == h {
			return true
		}
	}
	return false
}

// pickRetryHost picks a host for a retry, preferring one not tried yet (Envoy's
// previous_hosts predicate); when every pick lands on a tried host, the last pick is used.
func pickRetryHost(c *cluster.Cluster, r *http.Request, remoteIP string, t *tried) *lb.Host {
	var h *lb.Host
	for range hostPickAttempts {
		if h = c.Pick(r, remoteIP); h == nil || !t.has(h) {
			return h
		}
	}
	return h
}

// sleepCtx waits for d, or until ctx ends or the deadline (zero: none) passes; it reports
// whether the whole wait happened.
func sleepCtx(ctx context.Context, d time.Duration, deadline time.Time) bool {
	if !deadline.IsZero() {
		if left := time.Until(deadline); left < d {
			if left > 0 {
				sleepCtx(ctx, left, time.Time{})
			}
			return false
		}
	}
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
