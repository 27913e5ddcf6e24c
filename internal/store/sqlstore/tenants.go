package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pylon-gateway/pylon/internal/store"
)

var tenants = (&codec[store.Tenant]{
	kind:  "tenant",
	table: "tenants",
	cols:  []string{"name", "display_name"},
	meta:  func(t *store.Tenant) *store.Meta { return &t.Meta },
	args:  func(t *store.Tenant) []any { return []any{t.Name, t.DisplayName} },
	dests: func(t *store.Tenant) []any { return []any{&t.Name, &t.DisplayName} },
	taken: func(t *store.Tenant) string { return fmt.Sprintf("a tenant named %q", t.Name) },
	inUse: "it still has users, applications, API keys, APIs or prompt APIs",
}).init()

// CreateTenant implements store.Tenants.
func (d *DB) CreateTenant(ctx context.Context, t store.Tenant) (store.Tenant, error) {
	if err := t.Validate(); err != nil {
		return store.Tenant{}, err
	}
	return create(ctx, d, tenants, t, nil)
}

// GetTenant implements store.Tenants.
func (d *DB) GetTenant(ctx context.Context, id string) (store.Tenant, error) {
	return get(ctx, d.b.reader(), tenants, id)
}

// UpdateTenant implements store.Tenants: name and display name.
func (d *DB) UpdateTenant(ctx context.Context, t store.Tenant, expectedVersion int64) (store.Tenant, error) {
	if err := t.Validate(); err != nil {
		return store.Tenant{}, err
	}
	return update(ctx, d, tenants, t.ID, expectedVersion, func(_ *wtx, cur *store.Tenant) error {
		cur.Name, cur.DisplayName = t.Name, t.DisplayName
		return nil
	})
}

// DeleteTenant implements store.Tenants.
func (d *DB) DeleteTenant(ctx context.Context, id string, expectedVersion int64) error {
	return remove(ctx, d, tenants, id, expectedVersion, func(w *wtx, _ *store.Tenant) error {
		return deleteLimitsOf(ctx, w, store.ScopeTenant, id)
	})
}

// ListTenants implements store.Tenants.
func (d *DB) ListTenants(ctx context.Context, opt store.ListOptions) (store.Page[store.Tenant], error) {
	return list(ctx, d, tenants, opt, nil)
}

var users = (&codec[store.User]{
	kind:  "user",
	table: "users",
	cols:  []string{"tenant_id", "email", "name", "role"},
	meta:  func(u *store.User) *store.Meta { return &u.Meta },
	args:  func(u *store.User) []any { return []any{nullString(u.TenantID), u.Email, u.Name, string(u.Role)} },
	dests: func(u *store.User) []any {
		return []any{nullStringCol{&u.TenantID}, &u.Email, &u.Name, (*string)(&u.Role)}
	},
	taken: func(u *store.User) string { return fmt.Sprintf("a user with email %q", u.Email) },
	inUse: "it is still referenced",
}).init()

func (d *DB) checkUser(ctx context.Context, w *wtx, u *store.User) error {
	if u.TenantID == "" {
		return nil
	}
	_, err := exists(ctx, w, tenants, "tenant_id", u.TenantID)
	return err
}

// CreateUser implements store.Users.
func (d *DB) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	u.Normalize()
	if err := u.Validate(); err != nil {
		return store.User{}, err
	}
	return create(ctx, d, users, u, func(w *wtx, u *store.User) error { return d.checkUser(ctx, w, u) })
}

// GetUser implements store.Users.
func (d *DB) GetUser(ctx context.Context, id string) (store.User, error) {
	return get(ctx, d.b.reader(), users, id)
}

// GetUserByEmail implements store.Users.
func (d *DB) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	var u store.User
	if err := users.scan(d.b.reader().queryRow(ctx, users.sel+" WHERE email = $1", email), &u); err != nil {
		if errors.Is(err, errNoRows) {
			return u, fmt.Errorf("store: user with email %q: %w", email, store.ErrNotFound)
		}
		return u, fmt.Errorf("store: get user: %w", err)
	}
	return u, nil
}

// UpdateUser implements store.Users: tenant, email, name and role, all replaced.
func (d *DB) UpdateUser(ctx context.Context, u store.User, expectedVersion int64) (store.User, error) {
	u.Normalize()
	if err := u.Validate(); err != nil {
		return store.User{}, err
	}
	return update(ctx, d, users, u.ID, expectedVersion, func(w *wtx, cur *store.User) error {
		cur.TenantID, cur.Email, cur.Name, cur.Role = u.TenantID, u.Email, u.Name, u.Role
		return d.checkUser(ctx, w, cur)
	})
}

// DeleteUser implements store.Users; the user's tokens go with it.
func (d *DB) DeleteUser(ctx context.Context, id string, expectedVersion int64) error {
	return remove(ctx, d, users, id, expectedVersion, func(w *wtx, _ *store.User) error {
		return deleteTokensOf(ctx, w, id)
	})
}

// ListUsers implements store.Users.
func (d *DB) ListUsers(ctx context.Context, tenantID string, opt store.ListOptions) (store.Page[store.User], error) {
	where, args := filter(nil, nil, "tenant_id", tenantID)
	return list(ctx, d, users, opt, where, args...)
}
