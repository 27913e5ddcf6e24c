package anthropic

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/anthropic"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// emptySchema is the input_schema of a tool declared without parameters: Anthropic requires
// one for every custom tool.
var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

var emptyObject = json.RawMessage(`{}`)

// Thinking budgets for reasoning_effort when the client sent no thinking configuration.
// This is a policy, not a published equivalence.
var effortBudget = map[string]int{"low": 1024, "medium": 4096, "high": 16384}

// TranslateRequest maps the canonical request of c to an Anthropic Messages request.
// Errors are KindInvalidRequest and name the offending canonical field.
func TranslateRequest(c *llm.Call) (*anthropic.MessagesRequest, *llm.Error) {
	req := c.Request
	out := &anthropic.MessagesRequest{Model: c.Model, Stream: c.Stream, Thinking: req.Thinking}
	if out.Model == "" {
		out.Model = req.Model
	}

	switch n := req.MaxOutput(); {
	case n < 0:
		p := "max_tokens"
		if req.MaxCompletionTokens != nil {
			p = "max_completion_tokens"
		}
		return nil, llm.InvalidParam(p, "must be positive")
	case n > 0:
		out.MaxTokens = n
	case c.DefaultMaxTokens > 0:
		out.MaxTokens = c.DefaultMaxTokens
	default:
		return nil, llm.InvalidParam("max_tokens", "is required by this model's provider (Anthropic); set max_completion_tokens or max_tokens")
	}
	if req.N != nil && *req.N > 1 {
		return nil, llm.InvalidParam("n", "only one choice is supported by this model's provider (Anthropic)")
	}
	if req.Temperature != nil {
		if t := *req.Temperature; t < 0 || t > 1 {
			return nil, llm.InvalidParam("temperature", "must be between 0 and 1 for this model's provider (Anthropic)")
		}
		out.Temperature = req.Temperature
	}
	if (req.Logprobs != nil && *req.Logprobs) || (req.TopLogprobs != nil && *req.TopLogprobs > 0) {
		return nil, llm.InvalidParam("logprobs", "log probabilities are not supported by this model's provider (Anthropic)")
	}
	out.TopP, out.TopK = req.TopP, req.TopK
	if req.Stop != nil {
		for _, s := range *req.Stop {
			if s != "" {
				out.StopSequences = append(out.StopSequences, s)
			}
		}
	}
	if req.User != "" {
		out.Metadata = &anthropic.Metadata{UserID: req.User}
	}
	if rf := req.ResponseFormat; rf != nil && rf.Type == "json_schema" {
		if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
			return nil, llm.InvalidParam("response_format.json_schema.schema", "is required")
		}
		oc, err := json.Marshal(map[string]any{"format": map[string]any{"type": "json_schema", "schema": rf.JSONSchema.Schema}})
		if err != nil {
			return nil, llm.InvalidParam("response_format.json_schema.schema", "is not valid JSON")
		}
		out.OutputConfig = oc
	}
	// json_object has no Anthropic equivalent: it is dropped (the prompt asks for JSON anyway,
	// as OpenAI requires).
	if len(out.Thinking) == 0 {
		if b, ok := effortBudget[req.ReasoningEffort]; ok && out.MaxTokens > 1024 {
			b = min(b, out.MaxTokens-1)
			out.Thinking = json.RawMessage(`{"type":"enabled","budget_tokens":` + strconv.Itoa(b) + `}`)
		}
	}

	if err := translateTools(req, out); err != nil {
		return nil, err
	}
	if err := translateMessages(req.Messages, out); err != nil {
		return nil, err
	}
	return out, nil
}

func translateTools(req *openai.ChatRequest, out *anthropic.MessagesRequest) *llm.Error {
	for i := range req.Tools {
		t := &req.Tools[i]
		if t.Type != "function" && t.Type != "" {
			return llm.InvalidParam("tools["+strconv.Itoa(i)+"].type", "tool type %q is not supported by this model's provider (Anthropic)", t.Type)
		}
		if t.Function.Name == "" {
			return llm.InvalidParam("tools["+strconv.Itoa(i)+"].function.name", "is required")
		}
		schema := t.Function.Parameters
		if len(schema) == 0 || string(schema) == "null" {
			schema = emptySchema
		}
		out.Tools = append(out.Tools, anthropic.Tool{
			Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema,
			Strict: t.Function.Strict, CacheControl: t.CacheControl,
		})
	}
	if len(out.Tools) == 0 {
		return nil // tool_choice and parallel_tool_calls mean nothing without tools
	}
	var tc *anthropic.ToolChoice
	if c := req.ToolChoice; c != nil {
		switch {
		case c.Function != "":
			tc = &anthropic.ToolChoice{Type: "tool", Name: c.Function}
		case c.Mode == "required":
			tc = &anthropic.ToolChoice{Type: "any"}
		case c.Mode == "none":
			tc = &anthropic.ToolChoice{Type: "none"}
		default:
			tc = &anthropic.ToolChoice{Type: "auto"}
		}
	}
	if p := req.ParallelToolCalls; p != nil && !*p {
		if tc == nil {
			tc = &anthropic.ToolChoice{Type: "auto"}
		}
		if tc.Type != "none" {
			tc.DisableParallelToolUse = true
		}
	}
	out.ToolChoice = tc
	return nil
}

