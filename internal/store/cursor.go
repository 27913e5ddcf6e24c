package store

import (
	"encoding/base64"
	"strings"
)

// A cursor is the id of the last item of a page, opaque to clients so that the order
// key can change without breaking them: base64url("c1:" + id). Ids are UUIDv7, which
// sort in creation order, so "id > last" with "ORDER BY id" is a stable keyset
// pagination that neither skips nor repeats items when others are inserted or deleted.
const cursorTag = "c1:"

// maxCursor bounds the input before decoding: an id is 36 bytes.
const maxCursor = 128

// EncodeCursor returns the cursor of a page that ends with the item id.
func EncodeCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorTag + id))
}

// DecodeCursor returns the id a cursor points after, "" for an empty cursor.
func DecodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	if len(c) > maxCursor {
		return "", invalid("cursor", "too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", invalid("cursor", "not a cursor returned by this API")
	}
	id, ok := strings.CutPrefix(string(b), cursorTag)
	if !ok || !validID(id) {
		return "", invalid("cursor", "not a cursor returned by this API")
	}
	return id, nil
}

// PageLimit checks opt and returns the page size and the id to list after.
func (opt ListOptions) PageLimit() (limit int, after string, err error) {
	switch {
	case opt.Limit < 0:
		return 0, "", invalid("limit", "must not be negative")
	case opt.Limit > MaxLimit:
		return 0, "", invalid("limit", "at most %d", MaxLimit)
	case opt.Limit == 0:
		limit = DefaultLimit
	default:
		limit = opt.Limit
	}
	after, err = DecodeCursor(opt.Cursor)
	return limit, after, err
}

// validID reports whether s looks like an id the store made: a canonical lower-case
// UUID. It keeps arbitrary bytes out of queries built from cursors.
func validID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
