package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pylon-gateway/pylon/internal/store"
)

var applications = (&codec[store.Application]{
	kind:  "application",
	table: "applications",
	cols:  []string{"tenant_id", "name", "description"},
	meta:  func(a *store.Application) *store.Meta { return &a.Meta },
	args:  func(a *store.Application) []any { return []any{a.TenantID, a.Name, a.Description} },
	dests: func(a *store.Application) []any { return []any{&a.TenantID, &a.Name, &a.Description} },
	taken: func(a *store.Application) string {
		return fmt.Sprintf("an application named %q in this tenant", a.Name)
	},
	inUse: "it still has API keys or subscriptions",
}).init()

// CreateApplication implements store.Applications.
func (d *DB) CreateApplication(ctx context.Context, a store.Application) (store.Application, error) {
	if err := a.Validate(); err != nil {
		return store.Application{}, err
	}
	return create(ctx, d, applications, a, func(w *wtx, a *store.Application) error {
		_, err := exists(ctx, w, tenants, "tenant_id", a.TenantID)
		return err
	})
}

// GetApplication implements store.Applications.
func (d *DB) GetApplication(ctx context.Context, id string) (store.Application, error) {
	return get(ctx, d.b.reader(), applications, id)
}

// UpdateApplication implements store.Applications: name and description; the tenant
// cannot change.
func (d *DB) UpdateApplication(ctx context.Context, a store.Application, expectedVersion int64) (store.Application, error) {
	if err := a.Validate(); err != nil {
		return store.Application{}, err
	}
	return update(ctx, d, applications, a.ID, expectedVersion, func(_ *wtx, cur *store.Application) error {
		if err := immutable("tenant_id", cur.TenantID, a.TenantID); err != nil {
			return err
		}
		cur.Name, cur.Description = a.Name, a.Description
		return nil
	})
}

// DeleteApplication implements store.Applications.
func (d *DB) DeleteApplication(ctx context.Context, id string, expectedVersion int64) error {
	return remove(ctx, d, applications, id, expectedVersion, func(w *wtx, _ *store.Application) error {
		return deleteLimitsOf(ctx, w, store.ScopeApplication, id)
	})
}

// ListApplications implements store.Applications.
func (d *DB) ListApplications(ctx context.Context, tenantID string, opt store.ListOptions) (store.Page[store.Application], error) {
	where, args := filter(nil, nil, "tenant_id", tenantID)
	return list(ctx, d, applications, opt, where, args...)
}

var keys = (&codec[store.APIKey]{
	kind:  "api_key",
	table: "api_keys",
	cols:  []string{"application_id", "tenant_id", "name", "prefix", "hash", "scopes", "expires_at", "revoked_at"},
	meta:  func(k *store.APIKey) *store.Meta { return &k.Meta },
	args: func(k *store.APIKey) []any {
		return []any{k.ApplicationID, k.TenantID, k.Name, k.Prefix, k.Hash[:], jsonText(k.Scopes),
			nullMicros(k.ExpiresAt), nullMicros(k.RevokedAt)}
	},
	dests: func(k *store.APIKey) []any {
		return []any{&k.ApplicationID, &k.TenantID, &k.Name, &k.Prefix, hashCol{&k.Hash}, jsonCol{&k.Scopes},
			nullTimeCol{&k.ExpiresAt}, nullTimeCol{&k.RevokedAt}}
	},
	taken: func(*store.APIKey) string { return "a key with this hash" },
	inUse: "it is still referenced",
}).init()

// normalizeScopes makes empty lists nil, which is how they read back.
func normalizeScopes(s *store.Scopes) {
	for _, l := range []*[]string{&s.Models, &s.Routes, &s.APIs} {
		if len(*l) == 0 {
			*l = nil
		}
	}
}

