package limits

import (
	"context"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"sync"
	"time"
)

// LocalOptions configure a Local limiter.
type LocalOptions struct {
	Options
	// Now is the clock (default time.Now); tests pass a fake one.
	Now func() time.Time
	// Shards is the number of lock shards, rounded up to a power of two
	// (default 64).
	Shards int
	// SweepInterval is how often a shard drops its expired counters, on the
	// first use after the interval (default 10s). No goroutine runs.
	SweepInterval time.Duration
}

// Local enforces limits in this process: the default for one node. Counters
// live in sharded maps, each with its own mutex; a call that checks several
// limits locks their shards in ascending order, so the check is atomic and
// two calls cannot deadlock. Every counter has an expiry like a Redis key's
// TTL (a rate when its debt has drained, a budget after its period, a
// reservation record after the idempotency window), and each shard drops
// its expired entries when used after SweepInterval: memory follows the
// active set, and no goroutine has to be stopped.
type Local struct {
	opts   Options
	now    func() time.Time
	sweep  int64 // ms
	seed   maphash.Seed
	mask   uint64
	shards []localShard
	ids    *idGen
}

type localShard struct {
	mu        sync.Mutex
	m         map[string]*entry
	recs      map[string]record // reservation records by id: values, so the GC has fewer pointers to chase
	nextSweep int64
	_         [32]byte // keep neighbouring mutexes off one cache line
}

// record is a reservation's state: 'h' held, 's' settled, 'f' refunded.
type record struct {
	exp   int64
	state byte
}

// entry is one counter or one reservation record.
type entry struct {
	exp int64 // ms; the entry no longer exists at or after exp

	rate rateState // Requests, Tokens

	// Budget: used is settled spend in period, held the sum of holds.
	// Concurrent: holds are the leases (amount 0).
	period     int64
	used, held int64
	holds      map[string]hold
	minExp     int64 // earliest hold expiry; a lower bound after deletions
}

type hold struct{ amount, exp int64 }

// NewLocal returns an in-process limiter.
func NewLocal(o LocalOptions) *Local {
	n := o.Shards
	if n <= 0 {
		n = 64
	}
	n = 1 << bits.Len(uint(n-1))
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = 10 * time.Second
	}
	l := &Local{
		opts:   o.Options.withDefaults(),
		now:    o.Now,
		sweep:  o.SweepInterval.Milliseconds(),
		seed:   maphash.MakeSeed(),
		mask:   uint64(n - 1),
		shards: make([]localShard, n),
		ids:    newIDGen(),
	}
	for i := range l.shards {
		l.shards[i].m = make(map[string]*entry)
		l.shards[i].recs = make(map[string]record)
	}
	return l
}

func localKey(partition, key string) string { return partition + "\x00" + key }

func (l *Local) shardOf(key string) int { return int(maphash.String(l.seed, key) & l.mask) }

// lockAll locks the shards of keys in ascending order and sweeps them if due.
func (l *Local) lockAll(now int64, keys []string, buf []int) []int {
	idx := buf[:0]
	for _, k := range keys {
		idx = append(idx, l.shardOf(k))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		s := &l.shards[i]
		s.mu.Lock()
		if now >= s.nextSweep {
			for k, e := range s.m {
				if e.exp <= now {
					delete(s.m, k)
				}
			}
			for k, r := range s.recs {
				if r.exp <= now {
					delete(s.recs, k)
				}
			}
			s.nextSweep = now + l.sweep
		}
	}
	return idx
}

func (l *Local) unlockAll(idx []int) {
	for _, i := range slices.Backward(idx) {
		l.shards[i].mu.Unlock()
	}
}

// get returns the live entry of key (its shard locked), creating it if asked.
func (l *Local) get(key string, now int64, create bool) *entry {
	s := &l.shards[l.shardOf(key)]
	e := s.m[key]
	if e != nil && e.exp <= now {
		delete(s.m, key)
		e = nil
	}
	if e == nil && create {
		e = &entry{exp: now, rate: rateState{at: now}, minExp: math.MaxInt64}
		s.m[key] = e
	}
	return e
}

// getRec returns the live record of a reservation (its shard locked).
func (l *Local) getRec(id string, now int64) (record, bool) {
	s := &l.shards[l.shardOf(id)]
	r, ok := s.recs[id]
	if ok && r.exp <= now {
		delete(s.recs, id)
		ok = false
	}
	return r, ok
}

func (l *Local) putRec(id string, r record) { l.shards[l.shardOf(id)].recs[id] = r }

