package lb

import (
	"fmt"
	"net/http/httptest"
	"testing"
)

// benchHostSets are the host sets every policy is benchmarked over.
func benchHostSets() []struct {
	name    string
	weights []uint32
} {
	unequal := func(n int) []uint32 {
		ws := make([]uint32, n)
		for i := range ws {
			ws[i] = uint32(i%7 + 1)
		}
		return ws
	}
	return []struct {
		name    string
		weights []uint32
	}{
		{"3equal", equalWeightsN(3)},
		{"3unequal", []uint32{1, 2, 3}},
		{"100equal", equalWeightsN(100)},
		{"100unequal", unequal(100)},
	}
}

func BenchmarkPick(b *testing.B) {
	for _, policy := range allPolicies {
		for _, set := range benchHostSets() {
			b.Run(policy+"/"+set.name, func(b *testing.B) {
				bal := mustNew(b, policy, mkHosts(set.weights...), Options{})
				c := &Context{HasHash: true}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					c.Hash = uint64(i) * 0x9e3779b97f4a7c15
					if bal.Pick(c) == nil {
						b.Fatal("nil pick")
					}
				}
			})
		}
	}
}

// BenchmarkPickParallel measures contention: the round-robin cursor is one shared atomic.
func BenchmarkPickParallel(b *testing.B) {
	for _, policy := range allPolicies {
		for _, set := range benchHostSets()[:2] {
			b.Run(policy+"/"+set.name, func(b *testing.B) {
				bal := mustNew(b, policy, mkHosts(set.weights...), Options{})
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					c := &Context{HasHash: true}
					for i := uint64(0); pb.Next(); i++ {
						c.Hash = i * 0x9e3779b97f4a7c15
						bal.Pick(c)
					}
				})
			})
		}
	}
}

// BenchmarkPickLiveEDF is round_robin with weights whose period is too long to precompute.
func BenchmarkPickLiveEDF(b *testing.B) {
	bal := mustNew(b, RoundRobin, mkHosts(1000003, 999983, 1), Options{})
	b.ReportAllocs()
	for b.Loop() {
		bal.Pick(nil)
	}
}

// BenchmarkPickLeastRequestLoaded is weighted least_request with requests outstanding, where
// rejection sampling mostly fails and the exact scan runs.
func BenchmarkPickLeastRequestLoaded(b *testing.B) {
	for _, n := range []int{3, 100} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			hosts := mkHosts(benchHostSets()[3].weights[:n]...)
			for i, h := range hosts {
				setActive(h, int64(10+i%5))
			}
			bal := mustNew(b, LeastRequest, hosts, Options{})
			b.ReportAllocs()
			for b.Loop() {
				bal.Pick(nil)
			}
		})
	}
}

// BenchmarkBuild is the cost of a rebuild, paid on every membership or health change.
func BenchmarkBuild(b *testing.B) {
	for _, policy := range allPolicies {
		for _, set := range benchHostSets() {
			b.Run(policy+"/"+set.name, func(b *testing.B) {
				hosts := mkHosts(set.weights...)
				b.ReportAllocs()
				for b.Loop() {
					mustNew(b, policy, hosts, Options{})
				}
			})
		}
	}
}

func BenchmarkHashPolicy(b *testing.B) {
	r := httptest.NewRequest("GET", "/v1/chat/completions", nil)
	r.Header.Set("X-User", "user-1234567890")
	r.Header.Set("Cookie", "theme=dark; session=0123456789abcdef; lang=en")
	for _, tc := range []struct {
		name string
		src  []HashSource
	}{
		{"header", []HashSource{{Header: "x-user"}}},
		{"cookie", []HashSource{{Cookie: "session"}}},
		{"source_ip", []HashSource{{SourceIP: true}}},
		{"fallthrough", []HashSource{{Header: "x-missing"}, {Cookie: "missing"}, {SourceIP: true}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := NewHashPolicy(tc.src)
			b.ReportAllocs()
			for b.Loop() {
				p.Hash(r, "192.0.2.77")
			}
		})
	}
}
