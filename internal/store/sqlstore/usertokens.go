package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/pylon-gateway/pylon/internal/store"
)

var userTokens = (&codec[store.UserToken]{
	kind:  "user_token",
	table: "user_tokens",
	cols:  []string{"user_id", "name", "prefix", "hash", "expires_at", "revoked_at"},
	meta:  func(t *store.UserToken) *store.Meta { return &t.Meta },
	args: func(t *store.UserToken) []any {
		return []any{t.UserID, t.Name, t.Prefix, t.Hash[:], nullMicros(t.ExpiresAt), nullMicros(t.RevokedAt)}
	},
	dests: func(t *store.UserToken) []any {
		return []any{&t.UserID, &t.Name, &t.Prefix, hashCol{&t.Hash}, nullTimeCol{&t.ExpiresAt}, nullTimeCol{&t.RevokedAt}}
	},
	taken: func(*store.UserToken) string { return "a token with this hash" },
	inUse: "it is still referenced",
}).init()

// CreateUserToken implements store.UserTokens.
func (d *DB) CreateUserToken(ctx context.Context, t store.UserToken) (store.UserToken, string, error) {
	if err := t.Validate(now()); err != nil {
		return store.UserToken{}, "", err
	}
	plaintext, hash, prefix := store.NewUserToken()
	t.Hash, t.Prefix, t.RevokedAt = hash, prefix, nil
	t.ExpiresAt = truncTime(t.ExpiresAt)
	out, err := create(ctx, d, userTokens, t, func(w *wtx, t *store.UserToken) error {
		_, err := exists(ctx, w, users, "user_id", t.UserID)
		return err
	})
	if err != nil {
		return store.UserToken{}, "", err
	}
	return out, plaintext, nil
}

// GetUserToken implements store.UserTokens.
func (d *DB) GetUserToken(ctx context.Context, id string) (store.UserToken, error) {
	return get(ctx, d.b.reader(), userTokens, id)
}

// RevokeUserToken implements store.UserTokens.
func (d *DB) RevokeUserToken(ctx context.Context, id string, expectedVersion int64) (store.UserToken, error) {
	return update(ctx, d, userTokens, id, expectedVersion, func(_ *wtx, cur *store.UserToken) error {
		if cur.RevokedAt != nil {
			return fmt.Errorf("store: user_token %q is already revoked: %w", id, store.ErrConflict)
		}
		t := now()
		cur.RevokedAt = &t
		return nil
	})
}

// DeleteUserToken implements store.UserTokens.
func (d *DB) DeleteUserToken(ctx context.Context, id string, expectedVersion int64) error {
	return remove(ctx, d, userTokens, id, expectedVersion, nil)
}

// ListUserTokens implements store.UserTokens.
func (d *DB) ListUserTokens(ctx context.Context, userID string, opt store.ListOptions) (store.Page[store.UserToken], error) {
	where, args := filter(nil, nil, "user_id", userID)
	return list(ctx, d, userTokens, opt, where, args...)
}

var lookupUserTokenSQL = userTokens.sel + " WHERE hash = $1"

// LookupUserToken implements store.UserTokens.
func (d *DB) LookupUserToken(ctx context.Context, hash store.KeyHash) (store.UserToken, store.User, error) {
	var t store.UserToken
	if err := userTokens.scan(d.b.reader().queryRow(ctx, lookupUserTokenSQL, hash[:]), &t); err != nil {
		if errors.Is(err, errNoRows) {
			return store.UserToken{}, store.User{}, fmt.Errorf("store: user_token with hash %.12s...: %w", hash.String(), store.ErrNotFound)
		}
		return store.UserToken{}, store.User{}, fmt.Errorf("store: lookup user_token: %w", err)
	}
	if err := t.Usable(now()); err != nil {
		return store.UserToken{}, store.User{}, fmt.Errorf("store: user_token %q: %w", t.ID, err)
	}
	u, err := d.GetUser(ctx, t.UserID)
	if err != nil {
		// Deleted between the two reads: the token went with it.
		return store.UserToken{}, store.User{}, err
	}
	return t, u, nil
}

// deleteTokensOf deletes the tokens of a user that is being deleted in w.
func deleteTokensOf(ctx context.Context, w *wtx, userID string) error {
	rs, err := w.query(ctx, "SELECT id FROM user_tokens WHERE user_id = $1", userID)
	if err != nil {
		return fmt.Errorf("store: tokens of user %q: %w", userID, err)
	}
	var ids []string
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			rs.Close()
			return err
		}
		ids = append(ids, id)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := w.exec(ctx, "DELETE FROM user_tokens WHERE id = $1", id); err != nil {
			return fmt.Errorf("store: delete user_token %q: %w", id, err)
		}
		w.changed(userTokens.kind, id, store.OpDelete)
	}
	return nil
}
