package mgmt

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/store"
)

// TestFlow drives the API the way an operator would, on both backends: a tenant, a
// tenant admin with a token, an application, a key, the catalog, a subscription through
// approval, limits and a prompt API.
func TestFlow(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			c := newClient(t, st, Options{})
			P := Prefix

			r := c.do("POST", P+"/tenants", adminToken, map[string]any{"name": "acme", "display_name": "Acme"})
			want(t, r, 201, "create tenant")
			tenantID := r.str("id")
			if r.hdr.Get("Location") != P+"/tenants/"+tenantID || r.hdr.Get("ETag") != `"1"` {
				t.Fatalf("create headers %v", r.hdr)
			}
			r = c.do("POST", P+"/users", adminToken, map[string]any{"tenant_id": tenantID, "email": "Ops@Acme.example", "role": "tenant_admin"})
			want(t, r, 201, "create user")
			userID := r.str("id")
			if r.str("email") != "ops@acme.example" {
				t.Fatalf("user %s", r.body)
			}
			r = c.do("POST", P+"/users/"+userID+"/tokens", adminToken, map[string]any{"name": "laptop"})
			want(t, r, 201, "create token")
			tok := r.str("token")
			if !strings.HasPrefix(tok, "pu_") || r.str("prefix") == "" || !strings.HasPrefix(tok, r.str("prefix")) {
				t.Fatalf("token answer %s", r.body)
			}
			tokID := r.str("id")
			r = c.do("GET", P+"/users/"+userID+"/tokens/"+tokID, tok, nil)
			want(t, r, 200, "get own token")
			if strings.Contains(string(r.body), tok) || r.obj()["token"] != nil {
				t.Fatalf("GET shows the token: %s", r.body)
			}
			r = c.do("GET", P+"/me", tok, nil)
			want(t, r, 200, "me")
			if r.str("role") != "tenant_admin" || r.str("tenant_id") != tenantID {
				t.Fatalf("me %s", r.body)
			}

			// The tenant admin works inside the tenant without naming it.
			r = c.do("POST", P+"/applications", tok, map[string]any{"name": "web", "description": "the shop"})
			want(t, r, 201, "create application")
			appID := r.str("id")
			if r.str("tenant_id") != tenantID {
				t.Fatalf("application %s", r.body)
			}
			exp := time.Now().Add(720 * time.Hour).UTC().Format(time.RFC3339)
			r = c.do("POST", P+"/keys", tok, map[string]any{"application_id": appID, "name": "ci", "scopes": map[string]any{"models": []string{"gpt-4o-mini"}}, "expires_at": exp})
			want(t, r, 201, "create key")
			plain, keyID := r.str("key"), r.str("id")
			if !strings.HasPrefix(plain, store.KeyPrefix) || !strings.HasPrefix(plain, r.str("prefix")) {
				t.Fatalf("key answer %s", r.body)
			}
			if k, err := st.LookupKey(ctx, store.HashKey(plain)); err != nil || k.ID != keyID {
				t.Fatalf("the key does not authenticate: %v", err)
			}
			for _, path := range []string{P + "/keys/" + keyID, P + "/keys?application_id=" + appID} {
				r = c.do("GET", path, tok, nil)
				want(t, r, 200, path)
				if strings.Contains(string(r.body), plain) || strings.Contains(string(r.body), `"key"`) {
					t.Fatalf("GET %s shows the key: %s", path, r.body)
				}
			}
			r = c.do("PATCH", P+"/keys/"+keyID, tok, map[string]any{"name": "deploy", "scopes": map[string]any{"models": nil}}, "If-Match", `"1"`)
			want(t, r, 200, "patch key")
			if r.str("name") != "deploy" || r.obj()["expires_at"] == nil || r.hdr.Get("ETag") != `"2"` {
				t.Fatalf("patched key %s", r.body)
			}
			r = c.do("POST", P+"/keys/"+keyID+"/revoke", tok, nil)
			want(t, r, 200, "revoke key")
			if r.obj()["revoked_at"] == nil {
				t.Fatalf("revoked key %s", r.body)
			}
			r = c.do("POST", P+"/keys/"+keyID+"/revoke", tok, nil)
			want(t, r, 409, "revoke twice")

			// The catalog: draft -> published through both doors.
			r = c.do("POST", P+"/apis", tok, map[string]any{"name": "payments", "api_version": "v1", "requires_approval": true})
			want(t, r, 201, "create api")
			apiID := r.str("id")
			if r.str("lifecycle") != "draft" {
				t.Fatalf("api %s", r.body)
			}
			r = c.do("POST", P+"/apis/"+apiID+"/lifecycle", tok, map[string]any{"lifecycle": "published"}, "If-Match", `"1"`)
			want(t, r, 200, "publish")
			r = c.do("PATCH", P+"/apis/"+apiID, tok, map[string]any{"lifecycle": "deprecated"}, "If-Match", `"2"`)
			want(t, r, 200, "deprecate by patch")
			r = c.do("PATCH", P+"/apis/"+apiID, tok, map[string]any{"lifecycle": "published", "title": "x"}, "If-Match", `"3"`)
			want(t, r, 400, "lifecycle with another field")
			if r.field() != "lifecycle" {
				t.Fatalf("field %q", r.field())
			}
			r = c.do("PATCH", P+"/apis/"+apiID, tok, map[string]any{"lifecycle": "draft"}, "If-Match", `"3"`)
			want(t, r, 409, "back to draft")
			r = c.do("POST", P+"/apis/"+apiID+"/lifecycle", tok, map[string]any{"lifecycle": "published"})
			want(t, r, 200, "publish again")

			r = c.do("POST", P+"/subscriptions", tok, map[string]any{"application_id": appID, "api_id": apiID})
			want(t, r, 201, "subscribe")
			subID := r.str("id")
			if r.str("state") != "pending" {
				t.Fatalf("subscription %s", r.body)
			}
			r = c.do("POST", P+"/subscriptions/"+subID+"/approve", tok, map[string]any{"reason": "ok by ops"})
			want(t, r, 200, "approve")
			if r.str("state") != "approved" || r.str("reason") != "ok by ops" {
				t.Fatalf("approved %s", r.body)
			}
			r = c.do("POST", P+"/subscriptions/"+subID+"/reject", tok, nil)
			want(t, r, 409, "reject after approval")
			r = c.do("GET", P+"/subscriptions?api_id="+apiID+"&state=approved", tok, nil)
			want(t, r, 200, "list subscriptions")
			if d, _ := r.obj()["data"].([]any); len(d) != 1 {
				t.Fatalf("subscriptions %s", r.body)
			}

			r = c.do("POST", P+"/limits", tok, map[string]any{"scope": "application", "scope_id": appID, "kind": "spend", "limit": 5000, "unit": "picodollars", "period": "month"})
			want(t, r, 201, "create limit")
			limID := r.str("id")
			r = c.do("PATCH", P+"/limits/"+limID, tok, map[string]any{"limit": 9000}, "If-Match", "*")
			want(t, r, 200, "patch limit")
			if r.obj()["limit"].(float64) != 9000 {
				t.Fatalf("limit %s", r.body)
			}
			r = c.do("PATCH", P+"/limits/"+limID, tok, map[string]any{"period": "day"}, "If-Match", "*")
			want(t, r, 400, "limit identity")
			r = c.do("POST", P+"/limits", tok, map[string]any{"scope": "tenant", "scope_id": tenantID, "kind": "concurrent", "limit": 5})
			want(t, r, 403, "tenant admin on a tenant limit")
			r = c.do("POST", P+"/limits", adminToken, map[string]any{"scope": "tenant", "scope_id": tenantID, "kind": "concurrent", "limit": 5})
			want(t, r, 201, "admin on a tenant limit")

			// A prompt API: a published version keeps its contract, and the same schema
			// sent back in other whitespace is no change.
			r = c.do("POST", P+"/prompt-apis", tok, map[string]any{"name": "summarize", "api_version": "v1", "model": "m",
				"template": "Summarize {{topic}}", "input_schema": json.RawMessage(schema)})
			want(t, r, 201, "create prompt api")
			pid := r.str("id")
			r = c.do("POST", P+"/prompt-apis/"+pid+"/lifecycle", tok, map[string]any{"lifecycle": "published"})
			want(t, r, 200, "publish prompt api")
			r = c.do("PATCH", P+"/prompt-apis/"+pid, tok, map[string]any{"description": "short"}, "If-Match", `"2"`)
			want(t, r, 200, "describe a published prompt api")
			r = c.do("PATCH", P+"/prompt-apis/"+pid, tok, map[string]any{"template": "Say {{topic}}"}, "If-Match", `"3"`)
			want(t, r, 409, "change a published template")

			// Deletes need If-Match and leave what is still referenced.
			r = c.do("DELETE", P+"/applications/"+appID, tok, nil, "If-Match", `"1"`)
			want(t, r, 409, "delete an application with keys")
			r = c.do("DELETE", P+"/subscriptions/"+subID, tok, nil, "If-Match", "*")
			want(t, r, 204, "delete subscription")
			r = c.do("DELETE", P+"/keys/"+keyID, tok, nil, "If-Match", "*")
			want(t, r, 204, "delete key")
			r = c.do("DELETE", P+"/applications/"+appID, tok, nil, "If-Match", `"1"`)
			want(t, r, 204, "delete application")
			r = c.do("GET", P+"/applications/"+appID, tok, nil)
			want(t, r, 404, "deleted application")
		})
	}
}

