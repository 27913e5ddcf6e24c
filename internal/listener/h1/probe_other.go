//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package h1

import "net"

// probeSupported is false here: the disconnect watcher does not run, and a client that goes
// away is only noticed on the next write.
const probeSupported = false

func peerGone(net.Conn) bool { return false }
