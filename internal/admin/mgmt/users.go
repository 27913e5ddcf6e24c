package mgmt

import (
	"context"
	"net/http"

	"github.com/pylon-gateway/pylon/internal/store"
)

// loadUser returns a user the caller may know of: anyone for an admin, the users of
// their tenant for others (never an admin), and themselves.
func (s *server) loadUser(ctx context.Context, p principal, id string) (store.User, error) {
	u, err := s.st.GetUser(ctx, id)
	if err == nil && !p.admin() && u.ID != p.userID && !p.sees(u.TenantID) {
		return store.User{}, store.NotFound("user", id)
	}
	return u, err
}

// checkUserEdit keeps a tenant admin's users in their tenant and out of the admin role.
func checkUserEdit(p principal, u *store.User) error {
	if p.admin() {
		return nil
	}
	if u.Role == store.RoleAdmin {
		return forbidden("only an admin may make admins")
	}
	t, err := tenantFor(p, u.TenantID)
	u.TenantID = t
	return err
}

func (s *server) listUsers(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := p.need(permUsers); err != nil {
		return err
	}
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	tenant, err := tenantFilter(r, p)
	if err != nil {
		return err
	}
	page, err := s.st.ListUsers(r.Context(), tenant, opt)
	if err != nil {
		return err
	}
	writePage(w, page)
	return nil
}

func (s *server) createUser(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := p.need(permUsers); err != nil {
		return err
	}
	var u store.User
	if err := s.decode(w, r, &u, true); err != nil {
		return err
	}
	if err := checkUserEdit(p, &u); err != nil {
		return err
	}
	out, err := s.st.CreateUser(r.Context(), u)
	if err != nil {
		return err
	}
	created(w, Prefix+"/users", out, out.Meta)
	return nil
}

func (s *server) getUser(w http.ResponseWriter, r *http.Request, p principal) error {
	u, err := s.loadUser(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if u.ID != p.userID {
		if err := p.need(permUsers); err != nil {
			return err
		}
	}
	show(w, r, u, u.Version)
	return nil
}

func (s *server) putUser(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.editUser(w, r, p)
}

func (s *server) patchUser(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.editUser(w, r, p)
}

func (s *server) editUser(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadUser(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.need(permUsers); err != nil {
		return err
	}
	v, err := ifMatch(w, r, cur.Version, true)
	if err != nil {
		return err
	}
	next, err := edit(s, w, r, cur)
	if err != nil {
		return err
	}
	if err := sameID(next.Meta, cur.ID); err != nil {
		return err
	}
	if next.TenantID == "" && next.Role != store.RoleAdmin {
		next.TenantID = cur.TenantID // a PUT need not repeat it
	}
	if err := checkUserEdit(p, &next); err != nil {
		return err
	}
	next.ID = cur.ID
	out, err := s.st.UpdateUser(r.Context(), next, v)
	if err != nil {
		return err
	}
	writeObject(w, http.StatusOK, out, out.Version)
	return nil
}

func (s *server) deleteUser(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadUser(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.need(permUsers); err != nil {
		return err
	}
	v, err := ifMatch(w, r, cur.Version, true)
	if err != nil {
		return err
	}
	if err := s.st.DeleteUser(r.Context(), cur.ID, v); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// tokenOwner returns the user of /users/{id}/tokens when the caller may manage their
// tokens: their own, or any they may manage as users.
func (s *server) tokenOwner(ctx context.Context, r *http.Request, p principal) (store.User, error) {
	u, err := s.loadUser(ctx, p, r.PathValue("id"))
	if err != nil {
		return u, err
	}
	if u.ID != p.userID {
		if err := p.need(permUsers); err != nil {
			return store.User{}, err
		}
	}
	return u, nil
}

func (s *server) loadToken(ctx context.Context, r *http.Request, p principal) (store.UserToken, error) {
	u, err := s.tokenOwner(ctx, r, p)
	if err != nil {
		return store.UserToken{}, err
	}
	id := r.PathValue("token_id")
	t, err := s.st.GetUserToken(ctx, id)
	if err == nil && t.UserID != u.ID {
		return store.UserToken{}, store.NotFound("user_token", id)
	}
	return t, err
}

func (s *server) listTokens(w http.ResponseWriter, r *http.Request, p principal) error {
	u, err := s.tokenOwner(r.Context(), r, p)
	if err != nil {
		return err
	}
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	page, err := s.st.ListUserTokens(r.Context(), u.ID, opt)
	if err != nil {
		return err
	}
	writePage(w, page)
	return nil
}

func (s *server) createToken(w http.ResponseWriter, r *http.Request, p principal) error {
	u, err := s.tokenOwner(r.Context(), r, p)
	if err != nil {
		return err
	}
	var t store.UserToken
	if err := s.decode(w, r, &t, false); err != nil {
		return err
	}
	if t.UserID != "" && t.UserID != u.ID {
		return store.Invalid("user_id", "is %q in the path", u.ID)
	}
	t.UserID = u.ID
	out, plain, err := s.st.CreateUserToken(r.Context(), t)
	if err != nil {
		return err
	}
	created(w, Prefix+"/users/"+u.ID+"/tokens", createdToken{out, plain}, out.Meta)
	return nil
}

func (s *server) getToken(w http.ResponseWriter, r *http.Request, p principal) error {
	t, err := s.loadToken(r.Context(), r, p)
	if err != nil {
		return err
	}
	show(w, r, t, t.Version)
	return nil
}

func (s *server) revokeToken(w http.ResponseWriter, r *http.Request, p principal) error {
	t, err := s.loadToken(r.Context(), r, p)
	if err != nil {
		return err
	}
	v, err := ifMatch(w, r, t.Version, false)
	if err != nil {
		return err
	}
	out, err := s.st.RevokeUserToken(r.Context(), t.ID, v)
	if err != nil {
		return err
	}
	writeObject(w, http.StatusOK, out, out.Version)
	return nil
}

func (s *server) deleteToken(w http.ResponseWriter, r *http.Request, p principal) error {
	t, err := s.loadToken(r.Context(), r, p)
	if err != nil {
		return err
	}
	v, err := ifMatch(w, r, t.Version, true)
	if err != nil {
		return err
	}
	if err := s.st.DeleteUserToken(r.Context(), t.ID, v); err != nil {
		return err
	}
	noContent(w)
	return nil
}
