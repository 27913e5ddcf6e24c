// Package stream carries the per-request state that the connection manager, the filters and
// the router share: the matched route, the chosen upstream, Envoy's response flags. It lives
// in the request context so that filters in their own packages can read it.
package stream

import (
	"context"
	"time"

	"github.com/pylon-gateway/pylon/internal/router"
)

// Info is the state of one request. Only the goroutine serving the request touches it.
type Info struct {
	Start        time.Time
	Listener     string
	Route        *router.Route
	RequestID    string
	RemoteIP     string
	Internal     bool   // an internal client: its x-envoy-* retry and timeout headers are honoured
	OriginalPath string // set when the router rewrote the path

	Cluster             string
	UpstreamHost        string
	UpstreamServiceTime time.Duration // -1 until upstream headers arrive

	Upgraded bool // the connection switched protocols (WebSocket): status 101

	Flags   string // Envoy response flags: NR, NC, UH, UF, UC, UT, DC...
	Details string // Envoy response code details: via_upstream, route_not_found...
}

type key struct{}

// With returns ctx carrying info. The request contexts of Pylon's HTTP/1.1 listeners take
// the value in place (see valueAttacher); others are wrapped with context.WithValue.
func With(ctx context.Context, info *Info) context.Context {
	if a, ok := ctx.(valueAttacher); ok && a.AttachValue(key{}, info) {
		return ctx
	}
	return context.WithValue(ctx, key{}, info)
}

// valueAttacher is a context that can carry one more value without a wrapper, which keeps
// it the direct parent of the contexts derived from it (internal/listener/h1).
type valueAttacher interface {
	AttachValue(key, val any) bool
}

// From returns the request's Info, or nil outside a Pylon request.
func From(ctx context.Context) *Info {
	i, _ := ctx.Value(key{}).(*Info)
	return i
}
