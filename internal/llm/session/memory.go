package session

import (
	"cmp"
	"container/list"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// MemoryOptions configure a Memory store.
type MemoryOptions struct {
	Options
	// MaxSessions bounds the number of sessions kept (default 10000); the
	// least recently used go first.
	MaxSessions int
	// MaxBytes bounds the stored bytes (JSON of the messages and summaries,
	// plus a fixed overhead per message and session; default 64 MiB); the
	// least recently used sessions go first.
	MaxBytes int64
	// Now replaces the clock (tests).
	Now func() time.Time
}

// Memory defaults.
const (
	DefaultMaxSessions = 10000
	DefaultMaxBytes    = 64 << 20
)

// Overheads counted against MaxBytes, roughly what the structures cost.
const (
	sessionOverhead = 320
	messageOverhead = 48
)

// Memory keeps sessions in this process: one node, or a default. One mutex
// guards the maps and the LRU list. Messages are stored decoded (after the
// same JSON round trip as Redis, so both stores give back the same form)
// and never modified; Load returns deep copies, made outside the lock:
// copying is some 20 times cheaper than decoding JSON again.
type Memory struct {
	opts MemoryOptions

	mu      sync.Mutex
	byKey   map[memKey]*memEntry
	byScope map[string]map[string]*memEntry
	lru     list.List // *memEntry, most recently used at the front
	bytes   int64
}

type memKey struct{ scope, id string }

type memEntry struct {
	key  memKey
	elem *list.Element
	meta Session
	// msgs are appended in place: a reader that copied the slice header
	// reads only elements below its length, which are never rewritten.
	// SetSummary and Reset replace the slice.
	msgs  []memMsg
	bytes int64
	// headVersion is the version at which the oldest messages last changed
	// (creation, Reset, SetSummary): SetSummary's conflict check.
	headVersion int64
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store.
func NewMemory(o MemoryOptions) *Memory {
	o.Options = o.Options.withDefaults()
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Memory{opts: o, byKey: make(map[memKey]*memEntry), byScope: make(map[string]map[string]*memEntry)}
}

// Len returns the number of sessions held (expired ones included until they
// are swept).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byKey)
}

// Bytes returns the bytes counted against MaxBytes.
func (m *Memory) Bytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}

// get returns the live entry of key and marks it used, or nil. Caller
// holds mu.
func (m *Memory) get(k memKey, now time.Time) *memEntry {
	e := m.byKey[k]
	if e == nil {
		return nil
	}
	if !now.Before(e.meta.Expires) {
		m.remove(e)
		return nil
	}
	m.touch(e, now)
	return e
}

func (m *Memory) touch(e *memEntry, now time.Time) {
	e.meta.Accessed = now
	e.meta.Expires = now.Add(m.opts.TTL)
	m.lru.MoveToFront(e.elem)
}

func (m *Memory) remove(e *memEntry) {
	m.lru.Remove(e.elem)
	delete(m.byKey, e.key)
	if s := m.byScope[e.key.scope]; s != nil {
		delete(s, e.key.id)
		if len(s) == 0 {
			delete(m.byScope, e.key.scope)
		}
	}
	m.bytes -= e.bytes
}

// evict drops expired sessions, then the least recently used until the
// bounds hold; keep is never dropped. Since every session has the same
// TTL, the LRU order is also the expiry order. Caller holds mu.
func (m *Memory) evict(now time.Time, keep *memEntry) {
	for el := m.lru.Back(); el != nil; {
		e := el.Value.(*memEntry)
		prev := el.Prev()
		over := len(m.byKey) > m.opts.MaxSessions || m.bytes > m.opts.MaxBytes
		if e != keep && (over || !now.Before(e.meta.Expires)) {
			m.remove(e)
		} else if !over {
			break
		}
		el = prev
	}
}

func (m *Memory) setBytes(e *memEntry, n int64) {
	m.bytes += n - e.bytes
	e.bytes = n
}

// memMsg is a stored message and what the metadata counts of it.
type memMsg struct {
	m      openai.Message
	size   int // bytes of its JSON
	tokens int
	user   bool
}

func entryBytes(k memKey, summary string, msgs []memMsg) int64 {
	n := int64(sessionOverhead + len(k.scope) + len(k.id) + len(summary))
	for i := range msgs {
		n += int64(messageOverhead + msgs[i].size)
	}
	return n
}

// Load implements Store.
func (m *Memory) Load(_ context.Context, scope, id string) ([]openai.Message, Session, error) {
	if err := check(scope, id); err != nil {
		return nil, Session{}, err
	}
	m.mu.Lock()
	e := m.get(memKey{scope, id}, m.opts.Now())
	if e == nil {
		m.mu.Unlock()
		return nil, Session{}, ErrNotFound
	}
	meta, msgs := e.meta, e.msgs
	m.mu.Unlock()
	out := make([]openai.Message, len(msgs))
	for i := range msgs {
		out[i] = cloneMessage(&msgs[i].m)
	}
	return out, meta, nil
}

