package lb

import (
	"sync/atomic"

	"github.com/pylon-gateway/pylon/internal/stripe"
)

// Host is one upstream endpoint as the balancers see it.
//
// The cluster package owns Hosts and hands the same *Host to every balancer it builds for the
// cluster, so the outstanding-request counter (which least_request reads) survives the
// balancer rebuild that follows every membership or health change. Balancers only read a Host;
// Address, Hostname and Weight must not change once the Host has been given to a balancer
// (build a new Host instead: a changed weight is a membership change).
type Host struct {
	// Address is "ip:port" as dialed. ring_hash and maglev hash it to place the host, so a
	// host keeps its place across rebuilds and across proxies sharing the configuration.
	Address string
	// Hostname is the configured host name (for DNS endpoints); it may equal the IP.
	Hostname string
	// Weight is the static load-balancing weight, >= 1. A zero weight is read as 1, like a
	// zero weight in the configuration.
	Weight uint32

	// SpreadActive stripes the outstanding-request count over cache lines (package stripe),
	// for AcquireStriped on a path every request takes. Set it before the host is shared, on
	// hosts whose balancer does not read the count (all but least_request): reading it sums
	// the stripes.
	SpreadActive bool

	// active counts requests outstanding on the host (Acquire minus Release): in active[0],
	// or over all the stripes with SpreadActive.
	active [stripe.N]struct {
		n atomic.Int64
		_ [56]byte
	}
	// unhealthy is negated so that the zero Host (and every new Host) starts healthy, as
	// Envoy treats a host as healthy until a health checker says otherwise.
	unhealthy atomic.Bool
}

// NewHost returns a healthy host with no outstanding requests. A zero weight becomes 1.
func NewHost(address, hostname string, weight uint32) *Host {
	if weight == 0 {
		weight = 1
	}
	return &Host{Address: address, Hostname: hostname, Weight: weight}
}

// Active returns the number of outstanding requests on h.
func (h *Host) Active() int64 {
	if !h.SpreadActive {
		return h.active[0].n.Load()
	}
	var n int64
	for i := range h.active {
		n += h.active[i].n.Load()
	}
	return n
}

// Acquire records that a request started on h. The proxy must pair it with exactly one
// Release when the request ends (including on error), or least_request drifts away from h.
func (h *Host) Acquire() { h.active[0].n.Add(1) }

// Release records that a request on h ended.
func (h *Host) Release() { h.active[0].n.Add(-1) }

// AcquireStriped is Acquire on the calling goroutine's stripe when the host has SpreadActive
// (on stripe 0 otherwise): goroutines on different cores then mostly update different cache
// lines. Pass the stripe it returns to ReleaseStriped.
func (h *Host) AcquireStriped() int {
	i := 0
	if h.SpreadActive {
		i = stripe.Index()
	}
	h.active[i].n.Add(1)
	return i
}

// ReleaseStriped ends a request recorded by AcquireStriped.
func (h *Host) ReleaseStriped(i int) { h.active[i].n.Add(-1) }

// Healthy reports whether h is healthy. Balancers do not look at it: the cluster passes only
// the eligible hosts to New and rebuilds the balancer when health changes.
func (h *Host) Healthy() bool { return !h.unhealthy.Load() }

// SetHealthy marks h healthy or unhealthy.
func (h *Host) SetHealthy(healthy bool) { h.unhealthy.Store(!healthy) }

// String returns the address, for logs and test failures.
func (h *Host) String() string { return h.Address }

// weight returns the effective weight: Weight, with 0 read as 1 so that a Host built as a
// struct literal cannot make a policy divide by zero or starve it entirely.
func (h *Host) weight() uint64 {
	if h.Weight == 0 {
		return 1
	}
	return uint64(h.Weight)
}

// hashKey is the string ring_hash and maglev hash to place h: the address, or the host name
// when the address is empty (an endpoint still waiting for DNS should not all land on "").
func (h *Host) hashKey() string {
	if h.Address != "" {
		return h.Address
	}
	return h.Hostname
}

// activeNonNeg returns Active clamped at 0: an unpaired Release must not turn into a negative
// load that least_request would prefer forever (or a division by zero in (active+1)).
func (h *Host) activeNonNeg() uint64 {
	if a := h.Active(); a > 0 {
		return uint64(a)
	}
	return 0
}
