// Package access is the data plane's view of the management plane: which API keys exist and
// what they may call (scopes, subscriptions), and the limits and budgets that apply to each
// call. It keeps an in-memory copy of the store, rebuilt whenever the store's revision moves
// (polled every second), so that authenticating a request costs a map lookup, and a change
// made through any node is enforced on every node within about two poll intervals.
package access

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pylon-gateway/pylon/internal/limits"
	"github.com/pylon-gateway/pylon/internal/store"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Principal is who a request is: an API key, its application and tenant.
type Principal struct {
	KeyID, KeyName   string
	AppID, AppName   string
	TenantID, Tenant string
	Scopes           store.Scopes
	expires          *time.Time
	revoked          bool
}

// Scope is the opaque string that partitions per-caller state (sessions, cache entries).
func (p *Principal) Scope() string { return p.TenantID + "/" + p.KeyID }

// Errors of Authenticate; all of them answer 401.
var (
	ErrNoKey      = errors.New("access: no API key: send Authorization: Bearer <key> (or x-api-key)")
	ErrUnknownKey = errors.New("access: unknown API key")
	ErrRevoked    = errors.New("access: the API key was revoked")
	ErrExpired    = errors.New("access: the API key has expired")
)

// view is one immutable copy of what the data plane needs.
type view struct {
	rev    int64
	keys   map[store.KeyHash]*Principal
	limits map[string][]limits.Limit // "<scope>/<id>" -> limits
	// subs holds, per application, the names of the APIs it has an approved subscription
	// to, where the API is published or deprecated.
	subs map[string]map[string]bool
	// prompts holds the published and deprecated prompt APIs by "tenant/name/version".
	prompts map[string]*PromptAPI
}

// PromptAPI is a prompt API ready to serve: its stored form and its compiled input schema.
type PromptAPI struct {
	store.PromptAPI
	TenantName string
	Schema     *jsonschema.Schema
}

// Access answers the data plane's questions from the current view.
type Access struct {
	mu   sync.Mutex // serialises reloads, so that an older view never replaces a newer one
	st   store.Store
	log  *slog.Logger
	v    atomic.Pointer[view]
	now  func() time.Time
	stop context.CancelFunc
}

