// Package gateway is Pylon's LLM gateway: the llm route action. It serves the OpenAI- and
// Anthropic-compatible APIs, parses each request once, picks targets by model name, calls
// providers through their clusters with fallback before the first byte, translates answers
// (streams chunk by chunk) into the client's dialect, and accounts for tokens and cost.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pylon-gateway/pylon/internal/access"
	"github.com/pylon-gateway/pylon/internal/cluster"
	"github.com/pylon-gateway/pylon/internal/config"
	"github.com/pylon-gateway/pylon/internal/limits"
	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/cache"
	dialectopenai "github.com/pylon-gateway/pylon/internal/llm/dialect/openai"
	"github.com/pylon-gateway/pylon/internal/llm/extcontext"
	"github.com/pylon-gateway/pylon/internal/llm/pii"
	"github.com/pylon-gateway/pylon/internal/llm/session"
	"github.com/pylon-gateway/pylon/internal/llm/transform"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
	"github.com/pylon-gateway/pylon/internal/stats"
	"github.com/pylon-gateway/pylon/internal/stream"
)

// Shared is the LLM state that outlives a config snapshot: cooldowns of failing targets.
// One per process.
type Shared struct {
	cooldowns *cooldowns
	memory    memoryCaches

	// Access authenticates API keys and knows their scopes and limits: set when the
	// config has a management plane (store), nil otherwise.
	Access *access.Access
	// Limiter enforces limits and budgets: in process, or in Redis for several nodes.
	Limiter limits.Limiter

	// Sessions keeps conversations (in process or Redis); nil without llm.sessions.
	Sessions session.Store
	// CacheStore holds cached answers shared by nodes (Redis); nil: in process.
	CacheStore cache.Store
	// Semantic is the semantic cache's index; nil without llm.cache.semantic.
	Semantic *cache.Semantic

	settles sync.WaitGroup // reservations being settled after their calls
}

