package lb

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func entriesPerHost(m *maglev) map[*Host]int {
	counts := map[*Host]int{}
	for _, i := range m.table {
		counts[m.hosts[i]]++
	}
	return counts
}

// TestMaglevTableShares: every entry is filled and each host holds its weight's share of the
// table to within a fraction of a percent (the table, not sampling, decides the shares).
func TestMaglevTableShares(t *testing.T) {
	for _, ws := range [][]uint32{
		{1, 1, 1},
		{1, 2, 3},
		{10, 1, 7, 3, 100, 42},
		{1, 1000},
		equalWeightsN(1000),
	} {
		name := fmt.Sprint(ws)
		if len(name) > 40 {
			name = fmt.Sprintf("%d hosts", len(ws))
		}
		t.Run(name, func(t *testing.T) {
			hosts := mkHosts(ws...)
			m := newMaglev(hosts)
			if len(m.table) != MaglevTableSize {
				t.Fatalf("table size %d, want %d", len(m.table), MaglevTableSize)
			}
			for i, e := range m.table {
				if int(e) >= len(m.hosts) {
					t.Fatalf("entry %d unfilled or out of range: %d", i, e)
				}
			}
			counts := entriesPerHost(m)
			want := wantShares(ws)
			for i, h := range hosts {
				got := float64(counts[h]) / MaglevTableSize
				// Rounds give whole entries: allow a percent of the share, plus an entry.
				if math.Abs(got-want[i]) > 0.01*want[i]+1.0/MaglevTableSize*2 {
					t.Errorf("host %d (weight %d): %.5f of the table, want %.5f", i, ws[i], got, want[i])
				}
			}
		})
	}
}

// TestMaglevEnvoyPermutation: the first host to claim takes the entry at its offset,
// xxhash64(address, seed 0) % 65537, as in Envoy.
func TestMaglevEnvoyPermutation(t *testing.T) {
	hosts := mkHosts(1, 1)
	m := newMaglev(hosts)
	first := m.hosts[0] // hosts take turns in address order
	off := xxhash.Sum64String(first.Address) % MaglevTableSize
	if got := m.hosts[m.table[off]]; got != first {
		t.Errorf("entry at the first host's offset %d belongs to %v, want %v", off, got, first)
	}
}

// TestMaglevRemovalChurn counts table entries, not sampled keys: removing one of N hosts
// must reassign that host's entries and only a small fraction of the others.
func TestMaglevRemovalChurn(t *testing.T) {
	for _, n := range []int{3, 10, 100} {
		hosts := mkHosts(equalWeightsN(n)...)
		before := newMaglev(hosts)
		after := newMaglev(slices.Delete(slices.Clone(hosts), n/3, n/3+1))
		changed := 0
		for i := range before.table {
			if before.hosts[before.table[i]] != after.hosts[after.table[i]] {
				changed++
			}
		}
		f := float64(changed) / MaglevTableSize
		t.Logf("n=%d: removing one host changed %.4f of the table (1/N = %.4f)", n, f, 1/float64(n))
		if f >= 2/float64(n) {
			t.Errorf("n=%d: removing one host changed %.4f of the table, want < %.4f", n, f, 2/float64(n))
		}
	}
}
