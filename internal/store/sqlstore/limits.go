package sqlstore

import (
	"context"
	"fmt"

	"github.com/pylon-gateway/pylon/internal/store"
)

var limits = (&codec[store.Limit]{
	kind:  "limit",
	table: "limits",
	cols:  []string{"scope", "scope_id", "kind", "amount", "unit", "period"},
	meta:  func(l *store.Limit) *store.Meta { return &l.Meta },
	args: func(l *store.Limit) []any {
		return []any{string(l.Scope), l.ScopeID, string(l.Kind), l.Limit, string(l.Unit), string(l.Period)}
	},
	dests: func(l *store.Limit) []any {
		return []any{(*string)(&l.Scope), &l.ScopeID, (*string)(&l.Kind), &l.Limit, (*string)(&l.Unit), (*string)(&l.Period)}
	},
	taken: func(l *store.Limit) string {
		s := fmt.Sprintf("a %s limit on %s %q", l.Kind, l.Scope, l.ScopeID)
		if l.Kind == store.Spend {
			s += fmt.Sprintf(" in %s per %s", l.Unit, l.Period)
		}
		return s
	},
	inUse: "it is still referenced",
}).init()

// CreateLimit implements store.Limits.
func (d *DB) CreateLimit(ctx context.Context, l store.Limit) (store.Limit, error) {
	if err := l.Validate(); err != nil {
		return store.Limit{}, err
	}
	return create(ctx, d, limits, l, func(w *wtx, l *store.Limit) error {
		var err error
		switch l.Scope {
		case store.ScopeKey:
			_, err = exists(ctx, w, keys, "scope_id", l.ScopeID)
		case store.ScopeApplication:
			_, err = exists(ctx, w, applications, "scope_id", l.ScopeID)
		case store.ScopeTenant:
			_, err = exists(ctx, w, tenants, "scope_id", l.ScopeID)
		}
		return err
	})
}

// GetLimit implements store.Limits.
func (d *DB) GetLimit(ctx context.Context, id string) (store.Limit, error) {
	return get(ctx, d.b.reader(), limits, id)
}

// UpdateLimit implements store.Limits.
func (d *DB) UpdateLimit(ctx context.Context, l store.Limit, expectedVersion int64) (store.Limit, error) {
	if l.Limit <= 0 {
		return store.Limit{}, store.Invalid("limit", "must be positive")
	}
	return update(ctx, d, limits, l.ID, expectedVersion, func(_ *wtx, cur *store.Limit) error {
		if err := first(
			immutable("scope", string(cur.Scope), string(l.Scope)),
			immutable("scope_id", cur.ScopeID, l.ScopeID),
			immutable("kind", string(cur.Kind), string(l.Kind)),
			immutable("unit", string(cur.Unit), string(l.Unit)),
			immutable("period", string(cur.Period), string(l.Period)),
		); err != nil {
			return err
		}
		cur.Limit = l.Limit
		return nil
	})
}

// DeleteLimit implements store.Limits.
func (d *DB) DeleteLimit(ctx context.Context, id string, expectedVersion int64) error {
	return remove(ctx, d, limits, id, expectedVersion, nil)
}

// ListLimits implements store.Limits.
func (d *DB) ListLimits(ctx context.Context, scope store.LimitScope, scopeID string, opt store.ListOptions) (store.Page[store.Limit], error) {
	where, args := filter(nil, nil, "scope", string(scope))
	where, args = filter(where, args, "scope_id", scopeID)
	return list(ctx, d, limits, opt, where, args...)
}

// deleteLimitsOf deletes the limits scoped to an object that is being deleted in w.
func deleteLimitsOf(ctx context.Context, w *wtx, scope store.LimitScope, id string) error {
	rs, err := w.query(ctx, "SELECT id FROM limits WHERE scope = $1 AND scope_id = $2", string(scope), id)
	if err != nil {
		return fmt.Errorf("store: limits of %s %q: %w", scope, id, err)
	}
	var ids []string
	for rs.Next() {
		var lid string
		if err := rs.Scan(&lid); err != nil {
			rs.Close()
			return err
		}
		ids = append(ids, lid)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return err
	}
	for _, lid := range ids {
		if _, err := w.exec(ctx, "DELETE FROM limits WHERE id = $1", lid); err != nil {
			return fmt.Errorf("store: delete limit %q: %w", lid, err)
		}
		w.changed(limits.kind, lid, store.OpDelete)
	}
	return nil
}
