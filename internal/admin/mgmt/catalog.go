package mgmt

import (
	"context"
	"errors"
	"net/http"

	"github.com/pylon-gateway/pylon/internal/store"
)

func (s *server) loadAPI(ctx context.Context, p principal, id string) (store.API, error) {
	a, err := s.st.GetAPI(ctx, id)
	if err == nil && !p.sees(a.TenantID) {
		return store.API{}, store.NotFound("api", id)
	}
	return a, err
}

func (s *server) listAPIs(w http.ResponseWriter, r *http.Request, p principal) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	tenant, err := tenantFilter(r, p)
	if err != nil {
		return err
	}
	page, err := s.st.ListAPIs(r.Context(), tenant, opt)
	if err != nil {
		return err
	}
	writePage(w, page)
	return nil
}

func (s *server) createAPI(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := p.need(permCatalog); err != nil {
		return err
	}
	var a store.API
	if err := s.decode(w, r, &a, true); err != nil {
		return err
	}
	var err error
	if a.TenantID, err = tenantFor(p, a.TenantID); err != nil {
		return err
	}
	out, err := s.st.CreateAPI(r.Context(), a)
	if err != nil {
		return err
	}
	created(w, Prefix+"/apis", out, out.Meta)
	return nil
}

func (s *server) getAPI(w http.ResponseWriter, r *http.Request, p principal) error {
	a, err := s.loadAPI(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	show(w, r, a, a.Version)
	return nil
}

func (s *server) putAPI(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.editAPI(w, r, p)
}

func (s *server) patchAPI(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.editAPI(w, r, p)
}

// editAPI serves PUT and PATCH. A PATCH that changes lifecycle and nothing else is a
// transition, like POST .../lifecycle; changing it together with other fields is refused,
// since the two cannot be one transaction of the store.
func (s *server) editAPI(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadAPI(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.need(permCatalog); err != nil {
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
	next.Meta = cur.Meta
	var out store.API
	if r.Method == http.MethodPatch && next.Lifecycle != cur.Lifecycle {
		rest := next
		rest.Lifecycle = cur.Lifecycle
		if rest != cur {
			return store.Invalid("lifecycle", "change the lifecycle alone, not together with other fields")
		}
		out, err = s.st.SetAPILifecycle(r.Context(), cur.ID, next.Lifecycle, v)
	} else {
		out, err = s.st.UpdateAPI(r.Context(), next, v)
	}
	if err != nil {
		return err
	}
	writeObject(w, http.StatusOK, out, out.Version)
	return nil
}

func (s *server) setAPILifecycle(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadAPI(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.need(permCatalog); err != nil {
		return err
	}
	v, err := ifMatch(w, r, cur.Version, false)
	if err != nil {
		return err
	}
	to, err := s.lifecycleBody(w, r)
	if err != nil {
		return err
	}
	out, err := s.st.SetAPILifecycle(r.Context(), cur.ID, to, v)
	if err != nil {
		return err
	}
	writeObject(w, http.StatusOK, out, out.Version)
	return nil
}

func (s *server) lifecycleBody(w http.ResponseWriter, r *http.Request) (store.Lifecycle, error) {
	var req lifecycleRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return "", err
	}
	if req.Lifecycle == "" {
		return "", store.Invalid("lifecycle", "required: draft, published, deprecated or retired")
	}
	return req.Lifecycle, nil
}

func (s *server) deleteAPI(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadAPI(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.need(permCatalog); err != nil {
		return err
	}
	v, err := ifMatch(w, r, cur.Version, true)
	if err != nil {
		return err
	}
	if err := s.st.DeleteAPI(r.Context(), cur.ID, v); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// Prompt APIs work as APIs do.

func (s *server) loadPrompt(ctx context.Context, p principal, id string) (store.PromptAPI, error) {
	a, err := s.st.GetPromptAPI(ctx, id)
	if err == nil && !p.sees(a.TenantID) {
		return store.PromptAPI{}, store.NotFound("prompt_api", id)
	}
	return a, err
}

func (s *server) listPrompts(w http.ResponseWriter, r *http.Request, p principal) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	tenant, err := tenantFilter(r, p)
	if err != nil {
		return err
	}
	page, err := s.st.ListPromptAPIs(r.Context(), tenant, opt)
	if err != nil {
		return err
	}
	writePage(w, page)
	return nil
}

func (s *server) createPrompt(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := p.need(permCatalog); err != nil {
		return err
	}
	var a store.PromptAPI
	if err := s.decode(w, r, &a, true); err != nil {
		return err
	}
	var err error
	if a.TenantID, err = tenantFor(p, a.TenantID); err != nil {
		return err
	}
	out, err := s.st.CreatePromptAPI(r.Context(), a)
	if err != nil {
		return err
	}
	created(w, Prefix+"/prompt-apis", out, out.Meta)
	return nil
}

func (s *server) getPrompt(w http.ResponseWriter, r *http.Request, p principal) error {
	a, err := s.loadPrompt(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	show(w, r, a, a.Version)
	return nil
}

func (s *server) putPrompt(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.editPrompt(w, r, p)
}

func (s *server) patchPrompt(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.editPrompt(w, r, p)
}

func (s *server) editPrompt(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadPrompt(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.need(permCatalog); err != nil {
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
	next.Meta = cur.Meta
	// The same schema in other whitespace is no change of the contract.
	if jsonEqual(next.InputSchema, cur.InputSchema) {
		next.InputSchema = cur.InputSchema
	}
	var out store.PromptAPI
	if r.Method == http.MethodPatch && next.Lifecycle != cur.Lifecycle {
		rest := next
		rest.Lifecycle = cur.Lifecycle
		if !samePrompt(rest, cur) {
			return store.Invalid("lifecycle", "change the lifecycle alone, not together with other fields")
		}
		out, err = s.st.SetPromptAPILifecycle(r.Context(), cur.ID, next.Lifecycle, v)
	} else {
		out, err = s.st.UpdatePromptAPI(r.Context(), next, v)
	}
	if err != nil {
		return err
	}
	writeObject(w, http.StatusOK, out, out.Version)
	return nil
}

func samePrompt(a, b store.PromptAPI) bool {
	ra, rb := a.InputSchema, b.InputSchema
	a.InputSchema, b.InputSchema = nil, nil
	return a.Meta == b.Meta && a.TenantID == b.TenantID && a.Name == b.Name && a.APIVersion == b.APIVersion &&
		a.Description == b.Description && a.Model == b.Model && a.Template == b.Template && a.Lifecycle == b.Lifecycle &&
		jsonEqual(ra, rb)
}

func (s *server) setPromptLifecycle(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadPrompt(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.need(permCatalog); err != nil {
		return err
	}
	v, err := ifMatch(w, r, cur.Version, false)
	if err != nil {
		return err
	}
	to, err := s.lifecycleBody(w, r)
	if err != nil {
		return err
	}
	out, err := s.st.SetPromptAPILifecycle(r.Context(), cur.ID, to, v)
	if err != nil {
		return err
	}
	writeObject(w, http.StatusOK, out, out.Version)
	return nil
}

func (s *server) deletePrompt(w http.ResponseWriter, r *http.Request, p principal) error {
	cur, err := s.loadPrompt(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.need(permCatalog); err != nil {
		return err
	}
	v, err := ifMatch(w, r, cur.Version, true)
	if err != nil {
		return err
	}
	if err := s.st.DeletePromptAPI(r.Context(), cur.ID, v); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// Subscriptions belong to two tenants: the application's, which subscribes, and the
// API's, which approves. Both see the subscription.

type subscription struct {
	store.Subscription
	appTenant, apiTenant string
}

func (s *server) loadSub(ctx context.Context, p principal, id string) (subscription, error) {
	sub, err := s.st.GetSubscription(ctx, id)
	if err != nil {
		return subscription{}, err
	}
	app, err := s.st.GetApplication(ctx, sub.ApplicationID)
	if err != nil {
		return subscription{}, err
	}
	api, err := s.st.GetAPI(ctx, sub.APIID)
	if err != nil {
		return subscription{}, err
	}
	if !p.sees(app.TenantID) && !p.sees(api.TenantID) {
		return subscription{}, store.NotFound("subscription", id)
	}
	return subscription{sub, app.TenantID, api.TenantID}, nil
}

// mayDecide: approving and rejecting belong to the API's side.
func (p principal) mayDecide(sub subscription) error {
	if p.may(permCatalog) && p.sees(sub.apiTenant) {
		return nil
	}
	return forbidden("only an admin or a tenant admin of the API's tenant may approve or reject subscriptions")
}

// mayWithdraw: revoking and deleting belong to either side.
func (p principal) mayWithdraw(sub subscription) error {
	if p.may(permCatalog) && p.sees(sub.apiTenant) || p.may(permApps) && p.sees(sub.appTenant) {
		return nil
	}
	return forbidden("role %s may not revoke or delete this subscription", p.role)
}

func (s *server) listSubs(w http.ResponseWriter, r *http.Request, p principal) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.SubscriptionFilter{ApplicationID: q.Get("application_id"), APIID: q.Get("api_id"), State: store.SubscriptionState(q.Get("state"))}
	switch f.State {
	case "", store.SubPending, store.SubApproved, store.SubRejected, store.SubRevoked:
	default:
		return store.Invalid("state", "want pending, approved, rejected or revoked, got %q", trunc(string(f.State)))
	}
	if f.ApplicationID != "" {
		if _, err := s.refApp(r.Context(), p, "application_id", f.ApplicationID); err != nil {
			return err
		}
	}
	if f.APIID != "" {
		if _, err := s.loadAPI(r.Context(), p, f.APIID); errors.Is(err, store.ErrNotFound) {
			return noRef("api_id", "api", f.APIID)
		} else if err != nil {
			return err
		}
	}
	if !p.admin() && f.ApplicationID == "" && f.APIID == "" {
		return store.Invalid("application_id", "required (or api_id): list the subscriptions of one application or one API")
	}
	page, err := s.st.ListSubscriptions(r.Context(), f, opt)
	if err != nil {
		return err
	}
	writePage(w, page)
	return nil
}

func (s *server) createSub(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := p.need(permApps); err != nil {
		return err
	}
	var sub store.Subscription
	if err := s.decode(w, r, &sub, true); err != nil {
		return err
	}
	if sub.ApplicationID != "" {
		if _, err := s.refApp(r.Context(), p, "application_id", sub.ApplicationID); err != nil {
			return err
		}
	}
	if sub.APIID != "" {
		if _, err := s.loadAPI(r.Context(), p, sub.APIID); errors.Is(err, store.ErrNotFound) {
			return noRef("api_id", "api", sub.APIID)
		} else if err != nil {
			return err
		}
	}
	out, err := s.st.CreateSubscription(r.Context(), store.Subscription{ApplicationID: sub.ApplicationID, APIID: sub.APIID, Reason: sub.Reason})
	if err != nil {
		return err
	}
	created(w, Prefix+"/subscriptions", out, out.Meta)
	return nil
}

func (s *server) getSub(w http.ResponseWriter, r *http.Request, p principal) error {
	sub, err := s.loadSub(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	show(w, r, sub.Subscription, sub.Version)
	return nil
}

func (s *server) approveSub(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.decide(w, r, p, store.SubApproved, principal.mayDecide)
}

func (s *server) rejectSub(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.decide(w, r, p, store.SubRejected, principal.mayDecide)
}

func (s *server) revokeSub(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.decide(w, r, p, store.SubRevoked, principal.mayWithdraw)
}

func (s *server) decide(w http.ResponseWriter, r *http.Request, p principal, to store.SubscriptionState, may func(principal, subscription) error) error {
	sub, err := s.loadSub(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := may(p, sub); err != nil {
		return err
	}
	v, err := ifMatch(w, r, sub.Version, false)
	if err != nil {
		return err
	}
	var req decisionRequest
	if err := s.decode(w, r, &req, false); err != nil {
		return err
	}
	out, err := s.st.SetSubscriptionState(r.Context(), sub.ID, to, req.Reason, v)
	if err != nil {
		return err
	}
	writeObject(w, http.StatusOK, out, out.Version)
	return nil
}

func (s *server) deleteSub(w http.ResponseWriter, r *http.Request, p principal) error {
	sub, err := s.loadSub(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := p.mayWithdraw(sub); err != nil {
		return err
	}
	v, err := ifMatch(w, r, sub.Version, true)
	if err != nil {
		return err
	}
	if err := s.st.DeleteSubscription(r.Context(), sub.ID, v); err != nil {
		return err
	}
	noContent(w)
	return nil
}
