// Package anthropic is the client dialect of Anthropic's Messages API: Pylon serves
// POST /v1/messages (and /v1/messages/count_tokens) to Anthropic SDK clients. Requests are
// parsed into the canonical (OpenAI-shaped) form, and canonical answers, streams and errors
// are written back as Anthropic would write them.
package anthropic

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/anthropic"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// Dialect is the Anthropic Messages dialect. The zero value is ready to use.
type Dialect struct{}

var _ llm.Dialect = Dialect{}

// New returns the dialect.
func New() Dialect { return Dialect{} }

// ParseChat parses and validates an Anthropic Messages request and translates it into the
// canonical request. A streamed request asks for the usage chunk (the final message_delta
// reports usage).
func (Dialect) ParseChat(body []byte) (*openai.ChatRequest, *llm.Error) {
	var r anthropic.MessagesRequest
	if e := decode(body, &r); e != nil {
		return nil, e
	}
	if r.Model == "" {
		return nil, llm.InvalidParam("model", "is required")
	}
	if r.MaxTokens < 1 {
		return nil, llm.InvalidParam("max_tokens", "is required and must be at least 1")
	}
	out := &openai.ChatRequest{Model: r.Model, MaxCompletionTokens: openai.Ptr(r.MaxTokens), Stream: r.Stream, TopP: r.TopP, TopK: r.TopK}
	if r.Stream {
		out.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	}
	if t := r.Temperature; t != nil {
		if *t < 0 || *t > 1 {
			return nil, llm.InvalidParam("temperature", "must be between 0 and 1")
		}
		out.Temperature = t
	}
	if p := r.TopP; p != nil && (*p < 0 || *p > 1) {
		return nil, llm.InvalidParam("top_p", "must be between 0 and 1")
	}
	if len(r.StopSequences) > 0 {
		s := openai.Stop(r.StopSequences)
		out.Stop = &s
	}
	if r.Metadata != nil && r.Metadata.UserID != "" {
		out.User = r.Metadata.UserID
	}
	if len(r.Thinking) > 0 && string(r.Thinking) != "null" {
		var th struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(r.Thinking, &th) != nil || th.Type == "" {
			return nil, llm.InvalidParam("thinking", "must be an object with a type")
		}
		out.Thinking = r.Thinking
	}
	if len(r.OutputConfig) > 0 && string(r.OutputConfig) != "null" {
		if e := outputConfig(r.OutputConfig, out); e != nil {
			return nil, e
		}
	}
	if e := tools(r.Tools, r.ToolChoice, out); e != nil {
		return nil, e
	}
	msgs, e := messages(r.System, r.Messages)
	if e != nil {
		return nil, e
	}
	out.Messages = msgs
	return out, nil
}

// ParseCountTokens parses a POST /v1/messages/count_tokens body into a canonical request
// holding what is counted (system, messages, tools); the gateway counts its tokens and
// answers with WriteCountTokens.
func (Dialect) ParseCountTokens(body []byte) (*openai.ChatRequest, *llm.Error) {
	var r anthropic.CountTokensRequest
	if e := decode(body, &r); e != nil {
		return nil, e
	}
	if r.Model == "" {
		return nil, llm.InvalidParam("model", "is required")
	}
	out := &openai.ChatRequest{Model: r.Model}
	if len(r.Thinking) > 0 && string(r.Thinking) != "null" {
		out.Thinking = r.Thinking
	}
	if e := tools(r.Tools, nil, out); e != nil {
		return nil, e
	}
	msgs, e := messages(r.System, r.Messages)
	if e != nil {
		return nil, e
	}
	out.Messages = msgs
	return out, nil
}

func decode(body []byte, v any) *llm.Error {
	if err := json.Unmarshal(body, v); err != nil {
		msg := err.Error()
		if te, ok := err.(*json.UnmarshalTypeError); ok && te.Field != "" {
			return llm.InvalidParam(te.Field, "must be of type %s", te.Type.String())
		}
		return llm.Errorf(llm.KindInvalidRequest, "invalid JSON body: %s", msg)
	}
	return nil
}

func outputConfig(raw json.RawMessage, out *openai.ChatRequest) *llm.Error {
	var oc struct {
		Format *struct {
			Type   string          `json:"type"`
			Schema json.RawMessage `json:"schema"`
		} `json:"format"`
		Effort string `json:"effort"`
	}
	if json.Unmarshal(raw, &oc) != nil {
		return llm.InvalidParam("output_config", "must be an object")
	}
	if f := oc.Format; f != nil {
		if f.Type != "json_schema" {
			return llm.InvalidParam("output_config.format.type", "must be json_schema")
		}
		if len(f.Schema) == 0 {
			return llm.InvalidParam("output_config.format.schema", "is required")
		}
		out.ResponseFormat = &openai.ResponseFormat{Type: "json_schema", JSONSchema: &openai.JSONSchema{Name: "output", Schema: f.Schema}}
	}
	switch oc.Effort {
	case "":
	case "low", "medium", "high":
		out.ReasoningEffort = oc.Effort
	case "max":
		out.ReasoningEffort = "high"
	default:
		return nil
	}
	return nil
}

