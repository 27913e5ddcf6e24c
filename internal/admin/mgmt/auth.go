package mgmt

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/pylon-gateway/pylon/internal/store"
)

// principal is who made a request: the administrator of the config's admin.token, or a
// user by one of their tokens, with the user's role as it is now.
type principal struct {
	role     store.Role
	tenantID string // "" for admins
	userID   string // "" for the administrator token
}

func (p principal) admin() bool { return p.role == store.RoleAdmin }

// sees reports whether objects of tenantID are visible to p. Objects p cannot see are
// answered 404, exactly like missing ones, so that their existence does not leak.
func (p principal) sees(tenantID string) bool {
	return p.admin() || tenantID != "" && p.tenantID == tenantID
}

// The permissions beyond reading one's own tenant, by role:
//
//	                      admin  tenant_admin  developer  viewer
//	read tenant objects     x         x            x        x
//	write applications,     x         x            x
//	  keys, subscriptions
//	users and their tokens  x         x
//	APIs, prompt APIs,      x         x
//	  lifecycle, approvals
//	limits on apps, keys    x         x
//	limits on a tenant,     x
//	  tenants themselves
//
// A tenant admin may rename their own tenant but not create or delete tenants; every
// user may read their own user and manage their own tokens.
type permission int

const (
	permApps permission = iota
	permUsers
	permCatalog
	permLimits
)

var grants = map[store.Role][]permission{
	store.RoleAdmin:       {permApps, permUsers, permCatalog, permLimits},
	store.RoleTenantAdmin: {permApps, permUsers, permCatalog, permLimits},
	store.RoleDeveloper:   {permApps},
	store.RoleViewer:      nil,
}

func (p principal) may(perm permission) bool {
	for _, g := range grants[p.role] {
		if g == perm {
			return true
		}
	}
	return false
}

var permNames = map[permission]string{
	permApps:    "create or change applications, keys or subscriptions",
	permUsers:   "manage users",
	permCatalog: "manage APIs, prompt APIs or approvals",
	permLimits:  "manage limits",
}

// need fails with 403 unless p has perm.
func (p principal) need(perm permission) error {
	if p.may(perm) {
		return nil
	}
	return forbidden("role %s may not %s", p.role, permNames[perm])
}

func unauthorized(msg string) error {
	return errorf(http.StatusUnauthorized, "unauthorized", "", "%s", msg)
}

// authenticate reads "Authorization: Bearer <token>": the administrator token, or a
// user token ("pu_..."). Every failure is the same 401 apart from the message, which
// says what to send, never whether a token exists.
func (s *server) authenticate(ctx context.Context, r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" {
		return principal{}, unauthorized("send Authorization: Bearer <token> with the admin token or a user token")
	}
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return principal{}, unauthorized("want Authorization: Bearer <token>")
	}
	if strings.HasPrefix(tok, store.UserTokenPrefix) {
		hash, err := store.ParseUserToken(tok)
		if err != nil {
			return principal{}, unauthorized("invalid token")
		}
		_, u, err := s.st.LookupUserToken(ctx, hash)
		switch {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrTokenRevoked), errors.Is(err, store.ErrTokenExpired):
			return principal{}, unauthorized("invalid token")
		case err != nil:
			return principal{}, err
		}
		return principal{role: u.Role, tenantID: u.TenantID, userID: u.ID}, nil
	}
	if want := s.opts.AdminToken(); want != "" && equalSecret(tok, want) {
		return principal{role: store.RoleAdmin}, nil
	}
	return principal{}, unauthorized("invalid token")
}

// equalSecret compares in time independent of where the inputs differ and of their
// lengths (both are hashed first).
func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