// builder accumulates the Anthropic conversation: consecutive turns of one role are merged
// and tool results always lead their user turn.
type builder struct {
	msgs []anthropic.Message
}

func (b *builder) add(role string, blocks []anthropic.Block) {
	if len(blocks) == 0 {
		return
	}
	if n := len(b.msgs); n > 0 && b.msgs[n-1].Role == role {
		last := &b.msgs[n-1].Content.Blocks
		if blocks[0].Type == "tool_result" {
			// A tool result goes after the results already there and before any user text.
			at := 0
			for at < len(*last) && (*last)[at].Type == "tool_result" {
				at++
			}
			*last = append((*last)[:at], append(blocks, (*last)[at:]...)...)
			return
		}
		*last = append(*last, blocks...)
		return
	}
	b.msgs = append(b.msgs, anthropic.Message{Role: role, Content: anthropic.Content{Blocks: blocks}})
}

func translateMessages(msgs []openai.Message, out *anthropic.MessagesRequest) *llm.Error {
	var b builder
	b.msgs = make([]anthropic.Message, 0, len(msgs))
	var system []anthropic.Block
	for i := range msgs {
		m := &msgs[i]
		p := "messages[" + strconv.Itoa(i) + "]"
		switch m.Role {
		case "system", "developer":
			blocks, err := textBlocks(m.Content, p+".content")
			if err != nil {
				return err
			}
			system = append(system, blocks...)
		case "user":
			blocks, err := userBlocks(m.Content, p+".content")
			if err != nil {
				return err
			}
			b.add("user", blocks)
		case "assistant":
			blocks, err := assistantBlocks(m, p)
			if err != nil {
				return err
			}
			b.add("assistant", blocks)
		case "tool":
			if m.ToolCallID == "" {
				return llm.InvalidParam(p+".tool_call_id", "is required")
			}
			tr := anthropic.Block{Type: "tool_result", ToolUseID: m.ToolCallID}
			if m.Content.IsParts() {
				blocks, err := userBlocks(m.Content, p+".content")
				if err != nil {
					return err
				}
				if len(blocks) > 0 {
					tr.Content = &anthropic.Content{Blocks: blocks}
				}
			} else if s := m.Content.String(); s != "" {
				tr.Content = &anthropic.Content{Text: s}
			}
			b.add("user", []anthropic.Block{tr})
		case "function":
			return llm.InvalidParam(p+".role", "the legacy function role is not supported; use tool messages")
		default:
			return llm.InvalidParam(p+".role", "unknown role %q", m.Role)
		}
	}
	if len(system) > 0 {
		out.System = &anthropic.System{Blocks: system}
	}
	if len(b.msgs) == 0 {
		return llm.InvalidParam("messages", "at least one user or assistant message with content is required")
	}
	out.Messages = b.msgs
	return nil
}

// textBlocks returns the text of a system message as blocks, empty text dropped.
func textBlocks(c *openai.Content, p string) ([]anthropic.Block, *llm.Error) {
	if c == nil {
		return nil, nil
	}
	if !c.IsParts() {
		if c.Text == "" {
			return nil, nil
		}
		return []anthropic.Block{{Type: "text", Text: c.Text}}, nil
	}
	var out []anthropic.Block
	for j := range c.Parts {
		part := &c.Parts[j]
		if part.Type != "text" {
			return nil, llm.InvalidParam(p+"["+strconv.Itoa(j)+"].type", "only text parts are allowed here")
		}
		if part.Text != "" {
			out = append(out, anthropic.Block{Type: "text", Text: part.Text, CacheControl: part.CacheControl})
		}
	}
	return out, nil
}

