package cluster

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/stats"
)

// ErrOverflow is returned when a circuit breaker refuses a request: the proxy answers 503
// with x-envoy-overloaded and never touches the upstream.
var ErrOverflow = errors.New("cluster: circuit breaker overflow")

// Breaker is a cluster's circuit breakers, Envoy's DEFAULT priority thresholds:
//
//   - max_requests bounds the upstream tries in flight, waiting ones included;
//   - max_connections bounds the connections of the whole cluster. Over HTTP/1.1 a connection
//     carries one request at a time, so the breaker counts tries holding a connection; a try
//     beyond the bound waits (as Envoy's pending request) for one to be released;
//   - max_pending_requests bounds the tries waiting that way;
//   - max_retries bounds the retries in flight (back-off included).
//
// A bound reached makes the next request fail fast instead of queueing without limit, which
// is what keeps a slow upstream from taking the whole proxy down with it. The fast paths are
// one atomic add each; only waiting takes the mutex.
type Breaker struct {
	maxConns, maxPending, maxRequests, maxRetries int64
	conns                                         bool // the max_connections gate applies (HTTP/1.1)
	st                                            *stats.Cluster

	requests, active, pending, retries atomic.Int64
	// waiting counts tries that are about to wait or waiting, so that a release knows to look
	// for them; it is raised before a waiter's last attempt to take a slot (see acquireSlow).
	waiting atomic.Int64

	mu      sync.Mutex
	waiters []*connWaiter // first come, first served
}

type connWaiter struct {
	ch      chan struct{} // closed when granted
	granted bool          // guarded by Breaker.mu
}

// NewBreaker builds the breakers of one cluster; zero thresholds take Envoy's defaults.
// perRequestConns says that a connection carries one request at a time (HTTP/1.1), so that
// max_connections bounds concurrent requests.
func NewBreaker(cb *config.CircuitBreakers, perRequestConns bool, st *stats.Cluster) *Breaker {
	var t config.CircuitBreakers
	if cb != nil {
		t = *cb
	}
	def := func(v, d int) int64 {
		if v <= 0 {
			return int64(d)
		}
		return int64(v)
	}
	return &Breaker{
		maxConns:    def(t.MaxConnections, config.DefaultMaxConnections),
		maxPending:  def(t.MaxPendingRequests, config.DefaultMaxPendingRequests),
		maxRequests: def(t.MaxRequests, config.DefaultMaxRequests),
		maxRetries:  def(t.MaxRetries, config.DefaultMaxRetries),
		conns:       perRequestConns,
		st:          st,
	}
}

// Acquire admits one upstream try: a max_requests slot, then (HTTP/1.1) a connection slot,
// waiting for one until ctx ends or the deadline (zero: none) passes. ErrOverflow means a
// breaker refused it; a context or deadline error means it gave up waiting. Every nil return
// must be paired with one Release.
func (b *Breaker) Acquire(ctx context.Context, deadline time.Time) error {
	if n := b.requests.Add(1); n > b.maxRequests {
		b.requests.Add(-1)
		b.st.RqPendingOverflow.Inc() // Envoy counts max_requests overflow here too
		b.st.CBRqOpen.Set(1)
		return ErrOverflow
	} else if n == b.maxRequests {
		b.st.CBRqOpen.Set(1)
	}
	if !b.conns {
		return nil
	}
	if n := b.active.Add(1); n <= b.maxConns {
		if n == b.maxConns {
			b.st.CBCxOpen.Set(1)
		}
		return nil
	}
	b.active.Add(-1)
	if err := b.acquireSlow(ctx, deadline); err != nil {
		b.releaseRequest()
		return err
	}
	return nil
}

// TryAcquire is Acquire without waiting: it fails (counting the overflow) when no connection
// slot is free. Mirrors use it, so that a shadow never queues.
func (b *Breaker) TryAcquire() bool {
	if b.requests.Add(1) > b.maxRequests {
		b.requests.Add(-1)
		b.st.RqPendingOverflow.Inc()
		return false
	}
	if b.conns && b.active.Add(1) > b.maxConns {
		b.active.Add(-1)
		b.releaseRequest()
		b.st.CxOverflow.Inc()
		b.st.RqPendingOverflow.Inc()
		return false
	}
	return true
}

