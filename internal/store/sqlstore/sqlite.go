package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DefaultFile is the name of the SQLite database in the data directory.
const DefaultFile = "pylon.db"

// DefaultPath is where the store lives in dataDir when no DSN is configured.
func DefaultPath(dataDir string) string { return filepath.Join(dataDir, DefaultFile) }

type sqliteBackend struct {
	db *sql.DB
	// stmts caches prepared read statements by text. database/sql, unlike pgx, prepares
	// a statement on every call; preparing is most of the cost of a key lookup.
	stmts sync.Map // string -> *sql.Stmt
}

// openSQLite opens the database file at path, creating it (mode 0600: it holds key
// hashes and user emails) and its directory (0700) when missing.
//
// Pragmas, applied to every pooled connection by the driver:
//   - journal_mode=WAL: readers never block the writer and vice versa, so data-plane
//     polls and management reads go on during a write.
//   - busy_timeout=5000: a second writer waits for the lock instead of failing.
//   - foreign_keys=1: SQLite leaves them off unless asked, per connection.
//   - _txlock=immediate: a write transaction takes the write lock at BEGIN. With the
//     default (deferred) two transactions that read first and then write can deadlock,
//     and SQLite fails one at once with SQLITE_BUSY, which busy_timeout does not cover.
func openSQLite(ctx context.Context, path string) (*sqliteBackend, error) {
	if path == "" {
		return nil, errors.New("sqlstore: empty sqlite path")
	}
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("sqlstore: data directory: %w", err)
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
		_ = f.Close()
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "5000")
	q.Set("_foreign_keys", "1")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	if path == ":memory:" {
		db.SetMaxOpenConns(1) // each connection would be its own empty database
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	return &sqliteBackend{db: db}, nil
}

func (b *sqliteBackend) reader() querier { return sqliteReader{b} }

// sqliteReader runs reads through cached prepared statements, and anything else (DDL
// during migration) directly.
type sqliteReader struct{ b *sqliteBackend }

func (r sqliteReader) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := r.b.stmts.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := r.b.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := r.b.stmts.LoadOrStore(query, s); loaded {
		_ = s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

func (r sqliteReader) exec(ctx context.Context, query string, args ...any) (int64, error) {
	return sqlQuerier{r.b.db}.exec(ctx, query, args...)
}

func (r sqliteReader) queryRow(ctx context.Context, query string, args ...any) scanner {
	s, err := r.stmt(ctx, query)
	if err != nil {
		return errScanner{err}
	}
	return sqlRow{s.QueryRowContext(ctx, args...)}
}

func (r sqliteReader) query(ctx context.Context, query string, args ...any) (rows, error) {
	s, err := r.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rs, err := s.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rs}, nil
}

func (b *sqliteBackend) inTx(ctx context.Context, fn func(querier) error) error {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(sqlQuerier{tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (b *sqliteBackend) violation(err error) violation {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return noViolation
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return uniqueViolation
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return foreignKey
	case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		return checkViolation
	}
	return noViolation
}

// lockMigrations: the immediate transaction already holds the write lock.
func (b *sqliteBackend) lockMigrations(context.Context, querier) error { return nil }

func (b *sqliteBackend) notify(context.Context, querier, int64) error { return nil }

func (b *sqliteBackend) dialect() string { return "sqlite" }

func (b *sqliteBackend) close() error {
	b.stmts.Range(func(_, s any) bool {
		_ = s.(*sql.Stmt).Close()
		return true
	})
	return b.db.Close()
}

// sqlQuerier adapts *sql.DB and *sql.Tx.
type sqlQuerier struct {
	q interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}
}

func (s sqlQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s sqlQuerier) queryRow(ctx context.Context, query string, args ...any) scanner {
	return sqlRow{s.q.QueryRowContext(ctx, query, args...)}
}

func (s sqlQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := s.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return errNoRows
	}
	return err
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// isSQLitePath reports whether dsn names a SQLite database: "sqlite:PATH", "file:PATH"
// or a bare path.
func sqlitePath(dsn string) string {
	for _, p := range []string{"sqlite://", "sqlite:", "file:"} {
		if rest, ok := strings.CutPrefix(dsn, p); ok {
			return rest
		}
	}
	return dsn
}