// purge drops expired holds or leases.
func (e *entry) purge(now int64) {
	if len(e.holds) == 0 || now < e.minExp {
		return
	}
	e.minExp = math.MaxInt64
	for id, h := range e.holds {
		if h.exp <= now {
			e.held -= h.amount
			delete(e.holds, id)
		} else {
			e.minExp = min(e.minExp, h.exp)
		}
	}
}

func (e *entry) addHold(id string, amount, exp int64) {
	if e.holds == nil {
		e.holds = make(map[string]hold)
	}
	e.holds[id] = hold{amount, exp}
	e.held += amount
	e.minExp = min(e.minExp, exp)
}

// rollover starts a new budget period: settled spend resets, holds carry
// over (their calls will settle into the new period).
func (e *entry) rollover(idx int64) {
	if e.period != idx {
		e.period, e.used = idx, 0
	}
}

func (l *Local) keys(req *Request, recKey string) []string {
	keys := make([]string, len(req.Limits), len(req.Limits)+1)
	for i := range req.Limits {
		keys[i] = localKey(req.Partition, req.Limits[i].key())
	}
	if recKey != "" {
		keys = append(keys, recKey)
	}
	return keys
}

// Reserve implements Limiter.
func (l *Local) Reserve(_ context.Context, req Request) (Decision, error) {
	if err := req.validate(); err != nil {
		return Decision{}, err
	}
	now := l.now().UnixMilli()
	ttl := l.opts.ttlOf(&req).Milliseconds()
	var res Reservation
	recKey := ""
	if needsReservation(&req) {
		res = Reservation{ID: l.ids.next(), partition: req.Partition, limits: req.Limits,
			tokens: req.Tokens, cost: req.Cost, ttl: time.Duration(ttl) * time.Millisecond}
		recKey = res.ID
	}
	keys := l.keys(&req, recKey)
	var buf [8]int
	locked := l.lockAll(now, keys, buf[:])
	defer l.unlockAll(locked)

	vs := make([]verdict, len(req.Limits))
	admit := true
	for i, lim := range req.Limits {
		c := lim.cost(req.Tokens, req.Cost)
		e := l.get(keys[i], now, false)
		switch lim.Kind {
		case Requests, Tokens:
			s := rateState{at: now}
			if e != nil {
				s = e.rate
			}
			vs[i], _ = rateCheck(s, now, lim.Max, lim.param(), c)
		case Budget:
			idx, end := periodOf(lim.Period, now)
			var used, held int64
			if e != nil {
				e.purge(now)
				if e.period == idx {
					used = e.used
				}
				held = e.held
			}
			vs[i] = budgetCheck(used, held, now, end, lim.Max, c)
		case Concurrent:
			var n, first int64
			if e != nil {
				e.purge(now)
				if n = int64(len(e.holds)); n > 0 {
					first = e.minExp
				}
			}
			vs[i] = concCheck(n, first, now, lim.Max)
		}
		admit = admit && vs[i].allowed
	}
	if !admit {
		return decide(&req, vs, Reservation{}), nil
	}
	for i, lim := range req.Limits {
		c := lim.cost(req.Tokens, req.Cost)
		e := l.get(keys[i], now, true)
		switch lim.Kind {
		case Requests, Tokens:
			_, nd := rateCheck(e.rate, now, lim.Max, lim.param(), c)
			e.rate = rateState{at: max(e.rate.at, now), debt: nd}
			e.exp = now + resetRate(nd, lim.Max) + 1000
		case Budget:
			idx, end := periodOf(lim.Period, now)
			e.rollover(idx)
			if c > 0 {
				e.addHold(res.ID, c, now+ttl)
			}
			e.exp = max(e.exp, end+ttl)
		case Concurrent:
			e.addHold(res.ID, 0, now+ttl)
			e.exp = max(e.exp, now+ttl)
		}
	}
	if recKey != "" {
		l.putRec(recKey, record{exp: now + ttl + l.opts.Idempotency.Milliseconds(), state: 'h'})
	}
	return decide(&req, vs, res), nil
}

// Settle implements Limiter.
func (l *Local) Settle(_ context.Context, r Reservation, actual Amount) error {
	return l.finish(r, 's', actual)
}

// Refund implements Limiter.
func (l *Local) Refund(_ context.Context, r Reservation) error {
	return l.finish(r, 'f', Amount{})
}

