//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package h1

import (
	"net"
	"syscall"
)

// connAlive reports whether an idle connection may still be used: a non-blocking read on
// its socket must find nothing to read. End-of-file (the upstream closed it), an error or
// unexpected bytes mean it must be discarded (a byte read is lost, but so is the
// connection). Connections whose socket cannot be reached count as alive.
func connAlive(c net.Conn) bool {
	for range 8 {
		switch x := c.(type) {
		case syscall.Conn:
			rc, err := x.SyscallConn()
			if err != nil {
				return true
			}
			alive := true
			err = rc.Read(func(fd uintptr) bool {
				var b [1]byte
				n, err := syscall.Read(int(fd), b[:])
				alive = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR)
				return true // never wait for readiness
			})
			return alive && err == nil
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return true
		}
	}
	return true
}
