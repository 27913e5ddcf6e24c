package store

import (
	"context"
	"time"
)

// The interfaces are small so that a consumer can ask for the part it uses (the data
// plane needs Keys.LookupKey and Revisions, the management API needs the rest); Store is
// all of them.

// Tenants stores tenants. Deleting a tenant that still owns users, applications, APIs or
// prompt APIs is an ErrConflict.
type Tenants interface {
	CreateTenant(ctx context.Context, t Tenant) (Tenant, error)
	GetTenant(ctx context.Context, id string) (Tenant, error)
	UpdateTenant(ctx context.Context, t Tenant, expectedVersion int64) (Tenant, error)
	DeleteTenant(ctx context.Context, id string, expectedVersion int64) error
	ListTenants(ctx context.Context, opt ListOptions) (Page[Tenant], error)
}

// Users stores users.
type Users interface {
	CreateUser(ctx context.Context, u User) (User, error)
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByEmail matches case-insensitively.
	GetUserByEmail(ctx context.Context, email string) (User, error)
	UpdateUser(ctx context.Context, u User, expectedVersion int64) (User, error)
	DeleteUser(ctx context.Context, id string, expectedVersion int64) error
	// ListUsers lists the users of tenantID, or all users when it is empty.
	ListUsers(ctx context.Context, tenantID string, opt ListOptions) (Page[User], error)
}

// UserTokens stores users' tokens for the management API. Deleting a user deletes its
// tokens.
type UserTokens interface {
	// CreateUserToken makes a new random token for t.UserID with t's name and expiry,
	// and returns it with its plaintext, which is never available again.
	CreateUserToken(ctx context.Context, t UserToken) (UserToken, string, error)
	GetUserToken(ctx context.Context, id string) (UserToken, error)
	// RevokeUserToken marks a token revoked for good; revoking it again is an
	// ErrConflict.
	RevokeUserToken(ctx context.Context, id string, expectedVersion int64) (UserToken, error)
	DeleteUserToken(ctx context.Context, id string, expectedVersion int64) error
	// ListUserTokens lists the tokens of userID, or all tokens when it is empty.
	ListUserTokens(ctx context.Context, userID string, opt ListOptions) (Page[UserToken], error)
	// LookupUserToken finds the token with hash (see ParseUserToken) and its user. It
	// fails with ErrNotFound, ErrTokenRevoked or ErrTokenExpired, and returns a token
	// only when it may be used now.
	LookupUserToken(ctx context.Context, hash KeyHash) (UserToken, User, error)
}

// Applications stores applications. Deleting one that still has keys or subscriptions
// is an ErrConflict; its limits go with it.
type Applications interface {
	CreateApplication(ctx context.Context, a Application) (Application, error)
	GetApplication(ctx context.Context, id string) (Application, error)
	UpdateApplication(ctx context.Context, a Application, expectedVersion int64) (Application, error)
	DeleteApplication(ctx context.Context, id string, expectedVersion int64) error
	ListApplications(ctx context.Context, tenantID string, opt ListOptions) (Page[Application], error)
}

// Keys stores API keys.
type Keys interface {
	// CreateKey makes a new random key for k.ApplicationID with k's name, scopes and
	// expiry, and returns it with its plaintext, which is never available again.
	CreateKey(ctx context.Context, k APIKey) (APIKey, string, error)
	GetKey(ctx context.Context, id string) (APIKey, error)
	// UpdateKey changes the name, scopes and expiry of a key that is not revoked.
	UpdateKey(ctx context.Context, k APIKey, expectedVersion int64) (APIKey, error)
	// RevokeKey marks a key revoked for good; revoking it again is an ErrConflict.
	RevokeKey(ctx context.Context, id string, expectedVersion int64) (APIKey, error)
	DeleteKey(ctx context.Context, id string, expectedVersion int64) error
	// ListKeys lists the keys of applicationID, or all keys when it is empty (what a
	// node loads into memory).
	ListKeys(ctx context.Context, applicationID string, opt ListOptions) (Page[APIKey], error)
	// LookupKey finds the key with hash (see HashKey). It fails with ErrNotFound,
	// ErrKeyRevoked or ErrKeyExpired, and returns a key only when it may be used now.
	LookupKey(ctx context.Context, hash KeyHash) (APIKey, error)
}