func TestPagination(t *testing.T) {
	st := backends[0].open(t)
	c := newClient(t, st, Options{})
	var ids []string
	for i := range 7 {
		r := c.do("POST", Prefix+"/tenants", adminToken, map[string]any{"name": fmt.Sprintf("t%d", i)})
		want(t, r, 201, "create")
		ids = append(ids, r.str("id"))
	}
	var got []string
	cursor, pages := "", 0
	for {
		r := c.do("GET", Prefix+"/tenants?limit=3&cursor="+cursor, adminToken, nil)
		want(t, r, 200, "page")
		var page listResponse[store.Tenant]
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		pages++
		for _, tn := range page.Data {
			got = append(got, tn.ID)
		}
		if page.NextCursor == "" {
			if strings.Contains(string(r.body), "next_cursor") {
				t.Fatalf("last page names a cursor: %s", r.body)
			}
			break
		}
		cursor = page.NextCursor
	}
	if pages != 3 || strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("%d pages %v, want 3 pages %v", pages, got, ids)
	}
	for _, q := range []struct{ query, field string }{
		{"limit=abc", "limit"}, {"limit=0", "limit"}, {"limit=-1", "limit"}, {"limit=1001", "limit"}, {"cursor=garbage", "cursor"},
	} {
		r := c.do("GET", Prefix+"/tenants?"+q.query, adminToken, nil)
		want(t, r, 400, q.query)
		if r.field() != q.field {
			t.Fatalf("%s: field %q, want %q", q.query, r.field(), q.field)
		}
	}
	r := c.do("GET", Prefix+"/applications", adminToken, nil)
	want(t, r, 200, "empty list")
	if !strings.Contains(string(r.body), `"data": []`) {
		t.Fatalf("an empty list is not []: %s", r.body)
	}
}

