// Package mgmt is Pylon's management REST API, served by the admin listener under
// /api/v1/: tenants, users and their tokens, applications, API keys, the API catalog
// with its lifecycle, subscriptions with their approval flow, limits and prompt APIs,
// over a store.Store.
//
// Conventions (docs/management.md has them with examples):
//   - JSON in and out, snake_case names, the store's objects as they are.
//   - Authorization: Bearer <token>: the administrator token of the config (admin.token,
//     or PYLON_ADMIN_TOKEN) or a user token ("pu_..."). Roles decide what a user may do;
//     objects of another tenant answer 404 as if they did not exist.
//   - Lists are pages: ?limit=&cursor= in, {"data": [...], "next_cursor": "..."} out.
//   - GET of one object returns its ETag ("<version>"). PUT, PATCH and DELETE require
//     If-Match (428 without it, 412 when stale); the POST actions honour it when sent.
//   - Request bodies are decoded strictly: an unknown field, a wrong type or a
//     malformed document is a 400 that names the field; a body over the limit is a 413.
//   - Store errors become statuses in one place (writeError).
//
// The route table (routes) is the single source of the mux and of the OpenAPI
// document served at /api/v1/openapi.json.
package mgmt

import (
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"github.com/pylon-gateway/pylon/internal/store"
)

// Prefix is where the API is served.
const Prefix = "/api/v1"

// DefaultMaxBody bounds request bodies; a prompt API's template and input schema are
// 64 KiB each, so 1 MiB leaves room without letting a client buffer much.
const DefaultMaxBody = 1 << 20

// Options configure the API.
type Options struct {
	// AdminToken returns the administrator's bearer token, or "" when there is none
	// (then only user tokens are accepted). It is called on every request, so that a
	// config reload that changes the token takes effect at once.
	AdminToken func() string
	// MaxBody bounds request bodies (default DefaultMaxBody).
	MaxBody int64
	// Log receives internal errors (default: discarded).
	Log *slog.Logger
}

type server struct {
	st     store.Store
	opts   Options
	mux    *http.ServeMux
	routes []route
}

// handlerFunc serves one route for an authenticated principal; what it returns is
// written by writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p principal) error

// route is one operation: the mux pattern, what the OpenAPI document says of it, and
// its handler.
type route struct {
	method, path string
	op           string // operationId
	summary      string
	access       string // who may call it
	query        []param
	body         any // request body type (a zero value), nil for none
	bodyOptional bool
	resp         any // response type (a zero value); a list route answers pages of it
	list         bool
	status       int // of success
	public       bool
	h            handlerFunc
}

type param struct{ name, desc string }

var pageParams = []param{
	{"limit", "page size, 1 to 1000 (default 50)"},
	{"cursor", "next_cursor of the previous page"},
}

// New returns the management API over st. It serves paths under /api/v1/ and answers
// 404 for anything else.
func New(st store.Store, opts Options) http.Handler {
	if opts.AdminToken == nil {
		opts.AdminToken = func() string { return "" }
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &server{st: st, opts: opts, mux: http.NewServeMux()}
	s.routes = s.table()
	methods := map[string][]string{}
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
		methods[rt.path] = append(methods[rt.path], rt.method)
	}
	// A known path with another method is a 405 naming the allowed ones; anything else
	// under the prefix is a 404. Both in the API's JSON error shape.
	for path, ms := range methods {
		sort.Strings(ms)
		allow := strings.Join(ms, ", ")
		s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, r, s.opts.Log, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "",
				"%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow))
		})
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.opts.Log, errorf(http.StatusNotFound, "not_found", "",
			"no such endpoint: %s %s (the API is described at %s/openapi.json)", r.Method, r.URL.Path, Prefix))
	})
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p principal
		if !rt.public {
			var err error
			if p, err = s.authenticate(r.Context(), r); err != nil {
				writeError(w, r, s.opts.Log, err)
				return
			}
		}
		if err := rt.h(w, r, p); err != nil {
			writeError(w, r, s.opts.Log, err)
		}
	})
}

// Route is one operation of the API, for tests and docs.
type Route struct{ Method, Path string }

// Routes lists the operations the handler serves.
func Routes(h http.Handler) []Route {
	s, ok := h.(*server)
	if !ok {
		return nil
	}
	out := make([]Route, len(s.routes))
	for i, rt := range s.routes {
		out[i] = Route{rt.method, rt.path}
	}
	return out
}