func tools(ts []anthropic.Tool, tc *anthropic.ToolChoice, out *openai.ChatRequest) *llm.Error {
	for i := range ts {
		t := &ts[i]
		p := "tools[" + strconv.Itoa(i) + "]"
		if t.Type != "" && t.Type != "custom" {
			return llm.InvalidParam(p+".type", "server tool %q is not supported by Pylon", t.Type)
		}
		if t.Name == "" {
			return llm.InvalidParam(p+".name", "is required")
		}
		if len(t.InputSchema) == 0 {
			return llm.InvalidParam(p+".input_schema", "is required")
		}
		out.Tools = append(out.Tools, openai.Tool{Type: "function", CacheControl: t.CacheControl,
			Function: openai.Function{Name: t.Name, Description: t.Description, Parameters: t.InputSchema, Strict: t.Strict}})
	}
	if tc == nil {
		return nil
	}
	switch tc.Type {
	case "auto":
		out.ToolChoice = &openai.ToolChoice{Mode: "auto"}
	case "any":
		out.ToolChoice = &openai.ToolChoice{Mode: "required"}
	case "none":
		out.ToolChoice = &openai.ToolChoice{Mode: "none"}
	case "tool":
		if tc.Name == "" {
			return llm.InvalidParam("tool_choice.name", "is required when tool_choice.type is tool")
		}
		out.ToolChoice = &openai.ToolChoice{Function: tc.Name}
	default:
		return llm.InvalidParam("tool_choice.type", "must be auto, any, tool or none")
	}
	if tc.DisableParallelToolUse {
		out.ParallelToolCalls = openai.Ptr(false)
	}
	return nil
}

// messages translates the system prompt and the turns. Tool results become tool messages,
// in order, ahead of the rest of their user turn.
func messages(sys *anthropic.System, ms []anthropic.Message) ([]openai.Message, *llm.Error) {
	if len(ms) == 0 {
		return nil, llm.InvalidParam("messages", "at least one message is required")
	}
	out := make([]openai.Message, 0, len(ms)+1)
	if sys != nil {
		if sys.Blocks == nil {
			if sys.Text != "" {
				out = append(out, openai.Message{Role: "system", Content: openai.TextContent(sys.Text)})
			}
		} else if len(sys.Blocks) > 0 {
			parts := make([]openai.Part, 0, len(sys.Blocks))
			for j := range sys.Blocks {
				b := &sys.Blocks[j]
				if b.Type != "text" {
					return nil, llm.InvalidParam("system["+strconv.Itoa(j)+"].type", "must be text")
				}
				parts = append(parts, openai.Part{Type: "text", Text: b.Text, CacheControl: b.CacheControl})
			}
			out = append(out, openai.Message{Role: "system", Content: &openai.Content{Parts: parts}})
		}
	}
	for i := range ms {
		m := &ms[i]
		p := "messages[" + strconv.Itoa(i) + "]"
		if m.Content.Blocks != nil && len(m.Content.Blocks) == 0 {
			return nil, llm.InvalidParam(p+".content", "must not be empty")
		}
		var e *llm.Error
		switch m.Role {
		case "user":
			out, e = userMessage(out, m, p)
		case "assistant":
			out, e = assistantMessage(out, m, p)
		default:
			return nil, llm.InvalidParam(p+".role", "must be user or assistant")
		}
		if e != nil {
			return nil, e
		}
	}
	return out, nil
}

func userMessage(out []openai.Message, m *anthropic.Message, p string) ([]openai.Message, *llm.Error) {
	if m.Content.Blocks == nil {
		return append(out, openai.Message{Role: "user", Content: openai.TextContent(m.Content.Text)}), nil
	}
	var parts []openai.Part
	flush := func() {
		if len(parts) > 0 {
			out = append(out, openai.Message{Role: "user", Content: &openai.Content{Parts: parts}})
			parts = nil
		}
	}
	for j := range m.Content.Blocks {
		b := &m.Content.Blocks[j]
		bp := p + ".content[" + strconv.Itoa(j) + "]"
		if b.Type == "tool_result" {
			flush()
			if b.ToolUseID == "" {
				return nil, llm.InvalidParam(bp+".tool_use_id", "is required")
			}
			c, e := toolResultContent(b.Content, bp+".content")
			if e != nil {
				return nil, e
			}
			out = append(out, openai.Message{Role: "tool", ToolCallID: b.ToolUseID, Content: c})
			continue
		}
		part, e := userPart(b, bp)
		if e != nil {
			return nil, e
		}
		parts = append(parts, part)
	}
	flush()
	return out, nil
}

