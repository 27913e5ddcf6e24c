package limits

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// raceResult is what the clients of a budget race observed.
type raceResult struct {
	admitted, refused, refunded, abandoned int64
	settled                                int64 // sum of the actuals settled
	abandonedHeld                          int64 // sum of the estimates never settled
	maxOutstanding                         int64 // max over time of admitted estimates + settled actuals
	maxEstimate                            int64
}

// budgetRace runs 500 goroutines, spread over nodes, each making four calls
// against one token budget of n (plus a concurrency limit): random
// estimates, random actuals at or below them, some refunds, some settles
// retried. If crash is non-nil, the goroutines of nodes[0] stop, without
// settling what they hold, once crash is closed.
func budgetRace(t *testing.T, nodes []Limiter, limits []Limit, crashAfter int64) raceResult {
	const goroutines, callsEach, maxEst = 500, 4, 100
	var (
		r           raceResult
		outstanding atomic.Int64
		maxOut      atomic.Int64
		settled     atomic.Int64
		abandoned   atomic.Int64
		abandonedN  atomic.Int64
		admitted    atomic.Int64
		refused     atomic.Int64
		refunded    atomic.Int64
		calls       atomic.Int64
		crashed     atomic.Bool
		wg          sync.WaitGroup
		start       = make(chan struct{})
	)
	bump := func(delta int64) {
		v := outstanding.Add(delta)
		for m := maxOut.Load(); v > m && !maxOut.CompareAndSwap(m, v); m = maxOut.Load() {
		}
	}
	for g := range goroutines {
		wg.Go(func() {
			node := g % len(nodes)
			lim := nodes[node]
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			<-start
			for range callsEach {
				if node == 0 && crashed.Load() {
					return // the node is gone
				}
				est := 1 + rng.Int64N(maxEst)
				d, err := lim.Reserve(ctx, Request{Partition: "acme", Limits: limits, Tokens: est})
				if err != nil {
					t.Errorf("reserve: %v", err)
					return
				}
				if crashAfter > 0 && calls.Add(1) == crashAfter {
					crashed.Store(true)
				}
				if !d.Allowed {
					refused.Add(1)
					continue
				}
				admitted.Add(1)
				bump(est)
				if node == 0 && crashed.Load() {
					abandoned.Add(est)
					abandonedN.Add(1)
					return // crashed holding the reservation
				}
				if rng.IntN(10) == 0 {
					bump(-est)
					refunded.Add(1)
					if err := lim.Refund(ctx, d.Reservation); err != nil {
						t.Errorf("refund: %v", err)
					}
					continue
				}
				actual := rng.Int64N(est + 1)
				bump(actual - est)
				settled.Add(actual)
				for range 1 + rng.IntN(2) { // sometimes retried: must count once
					if err := lim.Settle(ctx, d.Reservation, Amount{Tokens: actual}); err != nil {
						t.Errorf("settle: %v", err)
					}
				}
			}
		})
	}
	close(start)
	wg.Wait()
	r.admitted, r.refused, r.refunded = admitted.Load(), refused.Load(), refunded.Load()
	r.settled, r.abandonedHeld, r.abandoned = settled.Load(), abandoned.Load(), abandonedN.Load()
	r.maxOutstanding, r.maxEstimate = maxOut.Load(), maxEst
	t.Logf("admitted %d, refused %d, refunded %d, abandoned %d (%d tokens held); settled %d tokens; max outstanding %d",
		r.admitted, r.refused, r.refunded, r.abandoned, r.abandonedHeld, r.settled, r.maxOutstanding)
	return r
}

// checkRace asserts the invariants after a race, before and after expiry.
func checkRace(t *testing.T, l Limiter, bud, conc Limit, r raceResult, expire func()) {
	t.Helper()
	if r.refused == 0 || r.admitted == 0 {
		t.Fatalf("the race did not reach the budget: admitted %d refused %d", r.admitted, r.refused)
	}
	// Admission is strict, and actuals never exceed estimates, so the
	// outstanding total never passes the budget (the required bound is
	// one estimate above it).
	if r.maxOutstanding > bud.Max {
		t.Errorf("outstanding reached %d, above the budget %d (allowed slack for one estimate: %d)", r.maxOutstanding, bud.Max, r.maxEstimate)
	}
	s := mustPeek(t, l, "acme", bud)
	if s.Used != r.settled || s.Held != r.abandonedHeld {
		t.Errorf("budget used %d held %d, want exactly %d settled and %d held by the crashed node", s.Used, s.Held, r.settled, r.abandonedHeld)
	}
	if c := mustPeek(t, l, "acme", conc); c.Used != r.abandoned {
		t.Errorf("leases in flight %d, want %d", c.Used, r.abandoned)
	}
	if r.abandoned == 0 {
		return
	}
	expire()
	s = mustPeek(t, l, "acme", bud)
	if s.Used != r.settled || s.Held != 0 || s.Remaining != bud.Max-r.settled {
		t.Errorf("after expiry: used %d held %d remaining %d, want %d 0 %d", s.Used, s.Held, s.Remaining, r.settled, bud.Max-r.settled)
	}
	if c := mustPeek(t, l, "acme", conc); c.Used != 0 {
		t.Errorf("after expiry: %d leases in flight, want 0", c.Used)
	}
}

var (
	raceBudget = Limit{Scope: ScopeTenant, ID: "acme", Kind: Budget, Max: 20000, Period: Month, Unit: UnitTokens}
	raceConc   = Limit{Scope: ScopeApp, ID: "app", Kind: Concurrent, Max: 200}
	raceRPM    = Limit{Scope: ScopeKey, ID: "key", Kind: Requests, Max: 1_000_000}
)

