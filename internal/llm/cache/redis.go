package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultMaxValueBytes bounds a value a Redis store accepts when RedisOptions sets none: 1 MiB
// holds the encoded answer of any ordinary chat call (64k tokens of text is about 256 KiB of
// JSON), while keeping one GET or SET from holding Redis' single thread for long.
const DefaultMaxValueBytes = 1 << 20

// ErrTooLarge is returned by Redis.Set for a value above the store's MaxValueBytes. The answer
// is not cached; callers may count it rather than log it as a failure.
var ErrTooLarge = errors.New("cache: value too large to store")

// DefaultRedisPrefix starts the keys of a Redis store that sets no Prefix: with Key's
// "llmcache:<sha256>", a value lives at "pylon:llmcache:<sha256>".
const DefaultRedisPrefix = "pylon:"

// RedisOptions configure a Redis store.
type RedisOptions struct {
	// Prefix starts every Redis key, before the cache key (default DefaultRedisPrefix; the
	// gateway passes the config's redis.prefix).
	Prefix string
	// MaxValueBytes refuses larger values with ErrTooLarge (default DefaultMaxValueBytes).
	MaxValueBytes int
}

// Redis is a Store in Redis, shared by every node: an answer one node stores, any node serves.
// A value is one string key, written with SET ... PX ttl so that Redis expires it; Get is one
// GET. Nothing else is kept (no index, no LRU bookkeeping): Redis' maxmemory policy (allkeys-lru
// or volatile-lru) bounds the memory, the TTL the staleness.
type Redis struct {
	c      redis.Cmdable
	prefix string
	max    int
}

var _ Store = (*Redis)(nil)

// NewRedis returns a store over c (a *redis.Client, *redis.ClusterClient or any
// redis.UniversalClient). The caller owns c.
func NewRedis(c redis.Cmdable, o RedisOptions) *Redis {
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.Prefix == "" {
		o.Prefix = DefaultRedisPrefix
	}
	return &Redis{c: c, prefix: o.Prefix, max: o.MaxValueBytes}
}

// MaxValueBytes returns the largest value Set accepts.
func (r *Redis) MaxValueBytes() int { return r.max }

// Get implements Store: a missing or expired key is (nil, false, nil).
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := r.c.Get(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("cache: redis get: %w", err)
	}
	return b, true, nil
}

// Set implements Store. A ttl under a millisecond stores nothing (Redis' PX unit); a value
// above MaxValueBytes is refused with ErrTooLarge.
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if len(value) > r.max {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(value), r.max)
	}
	ms := ttl.Milliseconds()
	if ms <= 0 {
		return nil
	}
	// SET key value PX ms (go-redis writes EX for a whole number of seconds: the same).
	if err := r.c.Set(ctx, r.prefix+key, value, time.Duration(ms)*time.Millisecond).Err(); err != nil {
		return fmt.Errorf("cache: redis set: %w", err)
	}
	return nil
}
