// Package pii finds and replaces personal data and secrets in the text of LLM calls:
// before a prompt leaves for a provider, before anything is stored (sessions, logs), and
// optionally in replies.
//
// A Redactor, built once from a Config, runs detectors (e-mail, phone, payment card,
// IBAN, national ids, IP addresses, API keys and secrets, custom regexps), each a regexp
// behind a cheap prefilter plus a validator (Luhn, mod 97, check letters, net/netip...).
// Each detector masks ("[EMAIL]"), hashes ("[EMAIL:3f2a9c1b]", keyed HMAC-SHA256) or
// swaps the value for a reversible token ("⟦EMAIL_1⟧") kept in the request's Vault.
// RedactChat applies it to a canonical chat request; Restore, RestoreResponse, Restorer,
// ToolArgsRestorer and ChunkRestorer put the originals back in the reply, streamed or
// not; StreamRedactor redacts a streamed reply. See docs/pii.md.
package pii
