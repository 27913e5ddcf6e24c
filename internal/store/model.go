package store

import (
	"encoding/json"
	"time"
)

// Meta is what every object carries; the store sets it.
type Meta struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version grows by one on every update; Update and Delete take the last one read.
	Version int64 `json:"version"`
}

// Tenant is a team: it owns users, applications, APIs and prompt APIs.
type Tenant struct {
	Meta
	Name        string `json:"name"` // slug, unique
	DisplayName string `json:"display_name,omitempty"`
}

// Role is what a user may do.
type Role string

// Roles, from most to least powerful. An admin runs the whole installation and has no
// tenant; the others belong to exactly one tenant.
const (
	RoleAdmin       Role = "admin"
	RoleTenantAdmin Role = "tenant_admin"
	RoleDeveloper   Role = "developer"
	RoleViewer      Role = "viewer"
)

// User is a person who signs in to the console or the management API.
type User struct {
	Meta
	TenantID string `json:"tenant_id,omitempty"` // empty only for RoleAdmin
	Email    string `json:"email"`               // unique, stored lower-case
	Name     string `json:"name,omitempty"`
	Role     Role   `json:"role"`
}

// Application is a client of the gateway, owned by a tenant; API keys and subscriptions
// belong to it.
type Application struct {
	Meta
	TenantID    string `json:"tenant_id"`
	Name        string `json:"name"` // slug, unique within the tenant
	Description string `json:"description,omitempty"`
}

// Scopes restrict what an API key may call. An empty list means no restriction on that
// axis; "*" in a list is the same as an empty list. Entries are names (models, API names)
// or route names, matched by the data plane.
type Scopes struct {
	Models []string `json:"models,omitempty"`
	Routes []string `json:"routes,omitempty"`
	APIs   []string `json:"apis,omitempty"`
}

// APIKey is a credential of an application. The plaintext exists only in the answer to
// CreateKey; the store keeps its SHA-256 hash and a display prefix.
type APIKey struct {
	Meta
	ApplicationID string     `json:"application_id"`
	TenantID      string     `json:"tenant_id"` // the application's tenant, set by the store
	Name          string     `json:"name,omitempty"`
	Prefix        string     `json:"prefix"` // "pk_live_abcd1234", for people to tell keys apart
	Hash          KeyHash    `json:"-"`
	Scopes        Scopes     `json:"scopes"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
}

// Usable reports why the key may not be used at now: ErrKeyRevoked, ErrKeyExpired or nil.
func (k *APIKey) Usable(now time.Time) error {
	switch {
	case k.RevokedAt != nil:
		return ErrKeyRevoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return ErrKeyExpired
	}
	return nil
}

// Lifecycle is the state of a catalog entry (an API or a prompt API version).
type Lifecycle string

// Lifecycle states; see CanTransition for the allowed moves.
const (
	Draft      Lifecycle = "draft"
	Published  Lifecycle = "published"
	Deprecated Lifecycle = "deprecated"
	Retired    Lifecycle = "retired"
)

// API is one version of an API in the catalog. (tenant, name, version) is unique.
type API struct {
	Meta
	TenantID    string    `json:"tenant_id"`
	Name        string    `json:"name"`        // slug
	APIVersion  string    `json:"api_version"` // "v1", "1.2.0"; not Meta.Version
	Title       string    `json:"title,omitempty"`
	Description string    `json:"description,omitempty"`
	Lifecycle   Lifecycle `json:"lifecycle"`
	// RequiresApproval makes new subscriptions start pending instead of approved.
	RequiresApproval bool `json:"requires_approval"`
}

// SubscriptionState is where a subscription stands in the approval flow.
type SubscriptionState string

// Subscription states; see CanTransitionSubscription.
const (
	SubPending  SubscriptionState = "pending"
	SubApproved SubscriptionState = "approved"
	SubRejected SubscriptionState = "rejected"
	SubRevoked  SubscriptionState = "revoked"
)

// Subscription is an application's access to an API. (application, api) is unique.
type Subscription struct {
	Meta
	ApplicationID string            `json:"application_id"`
	APIID         string            `json:"api_id"`
	State         SubscriptionState `json:"state"`
	// Reason is the note of the last decision ("rejected: no business case").
	Reason string `json:"reason,omitempty"`
}

// LimitScope is what a limit counts against.
type LimitScope string

// Limit scopes.
const (
	ScopeKey         LimitScope = "key"
	ScopeApplication LimitScope = "application"
	ScopeTenant      LimitScope = "tenant"
)

// LimitKind is what a limit counts.
type LimitKind string

// Limit kinds. Spend is a budget over a Period, in Unit.
const (
	RequestsPerMinute LimitKind = "requests_per_minute"
	TokensPerMinute   LimitKind = "tokens_per_minute"
	Concurrent        LimitKind = "concurrent"
	Spend             LimitKind = "spend"
)

// LimitUnit is the unit of a Spend limit.
type LimitUnit string

// Spend units. UnitPicodollars counts money in 1e-12 USD, the unit of usage.Money, so
// that budgets compare with costs without conversion or floats.
const (
	UnitTokens      LimitUnit = "tokens"
	UnitPicodollars LimitUnit = "picodollars"
)

// Period is the window of a Spend limit, in UTC calendar terms.
type Period string

// Periods.
const (
	PeriodDay   Period = "day"
	PeriodMonth Period = "month"
)

// Limit is a rate limit or a budget on a key, an application or a tenant.
// (scope, scope_id, kind, unit, period) is unique.
type Limit struct {
	Meta
	Scope   LimitScope `json:"scope"`
	ScopeID string     `json:"scope_id"`
	Kind    LimitKind  `json:"kind"`
	// Limit is the maximum: requests or tokens per minute, requests in flight, or the
	// budget in Unit per Period.
	Limit  int64     `json:"limit"`
	Unit   LimitUnit `json:"unit,omitempty"`   // Spend only
	Period Period    `json:"period,omitempty"` // Spend only
}

// PromptAPI is a prompt template bound to a model, served as a REST endpoint whose body
// is checked against InputSchema. It is versioned like an API: (tenant, name, version)
// is unique, and only a draft may change its template, model or schema.
type PromptAPI struct {
	Meta
	TenantID    string          `json:"tenant_id"`
	Name        string          `json:"name"`
	APIVersion  string          `json:"api_version"`
	Description string          `json:"description,omitempty"`
	Model       string          `json:"model"`
	Template    string          `json:"template"`     // "{{var}}" placeholders, see TemplateVariables
	InputSchema json.RawMessage `json:"input_schema"` // a JSON Schema object
	Lifecycle   Lifecycle       `json:"lifecycle"`
}
