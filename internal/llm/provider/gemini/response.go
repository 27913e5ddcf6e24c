package gemini

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/gemini"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/usage"
)

// maxResponse bounds a non-streamed answer.
const maxResponse = 64 << 20

// DecodeChat decodes a generateContent answer.
func (a *Adapter) DecodeChat(resp *http.Response, c *llm.Call) (*openai.ChatResponse, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "gemini: read response: " + err.Error(), Upstream: resp.StatusCode}
	}
	if len(body) > maxResponse {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "gemini: response larger than 64 MiB", Upstream: resp.StatusCode}
	}
	var r gemini.Response
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "gemini: malformed response: " + err.Error(), Upstream: resp.StatusCode}
	}
	return a.chatResponse(&r, c)
}

func (a *Adapter) chatResponse(r *gemini.Response, c *llm.Call) (*openai.ChatResponse, error) {
	out := &openai.ChatResponse{
		ID:      responseID(r.ResponseID, a.newID),
		Object:  "chat.completion",
		Created: a.now().Unix(),
		Model:   modelName(r.ModelVersion, c.Model),
		Choices: make([]openai.Choice, 0, len(r.Candidates)),
	}
	if len(r.Candidates) == 0 {
		if r.PromptFeedback == nil || r.PromptFeedback.BlockReason == "" {
			return nil, &llm.Error{Kind: llm.KindUpstream, Message: "gemini: response has no candidates", Upstream: http.StatusOK}
		}
		// A blocked prompt: an empty answer that says why it stopped.
		out.Choices = append(out.Choices, openai.Choice{
			Message:      openai.Message{Role: "assistant", Content: openai.TextContent("")},
			FinishReason: openai.FinishContentFilter,
		})
	}
	for i := range r.Candidates {
		cand := &r.Candidates[i]
		msg := openai.Message{Role: "assistant"}
		var text, reasoning []byte
		if cand.Content != nil {
			for j := range cand.Content.Parts {
				p := &cand.Content.Parts[j]
				switch {
				case p.FunctionCall != nil:
					msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{
						ID:       a.callID(p.ThoughtSignature),
						Type:     "function",
						Function: openai.FunctionCall{Name: p.FunctionCall.Name, Arguments: argsString(p.FunctionCall.Args)},
					})
				case p.Thought:
					reasoning = append(reasoning, p.Text...)
				default:
					text = append(text, p.Text...)
				}
			}
		}
		if len(text) > 0 || len(msg.ToolCalls) == 0 {
			msg.Content = openai.TextContent(string(text))
		}
		msg.ReasoningContent = string(reasoning)
		out.Choices = append(out.Choices, openai.Choice{
			Index:        cand.Index,
			Message:      msg,
			FinishReason: finishReason(cand.FinishReason, len(msg.ToolCalls) > 0),
		})
	}
	if r.UsageMetadata != nil {
		out.Usage = openAIUsage(r.UsageMetadata)
	}
	return out, nil
}

// callID returns a generated tool call id, carrying the thought signature when asked to.
func (a *Adapter) callID(signature string) string {
	id := "call_" + a.newID()
	if a.opts.SignatureInID && signature != "" {
		id += signatureSep + signature
	}
	return id
}

// argsString writes function call args as the JSON string OpenAI carries.
func argsString(args json.RawMessage) string {
	if len(args) == 0 || string(args) == "null" {
		return "{}"
	}
	var b bytes.Buffer
	if json.Compact(&b, args) != nil {
		return "{}"
	}
	return b.String()
}

func responseID(id string, gen func() string) string {
	if id != "" {
		return id
	}
	return "chatcmpl-" + gen()
}

func modelName(version, model string) string {
	if version != "" {
		return version
	}
	return model
}

// finishReason maps a Gemini finish reason; STOP after a function call is tool_calls
// (Gemini has no tool-call reason, and clients' agent loops key on it).
func finishReason(r string, sawToolCall bool) string {
	switch r {
	case gemini.FinishMaxTokens:
		return openai.FinishLength
	case gemini.FinishSafety, gemini.FinishBlocklist, gemini.FinishProhibitedContent, gemini.FinishSPII,
		gemini.FinishImageSafety, gemini.FinishLanguage, gemini.FinishRecitation:
		return openai.FinishContentFilter
	}
	// STOP, OTHER, unspecified, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL: a normal end.
	if sawToolCall {
		return openai.FinishToolCalls
	}
	return openai.FinishStop
}

// openAIUsage maps usageMetadata (see usage.FromGemini for the rules).
func openAIUsage(m *gemini.UsageMetadata) *openai.Usage {
	n := usage.FromGemini(m.PromptTokenCount, m.CandidatesTokenCount, m.CachedContentTokenCount, m.ThoughtsTokenCount, m.ToolUsePromptTokenCount)
	u := &openai.Usage{PromptTokens: n.Prompt, CompletionTokens: n.Completion, TotalTokens: n.Total}
	if n.CachedPrompt > 0 {
		u.PromptTokensDetails = &openai.PromptTokensDetails{CachedTokens: n.CachedPrompt}
	}
	if n.Reasoning > 0 {
		u.CompletionTokensDetails = &openai.CompletionTokensDetails{ReasoningTokens: n.Reasoning}
	}
	return u
}
