package h1

import (
	"context"
	"errors"
	"sync"
	"time"
)

// pool holds one endpoint's connections.
type pool struct {
	t    *Transport
	addr string

	mu      sync.Mutex
	idle    []*persistConn // oldest first; reuse takes the newest (LIFO)
	total   int            // connections dialing, in use or idle: what MaxConnsPerHost bounds
	waiters []*waiter      // requests waiting for a connection, first come first served
	dead    bool           // dropped from the Transport's map: look the endpoint up again
}

// waiter is a request waiting under MaxConnsPerHost. It is handed either an idle
// connection or a slot to dial one.
type waiter struct {
	ch   chan struct{} // receives once when done is set
	pc   *persistConn
	done bool // guarded by pool.mu
}

var errNilConn = errors.New("h1: Dial returned no connection")

// getConn returns a connection to addr: an idle one unless fresh, else a new one, waiting
// under MaxConnsPerHost.
func (t *Transport) getConn(ctx context.Context, addr string, fresh bool, deadline time.Time) (*persistConn, error) {
	for {
		pc, err, dead := t.pool(addr).get(ctx, fresh, deadline)
		if !dead {
			return pc, err
		}
	}
}

func (p *pool) get(ctx context.Context, fresh bool, deadline time.Time) (pc *persistConn, err error, dead bool) {
	t := p.t
	for {
		if err := ctx.Err(); err != nil {
			return nil, &canceledError{err}, false
		}
		if expired(deadline) {
			return nil, &canceledError{context.DeadlineExceeded}, false
		}
		p.mu.Lock()
		if p.dead {
			p.mu.Unlock()
			return nil, nil, true
		}
		if n := len(p.idle); n > 0 && !fresh {
			pc := p.idle[n-1]
			p.idle[n-1] = nil
			p.idle = p.idle[:n-1]
			idleFor := time.Since(pc.idleAt)
			if idleFor > t.idleTimeout() {
				// The newest idle connection expired, and so did all the older ones.
				expired := append([]*persistConn{pc}, p.idle...)
				clear(p.idle)
				p.idle = p.idle[:0]
				p.releaseLocked(len(expired))
				p.mu.Unlock()
				for _, pc := range expired {
					pc.discard()
				}
				continue
			}
			p.mu.Unlock()
			if idleFor > probeAfter && !connAlive(pc.conn) {
				pc.discard()
				p.release(1)
				continue
			}
			pc.reused = true
			return pc, nil, false
		}
		if m := t.MaxConnsPerHost; m <= 0 || p.total < m {
			p.total++
			p.mu.Unlock()
			pc, err := p.dial(ctx, deadline)
			return pc, err, false
		}
		if len(p.idle) > 0 {
			// A fresh connection is wanted and the bound is reached: the oldest idle
			// connection gives up its slot.
			old := p.idle[0]
			n := copy(p.idle, p.idle[1:])
			p.idle[n] = nil
			p.idle = p.idle[:n]
			p.mu.Unlock()
			old.discard()
			pc, err := p.dial(ctx, deadline)
			return pc, err, false
		}
		w := &waiter{ch: make(chan struct{}, 1)}
		p.waiters = append(p.waiters, w)
		p.mu.Unlock()
		ctx, cancel := withDeadline(ctx, deadline)
		defer cancel()
		select {
		case <-w.ch:
		case <-ctx.Done():
			p.mu.Lock()
			if !w.done {
				p.removeWaiterLocked(w)
				p.mu.Unlock()
				return nil, &canceledError{ctx.Err()}, false
			}
			p.mu.Unlock()
			<-w.ch // handed something just now: give it back
			if w.pc != nil {
				p.put(w.pc)
			} else {
				p.release(1)
			}
			return nil, &canceledError{ctx.Err()}, false
		}
		if w.pc != nil {
			w.pc.reused = true
			return w.pc, nil, false
		}
		pc, err := p.dial(ctx, deadline) // handed a slot
		return pc, err, false
	}
}

// withDeadline bounds ctx by deadline when one is set (RoundTripTimeout's slow paths).
func withDeadline(ctx context.Context, deadline time.Time) (context.Context, context.CancelFunc) {
	if deadline.IsZero() {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, deadline)
}

// dial opens a connection in a slot already counted in total.
func (p *pool) dial(ctx context.Context, deadline time.Time) (*persistConn, error) {
	ctx, cancel := withDeadline(ctx, deadline)
	defer cancel()
	c, err := p.t.dial(ctx, p.addr)
	if err == nil && c == nil {
		err = errNilConn
	}
	if err != nil {
		p.release(1)
		return nil, err
	}
	return p.t.newConn(p, c), nil
}

// put returns a healthy connection: to the first waiter, else on the idle stack.
func (p *pool) put(pc *persistConn) {
	p.mu.Lock()
	if len(p.waiters) > 0 {
		w := p.popWaiterLocked()
		w.pc = pc
		w.done = true
		p.mu.Unlock()
		w.ch <- struct{}{}
		return
	}
	var evict *persistConn
	switch m := p.t.maxIdle(); {
	case m == 0:
		evict = pc
		pc = nil
	case len(p.idle) >= m:
		evict = p.idle[0] // the oldest is the likeliest to be stale
		n := copy(p.idle, p.idle[1:])
		p.idle[n] = nil
		p.idle = p.idle[:n]
	}
	if evict != nil {
		p.releaseLocked(1)
	}
	if pc != nil {
		pc.idleAt = time.Now()
		p.idle = append(p.idle, pc)
	}
	p.mu.Unlock()
	if evict != nil {
		evict.discard()
	}
}

// release forgets n closed connections and hands the freed slots to waiters.
func (p *pool) release(n int) {
	p.mu.Lock()
	p.releaseLocked(n)
	p.mu.Unlock()
}

func (p *pool) releaseLocked(n int) {
	p.total -= n
	m := p.t.MaxConnsPerHost
	for len(p.waiters) > 0 && (m <= 0 || p.total < m) {
		w := p.popWaiterLocked()
		w.done = true
		p.total++
		w.ch <- struct{}{} // buffered and sent to once: never blocks
	}
}

func (p *pool) popWaiterLocked() *waiter {
	w := p.waiters[0]
	p.waiters[0] = nil
	p.waiters = p.waiters[1:]
	if len(p.waiters) == 0 {
		p.waiters = nil
	}
	return w
}

func (p *pool) removeWaiterLocked(w *waiter) {
	for i, x := range p.waiters {
		if x == w {
			n := copy(p.waiters[i:], p.waiters[i+1:])
			p.waiters[i+n] = nil
			p.waiters = p.waiters[:i+n]
			return
		}
	}
}
