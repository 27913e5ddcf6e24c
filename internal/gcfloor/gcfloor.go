// Package gcfloor keeps the garbage collector's heap goal from falling below a floor.
//
// With GOGC=100 the collector runs each time the heap doubles its live size. A proxy's live
// heap is small (a few MB: connection buffers, the config snapshot) while it allocates a few
// KB per request, so under load the collector runs tens of times a second, each cycle with
// its fixed costs (stack scans, write barriers on, assists, sweeping): 5-10% of the CPU on
// Pylon's request path. A floor on the heap goal spaces the cycles out while the live heap
// is small, for a bounded amount of memory (the goal, at most the floor), and changes
// nothing once the live heap is large enough that GOGC alone keeps the goal above it.
//
// After every cycle it sets the GC percent to the larger of base, the percent in force when
// it started (GOGC, 100 by default), and the percent whose heap goal is the floor for the
// heap the cycle found live. GOMEMLIMIT still applies on top. With GOGC=off it does nothing.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// maxPercent bounds the percent set for a tiny live heap (at start-up): the goal then
// stays below the floor rather than growing on a live size too small to mean anything.
const maxPercent = 5000

// Floor is a running heap-goal floor. Its methods are safe for concurrent use.
type Floor struct {
	min  uint64
	base int

	mu      sync.Mutex
	stopped bool
	percent int
	sample  [3]metrics.Sample
}

// Start keeps the heap goal at least min bytes until Stop. It returns nil (nothing to
// stop) when min is 0 or the collector is off.
func Start(min uint64) *Floor {
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	if min == 0 || base < 0 {
		return nil
	}
	f := &Floor{min: min, base: base, percent: base}
	f.sample[0].Name = "/gc/heap/live:bytes"
	f.sample[1].Name = "/gc/scan/stack:bytes"
	f.sample[2].Name = "/gc/scan/globals:bytes"
	f.tune()
	f.arm()
	return f
}

// sentinel is a heap object whose only use is to become garbage: its cleanup runs after
// the cycle that found it unreachable. The pointer keeps it out of the tiny allocator,
// whose blocks may outlive it.
type sentinel struct {
	_ *byte
	_ [8]byte
}

func (f *Floor) arm() {
	runtime.AddCleanup(new(sentinel), func(f *Floor) {
		if f.tune() {
			f.arm()
		}
	}, f)
}

// tune sets the percent for the live heap the last cycle measured. It reports false once
// the floor is stopped.
func (f *Floor) tune() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return false
	}
	metrics.Read(f.sample[:])
	live := f.sample[0].Value.Uint64()
	p := Percent(f.min, live, live+f.sample[1].Value.Uint64()+f.sample[2].Value.Uint64(), f.base)
	if p != f.percent {
		debug.SetGCPercent(p)
		f.percent = p
	}
	return true
}

// Percent is the GC percent that makes the heap goal at least min bytes for a heap of
// live bytes, never less than base. scan is what the percent applies to: the live heap
// plus the stacks and globals the collector scans (the goal is live + scan*percent/100).
func Percent(min, live, scan uint64, base int) int {
	if min <= live {
		return base
	}
	if scan == 0 || (min-live)/scan >= maxPercent/100 {
		return max(base, maxPercent)
	}
	return max(base, int((min-live)*100/scan))
}

// Stop puts the percent Start found back. Stop on nil does nothing.
func (f *Floor) Stop() {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.stopped {
		f.stopped = true
		debug.SetGCPercent(f.base)
	}
}