// New loads the first view from st. Call Run to follow changes.
func New(ctx context.Context, st store.Store, log *slog.Logger) (*Access, error) {
	if log == nil {
		log = slog.Default()
	}
	a := &Access{st: st, log: log, now: time.Now}
	if err := a.Reload(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// listener is a store that can tell when another node changed it (PostgreSQL).
type listener interface {
	Listen(ctx context.Context, fn func()) bool
}

// Run follows the store's revision until ctx ends, reloading the view when it moves: at
// each change notification when the store sends them (so that a revoked key is refused on
// every node within milliseconds), and by polling every interval in any case.
func (a *Access) Run(ctx context.Context, interval time.Duration) {
	if l, ok := a.st.(listener); ok {
		kick := make(chan struct{}, 1)
		if l.Listen(ctx, func() {
			select {
			case kick <- struct{}{}:
			default:
			}
		}) {
			go func() {
				for {
					select {
					case <-ctx.Done():
						return
					case <-kick:
						rev, err := a.st.Revision(ctx)
						if err == nil && rev != a.v.Load().rev {
							if err := a.Reload(ctx); err != nil && ctx.Err() == nil {
								a.log.Error("access: reloading the store's view failed; the previous view stays", "error", err)
							}
						}
					}
				}
			}()
		}
	}
	store.Watch(ctx, a.st, interval, func(rev int64) {
		if v := a.v.Load(); v != nil && v.rev == rev {
			return
		}
		if err := a.Reload(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("access: reloading the store's view failed; the previous view stays", "error", err)
		}
	}, func(err error) {
		a.log.Warn("access: polling the store failed", "error", err)
	})
}

// Reload rebuilds the view from the store.
func (a *Access) Reload(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	rev, err := a.st.Revision(ctx)
	if err != nil {
		return fmt.Errorf("access: revision: %w", err)
	}
	v := &view{rev: rev, keys: map[store.KeyHash]*Principal{}, limits: map[string][]limits.Limit{}, subs: map[string]map[string]bool{},
		prompts: map[string]*PromptAPI{}}
	tenants := map[string]string{}
	if err := each(ctx, func(o store.ListOptions) (store.Page[store.Tenant], error) { return a.st.ListTenants(ctx, o) }, func(t store.Tenant) {
		tenants[t.ID] = t.Name
	}); err != nil {
		return err
	}
	apps := map[string]store.Application{}
	if err := each(ctx, func(o store.ListOptions) (store.Page[store.Application], error) {
		return a.st.ListApplications(ctx, "", o)
	}, func(x store.Application) {
		apps[x.ID] = x
	}); err != nil {
		return err
	}
	if err := each(ctx, func(o store.ListOptions) (store.Page[store.APIKey], error) { return a.st.ListKeys(ctx, "", o) }, func(k store.APIKey) {
		app := apps[k.ApplicationID]
		v.keys[k.Hash] = &Principal{KeyID: k.ID, KeyName: k.Name, AppID: k.ApplicationID, AppName: app.Name,
			TenantID: k.TenantID, Tenant: tenants[k.TenantID], Scopes: k.Scopes, expires: k.ExpiresAt, revoked: k.RevokedAt != nil}
	}); err != nil {
		return err
	}
	apis := map[string]store.API{}
	if err := each(ctx, func(o store.ListOptions) (store.Page[store.API], error) { return a.st.ListAPIs(ctx, "", o) }, func(x store.API) {
		apis[x.ID] = x
	}); err != nil {
		return err
	}
	if err := each(ctx, func(o store.ListOptions) (store.Page[store.Subscription], error) {
		return a.st.ListSubscriptions(ctx, store.SubscriptionFilter{State: store.SubApproved}, o)
	}, func(s store.Subscription) {
		api, ok := apis[s.APIID]
		if !ok || (api.Lifecycle != store.Published && api.Lifecycle != store.Deprecated) {
			return
		}
		if v.subs[s.ApplicationID] == nil {
			v.subs[s.ApplicationID] = map[string]bool{}
		}
		v.subs[s.ApplicationID][api.Name] = true
		v.subs[s.ApplicationID][api.Name+"@"+api.APIVersion] = true
	}); err != nil {
		return err
	}
	if err := each(ctx, func(o store.ListOptions) (store.Page[store.Limit], error) { return a.st.ListLimits(ctx, "", "", o) }, func(l store.Limit) {
		if ll, ok := toLimit(l, tenants, apps); ok {
			k := string(l.Scope) + "/" + l.ScopeID
			v.limits[k] = append(v.limits[k], ll)
		}
	}); err != nil {
		return err
	}
	if err := each(ctx, func(o store.ListOptions) (store.Page[store.PromptAPI], error) { return a.st.ListPromptAPIs(ctx, "", o) }, func(p store.PromptAPI) {
		if p.Lifecycle != store.Published && p.Lifecycle != store.Deprecated {
			return
		}
		sch, err := compileSchema(p.InputSchema)
		if err != nil {
			a.log.Warn("access: a prompt API's input schema does not compile; it is not served", "prompt_api", p.ID, "error", err)
			return
		}
		v.prompts[tenants[p.TenantID]+"/"+p.Name+"/"+p.APIVersion] = &PromptAPI{PromptAPI: p, TenantName: tenants[p.TenantID], Schema: sch}
	}); err != nil {
		return err
	}
	a.v.Store(v)
	return nil
}

// compileSchema compiles a prompt API's JSON Schema.
func compileSchema(raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("prompt-api.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("prompt-api.json")
}

// PromptAPI returns a served prompt API by tenant name, API name and version, or nil.
func (a *Access) PromptAPI(tenant, name, version string) *PromptAPI {
	return a.v.Load().prompts[tenant+"/"+name+"/"+version]
}

// each walks every page of a list.
func each[T any](ctx context.Context, list func(store.ListOptions) (store.Page[T], error), fn func(T)) error {
	opt := store.ListOptions{Limit: store.MaxLimit}
	for {
		p, err := list(opt)
		if err != nil {
			return fmt.Errorf("access: load: %w", err)
		}
		for _, x := range p.Items {
			fn(x)
		}
		if p.Next == "" {
			return nil
		}
		opt.Cursor = p.Next
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// toLimit converts a stored limit into the limits engine's, named after what it limits.
func toLimit(l store.Limit, tenants map[string]string, apps map[string]store.Application) (limits.Limit, bool) {
	out := limits.Limit{ID: l.ScopeID, Max: l.Limit}
	owner := l.ScopeID
	switch l.Scope {
	case store.ScopeKey:
		out.Scope = limits.ScopeKey
		owner = "key " + l.ScopeID
	case store.ScopeApplication:
		out.Scope = limits.ScopeApp
		owner = "application " + apps[l.ScopeID].Name
	case store.ScopeTenant:
		out.Scope = limits.ScopeTenant
		owner = "tenant " + tenants[l.ScopeID]
	default:
		return out, false
	}
	switch l.Kind {
	case store.RequestsPerMinute:
		out.Kind, out.Window = limits.Requests, time.Minute
		out.Name = owner + " requests per minute"
	case store.TokensPerMinute:
		out.Kind, out.Window = limits.Tokens, time.Minute
		out.Name = owner + " tokens per minute"
	case store.Concurrent:
		out.Kind = limits.Concurrent
		out.Name = owner + " concurrent requests"
	case store.Spend:
		out.Kind = limits.Budget
		out.Unit = limits.UnitTokens
		if l.Unit == store.UnitPicodollars {
			out.Unit = limits.UnitMoney
		}
		out.Period = limits.Day
		if l.Period == store.PeriodMonth {
			out.Period = limits.Month
		}
		out.Name = owner + " " + out.Period.String() + " budget"
	default:
		return out, false
	}
	return out, out.Validate() == nil
}

// Token returns the API key a request carries: Authorization: Bearer <key>, or x-api-key
// (Anthropic's SDKs).
func Token(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
		if t, ok := strings.CutPrefix(h, "bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	return strings.TrimSpace(r.Header.Get("X-Api-Key"))
}

// Authenticate returns the principal of an API key.
func (a *Access) Authenticate(token string) (*Principal, error) {
	if token == "" {
		return nil, ErrNoKey
	}
	h, err := store.ParseKey(token)
	if err != nil {
		return nil, ErrUnknownKey
	}
	p := a.v.Load().keys[h]
	switch {
	case p == nil:
		return nil, ErrUnknownKey
	case p.revoked:
		return nil, ErrRevoked
	case p.expires != nil && !a.now().Before(*p.expires):
		return nil, ErrExpired
	}
	return p, nil
}

// AllowModel reports whether the key's scopes let it call model (no model scopes: any).
// Scopes are path patterns: "gpt-4o*", "openai/*".
func AllowModel(p *Principal, model string) bool { return allowed(p.Scopes.Models, model) }

// AllowRoute reports whether the key's scopes let it use a route (by name).
func AllowRoute(p *Principal, route string) bool { return allowed(p.Scopes.Routes, route) }

// AllowAPI reports whether the key's scopes let it call an API (by name).
func AllowAPI(p *Principal, api string) bool { return allowed(p.Scopes.APIs, api) }

func allowed(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if p == s || p == "*" {
			return true
		}
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// Subscribed reports whether the key's application has an approved subscription to the API
// (by name, or "name@version"), which is published or deprecated.
func (a *Access) Subscribed(p *Principal, api string) bool {
	return a.v.Load().subs[p.AppID][api]
}

// Limits returns the limits and budgets that apply to a call by p: the key's, its
// application's and its tenant's.
func (a *Access) Limits(p *Principal) []limits.Limit {
	v := a.v.Load()
	k, ap, t := v.limits["key/"+p.KeyID], v.limits["application/"+p.AppID], v.limits["tenant/"+p.TenantID]
	if len(k)+len(ap)+len(t) == 0 {
		return nil
	}
	out := make([]limits.Limit, 0, len(k)+len(ap)+len(t))
	out = append(out, k...)
	out = append(out, ap...)
	return append(out, t...)
}

// Revision is the store revision of the current view.
func (a *Access) Revision() int64 { return a.v.Load().rev }
