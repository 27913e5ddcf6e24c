// Package bedrock holds the wire types of the AWS Bedrock Runtime Converse API: the
// request and response of POST /model/{modelId}/converse, the JSON payloads of the
// ConverseStream events (carried in binary event-stream frames) and error bodies.
package bedrock

import "encoding/json"

// Request is the body of Converse and ConverseStream.
type Request struct {
	Messages                     []Message        `json:"messages"`
	System                       []SystemBlock    `json:"system,omitempty"`
	InferenceConfig              *InferenceConfig `json:"inferenceConfig,omitempty"`
	ToolConfig                   *ToolConfig      `json:"toolConfig,omitempty"`
	AdditionalModelRequestFields json.RawMessage  `json:"additionalModelRequestFields,omitempty"`
}

// Roles of a message.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one turn. Converse rejects empty content and two turns of the same role in a row.
type Message struct {
	Role    string         `json:"role"`
	Content []ContentBlock `json:"content"`
}

// ContentBlock is one block of a message; exactly one field is set.
type ContentBlock struct {
	Text             string                 `json:"text,omitempty"`
	Image            *ImageBlock            `json:"image,omitempty"`
	Document         *DocumentBlock         `json:"document,omitempty"`
	ToolUse          *ToolUseBlock          `json:"toolUse,omitempty"`
	ToolResult       *ToolResultBlock       `json:"toolResult,omitempty"`
	ReasoningContent *ReasoningContentBlock `json:"reasoningContent,omitempty"`
	CachePoint       *CachePoint            `json:"cachePoint,omitempty"`
}

// ImageBlock is an image given as bytes (base64 in JSON): Converse takes no URLs.
type ImageBlock struct {
	Format string      `json:"format"` // png, jpeg, gif, webp
	Source ImageSource `json:"source"`
}

// ImageSource holds base64 bytes.
type ImageSource struct {
	Bytes string `json:"bytes"`
}

// DocumentBlock is a document given as bytes.
type DocumentBlock struct {
	Format string      `json:"format"` // pdf, csv, doc, docx, xls, xlsx, html, txt, md
	Name   string      `json:"name"`
	Source ImageSource `json:"source"`
}

// ToolUseBlock is a tool call by the model; Input is a JSON object.
type ToolUseBlock struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

// ToolResultBlock is the result of a tool call.
type ToolResultBlock struct {
	ToolUseID string              `json:"toolUseId"`
	Content   []ToolResultContent `json:"content"`
	Status    string              `json:"status,omitempty"` // success, error
}

// ToolResultContent is text or JSON. Text is a pointer so that an empty result is sent as
// {"text":""} rather than {}.
type ToolResultContent struct {
	Text *string         `json:"text,omitempty"`
	JSON json.RawMessage `json:"json,omitempty"`
}

// ReasoningContentBlock is a model's reasoning (Claude thinking) to send back verbatim.
type ReasoningContentBlock struct {
	ReasoningText   *ReasoningText `json:"reasoningText,omitempty"`
	RedactedContent string         `json:"redactedContent,omitempty"` // base64
}

// ReasoningText is reasoning text with its signature.
type ReasoningText struct {
	Text      string `json:"text"`
	Signature string `json:"signature,omitempty"`
}

// CachePoint marks a prompt-cache breakpoint.
type CachePoint struct {
	Type string `json:"type"` // default
}

// SystemBlock is one system prompt block.
type SystemBlock struct {
	Text       string      `json:"text,omitempty"`
	CachePoint *CachePoint `json:"cachePoint,omitempty"`
}

// InferenceConfig holds the common sampling parameters.
type InferenceConfig struct {
	MaxTokens     *int     `json:"maxTokens,omitempty"`
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

// ToolConfig declares tools and how the model must use them.
type ToolConfig struct {
	Tools      []Tool      `json:"tools"`
	ToolChoice *ToolChoice `json:"toolChoice,omitempty"`
}

// Tool is one tool.
type Tool struct {
	ToolSpec *ToolSpec `json:"toolSpec,omitempty"`
}

// ToolSpec declares a function tool.
type ToolSpec struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	InputSchema InputSchema `json:"inputSchema"`
}

// InputSchema wraps a JSON Schema.
type InputSchema struct {
	JSON json.RawMessage `json:"json"`
}

// Empty is the {} of a union member without fields.
type Empty struct{}

// ToolChoice is {auto:{}}, {any:{}} or {tool:{name}}.
type ToolChoice struct {
	Auto *Empty        `json:"auto,omitempty"`
	Any  *Empty        `json:"any,omitempty"`
	Tool *SpecificTool `json:"tool,omitempty"`
}

// SpecificTool names the tool the model must call.
type SpecificTool struct {
	Name string `json:"name"`
}

// Response is a Converse answer.
type Response struct {
	Output     *Output         `json:"output,omitempty"`
	StopReason string          `json:"stopReason"`
	Usage      *Usage          `json:"usage,omitempty"`
	Metrics    *Metrics        `json:"metrics,omitempty"`
	Additional json.RawMessage `json:"additionalModelResponseFields,omitempty"`
}

// Output holds the answer message.
type Output struct {
	Message *Message `json:"message,omitempty"`
}

