package sqlstore

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/store"
	"github.com/pylon-gateway/pylon/internal/store/storetest"
)

func TestStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			if b.name == "postgres" {
				requirePostgres(t)
			}
			storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, b.dsn(t)) })
		})
	}
}

// TestMigrate covers a database from empty and from the previous schema version, and
// that Open on an up-to-date database changes nothing.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			if b.name == "postgres" {
				requirePostgres(t)
			}
			ms, err := loadMigrations(b.name)
			if err != nil {
				t.Fatal(err)
			}
			latest := len(ms)

			t.Run("from empty", func(t *testing.T) {
				d := openTest(t, b.dsn(t))
				if v, err := d.SchemaVersion(ctx); err != nil || v != latest {
					t.Fatalf("schema version %d %v, want %d", v, err, latest)
				}
			})

			t.Run("from previous", func(t *testing.T) {
				dsn := b.dsn(t)
				old, err := open(ctx, dsn, latest-1)
				if err != nil {
					t.Fatal(err)
				}
				if v, _ := old.SchemaVersion(ctx); v != latest-1 {
					t.Fatalf("old schema version %d, want %d", v, latest-1)
				}
				fx := writeFixture(t, old)
				_ = old.Close()

				d := openTest(t, dsn)
				if v, _ := d.SchemaVersion(ctx); v != latest {
					t.Fatalf("schema version %d after migrating, want %d", v, latest)
				}
				fx.check(t, d)
				// What the new version added works on the migrated data.
				if _, err := d.CreateLimit(ctx, store.Limit{Scope: store.ScopeApplication, ScopeID: fx.appID, Kind: store.Concurrent, Limit: 2}); err != nil {
					t.Fatal(err)
				}
				if rev, _ := d.Revision(ctx); rev != fx.rev+1 {
					t.Fatalf("revision %d after migration and one write, want %d", rev, fx.rev+1)
				}
				u, err := d.CreateUser(ctx, store.User{TenantID: fx.tenant.ID, Email: "ada@example.com", Role: store.RoleViewer})
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := d.CreateUserToken(ctx, store.UserToken{UserID: u.ID}); err != nil {
					t.Fatal(err)
				}
			})

			t.Run("up to date is a no-op", func(t *testing.T) {
				dsn := b.dsn(t)
				d := openTest(t, dsn)
				if _, err := d.CreateTenant(ctx, store.Tenant{Name: "acme"}); err != nil {
					t.Fatal(err)
				}
				rows := migrationRows(t, d)
				again := openTest(t, dsn)
				if got := migrationRows(t, again); got != rows {
					t.Fatalf("schema_migrations changed on a second Open: %q -> %q", rows, got)
				}
				if rev, _ := again.Revision(ctx); rev != 1 {
					t.Fatalf("revision %d after reopening, want 1", rev)
				}
			})

			t.Run("newer database is refused", func(t *testing.T) {
				dsn := b.dsn(t)
				d := openTest(t, dsn)
				if _, err := d.b.reader().exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future.sql', 0)", latest+1); err != nil {
					t.Fatal(err)
				}
				_, err := Open(ctx, dsn)
				if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
					t.Fatalf("Open of a newer schema: %v", err)
				}
			})
		})
	}
}

