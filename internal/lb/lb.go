// Package lb implements Pylon's load-balancing policies with Envoy's semantics.
//
// A Balancer picks one upstream Host for one request. The policies are:
//
//   - round_robin: hosts in turn. Equal weights rotate through an atomic counter; unequal
//     weights follow Envoy's earliest-deadline-first order (a host of weight w is due every
//     1/w), precomputed into a schedule when its period is small and run live otherwise.
//   - least_request: equal weights use the power of two choices (two distinct random hosts,
//     the one with fewer outstanding requests wins); unequal weights pick at random in
//     proportion to Envoy's dynamic weight weight/(active+1).
//   - random: a random host in proportion to its weight.
//   - ring_hash: Envoy's Ketama-style consistent-hash ring of xxhash64 points.
//   - maglev: Envoy's Maglev lookup table of 65537 entries.
//
// ring_hash and maglev map the request's hash key (Context.Hash, computed by a HashPolicy) to
// a host, so the same key goes to the same host while membership is stable, and only about
// 1/N of the keys move when one of N hosts leaves. A request without a hash key goes to a
// random point, like Envoy's.
//
// Balancers are immutable: New takes the eligible hosts (healthy ones, as the cluster decides)
// and the cluster builds a new Balancer whenever membership, weights or health change, then
// swaps it in atomically. Pick never looks at health itself. The *Host values are shared
// across rebuilds so their outstanding-request counters carry over. Building is the slow path
// (ring_hash and maglev hash every host and sort or fill a table); Pick is the hot path and
// allocates nothing.
package lb

import (
	"fmt"
)

// Balancer picks a host for one request. It is immutable after construction except for its
// own internal cursors, and safe for concurrent use. A nil return means no host.
type Balancer interface {
	Pick(c *Context) *Host
}

// Context carries what a policy may need for one pick. A nil *Context is a pick without a
// hash key.
type Context struct {
	// Hash is the hash key computed by a HashPolicy; ring_hash and maglev use it.
	Hash uint64
	// HasHash is false when no hash policy yielded a key: ring_hash and maglev then pick a
	// random host, as Envoy does.
	HasHash bool
	// Retry-aware fields (attempt number, hosts to avoid) belong here when retries come.
}

// Options configure a policy. The zero value means Envoy's defaults.
type Options struct {
	// MinRingSize and MaxRingSize bound the ring_hash ring; 0 means Envoy's defaults, 1024
	// and 8M entries. Larger rings spread keys more evenly at the cost of memory (12 bytes an
	// entry) and build time.
	MinRingSize, MaxRingSize int
}

// Ring size bounds, as Envoy's RingHashLbConfig.
const (
	DefaultMinRingSize = 1024
	DefaultMaxRingSize = 8 << 20
	// RingSizeLimit is the largest ring Envoy accepts, and so the largest we build.
	RingSizeLimit = 8 << 20
)

// Policy names accepted by New.
const (
	RoundRobin   = "round_robin"
	LeastRequest = "least_request"
	Random       = "random"
	RingHash     = "ring_hash"
	Maglev       = "maglev"
)

// New builds the named policy over hosts, which the caller has already filtered to the
// eligible (healthy) set. hosts may be empty: Pick then returns nil. New keeps its own copy of
// the slice, so the caller may reuse it.
func New(policy string, hosts []*Host, opts Options) (Balancer, error) {
	switch policy {
	case RoundRobin, LeastRequest, Random, Maglev:
	case RingHash:
		if _, _, err := ringBounds(opts); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("lb: unknown policy %q (want round_robin, least_request, random, ring_hash or maglev)", policy)
	}
	hs := make([]*Host, 0, len(hosts))
	for _, h := range hosts {
		if h != nil {
			hs = append(hs, h)
		}
	}
	switch len(hs) {
	case 0:
		return emptyBalancer{}, nil
	case 1:
		// Every policy picks the only host; skip building a ring or a table for it.
		return singleBalancer{hs[0]}, nil
	}
	switch policy {
	case RoundRobin:
		return newRoundRobin(hs), nil
	case LeastRequest:
		return newLeastRequest(hs), nil
	case Random:
		return newRandom(hs), nil
	case RingHash:
		return newRingHash(hs, opts)
	default:
		return newMaglev(hs), nil
	}
}

// emptyBalancer is the balancer of a cluster with no eligible host.
type emptyBalancer struct{}

func (emptyBalancer) Pick(*Context) *Host { return nil }

// singleBalancer is the balancer of a cluster with one eligible host.
type singleBalancer struct{ h *Host }

func (b singleBalancer) Pick(*Context) *Host { return b.h }

// equalWeights reports whether every host has the same weight, in which case the policies
// take their unweighted fast paths (as Envoy does).
func equalWeights(hosts []*Host) bool {
	for _, h := range hosts[1:] {
		if h.weight() != hosts[0].weight() {
			return false
		}
	}
	return true
}
