// Package openai holds the wire types of the OpenAI API that Pylon serves to clients and
// speaks to OpenAI-family upstreams: chat completions (request, response, stream chunks),
// legacy completions, embeddings, models and errors.
//
// The chat types are also Pylon's canonical form of an LLM call: every client dialect is
// parsed into a ChatRequest, every provider answer is decoded into a ChatResponse or a
// sequence of ChatChunks, and the client dialect's encoder writes them back. A few fields
// that OpenAI lacks but other providers need to round-trip (reasoning text, thinking
// signatures, cache-write tokens) are extensions, marked as such and never sent to OpenAI.
package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ChatRequest is the body of POST /v1/chat/completions.
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          *ToolChoice     `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      *ResponseFormat `json:"response_format,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	N                   *int            `json:"n,omitempty"`
	Stop                *Stop           `json:"stop,omitempty"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	Seed                *int64          `json:"seed,omitempty"`
	User                string          `json:"user,omitempty"`
	PresencePenalty     *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty,omitempty"`
	Logprobs            *bool           `json:"logprobs,omitempty"`
	TopLogprobs         *int            `json:"top_logprobs,omitempty"`
	LogitBias           json.RawMessage `json:"logit_bias,omitempty"`
	ReasoningEffort     string          `json:"reasoning_effort,omitempty"`
	Metadata            json.RawMessage `json:"metadata,omitempty"`

	// TopK is an extension (Anthropic, Gemini, several compatible servers).
	TopK *int `json:"top_k,omitempty"`
	// Thinking is an extension: Anthropic's thinking configuration ({"type":"enabled",
	// "budget_tokens":N}, {"type":"adaptive"}...), kept as is from an Anthropic client and
	// sent as is to Anthropic upstreams. Other adapters ignore it.
	Thinking json.RawMessage `json:"thinking,omitempty"`

	// Raw is the client's body when the client spoke OpenAI: an OpenAI-family upstream gets
	// it with only the model (and stream options) patched, so that fields Pylon does not
	// model pass through untouched.
	Raw []byte `json:"-"`
}

// MaxOutput returns max_completion_tokens, else max_tokens, else 0.
func (r *ChatRequest) MaxOutput() int {
	if r.MaxCompletionTokens != nil {
		return *r.MaxCompletionTokens
	}
	if r.MaxTokens != nil {
		return *r.MaxTokens
	}
	return 0
}

// IncludeUsage reports whether the client asked for the usage chunk of a stream.
func (r *ChatRequest) IncludeUsage() bool {
	return r.StreamOptions != nil && r.StreamOptions.IncludeUsage
}