// acquireSlow waits for a connection slot as a pending request.
func (b *Breaker) acquireSlow(ctx context.Context, deadline time.Time) error {
	b.st.CxOverflow.Inc()
	if n := b.pending.Add(1); n > b.maxPending {
		b.pending.Add(-1)
		b.st.RqPendingOverflow.Inc()
		b.st.CBRqPendingOpen.Set(1)
		return ErrOverflow
	} else if n == b.maxPending {
		b.st.CBRqPendingOpen.Set(1)
	}
	defer b.releasePending()
	b.st.RqPendingTotal.Inc()
	b.st.RqPendingActive.Inc()
	defer b.st.RqPendingActive.Dec()

	b.mu.Lock()
	// Raise waiting before the last try: a release that lowers active after this try fails
	// sees waiting > 0 and hands its slot over (wake), so no wake-up is lost.
	b.waiting.Add(1)
	if b.active.Add(1) <= b.maxConns {
		b.waiting.Add(-1)
		b.mu.Unlock()
		return nil
	}
	b.active.Add(-1)
	w := &connWaiter{ch: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()

	var expire <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expire = t.C
	}
	var err error
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-expire:
		err = context.DeadlineExceeded
	}
	b.mu.Lock()
	if w.granted {
		// Handed a slot just as we gave up: give it back.
		b.mu.Unlock()
		b.releaseConn()
		return err
	}
	for i, x := range b.waiters {
		if x == w {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			break
		}
	}
	b.waiting.Add(-1)
	b.mu.Unlock()
	return err
}

// Release ends a try admitted by Acquire.
func (b *Breaker) Release() {
	if b.conns {
		b.releaseConn()
	}
	b.releaseRequest()
}

func (b *Breaker) releaseRequest() {
	if b.requests.Add(-1) == b.maxRequests-1 {
		b.st.CBRqOpen.Set(0)
	}
}

func (b *Breaker) releasePending() {
	if b.pending.Add(-1) == b.maxPending-1 {
		b.st.CBRqPendingOpen.Set(0)
	}
}

func (b *Breaker) releaseConn() {
	if b.active.Add(-1) == b.maxConns-1 {
		b.st.CBCxOpen.Set(0)
	}
	if b.waiting.Load() > 0 {
		b.wake()
	}
}

// wake hands free connection slots to waiters, oldest first.
func (b *Breaker) wake() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.waiters) > 0 {
		if b.active.Add(1) > b.maxConns {
			b.active.Add(-1)
			return
		}
		w := b.waiters[0]
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
		b.waiting.Add(-1)
		w.granted = true
		close(w.ch)
	}
}

// AcquireRetry takes a max_retries slot for one retry; false means the breaker is open (the
// retry is not made, upstream_rq_retry_overflow). A true return must be paired with one
// ReleaseRetry once the retried try ends.
func (b *Breaker) AcquireRetry() bool {
	n := b.retries.Add(1)
	if n > b.maxRetries {
		b.retries.Add(-1)
		b.st.RqRetryOverflow.Inc()
		b.st.CBRqRetryOpen.Set(1)
		return false
	}
	if n == b.maxRetries {
		b.st.CBRqRetryOpen.Set(1)
	}
	return true
}

// ReleaseRetry returns a max_retries slot.
func (b *Breaker) ReleaseRetry() {
	if b.retries.Add(-1) == b.maxRetries-1 {
		b.st.CBRqRetryOpen.Set(0)
	}
}

// Counts returns the tries in flight, holding a connection, pending and retrying (for tests
// and the admin page).
func (b *Breaker) Counts() (requests, active, pending, retries int64) {
	return b.requests.Load(), b.active.Load(), b.pending.Load(), b.retries.Load()
}
