package limits

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const redisAddr = "127.0.0.1:6379"

// fakeClock is a settable clock; both backends read it (Redis through the
// test-only time override of its scripts).
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// env is one backend under test.
type env struct {
	lim   Limiter
	clock *fakeClock // nil: real time
}

type backend struct {
	name string
	// make builds a limiter; clock nil means real time (server time for Redis).
	make func(t testing.TB, clock *fakeClock, o Options) Limiter
}

func localBackend() backend {
	return backend{"local", func(_ testing.TB, clock *fakeClock, o Options) Limiter {
		lo := LocalOptions{Options: o}
		if clock != nil {
			lo.Now = clock.Now
		}
		return NewLocal(lo)
	}}
}

func redisBackend() backend {
	return backend{"redis", func(t testing.TB, clock *fakeClock, o Options) Limiter {
		r := NewRedis(redisClient(t), RedisOptions{Options: o, Prefix: testPrefix(t)})
		if clock != nil {
			r.nowMs = func() int64 { return clock.Now().UnixMilli() }
		}
		return r
	}}
}

// forBoth runs f against both backends with a fake clock.
func forBoth(t *testing.T, o Options, f func(t *testing.T, e env)) {
	for _, b := range []backend{localBackend(), redisBackend()} {
		t.Run(b.name, func(t *testing.T) {
			clock := newFakeClock()
			f(t, env{lim: b.make(t, clock, o), clock: clock})
		})
	}
}

// redisClient connects to the test Redis, skipping the test when it is
// unreachable, unless CI is set: then that is a failure.
func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr, PoolSize: 32})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("redis at %s is unreachable (%v), and CI is set: the Redis tests must run", redisAddr, err)
		}
		t.Skipf("skipping: redis at %s is unreachable (%v); start one to run the Redis tests (with CI set this fails)", redisAddr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// testPrefix is a key prefix unique to this test run; the keys under it are
// deleted when the test ends (and nothing else is).
func testPrefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	p := "pylontest:" + unsafeChars.ReplaceAllString(t.Name(), "_") + ":" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: redisAddr})
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return p
}

func mustReserve(t testing.TB, l Limiter, req Request) Decision {
	t.Helper()
	d, err := l.Reserve(context.Background(), req)
	if err != nil {
		t.Fatalf("reserve: %v", err)
	}
	return d
}

func mustPeek(t testing.TB, l Limiter, partition string, lim Limit) Snapshot {
	t.Helper()
	s, err := l.Peek(context.Background(), partition, lim)
	if err != nil {
		t.Fatalf("peek %s: %v", lim.DisplayName(), err)
	}
	return s
}
