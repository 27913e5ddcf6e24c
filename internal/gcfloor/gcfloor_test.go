package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name            string
		min, live, scan uint64
		base, want      int
	}{
		{"small live heap: goal raised to the floor", 24 * mib, 4 * mib, 4 * mib, 100, 500},
		{"stacks and globals count", 24 * mib, 4 * mib, 5 * mib, 100, 400},
		{"live heap at half the floor: GOGC's own goal", 24 * mib, 12 * mib, 12 * mib, 100, 100},
		{"live heap above the floor", 24 * mib, 100 * mib, 100 * mib, 100, 100},
		{"a higher GOGC is kept", 24 * mib, 8 * mib, 8 * mib, 400, 400},
		{"a lower GOGC is raised", 24 * mib, 8 * mib, 8 * mib, 50, 200},
		{"tiny live heap: capped", 24 * mib, 64 << 10, 64 << 10, 100, maxPercent},
		{"nothing live yet: capped", 24 * mib, 0, 0, 100, maxPercent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percent(tc.min, tc.live, tc.scan, tc.base); got != tc.want {
				t.Fatalf("Percent(%d, %d, %d, %d) = %d, want %d", tc.min, tc.live, tc.scan, tc.base, got, tc.want)
			}
		})
	}
}

func readGC() (percent, goal, live uint64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/heap/goal:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64()
}

// waitPercent runs collections until the percent satisfies ok (the floor tunes from a
// cleanup, after the cycle).
func waitPercent(t *testing.T, ok func(uint64) bool) uint64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		p, goal, live := readGC()
		if ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5s of collections: GC percent %d, heap goal %d bytes, %d live", p, goal, live)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFloorFollowsTheLiveHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	const floor = 64 << 20
	// 8 MiB live, so that the percent the floor needs (about 700) is below the cap.
	base := liveMiB(8)
	f := Start(floor)
	if f == nil {
		t.Fatal("Start returned nil with the collector on")
	}
	defer f.Stop()

	// The percent follows the live heap of the cycle before: a few cycles settle it.
	waitPercent(t, func(p uint64) bool {
		_, goal, _ := readGC()
		return p > 100 && goal > floor*9/10 && goal < floor*11/10
	})

	// A live heap above the floor: back to GOGC's own 100.
	more := liveMiB(72)
	waitPercent(t, func(p uint64) bool { return p == 100 })
	runtime.KeepAlive(more)
	more = nil

	// Small again: raised again.
	waitPercent(t, func(p uint64) bool { return p > 100 })
	runtime.KeepAlive(base)

	f.Stop()
	if p, _, _ := readGC(); p != 100 {
		t.Fatalf("after Stop the percent is %d, want the 100 it started with", p)
	}
	// Stopped: later cycles leave the percent alone.
	for range 3 {
		runtime.GC()
	}
	time.Sleep(10 * time.Millisecond)
	if p, _, _ := readGC(); p != 100 {
		t.Fatalf("a stopped floor set the percent to %d", p)
	}
}

// liveMiB allocates n MiB the caller keeps live.
func liveMiB(n int) [][]byte {
	keep := make([][]byte, n)
	for i := range keep {
		keep[i] = make([]byte, 1<<20)
	}
	return keep
}

func TestStartDoesNothingWhenOffOrZero(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	if f := Start(0); f != nil {
		t.Fatal("Start(0) returned a floor")
	}
	debug.SetGCPercent(-1)
	if f := Start(64 << 20); f != nil {
		t.Fatal("Start with GOGC=off returned a floor")
	}
	if p := debug.SetGCPercent(100); p != -1 {
		t.Fatalf("Start with GOGC=off changed the percent to %d", p)
	}
	var f *Floor
	f.Stop() // nil: no-op
}