// APIs stores the API catalog. A new API starts as a draft; SetAPILifecycle moves it
// (see CanTransition). Only a draft may change its version; only a draft or a retired
// API may be deleted, and not while subscriptions refer to it.
type APIs interface {
	CreateAPI(ctx context.Context, a API) (API, error)
	GetAPI(ctx context.Context, id string) (API, error)
	UpdateAPI(ctx context.Context, a API, expectedVersion int64) (API, error)
	SetAPILifecycle(ctx context.Context, id string, to Lifecycle, expectedVersion int64) (API, error)
	DeleteAPI(ctx context.Context, id string, expectedVersion int64) error
	ListAPIs(ctx context.Context, tenantID string, opt ListOptions) (Page[API], error)
}

// Subscriptions stores subscriptions of applications to APIs.
type Subscriptions interface {
	// CreateSubscription subscribes an application to a published API: approved at once
	// when the API does not require approval, pending otherwise. The state given is
	// ignored.
	CreateSubscription(ctx context.Context, s Subscription) (Subscription, error)
	GetSubscription(ctx context.Context, id string) (Subscription, error)
	// SetSubscriptionState moves a subscription (see CanTransitionSubscription) and
	// records reason.
	SetSubscriptionState(ctx context.Context, id string, to SubscriptionState, reason string, expectedVersion int64) (Subscription, error)
	DeleteSubscription(ctx context.Context, id string, expectedVersion int64) error
	ListSubscriptions(ctx context.Context, f SubscriptionFilter, opt ListOptions) (Page[Subscription], error)
}

// SubscriptionFilter narrows ListSubscriptions; empty fields match everything.
type SubscriptionFilter struct {
	ApplicationID string
	APIID         string
	State         SubscriptionState
}

// Limits stores rate limits and budgets. The object a limit is scoped to must exist;
// deleting that object deletes its limits.
type Limits interface {
	CreateLimit(ctx context.Context, l Limit) (Limit, error)
	GetLimit(ctx context.Context, id string) (Limit, error)
	// UpdateLimit changes the limit value only; scope, kind, unit and period are the
	// identity of a limit.
	UpdateLimit(ctx context.Context, l Limit, expectedVersion int64) (Limit, error)
	DeleteLimit(ctx context.Context, id string, expectedVersion int64) error
	// ListLimits lists the limits of one scope object, or all limits when scope is empty.
	ListLimits(ctx context.Context, scope LimitScope, scopeID string, opt ListOptions) (Page[Limit], error)
}

// PromptAPIs stores prompt APIs, versioned and with a lifecycle like APIs.
type PromptAPIs interface {
	CreatePromptAPI(ctx context.Context, p PromptAPI) (PromptAPI, error)
	GetPromptAPI(ctx context.Context, id string) (PromptAPI, error)
	UpdatePromptAPI(ctx context.Context, p PromptAPI, expectedVersion int64) (PromptAPI, error)
	SetPromptAPILifecycle(ctx context.Context, id string, to Lifecycle, expectedVersion int64) (PromptAPI, error)
	DeletePromptAPI(ctx context.Context, id string, expectedVersion int64) error
	ListPromptAPIs(ctx context.Context, tenantID string, opt ListOptions) (Page[PromptAPI], error)
}

// Revisions tells nodes that the store changed. The revision grows by one in every write
// transaction, on every node's view of a shared database.
type Revisions interface {
	// Revision is the current revision: one indexed row, cheap to poll every second.
	Revision(ctx context.Context) (int64, error)
	// Changes lists what changed after revision since, oldest first, with the revision
	// they bring the caller to. Old entries are pruned: asking for them is
	// ErrChangesPruned, and the caller must reload everything.
	Changes(ctx context.Context, since int64) ([]Change, int64, error)
}

// Change is one object written at one revision.
type Change struct {
	Revision int64     `json:"revision"`
	Kind     string    `json:"kind"` // "tenant", "user", "user_token", "application", "api_key", "api", "subscription", "limit", "prompt_api"
	ID       string    `json:"id"`
	Op       Op        `json:"op"`
	At       time.Time `json:"at"`
}

// Op is what a write did to an object.
type Op string

// Ops.
const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
)

// Store is the whole management store.
type Store interface {
	Tenants
	Users
	UserTokens
	Applications
	Keys
	APIs
	Subscriptions
	Limits
	PromptAPIs
	Revisions
	Close() error
}

// ListOptions asks for one page of a list. Lists are in a stable order (the order of
// creation); Cursor is the Next of the previous page, empty for the first.
type ListOptions struct {
	Limit  int    // 0 means DefaultLimit; at most MaxLimit
	Cursor string // opaque
}

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Page is one page of a list; Next is empty on the last page.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}
