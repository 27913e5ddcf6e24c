package runtime

import (
	"context"
	"net"
	"syscall"
)

// listen binds addr with SO_REUSEPORT, so that a reload can open a listener's new socket
// while the old one still accepts.
func listen(ctx context.Context, addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(ctx, "tcp", addr)
}

// soReusePort is SO_REUSEPORT on Linux (the syscall package does not export it).
const soReusePort = 0xf
