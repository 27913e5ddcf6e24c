package mgmt

import (
	"context"
	"errors"
	"net/http"

	"github.com/pylon-gateway/pylon/internal/store"
)

// limitTenant is the tenant of the object a limit is scoped to.
func (s *server) limitTenant(ctx context.Context, scope store.LimitScope, id string) (string, error) {
	switch scope {
	case store.ScopeTenant:
		t, err := s.st.GetTenant(ctx, id)
		return t.ID, err
	case store.ScopeApplication:
		a, err := s.st.GetApplication(ctx, id)
		return a.TenantID, err
	case store.ScopeKey:
		k, err := s.st.GetKey(ctx, id)
		return k.TenantID, err
	}
	return "", store.Invalid("scope", "want key, application or tenant, got %q", trunc(string(scope)))
}

// refScope checks that the caller sees the scope object of a limit named in a body or a
// query.
func (s *server) refScope(ctx context.Context, p principal, scope store.LimitScope, id string) error {
	t, err := s.limitTenant(ctx, scope, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !p.sees(t) {
		kind := string(scope)
		if scope == store.ScopeKey {
			kind = "api_key"
		}
		return noRef("scope_id", kind, id)
	}
	return err
}

func (s *server) loadLimit(ctx context.Context, p principal, id string) (store.Limit, error) {
	l, err := s.st.GetLimit(ctx, id)
	if err != nil {
		return l, err
	}
	t, err := s.limitTenant(ctx, l.Scope, l.ScopeID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !p.sees(t) {
		return store.Limit{}, store.NotFound("limit", id)
	}
	return l, err
}

// mayLimit: tenant admins set limits on their applications and keys; a limit on a whole
// tenant is the installation's quota for it, an admin's to set.
func (p principal) mayLimit(scope store.LimitScope) error {
	if err := p.need(permLimits); err != nil {
		return err
	}
	if scope == store.ScopeTenant && !p.admin() {
		return forbidden("only an admin may set limits on a tenant")
	}
	return nil
}

func (s *server) listLimits(w http.ResponseWriter, r *http.Request, p principal) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	scope, id := store.LimitScope(q.Get("scope")), q.Get("scope_id")
	switch scope {
	case "", store.ScopeKey, store.ScopeApplication, store.ScopeTenant:
	default:
		return store.Invalid("scope", "want key, application or tenant, got %q", trunc(string(scope)))
	}
	switch {
	case id != "" && scope == "":
		return store.Invalid("scope", "required with scope_id: key, application or tenant")
	case id != "":
		if err := s.refScope(r.Context(), p, scope, id); err != nil {
			return err
		}
	case !p.admin():
		return store.Invalid("scope_id", "required: list the limits of one key, application or tenant")
	}
	page, err := s.st.ListLimits(r.Context(), scope, id, opt)
	if err != nil {
		return err
	}
	writePage(w, page)
	return nil
}

func (s *server) createLimit(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := p.need(permLimits); err != nil {
		return err
	}
	var l store.Limit
	if err := s.decode(w, r, &l, true); err != nil {
		return err
	}
	// The scope object first: a reference to another tenant's object is refused
	// whatever else the body says.
	switch l.Scope {
	case store.ScopeKey, store.ScopeApplication, store.ScopeTenant:
		if l.ScopeID != "" {
			if err := s.refScope(r.Context(), p, l.Scope, l.ScopeID); err != nil {
				return err
			}
		}
	}
	if err := l.Validate(); err != nil {
		return err
	}
	if err := p.mayLimit(l.Scope); err != nil {
		return err
	}
	out, err := s.st.CreateLimit(r.Context(), l)
	if err != nil {
		return err
	}
	created(w, Prefix+"/limits", out, out.Meta)
	return nil
}

func (s *server) getLimit(w http.ResponseWriter, r *http.Request, p principal) error {
	l, err := s.loadLimit(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	show(w, r, l, l.Version)
	return nil
}

func (s *server) putLimit(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.editLimit(w, r, p)
}

func (s *server) patchLimit(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.editLimit(w, r, p)
}

func (s *server) editLimit(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadLimit(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.mayLimit(cur.Scope); err != nil {
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
	next.ID = cur.ID
	out, err := s.st.UpdateLimit(r.Context(), next, v)
	if err != nil {
		return err
	}
	writeObject(w, http.StatusOK, out, out.Version)
	return nil
}

func (s *server) deleteLimit(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadLimit(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.mayLimit(cur.Scope); err != nil {
		return err
	}
	v, err := ifMatch(w, r, cur.Version, true)
	if err != nil {
		return err
	}
	if err := s.st.DeleteLimit(r.Context(), cur.ID, v); err != nil {
		return err
	}
	noContent(w)
	return nil
}
