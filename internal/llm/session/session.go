package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// Errors. A caller maps ErrNotFound to 404 and ErrConflict to 409; the others
// are the caller's mistakes (400) or backend failures (wrapped, 5xx).
var (
	// ErrNotFound: no such session in this scope (never created, expired,
	// deleted, or made by another scope: these are indistinguishable).
	ErrNotFound = errors.New("session: not found")
	// ErrConflict: the session is not at the version the caller expected
	// (Append with an expected version, SetSummary; see each).
	ErrConflict = errors.New("session: version conflict")
	// ErrInvalidID: the id is not 1-128 characters from [A-Za-z0-9._:-].
	ErrInvalidID = errors.New("session: invalid session id: want 1-128 characters from A-Z a-z 0-9 . _ : -")
	// ErrNoScope: the scope is empty (a wiring mistake: an unauthenticated
	// caller must not share sessions with every other one).
	ErrNoScope = errors.New("session: empty scope")
	// ErrEmpty: Append without messages.
	ErrEmpty = errors.New("session: nothing to append")
	// ErrTooLarge: the session alone would exceed a Memory store's byte bound.
	ErrTooLarge = errors.New("session: session larger than the store's byte bound")
)

// AnyVersion, as Append's expected version, appends whatever the session's
// version (creating the session if needed).
const AnyVersion int64 = 0

// Session is a session's metadata.
type Session struct {
	ID    string `json:"id"`
	Scope string `json:"-"` // tenant and key, opaque; never shown to clients
	// Created is when the session was first appended to; Updated when its
	// messages or summary last changed; Accessed when it was last read or
	// written (the sliding TTL runs from there, to Expires).
	Created  time.Time `json:"created_at"`
	Updated  time.Time `json:"updated_at"`
	Accessed time.Time `json:"accessed_at"`
	Expires  time.Time `json:"expires_at"`
	// Turns counts the user messages stored (not those a summary replaced).
	Turns int `json:"turns"`
	// Messages counts the messages stored.
	Messages int `json:"messages"`
	// Tokens estimates the prompt tokens of the stored messages and the
	// summary (the store's Estimator; see Options).
	Tokens  int     `json:"tokens"`
	Summary Summary `json:"summary"`
	// Version changes on every mutation (+1 within one life of the session).
	// The first version of a new session is random (below 2^52), so that a
	// version read before a Delete never matches the session re-created
	// under the same id: compare versions for equality or order, do not
	// read meaning into their size.
	Version int64 `json:"version"`
}

// Summary stands for the oldest messages of a session, which it replaced.
type Summary struct {
	Text string `json:"text,omitempty"`
	// Replaced is how many messages the summary stands for, over the
	// session's life (each new summary covers the previous one).
	Replaced int `json:"replaced_messages"`
	// Tokens estimates the summary's tokens as a message.
	Tokens int `json:"tokens"`
}

// Store keeps sessions. Implementations are safe for concurrent use. Every
// method takes the caller's scope; a session of another scope is not found.
type Store interface {
	// Load returns the stored messages (oldest first) and the metadata, and
	// restarts the idle TTL. ErrNotFound when there is no such session.
	Load(ctx context.Context, scope, id string) ([]openai.Message, Session, error)
	// Stat is Load without the messages (it restarts the TTL too).
	Stat(ctx context.Context, scope, id string) (Session, error)
	// Append adds msgs at the end of the session in one atomic step,
	// creating the session if it does not exist. With expectedVersion
	// AnyVersion it always succeeds; otherwise it fails with ErrConflict
	// unless the session exists at exactly that version. Two overlapping
	// appends both land, each contiguous, in commit order.
	Append(ctx context.Context, scope, id string, expectedVersion int64, msgs ...openai.Message) (Session, error)
	// Reset empties the session (messages and summary) but keeps it (id,
	// creation time); a new version. ErrNotFound when there is none.
	Reset(ctx context.Context, scope, id string) (Session, error)
	// Delete erases the session and its index entry; it reports whether it
	// existed. Deleting a missing session is not an error.
	Delete(ctx context.Context, scope, id string) (bool, error)
	// List returns up to limit sessions of scope, most recently accessed
	// first, and the cursor of the next page ("" when there is none). Pass
	// "" for the first page.
	List(ctx context.Context, scope, cursor string, limit int) ([]Session, string, error)
	// SetSummary replaces the oldest replaced messages with summary (which
	// must stand for them and for any previous summary), if the session has
	// only been appended to since expectedVersion (the version the
	// summarizer read). A Reset, another SetSummary, or a Delete and
	// re-creation since then is ErrConflict, and nothing changes: the
	// summary would describe messages that are no longer the oldest.
	// Messages appended meanwhile are kept after the remaining ones.
	SetSummary(ctx context.Context, scope, id, summary string, replaced int, expectedVersion int64) (Session, error)
}