// Message is one turn of a conversation.
type Message struct {
	Role       string     `json:"role"`
	Content    *Content   `json:"content,omitempty"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	Refusal    string     `json:"refusal,omitempty"`

	// ReasoningContent is an extension (DeepSeek, vLLM, Anthropic thinking as text).
	ReasoningContent string `json:"reasoning_content,omitempty"`
	// ThinkingBlocks is an extension carrying Anthropic thinking blocks with their
	// signatures, so that they can be sent back on the next turn.
	ThinkingBlocks []ThinkingBlock `json:"thinking_blocks,omitempty"`
}

// ThinkingBlock is an Anthropic thinking or redacted_thinking block (extension).
type ThinkingBlock struct {
	Type      string `json:"type"`
	Thinking  string `json:"thinking,omitempty"`
	Signature string `json:"signature,omitempty"`
	Data      string `json:"data,omitempty"`
}

// Content is a message's content: a string, or an array of parts.
type Content struct {
	Text  string
	Parts []Part // non-nil when the wire form was an array
}

// TextContent returns content holding s.
func TextContent(s string) *Content { return &Content{Text: s} }

// IsParts reports whether the content is an array of parts.
func (c *Content) IsParts() bool { return c != nil && c.Parts != nil }

// String returns the text of the content: the string form, or its text parts concatenated.
func (c *Content) String() string {
	if c == nil {
		return ""
	}
	if c.Parts == nil {
		return c.Text
	}
	var n int
	for i := range c.Parts {
		n += len(c.Parts[i].Text)
	}
	b := make([]byte, 0, n)
	for i := range c.Parts {
		if c.Parts[i].Type == "text" {
			b = append(b, c.Parts[i].Text...)
		}
	}
	return string(b)
}

// UnmarshalJSON accepts a string, an array of parts, or null.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return errors.New("empty content")
	}
	switch b[0] {
	case '"':
		c.Parts = nil
		return json.Unmarshal(b, &c.Text)
	case '[':
		c.Parts = []Part{}
		return json.Unmarshal(b, &c.Parts)
	case 'n':
		*c = Content{}
		return nil
	}
	return errors.New("content must be a string or an array of content parts")
}

// MarshalJSON writes the form the content was read in.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.Parts != nil {
		return json.Marshal(c.Parts)
	}
	return json.Marshal(c.Text)
}

// Part is one content part.
type Part struct {
	Type       string      `json:"type"`
	Text       string      `json:"text,omitempty"`
	ImageURL   *ImageURL   `json:"image_url,omitempty"`
	InputAudio *InputAudio `json:"input_audio,omitempty"`
	File       *File       `json:"file,omitempty"`
	Refusal    string      `json:"refusal,omitempty"`

	// CacheControl is an extension: Anthropic's cache_control of the block this part comes
	// from or goes to ({"type":"ephemeral"}). Only the Anthropic adapter sends it.
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// ImageURL is an https URL or a data: URI.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// InputAudio is base64 audio.
type InputAudio struct {
	Data   string `json:"data"`
	Format string `json:"format"`
}

// File is an uploaded file reference or inline file data.
type File struct {
	FileID   string `json:"file_id,omitempty"`
	FileData string `json:"file_data,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// ToolCall is an assistant's call of a function tool.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// FunctionCall names the function and carries its arguments as a JSON string.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// Tool is a function the model may call.
type Tool struct {
	Type     string   `json:"type"`
	Function Function `json:"function"`

	// CacheControl is an extension: Anthropic's cache_control of the tool (see Part).
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// Function declares a tool's name, description and JSON-Schema parameters.
type Function struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolChoice is "none", "auto", "required", or a named function.
type ToolChoice struct {
	Mode     string // none, auto, required; "" when Function is set
	Function string // the named function
}

// UnmarshalJSON accepts the string and the object forms.
func (t *ToolChoice) UnmarshalJSON(b []byte) error {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) > 0 && b[0] == '"' {
		*t = ToolChoice{}
		if err := json.Unmarshal(b, &t.Mode); err != nil {
			return err
		}
		switch t.Mode {
		case "none", "auto", "required":
			return nil
		}
		return fmt.Errorf("unknown tool_choice %q: want none, auto, required or an object", t.Mode)
	}
	var o struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return errors.New("tool_choice must be a string or an object")
	}
	if o.Function.Name == "" {
		return errors.New("tool_choice.function.name is required")
	}
	*t = ToolChoice{Function: o.Function.Name}
	return nil
}

// MarshalJSON writes the string or the object form.
func (t ToolChoice) MarshalJSON() ([]byte, error) {
	if t.Function != "" {
		return json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": t.Function}})
	}
	return json.Marshal(t.Mode)
}

// ResponseFormat asks for text, any JSON object, or JSON matching a schema.
type ResponseFormat struct {
	Type       string      `json:"type"`
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
}

// JSONSchema is a named schema for structured output.
type JSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// Stop is one stop sequence or several.
type Stop []string

// UnmarshalJSON accepts a string or an array of strings.
func (s *Stop) UnmarshalJSON(b []byte) error {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = Stop{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("stop must be a string or an array of strings")
	}
	*s = many
	return nil
}

// StreamOptions tunes a stream.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// ChatResponse is a non-streamed chat completion.
type ChatResponse struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	SystemFingerprint string   `json:"system_fingerprint,omitempty"`
	Choices           []Choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`

	// Raw is the provider's body when the provider spoke OpenAI: an OpenAI client gets it
	// as it came, so that fields Pylon does not model pass through untouched.
	Raw []byte `json:"-"`
}

// Decode completes a response that an adapter left raw (only Raw and Usage set, because
// an OpenAI client may get Raw as it is): it parses Raw into the other fields.
func (r *ChatResponse) Decode() error {
	if r.Choices != nil || r.Raw == nil {
		return nil
	}
	raw := r.Raw
	if err := json.Unmarshal(raw, r); err != nil {
		return fmt.Errorf("openai: decode chat completion: %w", err)
	}
	r.Raw = raw
	return nil
}

// Choice is one completion of a non-streamed response.
type Choice struct {
	Index        int             `json:"index"`
	Message      Message         `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
	FinishReason string          `json:"finish_reason"`
}