// TestETags covers ETag, If-Match (required, stale, *, weak) and If-None-Match, and two
// edits racing from the same read: one wins, the other gets 412 and changes nothing.
func TestETags(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			c := newClient(t, st, Options{})
			r := c.do("POST", Prefix+"/tenants", adminToken, map[string]any{"name": "acme"})
			want(t, r, 201, "create")
			path := Prefix + "/tenants/" + r.str("id")
			r = c.do("GET", path, adminToken, nil)
			want(t, r, 200, "get")
			if r.hdr.Get("ETag") != `"1"` {
				t.Fatalf("ETag %q", r.hdr.Get("ETag"))
			}
			want(t, c.do("GET", path, adminToken, nil, "If-None-Match", `"1"`), 304, "not modified")
			want(t, c.do("GET", path, adminToken, nil, "If-None-Match", `"7"`), 200, "modified")

			r = c.do("PUT", path, adminToken, map[string]any{"name": "acme", "display_name": "A"})
			want(t, r, 428, "no If-Match")
			r = c.do("PUT", path, adminToken, map[string]any{"name": "acme", "display_name": "A"}, "If-Match", `"5"`)
			want(t, r, 412, "stale If-Match")
			if r.hdr.Get("ETag") != `"1"` {
				t.Fatalf("a 412 carries the current ETag, got %q", r.hdr.Get("ETag"))
			}
			r = c.do("PUT", path, adminToken, map[string]any{"name": "acme", "display_name": "A"}, "If-Match", `W/"1"`)
			want(t, r, 200, "weak If-Match")
			if r.hdr.Get("ETag") != `"2"` || r.str("display_name") != "A" {
				t.Fatalf("update %v %s", r.hdr, r.body)
			}
			r = c.do("PUT", path, adminToken, map[string]any{"name": "acme", "display_name": "B"}, "If-Match", `"9", "2"`)
			want(t, r, 200, "a list of tags")

			// Racing edits from one read.
			for round := range 5 {
				cur := c.do("GET", path, adminToken, nil)
				tag := cur.hdr.Get("ETag")
				before := revision(t, st)
				var wg sync.WaitGroup
				statuses := make([]int, 2)
				for i := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						statuses[i] = c.do("PATCH", path, adminToken, map[string]any{"display_name": fmt.Sprintf("r%d-%d", round, i)}, "If-Match", tag).status
					}()
				}
				wg.Wait()
				if !(statuses[0] == 200 && statuses[1] == 412 || statuses[0] == 412 && statuses[1] == 200) {
					t.Fatalf("racing edits answered %v, want one 200 and one 412", statuses)
				}
				if after := revision(t, st); after != before+1 {
					t.Fatalf("racing edits moved the revision %d -> %d, want +1", before, after)
				}
				winner := 0
				if statuses[1] == 200 {
					winner = 1
				}
				if got := c.do("GET", path, adminToken, nil).str("display_name"); got != fmt.Sprintf("r%d-%d", round, winner) {
					t.Fatalf("display name %q after the race, want the winner's", got)
				}
			}

			// A stale delete changes nothing either.
			want(t, c.do("DELETE", path, adminToken, nil, "If-Match", `"1"`), 412, "stale delete")
			want(t, c.do("GET", path, adminToken, nil), 200, "still there")
			want(t, c.do("DELETE", path, adminToken, nil, "If-Match", "*"), 204, "delete")
		})
	}
}

