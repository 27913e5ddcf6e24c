package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pylon-gateway/pylon/internal/store"
)

// codec maps one object type to its table. Every table starts with the Meta columns
// (id, created_at, updated_at, version); cols are the rest, in the order of args and
// dests.
type codec[T any] struct {
	kind  string // as in errors and store.Change.Kind
	table string
	cols  []string
	meta  func(*T) *store.Meta
	args  func(*T) []any
	dests func(*T) []any
	// taken describes the unique key a conflicting insert or update hit.
	taken func(*T) string
	// inUse says what still refers to an object that cannot be deleted.
	inUse string

	sel, ins, upd string
}

func (c *codec[T]) init() *codec[T] {
	all := append([]string{"id", "created_at", "updated_at", "version"}, c.cols...)
	c.sel = "SELECT " + strings.Join(all, ", ") + " FROM " + c.table
	ph := make([]string, len(all))
	for i := range ph {
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	c.ins = "INSERT INTO " + c.table + " (" + strings.Join(all, ", ") + ") VALUES (" + strings.Join(ph, ", ") + ")"
	set := []string{"updated_at = $1", "version = $2"}
	for i, col := range c.cols {
		set = append(set, col+" = $"+strconv.Itoa(i+3))
	}
	n := len(c.cols) + 3
	c.upd = fmt.Sprintf("UPDATE %s SET %s WHERE id = $%d AND version = $%d", c.table, strings.Join(set, ", "), n, n+1)
	return c
}

func (c *codec[T]) scan(s scanner, t *T) error {
	m := c.meta(t)
	dests := append([]any{&m.ID, timeCol{&m.CreatedAt}, timeCol{&m.UpdatedAt}, &m.Version}, c.dests(t)...)
	return s.Scan(dests...)
}

// fail turns a driver error of a write on t into a store error.
func (d *DB) fail(kind string, taken, inUse string, err error) error {
	switch d.b.violation(err) {
	case uniqueViolation:
		return fmt.Errorf("store: %s: %s already exists: %w", kind, taken, store.ErrConflict)
	case foreignKey:
		if inUse != "" {
			return fmt.Errorf("store: %s: %s: %w", kind, inUse, store.ErrConflict)
		}
		return fmt.Errorf("store: %s: refers to an object that no longer exists: %w", kind, store.ErrConflict)
	case checkViolation:
		// Validate runs first, so this is a bug or a database edited by hand.
		return fmt.Errorf("store: %s: rejected by a database constraint (%v): %w", kind, err, store.ErrInvalid)
	}
	var fe *store.FieldError
	if errors.As(err, &fe) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInvalid) {
		return err
	}
	return fmt.Errorf("store: %s: %w", kind, err)
}

func get[T any](ctx context.Context, q querier, c *codec[T], id string) (T, error) {
	var t T
	if err := c.scan(q.queryRow(ctx, c.sel+" WHERE id = $1", id), &t); err != nil {
		if errors.Is(err, errNoRows) {
			return t, store.NotFound(c.kind, id)
		}
		return t, fmt.Errorf("store: get %s: %w", c.kind, err)
	}
	return t, nil
}

// exists fails with a FieldError on field when there is no kind object id: the way a
// create names a reference to a missing object.
func exists[T any](ctx context.Context, q querier, c *codec[T], field, id string) (T, error) {
	t, err := get(ctx, q, c, id)
	if errors.Is(err, store.ErrNotFound) {
		return t, store.Invalid(field, "no %s with id %q", c.kind, id)
	}
	return t, err
}

// insert fills t's Meta and inserts it in w.
func insert[T any](ctx context.Context, d *DB, w *wtx, c *codec[T], t *T) error {
	m := c.meta(t)
	ts := now()
	*m = store.Meta{ID: newID(), CreatedAt: ts, UpdatedAt: ts, Version: 1}
	args := append([]any{m.ID, micros(ts), micros(ts), m.Version}, c.args(t)...)
	if _, err := w.exec(ctx, c.ins, args...); err != nil {
		return d.fail(c.kind, c.taken(t), "", err)
	}
	w.changed(c.kind, m.ID, store.OpCreate)
	return nil
}

