package extcontext

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// cacheKey identifies a lookup: a hash of the key's source, the key and the forwarded
// header values, so that neither keys nor credentials sit in memory in clear.
type cacheKey [32]byte

// entryOverhead approximates an entry's bookkeeping bytes (list element, map slot, key).
const entryOverhead = 128

type entry struct {
	key     cacheKey
	context string
	reason  string // ReasonNotFound or ReasonEmpty for a cached empty answer
	expires time.Time
}

// lru is a TTL cache bounded by entries and bytes; the least recently used entry goes
// first.
type lru struct {
	mu         sync.Mutex
	ll         *list.List // front: most recent
	m          map[cacheKey]*list.Element
	bytes      int64
	maxEntries int
	maxBytes   int64
}

func newLRU(maxEntries int, maxBytes int64) *lru {
	return &lru{ll: list.New(), m: map[cacheKey]*list.Element{}, maxEntries: maxEntries, maxBytes: maxBytes}
}

func size(e *entry) int64 { return int64(len(e.context)) + entryOverhead }

func (c *lru) get(k cacheKey, now time.Time) (entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[k]
	if !ok {
		return entry{}, false
	}
	e := el.Value.(*entry)
	if !now.Before(e.expires) {
		c.remove(el)
		return entry{}, false
	}
	c.ll.MoveToFront(el)
	return *e, true
}

func (c *lru) put(e entry) {
	if size(&e) > c.maxBytes {
		return // larger than the whole cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[e.key]; ok {
		c.remove(el)
	}
	el := c.ll.PushFront(&e)
	c.m[e.key] = el
	c.bytes += size(&e)
	for c.ll.Len() > c.maxEntries || c.bytes > c.maxBytes {
		c.remove(c.ll.Back())
	}
}

func (c *lru) remove(el *list.Element) {
	e := c.ll.Remove(el).(*entry)
	delete(c.m, e.key)
	c.bytes -= size(e)
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// flight coalesces concurrent lookups of one key: the first starts the call, the others
// wait for its result. (golang.org/x/sync's singleflight is not a dependency; this is the
// part of it needed here.) The call runs in its own goroutine under its own timeout, so a
// caller that gives up (its context is done) leaves the result to the others.
type flight struct {
	mu sync.Mutex
	m  map[cacheKey]*call
}

type call struct {
	done    chan struct{}
	res     Result
	err     error
	waiters int // callers beyond the first, for tests
}

// do returns the result of fn for key, running fn once for concurrent callers. shared
// reports whether the result came from another caller's call.
func (g *flight) do(ctx context.Context, k cacheKey, fn func() (Result, error)) (res Result, shared bool, err error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[cacheKey]*call{}
	}
	c, ok := g.m[k]
	if ok {
		c.waiters++
	} else {
		c = &call{done: make(chan struct{})}
		g.m[k] = c
		go func() {
			c.res, c.err = fn()
			g.mu.Lock()
			delete(g.m, k)
			g.mu.Unlock()
			close(c.done)
		}()
	}
	g.mu.Unlock()
	select {
	case <-c.done:
		return c.res, ok, c.err
	case <-ctx.Done():
		return Result{Reason: ReasonCanceled}, ok, ctx.Err()
	}
}
