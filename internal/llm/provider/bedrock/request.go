package bedrock

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/bedrock"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// BuildRequest maps a canonical chat request to a Converse body. Errors are *llm.Error of
// KindInvalidRequest naming the offending field.
func (a *Adapter) BuildRequest(c *llm.Call) (*bedrock.Request, error) {
	in := c.Request
	out := &bedrock.Request{Messages: make([]bedrock.Message, 0, len(in.Messages))}
	// add appends blocks as a turn of role, merged into the previous turn of the same role:
	// Converse wants turns to alternate, and tool results must share one user turn.
	add := func(role string, blocks []bedrock.ContentBlock) {
		if len(blocks) == 0 {
			return // Converse rejects empty content: the turn is dropped
		}
		if n := len(out.Messages); n > 0 && out.Messages[n-1].Role == role {
			out.Messages[n-1].Content = append(out.Messages[n-1].Content, blocks...)
			return
		}
		out.Messages = append(out.Messages, bedrock.Message{Role: role, Content: blocks})
	}
	for i := range in.Messages {
		m := &in.Messages[i]
		p := "messages[" + strconv.Itoa(i) + "]"
		switch m.Role {
		case "system", "developer":
			if m.Content.IsParts() {
				for j := range m.Content.Parts {
					if m.Content.Parts[j].Type != "text" {
						return nil, llm.InvalidParam(p+".content["+strconv.Itoa(j)+"].type", "a system message takes only text parts, got %q", m.Content.Parts[j].Type)
					}
				}
			}
			if s := m.Content.String(); strings.TrimSpace(s) != "" {
				out.System = append(out.System, bedrock.SystemBlock{Text: s})
			}
		case "user":
			blocks, err := userBlocks(m.Content, p)
			if err != nil {
				return nil, err
			}
			add(bedrock.RoleUser, blocks)
		case "tool":
			text := m.Content.String()
			add(bedrock.RoleUser, []bedrock.ContentBlock{{ToolResult: &bedrock.ToolResultBlock{
				ToolUseID: m.ToolCallID,
				Content:   []bedrock.ToolResultContent{{Text: &text}},
			}}})
		case "assistant":
			var blocks []bedrock.ContentBlock
			// Claude thinking blocks go back first and verbatim, signatures included.
			for _, tb := range m.ThinkingBlocks {
				switch {
				case tb.Type == "thinking" && tb.Signature != "":
					blocks = append(blocks, bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContentBlock{
						ReasoningText: &bedrock.ReasoningText{Text: tb.Thinking, Signature: tb.Signature}}})
				case tb.Type == "redacted_thinking" && tb.Data != "":
					blocks = append(blocks, bedrock.ContentBlock{ReasoningContent: &bedrock.ReasoningContentBlock{RedactedContent: tb.Data}})
				}
			}
			if s := m.Content.String(); strings.TrimSpace(s) != "" { // blank text blocks are rejected
				blocks = append(blocks, bedrock.ContentBlock{Text: s})
			}
			for j := range m.ToolCalls {
				tc := &m.ToolCalls[j]
				input, err := objectArgs(tc.Function.Arguments, p+".tool_calls["+strconv.Itoa(j)+"].function.arguments")
				if err != nil {
					return nil, err
				}
				blocks = append(blocks, bedrock.ContentBlock{ToolUse: &bedrock.ToolUseBlock{
					ToolUseID: tc.ID, Name: tc.Function.Name, Input: input}})
			}
			add(bedrock.RoleAssistant, blocks)
		default:
			return nil, llm.InvalidParam(p+".role", "unknown role %q", m.Role)
		}
	}
	if err := mapTools(in, out); err != nil {
		return nil, err
	}
	if in.N != nil && *in.N > 1 {
		return nil, llm.InvalidParam("n", "Bedrock returns one choice")
	}
	ic := &bedrock.InferenceConfig{Temperature: in.Temperature, TopP: in.TopP}
	if n := in.MaxOutput(); n > 0 {
		ic.MaxTokens = &n
	} else if c.DefaultMaxTokens > 0 {
		n := c.DefaultMaxTokens
		ic.MaxTokens = &n
	}
	if in.Stop != nil && len(*in.Stop) > 0 {
		ic.StopSequences = *in.Stop
	}
	if ic.MaxTokens != nil || ic.Temperature != nil || ic.TopP != nil || ic.StopSequences != nil {
		out.InferenceConfig = ic
	}
	out.AdditionalModelRequestFields = additionalFields(in, c.Model, ic.MaxTokens)
	return out, nil
}

