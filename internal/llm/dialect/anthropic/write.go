package anthropic

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/anthropic"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// WriteChat writes a canonical answer as an Anthropic message. The model is the one the
// client asked for (req.Model, as ParseChat read it), so that clients see the name they
// used whatever target served them.
func (Dialect) WriteChat(w http.ResponseWriter, resp *openai.ChatResponse, req *openai.ChatRequest) error {
	m := ConvertResponse(resp, clientModel(req, resp.Model))
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}

func clientModel(req *openai.ChatRequest, fallback string) string {
	if req != nil && req.Model != "" {
		return req.Model
	}
	return fallback
}

// ConvertResponse maps a canonical answer (its first choice) to an Anthropic message.
func ConvertResponse(resp *openai.ChatResponse, model string) *anthropic.MessagesResponse {
	m := &anthropic.MessagesResponse{ID: MessageID(resp.ID), Type: "message", Role: "assistant", Model: model, Content: []anthropic.Block{}}
	finish := ""
	if len(resp.Choices) > 0 {
		ch := &resp.Choices[0]
		msg := &ch.Message
		finish = ch.FinishReason
		switch {
		case len(msg.ThinkingBlocks) > 0:
			for _, tb := range msg.ThinkingBlocks {
				if tb.Type == "redacted_thinking" {
					m.Content = append(m.Content, anthropic.Block{Type: "redacted_thinking", Data: tb.Data})
				} else {
					m.Content = append(m.Content, anthropic.Block{Type: "thinking", Thinking: tb.Thinking, Signature: tb.Signature})
				}
			}
		case msg.ReasoningContent != "":
			m.Content = append(m.Content, anthropic.Block{Type: "thinking", Thinking: msg.ReasoningContent})
		}
		if t := msg.Content.String(); t != "" {
			m.Content = append(m.Content, anthropic.Block{Type: "text", Text: t})
		} else if msg.Refusal != "" {
			m.Content = append(m.Content, anthropic.Block{Type: "text", Text: msg.Refusal})
		}
		for _, tc := range msg.ToolCalls {
			m.Content = append(m.Content, anthropic.Block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: toolInput(tc.Function.Arguments)})
		}
	}
	m.StopReason = StopReason(finish, hasToolUse(m.Content))
	if u := resp.Usage; u != nil {
		m.Usage = ConvertUsage(u)
	}
	return m
}

func hasToolUse(bs []anthropic.Block) bool {
	for i := range bs {
		if bs[i].Type == "tool_use" {
			return true
		}
	}
	return false
}

// toolInput returns tool_use input from an arguments string: an object as is, {} for empty
// or malformed arguments (an Anthropic client requires an object).
func toolInput(args string) json.RawMessage {
	t := strings.TrimSpace(args)
	if t == "" {
		return json.RawMessage("{}")
	}
	if t[0] != '{' || !json.Valid([]byte(t)) {
		slog.Warn("anthropic dialect: tool call arguments are not a JSON object, sent as {}", "arguments_len", len(args))
		return json.RawMessage("{}")
	}
	return json.RawMessage(t)
}

// StopReason maps a finish_reason to a stop_reason. A turn with tool calls is tool_use
// whatever the upstream said: Anthropic clients run tools only on tool_use.
func StopReason(finish string, toolCalls bool) string {
	if toolCalls {
		return anthropic.StopToolUse
	}
	switch finish {
	case openai.FinishLength:
		return anthropic.StopMaxTokens
	case openai.FinishToolCalls, "function_call":
		return anthropic.StopToolUse
	case openai.FinishContentFilter:
		return anthropic.StopRefusal
	}
	return anthropic.StopEndTurn
}

// ConvertUsage maps OpenAI usage to Anthropic's: input_tokens excludes cache reads and
// writes.
func ConvertUsage(u *openai.Usage) anthropic.Usage {
	cached, write := u.Cached(), u.CacheWrite()
	return anthropic.Usage{
		InputTokens:              max(u.PromptTokens-cached-write, 0),
		OutputTokens:             u.CompletionTokens,
		CacheReadInputTokens:     cached,
		CacheCreationInputTokens: write,
	}
}

