package limits

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"time"
)

// Limiter enforces limits. Both implementations (Local, in process; Redis,
// shared by every node) have the same semantics, and every method is safe
// for concurrent use.
type Limiter interface {
	// Reserve checks every limit of req and, only if all admit, takes the
	// request's share of each at once: one request from Requests limits, the
	// token estimate from Tokens limits and token budgets, the cost estimate
	// from money budgets, a lease from Concurrent limits. A refusal takes
	// nothing. The error is for malformed requests and backend failures;
	// a refusal is a Decision with Allowed false.
	Reserve(ctx context.Context, req Request) (Decision, error)
	// Settle ends a reservation with the call's actual usage: Tokens limits
	// and budgets move from the estimate to actual, leases are released.
	// Idempotent: a second Settle, or a Settle after Refund, does nothing.
	// A reservation whose holds already expired still records actual.
	Settle(ctx context.Context, r Reservation, actual Amount) error
	// Refund ends a reservation whose call used nothing: token and budget
	// holds and leases are given back (the request still counts against
	// Requests limits: it was made). Idempotent, and a no-op after Settle.
	Refund(ctx context.Context, r Reservation) error
	// Renew restarts the reservation's TTL (holds, leases and record), for
	// calls that outlive it such as long streams.
	Renew(ctx context.Context, r Reservation) error
	// Peek reports a limit's standing in a partition without taking anything
	// (it does drop expired holds and leases).
	Peek(ctx context.Context, partition string, l Limit) (Snapshot, error)
}

// Compile-time guards.
var (
	_ Limiter = (*Local)(nil)
	_ Limiter = (*Redis)(nil)
)

// Options are the settings both implementations share.
type Options struct {
	// TTL is how long a reservation may stay unsettled before its budget
	// holds and concurrency leases are released (default 10 minutes; a
	// Request can set its own). A node that crashes mid-call leaks nothing
	// for longer than this; a call that outlives it without Renew is
	// still recorded by Settle, but for a while its estimate was not held.
	TTL time.Duration
	// Idempotency is how long a finished reservation is remembered, so that
	// a retried Settle or Refund is a no-op (default 10 minutes). A
	// reservation's record lives TTL + Idempotency while held, then
	// Idempotency after it ends.
	Idempotency time.Duration
}

// Defaults of Options.
const (
	DefaultTTL         = 10 * time.Minute
	DefaultIdempotency = 10 * time.Minute
)

func (o Options) withDefaults() Options {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Idempotency <= 0 {
		o.Idempotency = DefaultIdempotency
	}
	return o
}

// idGen makes reservation ids unique across nodes without coordination: a
// random per-instance prefix and a counter.
type idGen struct {
	prefix string
	n      atomic.Uint64
}

func newIDGen() *idGen {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather)
	return &idGen{prefix: hex.EncodeToString(b[:]) + "-"}
}

func (g *idGen) next() string {
	return g.prefix + strconv.FormatUint(g.n.Add(1), 36)
}

// needsReservation reports whether any limit of req keeps state that a
// settle or refund must undo.
func needsReservation(req *Request) bool {
	for i := range req.Limits {
		if req.Limits[i].holds() {
			return true
		}
	}
	return false
}

func (o Options) ttlOf(req *Request) time.Duration {
	if req.TTL > 0 {
		return req.TTL
	}
	return o.TTL
}