// userBlocks maps user (or tool result) content: text, images, documents.
func userBlocks(c *openai.Content, p string) ([]anthropic.Block, *llm.Error) {
	if c == nil {
		return nil, nil
	}
	if !c.IsParts() {
		if c.Text == "" {
			return nil, nil
		}
		return []anthropic.Block{{Type: "text", Text: c.Text}}, nil
	}
	out := make([]anthropic.Block, 0, len(c.Parts))
	for j := range c.Parts {
		part := &c.Parts[j]
		pp := p + "[" + strconv.Itoa(j) + "]"
		var blk anthropic.Block
		switch part.Type {
		case "text":
			if part.Text == "" {
				continue
			}
			blk = anthropic.Block{Type: "text", Text: part.Text}
		case "image_url":
			if part.ImageURL == nil {
				return nil, llm.InvalidParam(pp+".image_url", "is required")
			}
			var err *llm.Error
			if blk, err = sourceBlock(part.ImageURL.URL, pp+".image_url.url"); err != nil {
				return nil, err
			}
		case "file":
			if part.File == nil || part.File.FileData == "" {
				return nil, llm.InvalidParam(pp+".file.file_data", "is required: file ids are not supported by this model's provider (Anthropic)")
			}
			data := part.File.FileData
			if !strings.HasPrefix(data, "data:") {
				data = "data:application/pdf;base64," + data
			}
			var err *llm.Error
			if blk, err = sourceBlock(data, pp+".file.file_data"); err != nil {
				return nil, err
			}
		case "input_audio":
			return nil, llm.InvalidParam(pp, "audio input is not supported by this model's provider (Anthropic)")
		case "refusal":
			continue
		default:
			return nil, llm.InvalidParam(pp+".type", "unknown content part type %q", part.Type)
		}
		blk.CacheControl = part.CacheControl
		out = append(out, blk)
	}
	return out, nil
}

// sourceBlock maps a data: URI or an http(s) URL to an image or document block.
func sourceBlock(url, p string) (anthropic.Block, *llm.Error) {
	if rest, ok := strings.CutPrefix(url, "data:"); ok {
		mime, data, ok := strings.Cut(rest, ";base64,")
		if !ok {
			return anthropic.Block{}, llm.InvalidParam(p, "data URIs must be base64 (data:<mime>;base64,<data>)")
		}
		src := &anthropic.Source{Type: "base64", MediaType: mime, Data: data}
		switch mime {
		case "image/jpeg", "image/png", "image/gif", "image/webp":
			return anthropic.Block{Type: "image", Source: src}, nil
		case "application/pdf":
			return anthropic.Block{Type: "document", Source: src}, nil
		}
		return anthropic.Block{}, llm.InvalidParam(p, "media type %q is not supported by this model's provider (Anthropic): use image/jpeg, image/png, image/gif, image/webp or application/pdf", mime)
	}
	if strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://") {
		src := &anthropic.Source{Type: "url", URL: url}
		path, _, _ := strings.Cut(url, "?")
		if strings.HasSuffix(strings.ToLower(path), ".pdf") {
			return anthropic.Block{Type: "document", Source: src}, nil
		}
		return anthropic.Block{Type: "image", Source: src}, nil
	}
	return anthropic.Block{}, llm.InvalidParam(p, "must be an https URL or a base64 data URI")
}

// assistantBlocks maps an assistant turn: thinking blocks first (Anthropic requires it),
// then text, then tool_use with the arguments parsed.
func assistantBlocks(m *openai.Message, p string) ([]anthropic.Block, *llm.Error) {
	out := make([]anthropic.Block, 0, len(m.ThinkingBlocks)+1+len(m.ToolCalls))
	for _, tb := range m.ThinkingBlocks {
		switch tb.Type {
		case "thinking":
			out = append(out, anthropic.Block{Type: "thinking", Thinking: tb.Thinking, Signature: tb.Signature})
		case "redacted_thinking":
			out = append(out, anthropic.Block{Type: "redacted_thinking", Data: tb.Data})
		}
	}
	if c := m.Content; c.IsParts() {
		for j := range c.Parts {
			part := &c.Parts[j]
			text := part.Text
			switch part.Type {
			case "text":
			case "refusal":
				text = part.Refusal
			default:
				return nil, llm.InvalidParam(p+".content["+strconv.Itoa(j)+"].type", "assistant content must be text")
			}
			if text != "" {
				out = append(out, anthropic.Block{Type: "text", Text: text, CacheControl: part.CacheControl})
			}
		}
	} else if c != nil && c.Text != "" {
		out = append(out, anthropic.Block{Type: "text", Text: c.Text})
	} else if m.Refusal != "" {
		out = append(out, anthropic.Block{Type: "text", Text: m.Refusal})
	}
	for j := range m.ToolCalls {
		tc := &m.ToolCalls[j]
		tp := p + ".tool_calls[" + strconv.Itoa(j) + "]"
		if tc.ID == "" {
			return nil, llm.InvalidParam(tp+".id", "is required")
		}
		if tc.Function.Name == "" {
			return nil, llm.InvalidParam(tp+".function.name", "is required")
		}
		input, ok := parseArguments(tc.Function.Arguments)
		if !ok {
			return nil, llm.InvalidParam(tp+".function.arguments", "must be a JSON object")
		}
		out = append(out, anthropic.Block{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
	}
	return out, nil
}

// parseArguments turns a tool call's arguments string into tool_use input: "" is {}, any
// other value must be a JSON object.
func parseArguments(s string) (json.RawMessage, bool) {
	t := strings.TrimSpace(s)
	if t == "" {
		return emptyObject, true
	}
	b := []byte(t)
	if t[0] != '{' || !json.Valid(b) {
		return nil, false
	}
	return b, true // json.Marshal compacts it
}
