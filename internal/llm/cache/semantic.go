package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Embedder turns text into a vector. The gateway implements it by calling the configured
// embedding model; every vector of one Semantic index must come from the same model.
type Embedder interface {
	Embed(ctx context.Context, text string) ([]float32, error)
}

// DefaultMaxEntries bounds a Semantic index that sets no MaxEntries. A search scans its scope
// in full (see Semantic), so the bound is also the worst case of one search: 10,000 vectors of
// 1536 dimensions are 60 MiB and a few milliseconds of one core.
const DefaultMaxEntries = 10000

// DefaultSemanticPrefix starts the Redis keys of a Semantic index that sets no Prefix.
const DefaultSemanticPrefix = "pylon:llmsem:"

// SemanticOptions configure a Semantic index.
type SemanticOptions struct {
	// EmbeddingModel names the vector space (the configured embedding model). It is part of
	// every scope, here and in Redis, so that vectors of two models are never compared: after
	// a change of model the index starts empty, and nodes on either model ignore each other.
	EmbeddingModel string
	// MaxEntries bounds the entries in process, all scopes together (default
	// DefaultMaxEntries). When full, the oldest entry goes first.
	MaxEntries int
	// Redis, when set, shares entries between nodes (see Semantic); nil keeps them in process.
	Redis redis.Cmdable
	// Prefix starts the Redis keys (default DefaultSemanticPrefix).
	Prefix string
	// Block is how long one read of Run waits in Redis for new entries (default 1s). It bounds
	// how long Run takes to return once its context ends.
	Block time.Duration
	// SweepEvery is how often Run drops expired entries (default 30s). Searches skip them
	// whenever they run.
	SweepEvery time.Duration
	// Logger takes Run's Redis errors (default slog.Default()).
	Logger *slog.Logger
	// Now replaces the clock (tests).
	Now func() time.Time
}

// Semantic is the semantic cache's index: per scope, the normalized embedding vectors of
// cached requests, each naming the exact-match Store key of its answer, with an expiry. Search
// finds the entry nearest (by cosine similarity) to a query within one scope, never across.
//
// The index is a flat scan: per scope, the vectors lie in one contiguous []float32, and a
// search takes a dot product with each live one. That is exact (no recall loss), has no build
// cost and is fast enough up to tens of thousands of vectors (about 0.65 ms per thousand vectors
// of 1536 dimensions on one core); MaxEntries bounds it. Beyond that an approximate index
// (HNSW, IVF) would pay.
//
// Eviction: at most MaxEntries entries, the oldest first when full (first in, first out: with
// one TTL for all, that is also the one expiring first). Expired entries are skipped by
// Search, dropped when they reach the front of the queue, and swept by Run.
//
// With Redis set, Add also appends the entry to a stream in Redis, and Run tails that stream
// so that every node's index holds every node's entries (see docs/cache.md for the layout).
// The answers themselves live in the exact-match Store: share it through Redis too, or a
// node finds a neighbour's key and misses its answer.
type Semantic struct {
	o      SemanticOptions
	node   string // this index's id in Redis entries: its own entries are not loaded twice
	stream string

	mu     sync.RWMutex
	shards map[string]*shard
	n      int
	fifo   []ref // insertion order; refs of replaced or removed entries are stale
	head   int
	seq    uint64

	syncMu sync.Mutex // one reader of the stream at a time
	cursor string

	published, loaded, skipped, evicted, expired atomic.Uint64
}

// shard is one scope's vectors, stored back to back.
type shard struct {
	dim  int
	vecs []float32 // len(keys) * dim
	keys []string
	exp  []int64 // unix ms
	ids  []uint64
	pos  map[string]int
}

type ref struct {
	shard, key string
	id         uint64
}

