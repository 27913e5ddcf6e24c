package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresDSN is the test service: 127.0.0.1:5432, user postgres, trust auth, database
// test. PYLON_TEST_POSTGRES overrides it.
func postgresDSN() string {
	if v := os.Getenv("PYLON_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// requirePostgres skips the test when the service is unreachable, except under CI,
// where the service is part of the contract and its absence is a failure.
func requirePostgres(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, postgresDSN())
	if err == nil {
		_ = c.Close(ctx)
		return
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("PostgreSQL at %s is unreachable and CI is set: %v", postgresDSN(), err)
	}
	tb.Skipf("PostgreSQL tests skipped: %s is unreachable (%v); start it or set PYLON_TEST_POSTGRES", postgresDSN(), err)
}

// freshSchema creates an empty schema with a random name, drops it when tb ends, and
// returns a DSN whose search_path is that schema.
func freshSchema(tb testing.TB) string {
	tb.Helper()
	requirePostgres(tb)
	ctx := context.Background()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "pylon_test_" + hex.EncodeToString(b[:])
	c, err := pgx.Connect(ctx, postgresDSN())
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		c, err := pgx.Connect(ctx, postgresDSN())
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withParam(postgresDSN(), "search_path", schema)
}

func withParam(dsn, k, v string) string {
	sep := "?"
	for i := 0; i < len(dsn); i++ {
		if dsn[i] == '?' {
			sep = "&"
		}
	}
	return dsn + sep + k + "=" + v
}

// backends are the DSN makers the suite runs on; each call gives an empty database.
var backends = []struct {
	name string
	dsn  func(testing.TB) string
}{
	{"sqlite", func(tb testing.TB) string { return filepath.Join(tb.TempDir(), "data", DefaultFile) }},
	{"postgres", freshSchema},
}

func openTest(tb testing.TB, dsn string) *DB {
	tb.Helper()
	d, err := Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	return d
}
