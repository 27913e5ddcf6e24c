package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const redisAddr = "127.0.0.1:6379"

// redisClient connects to the test Redis, skipping the test when it is unreachable, unless CI
// is set: then that is a failure.
func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr, PoolSize: 16})
	cx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(cx).Err(); err != nil {
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

// testPrefix is a key prefix unique to this test run; the keys under it are deleted when the
// test ends (and nothing else is).
func testPrefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	p := "pylontest:llmcache:" + unsafeChars.ReplaceAllString(t.Name(), "_") + ":" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: redisAddr})
		defer c.Close()
		for _, k := range prefixKeys(c, p) {
			c.Del(context.Background(), k)
		}
	})
	return p
}

// prefixKeys lists the keys under p.
func prefixKeys(c *redis.Client, p string) []string {
	var keys []string
	ctx := context.Background()
	iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)} }

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

// fakeEmbedder returns the vectors it was given, by text: the tests choose the geometry.
type fakeEmbedder map[string][]float32

func (f fakeEmbedder) Embed(_ context.Context, text string) ([]float32, error) {
	v, ok := f[text]
	if !ok {
		return nil, os.ErrNotExist
	}
	return v, nil
}

// angled returns a unit vector of dim dimensions whose cosine with unit(0) is cos, lying in
// the plane of axes 0 and axis.
func angled(dim, axis int, cos float64) []float32 {
	v := make([]float32, dim)
	v[0] = float32(cos)
	v[axis] = float32(math.Sqrt(1 - cos*cos))
	return v
}

// unit returns the unit vector along axis i.
func unit(dim, i int) []float32 {
	v := make([]float32, dim)
	v[i] = 1
	return v
}

// randomVector returns a vector of dim components in [-1, 1).
func randomVector(dim int, next func() float64) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(2*next() - 1)
	}
	return v
}

// checkInvariants verifies the index's bookkeeping.
func checkInvariants(t testing.TB, s *Semantic) {
	t.Helper()
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for sk, sh := range s.shards {
		if len(sh.keys) == 0 {
			t.Fatalf("shard %q is empty but kept", sk)
		}
		if len(sh.vecs) != len(sh.keys)*sh.dim || len(sh.exp) != len(sh.keys) || len(sh.ids) != len(sh.keys) || len(sh.pos) != len(sh.keys) {
			t.Fatalf("shard %q: %d keys, %d floats of dim %d, %d expiries, %d ids, %d positions",
				sk, len(sh.keys), len(sh.vecs), sh.dim, len(sh.exp), len(sh.ids), len(sh.pos))
		}
		for i, k := range sh.keys {
			if sh.pos[k] != i {
				t.Fatalf("shard %q: key %q at %d, pos says %d", sk, k, i, sh.pos[k])
			}
		}
		n += len(sh.keys)
	}
	if n != s.n {
		t.Fatalf("count %d, entries %d", s.n, n)
	}
	if s.n > s.o.MaxEntries {
		t.Fatalf("%d entries, at most %d", s.n, s.o.MaxEntries)
	}
	if len(s.fifo)-s.head > 2*s.n+64 {
		t.Fatalf("queue of %d for %d entries", len(s.fifo)-s.head, s.n)
	}
}
