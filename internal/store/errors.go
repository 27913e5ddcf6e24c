package store

import (
	"errors"
	"fmt"
)

// Sentinel classes of store errors; the management API maps them to status codes
// (404, 409, 400) in one place. Test with errors.Is.
var (
	// ErrNotFound: no object with that id (or key with that hash).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique name is taken, the expected version is stale, the object is
	// still referenced, or a state transition is not allowed from the current state.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input breaks a rule of its type; the error is a *FieldError.
	ErrInvalid = errors.New("invalid")
	// ErrKeyRevoked and ErrKeyExpired are returned by LookupKey for a key that exists but
	// may no longer be used. They are not ErrNotFound so that the data plane can log the
	// reason, but a client should see the same 401 for all three.
	ErrKeyRevoked = errors.New("api key revoked")
	ErrKeyExpired = errors.New("api key expired")
	// ErrTokenRevoked and ErrTokenExpired are LookupUserToken's ErrKeyRevoked and
	// ErrKeyExpired.
	ErrTokenRevoked = errors.New("user token revoked")
	ErrTokenExpired = errors.New("user token expired")
	// ErrStale is the ErrConflict of an update or delete that named a version which is
	// no longer the current one (errors.Is(err, ErrConflict) holds too). The management
	// API answers it with 412 Precondition Failed rather than 409.
	ErrStale = fmt.Errorf("stale version: %w", ErrConflict)
	// ErrChangesPruned: Changes was asked for revisions older than the store keeps; the
	// caller must reload everything.
	ErrChangesPruned = errors.New("changes pruned")
)

// FieldError is an invalid input: Field is the JSON name of the field ("name",
// "scopes.models[2]"), Msg says what is wrong. It matches ErrInvalid with errors.Is.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return "store: invalid " + e.Field + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// invalid builds a *FieldError.
func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Invalid builds a *FieldError for implementations of Store that find an input invalid
// only in the database (a reference to a missing object).
func Invalid(field, format string, args ...any) error { return invalid(field, format, args...) }

// NotFound returns an ErrNotFound for an object of kind with id.
func NotFound(kind, id string) error {
	return fmt.Errorf("store: %s %q: %w", kind, id, ErrNotFound)
}

// Stale returns the ErrConflict of an update or delete with an out-of-date version.
func Stale(kind, id string, expected int64) error {
	return fmt.Errorf("store: %s %q: version %d is not the current version: %w", kind, id, expected, ErrStale)
}
