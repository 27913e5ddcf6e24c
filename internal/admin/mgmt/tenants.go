package mgmt

import (
	"context"
	"net/http"

	"github.com/pylon-gateway/pylon/internal/store"
)

func (s *server) loadTenant(ctx context.Context, p principal, id string) (store.Tenant, error) {
	t, err := s.st.GetTenant(ctx, id)
	if err == nil && !p.sees(t.ID) {
		return store.Tenant{}, store.NotFound("tenant", id)
	}
	return t, err
}

func (s *server) listTenants(w http.ResponseWriter, r *http.Request, p principal) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	if !p.admin() {
		t, err := s.st.GetTenant(r.Context(), p.tenantID)
		if err != nil {
			return err
		}
		writePage(w, store.Page[store.Tenant]{Items: []store.Tenant{t}})
		return nil
	}
	page, err := s.st.ListTenants(r.Context(), opt)
	if err != nil {
		return err
	}
	writePage(w, page)
	return nil
}

func (s *server) createTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	if !p.admin() {
		return forbidden("only an admin may create tenants")
	}
	var t store.Tenant
	if err := s.decode(w, r, &t, true); err != nil {
		return err
	}
	out, err := s.st.CreateTenant(r.Context(), t)
	if err != nil {
		return err
	}
	created(w, Prefix+"/tenants", out, out.Meta)
	return nil
}

func (s *server) getTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	t, err := s.loadTenant(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	show(w, r, t, t.Version)
	return nil
}

func (s *server) putTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.editTenant(w, r, p)
}

func (s *server) patchTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.editTenant(w, r, p)
}

func (s *server) editTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadTenant(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !p.admin() && p.role != store.RoleTenantAdmin {
		return forbidden("role %s may not change the tenant", p.role)
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
	out, err := s.st.UpdateTenant(r.Context(), next, v)
	if err != nil {
		return err
	}
	writeObject(w, http.StatusOK, out, out.Version)
	return nil
}

func (s *server) deleteTenant(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadTenant(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !p.admin() {
		return forbidden("only an admin may delete tenants")
	}
	v, err := ifMatch(w, r, cur.Version, true)
	if err != nil {
		return err
	}
	if err := s.st.DeleteTenant(r.Context(), cur.ID, v); err != nil {
		return err
	}
	noContent(w)
	return nil
}