func (l *Local) finish(r Reservation, op byte, actual Amount) error {
	if r.ID == "" {
		return nil
	}
	now := l.now().UnixMilli()
	ttl := r.ttl.Milliseconds()
	req := Request{Partition: r.partition, Limits: r.limits}
	recKey := r.ID
	keys := l.keys(&req, recKey)
	var buf [8]int
	locked := l.lockAll(now, keys, buf[:])
	defer l.unlockAll(locked)

	rec, ok := l.getRec(recKey, now)
	if !ok {
		return ErrUnknownReservation
	}
	if rec.state != 'h' {
		return nil // already settled or refunded
	}
	for i, lim := range r.limits {
		switch lim.Kind {
		case Tokens:
			delta := -r.tokens
			if op == 's' {
				delta = actual.Tokens - r.tokens
			}
			e := l.get(keys[i], now, true)
			rateAdjust(&e.rate, now, lim.Max, lim.param(), delta)
			e.exp = now + resetRate(e.rate.debt, lim.Max) + 1000
		case Concurrent:
			if e := l.get(keys[i], now, false); e != nil {
				delete(e.holds, r.ID)
			}
		case Budget:
			idx, end := periodOf(lim.Period, now)
			e := l.get(keys[i], now, true)
			e.purge(now)
			if h, ok := e.holds[r.ID]; ok {
				e.held -= h.amount
				delete(e.holds, r.ID)
			}
			e.rollover(idx)
			if op == 's' {
				e.used = satAdd(e.used, lim.cost(actual.Tokens, actual.Cost))
			}
			e.exp = max(e.exp, end+ttl)
		}
	}
	l.putRec(recKey, record{exp: now + l.opts.Idempotency.Milliseconds(), state: op})
	return nil
}

// Renew implements Limiter.
func (l *Local) Renew(_ context.Context, r Reservation) error {
	if r.ID == "" {
		return nil
	}
	now := l.now().UnixMilli()
	ttl := r.ttl.Milliseconds()
	req := Request{Partition: r.partition, Limits: r.limits}
	recKey := r.ID
	keys := l.keys(&req, recKey)
	var buf [8]int
	locked := l.lockAll(now, keys, buf[:])
	defer l.unlockAll(locked)

	rec, ok := l.getRec(recKey, now)
	if !ok {
		return ErrUnknownReservation
	}
	if rec.state != 'h' {
		return nil
	}
	l.putRec(recKey, record{exp: now + ttl + l.opts.Idempotency.Milliseconds(), state: 'h'})
	for i, lim := range r.limits {
		if lim.Kind != Budget && lim.Kind != Concurrent {
			continue
		}
		e := l.get(keys[i], now, false)
		if e == nil {
			continue
		}
		if h, ok := e.holds[r.ID]; ok && h.exp > now {
			h.exp = now + ttl
			e.holds[r.ID] = h
			e.exp = max(e.exp, now+ttl)
		}
	}
	return nil
}

// Peek implements Limiter.
func (l *Local) Peek(_ context.Context, partition string, lim Limit) (Snapshot, error) {
	if err := lim.Validate(); err != nil {
		return Snapshot{}, err
	}
	now := l.now().UnixMilli()
	key := localKey(partition, lim.key())
	var buf [8]int
	locked := l.lockAll(now, []string{key}, buf[:])
	defer l.unlockAll(locked)
	e := l.get(key, now, false)
	var s Snapshot
	switch lim.Kind {
	case Requests, Tokens:
		st := rateState{at: now}
		if e != nil {
			st = e.rate
		}
		st.decay(now, lim.Max)
		w := lim.param()
		s = Snapshot{Used: ceilDiv(st.debt, w), Remaining: remainingRate(st.debt, lim.Max*w, w),
			Reset: time.Duration(resetRate(st.debt, lim.Max)) * time.Millisecond}
	case Budget:
		idx, end := periodOf(lim.Period, now)
		if e != nil {
			e.purge(now)
			if e.period == idx {
				s.Used = e.used
			}
			s.Held = e.held
		}
		s.Remaining = max(lim.Max-s.Used-s.Held, 0)
		s.Reset = time.Duration(end-now) * time.Millisecond
	case Concurrent:
		if e != nil {
			e.purge(now)
			s.Used = int64(len(e.holds))
		}
		s.Remaining = max(lim.Max-s.Used, 0)
	}
	return s, nil
}

// Len is the number of live entries (counters and reservation records), for
// tests and metrics.
func (l *Local) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.m) + len(s.recs)
		s.mu.Unlock()
	}
	return n
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
