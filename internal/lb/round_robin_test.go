package lb

import (
	"fmt"
	"slices"
	"testing"
)

func TestRoundRobinEqualRotates(t *testing.T) {
	hosts := mkHosts(2, 2, 2, 2, 2)
	b := mustNew(t, RoundRobin, hosts, Options{})
	if _, ok := b.(*rotation); !ok {
		t.Fatalf("equal weights built %T, want *rotation", b)
	}
	// Any window of len(hosts) consecutive picks visits every host once, in a fixed cycle.
	first := b.Pick(nil)
	seen := map[*Host]bool{first: true}
	for range len(hosts) - 1 {
		h := b.Pick(nil)
		if seen[h] {
			t.Fatalf("%v picked twice within one rotation", h)
		}
		seen[h] = true
	}
	if h := b.Pick(nil); h != first {
		t.Fatalf("rotation did not come back to %v, got %v", first, h)
	}
}

func TestRoundRobinRandomStart(t *testing.T) {
	// Rebuilds start at a random point: over many rebuilds the first pick is not always the
	// same host.
	hosts := mkHosts(1, 1, 1, 1)
	firsts := map[*Host]bool{}
	for range 200 {
		firsts[mustNew(t, RoundRobin, hosts, Options{}).Pick(nil)] = true
	}
	if len(firsts) < 2 {
		t.Fatalf("200 rebuilds all started at the same host")
	}
}

func TestEDFSchedule(t *testing.T) {
	names := func(hosts []*Host, sched []uint32) string {
		var s []byte
		for _, i := range sched {
			s = append(s, "ABCDEFGH"[i])
		}
		return string(s)
	}
	for _, tc := range []struct {
		weights []uint32
		want    string
	}{
		// Deadlines: A 1; B 1/2, 1; C 1/3, 2/3, 1. Ties at 1 go in host order.
		{[]uint32{1, 2, 3}, "CBCABC"},
		{[]uint32{3, 2, 1}, "ABAABC"},
		{[]uint32{2, 4, 6}, "CBCABC"}, // reduced by the GCD 2
		{[]uint32{1, 1}, "AB"},
		{[]uint32{5, 1}, "AAAAAB"},
		{[]uint32{4, 3}, "ABABAAB"},
	} {
		hosts := mkHosts(tc.weights...)
		if got := names(hosts, edfSchedule(hosts, maxSchedule)); got != tc.want {
			t.Errorf("weights %v: schedule %s, want %s", tc.weights, got, tc.want)
		}
	}
	if s := edfSchedule(mkHosts(1<<15, 1<<15+1), maxSchedule); s != nil {
		t.Errorf("a period of %d entries should exceed the limit, got a schedule", 1<<16+1)
	}
}

// TestRoundRobinWeightedExactPeriod: over one period, each host is picked exactly its reduced
// weight times, whichever point the balancer started at.
func TestRoundRobinWeightedExactPeriod(t *testing.T) {
	ws := []uint32{6, 2, 4, 10}
	hosts := mkHosts(ws...)
	b := mustNew(t, RoundRobin, hosts, Options{})
	if _, ok := b.(*scheduleRR); !ok {
		t.Fatalf("small unequal weights built %T, want *scheduleRR", b)
	}
	for period := range 3 {
		counts := map[*Host]uint32{}
		for range 11 { // (6+2+4+10)/2
			counts[b.Pick(nil)]++
		}
		for i, h := range hosts {
			if counts[h] != ws[i]/2 {
				t.Errorf("period %d: %v picked %d times, want %d", period, h, counts[h], ws[i]/2)
			}
		}
	}
}

// TestRoundRobinSmooth: the EDF order interleaves, it does not send a host's whole share in a
// burst. With weights 1 and 9, host A never gets two picks in a row.
func TestRoundRobinSmooth(t *testing.T) {
	hosts := mkHosts(9, 1)
	b := mustNew(t, RoundRobin, hosts, Options{})
	prev := b.Pick(nil)
	for range 1000 {
		h := b.Pick(nil)
		if h == hosts[1] && prev == hosts[1] {
			t.Fatal("weight-1 host picked twice in a row")
		}
		prev = h
	}
}

func TestRoundRobinLiveEDF(t *testing.T) {
	for _, ws := range [][]uint32{
		{1000003, 999983, 1},
		{70001, 3, 5},
		{1 << 31, 1<<31 - 1, 7, 1},
	} {
		t.Run(fmt.Sprint(ws), func(t *testing.T) {
			hosts := mkHosts(ws...)
			b := mustNew(t, RoundRobin, hosts, Options{})
			e, ok := b.(*liveEDF)
			if !ok {
				t.Fatalf("weights %v built %T, want *liveEDF", ws, b)
			}
			// Every host, however light, is picked once per period (sum of weights / GCD),
			// and the heavy hosts share the rest by weight.
			want := wantShares(ws)
			got := shares(t, b, hosts, 200_000, false)
			checkShares(t, got, want, 0.01)
			// The deadlines stay rebased into [0, 2] however long it runs.
			for _, en := range e.heap {
				if en.deadline < 0 || en.deadline > 2 {
					t.Fatalf("deadline %v drifted out of [0, 2]", en.deadline)
				}
			}
		})
	}
}

// TestLiveEDFMatchesSchedule: the live scheduler and the precomputed period agree on the
// number of picks per host over whole periods (the live one starts at a random point).
func TestLiveEDFMatchesSchedule(t *testing.T) {
	for _, ws := range [][]uint32{{1, 2, 3}, {7, 5, 3, 1}, {10, 1}} {
		hosts := mkHosts(ws...)
		sched := edfSchedule(hosts, maxSchedule)
		live := newLiveEDF(hosts)
		got := make([]uint32, len(hosts))
		for range 5 * len(sched) {
			got[live.advance()]++
		}
		want := make([]uint32, len(hosts))
		for _, i := range sched {
			want[i] += 5
		}
		if !slices.Equal(got, want) {
			t.Errorf("weights %v: live EDF counts %v over 5 periods, schedule %v", ws, got, want)
		}
	}
}