// Stop reasons.
const (
	StopEndTurn              = "end_turn"
	StopToolUse              = "tool_use"
	StopMaxTokens            = "max_tokens"
	StopStopSequence         = "stop_sequence"
	StopGuardrailIntervened  = "guardrail_intervened"
	StopContentFiltered      = "content_filtered"
	StopMalformedModelOutput = "malformed_model_output"
	StopMalformedToolUse     = "malformed_tool_use"
	StopContextWindow        = "model_context_window_exceeded"
)

// Usage counts tokens; InputTokens excludes the cache reads and writes.
type Usage struct {
	InputTokens           int `json:"inputTokens"`
	OutputTokens          int `json:"outputTokens"`
	TotalTokens           int `json:"totalTokens"`
	CacheReadInputTokens  int `json:"cacheReadInputTokens,omitempty"`
	CacheWriteInputTokens int `json:"cacheWriteInputTokens,omitempty"`
}

// Metrics reports the latency.
type Metrics struct {
	LatencyMs int64 `json:"latencyMs"`
}

// Event-stream header names and values of ConverseStream.
const (
	HeaderMessageType   = ":message-type"
	HeaderEventType     = ":event-type"
	HeaderExceptionType = ":exception-type"
	HeaderContentType   = ":content-type"
	HeaderErrorCode     = ":error-code"
	HeaderErrorMessage  = ":error-message"

	MessageTypeEvent     = "event"
	MessageTypeException = "exception"
	MessageTypeError     = "error"
)

// Stream event types.
const (
	EventMessageStart      = "messageStart"
	EventContentBlockStart = "contentBlockStart"
	EventContentBlockDelta = "contentBlockDelta"
	EventContentBlockStop  = "contentBlockStop"
	EventMessageStop       = "messageStop"
	EventMetadata          = "metadata"
)

// Stream exception types (lower camel case in frames; the same names capitalized in the
// x-amzn-errortype header of a non-stream error).
const (
	ExceptionInternalServer     = "internalServerException"
	ExceptionModelStreamError   = "modelStreamErrorException"
	ExceptionValidation         = "validationException"
	ExceptionThrottling         = "throttlingException"
	ExceptionServiceUnavailable = "serviceUnavailableException"
	ExceptionModelTimeout       = "modelTimeoutException"
)

// MessageStartEvent opens the answer.
type MessageStartEvent struct {
	Role string `json:"role"`
}

// ContentBlockStartEvent opens a tool-use block (text blocks may have none).
type ContentBlockStartEvent struct {
	ContentBlockIndex int                `json:"contentBlockIndex"`
	Start             *ContentBlockStart `json:"start,omitempty"`
}

// ContentBlockStart names the block's tool call.
type ContentBlockStart struct {
	ToolUse *ToolUseBlockStart `json:"toolUse,omitempty"`
}

// ToolUseBlockStart is the id and name of a tool call.
type ToolUseBlockStart struct {
	ToolUseID string `json:"toolUseId"`
	Name      string `json:"name"`
}

// ContentBlockDeltaEvent adds to a block.
type ContentBlockDeltaEvent struct {
	ContentBlockIndex int                `json:"contentBlockIndex"`
	Delta             *ContentBlockDelta `json:"delta,omitempty"`
}

// ContentBlockDelta is text, a fragment of tool input JSON, or reasoning.
type ContentBlockDelta struct {
	Text             *string                     `json:"text,omitempty"`
	ToolUse          *ToolUseBlockDelta          `json:"toolUse,omitempty"`
	ReasoningContent *ReasoningContentBlockDelta `json:"reasoningContent,omitempty"`
}

// ToolUseBlockDelta is a fragment of the input JSON.
type ToolUseBlockDelta struct {
	Input string `json:"input"`
}

// ReasoningContentBlockDelta is reasoning text, its signature or redacted content.
type ReasoningContentBlockDelta struct {
	Text            *string `json:"text,omitempty"`
	Signature       string  `json:"signature,omitempty"`
	RedactedContent string  `json:"redactedContent,omitempty"`
}

// ContentBlockStopEvent closes a block.
type ContentBlockStopEvent struct {
	ContentBlockIndex int `json:"contentBlockIndex"`
}

// MessageStopEvent ends the answer.
type MessageStopEvent struct {
	StopReason                    string          `json:"stopReason"`
	AdditionalModelResponseFields json.RawMessage `json:"additionalModelResponseFields,omitempty"`
}

// MetadataEvent carries the usage; it follows messageStop.
type MetadataEvent struct {
	Usage   *Usage   `json:"usage,omitempty"`
	Metrics *Metrics `json:"metrics,omitempty"`
}

// ErrorResponse is the body of an error; its type is in the x-amzn-errortype header
// ("ThrottlingException" or "ThrottlingException:http://internal.amazon.com/...").
type ErrorResponse struct {
	Message string `json:"message"`
}

// HeaderErrorType is the header naming the error type of a non-stream error.
const HeaderErrorType = "X-Amzn-Errortype"

// HeaderRequestID is the request id header, used as the response id.
const HeaderRequestID = "X-Amzn-Requestid"