// Drain waits, up to ctx's end, for the settlements still running: call it at shutdown,
// before the limiter's connections close.
func (s *Shared) Drain(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.settles.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// NewShared returns the process-wide LLM state.
func NewShared() *Shared { return &Shared{cooldowns: newCooldowns()} }

// Gateway serves the LLM APIs of one config snapshot. It is immutable and safe for
// concurrent use.
type Gateway struct {
	providers   map[string]*provider
	router      *router
	shared      *Shared
	cooldown    time.Duration
	maxAttempts int
	maxBody     int64
	prices      *usage.Table
	cache       *responseCache
	pii         *pii.Redactor
	piiReplies  *pii.Redactor // masks PII in replies; nil unless llm.pii.replies
	sessions    *config.LLMSessions
	transforms  *transform.Set
	context     *extcontext.Client
	estimator   usage.Estimator
	metrics     *stats.LLM
	log         *slog.Logger
}

// Options carry what a gateway needs besides the config.
type Options struct {
	Clusters map[string]*cluster.Cluster
	Shared   *Shared
	Stats    *stats.Registry
	Log      *slog.Logger
}

// New builds the gateway of cfg. It returns nil, nil when cfg has no llm route and no
// provider: nothing to serve.
func New(cfg *config.Config, opts Options) (*Gateway, error) {
	if len(cfg.Providers) == 0 && !hasLLMRoute(cfg) {
		return nil, nil
	}
	if opts.Shared == nil {
		opts.Shared = NewShared()
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	g := &Gateway{
		providers:   map[string]*provider{},
		shared:      opts.Shared,
		cooldown:    cfg.LLM.Cooldown.D(),
		maxAttempts: cfg.LLM.MaxAttempts,
		maxBody:     cfg.LLM.MaxRequestBytes,
		estimator:   usage.Heuristic{},
		log:         opts.Log,
	}
	if opts.Stats != nil {
		g.metrics = opts.Stats.LLM()
	}
	prices, err := usage.LoadTable(usage.Embedded(), cfg.LLM.PriceFile)
	if err != nil {
		return nil, fmt.Errorf("llm.price_file: %w", err)
	}
	g.prices = prices
	var errs []error
	for i := range cfg.Providers {
		p, err := newProvider(&cfg.Providers[i], opts.Clusters, opts.Log)
		if err != nil {
			errs = append(errs, fmt.Errorf("providers[%d]: %w", i, err))
			continue
		}
		g.providers[p.name] = p
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	g.router = newRouter(cfg, g.providers, opts.Shared.cooldowns, g.prices.Keys())
	g.cache = newResponseCache(cfg.LLM.Cache, opts.Shared)
	g.sessions = cfg.LLM.Sessions
	// The stores behind sessions, limits and the semantic cache are set up when the process
	// starts (they hold connections and state): a reload that adds them says so.
	if cfg.LLM.Sessions != nil && opts.Shared.Sessions == nil {
		opts.Log.Warn("llm.sessions takes effect at the next restart; sessions are off until then")
	}
	if c := cfg.LLM.Cache; c != nil && c.Semantic != nil && opts.Shared.Semantic == nil {
		opts.Log.Warn("llm.cache.semantic takes effect at the next restart; the exact cache works meanwhile")
	}
	if len(cfg.LLM.Transforms) > 0 {
		if g.transforms, err = transform.New(cfg.LLM.Transforms); err != nil {
			return nil, err
		}
	}
	if cfg.LLM.Context != nil {
		if g.context, err = extcontext.New(cfg.LLM.Context); err != nil {
			return nil, err
		}
	}
	if pc := cfg.LLM.PII; pc != nil {
		if g.pii, err = newRedactor(pc); err != nil {
			return nil, fmt.Errorf("llm.pii: %w", err)
		}
		if pc.Replies {
			masked := *pc
			masked.Mode, masked.Modes = "mask", nil
			if g.piiReplies, err = newRedactor(&masked); err != nil {
				return nil, fmt.Errorf("llm.pii: %w", err)
			}
		}
	}
	return g, nil
}

// newRedactor builds the PII redactor of the config.
func newRedactor(pc *config.LLMPII) (*pii.Redactor, error) {
	c := pii.Config{Mode: pii.Mode(pc.Mode), Detectors: pc.Detectors, Disable: pc.Disable}
	if len(pc.Modes) > 0 {
		c.Modes = map[string]pii.Mode{}
		for d, m := range pc.Modes {
			c.Modes[d] = pii.Mode(m)
		}
	}
	for _, cp := range pc.Custom {
		c.Custom = append(c.Custom, pii.CustomPattern{Name: cp.Name, Pattern: cp.Pattern, Label: cp.Label})
	}
	if pc.HashKey != nil {
		k, err := pc.HashKey.Resolve()
		if err != nil {
			return nil, fmt.Errorf("hash_key: %w", err)
		}
		c.HashKey = []byte(k)
	}
	return pii.New(c)
}

func hasLLMRoute(cfg *config.Config) bool {
	for _, l := range cfg.Listeners {
		for _, vh := range l.VirtualHosts {
			for _, r := range vh.Routes {
				if r.LLM != nil {
					return true
				}
			}
		}
	}
	return false
}

// endpoint is what a request path asks for.
type endpoint uint8

const (
	epUnknown endpoint = iota
	epChat
	epMessages
	epCountTokens
	epCompletions
	epEmbeddings
	epModels
	epModel
	epResponses
	epPromptAPI
	epSessions
)

// classify maps a path to an endpoint by its last segments, so that an llm route may live
// under any prefix (/v1/, /openai/v1/, /llm/).
func classify(method, path string) (endpoint, string) {
	if _, _, _, ok := promptPath(path); ok {
		return epPromptAPI, ""
	}
	if i := strings.LastIndex(path, "/sessions"); i >= 0 && (len(path) == i+len("/sessions") || path[i+len("/sessions")] == '/') {
		return epSessions, ""
	}
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
		return epChat, ""
	case strings.HasSuffix(path, "/messages/count_tokens"):
		return epCountTokens, ""
	case strings.HasSuffix(path, "/messages"):
		return epMessages, ""
	case strings.HasSuffix(path, "/completions"):
		return epCompletions, ""
	case strings.HasSuffix(path, "/embeddings"):
		return epEmbeddings, ""
	case strings.HasSuffix(path, "/responses"):
		return epResponses, ""
	case strings.HasSuffix(path, "/models"):
		return epModels, ""
	}
	if i := strings.LastIndex(path, "/models/"); i >= 0 && method == http.MethodGet {
		return epModel, path[i+len("/models/"):]
	}
	return epUnknown, ""
}

var openaiDialect = dialectopenai.Dialect{}

// caller is what the gateway knows of who makes a request and what the route allows.
type caller struct {
	allowed   []string          // the route's models, nil: any
	principal *access.Principal // nil on routes without auth
}

func (c *caller) allows(model string) bool {
	return allowedModel(model, c.allowed) && (c.principal == nil || access.AllowModel(c.principal, model))
}

// ServeLLM serves one request of an llm route.
func (g *Gateway) ServeLLM(w http.ResponseWriter, r *http.Request, info *stream.Info, route *config.RouteLLM) {
	ep, id := classify(r.Method, r.URL.Path)
	var who caller
	if route != nil {
		who.allowed = route.Models
	}
	d := llm.Dialect(openaiDialect)
	if ep == epMessages || ep == epCountTokens {
		if anthropicDialect == nil {
			openaiDialect.WriteError(w, llm.Errorf(llm.KindNotFound, "the Anthropic API is not available in this build"))
			return
		}
		d = anthropicDialect
	}
	wantMethod := http.MethodPost
	switch ep {
	case epModels, epModel:
		wantMethod = http.MethodGet
	case epSessions:
		wantMethod = r.Method // GET or DELETE, checked by serveSessions
	}
	if ep == epUnknown {
		info.Details = "llm_unknown_endpoint"
		d.WriteError(w, &llm.Error{Kind: llm.KindNotFound, Code: "unknown_url", Message: "Unknown request URL: " + r.Method + " " + r.URL.Path})
		return
	}
	if route != nil && route.Auth {
		p, e := g.authenticate(r, info, route)
		if e != nil {
			info.Details = "llm_unauthorized"
			d.WriteError(w, e)
			return
		}
		who.principal = p
	}
	if r.Method != wantMethod {
		w.Header().Set("Allow", wantMethod)
		d.WriteError(w, llm.Errorf(llm.KindInvalidRequest, "method %s not allowed on %s: use %s", r.Method, r.URL.Path, wantMethod))
		return
	}
	switch ep {
	case epSessions:
		g.serveSessions(w, r, &who)
		return
	case epModels:
		g.serveModels(w, &who)
		return
	case epModel:
		g.serveModel(w, id, &who)
		return
	}
	if !dialectopenai.ContentType(r.Header.Get("Content-Type")) {
		d.WriteError(w, llm.Errorf(llm.KindInvalidRequest, "content-type must be application/json, got %q", r.Header.Get("Content-Type")))
		return
	}
	body, e := g.readBody(r)
	if e != nil {
		info.Details = "llm_bad_request"
		d.WriteError(w, e)
		return
	}
	switch ep {
	case epChat, epMessages:
		g.serveChat(w, r, info, d, body, &who)
	case epCountTokens:
		g.serveCountTokens(w, body)
	case epCompletions, epEmbeddings, epResponses:
		g.servePassthrough(w, r, info, ep, body, &who)
	case epPromptAPI:
		g.servePromptAPI(w, r, info, body, &who)
	}
}

// authenticate checks the request's API key, the key's route and API scopes and its
// application's subscription to the route's API.
func (g *Gateway) authenticate(r *http.Request, info *stream.Info, route *config.RouteLLM) (*access.Principal, *llm.Error) {
	acc := g.shared.Access
	if acc == nil {
		return nil, llm.Errorf(llm.KindInternal, "this route requires API keys but the gateway has no store")
	}
	p, err := acc.Authenticate(access.Token(r))
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindAuthentication, Code: "invalid_api_key", Message: strings.TrimPrefix(err.Error(), "access: ")}
	}
	routeName := ""
	if info.Route != nil {
		routeName = info.Route.Name
	}
	if routeName != "" && !access.AllowRoute(p, routeName) {
		return nil, llm.Errorf(llm.KindPermission, "the API key may not use route %q (its scopes.routes do not include it)", routeName)
	}
	if route.API != "" {
		if !access.AllowAPI(p, route.API) {
			return nil, llm.Errorf(llm.KindPermission, "the API key may not call API %q (its scopes.apis do not include it)", route.API)
		}
		if !acc.Subscribed(p, route.API) {
			return nil, llm.Errorf(llm.KindPermission, "application %q has no approved subscription to API %q", p.AppName, route.API)
		}
	}
	return p, nil
}

