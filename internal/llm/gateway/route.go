package gateway

import (
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pylon-gateway/pylon/internal/config"
)

// target is one provider model that can serve a public model.
type target struct {
	provider *provider
	model    string
	weight   uint32
	priority int
	// modelHeader is the X-Pylon-Model value of a configured target, shared by every
	// response (read-only); nil for a target made up for one request.
	modelHeader []string
}

func (t target) key() string { return t.provider.name + "/" + t.model }

// modelRoute is a public model name with its targets and fallbacks.
type modelRoute struct {
	name      string
	targets   []target // sorted by priority
	fallbacks []target
}

// router maps a requested model name to the targets to try, in order.
type router struct {
	routes    map[string]*modelRoute
	byModel   map[string][]target // provider models served under their own name
	providers map[string]*provider
	order     []*provider // providers in config order, for prefix claims
	cooldown  *cooldowns
}

// claims maps model name prefixes to the provider types that serve them, so that a bare
// "gpt-4o" or "claude-haiku-4-5" reaches a provider enabled from the environment. The
// first claim with a provider wins: a longer prefix comes before a shorter one it extends
// (Gemini's text-embedding-004 before OpenAI's text-embedding-3-small).
var claims = []struct{ prefix, typ string }{
	{"text-embedding-00", "gemini"},
	{"gpt-", "openai"}, {"o1", "openai"}, {"o3", "openai"}, {"o4", "openai"}, {"chatgpt-", "openai"},
	{"text-embedding-", "openai"}, {"davinci", "openai"}, {"babbage", "openai"},
	{"claude-", "anthropic"},
	{"gemini-", "gemini"},
	{"mistral-", "mistral"}, {"ministral-", "mistral"}, {"codestral-", "mistral"}, {"magistral-", "mistral"},
	{"deepseek-", "deepseek"},
	{"grok-", "xai"},
}

func newRouter(cfg *config.Config, providers map[string]*provider, cd *cooldowns, known []string) *router {
	r := &router{routes: map[string]*modelRoute{}, byModel: map[string][]target{}, providers: providers, cooldown: cd}
	for i := range cfg.Providers {
		p := providers[cfg.Providers[i].Name]
		if p == nil {
			continue
		}
		r.order = append(r.order, p)
		models := cfg.Providers[i].Models
		if len(models) == 0 && cfg.Providers[i].FromEnv {
			// A provider enabled from the environment serves the models the price table
			// knows for its type, under their own names.
			for _, k := range known {
				if typ, m, ok := strings.Cut(k, "/"); ok && typ == p.typ && !strings.Contains(m, "/") {
					models = append(models, m)
				}
			}
		}
		for _, m := range models {
			r.byModel[m] = append(r.byModel[m], target{provider: p, model: m, weight: 1, modelHeader: []string{m}})
		}
	}
	for _, m := range cfg.Models {
		mr := &modelRoute{name: m.Name}
		for _, t := range m.Targets {
			if p := providers[t.Provider]; p != nil {
				mr.targets = append(mr.targets, target{provider: p, model: t.Model, weight: t.Weight, priority: t.Priority,
					modelHeader: []string{t.Model}})
			}
		}
		sort.SliceStable(mr.targets, func(i, j int) bool { return mr.targets[i].priority < mr.targets[j].priority })
		for _, f := range m.Fallbacks {
			prov, model, _ := strings.Cut(f, "/")
			if p := providers[prov]; p != nil {
				mr.fallbacks = append(mr.fallbacks, target{provider: p, model: model, weight: 1, modelHeader: []string{model}})
			}
		}
		r.routes[m.Name] = mr
	}
	return r
}

// plan returns the targets to try for model, in order: the route's priority groups (each
// shuffled by weight), then its fallbacks; targets cooling down after a failure go last, so
// that they are tried only when nothing else is left. nil: the model is unknown.
func (r *router) plan(model string, now time.Time) []target {
	var out []target
	if mr := r.routes[model]; mr != nil {
		out = make([]target, 0, len(mr.targets)+len(mr.fallbacks))
		for i := 0; i < len(mr.targets); {
			j := i
			for j < len(mr.targets) && mr.targets[j].priority == mr.targets[i].priority {
				j++
			}
			out = appendWeighted(out, mr.targets[i:j])
			i = j
		}
		out = append(out, mr.fallbacks...)
	} else if ts := r.byModel[model]; len(ts) > 0 {
		out = appendWeighted(make([]target, 0, len(ts)), ts)
	} else if prov, m, ok := strings.Cut(model, "/"); ok && r.providers[prov] != nil && m != "" {
		out = []target{{provider: r.providers[prov], model: m, weight: 1}}
	} else if p := r.claim(model); p != nil {
		out = []target{{provider: p, model: model, weight: 1}}
	} else {
		return nil
	}
	if len(out) > 1 {
		out = r.cooldown.last(out, now)
	}
	return out
}

// claim returns the first provider whose type serves models named like model.
func (r *router) claim(model string) *provider {
	for _, c := range claims {
		if !strings.HasPrefix(model, c.prefix) {
			continue
		}
		for _, p := range r.order {
			if p.typ == c.typ || (c.typ == "openai" && p.typ == "azure") {
				return p
			}
		}
	}
	return nil
}

// models lists the public model names: routes, then provider models.
func (r *router) models() []string {
	var out []string
	for name := range r.routes {
		out = append(out, name)
	}
	for name := range r.byModel {
		if r.routes[name] == nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// appendWeighted appends ts in a random order where heavier targets tend to come first
// (weighted sampling without replacement).
func appendWeighted(out []target, ts []target) []target {
	if len(ts) == 1 {
		return append(out, ts[0])
	}
	rest := append([]target(nil), ts...)
	for len(rest) > 0 {
		var total uint64
		for _, t := range rest {
			total += uint64(t.weight)
		}
		i := 0
		if total > 0 {
			x := rand.Uint64N(total)
			for i = 0; i < len(rest)-1; i++ {
				if x < uint64(rest[i].weight) {
					break
				}
				x -= uint64(rest[i].weight)
			}
		}
		out = append(out, rest[i])
		rest = append(rest[:i], rest[i+1:]...)
	}
	return out
}

// cooldowns remembers until when a failing target is set aside. It is shared by the
// snapshots of a process, so that a reload does not forget a failing provider.
type cooldowns struct {
	mu    sync.Mutex
	until map[string]time.Time
}

func newCooldowns() *cooldowns { return &cooldowns{until: map[string]time.Time{}} }

func (c *cooldowns) set(t target, until time.Time) {
	c.mu.Lock()
	c.until[t.key()] = until
	c.mu.Unlock()
}

func (c *cooldowns) clear(t target) {
	c.mu.Lock()
	delete(c.until, t.key())
	c.mu.Unlock()
}

// last moves the targets cooling down to the end, keeping the order otherwise.
func (c *cooldowns) last(ts []target, now time.Time) []target {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.until) == 0 {
		return ts
	}
	hot := ts[:0:0]
	var cold []target
	for _, t := range ts {
		if u, ok := c.until[t.key()]; ok && u.After(now) {
			cold = append(cold, t)
			continue
		}
		hot = append(hot, t)
	}
	return append(hot, cold...)
}
