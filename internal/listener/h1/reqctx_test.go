package h1

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

func TestRequestContext(t *testing.T) {
	parent := context.WithValue(context.Background(), ctxKey{}, "v")

	t.Run("cancel ends Done, Err, children and AfterFunc", func(t *testing.T) {
		c := &requestContext{Context: parent}
		if c.Err() != nil {
			t.Fatal("Err before cancel")
		}
		if c.Value(ctxKey{}) != "v" {
			t.Fatal("values of the parent are not visible")
		}
		child, stopChild := context.WithCancel(c)
		defer stopChild()
		timed, stopTimed := context.WithTimeout(context.WithValue(c, ctxKey{}, "w"), time.Hour)
		defer stopTimed()
		ran := make(chan struct{})
		context.AfterFunc(c, func() { close(ran) })
		stopped := false
		stop := context.AfterFunc(c, func() { stopped = true })
		if !stop() {
			t.Fatal("stop of a pending AfterFunc reported false")
		}
		done := c.Done()
		c.cancel()
		c.cancel() // idempotent
		select {
		case <-done:
		default:
			t.Fatal("Done not closed by cancel")
		}
		if !errors.Is(c.Err(), context.Canceled) || !errors.Is(context.Cause(c), context.Canceled) {
			t.Fatalf("Err = %v, Cause = %v", c.Err(), context.Cause(c))
		}
		// A direct child is canceled before cancel returns, as a cancelCtx's is; one behind
		// a WithValue is watched by a goroutine of the context package (as for any context
		// type it does not know) and follows soon after.
		if child.Err() == nil {
			t.Fatal("direct child not canceled")
		}
		select {
		case <-timed.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("child behind a WithValue not canceled")
		}
		select {
		case <-ran:
		case <-time.After(5 * time.Second):
			t.Fatal("context.AfterFunc did not run")
		}
		if stopped {
			t.Fatal("a stopped AfterFunc ran")
		}
		// Done asked for after the cancel is closed too.
		if _, open := <-(&requestContext{Context: parent, err: context.Canceled}).Done(); open {
			t.Fatal("Done of a canceled context is open")
		}
	})

	t.Run("NotifyCancel", func(t *testing.T) {
		c := &requestContext{Context: parent}
		n := 0
		if !c.NotifyCancel(func() { n++ }) {
			t.Fatal("NotifyCancel refused on a live context")
		}
		if c.NotifyCancel(func() {}) {
			t.Fatal("a second NotifyCancel was accepted")
		}
		if !c.StopNotify() || c.StopNotify() {
			t.Fatal("StopNotify: want true then false")
		}
		if !c.NotifyCancel(func() { n++ }) {
			t.Fatal("NotifyCancel refused after StopNotify")
		}
		c.cancel()
		if n != 1 {
			t.Fatalf("notified %d times, want 1", n)
		}
		if c.StopNotify() {
			t.Fatal("StopNotify after the function ran reported true")
		}
		if c.NotifyCancel(func() {}) {
			t.Fatal("NotifyCancel accepted on a canceled context")
		}
	})

	t.Run("no allocation to watch", func(t *testing.T) {
		c := &requestContext{Context: parent}
		f := func() {}
		if a := testing.AllocsPerRun(100, func() {
			c.NotifyCancel(f)
			c.StopNotify()
			_ = c.Err()
		}); a != 0 {
			t.Fatalf("NotifyCancel+StopNotify+Err allocate %v times", a)
		}
	})
}

func TestRequestContextAttachValue(t *testing.T) {
	type k2 struct{}
	c := &requestContext{Context: context.WithValue(context.Background(), ctxKey{}, "parent")}
	if !c.AttachValue(k2{}, "mine") {
		t.Fatal("AttachValue refused")
	}
	if c.AttachValue(ctxKey{}, "again") {
		t.Fatal("a second AttachValue was accepted")
	}
	if c.Value(k2{}) != "mine" || c.Value(ctxKey{}) != "parent" {
		t.Fatalf("Value: %v, %v", c.Value(k2{}), c.Value(ctxKey{}))
	}
	child, cancel := context.WithTimeout(c, time.Hour)
	defer cancel()
	c.cancel()
	if child.Err() == nil { // direct parent: canceled synchronously, no watcher goroutine
		t.Fatal("child not canceled")
	}
}