// Access strings of the document.
const (
	accessAll        = "any role; objects of the caller's tenant"
	accessApps       = "admin, tenant_admin, developer (own tenant)"
	accessCatalog    = "admin, tenant_admin (own tenant)"
	accessUsers      = "admin, tenant_admin (own tenant; not admins)"
	accessUsersRead  = "admin, tenant_admin (own tenant); any user for themselves"
	accessAdmin      = "admin"
	accessLimitWrite = "admin; tenant_admin for limits on applications and keys of their tenant"
)

// table is the API. Paths use the mux's {name} wildcards, which are OpenAPI's too.
func (s *server) table() []route {
	const (
		P = Prefix
	)
	var (
		tenant    store.Tenant
		user      store.User
		tok       store.UserToken
		app       store.Application
		key       store.APIKey
		api       store.API
		sub       store.Subscription
		limit     store.Limit
		prompt    store.PromptAPI
		lifecycle lifecycleRequest
		decision  decisionRequest
	)
	return []route{
		{method: "GET", path: P + "/openapi.json", op: "getOpenAPI", summary: "This API's OpenAPI 3.1 document", access: "anyone (no token needed)", public: true, resp: map[string]any{}, h: s.openAPI},
		{method: "GET", path: P + "/me", op: "getMe", summary: "Who the token belongs to", access: "any role", resp: me{}, h: s.getMe},

		{method: "GET", path: P + "/tenants", op: "listTenants", summary: "List tenants (non-admins: their own)", access: accessAll, query: pageParams, resp: tenant, list: true, h: s.listTenants},
		{method: "POST", path: P + "/tenants", op: "createTenant", summary: "Create a tenant", access: accessAdmin, body: tenant, resp: tenant, status: 201, h: s.createTenant},
		{method: "GET", path: P + "/tenants/{id}", op: "getTenant", summary: "Get a tenant", access: accessAll, resp: tenant, h: s.getTenant},
		{method: "PUT", path: P + "/tenants/{id}", op: "replaceTenant", summary: "Replace a tenant's name and display name", access: "admin, tenant_admin (own tenant)", body: tenant, resp: tenant, h: s.putTenant},
		{method: "PATCH", path: P + "/tenants/{id}", op: "patchTenant", summary: "Change a tenant (JSON merge patch)", access: "admin, tenant_admin (own tenant)", body: tenant, resp: tenant, h: s.patchTenant},
		{method: "DELETE", path: P + "/tenants/{id}", op: "deleteTenant", summary: "Delete a tenant that owns nothing", access: accessAdmin, status: 204, h: s.deleteTenant},

		{method: "GET", path: P + "/users", op: "listUsers", summary: "List users", access: accessUsers, query: append([]param{{"tenant_id", "admins: only this tenant's users"}}, pageParams...), resp: user, list: true, h: s.listUsers},
		{method: "POST", path: P + "/users", op: "createUser", summary: "Create a user", access: accessUsers, body: user, resp: user, status: 201, h: s.createUser},
		{method: "GET", path: P + "/users/{id}", op: "getUser", summary: "Get a user", access: accessUsersRead, resp: user, h: s.getUser},
		{method: "PUT", path: P + "/users/{id}", op: "replaceUser", summary: "Replace a user's email, name, role and tenant", access: accessUsers, body: user, resp: user, h: s.putUser},
		{method: "PATCH", path: P + "/users/{id}", op: "patchUser", summary: "Change a user (JSON merge patch)", access: accessUsers, body: user, resp: user, h: s.patchUser},
		{method: "DELETE", path: P + "/users/{id}", op: "deleteUser", summary: "Delete a user and their tokens", access: accessUsers, status: 204, h: s.deleteUser},
		{method: "GET", path: P + "/users/{id}/tokens", op: "listUserTokens", summary: "List a user's tokens (never their plaintext)", access: accessUsersRead, query: pageParams, resp: tok, list: true, h: s.listTokens},
		{method: "POST", path: P + "/users/{id}/tokens", op: "createUserToken", summary: "Create a user token; the answer holds its plaintext, shown only this once", access: accessUsersRead, body: tok, bodyOptional: true, resp: createdToken{}, status: 201, h: s.createToken},
		{method: "GET", path: P + "/users/{id}/tokens/{token_id}", op: "getUserToken", summary: "Get a user token", access: accessUsersRead, resp: tok, h: s.getToken},
		{method: "POST", path: P + "/users/{id}/tokens/{token_id}/revoke", op: "revokeUserToken", summary: "Revoke a user token for good", access: accessUsersRead, resp: tok, h: s.revokeToken},
		{method: "DELETE", path: P + "/users/{id}/tokens/{token_id}", op: "deleteUserToken", summary: "Delete a user token", access: accessUsersRead, status: 204, h: s.deleteToken},

		{method: "GET", path: P + "/applications", op: "listApplications", summary: "List applications", access: accessAll, query: append([]param{{"tenant_id", "admins: only this tenant's applications"}}, pageParams...), resp: app, list: true, h: s.listApps},
		{method: "POST", path: P + "/applications", op: "createApplication", summary: "Create an application (tenant_id defaults to the caller's)", access: accessApps, body: app, resp: app, status: 201, h: s.createApp},
		{method: "GET", path: P + "/applications/{id}", op: "getApplication", summary: "Get an application", access: accessAll, resp: app, h: s.getApp},
		{method: "PUT", path: P + "/applications/{id}", op: "replaceApplication", summary: "Replace an application's name and description", access: accessApps, body: app, resp: app, h: s.putApp},
		{method: "PATCH", path: P + "/applications/{id}", op: "patchApplication", summary: "Change an application (JSON merge patch)", access: accessApps, body: app, resp: app, h: s.patchApp},
		{method: "DELETE", path: P + "/applications/{id}", op: "deleteApplication", summary: "Delete an application without keys or subscriptions", access: accessApps, status: 204, h: s.deleteApp},

		{method: "GET", path: P + "/keys", op: "listKeys", summary: "List API keys (never their plaintext)", access: accessAll + "; non-admins must give application_id", query: append([]param{{"application_id", "only this application's keys"}}, pageParams...), resp: key, list: true, h: s.listKeys},
		{method: "POST", path: P + "/keys", op: "createKey", summary: "Create an API key; the answer holds its plaintext, shown only this once", access: accessApps, body: key, resp: createdKey{}, status: 201, h: s.createKey},
		{method: "GET", path: P + "/keys/{id}", op: "getKey", summary: "Get an API key", access: accessAll, resp: key, h: s.getKey},
		{method: "PUT", path: P + "/keys/{id}", op: "replaceKey", summary: "Replace a key's name, scopes and expiry", access: accessApps, body: key, resp: key, h: s.putKey},
		{method: "PATCH", path: P + "/keys/{id}", op: "patchKey", summary: "Change a key (JSON merge patch)", access: accessApps, body: key, resp: key, h: s.patchKey},
		{method: "POST", path: P + "/keys/{id}/revoke", op: "revokeKey", summary: "Revoke a key for good", access: accessApps, resp: key, h: s.revokeKey},
		{method: "DELETE", path: P + "/keys/{id}", op: "deleteKey", summary: "Delete a key", access: accessApps, status: 204, h: s.deleteKey},

		{method: "GET", path: P + "/apis", op: "listAPIs", summary: "List APIs of the catalog", access: accessAll, query: append([]param{{"tenant_id", "admins: only this tenant's APIs"}}, pageParams...), resp: api, list: true, h: s.listAPIs},
		{method: "POST", path: P + "/apis", op: "createAPI", summary: "Create an API version (a draft)", access: accessCatalog, body: api, resp: api, status: 201, h: s.createAPI},
		{method: "GET", path: P + "/apis/{id}", op: "getAPI", summary: "Get an API", access: accessAll, resp: api, h: s.getAPI},
		{method: "PUT", path: P + "/apis/{id}", op: "replaceAPI", summary: "Replace an API's title, description, approval and (drafts) api_version", access: accessCatalog, body: api, resp: api, h: s.putAPI},
		{method: "PATCH", path: P + "/apis/{id}", op: "patchAPI", summary: "Change an API (JSON merge patch); a patch of lifecycle alone is a transition", access: accessCatalog, body: api, resp: api, h: s.patchAPI},
		{method: "POST", path: P + "/apis/{id}/lifecycle", op: "setAPILifecycle", summary: "Move an API: draft -> published -> deprecated -> retired (deprecated -> published)", access: accessCatalog, body: lifecycle, resp: api, h: s.setAPILifecycle},
		{method: "DELETE", path: P + "/apis/{id}", op: "deleteAPI", summary: "Delete a draft or retired API without subscriptions", access: accessCatalog, status: 204, h: s.deleteAPI},

		{method: "GET", path: P + "/subscriptions", op: "listSubscriptions", summary: "List subscriptions", access: accessAll + "; non-admins must give application_id or api_id", query: append([]param{{"application_id", "only this application's"}, {"api_id", "only this API's"}, {"state", "pending, approved, rejected or revoked"}}, pageParams...), resp: sub, list: true, h: s.listSubs},
		{method: "POST", path: P + "/subscriptions", op: "createSubscription", summary: "Subscribe an application to a published API (pending when it requires approval)", access: accessApps, body: sub, resp: sub, status: 201, h: s.createSub},
		{method: "GET", path: P + "/subscriptions/{id}", op: "getSubscription", summary: "Get a subscription", access: accessAll + " (the application's or the API's)", resp: sub, h: s.getSub},
		{method: "POST", path: P + "/subscriptions/{id}/approve", op: "approveSubscription", summary: "Approve a pending subscription", access: "admin, tenant_admin of the API's tenant", body: decision, bodyOptional: true, resp: sub, h: s.approveSub},
		{method: "POST", path: P + "/subscriptions/{id}/reject", op: "rejectSubscription", summary: "Reject a pending subscription", access: "admin, tenant_admin of the API's tenant", body: decision, bodyOptional: true, resp: sub, h: s.rejectSub},
		{method: "POST", path: P + "/subscriptions/{id}/revoke", op: "revokeSubscription", summary: "Revoke (or withdraw) a subscription", access: "admin, tenant_admin of the API's tenant; admin, tenant_admin, developer of the application's tenant", body: decision, bodyOptional: true, resp: sub, h: s.revokeSub},
		{method: "DELETE", path: P + "/subscriptions/{id}", op: "deleteSubscription", summary: "Delete a subscription", access: "as revoke", status: 204, h: s.deleteSub},

		{method: "GET", path: P + "/limits", op: "listLimits", summary: "List limits", access: accessAll + "; non-admins must give scope and scope_id", query: append([]param{{"scope", "key, application or tenant"}, {"scope_id", "the id of the scope object"}}, pageParams...), resp: limit, list: true, h: s.listLimits},
		{method: "POST", path: P + "/limits", op: "createLimit", summary: "Create a rate limit or budget", access: accessLimitWrite, body: limit, resp: limit, status: 201, h: s.createLimit},
		{method: "GET", path: P + "/limits/{id}", op: "getLimit", summary: "Get a limit", access: accessAll, resp: limit, h: s.getLimit},
		{method: "PUT", path: P + "/limits/{id}", op: "replaceLimit", summary: "Change a limit's value (scope, kind, unit and period are its identity)", access: accessLimitWrite, body: limit, resp: limit, h: s.putLimit},
		{method: "PATCH", path: P + "/limits/{id}", op: "patchLimit", summary: "Change a limit's value (JSON merge patch)", access: accessLimitWrite, body: limit, resp: limit, h: s.patchLimit},
		{method: "DELETE", path: P + "/limits/{id}", op: "deleteLimit", summary: "Delete a limit", access: accessLimitWrite, status: 204, h: s.deleteLimit},

		{method: "GET", path: P + "/prompt-apis", op: "listPromptAPIs", summary: "List prompt APIs", access: accessAll, query: append([]param{{"tenant_id", "admins: only this tenant's prompt APIs"}}, pageParams...), resp: prompt, list: true, h: s.listPrompts},
		{method: "POST", path: P + "/prompt-apis", op: "createPromptAPI", summary: "Create a prompt API version (a draft)", access: accessCatalog, body: prompt, resp: prompt, status: 201, h: s.createPrompt},
		{method: "GET", path: P + "/prompt-apis/{id}", op: "getPromptAPI", summary: "Get a prompt API", access: accessAll, resp: prompt, h: s.getPrompt},
		{method: "PUT", path: P + "/prompt-apis/{id}", op: "replacePromptAPI", summary: "Replace a prompt API (model, template and schema only in a draft)", access: accessCatalog, body: prompt, resp: prompt, h: s.putPrompt},
		{method: "PATCH", path: P + "/prompt-apis/{id}", op: "patchPromptAPI", summary: "Change a prompt API (JSON merge patch); a patch of lifecycle alone is a transition", access: accessCatalog, body: prompt, resp: prompt, h: s.patchPrompt},
		{method: "POST", path: P + "/prompt-apis/{id}/lifecycle", op: "setPromptAPILifecycle", summary: "Move a prompt API through its lifecycle", access: accessCatalog, body: lifecycle, resp: prompt, h: s.setPromptLifecycle},
		{method: "DELETE", path: P + "/prompt-apis/{id}", op: "deletePromptAPI", summary: "Delete a draft or retired prompt API", access: accessCatalog, status: 204, h: s.deletePrompt},
	}
}

// typeOf is the reflect.Type of a table entry's zero value.
func typeOf(v any) reflect.Type {
	if v == nil {
		return nil
	}
	return reflect.TypeOf(v)
}
