package sqlstore

import (
	"context"
	"fmt"

	"github.com/pylon-gateway/pylon/internal/store"
)

var apis = (&codec[store.API]{
	kind:  "api",
	table: "apis",
	cols:  []string{"tenant_id", "name", "api_version", "title", "description", "lifecycle", "requires_approval"},
	meta:  func(a *store.API) *store.Meta { return &a.Meta },
	args: func(a *store.API) []any {
		return []any{a.TenantID, a.Name, a.APIVersion, a.Title, a.Description, string(a.Lifecycle), a.RequiresApproval}
	},
	dests: func(a *store.API) []any {
		return []any{&a.TenantID, &a.Name, &a.APIVersion, &a.Title, &a.Description, (*string)(&a.Lifecycle), boolCol{&a.RequiresApproval}}
	},
	taken: func(a *store.API) string {
		return fmt.Sprintf("version %q of API %q in this tenant", a.APIVersion, a.Name)
	},
	inUse: "it still has subscriptions",
}).init()

// CreateAPI implements store.APIs. The API starts as a draft.
func (d *DB) CreateAPI(ctx context.Context, a store.API) (store.API, error) {
	if err := a.Validate(); err != nil {
		return store.API{}, err
	}
	a.Lifecycle = store.Draft
	return create(ctx, d, apis, a, func(w *wtx, a *store.API) error {
		_, err := exists(ctx, w, tenants, "tenant_id", a.TenantID)
		return err
	})
}

// GetAPI implements store.APIs.
func (d *DB) GetAPI(ctx context.Context, id string) (store.API, error) {
	return get(ctx, d.b.reader(), apis, id)
}

// UpdateAPI implements store.APIs: title, description and approval always; the version
// only in a draft. Tenant and name are the API's identity; the lifecycle moves with
// SetAPILifecycle.
func (d *DB) UpdateAPI(ctx context.Context, a store.API, expectedVersion int64) (store.API, error) {
	if err := a.Validate(); err != nil {
		return store.API{}, err
	}
	return update(ctx, d, apis, a.ID, expectedVersion, func(_ *wtx, cur *store.API) error {
		if err := first(immutable("tenant_id", cur.TenantID, a.TenantID), immutable("name", cur.Name, a.Name),
			lifecycleUnchanged(cur.Lifecycle, a.Lifecycle)); err != nil {
			return err
		}
		if a.APIVersion != cur.APIVersion && cur.Lifecycle != store.Draft {
			return fmt.Errorf("store: api %q is %s: only a draft may change its api_version; create a new version instead: %w",
				cur.ID, cur.Lifecycle, store.ErrConflict)
		}
		cur.APIVersion, cur.Title, cur.Description, cur.RequiresApproval = a.APIVersion, a.Title, a.Description, a.RequiresApproval
		return nil
	})
}

