package lb

import (
	"sync"
	"testing"
)

// TestHostActiveStriped: Acquire/Release and the striped pair, from many goroutines, add up
// in Active, with and without SpreadActive.
func TestHostActiveStriped(t *testing.T) {
	for _, spread := range []bool{false, true} {
		h := NewHost("10.0.0.1:80", "", 1)
		h.SpreadActive = spread
		var wg sync.WaitGroup
		for g := range 32 {
			wg.Go(func() {
				for range 1000 {
					if g%2 == 0 {
						h.ReleaseStriped(h.AcquireStriped())
					} else {
						h.Acquire()
						h.Release()
					}
				}
				h.AcquireStriped() // one left outstanding per goroutine
			})
		}
		wg.Wait()
		if n := h.Active(); n != 32 {
			t.Fatalf("spread %v: Active = %d, want 32", spread, n)
		}
		if n := h.activeNonNeg(); n != 32 {
			t.Fatalf("spread %v: activeNonNeg = %d, want 32", spread, n)
		}
	}
}
