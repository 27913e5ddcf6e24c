// Package anthropic holds the wire types of Anthropic's Messages API: the request and
// response of POST /v1/messages, the stream events, count_tokens and errors. Pylon serves
// this API to Anthropic SDK clients and speaks it to Anthropic upstreams.
package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Version is the anthropic-version header value Pylon sends.
const Version = "2023-06-01"

// MessagesRequest is the body of POST /v1/messages.
type MessagesRequest struct {
	Model         string          `json:"model"`
	MaxTokens     int             `json:"max_tokens"`
	Messages      []Message       `json:"messages"`
	System        *System         `json:"system,omitempty"`
	Temperature   *float64        `json:"temperature,omitempty"`
	TopP          *float64        `json:"top_p,omitempty"`
	TopK          *int            `json:"top_k,omitempty"`
	StopSequences []string        `json:"stop_sequences,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
	Tools         []Tool          `json:"tools,omitempty"`
	ToolChoice    *ToolChoice     `json:"tool_choice,omitempty"`
	Thinking      json.RawMessage `json:"thinking,omitempty"`
	Metadata      *Metadata       `json:"metadata,omitempty"`
	OutputConfig  json.RawMessage `json:"output_config,omitempty"`
}

// CountTokensRequest is the body of POST /v1/messages/count_tokens.
type CountTokensRequest struct {
	Model    string          `json:"model"`
	Messages []Message       `json:"messages"`
	System   *System         `json:"system,omitempty"`
	Tools    []Tool          `json:"tools,omitempty"`
	Thinking json.RawMessage `json:"thinking,omitempty"`
}

// CountTokensResponse answers count_tokens.
type CountTokensResponse struct {
	InputTokens int `json:"input_tokens"`
}

// Metadata carries the end user's id.
type Metadata struct {
	UserID string `json:"user_id,omitempty"`
}

// System is the system prompt: a string or text blocks.
type System struct {
	Text   string
	Blocks []Block // non-nil when the wire form was an array
}

// UnmarshalJSON accepts a string or an array of text blocks.
func (s *System) UnmarshalJSON(b []byte) error {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) > 0 && b[0] == '"' {
		s.Blocks = nil
		return json.Unmarshal(b, &s.Text)
	}
	s.Blocks = []Block{}
	if err := json.Unmarshal(b, &s.Blocks); err != nil {
		return errors.New("system must be a string or an array of text blocks")
	}
	return nil
}

// MarshalJSON writes the form the system prompt was read in.
func (s System) MarshalJSON() ([]byte, error) {
	if s.Blocks != nil {
		return json.Marshal(s.Blocks)
	}
	return json.Marshal(s.Text)
}

// Message is one turn: role user or assistant, content a string or blocks.
type Message struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
}

// Content is a string or an array of blocks.
type Content struct {
	Text   string
	Blocks []Block // non-nil when the wire form was an array
}

// UnmarshalJSON accepts a string or an array of blocks.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) > 0 && b[0] == '"' {
		c.Blocks = nil
		return json.Unmarshal(b, &c.Text)
	}
	if len(b) == 0 || b[0] != '[' {
		return errors.New("content must be a string or an array of content blocks")
	}
	c.Blocks = []Block{}
	return json.Unmarshal(b, &c.Blocks)
}

// MarshalJSON writes the form the content was read in.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.Blocks != nil {
		return json.Marshal(c.Blocks)
	}
	return json.Marshal(c.Text)
}

// Block is a content block. Type says which fields apply:
// text (Text), image and document (Source), tool_use (ID, Name, Input),
// tool_result (ToolUseID, Content, IsError), thinking (Thinking, Signature),
// redacted_thinking (Data).
type Block struct {
	Type         string          `json:"type"`
	Text         string          `json:"text,omitempty"`
	Source       *Source         `json:"source,omitempty"`
	ID           string          `json:"id,omitempty"`
	Name         string          `json:"name,omitempty"`
	Input        json.RawMessage `json:"input,omitempty"`
	ToolUseID    string          `json:"tool_use_id,omitempty"`
	Content      *Content        `json:"content,omitempty"`
	IsError      bool            `json:"is_error,omitempty"`
	Thinking     string          `json:"thinking,omitempty"`
	Signature    string          `json:"signature,omitempty"`
	Data         string          `json:"data,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
	Citations    json.RawMessage `json:"citations,omitempty"`
}

// Source is where an image or document comes from: base64 data or a URL.
type Source struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

// Tool is a client tool the model may call.
type Tool struct {
	Type         string          `json:"type,omitempty"`
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
	// Strict asks for schema-conforming tool input (structured outputs).
	Strict *bool `json:"strict,omitempty"`
}

// ToolChoice is auto, any, tool (with Name) or none.
type ToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

// MessagesResponse is a non-streamed message.
type MessagesResponse struct {
	ID           string  `json:"id"`
	Type         string  `json:"type"`
	Role         string  `json:"role"`
	Model        string  `json:"model"`
	Content      []Block `json:"content"`
	StopReason   string  `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
	Usage        Usage   `json:"usage"`
}

// Usage counts tokens as Anthropic does: InputTokens excludes cache reads and writes.
type Usage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

// Stop reasons.
const (
	StopEndTurn       = "end_turn"
	StopMaxTokens     = "max_tokens"
	StopStopSequence  = "stop_sequence"
	StopToolUse       = "tool_use"
	StopPauseTurn     = "pause_turn"
	StopRefusal       = "refusal"
	StopContextWindow = "model_context_window_exceeded"
)

// StreamEvent is one event of a streamed message; Type says which fields apply.
type StreamEvent struct {
	Type         string            `json:"type"`
	Message      *MessagesResponse `json:"message,omitempty"`
	Index        *int              `json:"index,omitempty"`
	ContentBlock *Block            `json:"content_block,omitempty"`
	Delta        *EventDelta       `json:"delta,omitempty"`
	Usage        *DeltaUsage       `json:"usage,omitempty"`
	Error        *ErrorBody        `json:"error,omitempty"`
}

// EventDelta is the delta of a content_block_delta (Type text_delta, input_json_delta,
// thinking_delta, signature_delta) or of a message_delta (StopReason, StopSequence).
type EventDelta struct {
	Type         string  `json:"type,omitempty"`
	Text         string  `json:"text,omitempty"`
	PartialJSON  *string `json:"partial_json,omitempty"`
	Thinking     string  `json:"thinking,omitempty"`
	Signature    string  `json:"signature,omitempty"`
	StopReason   string  `json:"stop_reason,omitempty"`
	StopSequence *string `json:"stop_sequence,omitempty"`
}

// DeltaUsage is the cumulative usage of a message_delta; input fields, when present,
// override message_start's.
type DeltaUsage struct {
	OutputTokens             int  `json:"output_tokens"`
	InputTokens              *int `json:"input_tokens,omitempty"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens,omitempty"`
}

// ErrorResponse is Anthropic's error body.
type ErrorResponse struct {
	Type      string    `json:"type"`
	Error     ErrorBody `json:"error"`
	RequestID string    `json:"request_id,omitempty"`
}

// ErrorBody names the error type and says what happened.
type ErrorBody struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}
