package h1

import (
	"context"
	"sync"
)

// requestContext is a request's context when the connection's context cannot be canceled
// (the usual case): it behaves as context.WithCancel's context, without that context's
// costs on the fast path. Its Done channel is made only when someone asks for it, and one
// function can wait for cancellation in place (NotifyCancel) where context.AfterFunc would
// allocate a context, a closure and a map entry per request: the upstream HTTP/1.1
// transport (internal/upstream/h1) watches each exchange that way. AfterFunc keeps it
// cheap for the context package's own children (WithCancel, WithTimeout, AfterFunc over
// it), which otherwise start a goroutine to watch a context type they do not know.
type requestContext struct {
	context.Context // the connection's; its Done is nil

	mu     sync.Mutex
	done   chan struct{} // made by Done or by cancel, whichever comes first
	err    error
	notify func()      // NotifyCancel's function, until it runs or is stopped
	afters []*afterReg // AfterFunc registrations not yet run or stopped

	// One value set in place by AttachValue (the proxy's per-request state), so that the
	// contexts derived from this one keep it as their direct parent.
	key, val any
}

// Value returns the attached value for its key, else the connection context's value.
func (c *requestContext) Value(key any) any {
	if c.key != nil && key == c.key {
		return c.val
	}
	return c.Context.Value(key)
}

// AttachValue makes Value(key) return val, as context.WithValue would, but in place: a
// context the package does not know, wrapped by WithValue, costs a goroutine for every
// cancelable context derived from it afterwards (the context package cannot reach its
// AfterFunc through the wrapper). Only one value can be attached, and only by the code that
// owns the request before it hands the context on (the proxy's connection manager, first
// thing); it reports false otherwise and the caller uses context.WithValue.
func (c *requestContext) AttachValue(key, val any) bool {
	if c.key != nil || key == nil {
		return false
	}
	c.key, c.val = key, val
	return true
}

type afterReg struct{ f func() }

func (c *requestContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		}
	}
	return c.done
}

func (c *requestContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// cancel ends the context with context.Canceled and runs what waits for it. It is
// idempotent.
func (c *requestContext) cancel() {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = context.Canceled
	if c.done != nil {
		close(c.done)
	}
	notify, afters := c.notify, c.afters
	c.notify, c.afters = nil, nil
	c.mu.Unlock()
	if notify != nil {
		notify()
	}
	for _, a := range afters {
		a.f() // the context package's cancel of a child: quick, as cancelCtx does it
	}
}

// NotifyCancel arranges for f to run (on the canceling goroutine, so it must be quick and
// must not block) when the context is canceled. It reports false, and does nothing, when
// the context is already canceled or another function is waiting: the caller then uses
// context.AfterFunc.
func (c *requestContext) NotifyCancel(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil || c.notify != nil {
		return false
	}
	c.notify = f
	return true
}

// StopNotify removes NotifyCancel's function. It reports false when the function already
// ran or is running (the context was canceled).
func (c *requestContext) StopNotify() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.notify == nil {
		return false
	}
	c.notify = nil
	return true
}

// AfterFunc is the method the context package looks for to propagate cancellation to the
// contexts derived from this one (it passes a child's cancel, which is quick): f runs on the
// canceling goroutine, as a cancelCtx cancels its children.
func (c *requestContext) AfterFunc(f func()) (stop func() bool) {
	a := &afterReg{f: f}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		f()
		return func() bool { return false }
	}
	c.afters = append(c.afters, a)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, x := range c.afters {
			if x == a {
				c.afters = append(c.afters[:i], c.afters[i+1:]...)
				return true
			}
		}
		return false
	}
}

func (c *requestContext) String() string { return "h1.requestContext" }

// idle reports that nothing waits on c: no Done channel was made and no NotifyCancel or
// AfterFunc registration is pending, so its cancellation could not be observed but by Err.
func (c *requestContext) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done == nil && c.notify == nil && len(c.afters) == 0 && c.err == nil
}
