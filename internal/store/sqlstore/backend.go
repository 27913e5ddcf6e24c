package sqlstore

import (
	"context"
	"errors"
)

// The two dialects differ in their driver (database/sql for SQLite, pgx for PostgreSQL),
// their DDL and how they report constraint violations; the queries are the same text
// ($1 placeholders, which SQLite accepts too). backend is that seam.

// querier runs statements, in a transaction or not.
type querier interface {
	exec(ctx context.Context, sql string, args ...any) (rowsAffected int64, err error)
	// queryRow returns errNoRows from Scan when there is no row.
	queryRow(ctx context.Context, sql string, args ...any) scanner
	query(ctx context.Context, sql string, args ...any) (rows, error)
}

type scanner interface{ Scan(dest ...any) error }

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type backend interface {
	// reader runs statements outside a transaction.
	reader() querier
	// inTx runs fn in one transaction that takes the write lock at once (SQLite) or
	// relies on row locks (PostgreSQL), committing when fn returns nil.
	inTx(ctx context.Context, fn func(querier) error) error
	// violation classifies a constraint error; "" when err is not one.
	violation(err error) violation
	// lockMigrations serialises migrations of several nodes opening one database.
	lockMigrations(ctx context.Context, q querier) error
	// notify is called in a write transaction with the new revision.
	notify(ctx context.Context, q querier, rev int64) error
	dialect() string
	close() error
}

type violation string

const (
	noViolation     violation = ""
	uniqueViolation violation = "unique"
	foreignKey      violation = "foreign key"
	checkViolation  violation = "check"
)

// errNoRows is what a scanner of either backend returns for an empty result.
var errNoRows = errors.New("no rows")
