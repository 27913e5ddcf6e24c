//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package h1

import "net"

// connAlive cannot probe sockets on this platform: idle connections are reused unprobed.
func connAlive(net.Conn) bool { return true }
