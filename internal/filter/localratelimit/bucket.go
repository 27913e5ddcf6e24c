package localratelimit

import (
	"sync/atomic"
	"time"
)

// bucket is the token bucket of Envoy's local rate limiter (its AtomicTokenBucket, after
// folly's TokenBucket): refilled continuously at tokens_per_fill per fill_interval, holding at
// most max_tokens, full when created.
//
// The whole state is one int64, the "zero time": the instant at which the bucket would have
// been empty had nothing been taken since. The bucket holds min(max, (now-zero)/cost) tokens,
// and taking one moves zero forward by cost, so a take is a load, a little integer arithmetic
// and a compare-and-swap: no lock, no goroutine, no timer. Refill is computed from the clock
// on each take. The arithmetic is in integer nanoseconds, so admissions are exact: K tokens
// admit exactly K requests however many goroutines race for them.
type bucket struct {
	max    int64 // tokens the bucket holds when full (max_tokens)
	cost   int64 // nanoseconds of refill per token: fill_interval / tokens_per_fill, rounded up
	window int64 // max*cost: nanoseconds to refill from empty
	now    func() int64

	// zero is written by every request: keep it off the cache line of the fields above, which
	// every request only reads.
	_    [32]byte
	zero atomic.Int64
	_    [56]byte
}

// monotonic is the default clock: nanoseconds on the monotonic clock since the package loaded.
func monotonic() int64 { return int64(time.Since(epoch)) }

var epoch = time.Now()

// maxWindow bounds max_tokens × fill_interval / tokens_per_fill (about 100 years) so that the
// arithmetic stays far from overflow.
const maxWindow = int64(100 * 365 * 24 * time.Hour)

// newBucket returns a full bucket. The caller has validated that maxTokens, perFill >= 1,
// interval > 0 and that the refill window fits (see window).
func newBucket(maxTokens, perFill int64, interval time.Duration, now func() int64) *bucket {
	if now == nil {
		now = monotonic
	}
	cost := tokenCost(perFill, interval)
	b := &bucket{max: maxTokens, cost: cost, window: maxTokens * cost, now: now}
	b.zero.Store(now() - b.window)
	return b
}

// tokenCost is the refill time of one token, rounded up to a whole nanosecond (so the bucket
// never refills faster than configured) and at least 1 ns.
func tokenCost(perFill int64, interval time.Duration) int64 {
	c := (int64(interval) + perFill - 1) / perFill
	return max(c, 1)
}

// window reports the time to refill from empty, and false when it exceeds maxWindow.
func window(maxTokens, perFill int64, interval time.Duration) (int64, bool) {
	c := tokenCost(perFill, interval)
	if maxTokens > maxWindow/c {
		return 0, false
	}
	return maxTokens * c, true
}

// take consumes one token if there is one. It reports whether it did, how many whole tokens
// are left, and how long until the next token is available (0 when some are left).
func (b *bucket) take() (ok bool, left int64, wait time.Duration) {
	now := b.now()
	floor := now - b.window // a zero earlier than this would mean more than max tokens
	for {
		z := b.zero.Load()
		eff := max(z, floor)
		// eff > now happens when another request read a later clock and took the last token:
		// the bucket is empty as of our reading.
		if now-eff < b.cost {
			return false, 0, time.Duration(eff + b.cost - now)
		}
		next := eff + b.cost
		if b.zero.CompareAndSwap(z, next) {
			left = (now - next) / b.cost
			if left == 0 {
				wait = time.Duration(next + b.cost - now)
			}
			return true, left, wait
		}
	}
}