// CreateKey implements store.Keys.
func (d *DB) CreateKey(ctx context.Context, k store.APIKey) (store.APIKey, string, error) {
	if err := k.Validate(now()); err != nil {
		return store.APIKey{}, "", err
	}
	normalizeScopes(&k.Scopes)
	plaintext, hash, prefix := store.NewKey()
	k.Hash, k.Prefix, k.RevokedAt = hash, prefix, nil
	k.ExpiresAt = truncTime(k.ExpiresAt)
	out, err := create(ctx, d, keys, k, func(w *wtx, k *store.APIKey) error {
		app, err := exists(ctx, w, applications, "application_id", k.ApplicationID)
		k.TenantID = app.TenantID
		return err
	})
	if err != nil {
		return store.APIKey{}, "", err
	}
	return out, plaintext, nil
}

func truncTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC().Truncate(time.Microsecond)
	return &v
}

// GetKey implements store.Keys.
func (d *DB) GetKey(ctx context.Context, id string) (store.APIKey, error) {
	return get(ctx, d.b.reader(), keys, id)
}

// UpdateKey implements store.Keys: name, scopes and expiry of a key that is not
// revoked. An expiry must be in the future when it changes.
func (d *DB) UpdateKey(ctx context.Context, k store.APIKey, expectedVersion int64) (store.APIKey, error) {
	if err := k.Scopes.Validate(); err != nil {
		return store.APIKey{}, err
	}
	normalizeScopes(&k.Scopes)
	k.ExpiresAt = truncTime(k.ExpiresAt)
	return update(ctx, d, keys, k.ID, expectedVersion, func(_ *wtx, cur *store.APIKey) error {
		if err := immutable("application_id", cur.ApplicationID, k.ApplicationID); err != nil {
			return err
		}
		if cur.RevokedAt != nil {
			return fmt.Errorf("store: api_key %q is revoked: %w", cur.ID, store.ErrConflict)
		}
		next := *cur
		next.Name, next.Scopes, next.ExpiresAt = k.Name, k.Scopes, k.ExpiresAt
		check := now()
		if sameTime(cur.ExpiresAt, k.ExpiresAt) {
			check = time.Time{} // an unchanged expiry may already have passed
		}
		if err := next.Validate(check); err != nil {
			return err
		}
		*cur = next
		return nil
	})
}

func sameTime(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}

// RevokeKey implements store.Keys.
func (d *DB) RevokeKey(ctx context.Context, id string, expectedVersion int64) (store.APIKey, error) {
	return update(ctx, d, keys, id, expectedVersion, func(_ *wtx, cur *store.APIKey) error {
		if cur.RevokedAt != nil {
			return fmt.Errorf("store: api_key %q is already revoked: %w", id, store.ErrConflict)
		}
		t := now()
		cur.RevokedAt = &t
		return nil
	})
}

// DeleteKey implements store.Keys.
func (d *DB) DeleteKey(ctx context.Context, id string, expectedVersion int64) error {
	return remove(ctx, d, keys, id, expectedVersion, func(w *wtx, _ *store.APIKey) error {
		return deleteLimitsOf(ctx, w, store.ScopeKey, id)
	})
}

// ListKeys implements store.Keys.
func (d *DB) ListKeys(ctx context.Context, applicationID string, opt store.ListOptions) (store.Page[store.APIKey], error) {
	where, args := filter(nil, nil, "application_id", applicationID)
	return list(ctx, d, keys, opt, where, args...)
}

var lookupKeySQL = keys.sel + " WHERE hash = $1"

// LookupKey implements store.Keys.
func (d *DB) LookupKey(ctx context.Context, hash store.KeyHash) (store.APIKey, error) {
	var k store.APIKey
	if err := keys.scan(d.b.reader().queryRow(ctx, lookupKeySQL, hash[:]), &k); err != nil {
		if errors.Is(err, errNoRows) {
			return store.APIKey{}, fmt.Errorf("store: api_key with hash %.12s...: %w", hash.String(), store.ErrNotFound)
		}
		return store.APIKey{}, fmt.Errorf("store: lookup api_key: %w", err)
	}
	if err := k.Usable(now()); err != nil {
		return store.APIKey{}, fmt.Errorf("store: api_key %q: %w", k.ID, err)
	}
	return k, nil
}
