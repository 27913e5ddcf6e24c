package mgmt

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/pylon-gateway/pylon/internal/store"
)

type routeKind int

const (
	kindGet    routeKind = iota // GET of one object: 200
	kindEdit                    // PUT, PATCH, DELETE without If-Match: 428 once authorized
	kindAction                  // POST action with a stale If-Match: 412 once authorized
	kindCreate                  // POST to a collection with an unknown field: 400 once authorized
	kindNested                  // POST to a collection under an object: as kindCreate, 404 for another tenant's object
	kindList                    // GET of a list: 200
)

type authCase struct {
	method, name string
	path         func(tw tenantWorld) string
	// otherBody is a create's body that refers to the other tenant; otherField is the
	// field a non-admin's 400 names. nil: no "other tenant" variant.
	otherBody  func(tw tenantWorld) any
	otherField string
	noOther    bool
	kind       routeKind
	allow      []store.Role // besides admins, in their own tenant
}

var (
	everyone = []store.Role{store.RoleTenantAdmin, store.RoleDeveloper, store.RoleViewer}
	builders = []store.Role{store.RoleTenantAdmin, store.RoleDeveloper}
	tadmin   = []store.Role{store.RoleTenantAdmin}
)

func authCases() []authCase {
	P := Prefix
	id := func(f func(tw tenantWorld) string, suffix string) func(tenantWorld) string {
		return func(tw tenantWorld) string { return f(tw) + suffix }
	}
	tenant := func(tw tenantWorld) string { return P + "/tenants/" + tw.tenant.ID }
	user := func(tw tenantWorld) string { return P + "/users/" + tw.dev2.ID }
	token := func(tw tenantWorld) string { return P + "/users/" + tw.dev2.ID + "/tokens/" + tw.dev2Token.ID }
	app := func(tw tenantWorld) string { return P + "/applications/" + tw.app.ID }
	key := func(tw tenantWorld) string { return P + "/keys/" + tw.key.ID }
	api := func(tw tenantWorld) string { return P + "/apis/" + tw.api.ID }
	sub := func(tw tenantWorld) string { return P + "/subscriptions/" + tw.sub.ID }
	appLimit := func(tw tenantWorld) string { return P + "/limits/" + tw.appLimit.ID }
	tenantLimit := func(tw tenantWorld) string { return P + "/limits/" + tw.tenantLimit.ID }
	prompt := func(tw tenantWorld) string { return P + "/prompt-apis/" + tw.prompt.ID }
	fixed := func(s string) func(tenantWorld) string { return func(tenantWorld) string { return s } }
	list := func(path, param string, v func(tw tenantWorld) string) func(tenantWorld) string {
		return func(tw tenantWorld) string { return path + "?" + param + "=" + v(tw) }
	}
	tid := func(tw tenantWorld) string { return tw.tenant.ID }
	aid := func(tw tenantWorld) string { return tw.app.ID }

	return []authCase{
		{method: "GET", name: "me", path: fixed(P + "/me"), kind: kindGet, allow: everyone, noOther: true},

		{method: "GET", path: fixed(P + "/tenants"), kind: kindList, allow: everyone, noOther: true},
		{method: "POST", path: fixed(P + "/tenants"), kind: kindCreate, noOther: true},
		{method: "GET", path: tenant, kind: kindGet, allow: everyone},
		{method: "PUT", path: tenant, kind: kindEdit, allow: tadmin},
		{method: "PATCH", path: tenant, kind: kindEdit, allow: tadmin},
		{method: "DELETE", path: tenant, kind: kindEdit},

		{method: "GET", path: list(P+"/users", "tenant_id", tid), kind: kindList, allow: tadmin, otherField: "tenant_id"},
		{method: "POST", path: fixed(P + "/users"), kind: kindCreate, allow: tadmin, otherField: "tenant_id",
			otherBody: func(tw tenantWorld) any { return map[string]any{"tenant_id": tw.tenant.ID, "role": "viewer"} }},
		{method: "GET", path: user, kind: kindGet, allow: tadmin},
		{method: "PUT", path: user, kind: kindEdit, allow: tadmin},
		{method: "PATCH", path: user, kind: kindEdit, allow: tadmin},
		{method: "DELETE", path: user, kind: kindEdit, allow: tadmin},
		{method: "GET", path: id(user, "/tokens"), kind: kindGet, allow: tadmin},
		{method: "POST", path: id(user, "/tokens"), kind: kindNested, allow: tadmin},
		{method: "GET", path: token, kind: kindGet, allow: tadmin},
		{method: "POST", path: id(token, "/revoke"), kind: kindAction, allow: tadmin},
		{method: "DELETE", path: token, kind: kindEdit, allow: tadmin},

		{method: "GET", path: list(P+"/applications", "tenant_id", tid), kind: kindList, allow: everyone, otherField: "tenant_id"},
		{method: "POST", path: fixed(P + "/applications"), kind: kindCreate, allow: builders, otherField: "tenant_id",
			otherBody: func(tw tenantWorld) any { return map[string]any{"tenant_id": tw.tenant.ID} }},
		{method: "GET", path: app, kind: kindGet, allow: everyone},
		{method: "PUT", path: app, kind: kindEdit, allow: builders},
		{method: "PATCH", path: app, kind: kindEdit, allow: builders},
		{method: "DELETE", path: app, kind: kindEdit, allow: builders},

		{method: "GET", path: list(P+"/keys", "application_id", aid), kind: kindList, allow: everyone, otherField: "application_id"},
		{method: "POST", path: fixed(P + "/keys"), kind: kindCreate, allow: builders, otherField: "application_id",
			otherBody: func(tw tenantWorld) any {
				return map[string]any{"application_id": tw.app.ID, "expires_at": "2001-01-01T00:00:00Z"}
			}},
		{method: "GET", path: key, kind: kindGet, allow: everyone},
		{method: "PUT", path: key, kind: kindEdit, allow: builders},
		{method: "PATCH", path: key, kind: kindEdit, allow: builders},
		{method: "POST", path: id(key, "/revoke"), kind: kindAction, allow: builders},
		{method: "DELETE", path: key, kind: kindEdit, allow: builders},

		{method: "GET", path: list(P+"/apis", "tenant_id", tid), kind: kindList, allow: everyone, otherField: "tenant_id"},
		{method: "POST", path: fixed(P + "/apis"), kind: kindCreate, allow: tadmin, otherField: "tenant_id",
			otherBody: func(tw tenantWorld) any { return map[string]any{"tenant_id": tw.tenant.ID} }},
		{method: "GET", path: api, kind: kindGet, allow: everyone},
		{method: "PUT", path: api, kind: kindEdit, allow: tadmin},
		{method: "PATCH", path: api, kind: kindEdit, allow: tadmin},
		{method: "POST", path: id(api, "/lifecycle"), kind: kindAction, allow: tadmin},
		{method: "DELETE", path: api, kind: kindEdit, allow: tadmin},

		{method: "GET", path: list(P+"/subscriptions", "application_id", aid), kind: kindList, allow: everyone, otherField: "application_id"},
		{method: "POST", path: fixed(P + "/subscriptions"), kind: kindCreate, allow: builders, otherField: "application_id",
			otherBody: func(tw tenantWorld) any { return map[string]any{"application_id": tw.app.ID} }},
		{method: "GET", path: sub, kind: kindGet, allow: everyone},
		{method: "POST", path: id(sub, "/approve"), kind: kindAction, allow: tadmin},
		{method: "POST", path: id(sub, "/reject"), kind: kindAction, allow: tadmin},
		{method: "POST", path: id(sub, "/revoke"), kind: kindAction, allow: builders},
		{method: "DELETE", path: sub, kind: kindEdit, allow: builders},

		{method: "GET", path: func(tw tenantWorld) string { return P + "/limits?scope=application&scope_id=" + tw.app.ID }, kind: kindList, allow: everyone, otherField: "scope_id"},
		{method: "POST", path: fixed(P + "/limits"), kind: kindCreate, allow: tadmin, otherField: "scope_id",
			otherBody: func(tw tenantWorld) any {
				return map[string]any{"scope": "application", "scope_id": tw.app.ID, "kind": "concurrent"}
			}},
		{method: "GET", name: "app limit", path: appLimit, kind: kindGet, allow: everyone},
		{method: "PUT", name: "app limit", path: appLimit, kind: kindEdit, allow: tadmin},
		{method: "PATCH", name: "app limit", path: appLimit, kind: kindEdit, allow: tadmin},
		{method: "DELETE", name: "app limit", path: appLimit, kind: kindEdit, allow: tadmin},
		{method: "GET", name: "tenant limit", path: tenantLimit, kind: kindGet, allow: everyone},
		{method: "PUT", name: "tenant limit", path: tenantLimit, kind: kindEdit},
		{method: "DELETE", name: "tenant limit", path: tenantLimit, kind: kindEdit},

		{method: "GET", path: list(P+"/prompt-apis", "tenant_id", tid), kind: kindList, allow: everyone, otherField: "tenant_id"},
		{method: "POST", path: fixed(P + "/prompt-apis"), kind: kindCreate, allow: tadmin, otherField: "tenant_id",
			otherBody: func(tw tenantWorld) any { return map[string]any{"tenant_id": tw.tenant.ID} }},
		{method: "GET", path: prompt, kind: kindGet, allow: everyone},
		{method: "PUT", path: prompt, kind: kindEdit, allow: tadmin},
		{method: "PATCH", path: prompt, kind: kindEdit, allow: tadmin},
		{method: "POST", path: id(prompt, "/lifecycle"), kind: kindAction, allow: tadmin},
		{method: "DELETE", path: prompt, kind: kindEdit, allow: tadmin},
	}
}

