// Package cache is the LLM response cache: exact-match on the normalised request (model,
// messages, tools, generation parameters, scope), with a TTL, in process (bounded by bytes,
// least recently used out first) or in a shared store. Entries are complete canonical
// answers, so that a hit is served to any dialect, streamed or not: a streamed request gets
// the answer replayed as a well-formed stream.
//
// The stores are Memory (one node) and Redis (shared by every node). On top, the semantic
// cache (Semantic, Embedder, SemanticText, SemanticScope) finds the answer of a request worded
// differently but close in meaning, by the cosine similarity of embeddings; see docs/cache.md.
package cache

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// Store keeps encoded entries by key. Implementations are safe for concurrent use.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// Entry is a cached answer.
type Entry struct {
	Response *openai.ChatResponse `json:"response"`
	Provider string               `json:"provider"`
	Model    string               `json:"model"` // the provider's model
	Stored   time.Time            `json:"stored"`
}

// Encode returns the entry's stored form.
func (e *Entry) Encode() ([]byte, error) { return json.Marshal(e) }

// Decode parses a stored entry.
func Decode(b []byte) (*Entry, error) {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("cache: decode entry: %w", err)
	}
	if e.Response == nil {
		return nil, fmt.Errorf("cache: entry without a response")
	}
	return &e, nil
}

// Key returns the cache key of a request within a scope (a tenant, a key: whatever must not
// share answers). Fields that do not change the answer (stream, stream_options, user, the
// client's raw body) are left out, so that a streamed and a plain request share an entry.
// The key is "llmcache:" and a hex SHA-256; a Redis store puts its prefix in front.
func Key(scope string, r *openai.ChatRequest) (string, error) {
	n := stripped(r)
	b, err := json.Marshal(&n)
	if err != nil {
		return "", fmt.Errorf("cache: key: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(scope))
	h.Write([]byte{0})
	h.Write(b)
	return "llmcache:" + hex.EncodeToString(h.Sum(nil)), nil
}

// stripped returns a shallow copy of r without the fields that do not change the answer.
func stripped(r *openai.ChatRequest) openai.ChatRequest {
	n := *r
	n.Raw = nil
	n.Stream = false
	n.StreamOptions = nil
	n.User = ""
	n.Metadata = nil
	return n
}

// Memory is an in-process Store bounded by the bytes of its values; the least recently used
// entries go first, expired ones on access.
type Memory struct {
	mu    sync.Mutex
	max   int64
	size  int64
	ll    *list.List // front: most recently used
	items map[string]*list.Element
	now   func() time.Time
}

type memItem struct {
	key     string
	value   []byte
	expires time.Time
}

// NewMemory returns a Memory holding at most maxBytes of values.
func NewMemory(maxBytes int64) *Memory {
	return &Memory{max: maxBytes, ll: list.New(), items: map[string]*list.Element{}, now: time.Now}
}

// Get returns a live entry.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[key]
	if !ok {
		return nil, false, nil
	}
	it := el.Value.(*memItem)
	if m.now().After(it.expires) {
		m.remove(el)
		return nil, false, nil
	}
	m.ll.MoveToFront(el)
	return it.value, true, nil
}

// Set stores value for ttl. A value larger than the whole cache is not stored.
func (m *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	n := int64(len(value) + len(key))
	if n > m.max {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[key]; ok {
		m.remove(el)
	}
	el := m.ll.PushFront(&memItem{key: key, value: value, expires: m.now().Add(ttl)})
	m.items[key] = el
	m.size += n
	for m.size > m.max {
		m.remove(m.ll.Back())
	}
	return nil
}

// Len returns the number of entries (expired ones included until they are touched).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

func (m *Memory) remove(el *list.Element) {
	it := el.Value.(*memItem)
	m.ll.Remove(el)
	delete(m.items, it.key)
	m.size -= int64(len(it.value) + len(it.key))
}