// readBody reads the request body, bounded by max_request_bytes.
func (g *Gateway) readBody(r *http.Request) ([]byte, *llm.Error) {
	if r.Body == nil {
		return nil, llm.Errorf(llm.KindInvalidRequest, "the request has no body")
	}
	if r.ContentLength > g.maxBody {
		return nil, llm.Errorf(llm.KindTooLarge, "the request body is %d bytes; the limit is %d", r.ContentLength, g.maxBody)
	}
	n := r.ContentLength
	if n < 0 || n > 1<<20 {
		n = 4096
	}
	buf := make([]byte, 0, n+1)
	for {
		if int64(len(buf)) > g.maxBody {
			return nil, llm.Errorf(llm.KindTooLarge, "the request body is larger than the limit of %d bytes", g.maxBody)
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, llm.Errorf(llm.KindInvalidRequest, "reading the request body: %v", err)
		}
	}
	// The last read may have brought the body over the limit along with io.EOF.
	if int64(len(buf)) > g.maxBody {
		return nil, llm.Errorf(llm.KindTooLarge, "the request body is larger than the limit of %d bytes", g.maxBody)
	}
	if len(buf) == 0 {
		return nil, llm.Errorf(llm.KindInvalidRequest, "the request body is empty: a JSON object is expected")
	}
	return buf, nil
}

// allowedModel reports whether a route that limits models lets model through.
func allowedModel(model string, allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	for _, a := range allowed {
		if a == model || (strings.HasSuffix(a, "*") && strings.HasPrefix(model, a[:len(a)-1])) {
			return true
		}
	}
	return false
}

func modelNotFound(model string) *llm.Error {
	return &llm.Error{Kind: llm.KindNotFound, Code: "model_not_found", Param: "model",
		Message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", model)}
}
