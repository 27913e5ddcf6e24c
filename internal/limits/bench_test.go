package limits

import (
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// hotPath is the check the gateway makes per call: requests per minute on
// the key, tokens per minute on the application, a monthly budget on the
// tenant, sized so that nothing refuses.
func hotPath(i int) Request {
	return Request{Partition: "acme", Tokens: 1200, Limits: []Limit{
		{Scope: ScopeKey, ID: "key-" + strconv.Itoa(i%16), Kind: Requests, Max: 1_000_000_000},
		{Scope: ScopeApp, ID: "app", Kind: Tokens, Max: 100_000_000_000},
		{Scope: ScopeTenant, ID: "acme", Kind: Budget, Max: 1 << 60, Period: Month, Unit: UnitTokens},
	}}
}

func benchBackends() []backend { return []backend{localBackend(), redisBackend()} }

// BenchmarkReserveSettle is one admitted call: Reserve then Settle.
func BenchmarkReserveSettle(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			l := be.make(b, nil, Options{})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				d, err := l.Reserve(ctx, hotPath(i))
				if err != nil || !d.Allowed {
					b.Fatalf("reserve: %v %v", err, d.Err())
				}
				if err := l.Settle(ctx, d.Reservation, Amount{Tokens: 800}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkReserve is the admission alone (the settle is off the critical
// path of the first byte).
func BenchmarkReserve(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			l := be.make(b, nil, Options{})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := l.Reserve(ctx, hotPath(i)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkReserveSettleParallel is the same call from every P at once.
func BenchmarkReserveSettleParallel(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			l := be.make(b, nil, Options{})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					d, err := l.Reserve(ctx, hotPath(i))
					if err != nil {
						b.Error(err)
						return
					}
					_ = l.Settle(ctx, d.Reservation, Amount{Tokens: 800})
					i++
				}
			})
		})
	}
}

// TestLimitLatency measures the latency a limit check adds on the hot path:
// Reserve with RPM + TPM + budget, then Settle, sequentially and with
// concurrent callers, for both backends. Run with -v to see the figures.
func TestLimitLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("latency measurement skipped in -short mode")
	}
	for _, be := range benchBackends() {
		t.Run(be.name, func(t *testing.T) {
			l := be.make(t, nil, Options{})
			n := 20000
			if be.name == "redis" {
				n = 5000
			}
			for _, workers := range []int{1, 8} {
				reserve := make([][]time.Duration, workers)
				settle := make([][]time.Duration, workers)
				var wg sync.WaitGroup
				for w := range workers {
					wg.Go(func() {
						for i := range n/workers + 200 {
							t0 := time.Now()
							d, err := l.Reserve(ctx, hotPath(i))
							t1 := time.Now()
							if err != nil || !d.Allowed {
								t.Errorf("reserve: %v %v", err, d.Err())
								return
							}
							if err := l.Settle(ctx, d.Reservation, Amount{Tokens: 800}); err != nil {
								t.Error(err)
								return
							}
							if i >= 200 { // warm-up done
								reserve[w] = append(reserve[w], t1.Sub(t0))
								settle[w] = append(settle[w], time.Since(t1))
							}
						}
					})
				}
				wg.Wait()
				r, s := slices.Concat(reserve...), slices.Concat(settle...)
				t.Logf("%-5s %d caller(s), %d calls: reserve p50 %v p99 %v p99.9 %v | settle p50 %v p99 %v",
					be.name, workers, len(r), pct(r, 50), pct(r, 99), pct(r, 99.9), pct(s, 50), pct(s, 99))
			}
		})
	}
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := min(int(float64(len(d))*p/100), len(d)-1)
	return d[i].Round(100 * time.Nanosecond)
}