// TestAuthorizationMatrix: every role (the admin token, an admin user, and a tenant
// admin, developer and viewer of tenant A) on every route, on objects of its own tenant
// and of tenant B. Requests are built so that an authorized one stops at the step after
// authorization (a missing If-Match, a stale one, an unknown field) and nothing changes:
// the status tells whether authorization passed.
func TestAuthorizationMatrix(t *testing.T) {
	st := backends[0].open(t)
	w := buildWorld(t, st)
	c := newClient(t, st, Options{})
	principals := []struct {
		name  string
		role  store.Role
		token string
	}{
		{"admin token", store.RoleAdmin, adminToken},
		{"admin user", store.RoleAdmin, w.tokAdminUsr},
		{"tenant_admin", store.RoleTenantAdmin, w.a.tokTenantAdmin},
		{"developer", store.RoleDeveloper, w.a.tokDev},
		{"viewer", store.RoleViewer, w.a.tokView},
	}
	rev := revision(t, st)
	covered := map[string]bool{}
	for _, ac := range authCases() {
		for _, side := range []string{"own", "other"} {
			if side == "other" && ac.noOther {
				continue
			}
			tw := w.a
			if side == "other" {
				tw = w.b
			}
			for _, pr := range principals {
				path := ac.path(tw)
				name := fmt.Sprintf("%s %s %s/%s/%s", ac.method, ac.name, pathPattern(path), side, pr.name)
				t.Run(name, func(t *testing.T) {
					admin := pr.role == store.RoleAdmin
					allowed := admin || slices.Contains(ac.allow, pr.role)
					collection := ac.kind == kindList || ac.kind == kindCreate
					var body any
					var hdr []string
					switch ac.kind {
					case kindCreate, kindNested:
						body = `{"bogus": 1}`
						if side == "other" && ac.otherBody != nil {
							body = ac.otherBody(tw)
						}
					case kindAction:
						hdr = []string{"If-Match", `"999"`}
					}
					var wantStatus int
					switch {
					case !allowed && collection:
						wantStatus = http.StatusForbidden
					case side == "other" && !admin && !collection:
						wantStatus = http.StatusNotFound
					case !allowed:
						wantStatus = http.StatusForbidden
					default:
						wantStatus = map[routeKind]int{kindGet: 200, kindEdit: 428, kindAction: 412, kindCreate: 400, kindNested: 400, kindList: 200}[ac.kind]
						if side == "other" && !admin && ac.kind == kindList {
							wantStatus = http.StatusBadRequest
						}
					}
					r := c.do(ac.method, path, pr.token, body, hdr...)
					if r.status != wantStatus {
						t.Fatalf("status %d, want %d: %s", r.status, wantStatus, r.body)
					}
					if wantStatus == 400 && side == "other" && !admin && ac.otherField != "" && r.field() != ac.otherField {
						t.Fatalf("400 names %q, want %q: %s", r.field(), ac.otherField, r.body)
					}
					if wantStatus == 400 && side == "own" && r.field() != "bogus" {
						t.Fatalf("400 names %q, want the unknown field bogus: %s", r.field(), r.body)
					}
					if code := map[int]string{403: "forbidden", 404: "not_found", 412: "precondition_failed", 428: "precondition_required"}[wantStatus]; code != "" {
						if e, _ := r.obj()["error"].(map[string]any); e["code"] != code {
							t.Fatalf("error code %v, want %s: %s", e["code"], code, r.body)
						}
					}
					if wantStatus == 404 && r.message() == "" {
						t.Fatalf("404 without a message: %s", r.body)
					}
				})
				covered[ac.method+" "+pathPattern(path)] = true
			}
		}
	}
	if got := revision(t, st); got != rev {
		t.Fatalf("the matrix changed the store: revision %d -> %d", rev, got)
	}
	// Every route but the public document is in the matrix.
	for _, rt := range Routes(New(st, Options{})) {
		k := rt.Method + " " + pathPattern(rt.Path)
		if !covered[k] && rt.Path != Prefix+"/openapi.json" {
			t.Errorf("route %s is not in the authorization matrix", k)
		}
	}
}

// pathPattern turns ids (and the query) of a path into {id}.
func pathPattern(p string) string {
	if i := indexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	segs := splitPath(p)
	for i, s := range segs {
		if len(s) == 36 && s[8] == '-' || len(s) > 0 && s[0] == '{' {
			segs[i] = "{id}"
		}
	}
	return joinPath(segs)
}
