//go:build !linux

package runtime

import (
	"context"
	"net"
)

// listen binds addr. Without SO_REUSEPORT a reload that rebinds an address in use fails and
// is rejected (the old config keeps serving).
func listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", addr)
}
