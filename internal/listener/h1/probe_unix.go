//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package h1

import (
	"net"
	"syscall"
)

const probeSupported = true

// peerGone reports whether the client side of c is known to be closed: a non-blocking
// MSG_PEEK on the socket finds end of file, or fails with ECONNRESET. Bytes waiting (a
// pipelined request) or nothing to read mean the client is still there; nothing is consumed.
// A connection whose socket cannot be reached is never reported gone.
//
// The probe runs through RawConn.Control, not RawConn.Read: Read takes the descriptor's read
// lock, and the connection's goroutine may be blocked in a read holding it (the request just
// ended and it waits for the next one), which would stall the watcher. Peeking next to a
// concurrent read is harmless: neither changes what the other sees.
func peerGone(c net.Conn) bool {
	for range 8 {
		switch x := c.(type) {
		case syscall.Conn:
			rc, err := x.SyscallConn()
			if err != nil {
				return false
			}
			gone := false
			err = rc.Control(func(fd uintptr) {
				var b [1]byte
				for {
					n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
					if err == syscall.EINTR {
						continue
					}
					// n is -1 on any error, so 0 is end of file even when err reports a
					// source address that could not be decoded (Unix sockets).
					gone = n == 0 || err == syscall.ECONNRESET
					return
				}
			})
			return gone && err == nil
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return false
		}
	}
	return false
}
