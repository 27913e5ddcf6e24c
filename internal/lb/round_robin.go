package lb

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
)

// maxSchedule bounds the precomputed weighted round-robin schedule: one period of picks, 4
// bytes each, so at most 256 KiB per balancer. Weights whose period (sum of weights divided by
// their GCD) is longer run the live EDF scheduler instead.
const maxSchedule = 1 << 16

// newRoundRobin returns the round_robin balancer for two or more hosts.
//
// Envoy rotates through the hosts when their weights are equal and otherwise runs an
// earliest-deadline-first scheduler in which a host of weight w is next due 1/w after its last
// pick. The EDF order is periodic: after sum(w/g) picks (g the GCD of the weights) every host
// has been picked exactly w/g times and the deadlines line up again. So when that period is
// short we compute it once and walk it with an atomic cursor, which costs the same as plain
// rotation; only when it is long do we run EDF live behind a mutex.
//
// Every balancer starts at a random point of its rotation, as Envoy does, so that a rebuild
// (which happens on every health flap) does not send the next request to the first host each
// time, and so that many proxies with the same configuration do not move in lockstep.
func newRoundRobin(hosts []*Host) Balancer {
	if equalWeights(hosts) {
		b := &rotation{hosts: hosts}
		b.next.Store(rand.Uint64N(uint64(len(hosts))))
		return b
	}
	if sched := edfSchedule(hosts, maxSchedule); sched != nil {
		b := &scheduleRR{hosts: hosts, schedule: sched}
		b.next.Store(rand.Uint64N(uint64(len(sched))))
		return b
	}
	return newLiveEDF(hosts)
}

// rotation is unweighted round robin: the next host in turn, by an atomic counter.
type rotation struct {
	hosts []*Host
	next  atomic.Uint64
}

func (b *rotation) Pick(*Context) *Host {
	i := b.next.Add(1)
	return b.hosts[i%uint64(len(b.hosts))]
}

// scheduleRR is weighted round robin over a precomputed EDF period.
type scheduleRR struct {
	hosts    []*Host
	schedule []uint32 // host indexes, one period of the EDF order
	next     atomic.Uint64
}

func (b *scheduleRR) Pick(*Context) *Host {
	i := b.next.Add(1)
	return b.hosts[b.schedule[i%uint64(len(b.schedule))]]
}

// edfSchedule returns one period of the EDF pick order over hosts, or nil if the period is
// longer than limit.
//
// With the weights reduced by their GCD to w_i, host i's k-th pick has deadline k/w_i
// (k = 1..w_i), and EDF picks in order of deadline. Sorting all the (k, i) pairs by k/w_i,
// compared exactly as k*w_j against k'*w_i, gives the period without floating-point error;
// equal deadlines go to the lower host index, as Envoy's scheduler breaks ties by insertion
// order. For weights 1, 2, 3 the period is C B C A B C.
func edfSchedule(hosts []*Host, limit int) []uint32 {
	var g uint64
	for _, h := range hosts {
		g = gcd(g, h.weight())
	}
	var total uint64
	for _, h := range hosts {
		total += h.weight() / g
		if total > uint64(limit) {
			return nil
		}
	}
	type slot struct {
		k, w uint64 // deadline k/w; both <= limit, so k*w' cannot overflow
		idx  uint32
	}
	slots := make([]slot, 0, total)
	for i, h := range hosts {
		w := h.weight() / g
		for k := uint64(1); k <= w; k++ {
			slots = append(slots, slot{k: k, w: w, idx: uint32(i)})
		}
	}
	slices.SortFunc(slots, func(a, b slot) int {
		if c := cmp.Compare(a.k*b.w, b.k*a.w); c != 0 {
			return c
		}
		return cmp.Compare(a.idx, b.idx)
	})
	sched := make([]uint32, len(slots))
	for i, s := range slots {
		sched[i] = s.idx
	}
	return sched
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// liveEDF is Envoy's EdfScheduler: a min-heap of hosts by next deadline. It serves weights
// whose EDF period is too long to precompute, e.g. large co-prime weights.
type liveEDF struct {
	hosts []*Host
	mu    sync.Mutex
	heap  []edfEntry // guarded by mu
	order uint64     // guarded by mu; insertion counter breaking deadline ties, as Envoy's
}

type edfEntry struct {
	deadline float64
	step     float64 // 1/weight
	order    uint64
	idx      uint32
}

func newLiveEDF(hosts []*Host) *liveEDF {
	b := &liveEDF{hosts: hosts, heap: make([]edfEntry, len(hosts))}
	for i, h := range hosts {
		step := 1 / float64(h.weight())
		b.heap[i] = edfEntry{deadline: step, step: step, order: uint64(i), idx: uint32(i)}
	}
	b.order = uint64(len(hosts))
	for i := len(b.heap)/2 - 1; i >= 0; i-- {
		b.down(i)
	}
	// Start at a random point of the order, as the precomputed schedules do: Envoy, too,
	// advances a fresh scheduler by a random number of picks.
	for n := rand.IntN(len(hosts)); n > 0; n-- {
		b.advance()
	}
	return b
}

func (b *liveEDF) Pick(*Context) *Host {
	b.mu.Lock()
	h := b.hosts[b.advance()]
	b.mu.Unlock()
	return h
}

// advance pops the host with the earliest deadline and pushes it back one step later; it
// returns the popped host's index. b.mu must be held (or b not yet shared).
func (b *liveEDF) advance() uint32 {
	top := &b.heap[0]
	idx := top.idx
	top.deadline += top.step
	top.order = b.order
	b.order++
	b.down(0)
	// Deadlines only grow, and a float64 far from 0 cannot represent a step of 1/2^32. Once
	// every deadline is past 1, subtract 1 from all of them: x-1 is exact for x >= 1 and
	// preserves the order, so the schedule is unchanged while precision stays that of [0, 2].
	if b.heap[0].deadline >= 1 {
		for i := range b.heap {
			b.heap[i].deadline--
		}
	}
	return idx
}

func (b *liveEDF) less(i, j int) bool {
	x, y := &b.heap[i], &b.heap[j]
	if x.deadline != y.deadline {
		return x.deadline < y.deadline
	}
	return x.order < y.order
}

// down restores the heap property below i. It is hand-written rather than container/heap,
// whose interface methods would box every entry and allocate on each pick.
func (b *liveEDF) down(i int) {
	n := len(b.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && b.less(r, l) {
			m = r
		}
		if !b.less(m, i) {
			return
		}
		b.heap[i], b.heap[m] = b.heap[m], b.heap[i]
		i = m
	}
}
