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

// responseCache is the gateway's view of the cache: the store, the TTL and the semantic
// index (nil without one).
type responseCache struct {
	store     cache.Store
	ttl       time.Duration
	semantic  *cache.Semantic
	embedding string  // the embedding model of the semantic cache
	threshold float32 // the least similarity of a semantic hit
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
	rc := &responseCache{ttl: cfg.TTL.D()}
	if shared.CacheStore != nil {
		rc.store = shared.CacheStore
	} else {
		rc.store = shared.memory.get(cfg.MaxBytes)
	}
	if sc := cfg.Semantic; sc != nil && shared.Semantic != nil {
		rc.semantic, rc.embedding, rc.threshold = shared.Semantic, sc.EmbeddingModel, float32(sc.Threshold)
	}
	return rc
}

// cacheLookup decides what the cache does for req: the key to store the answer under ("" for
// none), and a hit to serve.
func (g *Gateway) cacheLookup(ctx context.Context, r *http.Request, req *openai.ChatRequest, scope string) (string, *cache.Entry, string) {
	if g.cache == nil {
		return "", nil, ""
	}
	mode := strings.ToLower(r.Header.Get(cacheControlHeader))
	if mode == "bypass" || (req.N != nil && *req.N > 1) {
		return "", nil, "bypass"
	}
	key, err := cache.Key(scope, req)
	if err != nil {
		return "", nil, "bypass"
	}
	if mode == "refresh" {
		return key, nil, "refresh"
	}
	b, ok, err := g.cache.store.Get(ctx, key)
	if err == nil && ok {
		if e, err := cache.Decode(b); err == nil {
			return key, e, "hit"
		}
	}
	return key, nil, "miss"
}

// semanticLookup looks for a cached answer to a similar question. It returns the vector
// and scope to index the answer under when the call goes to a provider.
func (g *Gateway) semanticLookup(ctx context.Context, scope string, req *openai.ChatRequest) (*cache.Entry, []float32, string, float32) {
	c := g.cache
	if c == nil || c.semantic == nil {
		return nil, nil, "", 0
	}
	text, ok := cache.SemanticText(req)
	if !ok {
		return nil, nil, "", 0
	}
	sscope, err := cache.SemanticScope(scope, req)
	if err != nil {
		return nil, nil, "", 0
	}
	ectx, cancel := context.WithTimeout(ctx, 2*time.Second)
	vec, err := g.embed(ectx, c.embedding, text)
	cancel()
	if err != nil {
		g.log.Warn("llm cache: embedding failed; the semantic cache is skipped", "model", c.embedding, "error", err)
		return nil, nil, "", 0
	}
	k, sim, ok := c.semantic.Search(sscope, vec, c.threshold)
	if !ok {
		return nil, vec, sscope, sim
	}
	b, found, err := c.store.Get(ctx, k)
	if err != nil || !found {
		c.semantic.Remove(sscope, k) // the answer expired before its vector
		return nil, vec, sscope, sim
	}
	e, err := cache.Decode(b)
	if err != nil {
		return nil, vec, sscope, sim
	}
	return e, vec, sscope, sim
}

// cacheStore keeps a complete answer, and indexes its question for the semantic cache.
func (g *Gateway) cacheStore(ctx context.Context, acct *accounting, resp *openai.ChatResponse) {
	key, t := acct.cacheKey, acct.target
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
		return
	}
	if acct.semVec != nil && g.cache.semantic != nil {
		if err := g.cache.semantic.Add(ctx, acct.semScope, key, acct.semVec, g.cache.ttl); err != nil {
			g.log.Warn("llm cache: semantic index failed", "error", err)
		}
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

// maskReply masks PII the model wrote in a non-streamed answer.
func (g *Gateway) maskReply(out *openai.ChatResponse) *openai.ChatResponse {
	cp := *out
	cp.Raw = nil
	cp.Choices = append([]openai.Choice(nil), out.Choices...)
	for i := range cp.Choices {
		m := &cp.Choices[i].Message
		if m.Content == nil {
			continue
		}
		text, counts := g.piiReplies.Redact(m.Content.String(), pii.NewVault())
		if len(counts) > 0 {
			m.Content = openai.TextContent(text)
		}
	}
	return &cp
}
