package localratelimit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a manual monotonic clock for the buckets.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() int64              { return c.ns.Load() }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestBucketExactUnderConcurrency(t *testing.T) {
	for _, tc := range []struct {
		name    string
		k, n    int64
		perFill int64
		clock   func() int64
	}{
		{"frozen clock", 100, 2000, 1, (&fakeClock{}).now},
		{"frozen clock, one token", 1, 500, 1, (&fakeClock{}).now},
		{"frozen clock, big fill", 1000, 5000, 1000, (&fakeClock{}).now},
		// Real clock: an hour-long interval refills nothing measurable during the test.
		{"real clock", 250, 4000, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			interval := time.Hour
			if tc.clock != nil {
				interval = time.Minute
			}
			b := newBucket(tc.k, tc.perFill, interval, tc.clock)
			var admitted atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range tc.n {
				wg.Go(func() {
					<-start
					if ok, _, _ := b.take(); ok {
						admitted.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			if got := admitted.Load(); got != tc.k {
				t.Fatalf("admitted %d of %d requests, want exactly %d", got, tc.n, tc.k)
			}
		})
	}
}

func TestBucketRefill(t *testing.T) {
	type step struct {
		advance time.Duration
		ok      bool
		left    int64
		wait    time.Duration
	}
	cases := []struct {
		name              string
		max, perFill      int64
		interval          time.Duration
		steps             []step
		costNanosExpected int64
	}{
		{
			// Conformance case 18's bucket: 2 tokens, 2 per 60s, so one every 30s.
			name: "case 18", max: 2, perFill: 2, interval: 60 * time.Second, costNanosExpected: int64(30 * time.Second),
			steps: []step{
				{0, true, 1, 0},
				{0, true, 0, 30 * time.Second},
				{0, false, 0, 30 * time.Second},
				{10 * time.Second, false, 0, 20 * time.Second},
				{20*time.Second - 1, false, 0, 1},
				{1, true, 0, 30 * time.Second},
				{time.Hour, true, 1, 0}, // full again, never more than max
				{0, true, 0, 30 * time.Second},
				{0, false, 0, 30 * time.Second},
			},
		},
		{
			name: "continuous refill", max: 4, perFill: 2, interval: time.Second, costNanosExpected: int64(500 * time.Millisecond),
			steps: []step{
				{0, true, 3, 0}, {0, true, 2, 0}, {0, true, 1, 0}, {0, true, 0, 500 * time.Millisecond},
				{0, false, 0, 500 * time.Millisecond},
				{250 * time.Millisecond, false, 0, 250 * time.Millisecond},
				{time.Second, true, 1, 0}, // 1.25 s after empty: 2.5 tokens, one taken
				{0, true, 0, 250 * time.Millisecond},
				{0, false, 0, 250 * time.Millisecond},
			},
		},
		{
			name: "cost rounds up", max: 3, perFill: 3, interval: time.Second, costNanosExpected: 333333334,
			steps: []step{
				{0, true, 2, 0}, {0, true, 1, 0}, {0, true, 0, 333333334},
				{333333333, false, 0, 1},
				{1, true, 0, 333333334},
			},
		},
		{
			name: "one token per fill", max: 1, perFill: 1, interval: 50 * time.Millisecond, costNanosExpected: int64(50 * time.Millisecond),
			steps: []step{
				{0, true, 0, 50 * time.Millisecond},
				{49 * time.Millisecond, false, 0, time.Millisecond},
				{time.Millisecond, true, 0, 50 * time.Millisecond},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{}
			clk.advance(1234 * time.Hour) // any origin
			b := newBucket(tc.max, tc.perFill, tc.interval, clk.now)
			if b.cost != tc.costNanosExpected {
				t.Fatalf("cost %d ns, want %d", b.cost, tc.costNanosExpected)
			}
			for i, s := range tc.steps {
				clk.advance(s.advance)
				ok, left, wait := b.take()
				if ok != s.ok || left != s.left || wait != s.wait {
					t.Fatalf("step %d (+%v): take = (%v, %d, %v), want (%v, %d, %v)", i, s.advance, ok, left, wait, s.ok, s.left, s.wait)
				}
			}
		})
	}
}

// A request that read the clock before another one took the last token must not see
// negative or phantom tokens.
func TestBucketStaleClockReading(t *testing.T) {
	clk := &fakeClock{}
	b := newBucket(1, 1, time.Second, clk.now)
	if ok, _, _ := b.take(); !ok {
		t.Fatal("first take refused")
	}
	clk.advance(time.Second) // one token back
	late := clk.now()
	if ok, _, _ := b.take(); !ok {
		t.Fatal("refilled token refused")
	}
	b.now = func() int64 { return late - int64(time.Millisecond) } // an earlier reading
	if ok, left, wait := b.take(); ok || left != 0 || wait <= 0 {
		t.Fatalf("stale reading: take = (%v, %d, %v), want refused with a positive wait", ok, left, wait)
	}
}

func TestWindowBounds(t *testing.T) {
	if _, ok := window(maxUint32, 1, time.Hour); ok {
		t.Error("4e9 tokens at one an hour accepted")
	}
	if w, ok := window(maxUint32, maxUint32, time.Hour); !ok || w != maxUint32*tokenCost(maxUint32, time.Hour) {
		t.Errorf("window = %d, %v", w, ok)
	}
	if c := tokenCost(maxUint32, 50*time.Millisecond); c != 1 {
		t.Errorf("cost below 1 ns: %d", c)
	}
}

// mutexBucket is the same bucket behind a mutex: the benchmarks compare it with the CAS one.
type mutexBucket struct {
	mu                sync.Mutex
	max, cost, window int64
	zero              int64
	now               func() int64
}

func (b *mutexBucket) take() bool {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	eff := max(b.zero, now-b.window)
	if now-eff < b.cost {
		return false
	}
	b.zero = eff + b.cost
	return true
}

// Benchmarks use a bucket that never runs dry (a huge fill rate), so every take succeeds
// and writes the shared word: the contended case.
func benchBucket() *bucket { return newBucket(maxUint32, maxUint32, 50*time.Millisecond, nil) }

// The clock read that every take pays for.
func BenchmarkClock(b *testing.B) {
	for b.Loop() {
		monotonic()
	}
}

func BenchmarkBucketTake(b *testing.B) {
	bk := benchBucket()
	b.ReportAllocs()
	for b.Loop() {
		bk.take()
	}
}

func BenchmarkBucketTakeParallel(b *testing.B) {
	bk := benchBucket()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bk.take()
		}
	})
}

func BenchmarkMutexBucketTakeParallel(b *testing.B) {
	ref := benchBucket()
	bk := &mutexBucket{max: ref.max, cost: ref.cost, window: ref.window, now: monotonic}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bk.take()
		}
	})
}