// userBlocks maps a user message's content: text, images and documents as bytes.
func userBlocks(c *openai.Content, p string) ([]bedrock.ContentBlock, error) {
	if c == nil {
		return nil, nil
	}
	if !c.IsParts() {
		if strings.TrimSpace(c.Text) == "" {
			return nil, nil
		}
		return []bedrock.ContentBlock{{Text: c.Text}}, nil
	}
	out := make([]bedrock.ContentBlock, 0, len(c.Parts))
	for j := range c.Parts {
		pt := &c.Parts[j]
		pp := p + ".content[" + strconv.Itoa(j) + "]"
		switch pt.Type {
		case "text":
			if strings.TrimSpace(pt.Text) != "" {
				out = append(out, bedrock.ContentBlock{Text: pt.Text})
			}
		case "image_url":
			if pt.ImageURL == nil {
				return nil, llm.InvalidParam(pp+".image_url.url", "is required")
			}
			mime, data, ok := parseDataURI(pt.ImageURL.URL)
			if !ok {
				return nil, llm.InvalidParam(pp+".image_url.url", "Bedrock takes images as bytes only: send a data:image/...;base64 URI, not a URL")
			}
			format, ok := imageFormats[mime]
			if !ok {
				return nil, llm.InvalidParam(pp+".image_url.url", "unsupported image type %q: want png, jpeg, gif or webp", mime)
			}
			out = append(out, bedrock.ContentBlock{Image: &bedrock.ImageBlock{Format: format, Source: bedrock.ImageSource{Bytes: data}}})
		case "file":
			if pt.File == nil || pt.File.FileData == "" {
				return nil, llm.InvalidParam(pp+".file.file_data", "Bedrock takes documents as bytes only: send file_data as a data: URI")
			}
			mime, data, ok := parseDataURI(pt.File.FileData)
			if !ok {
				return nil, llm.InvalidParam(pp+".file.file_data", "want a data:<mime type>;base64,<data> URI")
			}
			format, ok := docFormats[mime]
			if !ok {
				return nil, llm.InvalidParam(pp+".file.file_data", "unsupported document type %q", mime)
			}
			out = append(out, bedrock.ContentBlock{Document: &bedrock.DocumentBlock{
				Format: format, Name: docName(pt.File.Filename, j), Source: bedrock.ImageSource{Bytes: data}}})
		default:
			return nil, llm.InvalidParam(pp+".type", "unsupported content part type %q", pt.Type)
		}
	}
	return out, nil
}

var imageFormats = map[string]string{"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif", "image/webp": "webp"}

var docFormats = map[string]string{
	"application/pdf": "pdf", "text/csv": "csv", "text/html": "html", "text/plain": "txt", "text/markdown": "md",
	"application/msword": "doc", "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
	"application/vnd.ms-excel": "xls", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}

// docNameBad matches what a document name may not hold (Converse allows alphanumerics,
// whitespace, hyphens, parentheses and square brackets).
var docNameBad = regexp.MustCompile(`[^A-Za-z0-9\s\-\(\)\[\]]+`)

func docName(filename string, j int) string {
	if i := strings.LastIndexByte(filename, '.'); i > 0 {
		filename = filename[:i]
	}
	n := strings.TrimSpace(docNameBad.ReplaceAllString(filename, "-"))
	if n == "" {
		n = "document-" + strconv.Itoa(j)
	}
	return n
}

// parseDataURI splits data:<mime>[;params];base64,<data>.
func parseDataURI(u string) (mime, data string, ok bool) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return "", "", false
	}
	meta, data, ok := strings.Cut(rest, ",")
	if !ok || !strings.HasSuffix(meta, ";base64") || data == "" {
		return "", "", false
	}
	mime, _, _ = strings.Cut(meta, ";")
	return strings.ToLower(mime), data, mime != ""
}

