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

// With returns ctx carrying info.
func With(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, key{}, info)
}

// From returns the request's Info, or nil outside a Pylon request.
func From(ctx context.Context) *Info {
	i, _ := ctx.Value(key{}).(*Info)
	return i
}