func migrationRows(t *testing.T, d *DB) string {
	t.Helper()
	rs, err := d.b.reader().query(context.Background(), "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var sb strings.Builder
	for rs.Next() {
		var v, at int64
		var name string
		if err := rs.Scan(&v, &name, &at); err != nil {
			t.Fatal(err)
		}
		sb.WriteString(name + "@" + time.UnixMicro(at).String() + ";")
	}
	return sb.String()
}

// fixture is data written through the store at schema version N-1.
type fixture struct {
	tenant store.Tenant
	appID  string
	key    store.APIKey
	plain  string
	subID  string
	rev    int64
}

func writeFixture(t *testing.T, d *DB) fixture {
	t.Helper()
	ctx := context.Background()
	tn, err := d.CreateTenant(ctx, store.Tenant{Name: "acme", DisplayName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	app, err := d.CreateApplication(ctx, store.Application{TenantID: tn.ID, Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	k, plain, err := d.CreateKey(ctx, store.APIKey{ApplicationID: app.ID, Scopes: store.Scopes{Models: []string{"gpt-4o"}}})
	if err != nil {
		t.Fatal(err)
	}
	api, err := d.CreateAPI(ctx, store.API{TenantID: tn.ID, Name: "pay", APIVersion: "v1", RequiresApproval: true})
	if err != nil {
		t.Fatal(err)
	}
	if api, err = d.SetAPILifecycle(ctx, api.ID, store.Published, 1); err != nil {
		t.Fatal(err)
	}
	sub, err := d.CreateSubscription(ctx, store.Subscription{ApplicationID: app.ID, APIID: api.ID})
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := d.Revision(ctx)
	return fixture{tenant: tn, appID: app.ID, key: k, plain: plain, subID: sub.ID, rev: rev}
}

func (f fixture) check(t *testing.T, d *DB) {
	t.Helper()
	ctx := context.Background()
	if got, err := d.GetTenant(ctx, f.tenant.ID); err != nil || got != f.tenant {
		t.Fatalf("tenant after migration: %+v %v", got, err)
	}
	k, err := d.LookupKey(ctx, store.HashKey(f.plain))
	if err != nil || k.ID != f.key.ID || len(k.Scopes.Models) != 1 {
		t.Fatalf("key after migration: %+v %v", k, err)
	}
	if sub, err := d.GetSubscription(ctx, f.subID); err != nil || sub.State != store.SubPending {
		t.Fatalf("subscription after migration: %+v %v", sub, err)
	}
	if rev, _ := d.Revision(ctx); rev != f.rev {
		t.Fatalf("revision %d after migration, want %d", rev, f.rev)
	}
}

// TestTwoNodes: two DB handles on one database stand for two nodes; a change through
// one is seen by the other's Watch well within two seconds.
func TestTwoNodes(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			if b.name == "postgres" {
				requirePostgres(t)
			}
			dsn := b.dsn(t)
			writer, reader := openTest(t, dsn), openTest(t, dsn)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var seen atomic.Int64
			seen.Store(-1)
			changed := make(chan int64, 16)
			go store.Watch(ctx, reader, 100*time.Millisecond, func(rev int64) {
				seen.Store(rev)
				changed <- rev
			}, func(err error) { t.Errorf("watch: %v", err) })
			if rev := <-changed; rev != 0 {
				t.Fatalf("initial revision %d, want 0", rev)
			}
			tn, err := writer.CreateTenant(ctx, store.Tenant{Name: "acme"})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			select {
			case rev := <-changed:
				if rev != 1 {
					t.Fatalf("revision %d, want 1", rev)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("the other node did not see the change within two seconds")
			}
			t.Logf("seen after %v", time.Since(start))
			ch, rev, err := reader.Changes(ctx, 0)
			if err != nil || rev != 1 || len(ch) != 1 || ch[0].ID != tn.ID {
				t.Fatalf("changes on the other node: %+v %d %v", ch, rev, err)
			}
		})
	}
}

func TestChangesPruned(t *testing.T) {
	d := openTest(t, backends[0].dsn(t))
	ctx := context.Background()
	if _, err := d.b.reader().exec(ctx, "UPDATE store_revision SET revision = $1", keepChanges+5); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Changes(ctx, 2); !errors.Is(err, store.ErrChangesPruned) {
		t.Fatalf("changes from long ago: %v", err)
	}
	if _, _, err := d.Changes(ctx, -1); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("negative since: %v", err)
	}
	if _, err := d.CreateTenant(ctx, store.Tenant{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	ch, rev, err := d.Changes(ctx, keepChanges+5)
	if err != nil || rev != keepChanges+6 || len(ch) != 1 {
		t.Fatalf("recent changes: %+v %d %v", ch, rev, err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, ""); err == nil {
		t.Fatal("Open of an empty path succeeded")
	}
	if _, err := Open(ctx, "postgres://postgres@127.0.0.1:1/none?connect_timeout=1"); err == nil {
		t.Fatal("Open of an unreachable PostgreSQL succeeded")
	}
	d := openTest(t, "sqlite:"+DefaultPath(t.TempDir()))
	if d.Dialect() != "sqlite" {
		t.Fatalf("dialect %s", d.Dialect())
	}
}

func BenchmarkLookupKey(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			if be.name == "postgres" {
				requirePostgres(b)
			}
			d := openTest(b, be.dsn(b))
			ctx := context.Background()
			tn, _ := d.CreateTenant(ctx, store.Tenant{Name: "acme"})
			app, _ := d.CreateApplication(ctx, store.Application{TenantID: tn.ID, Name: "web"})
			var hashes []store.KeyHash
			for range 100 {
				_, plain, err := d.CreateKey(ctx, store.APIKey{ApplicationID: app.ID, Scopes: store.Scopes{Models: []string{"a", "b"}}})
				if err != nil {
					b.Fatal(err)
				}
				hashes = append(hashes, store.HashKey(plain))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := d.LookupKey(ctx, hashes[i%len(hashes)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestConcurrentOpen: nodes starting together on one empty database migrate it once.
func TestConcurrentOpen(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			if b.name == "postgres" {
				requirePostgres(t)
			}
			dsn := b.dsn(t)
			errs := make(chan error, 3)
			for range 3 {
				go func() {
					d, err := Open(context.Background(), dsn)
					if err == nil {
						err = d.Close()
					}
					errs <- err
				}()
			}
			for range 3 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			d := openTest(t, dsn)
			ms, _ := loadMigrations(b.name)
			if v, _ := d.SchemaVersion(context.Background()); v != len(ms) {
				t.Fatalf("schema version %d, want %d", v, len(ms))
			}
		})
	}
}
