package stripe

import (
	"sync"
	"testing"
)

func TestIndexSpreads(t *testing.T) {
	seen := map[int]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			i := Index()
			if i < 0 || i >= N {
				t.Errorf("index %d out of [0, %d)", i, N)
			}
			mu.Lock()
			seen[i] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) < N/2 {
		t.Errorf("64 goroutines used %d of %d stripes", len(seen), N)
	}
}

func BenchmarkIndex(b *testing.B) {
	for b.Loop() {
		_ = Index()
	}
}