// toolResultContent is a string when the result is text only, parts otherwise.
func toolResultContent(c *anthropic.Content, p string) (*openai.Content, *llm.Error) {
	if c == nil {
		return openai.TextContent(""), nil
	}
	if c.Blocks == nil {
		return openai.TextContent(c.Text), nil
	}
	textOnly := true
	for j := range c.Blocks {
		if c.Blocks[j].Type != "text" || len(c.Blocks[j].CacheControl) > 0 {
			textOnly = false
		}
	}
	if textOnly {
		var sb strings.Builder
		for j := range c.Blocks {
			sb.WriteString(c.Blocks[j].Text)
		}
		return openai.TextContent(sb.String()), nil
	}
	parts := make([]openai.Part, 0, len(c.Blocks))
	for j := range c.Blocks {
		part, e := userPart(&c.Blocks[j], p+"["+strconv.Itoa(j)+"]")
		if e != nil {
			return nil, e
		}
		parts = append(parts, part)
	}
	return &openai.Content{Parts: parts}, nil
}

func userPart(b *anthropic.Block, p string) (openai.Part, *llm.Error) {
	var part openai.Part
	switch b.Type {
	case "text":
		part = openai.Part{Type: "text", Text: b.Text}
	case "image", "document":
		s := b.Source
		if s == nil {
			return part, llm.InvalidParam(p+".source", "is required")
		}
		switch s.Type {
		case "base64":
			if s.Data == "" {
				return part, llm.InvalidParam(p+".source.data", "is required")
			}
			switch s.MediaType {
			case "image/jpeg", "image/png", "image/gif", "image/webp":
				if b.Type != "image" {
					return part, llm.InvalidParam(p+".source.media_type", "must be application/pdf for a document")
				}
				part = openai.Part{Type: "image_url", ImageURL: &openai.ImageURL{URL: "data:" + s.MediaType + ";base64," + s.Data}}
			case "application/pdf":
				if b.Type != "document" {
					return part, llm.InvalidParam(p+".source.media_type", "must be image/jpeg, image/png, image/gif or image/webp")
				}
				part = openai.Part{Type: "file", File: &openai.File{FileData: "data:application/pdf;base64," + s.Data, Filename: "document.pdf"}}
			default:
				return part, llm.InvalidParam(p+".source.media_type", "unsupported media type %q", s.MediaType)
			}
		case "url":
			if s.URL == "" {
				return part, llm.InvalidParam(p+".source.url", "is required")
			}
			part = openai.Part{Type: "image_url", ImageURL: &openai.ImageURL{URL: s.URL}}
		case "text":
			if b.Type != "document" {
				return part, llm.InvalidParam(p+".source.type", "must be base64 or url")
			}
			part = openai.Part{Type: "text", Text: s.Data}
		default:
			return part, llm.InvalidParam(p+".source.type", "must be base64, url or text")
		}
	default:
		return part, llm.InvalidParam(p+".type", "block type %q is not allowed in a user message", b.Type)
	}
	part.CacheControl = b.CacheControl
	return part, nil
}

func assistantMessage(out []openai.Message, m *anthropic.Message, p string) ([]openai.Message, *llm.Error) {
	msg := openai.Message{Role: "assistant"}
	if m.Content.Blocks == nil {
		msg.Content = openai.TextContent(m.Content.Text)
		return append(out, msg), nil
	}
	var parts []openai.Part
	cached := false
	for j := range m.Content.Blocks {
		b := &m.Content.Blocks[j]
		bp := p + ".content[" + strconv.Itoa(j) + "]"
		switch b.Type {
		case "text":
			parts = append(parts, openai.Part{Type: "text", Text: b.Text, CacheControl: b.CacheControl})
			cached = cached || len(b.CacheControl) > 0
		case "tool_use":
			if b.ID == "" {
				return nil, llm.InvalidParam(bp+".id", "is required")
			}
			if b.Name == "" {
				return nil, llm.InvalidParam(bp+".name", "is required")
			}
			args := "{}"
			if in := bytes.TrimSpace(b.Input); len(in) > 0 && string(in) != "null" {
				if in[0] != '{' {
					return nil, llm.InvalidParam(bp+".input", "must be an object")
				}
				var buf bytes.Buffer
				if json.Compact(&buf, in) != nil {
					return nil, llm.InvalidParam(bp+".input", "must be an object")
				}
				args = buf.String()
			}
			msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: b.ID, Type: "function", Function: openai.FunctionCall{Name: b.Name, Arguments: args}})
		case "thinking":
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, openai.ThinkingBlock{Type: "thinking", Thinking: b.Thinking, Signature: b.Signature})
		case "redacted_thinking":
			msg.ThinkingBlocks = append(msg.ThinkingBlocks, openai.ThinkingBlock{Type: "redacted_thinking", Data: b.Data})
		default:
			return nil, llm.InvalidParam(bp+".type", "block type %q is not allowed in an assistant message", b.Type)
		}
	}
	switch {
	case cached:
		msg.Content = &openai.Content{Parts: parts}
	case len(parts) > 0:
		var sb strings.Builder
		for _, pt := range parts {
			sb.WriteString(pt.Text)
		}
		msg.Content = openai.TextContent(sb.String())
	}
	return append(out, msg), nil
}
