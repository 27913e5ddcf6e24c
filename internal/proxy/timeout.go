package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Envoy's local reply bodies for the connection manager's timeouts (both 408).
const (
	bodyStreamTimeout  = "stream timeout"
	bodyRequestTimeout = "request timeout"
)

// watchdog enforces one request's stream idle timeout (no byte in either direction for
// idle) and request timeout (the whole request received by a deadline), Envoy's
// stream_idle_timeout and request_timeout.
//
// It exists only when one of them can fire: with the defaults (5 minutes idle, a 15 second
// route timeout that bounds the whole exchange anyway, no request timeout) no request pays
// for it. Bytes from the client are watched through the request body, whose reads move the
// downstream read deadline; bytes from the upstream through the proxy's copy loop. When the
// idle timer finds no activity it cancels the current try and closes the upstream body,
// which unblocks whatever the request's goroutine waits on. Writes blocked on a client that
// does not read are left to the listener's own timeouts.
type watchdog struct {
	idle        time.Duration // 0: no idle timeout
	reqDeadline time.Time     // zero: no request timeout
	rc          *http.ResponseController

	last  atomic.Int64 // UnixNano of the last activity
	timer *time.Timer
	fired atomic.Bool // the idle timeout fired

	bodyTimedOut atomic.Bool // a request body read hit the read deadline
	readDeadline time.Time   // the downstream read deadline last set (body reader only)

	mu     sync.Mutex
	cancel context.CancelFunc // the current try's
	body   io.Closer          // the current upstream response body
	done   bool
}

// newWatchdog returns nil when neither timeout can fire before the route timeout would.
func newWatchdog(w http.ResponseWriter, start time.Time, idle, routeTimeout, requestTimeout time.Duration, hasBody bool) *watchdog {
	if idle > 0 && routeTimeout > 0 && routeTimeout <= idle {
		idle = 0 // the route timeout ends the exchange first
	}
	if !hasBody {
		requestTimeout = 0 // the request was complete when its headers were
	}
	if idle <= 0 && requestTimeout <= 0 {
		return nil
	}
	wd := &watchdog{idle: idle, rc: http.NewResponseController(w)}
	if requestTimeout > 0 {
		wd.reqDeadline = start.Add(requestTimeout)
	}
	wd.touch()
	if idle > 0 {
		wd.timer = time.AfterFunc(idle, wd.check)
	}
	return wd
}

func (wd *watchdog) touch() { wd.last.Store(time.Now().UnixNano()) }

// check runs on the timer: re-arm while there was activity, else stop the exchange.
func (wd *watchdog) check() {
	if left := wd.idle - time.Duration(time.Now().UnixNano()-wd.last.Load()); left > 0 {
		wd.mu.Lock()
		if !wd.done {
			wd.timer.Reset(left)
		}
		wd.mu.Unlock()
		return
	}
	wd.fired.Store(true)
	wd.mu.Lock()
	defer wd.mu.Unlock()
	if wd.cancel != nil {
		wd.cancel()
	}
	if wd.body != nil {
		wd.body.Close()
	}
}

// setTry records the current try's cancel function and response body (nil, nil between tries).
func (wd *watchdog) setTry(cancel context.CancelFunc, body io.Closer) {
	wd.mu.Lock()
	wd.cancel, wd.body = cancel, body
	fired := wd.fired.Load()
	wd.mu.Unlock()
	if fired && cancel != nil {
		cancel()
	}
}

// stop ends the watch; the request is over.
func (wd *watchdog) stop() {
	wd.mu.Lock()
	wd.done = true
	wd.cancel, wd.body = nil, nil
	wd.mu.Unlock()
	if wd.timer != nil {
		wd.timer.Stop()
	}
}

// timedOut returns the 408 body to answer with when a timeout ended the request: "stream
// timeout" (idle) or "request timeout", else "".
func (wd *watchdog) timedOut() string {
	if wd == nil {
		return ""
	}
	if wd.bodyTimedOut.Load() {
		if !wd.reqDeadline.IsZero() && !time.Now().Before(wd.reqDeadline) {
			return bodyRequestTimeout
		}
		return bodyStreamTimeout
	}
	if wd.fired.Load() {
		return bodyStreamTimeout
	}
	return ""
}

// armRead moves the downstream read deadline to the earlier of now+idle and the request
// deadline. Deadline updates cost a timer operation, so the idle deadline only moves once it
// is an eighth of idle stale, which makes the timeout up to that much shorter.
func (wd *watchdog) armRead() {
	want := wd.reqDeadline
	if wd.idle > 0 {
		if t := time.Now().Add(wd.idle); want.IsZero() || t.Before(want) {
			want = t
		}
	}
	if !wd.readDeadline.IsZero() && !wd.readDeadline.After(want) && wd.readDeadline.After(want.Add(-wd.idle/8)) {
		return
	}
	wd.readDeadline = want
	wd.rc.SetReadDeadline(want)
}

// watchBody is the request body as the watchdog sees it.
type watchBody struct {
	io.ReadCloser
	wd *watchdog
}

func (b *watchBody) Read(p []byte) (int, error) {
	b.wd.armRead()
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.wd.touch()
	}
	switch {
	case err == io.EOF:
		// The whole request is in: the request timeout no longer applies.
		b.wd.readDeadline = time.Time{}
		b.wd.rc.SetReadDeadline(time.Time{})
	case err != nil && isTimeout(err):
		b.wd.bodyTimedOut.Store(true)
	}
	return n, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