func first(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func lifecycleUnchanged(cur, next store.Lifecycle) error {
	if next != "" && next != cur {
		return store.Invalid("lifecycle", "changes only through a lifecycle transition, not an update")
	}
	return nil
}

// SetAPILifecycle implements store.APIs.
func (d *DB) SetAPILifecycle(ctx context.Context, id string, to store.Lifecycle, expectedVersion int64) (store.API, error) {
	return update(ctx, d, apis, id, expectedVersion, func(_ *wtx, cur *store.API) error {
		if err := store.CheckTransition("api", id, cur.Lifecycle, to); err != nil {
			return err
		}
		cur.Lifecycle = to
		return nil
	})
}

// DeleteAPI implements store.APIs: drafts and retired APIs only.
func (d *DB) DeleteAPI(ctx context.Context, id string, expectedVersion int64) error {
	return remove(ctx, d, apis, id, expectedVersion, func(_ *wtx, cur *store.API) error {
		return deletable("api", cur.ID, cur.Lifecycle)
	})
}

func deletable(kind, id string, l store.Lifecycle) error {
	if l != store.Draft && l != store.Retired {
		return fmt.Errorf("store: %s %q is %s: only a draft or a retired version may be deleted: %w", kind, id, l, store.ErrConflict)
	}
	return nil
}

// ListAPIs implements store.APIs.
func (d *DB) ListAPIs(ctx context.Context, tenantID string, opt store.ListOptions) (store.Page[store.API], error) {
	where, args := filter(nil, nil, "tenant_id", tenantID)
	return list(ctx, d, apis, opt, where, args...)
}

var subscriptions = (&codec[store.Subscription]{
	kind:  "subscription",
	table: "subscriptions",
	cols:  []string{"application_id", "api_id", "state", "reason"},
	meta:  func(s *store.Subscription) *store.Meta { return &s.Meta },
	args: func(s *store.Subscription) []any {
		return []any{s.ApplicationID, s.APIID, string(s.State), s.Reason}
	},
	dests: func(s *store.Subscription) []any {
		return []any{&s.ApplicationID, &s.APIID, (*string)(&s.State), &s.Reason}
	},
	taken: func(*store.Subscription) string { return "a subscription of this application to this API" },
	inUse: "it is still referenced",
}).init()

// CreateSubscription implements store.Subscriptions.
func (d *DB) CreateSubscription(ctx context.Context, s store.Subscription) (store.Subscription, error) {
	if err := s.Validate(); err != nil {
		return store.Subscription{}, err
	}
	return create(ctx, d, subscriptions, s, func(w *wtx, s *store.Subscription) error {
		if _, err := exists(ctx, w, applications, "application_id", s.ApplicationID); err != nil {
			return err
		}
		api, err := exists(ctx, w, apis, "api_id", s.APIID)
		if err != nil {
			return err
		}
		if api.Lifecycle != store.Published {
			return fmt.Errorf("store: api %q is %s: only a published API takes new subscriptions: %w", api.ID, api.Lifecycle, store.ErrConflict)
		}
		s.State = store.SubApproved
		if api.RequiresApproval {
			s.State = store.SubPending
		}
		return nil
	})
}

// GetSubscription implements store.Subscriptions.
func (d *DB) GetSubscription(ctx context.Context, id string) (store.Subscription, error) {
	return get(ctx, d.b.reader(), subscriptions, id)
}

// SetSubscriptionState implements store.Subscriptions.
func (d *DB) SetSubscriptionState(ctx context.Context, id string, to store.SubscriptionState, reason string, expectedVersion int64) (store.Subscription, error) {
	probe := store.Subscription{ApplicationID: "-", APIID: "-", Reason: reason}
	if err := probe.Validate(); err != nil {
		return store.Subscription{}, err
	}
	return update(ctx, d, subscriptions, id, expectedVersion, func(_ *wtx, cur *store.Subscription) error {
		if err := store.CheckSubscriptionTransition(id, cur.State, to); err != nil {
			return err
		}
		cur.State, cur.Reason = to, reason
		return nil
	})
}

// DeleteSubscription implements store.Subscriptions.
func (d *DB) DeleteSubscription(ctx context.Context, id string, expectedVersion int64) error {
	return remove(ctx, d, subscriptions, id, expectedVersion, nil)
}

// ListSubscriptions implements store.Subscriptions.
func (d *DB) ListSubscriptions(ctx context.Context, f store.SubscriptionFilter, opt store.ListOptions) (store.Page[store.Subscription], error) {
	where, args := filter(nil, nil, "application_id", f.ApplicationID)
	where, args = filter(where, args, "api_id", f.APIID)
	where, args = filter(where, args, "state", string(f.State))
	return list(ctx, d, subscriptions, opt, where, args...)
}

var promptAPIs = (&codec[store.PromptAPI]{
	kind:  "prompt_api",
	table: "prompt_apis",
	cols:  []string{"tenant_id", "name", "api_version", "description", "model", "template", "input_schema", "lifecycle"},
	meta:  func(p *store.PromptAPI) *store.Meta { return &p.Meta },
	args: func(p *store.PromptAPI) []any {
		return []any{p.TenantID, p.Name, p.APIVersion, p.Description, p.Model, p.Template, string(p.InputSchema), string(p.Lifecycle)}
	},
	dests: func(p *store.PromptAPI) []any {
		return []any{&p.TenantID, &p.Name, &p.APIVersion, &p.Description, &p.Model, &p.Template, rawJSONCol{&p.InputSchema}, (*string)(&p.Lifecycle)}
	},
	taken: func(p *store.PromptAPI) string {
		return fmt.Sprintf("version %q of prompt API %q in this tenant", p.APIVersion, p.Name)
	},
	inUse: "it is still referenced",
}).init()

// CreatePromptAPI implements store.PromptAPIs. It starts as a draft.
func (d *DB) CreatePromptAPI(ctx context.Context, p store.PromptAPI) (store.PromptAPI, error) {
	if err := p.Validate(); err != nil {
		return store.PromptAPI{}, err
	}
	p.Lifecycle = store.Draft
	return create(ctx, d, promptAPIs, p, func(w *wtx, p *store.PromptAPI) error {
		_, err := exists(ctx, w, tenants, "tenant_id", p.TenantID)
		return err
	})
}

// GetPromptAPI implements store.PromptAPIs.
func (d *DB) GetPromptAPI(ctx context.Context, id string) (store.PromptAPI, error) {
	return get(ctx, d.b.reader(), promptAPIs, id)
}

// UpdatePromptAPI implements store.PromptAPIs: the description always; version, model,
// template and input schema only in a draft, since a published version is a contract.
func (d *DB) UpdatePromptAPI(ctx context.Context, p store.PromptAPI, expectedVersion int64) (store.PromptAPI, error) {
	if err := p.Validate(); err != nil {
		return store.PromptAPI{}, err
	}
	return update(ctx, d, promptAPIs, p.ID, expectedVersion, func(_ *wtx, cur *store.PromptAPI) error {
		if err := first(immutable("tenant_id", cur.TenantID, p.TenantID), immutable("name", cur.Name, p.Name),
			lifecycleUnchanged(cur.Lifecycle, p.Lifecycle)); err != nil {
			return err
		}
		contract := p.APIVersion != cur.APIVersion || p.Model != cur.Model || p.Template != cur.Template || string(p.InputSchema) != string(cur.InputSchema)
		if contract && cur.Lifecycle != store.Draft {
			return fmt.Errorf("store: prompt_api %q is %s: only a draft may change its api_version, model, template or input schema; create a new version instead: %w",
				cur.ID, cur.Lifecycle, store.ErrConflict)
		}
		cur.APIVersion, cur.Description, cur.Model, cur.Template, cur.InputSchema = p.APIVersion, p.Description, p.Model, p.Template, p.InputSchema
		return nil
	})
}

// SetPromptAPILifecycle implements store.PromptAPIs.
func (d *DB) SetPromptAPILifecycle(ctx context.Context, id string, to store.Lifecycle, expectedVersion int64) (store.PromptAPI, error) {
	return update(ctx, d, promptAPIs, id, expectedVersion, func(_ *wtx, cur *store.PromptAPI) error {
		if err := store.CheckTransition("prompt_api", id, cur.Lifecycle, to); err != nil {
			return err
		}
		cur.Lifecycle = to
		return nil
	})
}

// DeletePromptAPI implements store.PromptAPIs: drafts and retired versions only.
func (d *DB) DeletePromptAPI(ctx context.Context, id string, expectedVersion int64) error {
	return remove(ctx, d, promptAPIs, id, expectedVersion, func(_ *wtx, cur *store.PromptAPI) error {
		return deletable("prompt_api", cur.ID, cur.Lifecycle)
	})
}

// ListPromptAPIs implements store.PromptAPIs.
func (d *DB) ListPromptAPIs(ctx context.Context, tenantID string, opt store.ListOptions) (store.Page[store.PromptAPI], error) {
	where, args := filter(nil, nil, "tenant_id", tenantID)
	return list(ctx, d, promptAPIs, opt, where, args...)
}
