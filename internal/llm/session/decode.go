package session

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// storedMessage mirrors openai.Message (same fields, same JSON names; a test
// keeps them in step) with the content left raw. openai.Content's own
// UnmarshalJSON decodes a string content with a second json.Unmarshal,
// which validates it again; here a plain string (no escapes, the common
// case) becomes a string in one pass. Decoding a stored 20-turn session is
// most of a Redis Load, so this pays.
type storedMessage struct {
	Role             string                 `json:"role"`
	Content          json.RawMessage        `json:"content,omitempty"`
	Name             string                 `json:"name,omitempty"`
	ToolCalls        []openai.ToolCall      `json:"tool_calls,omitempty"`
	ToolCallID       string                 `json:"tool_call_id,omitempty"`
	Refusal          string                 `json:"refusal,omitempty"`
	ReasoningContent string                 `json:"reasoning_content,omitempty"`
	ThinkingBlocks   []openai.ThinkingBlock `json:"thinking_blocks,omitempty"`
}

func decodeMessage(b []byte, m *openai.Message) error {
	var s storedMessage
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("session: decode stored message: %w", err)
	}
	*m = openai.Message{Role: s.Role, Name: s.Name, ToolCalls: s.ToolCalls, ToolCallID: s.ToolCallID,
		Refusal: s.Refusal, ReasoningContent: s.ReasoningContent, ThinkingBlocks: s.ThinkingBlocks}
	if len(s.Content) == 0 {
		return nil
	}
	if text, ok := plainString(s.Content); ok {
		m.Content = &openai.Content{Text: text}
		return nil
	}
	m.Content = new(openai.Content)
	if err := json.Unmarshal(s.Content, m.Content); err != nil {
		return fmt.Errorf("session: decode stored message content: %w", err)
	}
	if m.Content.Parts == nil && m.Content.Text == "" && s.Content[0] == 'n' {
		m.Content = nil // null
	}
	return nil
}

// plainString returns the text of a JSON string without escapes (already
// validated by the decoder that delimited it).
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", false
		}
	}
	if !utf8.Valid(body) {
		return "", false // the decoder replaces invalid bytes with U+FFFD
	}
	return string(body), true
}
