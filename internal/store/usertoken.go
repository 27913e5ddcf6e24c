package store

import "time"

// UserToken is a user's own credential for the management API: the bearer token a person
// or a script presents instead of the administrator token. Like an API key, the
// plaintext exists only in the answer to CreateUserToken and the store keeps its SHA-256
// hash (see key.go for why a fast hash is right for 256 random bits). What the token may
// do is its user's role at the time of the request, so changing a user's role or tenant
// takes effect on their tokens at once.
type UserToken struct {
	Meta
	UserID    string     `json:"user_id"`
	Name      string     `json:"name,omitempty"`
	Prefix    string     `json:"prefix"` // "pu_abcd1234", for people to tell tokens apart
	Hash      KeyHash    `json:"-"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// UserTokenPrefix starts every user token; the rest is as in an API key, so that a token
// is told from a key (and from the administrator token) by its first three bytes.
const (
	UserTokenPrefix = "pu_"
	UserTokenLen    = len(UserTokenPrefix) + keyBodyLen
)

// NewUserToken returns a fresh user token: its plaintext, hash and display prefix.
func NewUserToken() (plaintext string, hash KeyHash, prefix string) {
	return newSecret(UserTokenPrefix)
}

// ParseUserToken checks that s has the shape of a user token and returns its hash.
func ParseUserToken(s string) (KeyHash, error) {
	return parseSecret("token", "token", UserTokenPrefix, s)
}

// Usable reports why the token may not be used at now: ErrTokenRevoked, ErrTokenExpired
// or nil.
func (t *UserToken) Usable(now time.Time) error {
	switch {
	case t.RevokedAt != nil:
		return ErrTokenRevoked
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return ErrTokenExpired
	}
	return nil
}

// Validate checks the fields a caller sets; now is the time the expiry must be after.
func (t *UserToken) Validate(now time.Time) error {
	if err := first(required("user_id", t.UserID), checkText("name", t.Name, maxText, false)); err != nil {
		return err
	}
	if t.ExpiresAt != nil && !t.ExpiresAt.After(now) {
		return invalid("expires_at", "must be in the future")
	}
	return nil
}
