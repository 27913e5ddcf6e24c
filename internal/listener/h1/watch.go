package h1

import "time"

// Disconnect watcher. This server does no background read, so a handler that waits without
// writing (a proxied request waiting for a slow, non-streaming upstream) would not notice a
// client that went away. One goroutine per Server, running while it has connections, looks
// every watchInterval at the requests in flight; a request it saw in flight on the previous
// tick too (so running for at least about watchInterval) whose body has been read to its end
// (or that has none) gets its socket probed with a non-blocking MSG_PEEK (peerGone). End of
// file or a reset cancels the request's context. Bytes waiting (a pipelined request) are not
// a disconnect, and nothing is consumed. Short requests pay nothing: the watcher only reads the
// in-flight pointer the connection publishes anyway (for Close) and a field it owns.
//
// A FastConn publishes the same stand-in response for each request it serves, so for those
// the request's number on the connection (FastConn.seq) tells one request from the next, and
// the cancellation goes to that number only (FastConn.cancelSeq): by then the connection may
// be serving the next request.
const watchInterval = 100 * time.Millisecond

type watchItem struct {
	c   *conn
	w   *response
	seq uint64 // w.fast's request number
}

// startWatchLocked starts the watcher if it is not running. s.mu is held.
func (s *Server) startWatchLocked() {
	if s.watching || !probeSupported {
		return
	}
	s.watching = true
	go s.watch()
}

func (s *Server) watch() {
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	var items []watchItem
	for range t.C {
		items = items[:0]
		s.mu.Lock()
		if len(s.conns) == 0 {
			// Nothing to watch (every connection is gone, or the server was closed):
			// trackConn starts a new watcher with the next connection.
			s.watching = false
			s.mu.Unlock()
			return
		}
		for c := range s.conns {
			w := c.inflight.Load()
			prev := c.watchSeen
			c.watchSeen = w
			if w == nil || w != prev || w.watchDone {
				if w != nil && w.fast != nil {
					w.fast.watchSeq = w.fast.seq.Load()
				}
				continue
			}
			var seq uint64
			if f := w.fast; f != nil {
				// Loaded after w: a request with this number began before this tick.
				seq = f.seq.Load()
				prevSeq := f.watchSeq
				f.watchSeq = seq
				if seq != prevSeq || seq == f.watchDoneSeq {
					continue
				}
			}
			if w.hasBody && !w.body.eof.Load() {
				continue // the client may still be sending the body: as net/http, wait for it
			}
			items = append(items, watchItem{c, w, seq})
		}
		s.mu.Unlock()

		for i := range items {
			it := &items[i]
			if !peerGone(it.c.rwc) {
				it.c = nil
			}
		}

		s.mu.Lock()
		for i := range items {
			it := &items[i]
			if it.c == nil {
				continue
			}
			// Still tracked (Hijack untracks under s.mu) and still the same request.
			if _, ok := s.conns[it.c]; ok && it.c.inflight.Load() == it.w {
				if f := it.w.fast; f != nil {
					f.watchDoneSeq = it.seq
					f.cancelSeq(it.seq)
				} else {
					it.w.watchDone = true
					it.w.cancel()
				}
			}
		}
		s.mu.Unlock()
		clear(items) // do not keep connections alive until the next tick
	}
}