// objectArgs parses tool call arguments: "" is {}, anything but a JSON object is a 400.
func objectArgs(s, p string) (json.RawMessage, error) {
	b := bytes.TrimSpace([]byte(s))
	if len(b) == 0 {
		return json.RawMessage("{}"), nil
	}
	if b[0] != '{' || !json.Valid(b) {
		return nil, llm.InvalidParam(p, "must be a JSON object")
	}
	return b, nil
}

var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

// mapTools maps tools and tool_choice. Converse has no "none": the tools are then left
// out, unless the conversation already holds tool blocks (Converse requires toolConfig
// with them), where they are kept without a choice.
func mapTools(in *openai.ChatRequest, out *bedrock.Request) error {
	if len(in.Tools) == 0 {
		if in.ToolChoice != nil && in.ToolChoice.Function != "" {
			return llm.InvalidParam("tool_choice", "function %q is not among the tools", in.ToolChoice.Function)
		}
		return nil
	}
	tools := make([]bedrock.Tool, 0, len(in.Tools))
	found := false
	for i := range in.Tools {
		t := &in.Tools[i]
		p := "tools[" + strconv.Itoa(i) + "]"
		if t.Type != "function" && t.Type != "" {
			return llm.InvalidParam(p+".type", "unsupported tool type %q: Bedrock takes function tools", t.Type)
		}
		if t.Function.Name == "" {
			return llm.InvalidParam(p+".function.name", "is required")
		}
		schema := t.Function.Parameters
		if len(bytes.TrimSpace(schema)) == 0 || string(schema) == "null" {
			schema = emptySchema
		} else if !json.Valid(schema) {
			return llm.InvalidParam(p+".function.parameters", "not valid JSON")
		}
		found = found || (in.ToolChoice != nil && t.Function.Name == in.ToolChoice.Function)
		tools = append(tools, bedrock.Tool{ToolSpec: &bedrock.ToolSpec{
			Name: t.Function.Name, Description: t.Function.Description, InputSchema: bedrock.InputSchema{JSON: schema}}})
	}
	cfg := &bedrock.ToolConfig{Tools: tools}
	if tc := in.ToolChoice; tc != nil {
		switch {
		case tc.Function != "":
			if !found {
				return llm.InvalidParam("tool_choice", "function %q is not among the tools", tc.Function)
			}
			cfg.ToolChoice = &bedrock.ToolChoice{Tool: &bedrock.SpecificTool{Name: tc.Function}}
		case tc.Mode == "required":
			cfg.ToolChoice = &bedrock.ToolChoice{Any: &bedrock.Empty{}}
		case tc.Mode == "none":
			if !hasToolBlocks(out) {
				return nil
			}
		default:
			cfg.ToolChoice = &bedrock.ToolChoice{Auto: &bedrock.Empty{}}
		}
	}
	out.ToolConfig = cfg
	return nil
}

func hasToolBlocks(r *bedrock.Request) bool {
	for i := range r.Messages {
		for j := range r.Messages[i].Content {
			if b := &r.Messages[i].Content[j]; b.ToolUse != nil || b.ToolResult != nil {
				return true
			}
		}
	}
	return false
}

// thinkingBudgets maps reasoning_effort to a Claude thinking budget.
var thinkingBudgets = map[string]int{"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384}

// additionalFields carries what Converse has no field for: top_k and Claude's thinking.
func additionalFields(in *openai.ChatRequest, model string, maxTokens *int) json.RawMessage {
	f := map[string]any{}
	if in.TopK != nil {
		f["top_k"] = *in.TopK
	}
	if budget, ok := thinkingBudgets[in.ReasoningEffort]; ok && strings.Contains(model, "anthropic.") {
		if maxTokens != nil && *maxTokens <= budget { // the budget must stay below max_tokens
			budget = max(*maxTokens-1, 1024)
		}
		f["thinking"] = map[string]any{"type": "enabled", "budget_tokens": budget}
	}
	if len(f) == 0 {
		return nil
	}
	b, _ := json.Marshal(f)
	return b
}
