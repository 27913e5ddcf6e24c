package mgmt

import (
	"context"
	"errors"
	"net/http"

	"github.com/pylon-gateway/pylon/internal/store"
)

func (s *server) loadApp(ctx context.Context, p principal, id string) (store.Application, error) {
	a, err := s.st.GetApplication(ctx, id)
	if err == nil && !p.sees(a.TenantID) {
		return store.Application{}, store.NotFound("application", id)
	}
	return a, err
}

// refApp resolves an application named in a body or a query by field: a missing one and
// one the caller may not see are the same 400.
func (s *server) refApp(ctx context.Context, p principal, field, id string) (store.Application, error) {
	a, err := s.loadApp(ctx, p, id)
	if errors.Is(err, store.ErrNotFound) {
		return a, noRef(field, "application", id)
	}
	return a, err
}

func (s *server) listApps(w http.ResponseWriter, r *http.Request, p principal) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	tenant, err := tenantFilter(r, p)
	if err != nil {
		return err
	}
	page, err := s.st.ListApplications(r.Context(), tenant, opt)
	if err != nil {
		return err
	}
	writePage(w, page)
	return nil
}

func (s *server) createApp(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := p.need(permApps); err != nil {
		return err
	}
	var a store.Application
	if err := s.decode(w, r, &a, true); err != nil {
		return err
	}
	var err error
	if a.TenantID, err = tenantFor(p, a.TenantID); err != nil {
		return err
	}
	out, err := s.st.CreateApplication(r.Context(), a)
	if err != nil {
		return err
	}
	created(w, Prefix+"/applications", out, out.Meta)
	return nil
}

func (s *server) getApp(w http.ResponseWriter, r *http.Request, p principal) error {
	a, err := s.loadApp(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	show(w, r, a, a.Version)
	return nil
}

func (s *server) putApp(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.editApp(w, r, p)
}

func (s *server) patchApp(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.editApp(w, r, p)
}

func (s *server) editApp(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadApp(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.need(permApps); err != nil {
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
	out, err := s.st.UpdateApplication(r.Context(), next, v)
	if err != nil {
		return err
	}
	writeObject(w, http.StatusOK, out, out.Version)
	return nil
}

func (s *server) deleteApp(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadApp(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.need(permApps); err != nil {
		return err
	}
	v, err := ifMatch(w, r, cur.Version, true)
	if err != nil {
		return err
	}
	if err := s.st.DeleteApplication(r.Context(), cur.ID, v); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *server) loadKey(ctx context.Context, p principal, id string) (store.APIKey, error) {
	k, err := s.st.GetKey(ctx, id)
	if err == nil && !p.sees(k.TenantID) {
		return store.APIKey{}, store.NotFound("api_key", id)
	}
	return k, err
}

func (s *server) listKeys(w http.ResponseWriter, r *http.Request, p principal) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	appID := r.URL.Query().Get("application_id")
	switch {
	case appID != "":
		if _, err := s.refApp(r.Context(), p, "application_id", appID); err != nil {
			return err
		}
	case !p.admin():
		return store.Invalid("application_id", "required: list the keys of one application")
	}
	page, err := s.st.ListKeys(r.Context(), appID, opt)
	if err != nil {
		return err
	}
	writePage(w, page)
	return nil
}

func (s *server) createKey(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := p.need(permApps); err != nil {
		return err
	}
	var k store.APIKey
	if err := s.decode(w, r, &k, true); err != nil {
		return err
	}
	if k.ApplicationID != "" {
		if _, err := s.refApp(r.Context(), p, "application_id", k.ApplicationID); err != nil {
			return err
		}
	}
	out, plain, err := s.st.CreateKey(r.Context(), store.APIKey{ApplicationID: k.ApplicationID, Name: k.Name, Scopes: k.Scopes, ExpiresAt: k.ExpiresAt})
	if err != nil {
		return err
	}
	created(w, Prefix+"/keys", createdKey{out, plain}, out.Meta)
	return nil
}

func (s *server) getKey(w http.ResponseWriter, r *http.Request, p principal) error {
	k, err := s.loadKey(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	show(w, r, k, k.Version)
	return nil
}

func (s *server) putKey(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.editKey(w, r, p)
}

func (s *server) patchKey(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.editKey(w, r, p)
}

func (s *server) editKey(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadKey(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.need(permApps); err != nil {
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
	out, err := s.st.UpdateKey(r.Context(), store.APIKey{Meta: store.Meta{ID: cur.ID}, ApplicationID: next.ApplicationID,
		Name: next.Name, Scopes: next.Scopes, ExpiresAt: next.ExpiresAt}, v)
	if err != nil {
		return err
	}
	writeObject(w, http.StatusOK, out, out.Version)
	return nil
}

func (s *server) revokeKey(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadKey(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.need(permApps); err != nil {
		return err
	}
	v, err := ifMatch(w, r, cur.Version, false)
	if err != nil {
		return err
	}
	out, err := s.st.RevokeKey(r.Context(), cur.ID, v)
	if err != nil {
		return err
	}
	writeObject(w, http.StatusOK, out, out.Version)
	return nil
}

func (s *server) deleteKey(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadKey(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.need(permApps); err != nil {
		return err
	}
	v, err := ifMatch(w, r, cur.Version, true)
	if err != nil {
		return err
	}
	if err := s.st.DeleteKey(r.Context(), cur.ID, v); err != nil {
		return err
	}
	noContent(w)
	return nil
}
