package sqlstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrations are SQL files named NNNN_what.sql under migrations/<dialect>/, applied in
// order of NNNN, each in one transaction together with its row in schema_migrations.
// They are append-only: a released file never changes, a schema change is a new file in
// both dialects with the same number.
//
//go:embed migrations
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the migrations of dialect in order and checks that they are
// numbered 1, 2, 3... without gaps.
func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		v, err := parseMigrationName(e.Name())
		if err != nil {
			return nil, fmt.Errorf("sqlstore: migration %s/%s: %w", dialect, e.Name(), err)
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlstore: migrations of %s: want version %d, found %s", dialect, i+1, m.name)
		}
	}
	return ms, nil
}

// parseMigrationName returns NNNN of "NNNN_what.sql".
func parseMigrationName(name string) (int, error) {
	stem, ok := strings.CutSuffix(name, ".sql")
	if !ok {
		return 0, errors.New("want a .sql file")
	}
	num, _, ok := strings.Cut(stem, "_")
	if !ok || len(num) != 4 {
		return 0, errors.New("want a name like 0001_init.sql")
	}
	v, err := strconv.Atoi(num)
	if err != nil || v < 1 {
		return 0, errors.New("want a name like 0001_init.sql")
	}
	return v, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at BIGINT  NOT NULL
)`

// migrate applies the migrations of b's dialect above the database's version, up to
// target (0: all). It is a no-op on an up-to-date database, and fails without changing
// anything on a database newer than this binary.
func migrate(ctx context.Context, b backend, target int) error {
	ms, err := loadMigrations(b.dialect())
	if err != nil {
		return err
	}
	if target == 0 {
		target = len(ms)
	}
	for {
		done := false
		err := b.inTx(ctx, func(q querier) error {
			if err := b.lockMigrations(ctx, q); err != nil {
				return err
			}
			// Under the lock: two PostgreSQL sessions running CREATE TABLE IF NOT
			// EXISTS at once can still collide in the catalog.
			if _, err := q.exec(ctx, createMigrationsTable); err != nil {
				return fmt.Errorf("sqlstore: migrations table: %w", err)
			}
			// Read the version inside the transaction: another node may have just
			// migrated.
			var cur int
			if err := q.queryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&cur); err != nil {
				return err
			}
			if cur > len(ms) {
				return fmt.Errorf("sqlstore: database schema version %d is newer than this binary knows (%d): upgrade Pylon", cur, len(ms))
			}
			if cur >= target {
				done = true
				return nil
			}
			m := ms[cur]
			if _, err := q.exec(ctx, m.sql); err != nil {
				return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
			}
			_, err := q.exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
				m.version, m.name, time.Now().UnixMicro())
			return err
		})
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// SchemaVersion returns the version of the database's schema.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := d.b.reader().queryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}
