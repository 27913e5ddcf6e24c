package mgmt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pylon-gateway/pylon/internal/store"
	"github.com/pylon-gateway/pylon/internal/store/sqlstore"
)

const adminToken = "t0ken-for-tests"

var ctx = context.Background()

// backends are the stores the handler tests run on: SQLite always, PostgreSQL when the
// test service answers (as internal/store/sqlstore's suite: skipped without it, except
// under CI).
var backends = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"sqlite", func(t *testing.T) store.Store { return openStore(t, filepath.Join(t.TempDir(), "pylon.db")) }},
	{"postgres", func(t *testing.T) store.Store { return openStore(t, freshSchema(t)) }},
}

func openStore(t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func postgresDSN() string {
	if v := os.Getenv("PYLON_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

func freshSchema(t *testing.T) string {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := pgx.Connect(cctx, postgresDSN())
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL at %s is unreachable and CI is set: %v", postgresDSN(), err)
		}
		t.Skipf("PostgreSQL tests skipped: %s is unreachable (%v)", postgresDSN(), err)
	}
	defer c.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "pylon_mgmt_" + hex.EncodeToString(b[:])
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, postgresDSN())
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
	})
	sep := "?"
	if strings.Contains(postgresDSN(), "?") {
		sep = "&"
	}
	return postgresDSN() + sep + "search_path=" + schema
}

// client talks to a handler under test.
type client struct {
	t   *testing.T
	url string
	st  store.Store
}

func newClient(t *testing.T, st store.Store, opts Options) *client {
	t.Helper()
	if opts.AdminToken == nil {
		opts.AdminToken = func() string { return adminToken }
	}
	srv := httptest.NewServer(New(st, opts))
	t.Cleanup(srv.Close)
	return &client{t: t, url: srv.URL, st: st}
}

type resp struct {
	status int
	hdr    http.Header
	body   []byte
}

// obj decodes the body as an object.
func (r resp) obj() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.body, &m)
	return m
}

func (r resp) str(k string) string { s, _ := r.obj()[k].(string); return s }

func (r resp) field() string {
	e, _ := r.obj()["error"].(map[string]any)
	f, _ := e["field"].(string)
	return f
}

func (r resp) message() string {
	e, _ := r.obj()["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// do sends a request: body is a string sent as is, or a value sent as JSON; hdr is
// name, value pairs.
func (c *client) do(method, path, token string, body any, hdr ...string) resp {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, hdr: res.Header, body: b}
}

// want fails unless r has status.
func want(t *testing.T, r resp, status int, what string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
}

// must(f()).ok(t) is f's value, failing t on an error.
func must[T any](v T, err error) result[T] { return result[T]{v, err} }

type result[T any] struct {
	v   T
	err error
}

func (r result[T]) ok(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// tenantWorld is one tenant with one of everything, made through the store.
type tenantWorld struct {
	tenant                          store.Tenant
	tenantAdmin, developer, viewer  store.User
	tokTenantAdmin, tokDev, tokView string
	app                             store.Application
	key                             store.APIKey
	api                             store.API
	sub                             store.Subscription
	appLimit, tenantLimit           store.Limit
	prompt                          store.PromptAPI
	devToken                        store.UserToken // a token of developer
	dev2                            store.User      // a developer without a token of the tests
	dev2Token                       store.UserToken
}

type world struct {
	a, b        tenantWorld
	adminUser   store.User
	tokAdminUsr string
}

const schema = `{"type": "object", "properties": {"topic": {"type": "string"}}}`

func buildTenant(t *testing.T, st store.Store, name string) tenantWorld {
	t.Helper()
	var w tenantWorld
	w.tenant = must(st.CreateTenant(ctx, store.Tenant{Name: name})).ok(t)
	mkUser := func(role store.Role) (store.User, string, store.UserToken) {
		u := must(st.CreateUser(ctx, store.User{TenantID: w.tenant.ID, Email: string(role) + "-" + newSuffix() + "@" + name + ".example", Role: role})).ok(t)
		tok, plain, err := st.CreateUserToken(ctx, store.UserToken{UserID: u.ID, Name: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return u, plain, tok
	}
	w.tenantAdmin, w.tokTenantAdmin, _ = mkUser(store.RoleTenantAdmin)
	w.developer, w.tokDev, w.devToken = mkUser(store.RoleDeveloper)
	w.viewer, w.tokView, _ = mkUser(store.RoleViewer)
	w.dev2, _, w.dev2Token = mkUser(store.RoleDeveloper)
	w.app = must(st.CreateApplication(ctx, store.Application{TenantID: w.tenant.ID, Name: "web"})).ok(t)
	k, _, err := st.CreateKey(ctx, store.APIKey{ApplicationID: w.app.ID, Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	w.key = k
	api := must(st.CreateAPI(ctx, store.API{TenantID: w.tenant.ID, Name: "payments", APIVersion: "v1", RequiresApproval: true})).ok(t)
	w.api = must(st.SetAPILifecycle(ctx, api.ID, store.Published, api.Version)).ok(t)
	w.sub = must(st.CreateSubscription(ctx, store.Subscription{ApplicationID: w.app.ID, APIID: w.api.ID})).ok(t)
	w.appLimit = must(st.CreateLimit(ctx, store.Limit{Scope: store.ScopeApplication, ScopeID: w.app.ID, Kind: store.RequestsPerMinute, Limit: 60})).ok(t)
	w.tenantLimit = must(st.CreateLimit(ctx, store.Limit{Scope: store.ScopeTenant, ScopeID: w.tenant.ID, Kind: store.Concurrent, Limit: 10})).ok(t)
	w.prompt = must(st.CreatePromptAPI(ctx, store.PromptAPI{TenantID: w.tenant.ID, Name: "summarize", APIVersion: "v1", Model: "m",
		Template: "Summarize {{topic}}", InputSchema: json.RawMessage(schema)})).ok(t)
	return w
}

func buildWorld(t *testing.T, st store.Store) *world {
	t.Helper()
	w := &world{a: buildTenant(t, st, "acme"), b: buildTenant(t, st, "globex")}
	w.adminUser = must(st.CreateUser(ctx, store.User{Email: "root@example.com", Role: store.RoleAdmin})).ok(t)
	_, plain, err := st.CreateUserToken(ctx, store.UserToken{UserID: w.adminUser.ID})
	if err != nil {
		t.Fatal(err)
	}
	w.tokAdminUsr = plain
	return w
}

func revision(t *testing.T, st store.Store) int64 {
	t.Helper()
	return must(st.Revision(ctx)).ok(t)
}

var suffix int

func newSuffix() string {
	suffix++
	return strings.Repeat("x", 0) + string(rune('a'+suffix%26)) + hex.EncodeToString([]byte{byte(suffix)})
}

func indexByte(s string, c byte) int { return strings.IndexByte(s, c) }
func splitPath(p string) []string    { return strings.Split(p, "/") }
func joinPath(s []string) string     { return strings.Join(s, "/") }
