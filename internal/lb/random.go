package lb

import "math/rand/v2"

// The random policy and the weighted sampling that least_request shares with it.
//
// Randomness comes from math/rand/v2's top-level functions: they draw from a per-thread
// ChaCha8 state in the runtime, so they are goroutine-safe without a lock, allocate nothing
// and cost a few nanoseconds. Load balancing needs no reproducibility across processes.

// newRandom returns the random balancer for two or more hosts: uniform when the weights are
// equal, otherwise in proportion to weight. (Envoy's random policy ignores weights; Pylon
// honours them, so that weights mean the same thing under every policy.)
func newRandom(hosts []*Host) Balancer {
	if equalWeights(hosts) {
		return &uniformRandom{hosts: hosts}
	}
	return &weightedRandom{hosts: hosts, cum: prefixSums(hosts)}
}

type uniformRandom struct{ hosts []*Host }

func (b *uniformRandom) Pick(*Context) *Host {
	return b.hosts[rand.IntN(len(b.hosts))]
}

type weightedRandom struct {
	hosts []*Host
	cum   []uint64 // cum[i] = sum of the weights of hosts[0..i]
}

func (b *weightedRandom) Pick(*Context) *Host {
	return b.hosts[weightedIndex(b.cum, rand.Uint64N(b.cum[len(b.cum)-1]))]
}

// prefixSums returns the running sums of the hosts' weights. With at most 2^32 hosts of
// weight < 2^32 the total fits in a uint64.
func prefixSums(hosts []*Host) []uint64 {
	cum := make([]uint64, len(hosts))
	var sum uint64
	for i, h := range hosts {
		sum += h.weight()
		cum[i] = sum
	}
	return cum
}

// weightedIndex returns the index i of the first prefix sum greater than r, for r drawn
// uniformly from [0, total): host i owns the r in [cum[i-1], cum[i]), a span of its weight.
// It is a hand-rolled binary search (sort.Search takes a closure, which the compiler does not
// always inline into this hot path).
func weightedIndex(cum []uint64, r uint64) int {
	lo, hi := 0, len(cum)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if cum[mid] > r {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}
