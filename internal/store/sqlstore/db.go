// Package sqlstore implements store.Store on SQLite (the embedded default, a file in the
// data directory) and PostgreSQL (several nodes sharing one database).
//
// Why one package with two backends rather than a package per database: the queries,
// the validation order, the optimistic-concurrency protocol and the change feed are the
// same text for both ($1 placeholders, integer times, text ids), and they are where the
// bugs would be. What differs (driver, DDL, constraint error codes, migration locking)
// is the small backend seam in backend.go, sqlite.go and postgres.go. Both drivers are
// pure Go, so linking both costs no cgo.
package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/pylon-gateway/pylon/internal/store"
)

// DB is a store.Store on SQLite or PostgreSQL. It is safe for concurrent use.
type DB struct {
	b backend
}

var _ store.Store = (*DB)(nil)

// Listen calls fn whenever another node may have changed the store, until ctx ends: on
// PostgreSQL at each change notification (LISTEN/NOTIFY, milliseconds after the commit),
// so that nodes need not wait for their next poll. It reports false on SQLite, which has no
// notifications (one node, or polling).
func (d *DB) Listen(ctx context.Context, fn func()) bool {
	pb, ok := d.b.(*postgresBackend)
	if !ok {
		return false
	}
	go pb.listen(ctx, fn)
	return true
}

// Open opens the store at dsn and migrates it to the latest schema.
//
//	postgres://user@host:5432/db?search_path=pylon   PostgreSQL (also postgresql://)
//	/var/lib/pylon/pylon.db                          SQLite file (also sqlite:PATH, file:PATH)
//
// Open on an up-to-date database changes nothing.
func Open(ctx context.Context, dsn string) (*DB, error) {
	return open(ctx, dsn, 0)
}

// open migrates to schema version target (0: latest); tests use it to build an older
// schema.
func open(ctx context.Context, dsn string, target int) (*DB, error) {
	var (
		b   backend
		err error
	)
	if isPostgres(dsn) {
		b, err = openPostgres(ctx, dsn)
	} else {
		b, err = openSQLite(ctx, sqlitePath(dsn))
	}
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, b, target); err != nil {
		_ = b.close()
		return nil, err
	}
	return &DB{b: b}, nil
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Dialect is "sqlite" or "postgres".
func (d *DB) Dialect() string { return d.b.dialect() }

// Close releases the database.
func (d *DB) Close() error { return d.b.close() }

// newID returns a UUIDv7: unique, and sorting in creation order (the list order).
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// wtx is a write transaction: it records what it changed, and write turns that into one
// revision.
type wtx struct {
	querier
	changes []store.Change
}

func (w *wtx) changed(kind, id string, op store.Op) {
	w.changes = append(w.changes, store.Change{Kind: kind, ID: id, Op: op})
}

// keepChanges is how many revisions of the change log are kept. A node further behind
// than that reloads everything, which it must be able to do anyway at start.
const keepChanges = 10000

// write runs fn in one transaction. When fn succeeds and changed something, the same
// transaction bumps the revision and logs the changes; when fn fails, nothing of it
// remains.
//
// On PostgreSQL the revision row is locked from the bump to the commit, so revisions
// commit in order: a node that has seen revision N has seen every write up to N.
func (d *DB) write(ctx context.Context, fn func(w *wtx) error) error {
	return d.b.inTx(ctx, func(q querier) error {
		w := &wtx{querier: q}
		if err := fn(w); err != nil {
			return err
		}
		if len(w.changes) == 0 {
			return nil
		}
		var rev int64
		if err := q.queryRow(ctx, "UPDATE store_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision").Scan(&rev); err != nil {
			return fmt.Errorf("store: bump revision: %w", err)
		}
		at := micros(now())
		for i, c := range w.changes {
			if _, err := q.exec(ctx, "INSERT INTO store_changes (revision, seq, kind, object_id, op, at) VALUES ($1, $2, $3, $4, $5, $6)",
				rev, i, c.Kind, c.ID, string(c.Op), at); err != nil {
				return fmt.Errorf("store: log change: %w", err)
			}
		}
		if rev > keepChanges {
			if _, err := q.exec(ctx, "DELETE FROM store_changes WHERE revision <= $1", rev-keepChanges); err != nil {
				return fmt.Errorf("store: prune changes: %w", err)
			}
		}
		return d.b.notify(ctx, q, rev)
	})
}

// Revision implements store.Revisions.
func (d *DB) Revision(ctx context.Context) (int64, error) {
	var rev int64
	if err := d.b.reader().queryRow(ctx, "SELECT revision FROM store_revision WHERE id = 1").Scan(&rev); err != nil {
		return 0, fmt.Errorf("store: revision: %w", err)
	}
	return rev, nil
}

// Changes implements store.Revisions. It reads the revision R first and then the
// changes up to R: revisions commit in order, so every change up to R is visible once R
// is, and a write landing in between shows up in the next call.
func (d *DB) Changes(ctx context.Context, since int64) ([]store.Change, int64, error) {
	if since < 0 {
		return nil, 0, store.Invalid("since", "must not be negative")
	}
	rev, err := d.Revision(ctx)
	if err != nil {
		return nil, 0, err
	}
	if since >= rev {
		return nil, rev, nil
	}
	if rev-since > keepChanges {
		return nil, 0, fmt.Errorf("store: changes since %d: only the last %d revisions are kept: %w", since, keepChanges, store.ErrChangesPruned)
	}
	rs, err := d.b.reader().query(ctx, "SELECT revision, kind, object_id, op, at FROM store_changes WHERE revision > $1 AND revision <= $2 ORDER BY revision, seq", since, rev)
	if err != nil {
		return nil, 0, fmt.Errorf("store: changes: %w", err)
	}
	defer rs.Close()
	var out []store.Change
	for rs.Next() {
		var c store.Change
		var op string
		if err := rs.Scan(&c.Revision, &c.Kind, &c.ID, &op, timeCol{&c.At}); err != nil {
			return nil, 0, fmt.Errorf("store: changes: %w", err)
		}
		c.Op = store.Op(op)
		out = append(out, c)
	}
	if err := rs.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: changes: %w", err)
	}
	return out, rev, nil
}
