package bedrock

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/bedrock"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// maxResponse bounds a non-streamed answer.
const maxResponse = 64 << 20

// DecodeChat decodes a Converse answer. Bedrock has no id in the body: the response id is
// the x-amzn-requestid header.
func (a *Adapter) DecodeChat(resp *http.Response, c *llm.Call) (*openai.ChatResponse, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "bedrock: read response: " + err.Error(), Upstream: resp.StatusCode}
	}
	if len(body) > maxResponse {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "bedrock: response larger than 64 MiB", Upstream: resp.StatusCode}
	}
	var r bedrock.Response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "bedrock: malformed response: " + err.Error(), Upstream: resp.StatusCode}
	}
	if r.Output == nil || r.Output.Message == nil {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "bedrock: response has no output message", Upstream: resp.StatusCode}
	}
	msg := openai.Message{Role: "assistant"}
	var text, reasoning []byte
	for i := range r.Output.Message.Content {
		b := &r.Output.Message.Content[i]
		switch {
		case b.ToolUse != nil:
			msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: b.ToolUse.ToolUseID, Type: "function",
				Function: openai.FunctionCall{Name: b.ToolUse.Name, Arguments: argsString(b.ToolUse.Input)}})
		case b.ReasoningContent != nil:
			rc := b.ReasoningContent
			if rt := rc.ReasoningText; rt != nil {
				reasoning = append(reasoning, rt.Text...)
				msg.ThinkingBlocks = append(msg.ThinkingBlocks, openai.ThinkingBlock{Type: "thinking", Thinking: rt.Text, Signature: rt.Signature})
			} else if rc.RedactedContent != "" {
				msg.ThinkingBlocks = append(msg.ThinkingBlocks, openai.ThinkingBlock{Type: "redacted_thinking", Data: rc.RedactedContent})
			}
		default:
			text = append(text, b.Text...)
		}
	}
	if len(text) > 0 || len(msg.ToolCalls) == 0 {
		msg.Content = openai.TextContent(string(text))
	}
	msg.ReasoningContent = string(reasoning)
	out := &openai.ChatResponse{
		ID:      responseID(resp.Header, a.newID),
		Object:  "chat.completion",
		Created: a.now().Unix(),
		Model:   c.Model,
		Choices: []openai.Choice{{Message: msg, FinishReason: finishReason(r.StopReason, len(msg.ToolCalls) > 0)}},
	}
	if r.Usage != nil {
		out.Usage = openAIUsage(r.Usage)
	}
	return out, nil
}

func responseID(h http.Header, gen func() string) string {
	if id := h.Get(bedrock.HeaderRequestID); id != "" {
		return id
	}
	return "chatcmpl-" + gen()
}

// argsString writes a tool input as the JSON string OpenAI carries.
func argsString(in json.RawMessage) string {
	var b bytes.Buffer
	if len(in) == 0 || string(in) == "null" || json.Compact(&b, in) != nil {
		return "{}"
	}
	return b.String()
}

// finishReason maps a stop reason; a turn with tool calls is tool_calls whatever the
// model said (clients' agent loops key on it).
func finishReason(r string, sawToolCall bool) string {
	switch r {
	case bedrock.StopMaxTokens, bedrock.StopContextWindow:
		return openai.FinishLength
	case bedrock.StopGuardrailIntervened, bedrock.StopContentFiltered:
		return openai.FinishContentFilter
	case bedrock.StopToolUse:
		return openai.FinishToolCalls
	}
	if sawToolCall {
		return openai.FinishToolCalls
	}
	return openai.FinishStop
}

// openAIUsage maps Converse usage (see usage.FromBedrock: inputTokens excludes the cache).
func openAIUsage(b *bedrock.Usage) *openai.Usage {
	n := usage.FromBedrock(b.InputTokens, b.OutputTokens, b.CacheReadInputTokens, b.CacheWriteInputTokens)
	u := &openai.Usage{PromptTokens: n.Prompt, CompletionTokens: n.Completion, TotalTokens: n.Total}
	if n.CachedPrompt > 0 || n.CacheWrite > 0 {
		u.PromptTokensDetails = &openai.PromptTokensDetails{CachedTokens: n.CachedPrompt, CacheCreationTokens: n.CacheWrite}
	}
	return u
}
