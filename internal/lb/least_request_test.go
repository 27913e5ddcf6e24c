package lb

import (
	"fmt"
	"testing"
)

func setActive(h *Host, n int64) {
	for i := range h.active {
		h.active[i].n.Store(0)
	}
	h.active[0].n.Store(n)
}

func TestLeastRequestEqualWeights(t *testing.T) {
	for _, tc := range []struct {
		name   string
		active []int64
		want   []float64
		tol    float64
	}{
		// No load: P2C with ties to the first draw is uniform.
		{"idle", []int64{0, 0, 0, 0}, []float64{.25, .25, .25, .25}, 0.02},
		// Equal load spreads evenly too.
		{"equal", []int64{7, 7, 7, 7}, []float64{.25, .25, .25, .25}, 0.02},
		// A host with more outstanding requests than every other loses every pair it is in,
		// and with two distinct draws it cannot be both: it gets nothing.
		{"one busy", []int64{0, 0, 100, 0}, []float64{1. / 3, 1. / 3, 0, 1. / 3}, 0.02},
		// Ordered loads: host i wins a pair against every busier host. With n=4, the least
		// loaded is in 3 of the 6 pairs and wins all of them: 1/2, then 1/3, 1/6, 0.
		{"ordered", []int64{0, 1, 2, 3}, []float64{.5, 1. / 3, 1. / 6, 0}, 0.02},
		// Two hosts: the less loaded always wins.
		{"two", []int64{5, 4}, []float64{0, 1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hosts := mkHosts(equalWeightsN(len(tc.active))...)
			for i, a := range tc.active {
				setActive(hosts[i], a)
			}
			b := mustNew(t, LeastRequest, hosts, Options{})
			if _, ok := b.(*p2c); !ok {
				t.Fatalf("equal weights built %T, want *p2c", b)
			}
			checkShares(t, shares(t, b, hosts, 100_000/sampleDivisor, false), tc.want, tc.tol)
		})
	}
}

func TestLeastRequestWeighted(t *testing.T) {
	for _, tc := range []struct {
		weights []uint32
		active  []int64
	}{
		{[]uint32{1, 2, 3}, []int64{0, 0, 0}},
		{[]uint32{1, 2, 3}, []int64{0, 0, 5}},        // dynamic 1, 2, 0.5
		{[]uint32{1, 2, 3}, []int64{3, 3, 3}},        // equal load keeps the static ratio
		{[]uint32{10, 10, 1}, []int64{99, 0, 0}},     // the busy heavy host drops to 0.1
		{[]uint32{4, 1, 1, 1}, []int64{50, 1, 2, 3}}, // everything loaded: the exact scan
		{[]uint32{2, 1}, []int64{-3, 0}},             // negative counts read as idle
	} {
		t.Run(fmt.Sprintf("%v/%v", tc.weights, tc.active), func(t *testing.T) {
			hosts := mkHosts(tc.weights...)
			want := make([]float64, len(hosts))
			var sum float64
			for i, a := range tc.active {
				setActive(hosts[i], a)
				want[i] = float64(tc.weights[i]) / float64(max(a, 0)+1)
				sum += want[i]
			}
			for i := range want {
				want[i] /= sum
			}
			b := mustNew(t, LeastRequest, hosts, Options{})
			if _, ok := b.(*weightedLeastRequest); !ok {
				t.Fatalf("unequal weights built %T, want *weightedLeastRequest", b)
			}
			checkShares(t, shares(t, b, hosts, 100_000/sampleDivisor, false), want, 0.02)
		})
	}
}

// TestLeastRequestFollowsLoad drives the balancer with requests that stay outstanding.
func TestLeastRequestFollowsLoad(t *testing.T) {
	// Equal weights: P2C keeps the outstanding counts within a few requests of each other.
	hosts := mkHosts(1, 1, 1, 1, 1)
	b := mustNew(t, LeastRequest, hosts, Options{})
	for range 3000 {
		b.Pick(nil).Acquire()
	}
	var lo, hi int64 = 1 << 62, 0
	for _, h := range hosts {
		lo, hi = min(lo, h.Active()), max(hi, h.Active())
	}
	if hi-lo > 6 { // P2C keeps the gap O(log log n); 6 leaves room for rare draws
		t.Errorf("equal weights: outstanding counts spread from %d to %d", lo, hi)
	}

	// Unequal weights: picks follow w/(active+1), so outstanding counts grow until
	// active*(active+1) is about proportional to w: heavier hosts carry more, but (as with
	// Envoy's bias 1.0) about in proportion to sqrt(w), not to w.
	ws := []uint32{1, 4, 16}
	hosts = mkHosts(ws...)
	b = mustNew(t, LeastRequest, hosts, Options{})
	for range 30000 {
		b.Pick(nil).Acquire()
	}
	for i, h := range hosts {
		a := float64(h.Active())
		ratio := a * (a + 1) / float64(ws[i])
		base := float64(hosts[0].Active()) * float64(hosts[0].Active()+1)
		if d := ratio / base; d < 0.7 || d > 1.4 {
			t.Errorf("weight %d: active %d, active*(active+1)/w is %.2f of the weight-1 host's", ws[i], h.Active(), d)
		}
	}
}

// TestLeastRequestWeightedLarge covers the scan over more hosts than fit its stack buffer.
func TestLeastRequestWeightedLarge(t *testing.T) {
	const n = scanBuffer + 16
	ws := make([]uint32, n)
	for i := range ws {
		ws[i] = uint32(i%3 + 1)
	}
	hosts := mkHosts(ws...)
	want := make([]float64, n)
	var sum float64
	for i, h := range hosts {
		a := int64(i % 4 * 5) // everything but a quarter loaded: the scan runs often
		setActive(h, a)
		want[i] = float64(ws[i]) / float64(a+1)
		sum += want[i]
	}
	for i := range want {
		want[i] /= sum
	}
	b := mustNew(t, LeastRequest, hosts, Options{})
	checkShares(t, shares(t, b, hosts, 200_000, false), want, 0.003)
}
