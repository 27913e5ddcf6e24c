// Package session keeps server-side conversations for the LLM gateway: a
// client sends a session id and only its new turn; the gateway loads the
// stored history, fits it to the model's context window (Fit), sends
// history + turn upstream, and appends the turn and the reply (Store.Append)
// once the call completes.
//
// A session is identified by (scope, id). The scope is an opaque string the
// caller derives from the authenticated tenant and key; every operation takes
// it, and a session made under one scope does not exist for another: the same
// id under another scope is another session, and a lookup finds
// ErrNotFound, never an error that would reveal the other scope's session.
//
// Two Store implementations share one set of tests:
//
//   - Memory: in process, bounded by sessions and bytes (least recently
//     used out first), sliding idle TTL.
//   - Redis: shared by every node, one Lua script per operation, sliding TTL
//     on every key of a session, a per-scope index for listing.
//
// Concurrency: Append adds its messages at the end of the session in one
// atomic step, so two calls that overlap on one session both keep their
// (user turn, reply) pair, each pair contiguous, in the order the appends
// commit. SetSummary is optimistic: it replaces the oldest messages with a
// summary only if no Reset or other summary happened since the version the
// summarizer read; appends made meanwhile are kept. MaybeSummarize runs that
// cycle off the request path.
//
// docs/sessions.md describes the headers, the scoping, the Redis layout, the
// trimming rules and the guarantees.
package session