func raceLimits() []Limit { return []Limit{raceRPM, raceConc, raceBudget} }

func TestBudgetRaceLocal(t *testing.T) {
	for _, crash := range []int64{0, 600} {
		name := map[bool]string{false: "no crash", true: "crash"}[crash > 0]
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock()
			l := NewLocal(LocalOptions{Now: clock.Now, Options: Options{TTL: time.Minute}})
			// In process, the "crashed node" is one group of goroutines of
			// the same limiter that stops without settling.
			nodes := []Limiter{l, l, l}
			r := budgetRace(t, nodes, raceLimits(), crash)
			checkRace(t, l, raceBudget, raceConc, r, func() { clock.Advance(time.Minute) })
		})
	}
}

// TestBudgetRaceRedis runs three limiter instances with their own
// connection pools, standing for three nodes, against one Redis. Without a
// crash the scripts read the server's clock; with one, the three share a
// test clock so that the expiry of the crashed node's reservations does not
// race the run's duration (TestRedisRealTime checks expiry on server time).
func TestBudgetRaceRedis(t *testing.T) {
	for _, crash := range []int64{0, 600} {
		name := map[bool]string{false: "no crash", true: "crash"}[crash > 0]
		t.Run(name, func(t *testing.T) {
			prefix := testPrefix(t)
			const ttl = time.Minute
			clock := newFakeClock()
			var nodes []Limiter
			for range 3 {
				r := NewRedis(redisClient(t), RedisOptions{Prefix: prefix, Options: Options{TTL: ttl}})
				if crash > 0 {
					r.nowMs = func() int64 { return clock.Now().UnixMilli() }
				}
				nodes = append(nodes, r)
			}
			r := budgetRace(t, nodes, raceLimits(), crash)
			checkRace(t, nodes[1], raceBudget, raceConc, r, func() { clock.Advance(ttl) })
		})
	}
}

// TestRedisRealTime checks expiry with Redis's own clock and key TTLs: every
// key carries a TTL and the partition's hash tag.
func TestRedisRealTime(t *testing.T) {
	c := redisClient(t)
	prefix := testPrefix(t)
	l := NewRedis(c, RedisOptions{Prefix: prefix, Options: Options{TTL: 300 * time.Millisecond, Idempotency: time.Second}})
	conc := Limit{Scope: ScopeKey, ID: "k:1", Kind: Concurrent, Max: 1}
	limits := []Limit{rpmKey, tpmApp, conc, budTenant}
	d := mustReserve(t, l, Request{Partition: "ac{me}", Limits: limits, Tokens: 100})
	if !d.Allowed {
		t.Fatal(d.Err())
	}
	if d2 := mustReserve(t, l, Request{Partition: "ac{me}", Limits: limits, Tokens: 100}); d2.Allowed {
		t.Fatal("second call admitted past the concurrency limit")
	}
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if len(keys) != 6 { // record, rpm, tpm, concurrency, budget hash and zset
		t.Errorf("keys %q, want 6", keys)
	}
	for _, k := range keys {
		if ttl := c.PTTL(ctx, k).Val(); ttl <= 0 {
			t.Errorf("key %q has no ttl (%v)", k, ttl)
		}
		if want := prefix + "{ac%7Bme%7D}:"; len(k) < len(want) || k[:len(want)] != want {
			t.Errorf("key %q lacks the hash tag %q", k, want)
		}
	}
	time.Sleep(400 * time.Millisecond)
	if d2 := mustReserve(t, l, Request{Partition: "ac{me}", Limits: limits, Tokens: 100}); !d2.Allowed {
		t.Fatalf("lease and hold did not expire on server time: %v", d2.Err())
	}
	if s := mustPeek(t, l, "ac{me}", budTenant); s.Held != 100 {
		t.Fatalf("held %d, want 100 (only the new hold)", s.Held)
	}
}

// TestRedisUnreachable checks that a dead Redis is an error, not a decision.
func TestRedisUnreachable(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	l := NewRedis(c, RedisOptions{})
	if _, err := l.Reserve(ctx, Request{Partition: "p", Limits: []Limit{rpmKey}}); err == nil {
		t.Fatal("no error from an unreachable redis")
	}
}

// TestLocalSweep checks that idle counters and records are dropped, so
// memory follows the active set.
func TestLocalSweep(t *testing.T) {
	clock := newFakeClock()
	l := NewLocal(LocalOptions{Now: clock.Now, Shards: 1, Options: Options{TTL: time.Minute, Idempotency: time.Minute}})
	for i := range 1000 {
		lim := Limit{Scope: ScopeKey, ID: "k" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Kind: Requests, Max: 10}
		mustReserve(t, l, Request{Partition: "p", Limits: []Limit{lim}})
	}
	d := mustReserve(t, l, Request{Partition: "p", Limits: []Limit{tpmApp}, Tokens: 10})
	_ = l.Settle(ctx, d.Reservation, Amount{Tokens: 10})
	if n := l.Len(); n != 1002 { // 1000 rates, the tpm, its record
		t.Fatalf("%d entries, want 1002", n)
	}
	clock.Advance(2 * time.Minute)
	mustReserve(t, l, Request{Partition: "p", Limits: []Limit{rpmKey}})
	if n := l.Len(); n != 1 {
		t.Fatalf("%d entries after the sweep, want 1", n)
	}
}