// Usage counts tokens as OpenAI does: prompt includes cached tokens, completion includes
// reasoning tokens, total is their sum.
type Usage struct {
	PromptTokens            int                      `json:"prompt_tokens"`
	CompletionTokens        int                      `json:"completion_tokens"`
	TotalTokens             int                      `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
}

// PromptTokensDetails splits the prompt tokens.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
	AudioTokens  int `json:"audio_tokens,omitempty"`
	// CacheCreationTokens (cache_write_tokens) counts tokens written to the provider's
	// prompt cache (Anthropic, Bedrock report them), billed above the input price.
	CacheCreationTokens int `json:"cache_write_tokens,omitempty"`
}

// CompletionTokensDetails splits the completion tokens.
type CompletionTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
	AudioTokens     int `json:"audio_tokens,omitempty"`
}

// Cached returns the cached prompt tokens.
func (u *Usage) Cached() int {
	if u == nil || u.PromptTokensDetails == nil {
		return 0
	}
	return u.PromptTokensDetails.CachedTokens
}

// CacheWrite returns the cache-creation tokens.
func (u *Usage) CacheWrite() int {
	if u == nil || u.PromptTokensDetails == nil {
		return 0
	}
	return u.PromptTokensDetails.CacheCreationTokens
}

// Reasoning returns the reasoning tokens.
func (u *Usage) Reasoning() int {
	if u == nil || u.CompletionTokensDetails == nil {
		return 0
	}
	return u.CompletionTokensDetails.ReasoningTokens
}

// ChatChunk is one event of a streamed chat completion.
type ChatChunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	SystemFingerprint string        `json:"system_fingerprint,omitempty"`
	Choices           []ChunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage,omitempty"`

	// Raw is the provider's event data when the provider spoke OpenAI (see ChatResponse.Raw).
	Raw []byte `json:"-"`
}

// Lazy reports whether an adapter left the chunk undecoded: Raw is set and the other
// fields are not, because an OpenAI client gets Raw as it is. Decode completes it.
func (c *ChatChunk) Lazy() bool { return c.Raw != nil && c.Choices == nil }

// Decode completes a lazy chunk.
func (c *ChatChunk) Decode() error {
	if !c.Lazy() {
		return nil
	}
	raw := c.Raw
	if err := json.Unmarshal(raw, c); err != nil {
		return fmt.Errorf("openai: decode chat chunk: %w", err)
	}
	c.Raw = raw
	if c.Choices == nil {
		c.Choices = []ChunkChoice{}
	}
	return nil
}

// ChunkChoice is one choice's delta in a chunk.
type ChunkChoice struct {
	Index        int             `json:"index"`
	Delta        Delta           `json:"delta"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
	FinishReason *string         `json:"finish_reason"`
}

// Delta is what a chunk adds to a choice.
type Delta struct {
	Role      string          `json:"role,omitempty"`
	Content   *string         `json:"content,omitempty"`
	Refusal   *string         `json:"refusal,omitempty"`
	ToolCalls []ToolCallDelta `json:"tool_calls,omitempty"`

	// ReasoningContent is an extension (see Message).
	ReasoningContent *string `json:"reasoning_content,omitempty"`
	// ThinkingSignature is an extension carrying an Anthropic thinking signature.
	ThinkingSignature string `json:"thinking_signature,omitempty"`
}

// ToolCallDelta is a fragment of a tool call: id, type and name come in the first
// fragment of each call, arguments fragments follow and are concatenated.
type ToolCallDelta struct {
	Index    int               `json:"index"`
	ID       string            `json:"id,omitempty"`
	Type     string            `json:"type,omitempty"`
	Function FunctionCallDelta `json:"function"`
}

// FunctionCallDelta is a fragment of a function call.
type FunctionCallDelta struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Finish reasons.
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishToolCalls     = "tool_calls"
	FinishContentFilter = "content_filter"
)

// Ptr returns a pointer to v, for the optional fields of the wire types.
func Ptr[T any](v T) *T { return &v }
