// Package store holds Pylon's management objects (tenants, users, applications, API keys,
// the API catalog, subscriptions, limits and prompt APIs) and the Store interface that
// persists them. The types, their validation and their state machines live here, with no
// database driver; internal/store/sqlstore implements Store on SQLite (the embedded
// default) and PostgreSQL (several nodes), and internal/store/storetest is the behaviour
// suite every implementation must pass.
//
// Conventions shared by every object:
//   - ID, CreatedAt, UpdatedAt and Version (Meta) are set by the store; what a caller puts
//     there on Create is ignored.
//   - Version starts at 1 and grows by one on every update. Update and Delete take the
//     version the caller last read and fail with ErrConflict when it is stale: this backs
//     ETag/If-Match in the management API.
//   - Every write is one transaction and bumps the store revision, which nodes poll to
//     learn that their in-memory view is out of date (see Revisions and Watch).
//   - Errors wrap one of ErrNotFound, ErrConflict or ErrInvalid; an ErrInvalid is a
//     *FieldError naming the field.
package store
