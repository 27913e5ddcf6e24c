package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pylon-gateway/pylon/internal/testutil"
)

// mgmtListener is the smallest listener, which a config needs.
const mgmtListener = `listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            direct_response: {status: 200}
`

// TestManagementAPI starts Pylon with a SQLite store and an admin token and drives the
// management API over HTTP, as docs/management.md shows: a tenant, an application and a
// key; a list in pages; an edit with a stale ETag.
func TestManagementAPI(t *testing.T) {
	db := filepath.Join(t.TempDir(), "pylon.db")
	g := testutil.StartGateway(t, `
store: {dsn: "sqlite:`+db+`"}
admin: {address: 127.0.0.1:0, token: {value: t0ken}}
`+mgmtListener)
	api := g.AdminURL() + "/api/v1"
	call := func(method, path, token string, body any, hdr ...string) (int, http.Header, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, api+path, rd)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		raw, _ := io.ReadAll(res.Body)
		_ = json.Unmarshal(raw, &m)
		return res.StatusCode, res.Header, m
	}
	expect := func(what string, got, want int, body map[string]any) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: status %d, want %d: %v", what, got, want, body)
		}
	}

	st, _, body := call("GET", "/tenants", "", nil)
	expect("no token", st, 401, body)
	st, _, body = call("GET", "/tenants", "wrong", nil)
	expect("wrong token", st, 401, body)
	st, _, body = call("GET", "/openapi.json", "", nil)
	expect("openapi", st, 200, body)
	if body["openapi"] != "3.1.0" {
		t.Fatalf("openapi document %v", body["openapi"])
	}

	st, hdr, body := call("POST", "/tenants", "t0ken", map[string]any{"name": "acme"})
	expect("create tenant", st, 201, body)
	tenantID := body["id"].(string)
	if hdr.Get("Location") != "/api/v1/tenants/"+tenantID {
		t.Fatalf("Location %q", hdr.Get("Location"))
	}
	st, _, body = call("POST", "/applications", "t0ken", map[string]any{"tenant_id": tenantID, "name": "web"})
	expect("create application", st, 201, body)
	appID := body["id"].(string)
	st, _, body = call("POST", "/keys", "t0ken", map[string]any{"application_id": appID, "name": "ci", "scopes": map[string]any{"models": []string{"gpt-4o-mini"}}})
	expect("create key", st, 201, body)
	if k, _ := body["key"].(string); !strings.HasPrefix(k, "pk_live_") {
		t.Fatalf("key answer %v", body)
	}
	keyID := body["id"].(string)
	st, _, body = call("GET", "/keys/"+keyID, "t0ken", nil)
	expect("get key", st, 200, body)
	if _, shown := body["key"]; shown {
		t.Fatalf("GET shows the key: %v", body)
	}

	// Pages of two over five applications.
	for i := range 4 {
		st, _, body = call("POST", "/applications", "t0ken", map[string]any{"tenant_id": tenantID, "name": fmt.Sprintf("app-%d", i)})
		expect("create application", st, 201, body)
	}
	var names []string
	cursor := ""
	for pages := 1; ; pages++ {
		st, _, body = call("GET", "/applications?limit=2&cursor="+cursor, "t0ken", nil)
		expect("list", st, 200, body)
		for _, a := range body["data"].([]any) {
			names = append(names, a.(map[string]any)["name"].(string))
		}
		next, _ := body["next_cursor"].(string)
		if next == "" {
			if pages != 3 {
				t.Fatalf("%d pages, want 3", pages)
			}
			break
		}
		cursor = next
	}
	if strings.Join(names, ",") != "web,app-0,app-1,app-2,app-3" {
		t.Fatalf("listed %v", names)
	}

	// Two edits from the same read: the second is 412 and changes nothing.
	st, hdr, body = call("GET", "/applications/"+appID, "t0ken", nil)
	expect("get application", st, 200, body)
	tag := hdr.Get("ETag")
	st, _, body = call("PATCH", "/applications/"+appID, "t0ken", map[string]any{"description": "first"}, "If-Match", tag)
	expect("first edit", st, 200, body)
	st, _, body = call("PATCH", "/applications/"+appID, "t0ken", map[string]any{"description": "second"}, "If-Match", tag)
	expect("stale edit", st, 412, body)
	st, _, body = call("PATCH", "/applications/"+appID, "t0ken", map[string]any{"description": "third"})
	expect("edit without If-Match", st, 428, body)
	st, _, body = call("GET", "/applications/"+appID, "t0ken", nil)
	if body["description"] != "first" {
		t.Fatalf("after a stale edit: %v", body)
	}
	// Errors name the field.
	st, _, body = call("POST", "/applications", "t0ken", map[string]any{"tenant_id": tenantID, "name": "x", "colour": "red"})
	expect("unknown field", st, 400, body)
	if e := body["error"].(map[string]any); e["field"] != "colour" {
		t.Fatalf("error %v", e)
	}
	// The rest of the admin listener is unchanged.
	res, err := http.Get(g.AdminURL() + "/ready")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("/ready: %v %v", res, err)
	}
	res.Body.Close()
}

// TestManagementAPIWithoutStore: without store in the config, /api/v1/ says what to
// configure.
func TestManagementAPIWithoutStore(t *testing.T) {
	g := testutil.StartGateway(t, "admin: {address: 127.0.0.1:0}\n"+mgmtListener)
	res, err := http.Get(g.AdminURL() + "/api/v1/tenants")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 404 || !strings.Contains(string(b), "store") {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
}
