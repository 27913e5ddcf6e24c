package lb

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func buildRing(t testing.TB, hosts []*Host, opts Options) *ringHash {
	t.Helper()
	b, err := newRingHash(hosts, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b.(*ringHash)
}

func pointsPerHost(r *ringHash) map[*Host]int {
	m := map[*Host]int{}
	for _, o := range r.owners {
		m[r.hosts[o]]++
	}
	return m
}

func TestRingHashSize(t *testing.T) {
	for _, tc := range []struct {
		weights []uint32
		opts    Options
		size    int   // exact ring size
		perHost []int // points per host, in weight order
	}{
		// Envoy: scale = ceil(min_nw*min)/min_nw. 1/3 of 1024 rounds up to 342 points each.
		{[]uint32{1, 1, 1}, Options{}, 1026, []int{342, 342, 342}},
		// Lightest host 1/6: ceil(170.67) = 171, so scale 1026 and points 171, 342, 513.
		{[]uint32{1, 2, 3}, Options{}, 1026, []int{171, 342, 513}},
		{[]uint32{1, 1, 1, 1}, Options{}, 1024, []int{256, 256, 256, 256}},
		{[]uint32{1, 1, 1}, Options{MinRingSize: 10000}, 10002, []int{3334, 3334, 3334}},
		// The cap wins: 3 * ceil(40/3) = 42 > 40, so exactly 40 points, shares carried over.
		{[]uint32{1, 1, 1}, Options{MinRingSize: 40, MaxRingSize: 40}, 40, []int{14, 13, 13}},
		// A tiny host forces a big scale, which the maximum caps; the tiny host may then
		// get no point at all (Envoy's behaviour too: the ring cannot represent it).
		{[]uint32{1, 100000}, Options{MaxRingSize: 5000}, 5000, []int{1, 4999}},
		{[]uint32{1, 1000000}, Options{MinRingSize: 100, MaxRingSize: 1000}, 1000, []int{1, 999}},
		// An unset minimum follows a maximum below 1024.
		{[]uint32{1, 1}, Options{MaxRingSize: 512}, 512, []int{256, 256}},
	} {
		t.Run(fmt.Sprintf("%v/%+v", tc.weights, tc.opts), func(t *testing.T) {
			hosts := mkHosts(tc.weights...)
			r := buildRing(t, hosts, tc.opts)
			if len(r.hashes) != tc.size || len(r.owners) != tc.size {
				t.Errorf("ring size %d, want %d", len(r.hashes), tc.size)
			}
			lo, hi, _ := ringBounds(tc.opts)
			if n := uint64(len(r.hashes)); n < lo || n > hi {
				t.Errorf("ring size %d outside [%d, %d]", n, lo, hi)
			}
			pp := pointsPerHost(r)
			for i, h := range hosts {
				if pp[h] != tc.perHost[i] {
					t.Errorf("host %d (weight %d): %d points, want %d", i, tc.weights[i], pp[h], tc.perHost[i])
				}
			}
			if !slices.IsSorted(r.hashes) {
				t.Error("ring hashes not sorted")
			}
		})
	}
}

// TestRingHashEnvoyKeys: the points are xxhash64("<address>_<n>"), Envoy's keys, so a ring
// agrees with Envoy's for the same endpoints.
func TestRingHashEnvoyKeys(t *testing.T) {
	hosts := mkHosts(1, 1)
	r := buildRing(t, hosts, Options{})
	want := map[uint64]*Host{}
	for _, h := range hosts {
		for n := range 512 {
			want[xxhash.Sum64String(h.Address+"_"+strconv.Itoa(n))] = h
		}
	}
	for i, hash := range r.hashes {
		if want[hash] != r.hosts[r.owners[i]] {
			t.Fatalf("point %d (%x) is not one of Envoy's keys for its host", i, hash)
		}
	}
}

func TestRingHashLookup(t *testing.T) {
	hosts := mkHosts(1, 1, 1)
	r := buildRing(t, hosts, Options{MinRingSize: 8, MaxRingSize: 8})
	for i, hash := range r.hashes {
		owner := r.hosts[r.owners[i]]
		// A hash equal to a point, or just below it, goes to that point's host.
		if got := r.Pick(&Context{Hash: hash, HasHash: true}); got != owner {
			t.Errorf("hash at point %d -> %v, want %v", i, got, owner)
		}
		if got := r.Pick(&Context{Hash: hash - 1, HasHash: true}); i > 0 && hash-1 > r.hashes[i-1] && got != owner {
			t.Errorf("hash below point %d -> %v, want %v", i, got, owner)
		}
	}
	// Past the last point wraps to the first; 0 goes to the first point as well.
	first := r.hosts[r.owners[0]]
	last := r.hashes[len(r.hashes)-1]
	for _, h := range []uint64{last + 1, ^uint64(0), 0} {
		if h <= last && h != 0 {
			continue
		}
		if got := r.Pick(&Context{Hash: h, HasHash: true}); got != first {
			t.Errorf("hash %x -> %v, want the first point's host %v", h, got, first)
		}
	}
}

// consistency measures, over sampled keys, the fraction whose host changes between two
// balancers, and checks the same key gives the same host every time.
func movedFraction(t *testing.T, before, after Balancer, samples int) float64 {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	moved := 0
	for range samples {
		c := &Context{Hash: rng.Uint64(), HasHash: true}
		a, b := before.Pick(c), after.Pick(c)
		if before.Pick(c) != a || after.Pick(c) != b {
			t.Fatal("the same hash picked different hosts")
		}
		if a.Address != b.Address {
			moved++
		}
	}
	return float64(moved) / float64(samples)
}

// TestHashConsistency: ring_hash and maglev send a key to the same host every time, in any
// host order, and when one of N hosts leaves, few keys move.
func TestHashConsistency(t *testing.T) {
	for _, policy := range []string{RingHash, Maglev} {
		for _, tc := range []struct {
			n    int
			opts Options
		}{
			{5, Options{MinRingSize: 1 << 16}},
			{10, Options{MinRingSize: 1 << 16}},
			{50, Options{}},
		} {
			t.Run(fmt.Sprintf("%s/n=%d", policy, tc.n), func(t *testing.T) {
				hosts := mkHosts(equalWeightsN(tc.n)...)
				before := mustNew(t, policy, hosts, tc.opts)

				// Order independence: a shuffled host list builds the same mapping.
				shuffled := slices.Clone(hosts)
				rand.New(rand.NewPCG(3, 4)).Shuffle(len(shuffled), func(i, j int) {
					shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
				})
				if f := movedFraction(t, before, mustNew(t, policy, shuffled, tc.opts), 20_000); f != 0 {
					t.Errorf("reordering the hosts moved %.4f of the keys", f)
				}

				// Rebuilt from fresh Host values with the same addresses: same mapping.
				if f := movedFraction(t, before, mustNew(t, policy, mkHosts(equalWeightsN(tc.n)...), tc.opts), 20_000); f != 0 {
					t.Errorf("rebuilding moved %.4f of the keys", f)
				}

				// Removing one host: its 1/N of the keys must move; ring_hash's survivors
				// also gain points (the ring keeps its size), maglev's refill the freed
				// entries with a little churn. Both stay under 2/N.
				removed := hosts[tc.n/2]
				after := mustNew(t, policy, slices.Delete(slices.Clone(hosts), tc.n/2, tc.n/2+1), tc.opts)
				f := movedFraction(t, before, after, 100_000/sampleDivisor)
				t.Logf("removing 1 of %d moved %.4f of the keys (1/N = %.4f)", tc.n, f, 1/float64(tc.n))
				if f >= 2/float64(tc.n) {
					t.Errorf("removing 1 of %d hosts moved %.4f of the keys, want < 2/N = %.4f", tc.n, f, 2/float64(tc.n))
				}
				if f < 0.5/float64(tc.n) {
					t.Errorf("removing 1 of %d hosts moved only %.4f of the keys: its own share must move", tc.n, f)
				}
				for range 1000 {
					if after.Pick(&Context{Hash: rand.Uint64(), HasHash: true}) == removed {
						t.Fatal("the removed host is still picked")
					}
				}
			})
		}
	}
}

func TestHashNoHashStillPicks(t *testing.T) {
	for _, policy := range []string{RingHash, Maglev} {
		hosts := mkHosts(1, 1, 1)
		b := mustNew(t, policy, hosts, Options{})
		seen := map[*Host]bool{}
		for range 1000 {
			h := b.Pick(&Context{Hash: 12345}) // HasHash false: Hash is ignored
			if h == nil {
				t.Fatalf("%s: no-hash Pick returned nil", policy)
			}
			seen[h] = true
		}
		if len(seen) != len(hosts) {
			t.Errorf("%s: no-hash picks reached %d of %d hosts; they should be random", policy, len(seen), len(hosts))
		}
	}
}