// create validates and inserts t in its own write transaction; check runs first in the
// transaction (references, derived fields).
func create[T any](ctx context.Context, d *DB, c *codec[T], t T, check func(w *wtx, t *T) error) (T, error) {
	err := d.write(ctx, func(w *wtx) error {
		if check != nil {
			if err := check(w, &t); err != nil {
				return err
			}
		}
		return insert(ctx, d, w, c, &t)
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return t, nil
}

// update reads the object id, checks expected against its version, lets change edit it
// (change validates), and writes it back with the next version. The UPDATE repeats the
// version check, so of two transactions that read the same version only one writes:
// on PostgreSQL the second waits for the first's row lock and then matches no row.
func update[T any](ctx context.Context, d *DB, c *codec[T], id string, expected int64, change func(w *wtx, cur *T) error) (T, error) {
	var out T
	err := d.write(ctx, func(w *wtx) error {
		cur, err := get(ctx, w, c, id)
		if err != nil {
			return err
		}
		m := c.meta(&cur)
		if m.Version != expected {
			return store.Stale(c.kind, id, expected)
		}
		if err := change(w, &cur); err != nil {
			return err
		}
		*m = store.Meta{ID: id, CreatedAt: m.CreatedAt, UpdatedAt: now(), Version: expected + 1}
		args := append([]any{micros(m.UpdatedAt), m.Version}, c.args(&cur)...)
		args = append(args, id, expected)
		n, err := w.exec(ctx, c.upd, args...)
		if err != nil {
			return d.fail(c.kind, c.taken(&cur), "", err)
		}
		if n == 0 {
			return store.Stale(c.kind, id, expected)
		}
		w.changed(c.kind, id, store.OpUpdate)
		out = cur
		return nil
	})
	return out, err
}

// remove deletes the object id when its version is expected (0: any version). before
// runs first in the transaction, for checks and dependent deletes.
func remove[T any](ctx context.Context, d *DB, c *codec[T], id string, expected int64, before func(w *wtx, cur *T) error) error {
	return d.write(ctx, func(w *wtx) error {
		cur, err := get(ctx, w, c, id)
		if err != nil {
			return err
		}
		v := c.meta(&cur).Version
		if expected != 0 && v != expected {
			return store.Stale(c.kind, id, expected)
		}
		if before != nil {
			if err := before(w, &cur); err != nil {
				return err
			}
		}
		n, err := w.exec(ctx, "DELETE FROM "+c.table+" WHERE id = $1 AND version = $2", id, v)
		if err != nil {
			return d.fail(c.kind, "", c.inUse, err)
		}
		if n == 0 {
			return store.Stale(c.kind, id, v)
		}
		w.changed(c.kind, id, store.OpDelete)
		return nil
	})
}

// list returns one page of the objects matching where (conditions joined by AND, with
// $1.. placeholders for args), in id order.
func list[T any](ctx context.Context, d *DB, c *codec[T], opt store.ListOptions, where []string, args ...any) (store.Page[T], error) {
	var page store.Page[T]
	limit, after, err := opt.PageLimit()
	if err != nil {
		return page, err
	}
	if after != "" {
		args = append(args, after)
		where = append(where, "id > $"+strconv.Itoa(len(args)))
	}
	q := c.sel
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	// The page size is a parameter so that the statement text, which SQLite caches
	// prepared, depends only on the filters.
	args = append(args, limit+1)
	q += " ORDER BY id LIMIT $" + strconv.Itoa(len(args))
	rs, err := d.b.reader().query(ctx, q, args...)
	if err != nil {
		return page, fmt.Errorf("store: list %s: %w", c.kind, err)
	}
	defer rs.Close()
	page.Items = make([]T, 0, min(limit, 64))
	for rs.Next() {
		var t T
		if err := c.scan(rs, &t); err != nil {
			return page, fmt.Errorf("store: list %s: %w", c.kind, err)
		}
		page.Items = append(page.Items, t)
	}
	if err := rs.Err(); err != nil {
		return page, fmt.Errorf("store: list %s: %w", c.kind, err)
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.Next = store.EncodeCursor(c.meta(&page.Items[limit-1]).ID)
	}
	return page, nil
}

// filter appends "col = $n" for a non-empty value.
func filter(where []string, args []any, col string, v string) ([]string, []any) {
	if v == "" {
		return where, args
	}
	args = append(args, v)
	return append(where, col+" = $"+strconv.Itoa(len(args))), args
}

// immutable rejects an update that changes a field that is part of an object's identity.
// An empty new value means "unchanged".
func immutable(field, cur, next string) error {
	if next != "" && next != cur {
		return store.Invalid(field, "cannot be changed (was %q)", cur)
	}
	return nil
}
