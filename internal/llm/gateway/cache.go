package gateway

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/cache"
	"github.com/pylon-gateway/pylon/internal/llm/pii"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// The request header that tunes the cache for one call, and the answer's header that says
// what the cache did.
const (
	cacheControlHeader = "X-Pylon-Cache-Control" // bypass: neither read nor write; refresh: write only
	cacheStatusHeader  = "X-Pylon-Cache"         // hit, miss, bypass, refresh
)

// responseCache is the gateway's view of the cache: the store and the TTL.
type responseCache struct {
	store cache.Store
	ttl   time.Duration
}

// memoryCaches keeps the in-process cache across snapshots (one per size), so that a reload
// does not empty it.
type memoryCaches struct {
	mu sync.Mutex
	m  *cache.Memory
	n  int64
}

func (mc *memoryCaches) get(maxBytes int64) *cache.Memory {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.m == nil || mc.n != maxBytes {
		mc.m, mc.n = cache.NewMemory(maxBytes), maxBytes
	}
	return mc.m
}

func newResponseCache(cfg *config.LLMCache, shared *Shared) *responseCache {
	if cfg == nil {
		return nil
	}
	return &responseCache{store: shared.memory.get(cfg.MaxBytes), ttl: cfg.TTL.D()}
}

// cacheLookup decides what the cache does for req: the key to store the answer under ("" for
// none), and a hit to serve.
func (g *Gateway) cacheLookup(ctx context.Context, r *http.Request, req *openai.ChatRequest) (string, *cache.Entry, string) {
	if g.cache == nil {
		return "", nil, ""
	}
	mode := strings.ToLower(r.Header.Get(cacheControlHeader))
	if mode == "bypass" || (req.N != nil && *req.N > 1) {
		return "", nil, "bypass"
	}
	key, err := cache.Key("", req)
	if err != nil {
		return "", nil, "bypass"
	}
	if mode == "refresh" {
		return key, nil, "refresh"
	}
	b, ok, err := g.cache.store.Get(ctx, key)
	if err != nil || !ok {
		return key, nil, "miss"
	}
	e, err := cache.Decode(b)
	if err != nil {
		return key, nil, "miss"
	}
	return key, e, "hit"
}

// cacheStore keeps a complete answer.
func (g *Gateway) cacheStore(ctx context.Context, key string, resp *openai.ChatResponse, t target) {
	if key == "" || resp == nil || len(resp.Choices) == 0 || resp.Choices[0].FinishReason == "" {
		return
	}
	stored := *resp
	stored.Raw = nil
	e := &cache.Entry{Response: &stored, Provider: t.provider.name, Model: t.model, Stored: time.Now()}
	b, err := e.Encode()
	if err != nil {
		return
	}
	if err := g.cache.store.Set(ctx, key, b, g.cache.ttl); err != nil {
		g.log.Warn("llm cache: store failed", "error", err)
	}
}

// serveHit answers from the cache: plain, or replayed as a stream.
func (g *Gateway) serveHit(w http.ResponseWriter, d llm.Dialect, req *openai.ChatRequest, e *cache.Entry, vault *pii.Vault) {
	if vault != nil && vault.Len() > 0 {
		// Entries keep PII tokenized; this call's vault has the same tokens for the same
		// request, so the client gets its own data back.
		if r, err := pii.RestoreResponse(e.Response, vault); err == nil {
			cp := *e
			cp.Response = r
			e = &cp
		}
	}
	h := w.Header()
	h[cacheStatusHeader] = []string{"hit"}
	h["X-Pylon-Provider"] = []string{e.Provider}
	h["X-Pylon-Model"] = []string{e.Model}
	if g.metrics != nil {
		g.metrics.CacheHits.WithLabelValues(e.Provider, e.Model).Inc()
		if u := e.Response.Usage; u != nil {
			g.metrics.CacheSavedTokens.WithLabelValues(e.Provider, e.Model).Add(float64(u.PromptTokens + u.CompletionTokens))
			if p := g.providers[e.Provider]; p != nil {
				price, _ := g.prices.Lookup(p.typ, e.Model)
				if cost, known := usage.Cost(normalize(u), price); known {
					g.metrics.CacheSavedCost.WithLabelValues(e.Provider, e.Model).Add(float64(cost) / float64(usage.Dollar))
				}
			}
		}
	}
	if !req.Stream {
		d.WriteChat(w, e.Response, req)
		return
	}
	sw := d.NewStream(w, req)
	for _, c := range cache.Chunks(e.Response, 64) {
		if sw.WriteChunk(c) != nil {
			return
		}
	}
	sw.Close()
}
