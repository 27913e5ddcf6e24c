package anthropic

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/anthropic"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// maxResponse bounds a non-streamed answer.
const maxResponse = 64 << 20

// DecodeChat decodes a non-streamed Anthropic message into a canonical response. The id is
// Anthropic's msg_ id (the same one a stream of the message would carry); the model is the
// one Anthropic reports.
func (a *Adapter) DecodeChat(resp *http.Response, c *llm.Call) (*openai.ChatResponse, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, llm.Errorf(llm.KindUpstream, "anthropic: reading response: %v", err)
	}
	var m anthropic.MessagesResponse
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, llm.Errorf(llm.KindUpstream, "anthropic: malformed response: %v", err)
	}
	if m.Type == "error" {
		return nil, a.DecodeError(resp, body)
	}
	return ConvertResponse(&m, c.Model, time.Now().Unix()), nil
}

// ConvertResponse maps an Anthropic message to a canonical response. model is used when
// the message names none.
func ConvertResponse(m *anthropic.MessagesResponse, model string, created int64) *openai.ChatResponse {
	msg := openai.Message{Role: "assistant"}
	var text strings.Builder
	hasText := false
	for i := range m.Content {
		b := &m.Content[i]
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
			hasText = true
		case "tool_use":
			args := "{}"
			if in := b.Input; len(in) > 0 && string(in) != "null" {
				args = string(in)
			}
			msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: b.ID, Type: "function",
				Function: openai.FunctionCall{Name: b.Name, Arguments: args}})
		case "thinking":
			msg.ReasoningContent += b.Thinking
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, openai.ThinkingBlock{Type: "thinking", Thinking: b.Thinking, Signature: b.Signature})
		case "redacted_thinking":
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, openai.ThinkingBlock{Type: "redacted_thinking", Data: b.Data})
		}
		// server_tool_use, web_search_tool_result...: Anthropic ran them itself; they are
		// not calls for the client to execute, so they are not tool_calls.
	}
	if hasText || len(msg.ToolCalls) == 0 {
		msg.Content = openai.TextContent(text.String())
	}
	if model == "" || m.Model != "" {
		model = m.Model
	}
	return &openai.ChatResponse{
		ID: m.ID, Object: "chat.completion", Created: created, Model: model,
		Choices: []openai.Choice{{Index: 0, Message: msg, FinishReason: FinishReason(m.StopReason)}},
		Usage:   ConvertUsage(m.Usage.InputTokens, m.Usage.OutputTokens, m.Usage.CacheReadInputTokens, m.Usage.CacheCreationInputTokens),
	}
}

// FinishReason maps an Anthropic stop_reason to an OpenAI finish_reason.
func FinishReason(s string) string {
	switch s {
	case anthropic.StopEndTurn, anthropic.StopStopSequence, anthropic.StopPauseTurn, "":
		return openai.FinishStop
	case anthropic.StopMaxTokens, anthropic.StopContextWindow:
		return openai.FinishLength
	case anthropic.StopToolUse:
		return openai.FinishToolCalls
	case anthropic.StopRefusal:
		return openai.FinishContentFilter
	}
	slog.Warn("anthropic: unknown stop_reason, reported as stop", "stop_reason", s)
	return openai.FinishStop
}

// ConvertUsage returns OpenAI usage from Anthropic's counts: the prompt includes cache reads
// and writes, which Anthropic's input_tokens does not.
func ConvertUsage(in, out, cacheRead, cacheWrite int) *openai.Usage {
	in, cacheRead, cacheWrite = max(in, 0), max(cacheRead, 0), max(cacheWrite, 0)
	u := &openai.Usage{PromptTokens: in + cacheRead + cacheWrite, CompletionTokens: out}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	if cacheRead > 0 || cacheWrite > 0 {
		u.PromptTokensDetails = &openai.PromptTokensDetails{CachedTokens: cacheRead, CacheCreationTokens: cacheWrite}
	}
	return u
}