// NewSemantic returns an empty index. It does no I/O: Run loads and follows Redis.
func NewSemantic(o SemanticOptions) *Semantic {
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Prefix == "" {
		o.Prefix = DefaultSemanticPrefix
	}
	if o.Block <= 0 {
		o.Block = time.Second
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &Semantic{o: o, node: hex.EncodeToString(id[:]), stream: o.Prefix + "log",
		shards: map[string]*shard{}, cursor: "0-0"}
}

// shardKey keeps the embedding model in every scope.
func (s *Semantic) shardKey(scope string) string { return s.o.EmbeddingModel + "\x00" + scope }

func (s *Semantic) nowMs() int64 { return s.o.Now().UnixMilli() }

// Add records that the answer stored under key was made for a request of scope whose
// embedding is vec, for ttl (use the Store's TTL: an entry outliving its answer only costs a
// Store miss). A key already in the scope is replaced. With Redis set, the entry is published
// to the other nodes; it is in the local index even when publishing fails (the error says so).
func (s *Semantic) Add(ctx context.Context, scope, key string, vec []float32, ttl time.Duration) error {
	if key == "" {
		return fmt.Errorf("cache: semantic add: empty key")
	}
	n, err := checkVector(vec)
	if err != nil {
		return fmt.Errorf("cache: semantic add: %w", err)
	}
	if ttl < time.Millisecond {
		return nil
	}
	nv := make([]float32, len(vec))
	normalizeInto(nv, vec, n)
	exp := s.nowMs() + ttl.Milliseconds()
	if err := s.insert(s.shardKey(scope), key, nv, exp); err != nil {
		return fmt.Errorf("cache: semantic add: %w", err)
	}
	if s.o.Redis != nil {
		if err := s.publish(ctx, scope, key, nv, exp, ttl); err != nil {
			return err
		}
	}
	return nil
}

// Search returns the key of the live entry of scope nearest to vec, and their cosine
// similarity, when it is at least threshold. On a miss, key is "" and sim is the best
// similarity found (-1 with no candidate), for metrics. It never leaves the process.
func (s *Semantic) Search(scope string, vec []float32, threshold float32) (key string, sim float32, ok bool) {
	qn, good := norm(vec)
	if !good {
		return "", -1, false
	}
	now := s.nowMs()
	s.mu.RLock()
	defer s.mu.RUnlock()
	sh := s.shards[s.shardKey(scope)]
	if sh == nil || sh.dim != len(vec) {
		return "", -1, false
	}
	best, bi := float32(-2), -1
	d := sh.dim
	for i, e := range sh.exp {
		if e <= now {
			continue
		}
		if p := dot(vec, sh.vecs[i*d:(i+1)*d]); p > best {
			best, bi = p, i
		}
	}
	if bi < 0 {
		return "", -1, false
	}
	sim = max(-1, min(1, float32(float64(best)/qn)))
	if sim < threshold {
		return "", sim, false
	}
	return sh.keys[bi], sim, true
}

// Remove drops key from scope in this process (for instance when its answer is gone from the
// Store). Other nodes keep theirs until it expires.
func (s *Semantic) Remove(scope, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sk := s.shardKey(scope)
	if sh := s.shards[sk]; sh != nil {
		if i, ok := sh.pos[key]; ok {
			s.removeAt(sk, sh, i)
			s.compact()
		}
	}
}

// Len returns the number of entries in process (expired ones included until dropped).
func (s *Semantic) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.n
}

// SemanticStats are an index's counters, for metrics.
type SemanticStats struct {
	Entries, Scopes int
	// Published entries to Redis, Loaded from it (other nodes'), Skipped from it (expired,
	// malformed, another embedding model, a dimension mismatch).
	Published, Loaded, Skipped uint64
	// Evicted live entries to stay within MaxEntries; Expired entries dropped.
	Evicted, Expired uint64
}

// Stats returns the index's counters.
func (s *Semantic) Stats() SemanticStats {
	s.mu.RLock()
	st := SemanticStats{Entries: s.n, Scopes: len(s.shards)}
	s.mu.RUnlock()
	st.Published, st.Loaded, st.Skipped = s.published.Load(), s.loaded.Load(), s.skipped.Load()
	st.Evicted, st.Expired = s.evicted.Load(), s.expired.Load()
	return st
}

