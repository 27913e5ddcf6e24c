package session

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// Request and response headers (docs/sessions.md). The id header's name is
// configurable; the others are fixed.
const (
	HeaderID        = "X-Session-Id"
	HeaderMode      = "X-Session-Mode"
	HeaderMaxTurns  = "X-Session-Max-Turns"
	HeaderMaxTokens = "X-Session-Max-Tokens"

	// Response headers.
	HeaderHistoryTokens = "X-Session-History-Tokens"
	HeaderTrimmed       = "X-Session-Trimmed-Messages"
	HeaderSummarized    = "X-Session-Summarized"
)

// Mode says what a call does with its session.
type Mode string

// Modes.
const (
	// ModeAppend (default): send the history, then store the turn and reply.
	ModeAppend Mode = "append"
	// ModeReset: erase the history (and summary), then proceed as append.
	ModeReset Mode = "reset"
	// ModeSkip: a stateless call; no history is sent, nothing is stored.
	ModeSkip Mode = "skip"
	// ModeReadOnly: send the history, store nothing.
	ModeReadOnly Mode = "read-only"
)

// Directives are a call's session headers, parsed.
type Directives struct {
	ID   string
	Mode Mode
	// MaxTurns (> 0) caps the history turns sent (FitOptions.MaxTurns).
	MaxTurns int
	// MaxTokens (> 0) caps the history budget (the smaller of it and the
	// model's default budget applies).
	MaxTokens int
}

// ErrBadHeader: a session header is malformed; the message names it.
var ErrBadHeader = errors.New("session: bad session header")

// ParseDirectives reads the session headers; idHeader "" means HeaderID.
// ok is false when the call names no session (a stateless call); err
// (wrapping ErrBadHeader) when a header is malformed.
func ParseDirectives(h http.Header, idHeader string) (d Directives, ok bool, err error) {
	if idHeader == "" {
		idHeader = HeaderID
	}
	d.ID = strings.TrimSpace(h.Get(idHeader))
	if d.ID == "" {
		return Directives{}, false, nil
	}
	if !ValidID(d.ID) {
		return Directives{}, false, badHeader(idHeader, "want 1-128 characters from A-Z a-z 0-9 . _ : -")
	}
	switch m := Mode(strings.ToLower(strings.TrimSpace(h.Get(HeaderMode)))); m {
	case "":
		d.Mode = ModeAppend
	case ModeAppend, ModeReset, ModeSkip, ModeReadOnly:
		d.Mode = m
	default:
		return Directives{}, false, badHeader(HeaderMode, "want append, reset, skip or read-only")
	}
	if d.MaxTurns, err = positive(h, HeaderMaxTurns); err != nil {
		return Directives{}, false, err
	}
	if d.MaxTokens, err = positive(h, HeaderMaxTokens); err != nil {
		return Directives{}, false, err
	}
	return d, true, nil
}

func positive(h http.Header, name string) (int, error) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, badHeader(name, "want a whole number >= 1")
	}
	return n, nil
}

func badHeader(name, want string) error {
	return &headerError{name: name, want: want}
}

type headerError struct{ name, want string }

func (e *headerError) Error() string { return "session: bad " + e.name + " header: " + e.want }
func (e *headerError) Unwrap() error { return ErrBadHeader }
