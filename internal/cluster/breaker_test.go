package cluster

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/stats"
)

func newTestBreaker(t *testing.T, cb config.CircuitBreakers, h1 bool) *Breaker {
	t.Helper()
	return NewBreaker(&cb, h1, stats.New().Cluster(t.Name()))
}

func TestBreakerThresholds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cb      config.CircuitBreakers
		h1      bool
		admit   int // requests that hold a slot without waiting
		pending int // then requests that wait
	}{
		{"max_requests", config.CircuitBreakers{MaxRequests: 2, MaxConnections: 10}, true, 2, 0},
		{"max_connections then pending", config.CircuitBreakers{MaxConnections: 1, MaxPendingRequests: 1}, true, 1, 1},
		{"http2 ignores max_connections", config.CircuitBreakers{MaxConnections: 1, MaxRequests: 3}, false, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestBreaker(t, tc.cb, tc.h1)
			ctx := context.Background()
			for i := range tc.admit {
				if err := b.Acquire(ctx, time.Time{}); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			var wg sync.WaitGroup
			errs := make(chan error, tc.pending)
			for range tc.pending {
				wg.Add(1)
				go func() { defer wg.Done(); errs <- b.Acquire(ctx, time.Now().Add(2*time.Second)) }()
			}
			deadline := time.Now().Add(2 * time.Second)
			for _, _, p, _ := b.Counts(); p < int64(tc.pending); _, _, p, _ = b.Counts() {
				if time.Now().After(deadline) {
					t.Fatal("the pending requests never waited")
				}
				time.Sleep(time.Millisecond)
			}
			if err := b.Acquire(ctx, time.Time{}); !errors.Is(err, ErrOverflow) {
				t.Fatalf("one more: %v, want ErrOverflow", err)
			}
			if b.TryAcquire() {
				t.Fatal("TryAcquire succeeded over the thresholds")
			}
			for range tc.pending {
				b.Release() // each release hands a slot to a waiter
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("pending request: %v", err)
				}
			}
			for range tc.admit {
				b.Release()
			}
			if r, a, p, _ := b.Counts(); r != 0 || a != 0 || p != 0 {
				t.Errorf("after releasing: requests %d active %d pending %d, want 0", r, a, p)
			}
		})
	}
}

func TestBreakerPendingGivesUpAtDeadline(t *testing.T) {
	b := newTestBreaker(t, config.CircuitBreakers{MaxConnections: 1}, true)
	if err := b.Acquire(context.Background(), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Acquire(context.Background(), time.Now().Add(20*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	b.Release()
	if r, a, p, _ := b.Counts(); r != 0 || a != 0 || p != 0 {
		t.Errorf("requests %d active %d pending %d, want 0", r, a, p)
	}
}

func TestBreakerRetries(t *testing.T) {
	b := newTestBreaker(t, config.CircuitBreakers{MaxRetries: 2}, true)
	if !b.AcquireRetry() || !b.AcquireRetry() {
		t.Fatal("the first two retries were refused")
	}
	if b.AcquireRetry() {
		t.Fatal("a third retry was admitted over max_retries 2")
	}
	b.ReleaseRetry()
	if !b.AcquireRetry() {
		t.Fatal("a released retry slot was not reusable")
	}
}

// TestBreakerConcurrentNeverExceeds hammers the connection gate: no more than max_connections
// holders at once, and nothing is lost.
func TestBreakerConcurrentNeverExceeds(t *testing.T) {
	const limit = 4
	b := newTestBreaker(t, config.CircuitBreakers{MaxConnections: limit, MaxPendingRequests: 1000, MaxRequests: 1000}, true)
	var mu sync.Mutex
	holding, peak := 0, 0
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if err := b.Acquire(context.Background(), time.Now().Add(5*time.Second)); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				holding++
				peak = max(peak, holding)
				mu.Unlock()
				mu.Lock()
				holding--
				mu.Unlock()
				b.Release()
			}
		}()
	}
	wg.Wait()
	if peak > limit {
		t.Errorf("peak holders %d > max_connections %d", peak, limit)
	}
	if r, a, p, _ := b.Counts(); r != 0 || a != 0 || p != 0 {
		t.Errorf("requests %d active %d pending %d, want 0", r, a, p)
	}
}
