package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// postgresBackend talks to PostgreSQL through pgx with a small pool of its own.
//
// Why not pgxpool or database/sql with pgx's stdlib driver: both need
// github.com/jackc/puddle, a module this repository does not carry. A store makes short
// transactions and simple reads; a bounded set of idle connections is all the pooling it
// needs.
type postgresBackend struct {
	cfg   *pgx.ConnConfig
	idle  chan *pgx.Conn
	slots chan struct{} // one per connection in use or being dialled
}

// maxPostgresConns bounds the connections of one node.
const maxPostgresConns = 8

func openPostgres(ctx context.Context, dsn string) (*postgresBackend, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: postgres dsn: %w", err)
	}
	b := &postgresBackend{
		cfg:   cfg,
		idle:  make(chan *pgx.Conn, maxPostgresConns),
		slots: make(chan struct{}, maxPostgresConns),
	}
	c, err := b.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: postgres %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	b.release(c)
	return b, nil
}

func (b *postgresBackend) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case c := <-b.idle:
		return c, nil
	default:
	}
	c, err := pgx.ConnectConfig(ctx, b.cfg)
	if err != nil {
		<-b.slots
		return nil, err
	}
	return c, nil
}

// release keeps c for reuse when it is healthy and idle, and closes it otherwise (pgx
// closes a connection whose query was interrupted).
func (b *postgresBackend) release(c *pgx.Conn) {
	pc := c.PgConn()
	if c.IsClosed() || pc.IsBusy() || pc.TxStatus() != 'I' {
		_ = c.Close(context.Background())
	} else {
		select {
		case b.idle <- c:
		default:
			_ = c.Close(context.Background())
		}
	}
	<-b.slots
}

func (b *postgresBackend) reader() querier { return pgReader{b} }

func (b *postgresBackend) inTx(ctx context.Context, fn func(querier) error) error {
	c, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	defer b.release(c)
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(pgQuerier{tx}); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return tx.Commit(ctx)
}

func (b *postgresBackend) violation(err error) violation {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return noViolation
	}
	switch pe.Code {
	case "23505":
		return uniqueViolation
	case "23503":
		return foreignKey
	case "23514", "23502":
		return checkViolation
	}
	return noViolation
}

// lockMigrations takes a transaction-scoped advisory lock keyed by the schema, so nodes
// starting together migrate one after the other and the later ones find nothing to do.
func (b *postgresBackend) lockMigrations(ctx context.Context, q querier) error {
	_, err := q.exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('pylon_store:' || current_schema()))")
	return err
}

// notify tells LISTENers on channel "pylon_store" the new revision at commit, for nodes
// that want to react faster than their poll.
func (b *postgresBackend) notify(ctx context.Context, q querier, rev int64) error {
	_, err := q.exec(ctx, "SELECT pg_notify('pylon_store', $1)", strconv.FormatInt(rev, 10))
	return err
}

func (b *postgresBackend) dialect() string { return "postgres" }

func (b *postgresBackend) close() error {
	for {
		select {
		case c := <-b.idle:
			_ = c.Close(context.Background())
		default:
			return nil
		}
	}
}

// pgQuerier runs statements in a transaction.
type pgQuerier struct{ tx pgx.Tx }

func (q pgQuerier) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.tx.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (q pgQuerier) queryRow(ctx context.Context, sql string, args ...any) scanner {
	return pgRow{q.tx.QueryRow(ctx, sql, args...)}
}

func (q pgQuerier) query(ctx context.Context, sql string, args ...any) (rows, error) {
	r, err := q.tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// pgReader runs each statement on a pooled connection.
type pgReader struct{ b *postgresBackend }

func (r pgReader) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	c, err := r.b.acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer r.b.release(c)
	tag, err := c.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (r pgReader) queryRow(ctx context.Context, sql string, args ...any) scanner {
	c, err := r.b.acquire(ctx)
	if err != nil {
		return errScanner{err}
	}
	return pgReleasingRow{row: c.QueryRow(ctx, sql, args...), done: func() { r.b.release(c) }}
}

func (r pgReader) query(ctx context.Context, sql string, args ...any) (rows, error) {
	c, err := r.b.acquire(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := c.Query(ctx, sql, args...)
	if err != nil {
		r.b.release(c)
		return nil, err
	}
	return &pgReleasingRows{Rows: rs, done: func() { r.b.release(c) }}, nil
}

type pgRow struct{ r pgx.Row }

func (r pgRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoRows
	}
	return err
}

type pgReleasingRow struct {
	row  pgx.Row
	done func()
}

func (r pgReleasingRow) Scan(dest ...any) error {
	defer r.done()
	return pgRow{r.row}.Scan(dest...)
}

type pgReleasingRows struct {
	pgx.Rows
	done   func()
	closed bool
}

func (r *pgReleasingRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.done()
}

type errScanner struct{ err error }

func (e errScanner) Scan(...any) error { return e.err }

// listen waits for the store's change notifications (every write sends
// pg_notify('pylon_store', revision)) on a connection of its own, and calls fn for each,
// until ctx ends. A lost connection is dialled again after a pause; fn is also called after
// each reconnection, since changes may have been missed meanwhile.
func (b *postgresBackend) listen(ctx context.Context, fn func()) {
	for ctx.Err() == nil {
		c, err := pgx.ConnectConfig(ctx, b.cfg)
		if err == nil {
			if _, err = c.Exec(ctx, "LISTEN pylon_store"); err == nil {
				fn()
				for {
					if _, err = c.WaitForNotification(ctx); err != nil {
						break
					}
					fn()
				}
			}
			c.Close(context.Background())
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
