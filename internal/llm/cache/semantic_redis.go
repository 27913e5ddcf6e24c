package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sharing through Redis. One stream, P+"log", holds the entries of every scope, oldest first;
// each is one XADD of the fields
//
//	m  the embedding model (SemanticOptions.EmbeddingModel)
//	s  the scope
//	k  the Store key of the answer
//	x  the expiry, unix ms (the writer's clock)
//	v  the normalized vector, little-endian float32s
//	n  the writing node's id (it skips its own entries)
//
// The stream is trimmed to about MaxEntries (MAXLEN ~), and expires the longest TTL after its
// last entry. Every node keeps a cursor (the last stream id it applied): Run reads from it,
// blocking in Redis for new entries, so an entry reaches every node about one round trip after
// it was added. A node starting (cursor 0) loads the whole retained stream, skipping expired
// entries. A node that falls behind the trimming loses the trimmed entries: a cache may.
//
// A local Search miss does not ask Redis: the embedding call has already cost a round trip,
// and the tail keeps the index within a round trip of the others.
var scriptPublish = redis.NewScript(`
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
  'm', ARGV[3], 's', ARGV[4], 'k', ARGV[5], 'x', ARGV[6], 'v', ARGV[7], 'n', ARGV[8])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return id
`)

// readCount is the most entries one stream read returns.
const readCount = 256

func (s *Semantic) publish(ctx context.Context, scope, key string, nv []float32, exp int64, ttl time.Duration) error {
	err := scriptPublish.Run(ctx, s.o.Redis, []string{s.stream}, s.o.MaxEntries, ttl.Milliseconds(),
		s.o.EmbeddingModel, scope, key, exp, encodeVector(nv), s.node).Err()
	if err != nil {
		return fmt.Errorf("cache: semantic publish: %w", err)
	}
	s.published.Add(1)
	return nil
}

// Sync applies the entries other nodes published since the last read, without waiting for
// new ones, and returns how many it applied. Run does this continuously; Sync is for callers
// that do not run it (and tests). Without Redis it does nothing.
func (s *Semantic) Sync(ctx context.Context) (int, error) {
	if s.o.Redis == nil {
		return 0, nil
	}
	total := 0
	for {
		n, got, err := s.read(ctx, -1)
		total += n
		if err != nil || got < readCount {
			return total, err
		}
	}
}

// Run keeps the index in sync with Redis (when set) and sweeps expired entries, until ctx
// ends; it then returns nil. Redis errors are logged and retried with a backoff (up to 30s),
// so Run returns only with ctx. Run one per index: the runtime starts it with the index and
// cancels it when the index is dropped.
func (s *Semantic) Run(ctx context.Context) error {
	sweep := time.NewTicker(s.o.SweepEvery)
	defer sweep.Stop()
	if s.o.Redis == nil {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-sweep.C:
				s.sweep()
			}
		}
	}
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		select {
		case <-sweep.C:
			s.sweep()
		default:
		}
		_, _, err := s.read(ctx, s.o.Block)
		if err == nil {
			backoff = 0
			continue
		}
		if ctx.Err() != nil {
			break
		}
		backoff = min(max(2*backoff, 100*time.Millisecond), 30*time.Second)
		s.o.Logger.Warn("llm semantic cache: redis read failed", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
	}
	return nil
}

// read takes one batch from the cursor (block < 0: do not wait) and applies it; it returns
// the entries applied and read.
func (s *Semantic) read(ctx context.Context, block time.Duration) (applied, got int, err error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	res, err := s.o.Redis.XRead(ctx, &redis.XReadArgs{Streams: []string{s.stream, s.cursor},
		Count: readCount, Block: block}).Result()
	if errors.Is(err, redis.Nil) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("cache: semantic sync: %w", err)
	}
	now := s.nowMs()
	for _, st := range res {
		for _, m := range st.Messages {
			got++
			s.cursor = m.ID
			if s.apply(m.Values, now) {
				applied++
			}
		}
	}
	return applied, got, nil
}

// apply loads one stream entry into the index, unless it is this node's own, expired, of
// another embedding model or malformed.
func (s *Semantic) apply(f map[string]any, now int64) bool {
	str := func(name string) string { v, _ := f[name].(string); return v }
	if str("n") == s.node {
		return false
	}
	if str("m") != s.o.EmbeddingModel {
		s.skipped.Add(1)
		return false
	}
	key := str("k")
	exp, err := strconv.ParseInt(str("x"), 10, 64)
	if err != nil || key == "" || exp <= now {
		s.skipped.Add(1)
		return false
	}
	v, err := decodeVector(str("v"))
	if err != nil {
		s.skipped.Add(1)
		return false
	}
	n, err := checkVector(v)
	if err != nil {
		s.skipped.Add(1)
		return false
	}
	normalizeInto(v, v, n) // already unit length; this guards against a foreign writer
	if s.insert(s.shardKey(str("s")), key, v, exp) != nil {
		s.skipped.Add(1)
		return false
	}
	s.loaded.Add(1)
	return true
}
