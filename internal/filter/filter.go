// Package filter defines Pylon's HTTP filters: the ordered steps a listener runs on every
// request before the router (auth, rate limits, CORS, the LLM gateway...).
//
// A filter is middleware with Envoy's ordering: decoding (the request) runs in list order and
// encoding (the response) in reverse, which is what wrapping handlers gives naturally. The
// route is matched before the chain runs, so a filter can read it (RouteFrom) and per-route
// config can replace or disable a filter for that route.
//
// Built-in filters register themselves by name from their own packages; internal/app imports
// them explicitly, so the binary's set of filters is visible in one place.
package filter

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Filter handles one request and calls next to continue the chain (or answers itself).
type Filter interface {
	ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler)
}

// Func adapts a function to Filter.
type Func func(w http.ResponseWriter, r *http.Request, next http.Handler)

// ServeHTTP calls f.
func (f Func) ServeHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) { f(w, r, next) }

// Factory builds a filter from its listener-level YAML config (zero Node when none was given).
type Factory interface {
	New(cfg yaml.Node) (Filter, error)
}

// PerRouteFactory is implemented by factories whose filter can be reconfigured per route: the
// route's YAML is applied to the listener-level filter and gives the filter used on that route.
type PerRouteFactory interface {
	Factory
	PerRoute(base Filter, cfg yaml.Node) (Filter, error)
}

var (
	mu       sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes a filter available under name. It panics on a duplicate name: that is a
// programming error in the binary's wiring.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic("filter: duplicate registration of " + name)
	}
	registry[name] = f
}

// Lookup returns the factory registered under name.
func Lookup(name string) (Factory, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := registry[name]
	return f, ok
}

// Names lists the registered filters, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Chain runs filters in order in front of a terminal handler.
func Chain(filters []Filter, terminal http.Handler) http.Handler {
	h := terminal
	for i := len(filters) - 1; i >= 0; i-- {
		h = link{f: filters[i], next: h}
	}
	return h
}

type link struct {
	f    Filter
	next http.Handler
}

func (l link) ServeHTTP(w http.ResponseWriter, r *http.Request) { l.f.ServeHTTP(w, r, l.next) }

// Disabled reports whether a per-route filter config is `{disabled: true}`.
func Disabled(cfg yaml.Node) (bool, error) {
	if cfg.Kind != yaml.MappingNode {
		return false, nil
	}
	for i := 0; i+1 < len(cfg.Content); i += 2 {
		if cfg.Content[i].Value == "disabled" {
			var d bool
			if err := cfg.Content[i+1].Decode(&d); err != nil {
				return false, fmt.Errorf("disabled: want true or false")
			}
			return d, nil
		}
	}
	return false, nil
}

// DecodeStrict decodes a filter's YAML config into v, rejecting unknown fields.
func DecodeStrict(cfg yaml.Node, v any) error {
	if cfg.Kind == 0 {
		return nil
	}
	out, err := yaml.Marshal(&cfg)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	dec.KnownFields(true)
	return dec.Decode(v)
}
