package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pylon-gateway/pylon/internal/store"
	"github.com/pylon-gateway/pylon/internal/store/sqlstore"
)

// listenerYAML makes a config valid: the smallest listener.
const listenerYAML = `listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /}
            direct_response: {status: 200}
`

// run runs the command line in-process and returns its exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, strings.TrimSpace(out.String()), errb.String()
}

func ok(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, args...)
	if code != 0 {
		t.Fatalf("pylon %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// TestManagementCLI runs the documented management commands against a config's SQLite
// store, then checks what they wrote with the store itself.
func TestManagementCLI(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "pylon.db")
	cfg := filepath.Join(dir, "pylon.yaml")
	if err := os.WriteFile(cfg, []byte("store: {dsn: sqlite:"+db+"}\n"+listenerYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	tenantID := ok(t, "tenant", "create", "-c", cfg, "--display-name", "Acme Corp", "acme")
	// Flags after the argument work too.
	ok(t, "tenant", "create", "globex", "-c", cfg)
	if out := ok(t, "tenant", "list", "-c", cfg); !strings.Contains(out, tenantID+"\tacme\tAcme Corp") || !strings.Contains(out, "globex") {
		t.Fatalf("tenant list:\n%s", out)
	}
	appID := ok(t, "app", "create", "-c", cfg, "--tenant", "acme", "web")
	ok(t, "app", "create", "-c", cfg, "--tenant", tenantID, "batch")
	key := ok(t, "key", "create", "-c", cfg, "--app", "web", "--tenant", "acme", "--name", "ci", "--models", "gpt-4o-mini, claude-haiku", "--expires", "720h")
	if !strings.HasPrefix(key, store.KeyPrefix) || strings.Contains(key, "\n") {
		t.Fatalf("key create printed %q, want the key alone", key)
	}
	key2 := ok(t, "key", "create", "-c", cfg, "--app", appID)

	email := "ops@acme.example"
	userID := ok(t, "user", "create", "-c", cfg, "--email", email, "--role", "tenant_admin", "--tenant", "acme", "--name", "Ops")
	tok := ok(t, "user", "token", "-c", cfg, "--name", "laptop", "--expires", "24h", email)
	if !strings.HasPrefix(tok, store.UserTokenPrefix) {
		t.Fatalf("user token printed %q", tok)
	}
	ok(t, "user", "create", "--dsn", "sqlite:"+db, "--email", "root@example.com", "--role", "admin")

	st, err := sqlstore.Open(context.Background(), "sqlite:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	k, err := st.LookupKey(ctx, store.HashKey(key))
	if err != nil || k.ApplicationID != appID || k.Name != "ci" || len(k.Scopes.Models) != 2 || k.ExpiresAt == nil {
		t.Fatalf("the created key: %+v %v", k, err)
	}
	_, u, err := st.LookupUserToken(ctx, store.HashKey(tok))
	if err != nil || u.ID != userID || u.Role != store.RoleTenantAdmin || u.TenantID != tenantID {
		t.Fatalf("the created token's user: %+v %v", u, err)
	}

	// Revoke a key; approve a subscription.
	k2, _ := st.LookupKey(ctx, store.HashKey(key2))
	ok(t, "key", "revoke", "-c", cfg, k2.ID)
	if _, err := st.LookupKey(ctx, store.HashKey(key2)); err == nil {
		t.Fatal("the revoked key still works")
	}
	api, _ := st.CreateAPI(ctx, store.API{TenantID: tenantID, Name: "payments", APIVersion: "v1", RequiresApproval: true})
	api, _ = st.SetAPILifecycle(ctx, api.ID, store.Published, api.Version)
	sub, err := st.CreateSubscription(ctx, store.Subscription{ApplicationID: appID, APIID: api.ID})
	if err != nil || sub.State != store.SubPending {
		t.Fatalf("subscription %+v %v", sub, err)
	}
	ok(t, "subscription", "approve", "-c", cfg, "--reason", "looks fine", sub.ID)
	if got, _ := st.GetSubscription(ctx, sub.ID); got.State != store.SubApproved || got.Reason != "looks fine" {
		t.Fatalf("after approve: %+v", got)
	}

	// Failures say why, with the field or the object.
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"tenant", "create", "-c", cfg, "acme"}, 1, "already exists"},
		{[]string{"tenant", "create", "-c", cfg, "Bad Name"}, 1, "invalid name"},
		{[]string{"tenant", "create", "-c", cfg}, 2, "want one argument"},
		{[]string{"tenant", "create", "acme"}, 1, "a config is required"},
		{[]string{"app", "create", "-c", cfg, "--tenant", "nope", "x"}, 1, `no tenant named "nope"`},
		{[]string{"key", "create", "-c", cfg, "--app", "web"}, 2, "give its --tenant"},
		{[]string{"key", "create", "-c", cfg, "--app", appID, "--expires", "soon"}, 2, "--expires"},
		{[]string{"key", "revoke", "-c", cfg, k2.ID}, 1, "already revoked"},
		{[]string{"subscription", "approve", "-c", cfg, sub.ID}, 1, "cannot go from approved to approved"},
		{[]string{"user", "create", "-c", cfg, "--email", "x@example.com", "--role", "boss", "--tenant", "acme"}, 1, "invalid role"},
		{[]string{"user", "token", "-c", cfg, "nobody@example.com"}, 1, "not found"},
		{[]string{"tenant", "explode", "-c", cfg}, 2, "unknown command"},
		{[]string{"key"}, 2, "a subcommand is required"},
		{[]string{"tenant", "list", "-c", filepath.Join(dir, "missing.yaml")}, 1, "missing.yaml"},
	} {
		code, _, errOut := run(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("pylon %s: exit %d %q, want %d and %q", strings.Join(tc.args, " "), code, errOut, tc.code, tc.msg)
		}
	}
	noStore := filepath.Join(dir, "nostore.yaml")
	_ = os.WriteFile(noStore, []byte(listenerYAML), 0o644)
	if code, _, errOut := run(t, "tenant", "list", "-c", noStore); code != 1 || !strings.Contains(errOut, "has no store") {
		t.Errorf("a config without a store: %d %s", code, errOut)
	}
	if _, out, _ := run(t, "help"); !strings.Contains(out, "pylon key create -c FILE --app APP") {
		t.Error("pylon help does not document the management commands")
	}
}