// Options are common to the stores.
type Options struct {
	// TTL is the idle time after which a session expires; every access
	// restarts it. Default 24h.
	TTL time.Duration
	// Estimator counts the tokens reported in Session.Tokens. Default
	// usage.Heuristic{} (no vocabulary to load).
	Estimator usage.Estimator
	// Model is the model name the Estimator counts for (it picks the
	// tokenizer); the count is only an estimate for any other model.
	Model string
}

// DefaultTTL is the idle TTL of a store that sets none.
const DefaultTTL = 24 * time.Hour

func (o Options) withDefaults() Options {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Estimator == nil {
		o.Estimator = usage.Heuristic{}
	}
	return o
}

// MaxIDLen is the longest session id.
const MaxIDLen = 128

// ValidID reports whether id is 1-128 characters from [A-Za-z0-9._:-].
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func check(scope, id string) error {
	if scope == "" {
		return ErrNoScope
	}
	if !ValidID(id) {
		return ErrInvalidID
	}
	return nil
}

// encoded is one message ready to store: its JSON, its estimated tokens and
// whether it starts a turn (a user message).
type encoded struct {
	raw    []byte
	tokens int
	user   bool
}

func encodeAll(est usage.Estimator, model string, msgs []openai.Message) ([]encoded, error) {
	out := make([]encoded, len(msgs))
	prime := est.CountMessages(model, nil)
	for i := range msgs {
		b, err := json.Marshal(&msgs[i])
		if err != nil {
			return nil, fmt.Errorf("session: encode message %d: %w", i, err)
		}
		out[i] = encoded{raw: b, tokens: messageTokens(est, model, &msgs[i], prime), user: msgs[i].Role == "user"}
	}
	return out, nil
}

// firstVersion is the version of a new session: random in [1, 2^52), exact
// in Lua's numbers, so that versions of two lives of one id do not meet.
func firstVersion() int64 { return 1 + rand.Int64N(1<<52-1) }

// cloneMessage deep-copies a message, so that a caller may modify what a
// store gives it. It copies every reference field of openai.Message; a new
// one must be added here (TestCloneMessage checks by reflection).
func cloneMessage(src *openai.Message) openai.Message {
	m := *src
	if m.Content != nil {
		c := *m.Content
		if c.Parts != nil {
			c.Parts = slices.Clone(c.Parts)
			for i := range c.Parts {
				p := &c.Parts[i]
				if p.ImageURL != nil {
					v := *p.ImageURL
					p.ImageURL = &v
				}
				if p.InputAudio != nil {
					v := *p.InputAudio
					p.InputAudio = &v
				}
				if p.File != nil {
					v := *p.File
					p.File = &v
				}
				p.CacheControl = bytes.Clone(p.CacheControl)
			}
		}
		m.Content = &c
	}
	m.ToolCalls = slices.Clone(m.ToolCalls)
	m.ThinkingBlocks = slices.Clone(m.ThinkingBlocks)
	return m
}