// MessageID returns an Anthropic message id for a canonical response id: a msg_ id is
// kept, another id is rewritten as msg_<id>, and a missing one is made up.
func MessageID(id string) string {
	switch {
	case strings.HasPrefix(id, "msg_"):
		return id
	case id == "":
		var b [12]byte
		_, _ = rand.Read(b[:])
		return "msg_" + hex.EncodeToString(b[:])
	}
	id = strings.TrimPrefix(id, "chatcmpl-")
	return "msg_" + id
}

// WriteCountTokens answers POST /v1/messages/count_tokens.
func (Dialect) WriteCountTokens(w http.ResponseWriter, inputTokens int) error {
	b, _ := json.Marshal(anthropic.CountTokensResponse{InputTokens: inputTokens})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	return err
}

// ErrorType returns the status and Anthropic error type a client sees for e.
//
// The status is the kind's (llm.Kind.Status), so that metrics and logs agree across
// dialects; in particular an overload is 503 overloaded_error, not Anthropic's own 529
// (providers.md §4.4: 503 + retry-after; Anthropic SDKs retry both). A provider refusing
// Pylon's credential (Authentication or Permission with Upstream set) is 502 api_error: the
// client's key was fine and must not be rotated. A quota is 429 rate_limit_error with
// x-should-retry: false (see WriteError).
func ErrorType(e *llm.Error) (int, string) {
	switch e.Kind {
	case llm.KindInvalidRequest:
		return 400, "invalid_request_error"
	case llm.KindAuthentication:
		if e.Upstream != 0 {
			return 502, "api_error"
		}
		return 401, "authentication_error"
	case llm.KindPermission:
		if e.Upstream != 0 {
			return 502, "api_error"
		}
		return 403, "permission_error"
	case llm.KindNotFound:
		return 404, "not_found_error"
	case llm.KindTooLarge:
		return 413, "request_too_large"
	case llm.KindRateLimit, llm.KindQuota:
		return 429, "rate_limit_error"
	case llm.KindOverloaded:
		return 503, "overloaded_error"
	case llm.KindTimeout:
		return 504, "timeout_error"
	case llm.KindUpstream:
		return 502, "api_error"
	}
	return 500, "api_error"
}

// errorMessage is the message a client reads: a provider's refusal of Pylon's credential
// says so rather than blaming the client's key.
func errorMessage(e *llm.Error) string {
	if (e.Kind == llm.KindAuthentication || e.Kind == llm.KindPermission) && e.Upstream != 0 {
		return "the upstream provider rejected the gateway's credentials: " + e.Message
	}
	return e.Message
}

// errorBody encodes {"type":"error","error":{...},"request_id"?}.
func errorBody(typ, msg, requestID string) []byte {
	b, _ := json.Marshal(anthropic.ErrorResponse{Type: "error", Error: anthropic.ErrorBody{Type: typ, Message: msg}, RequestID: requestID})
	return b
}

// WriteError writes an Anthropic error answer. The request id, when the gateway has set a
// request-id (or x-request-id) response header, is repeated in the body. Rate limits and
// overload carry retry-after (at least 1 second); a quota says x-should-retry: false.
func (Dialect) WriteError(w http.ResponseWriter, e *llm.Error) {
	status, typ := ErrorType(e)
	h := w.Header()
	switch e.Kind {
	case llm.KindRateLimit, llm.KindOverloaded:
		h.Set("Retry-After", e.RetryAfterHeader())
	case llm.KindQuota:
		h.Set("X-Should-Retry", "false")
	}
	rid := h.Get("Request-Id")
	if rid == "" {
		rid = h.Get("X-Request-Id")
	}
	b := errorBody(typ, errorMessage(e), rid)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Del("Content-Encoding")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
