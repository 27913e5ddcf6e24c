package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// MaxSemanticText is the longest normalised text (in bytes) the semantic cache embeds. A
// longer question is not looked up semantically: embedding models truncate their input, and
// two long prompts differing only past the cut would look identical.
const MaxSemanticText = 8192

// What the semantic cache compares. Two requests may share a semantic hit only when they are
// the same request but for the wording of their last user message: SemanticScope hashes
// everything else (the caller's scope, the model, the system prompt, the earlier turns, tools,
// generation parameters) into the scope the index searches, so that a different system
// prompt, model or conversation never meets; SemanticText is the last message's text,
// normalised, which is what gets embedded. The hash goes in the scope rather than in the
// embedded text because a scope is an exact partition, while text added to an embedding only
// moves the vector, by an amount no threshold can promise to separate.
//
// The earlier turns count because a follow-up means different things in different
// conversations ("and in French?"). So in practice the semantic cache answers first questions
// and repeated openings; a conversation that differs anywhere earlier is a miss.

// SemanticText returns the text to embed for r: the text of its last message, which must be
// a user message of text only (no image, audio or file part: the embedding would not see
// them), with runs of white space made one space, no space at either end and letters in
// lower case. ok is false when r is not for the semantic cache: no such message, no text, or
// a text longer than MaxSemanticText once normalised.
func SemanticText(r *openai.ChatRequest) (string, bool) {
	if r == nil || len(r.Messages) == 0 {
		return "", false
	}
	m := &r.Messages[len(r.Messages)-1]
	if m.Role != "user" || m.Content == nil {
		return "", false
	}
	var b strings.Builder
	if !m.Content.IsParts() {
		b.Grow(len(m.Content.Text))
		appendNormalized(&b, m.Content.Text)
	} else {
		for i := range m.Content.Parts {
			p := &m.Content.Parts[i]
			if p.Type != "text" {
				return "", false
			}
			appendNormalized(&b, p.Text)
			if b.Len() > MaxSemanticText {
				return "", false
			}
		}
	}
	if b.Len() == 0 || b.Len() > MaxSemanticText {
		return "", false
	}
	return b.String(), true
}

// appendNormalized appends s to b, lower case, its white space runs made one space, keeping
// one space between what b holds and s. Invalid UTF-8 becomes U+FFFD.
func appendNormalized(b *strings.Builder, s string) {
	space := b.Len() > 0
	for _, c := range s {
		if unicode.IsSpace(c) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(c))
	}
}

// SemanticScope returns the scope to search and add r under in a Semantic index: a hash of
// scope (the tenant, the key: whatever must not share answers, as for Key) and of everything
// in r but the text of its last message, and the fields Key ignores (stream, user...).
func SemanticScope(scope string, r *openai.ChatRequest) (string, error) {
	n := stripped(r)
	if len(n.Messages) > 0 {
		n.Messages = slices.Clone(n.Messages)
		last := &n.Messages[len(n.Messages)-1]
		last.Content = nil
	}
	b, err := json.Marshal(&n)
	if err != nil {
		return "", fmt.Errorf("cache: semantic scope: %w", err)
	}
	h := sha256.New()
	h.Write([]byte("semantic\x00"))
	h.Write([]byte(scope))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}