// TestBadInput: malformed bodies, unknown fields, wrong types, bad values, oversized
// payloads and bad headers all get a precise 4xx and leave the store unchanged.
func TestBadInput(t *testing.T) {
	st := backends[0].open(t)
	w := buildWorld(t, st)
	c := newClient(t, st, Options{MaxBody: 4096})
	key := Prefix + "/keys/" + w.a.key.ID
	cases := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		field, msg               string
	}{
		{"malformed", "POST", "/tenants", `{"name": "x",}`, nil, 400, "", "malformed JSON at line 1"},
		{"truncated", "POST", "/tenants", `{"name": "x"`, nil, 400, "", "malformed JSON"},
		{"not an object", "POST", "/tenants", `["x"]`, nil, 400, "", "must be a JSON object"},
		{"empty", "POST", "/tenants", ``, nil, 400, "", "required"},
		{"trailing data", "POST", "/tenants", `{"name": "x"} {"name": "y"}`, nil, 400, "", "after the JSON object"},
		{"unknown field", "POST", "/tenants", `{"name": "x", "colour": "red"}`, nil, 400, "colour", "unknown field"},
		{"field in another case", "POST", "/tenants", `{"Name": "x"}`, nil, 400, "Name", "unknown field"},
		{"nested unknown field", "POST", "/keys", `{"application_id": "` + w.a.app.ID + `", "scopes": {"modelz": ["a"]}}`, nil, 400, "scopes.modelz", "unknown field"},
		{"wrong type", "POST", "/tenants", `{"name": 5}`, nil, 400, "name", "want a string"},
		{"wrong type nested", "POST", "/keys", `{"application_id": "` + w.a.app.ID + `", "scopes": {"models": "gpt"}}`, nil, 400, "scopes.models", "want an array"},
		{"wrong type bool", "POST", "/apis", `{"tenant_id": "` + w.a.tenant.ID + `", "name": "x", "api_version": "v1", "requires_approval": "yes"}`, nil, 400, "requires_approval", "want a boolean"},
		{"float for an integer", "POST", "/limits", `{"scope": "application", "scope_id": "` + w.a.app.ID + `", "kind": "concurrent", "limit": 1.5}`, nil, 400, "limit", "want an integer"},
		{"bad time", "POST", "/keys", `{"application_id": "` + w.a.app.ID + `", "expires_at": "tomorrow"}`, nil, 400, "expires_at", "want a time"},
		{"invalid value", "POST", "/tenants", `{"name": "Not A Slug"}`, nil, 400, "name", "lower-case"},
		{"invalid element", "POST", "/keys", `{"application_id": "` + w.a.app.ID + `", "scopes": {"models": ["a", "a"]}}`, nil, 400, "scopes.models[1]", "duplicate"},
		{"missing reference", "POST", "/applications", `{"tenant_id": "01900000-0000-7000-8000-000000000000", "name": "x"}`, nil, 400, "tenant_id", "no tenant"},
		{"oversized", "POST", "/tenants", `{"name": "x", "display_name": "` + strings.Repeat("a", 5000) + `"}`, nil, 413, "", "larger than 4096"},
		{"not json", "POST", "/tenants", `name=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "", "application/json"},
		{"id of another object", "PUT", "/tenants/" + w.a.tenant.ID, `{"id": "` + w.b.tenant.ID + `", "name": "acme"}`, []string{"If-Match", "*"}, 400, "id", "cannot change"},
		{"patch unknown field", "PATCH", key[len(Prefix):], `{"nme": "x"}`, []string{"If-Match", "*"}, 400, "nme", "unknown field"},
		{"patch wrong type", "PATCH", key[len(Prefix):], `{"scopes": {"models": [1]}}`, []string{"If-Match", "*"}, 400, "scopes.models", "want a string"},
		{"patch malformed", "PATCH", key[len(Prefix):], `{"name": }`, []string{"If-Match", "*"}, 400, "", "malformed JSON"},
		{"patch not an object", "PATCH", key[len(Prefix):], `"x"`, []string{"If-Match", "*"}, 400, "", "must be a JSON object"},
		{"immutable field", "PATCH", "/applications/" + w.a.app.ID, `{"tenant_id": "` + w.b.tenant.ID + `"}`, []string{"If-Match", "*"}, 400, "tenant_id", "cannot be changed"},
		{"bad lifecycle", "POST", "/apis/" + w.a.api.ID + "/lifecycle", `{"lifecycle": "gone"}`, nil, 400, "lifecycle", "want draft"},
		{"missing lifecycle", "POST", "/apis/" + w.a.api.ID + "/lifecycle", `{}`, nil, 400, "lifecycle", "required"},
		{"bad state filter", "GET", "/subscriptions?state=maybe", ``, nil, 400, "state", "want pending"},
		{"taken name", "POST", "/tenants", `{"name": "acme"}`, nil, 409, "", "already exists"},
		{"unknown id", "GET", "/applications/01900000-0000-7000-8000-000000000000", ``, nil, 404, "", "not found"},
		{"garbage id", "GET", "/applications/x", ``, nil, 404, "", "not found"},
		{"still referenced", "DELETE", "/tenants/" + w.a.tenant.ID, ``, []string{"If-Match", "*"}, 409, "", "still has"},
		{"method not allowed", "PUT", "/tenants", `{}`, nil, 405, "", "allowed: GET, POST"},
		{"no such endpoint", "GET", "/nothing", ``, nil, 404, "", "no such endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := revision(t, st)
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := c.do(tc.method, Prefix+tc.path, adminToken, body, tc.hdr...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if r.field() != tc.field {
				t.Fatalf("field %q, want %q: %s", r.field(), tc.field, r.body)
			}
			if !strings.Contains(r.message(), tc.msg) {
				t.Fatalf("message %q does not say %q", r.message(), tc.msg)
			}
			if r.hdr.Get("Content-Type") != "application/json" {
				t.Fatalf("content type %q", r.hdr.Get("Content-Type"))
			}
			if after := revision(t, st); after != before {
				t.Fatalf("a failed request moved the revision %d -> %d", before, after)
			}
		})
	}
	if r := c.do("PUT", Prefix+"/tenants", adminToken, `{}`); r.hdr.Get("Allow") != "GET, POST" {
		t.Fatalf("Allow %q", r.hdr.Get("Allow"))
	}
}

func TestAuthentication(t *testing.T) {
	st := backends[0].open(t)
	w := buildWorld(t, st)
	c := newClient(t, st, Options{})
	soon := time.Now().Add(100 * time.Millisecond)
	_, expiring, err := st.CreateUserToken(ctx, store.UserToken{UserID: w.a.viewer.ID, ExpiresAt: &soon})
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedPlain, err := st.CreateUserToken(ctx, store.UserToken{UserID: w.a.viewer.ID})
	if err != nil {
		t.Fatal(err)
	}
	must(st.RevokeUserToken(ctx, revoked.ID, revoked.Version)).ok(t)
	_, keyPlain, err := st.CreateKey(ctx, store.APIKey{ApplicationID: w.a.app.ID})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(soon) + 10*time.Millisecond)
	path := Prefix + "/tenants"
	for _, tc := range []struct {
		name string
		hdr  string
	}{
		{"none", ""},
		{"basic", "Basic dXNlcjpwYXNz"},
		{"bearer without token", "Bearer "},
		{"wrong admin token", "Bearer not-the-token"},
		{"admin token with a suffix", "Bearer " + adminToken + "x"},
		{"malformed user token", "Bearer pu_short"},
		{"unknown user token", "Bearer pu_" + strings.Repeat("a", 52)},
		{"revoked user token", "Bearer " + revokedPlain},
		{"expired user token", "Bearer " + expiring},
		{"an API key", "Bearer " + keyPlain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("GET", path, "", nil, "Authorization", tc.hdr)
			want(t, r, 401, tc.name)
			if r.hdr.Get("WWW-Authenticate") == "" {
				t.Fatal("a 401 without WWW-Authenticate")
			}
		})
	}
	want(t, c.do("GET", path, "", nil, "Authorization", "bearer "+adminToken), 200, "scheme in lower case")

	// Without an admin token configured, only user tokens work.
	none := newClient(t, st, Options{AdminToken: func() string { return "" }})
	want(t, none.do("GET", path, "", nil, "Authorization", "Bearer "), 401, "empty token, no admin token")
	want(t, none.do("GET", path, adminToken, nil), 401, "admin token when none is set")
	want(t, none.do("GET", path, w.tokAdminUsr, nil), 200, "an admin user's token")
	// The document is public.
	want(t, none.do("GET", Prefix+"/openapi.json", "", nil), 200, "openapi without a token")
}

// TestSelfAndUsers: what users may do to themselves and to other users.
func TestSelfAndUsers(t *testing.T) {
	st := backends[0].open(t)
	w := buildWorld(t, st)
	c := newClient(t, st, Options{})
	P := Prefix
	dev := w.a.developer
	want(t, c.do("GET", P+"/users/"+dev.ID, w.a.tokDev, nil), 200, "developer reads themselves")
	r := c.do("POST", P+"/users/"+dev.ID+"/tokens", w.a.tokDev, nil)
	want(t, r, 201, "developer makes a token without a body")
	newTok := r.str("token")
	want(t, c.do("GET", P+"/me", newTok, nil), 200, "the new token works")
	r = c.do("GET", P+"/users/"+dev.ID+"/tokens", newTok, nil)
	want(t, r, 200, "developer lists their tokens")
	if d := r.obj()["data"].([]any); len(d) != 2 {
		t.Fatalf("tokens %s", r.body)
	}
	want(t, c.do("POST", P+"/users/"+dev.ID+"/tokens/"+w.a.devToken.ID+"/revoke", newTok, nil), 200, "developer revokes their first token")
	want(t, c.do("GET", P+"/me", w.a.tokDev, nil), 401, "the revoked token")
	want(t, c.do("PATCH", P+"/users/"+dev.ID, newTok, map[string]any{"role": "tenant_admin"}, "If-Match", "*"), 403, "developer promotes themselves")
	want(t, c.do("GET", P+"/users/"+w.a.viewer.ID, newTok, nil), 403, "developer reads another user")
	want(t, c.do("GET", P+"/users/"+w.adminUser.ID, w.a.tokTenantAdmin, nil), 404, "tenant admin reads an admin")

	ta := w.a.tokTenantAdmin
	want(t, c.do("POST", P+"/users", ta, map[string]any{"email": "root2@example.com", "role": "admin"}), 403, "tenant admin makes an admin")
	r = c.do("POST", P+"/users", ta, map[string]any{"email": "new@acme.example", "role": "viewer"})
	want(t, r, 201, "tenant admin makes a viewer")
	if r.str("tenant_id") != w.a.tenant.ID {
		t.Fatalf("new user %s", r.body)
	}
	uid := r.str("id")
	r = c.do("PATCH", P+"/users/"+uid, ta, map[string]any{"tenant_id": w.b.tenant.ID}, "If-Match", "*")
	want(t, r, 400, "tenant admin moves a user away")
	if r.field() != "tenant_id" {
		t.Fatalf("field %q", r.field())
	}
	want(t, c.do("PATCH", P+"/users/"+uid, ta, map[string]any{"role": "admin"}, "If-Match", "*"), 403, "tenant admin promotes to admin")
	r = c.do("PUT", P+"/users/"+uid, ta, map[string]any{"email": "new@acme.example", "role": "developer"}, "If-Match", `"1"`)
	want(t, r, 200, "PUT without tenant_id keeps it")
	if r.str("tenant_id") != w.a.tenant.ID || r.str("role") != "developer" {
		t.Fatalf("user %s", r.body)
	}
	r = c.do("GET", P+"/users", ta, nil)
	want(t, r, 200, "tenant admin lists users")
	for _, u := range r.obj()["data"].([]any) {
		if u.(map[string]any)["tenant_id"] != w.a.tenant.ID {
			t.Fatalf("tenant admin lists a user of another tenant: %v", u)
		}
	}
	want(t, c.do("DELETE", P+"/users/"+uid, ta, nil, "If-Match", "*"), 204, "tenant admin deletes a user")
	// Tenant admins see only their tenant in the tenant list.
	r = c.do("GET", P+"/tenants", ta, nil)
	if d := r.obj()["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != w.a.tenant.ID {
		t.Fatalf("tenants of a tenant admin: %s", r.body)
	}
	r = c.do("PATCH", P+"/tenants/"+w.a.tenant.ID, ta, map[string]any{"display_name": "ACME"}, "If-Match", "*")
	want(t, r, 200, "tenant admin renames their tenant")
}

// TestCrossTenantSubscription: an admin subscribes tenant B's application to tenant A's
// API; A's tenant admin decides, B's developer sees and may withdraw it.
func TestCrossTenantSubscription(t *testing.T) {
	st := backends[0].open(t)
	w := buildWorld(t, st)
	c := newClient(t, st, Options{})
	r := c.do("POST", Prefix+"/subscriptions", adminToken, map[string]any{"application_id": w.b.app.ID, "api_id": w.a.api.ID})
	want(t, r, 201, "admin subscribes across tenants")
	sub := Prefix + "/subscriptions/" + r.str("id")
	want(t, c.do("GET", sub, w.b.tokDev, nil), 200, "the application's developer sees it")
	want(t, c.do("GET", sub, w.a.tokView, nil), 200, "the API's viewer sees it")
	want(t, c.do("POST", sub+"/approve", w.b.tokTenantAdmin, nil), 403, "the application's tenant admin approves")
	want(t, c.do("POST", sub+"/approve", w.a.tokDev, nil), 403, "the API's developer approves")
	want(t, c.do("POST", sub+"/approve", w.a.tokTenantAdmin, nil), 200, "the API's tenant admin approves")
	want(t, c.do("POST", sub+"/revoke", w.b.tokDev, nil), 200, "the application's developer withdraws")
	// Non-admins cannot subscribe to another tenant's API: it does not exist for them.
	r = c.do("POST", Prefix+"/subscriptions", w.b.tokDev, map[string]any{"application_id": w.b.app.ID, "api_id": w.a.api.ID})
	want(t, r, 400, "developer subscribes to another tenant's API")
	if r.field() != "api_id" || !strings.Contains(r.message(), "no api with id") {
		t.Fatalf("error %s", r.body)
	}
}

func TestOpenAPICoversRoutes(t *testing.T) {
	st := backends[0].open(t)
	h := New(st, Options{AdminToken: func() string { return adminToken }})
	c := newClient(t, st, Options{})
	r := c.do("GET", Prefix+"/openapi.json", "", nil)
	want(t, r, 200, "openapi")
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
		Comp    struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	served := map[string]bool{}
	for _, rt := range Routes(h) {
		served[strings.ToUpper(rt.Method)+" "+rt.Path] = true
		if _, ok := doc.Paths[rt.Path][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("served route %s %s is not in the document", rt.Method, rt.Path)
		}
	}
	documented := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented++
			if !served[strings.ToUpper(method)+" "+path] {
				t.Errorf("documented %s %s is not a route", method, path)
			}
			var o struct {
				OperationID string `json:"operationId"`
			}
			_ = json.Unmarshal(op, &o)
			if o.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			// And the mux really serves it: a probe with a made-up id gets an answer of
			// the route (401 without a token, or the route's own 404), not the
			// fallbacks for unknown paths and methods.
			probe := strings.NewReplacer("{id}", "01900000-0000-7000-8000-000000000000", "{token_id}", "01900000-0000-7000-8000-000000000001").Replace(path)
			pr := c.do(strings.ToUpper(method), probe, "", nil)
			if pr.status == 405 || strings.Contains(pr.message(), "no such endpoint") {
				t.Errorf("documented %s %s is not served: %d %s", method, path, pr.status, pr.body)
			}
		}
	}
	if documented != len(served) {
		t.Errorf("%d documented operations, %d served", documented, len(served))
	}
	for _, name := range []string{"Tenant", "User", "UserToken", "Application", "APIKey", "CreatedAPIKey", "API", "Subscription", "Limit", "PromptAPI", "Error"} {
		if _, ok := doc.Comp.Schemas[name]; !ok {
			t.Errorf("no schema %s", name)
		}
	}
	// An undocumented path or method is the fallback's.
	want(t, c.do("GET", Prefix+"/widgets", adminToken, nil), 404, "undocumented path")
	want(t, c.do("PATCH", Prefix+"/subscriptions/x", adminToken, nil), 405, "undocumented method")
}
