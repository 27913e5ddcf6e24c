package session

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// List paging: sessions come most recently accessed first (ties: id
// descending, Redis's order for equal scores), and a cursor is the position
// (access time in ms, id) of the last session of a page. A session accessed
// while a listing pages moves to the front: the listing does not show it
// again (or at all, if it had not been shown yet).

// DefaultListLimit and MaxListLimit bound List's limit.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

// ErrBadCursor: List got a cursor it did not make.
var ErrBadCursor = errors.New("session: invalid list cursor")

var errBadReplaced = errors.New("session: summary replaces more messages than the session has")

type cursor struct {
	set   bool
	score int64
	id    string
}

func makeCursor(score int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(score, 10) + "/" + id))
}

func parseCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, ErrBadCursor
	}
	ms, id, ok := strings.Cut(string(b), "/")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || !ValidID(id) {
		return cursor{}, ErrBadCursor
	}
	return cursor{set: true, score: n, id: id}, nil
}

// after reports whether a session at (score, id) comes after the cursor.
func (c cursor) after(score int64, id string) bool {
	return score < c.score || score == c.score && id < c.id
}

func clampLimit(n int) int {
	if n <= 0 {
		return DefaultListLimit
	}
	return min(n, MaxListLimit)
}

// page cuts sorted sessions to limit and makes the next cursor.
func page(all []Session, limit int) ([]Session, string, error) {
	if len(all) <= limit {
		return all, "", nil
	}
	last := all[limit-1]
	return all[:limit:limit], makeCursor(last.Accessed.UnixMilli(), last.ID), nil
}

func summaryTokens(o Options, text string) int {
	if text == "" {
		return 0
	}
	m := SummaryMessage(text)
	return MessageTokens(o.Estimator, o.Model, &m)
}