// Stat implements Store.
func (m *Memory) Stat(_ context.Context, scope, id string) (Session, error) {
	if err := check(scope, id); err != nil {
		return Session{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.get(memKey{scope, id}, m.opts.Now())
	if e == nil {
		return Session{}, ErrNotFound
	}
	return e.meta, nil
}

// Append implements Store.
func (m *Memory) Append(_ context.Context, scope, id string, expectedVersion int64, msgs ...openai.Message) (Session, error) {
	if err := check(scope, id); err != nil {
		return Session{}, err
	}
	if len(msgs) == 0 {
		return Session{}, ErrEmpty
	}
	encs, err := encodeAll(m.opts.Estimator, m.opts.Model, msgs)
	if err != nil {
		return Session{}, err
	}
	enc := make([]memMsg, len(encs))
	for i, x := range encs {
		enc[i] = memMsg{size: len(x.raw), tokens: x.tokens, user: x.user}
		if err := decodeMessage(x.raw, &enc[i].m); err != nil {
			return Session{}, err
		}
	}
	k := memKey{scope, id}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	e := m.get(k, now)
	if expectedVersion != AnyVersion && (e == nil || e.meta.Version != expectedVersion) {
		return Session{}, ErrConflict
	}
	var add int64
	for i := range enc {
		add += int64(messageOverhead + enc[i].size)
	}
	if e == nil {
		if entryBytes(k, "", enc) > m.opts.MaxBytes {
			return Session{}, ErrTooLarge
		}
		v := firstVersion()
		e = &memEntry{key: k, meta: Session{ID: id, Scope: scope, Created: now, Updated: now, Version: v - 1}, headVersion: v}
		e.elem = m.lru.PushFront(e)
		m.byKey[k] = e
		s := m.byScope[scope]
		if s == nil {
			s = make(map[string]*memEntry)
			m.byScope[scope] = s
		}
		s[id] = e
		m.touch(e, now)
		m.setBytes(e, entryBytes(k, "", nil))
	} else if e.bytes+add > m.opts.MaxBytes {
		return Session{}, ErrTooLarge
	}
	e.msgs = append(e.msgs, enc...)
	for i := range enc {
		e.meta.Tokens += enc[i].tokens
		if enc[i].user {
			e.meta.Turns++
		}
	}
	e.meta.Messages += len(enc)
	e.meta.Updated = now
	e.meta.Version++
	m.setBytes(e, e.bytes+add)
	m.evict(now, e)
	return e.meta, nil
}

// Reset implements Store.
func (m *Memory) Reset(_ context.Context, scope, id string) (Session, error) {
	if err := check(scope, id); err != nil {
		return Session{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	e := m.get(memKey{scope, id}, now)
	if e == nil {
		return Session{}, ErrNotFound
	}
	e.msgs = nil
	e.meta.Turns, e.meta.Messages, e.meta.Tokens = 0, 0, 0
	e.meta.Summary = Summary{}
	e.meta.Updated = now
	e.meta.Version++
	e.headVersion = e.meta.Version
	m.setBytes(e, entryBytes(e.key, "", nil))
	return e.meta, nil
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, scope, id string) (bool, error) {
	if err := check(scope, id); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.byKey[memKey{scope, id}]
	if e == nil {
		return false, nil
	}
	live := m.opts.Now().Before(e.meta.Expires)
	m.remove(e)
	return live, nil
}

// List implements Store.
func (m *Memory) List(_ context.Context, scope, cursor string, limit int) ([]Session, string, error) {
	if scope == "" {
		return nil, "", ErrNoScope
	}
	cur, err := parseCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	limit = clampLimit(limit)
	m.mu.Lock()
	now := m.opts.Now()
	all := make([]Session, 0, len(m.byScope[scope]))
	for _, e := range m.byScope[scope] {
		if !now.Before(e.meta.Expires) {
			continue
		}
		if cur.set && !cur.after(e.meta.Accessed.UnixMilli(), e.meta.ID) {
			continue
		}
		all = append(all, e.meta)
	}
	m.mu.Unlock()
	slices.SortFunc(all, func(a, b Session) int {
		if c := cmp.Compare(b.Accessed.UnixMilli(), a.Accessed.UnixMilli()); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	return page(all, limit)
}

// SetSummary implements Store.
func (m *Memory) SetSummary(_ context.Context, scope, id, summary string, replaced int, expectedVersion int64) (Session, error) {
	if err := check(scope, id); err != nil {
		return Session{}, err
	}
	sumTokens := summaryTokens(m.opts.Options, summary)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	e := m.get(memKey{scope, id}, now)
	if e == nil {
		return Session{}, ErrNotFound
	}
	if e.headVersion > expectedVersion || expectedVersion > e.meta.Version {
		return Session{}, ErrConflict
	}
	if replaced < 0 || replaced > len(e.msgs) {
		return Session{}, errBadReplaced
	}
	for i := range e.msgs[:replaced] {
		e.meta.Tokens -= e.msgs[i].tokens
		if e.msgs[i].user {
			e.meta.Turns--
		}
	}
	e.msgs = slices.Clone(e.msgs[replaced:])
	e.meta.Messages = len(e.msgs)
	e.meta.Tokens += sumTokens - e.meta.Summary.Tokens
	e.meta.Summary = Summary{Text: summary, Replaced: e.meta.Summary.Replaced + replaced, Tokens: sumTokens}
	e.meta.Updated = now
	e.meta.Version++
	e.headVersion = e.meta.Version
	m.setBytes(e, entryBytes(e.key, summary, e.msgs))
	m.evict(now, e)
	return e.meta, nil
}
