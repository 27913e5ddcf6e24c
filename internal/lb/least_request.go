package lb

import "math/rand/v2"

// newLeastRequest returns the least_request balancer for two or more hosts, following
// Envoy's LeastRequestLoadBalancer:
//
//   - Equal weights: the power of two choices. Draw two distinct hosts at random and take the
//     one with fewer outstanding requests (the first on a tie). It needs no global scan, and
//     unlike "the least loaded of all" it does not send every request of a burst to the same
//     host before its counter has moved.
//   - Unequal weights: Envoy gives each host the dynamic weight weight/(active+1)^bias,
//     bias 1.0, and schedules by it. We pick at random in exact proportion to the dynamic
//     weights (see weightedLeastRequest), so with no load the shares follow the static
//     weights, and a host's share shrinks as its outstanding requests pile up.
func newLeastRequest(hosts []*Host) Balancer {
	if equalWeights(hosts) {
		return &p2c{hosts: hosts}
	}
	return &weightedLeastRequest{hosts: hosts, cum: prefixSums(hosts)}
}

// p2c is the power of two choices over equally weighted hosts.
type p2c struct{ hosts []*Host }

func (b *p2c) Pick(*Context) *Host {
	// Both indexes come from one 64-bit draw: i from the high half scaled to [0,n), j from the
	// low half scaled to [0,n-1) and shifted past i, so the two are distinct and each pair is
	// equally likely (up to a bias of n/2^32, far below anything measurable).
	n := uint64(len(b.hosts))
	r := rand.Uint64()
	i := ((r >> 32) * n) >> 32
	j := ((r & 0xffffffff) * (n - 1)) >> 32
	if j >= i {
		j++
	}
	x, y := b.hosts[i], b.hosts[j]
	if y.Active() < x.Active() {
		return y
	}
	return x
}

// rejectionTries bounds the fast path of weightedLeastRequest. With little load the first try
// is almost always accepted; with heavy load few are, and the exact scan is cheaper than
// more tries.
const rejectionTries = 2

// weightedLeastRequest picks host i with probability d_i / sum(d), d_i = w_i/(active_i+1).
//
// Fast path, rejection sampling: draw i in proportion to the static weight w_i (prefix sums
// and binary search, O(log n)) and accept it with probability 1/(active_i+1) = d_i/w_i. An
// accepted draw has exactly the distribution wanted. After rejectionTries refusals it falls
// back to an O(n) scan over the dynamic weights, which has that distribution too, so the
// mixture is still exact. (Envoy gets the same shares from an EDF scheduler that re-reads a
// host's dynamic weight when it re-queues the host.)
type weightedLeastRequest struct {
	hosts []*Host
	cum   []uint64
}

func (b *weightedLeastRequest) Pick(*Context) *Host {
	total := b.cum[len(b.cum)-1]
	for range rejectionTries {
		h := b.hosts[weightedIndex(b.cum, rand.Uint64N(total))]
		a := h.activeNonNeg()
		if a == 0 || rand.Uint64N(a+1) == 0 {
			return h
		}
	}
	return b.scan()
}

// scanBuffer is how many hosts scan snapshots on the stack (512 bytes).
const scanBuffer = 64

// scan picks by the dynamic weights: their total, then the host where a uniform point in
// [0, total) falls. For up to scanBuffer hosts the weights are read once into a stack buffer,
// so both passes see one snapshot. Larger clusters read the counters twice rather than
// allocate; they may move in between under concurrency, and a point that falls past the end
// of the second pass goes to the last host. That skew is bounded by how much the dynamic
// weights change within one scan, which is negligible.
func (b *weightedLeastRequest) scan() *Host {
	if len(b.hosts) <= scanBuffer {
		var buf [scanBuffer]float64
		ws := buf[:len(b.hosts)]
		var sum float64
		for i, h := range b.hosts {
			ws[i] = dynamicWeight(h)
			sum += ws[i]
		}
		r := rand.Float64() * sum
		for i, w := range ws {
			r -= w
			if r < 0 {
				return b.hosts[i]
			}
		}
		return b.hosts[len(b.hosts)-1] // r == sum after rounding
	}
	var sum float64
	for _, h := range b.hosts {
		sum += dynamicWeight(h)
	}
	r := rand.Float64() * sum
	for _, h := range b.hosts {
		r -= dynamicWeight(h)
		if r < 0 {
			return h
		}
	}
	return b.hosts[len(b.hosts)-1]
}

// dynamicWeight is Envoy's weight/(active+1)^bias with active_request_bias = 1.0.
func dynamicWeight(h *Host) float64 {
	return float64(h.weight()) / float64(h.activeNonNeg()+1)
}