// insert puts a normalized vector in the index, then evicts what is over the bound.
func (s *Semantic) insert(sk, key string, nv []float32, exp int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.shards[sk]
	if sh == nil {
		sh = &shard{dim: len(nv), pos: map[string]int{}}
		s.shards[sk] = sh
	}
	if sh.dim != len(nv) {
		return ErrDimension
	}
	s.seq++
	if i, ok := sh.pos[key]; ok {
		copy(sh.vecs[i*sh.dim:], nv)
		sh.exp[i], sh.ids[i] = exp, s.seq
	} else {
		sh.pos[key] = len(sh.keys)
		sh.vecs = append(sh.vecs, nv...)
		sh.keys = append(sh.keys, key)
		sh.exp = append(sh.exp, exp)
		sh.ids = append(sh.ids, s.seq)
		s.n++
	}
	s.fifo = append(s.fifo, ref{sk, key, s.seq})
	s.evict(s.nowMs())
	return nil
}

// evict pops the queue's front while it is stale, expired, or over the bound; the queue is
// compacted as it goes so that it stays within a few times the entries.
func (s *Semantic) evict(now int64) {
	for s.head < len(s.fifo) {
		r := s.fifo[s.head]
		sh, i, live := s.lookup(r)
		switch {
		case !live:
		case sh.exp[i] <= now:
			s.removeAt(r.shard, sh, i)
			s.expired.Add(1)
		case s.n > s.o.MaxEntries:
			s.removeAt(r.shard, sh, i)
			s.evicted.Add(1)
		default:
			s.compact()
			return
		}
		s.fifo[s.head] = ref{}
		s.head++
	}
	s.compact()
}

// compact drops the consumed front of the queue, and rebuilds it from the live entries when
// stale refs (of replaced keys) make up most of it.
func (s *Semantic) compact() {
	if s.head > 0 && s.head >= len(s.fifo)/2 {
		s.fifo = append(s.fifo[:0], s.fifo[s.head:]...)
		s.head = 0
	}
	if len(s.fifo)-s.head <= 2*s.n+64 {
		return
	}
	live := make([]ref, 0, s.n)
	for sk, sh := range s.shards {
		for i, k := range sh.keys {
			live = append(live, ref{sk, k, sh.ids[i]})
		}
	}
	slices.SortFunc(live, func(a, b ref) int { return compareU64(a.id, b.id) })
	s.fifo, s.head = live, 0
}

func compareU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Semantic) lookup(r ref) (*shard, int, bool) {
	sh := s.shards[r.shard]
	if sh == nil {
		return nil, 0, false
	}
	i, ok := sh.pos[r.key]
	if !ok || sh.ids[i] != r.id {
		return nil, 0, false
	}
	return sh, i, true
}

// removeAt deletes entry i of sh, moving the last entry into its place.
func (s *Semantic) removeAt(sk string, sh *shard, i int) {
	last := len(sh.keys) - 1
	delete(sh.pos, sh.keys[i])
	if i != last {
		d := sh.dim
		copy(sh.vecs[i*d:(i+1)*d], sh.vecs[last*d:])
		sh.keys[i], sh.exp[i], sh.ids[i] = sh.keys[last], sh.exp[last], sh.ids[last]
		sh.pos[sh.keys[i]] = i
	}
	sh.vecs = sh.vecs[:last*sh.dim]
	sh.keys[last] = ""
	sh.keys, sh.exp, sh.ids = sh.keys[:last], sh.exp[:last], sh.ids[:last]
	s.n--
	if last == 0 {
		delete(s.shards, sk)
	}
}

// sweep drops every expired entry.
func (s *Semantic) sweep() {
	now := s.nowMs()
	s.mu.Lock()
	defer s.mu.Unlock()
	for sk, sh := range s.shards {
		for i := len(sh.keys) - 1; i >= 0; i-- {
			if i < len(sh.keys) && sh.exp[i] <= now {
				s.removeAt(sk, sh, i)
				s.expired.Add(1)
			}
		}
	}
	s.compact()
}
