package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
)

// Key format: "pk_live_" followed by 32 random bytes in lower-case base32 without
// padding (52 characters of a-z2-7: no symbols, so a double click selects the whole key
// and it survives URLs, headers and shell quoting).
//
// Why SHA-256 and not bcrypt/argon2: slow hashes exist to make guessing a low-entropy
// secret (a password) expensive. A key is 256 bits from crypto/rand; nobody can
// enumerate 2^256 candidates at any hash speed, so a fast hash loses nothing, and it lets
// the data plane check a key in microseconds with an exact-match index lookup (a salted
// slow hash could not be looked up at all, only compared one by one).
const (
	KeyPrefix    = "pk_live_"
	keyRandBytes = 32
	keyBodyLen   = 52 // base32 of 32 bytes, unpadded
	KeyLen       = len(KeyPrefix) + keyBodyLen
)

var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// KeyHash is the SHA-256 of a key's plaintext.
type KeyHash [sha256.Size]byte

// String is the hash in hex, for logs.
func (h KeyHash) String() string { return hex.EncodeToString(h[:]) }

// HashKey returns the hash under which a key is stored. It does not check the format:
// use ParseKey first to reject garbage without a lookup.
func HashKey(plaintext string) KeyHash { return sha256.Sum256([]byte(plaintext)) }

// NewKey returns a fresh key: its plaintext, hash and display prefix.
func NewKey() (plaintext string, hash KeyHash, prefix string) { return newSecret(KeyPrefix) }

// newSecret returns a fresh credential that starts with tag: tag and 52 characters of
// base32 over 32 random bytes, its hash, and its display prefix (tag and 8 characters).
func newSecret(tag string) (plaintext string, hash KeyHash, prefix string) {
	var b [keyRandBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it panics if the OS cannot supply)
	plaintext = tag + keyEncoding.EncodeToString(b[:])
	return plaintext, HashKey(plaintext), plaintext[:len(tag)+8]
}

// ParseKey checks that s has the shape of a key this store issues and returns its hash.
// It is what the data plane calls on a presented credential before LookupKey.
func ParseKey(s string) (KeyHash, error) { return parseSecret("api_key", "key", KeyPrefix, s) }

// parseSecret checks that s is tag followed by the body newSecret makes, and returns its
// hash; a malformed s is a *FieldError on field.
func parseSecret(field, noun, tag, s string) (KeyHash, error) {
	body, ok := strings.CutPrefix(s, tag)
	if !ok {
		return KeyHash{}, invalid(field, "want a %s that starts with %q", noun, tag)
	}
	if len(body) != keyBodyLen {
		return KeyHash{}, invalid(field, "want %d characters after %q", keyBodyLen, tag)
	}
	var b [keyRandBytes + 1]byte
	n, err := keyEncoding.Decode(b[:], []byte(body))
	if err != nil || n != keyRandBytes {
		return KeyHash{}, invalid(field, "want only a-z and 2-7 after %q", tag)
	}
	return HashKey(s), nil
}
