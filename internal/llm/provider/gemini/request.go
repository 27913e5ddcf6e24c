package gemini

import (
	"bytes"
	"encoding/json"
	"path"
	"strconv"
	"strings"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/gemini"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// maxStopSequences is Gemini's limit on stopSequences.
const maxStopSequences = 5

// BuildRequest maps a canonical chat request to a generateContent body. Errors are
// *llm.Error of KindInvalidRequest naming the offending field.
func (a *Adapter) BuildRequest(c *llm.Call) (*gemini.Request, error) {
	in := c.Request
	out := &gemini.Request{Contents: make([]gemini.Content, 0, len(in.Messages))}
	var sys []gemini.Part
	var user []gemini.Part // user and tool parts waiting to be flushed as one user content
	// names of the tool calls seen so far, by id: functionResponse needs the name.
	names := make(map[string]string)
	flush := func() {
		if len(user) > 0 {
			out.Contents = append(out.Contents, gemini.Content{Role: gemini.RoleUser, Parts: user})
			user = nil
		}
	}
	for i := range in.Messages {
		m := &in.Messages[i]
		p := "messages[" + strconv.Itoa(i) + "]"
		switch m.Role {
		case "system", "developer":
			parts, err := textParts(m.Content, p)
			if err != nil {
				return nil, err
			}
			sys = append(sys, parts...)
		case "user":
			parts, err := userParts(m.Content, p)
			if err != nil {
				return nil, err
			}
			user = append(user, parts...)
		case "tool", "function":
			name := m.Name
			if m.Role == "tool" {
				var ok bool
				if name, ok = names[m.ToolCallID]; !ok {
					return nil, llm.InvalidParam(p+".tool_call_id", "no earlier assistant tool call has id %q (Gemini needs the function name of each result)", m.ToolCallID)
				}
			}
			resp, _ := json.Marshal(map[string]string{"output": m.Content.String()})
			user = append(user, gemini.Part{FunctionResponse: &gemini.FunctionResponse{Name: name, Response: resp}})
		case "assistant":
			var parts []gemini.Part
			// reasoning_content is not replayed: Gemini keeps its reasoning state in
			// thought signatures, not in thought text.
			if s := m.Content.String(); s != "" {
				parts = append(parts, gemini.Part{Text: s})
			}
			for j := range m.ToolCalls {
				tc := &m.ToolCalls[j]
				args, err := objectArgs(tc.Function.Arguments, p+".tool_calls["+strconv.Itoa(j)+"].function.arguments")
				if err != nil {
					return nil, err
				}
				names[tc.ID] = tc.Function.Name
				part := gemini.Part{FunctionCall: &gemini.FunctionCall{Name: tc.Function.Name, Args: args}}
				if j == 0 {
					// Gemini 3 rejects a function call turn without the signature of its
					// first call: echo it when the id carries it, else the skip value.
					part.ThoughtSignature = gemini.ThoughtSignatureSkip
					if _, sig, ok := strings.Cut(tc.ID, signatureSep); ok && sig != "" {
						part.ThoughtSignature = sig
					}
				}
				parts = append(parts, part)
			}
			if len(parts) == 0 { // Gemini rejects a content without parts: drop the turn
				continue
			}
			flush()
			if n := len(out.Contents); n > 0 && out.Contents[n-1].Role == gemini.RoleModel {
				out.Contents[n-1].Parts = append(out.Contents[n-1].Parts, parts...)
			} else {
				out.Contents = append(out.Contents, gemini.Content{Role: gemini.RoleModel, Parts: parts})
			}
		default:
			return nil, llm.InvalidParam(p+".role", "unknown role %q", m.Role)
		}
	}
	flush()
	if len(sys) > 0 {
		out.SystemInstruction = &gemini.Content{Parts: sys}
	}
	if err := mapTools(in, out); err != nil {
		return nil, err
	}
	gc, err := generationConfig(in, c.Model)
	if err != nil {
		return nil, err
	}
	out.GenerationConfig = gc
	return out, nil
}

// textParts returns the text parts of a system message.
func textParts(c *openai.Content, p string) ([]gemini.Part, error) {
	if c == nil {
		return nil, nil
	}
	if !c.IsParts() {
		if c.Text == "" {
			return nil, nil
		}
		return []gemini.Part{{Text: c.Text}}, nil
	}
	var out []gemini.Part
	for j := range c.Parts {
		if c.Parts[j].Type != "text" {
			return nil, llm.InvalidParam(p+".content["+strconv.Itoa(j)+"].type", "a system message takes only text parts, got %q", c.Parts[j].Type)
		}
		if c.Parts[j].Text != "" {
			out = append(out, gemini.Part{Text: c.Parts[j].Text})
		}
	}
	return out, nil
}

// userParts maps a user message's content: text, images, audio and files.
func userParts(c *openai.Content, p string) ([]gemini.Part, error) {
	if c == nil || !c.IsParts() {
		return textParts(c, p)
	}
	out := make([]gemini.Part, 0, len(c.Parts))
	for j := range c.Parts {
		pt := &c.Parts[j]
		pp := p + ".content[" + strconv.Itoa(j) + "]"
		switch pt.Type {
		case "text":
			if pt.Text != "" {
				out = append(out, gemini.Part{Text: pt.Text})
			}
		case "image_url":
			if pt.ImageURL == nil || pt.ImageURL.URL == "" {
				return nil, llm.InvalidParam(pp+".image_url.url", "is required")
			}
			part, err := mediaPart(pt.ImageURL.URL, pp+".image_url.url")
			if err != nil {
				return nil, err
			}
			out = append(out, part)
		case "input_audio":
			if pt.InputAudio == nil || pt.InputAudio.Data == "" {
				return nil, llm.InvalidParam(pp+".input_audio.data", "is required")
			}
			mime := "audio/" + pt.InputAudio.Format
			if pt.InputAudio.Format == "mp3" {
				mime = "audio/mp3"
			}
			out = append(out, gemini.Part{InlineData: &gemini.Blob{MimeType: mime, Data: pt.InputAudio.Data}})
		case "file":
			if pt.File == nil {
				return nil, llm.InvalidParam(pp+".file", "is required")
			}
			src, field := pt.File.FileData, ".file.file_data"
			if src == "" {
				src, field = pt.File.FileID, ".file.file_id"
			}
			part, err := mediaPart(src, pp+field)
			if err != nil {
				return nil, err
			}
			out = append(out, part)
		default:
			return nil, llm.InvalidParam(pp+".type", "unsupported content part type %q", pt.Type)
		}
	}
	return out, nil
}

// mediaPart maps a data: URI to inlineData and a gs://, https:// or Files API URI to
// fileData (the MIME type guessed from the extension).
func mediaPart(u, p string) (gemini.Part, error) {
	if strings.HasPrefix(u, "data:") {
		mime, data, ok := parseDataURI(u)
		if !ok {
			return gemini.Part{}, llm.InvalidParam(p, "a data URI must be data:<mime type>;base64,<data>")
		}
		return gemini.Part{InlineData: &gemini.Blob{MimeType: mime, Data: data}}, nil
	}
	if strings.HasPrefix(u, "gs://") || strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return gemini.Part{FileData: &gemini.FileData{MimeType: mimeFromExt(u), FileURI: u}}, nil
	}
	return gemini.Part{}, llm.InvalidParam(p, "want a data: URI or a gs:// or https:// URL")
}

// parseDataURI splits data:<mime>[;params];base64,<data>.
func parseDataURI(u string) (mime, data string, ok bool) {
	meta, data, ok := strings.Cut(strings.TrimPrefix(u, "data:"), ",")
	if !ok || !strings.HasSuffix(meta, ";base64") || data == "" {
		return "", "", false
	}
	mime, _, _ = strings.Cut(meta, ";")
	if mime == "" || !strings.Contains(mime, "/") {
		return "", "", false
	}
	return strings.ToLower(mime), data, true
}

var extMIME = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".heic": "image/heic", ".heif": "image/heif", ".pdf": "application/pdf",
	".wav": "audio/wav", ".mp3": "audio/mp3", ".mp4": "video/mp4", ".txt": "text/plain",
}

func mimeFromExt(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if m, ok := extMIME[strings.ToLower(path.Ext(u))]; ok {
		return m
	}
	return "image/jpeg"
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

// mapTools maps tools and tool_choice.
func mapTools(in *openai.ChatRequest, out *gemini.Request) error {
	if len(in.Tools) > 0 {
		decls := make([]gemini.FunctionDeclaration, 0, len(in.Tools))
		for i := range in.Tools {
			t := &in.Tools[i]
			p := "tools[" + strconv.Itoa(i) + "]"
			if t.Type != "function" && t.Type != "" {
				return llm.InvalidParam(p+".type", "unsupported tool type %q: Gemini takes function tools", t.Type)
			}
			if t.Function.Name == "" {
				return llm.InvalidParam(p+".function.name", "is required")
			}
			d := gemini.FunctionDeclaration{Name: t.Function.Name, Description: t.Function.Description}
			if len(t.Function.Parameters) > 0 {
				s, err := SanitizeSchema(t.Function.Parameters)
				if err != nil {
					return llm.InvalidParam(p+".function.parameters", "%v", err)
				}
				if !emptyObjectSchema(s) {
					d.Parameters = s
				}
			}
			decls = append(decls, d)
		}
		out.Tools = []gemini.Tool{{FunctionDeclarations: decls}}
	}
	tc := in.ToolChoice
	if tc == nil {
		return nil
	}
	cfg := &gemini.FunctionCallingConfig{}
	switch {
	case tc.Function != "":
		found := false
		for i := range in.Tools {
			found = found || in.Tools[i].Function.Name == tc.Function
		}
		if !found {
			return llm.InvalidParam("tool_choice", "function %q is not among the tools", tc.Function)
		}
		cfg.Mode, cfg.AllowedFunctionNames = gemini.ModeAny, []string{tc.Function}
	case tc.Mode == "none":
		cfg.Mode = gemini.ModeNone
	case tc.Mode == "required":
		cfg.Mode = gemini.ModeAny
	default:
		cfg.Mode = gemini.ModeAuto
	}
	if len(in.Tools) == 0 && cfg.Mode != gemini.ModeNone {
		return nil // nothing to call: leave the config out rather than have Gemini reject it
	}
	out.ToolConfig = &gemini.ToolConfig{FunctionCallingConfig: cfg}
	return nil
}

// emptyObjectSchema reports whether a sanitized schema is an object without properties,
// which Gemini rejects ("properties: should be non-empty for OBJECT type"): a no-arg tool
// is declared without parameters.
func emptyObjectSchema(s json.RawMessage) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(s, &m) != nil {
		return false
	}
	for k, v := range m {
		switch k {
		case "type":
			if string(v) != `"object"` {
				return false
			}
		case "properties":
			if string(bytes.TrimSpace(v)) != "{}" {
				return false
			}
		case "description", "required", "title":
		default:
			return false
		}
	}
	return true
}

// generationConfig maps the sampling and output parameters.
func generationConfig(in *openai.ChatRequest, model string) (*gemini.GenerationConfig, error) {
	g := &gemini.GenerationConfig{
		Temperature:      in.Temperature,
		TopP:             in.TopP,
		TopK:             in.TopK,
		CandidateCount:   in.N,
		Seed:             in.Seed,
		PresencePenalty:  in.PresencePenalty,
		FrequencyPenalty: in.FrequencyPenalty,
	}
	if n := in.MaxOutput(); n > 0 {
		g.MaxOutputTokens = &n
	}
	if in.Stop != nil && len(*in.Stop) > 0 {
		if len(*in.Stop) > maxStopSequences {
			return nil, llm.InvalidParam("stop", "Gemini takes at most %d stop sequences", maxStopSequences)
		}
		g.StopSequences = *in.Stop
	}
	if in.Logprobs != nil && *in.Logprobs {
		g.ResponseLogprobs = in.Logprobs
		g.Logprobs = in.TopLogprobs
	}
	if rf := in.ResponseFormat; rf != nil {
		switch rf.Type {
		case "text", "":
		case "json_object":
			g.ResponseMimeType = "application/json"
		case "json_schema":
			g.ResponseMimeType = "application/json"
			if rf.JSONSchema != nil && len(rf.JSONSchema.Schema) > 0 {
				s, err := SanitizeSchema(rf.JSONSchema.Schema)
				if err != nil {
					return nil, llm.InvalidParam("response_format.json_schema.schema", "%v", err)
				}
				g.ResponseSchema = s
			}
		default:
			return nil, llm.InvalidParam("response_format.type", "unsupported response format %q", rf.Type)
		}
	}
	if e := in.ReasoningEffort; e != "" {
		g.ThinkingConfig = thinkingConfig(e, model)
	}
	if b, _ := json.Marshal(g); string(b) == "{}" {
		return nil, nil
	}
	return g, nil
}

// thinkingConfig maps reasoning_effort: a budget for Gemini 2.x, a level for later models.
func thinkingConfig(effort, model string) *gemini.ThinkingConfig {
	if strings.Contains(model, "gemini-2") || strings.Contains(model, "gemini-1") {
		budgets := map[string]int{"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
		b, ok := budgets[effort]
		if !ok {
			return nil
		}
		return &gemini.ThinkingConfig{ThinkingBudget: &b}
	}
	switch effort {
	case "none", "minimal":
		return &gemini.ThinkingConfig{ThinkingLevel: "minimal"}
	case "low", "medium", "high":
		return &gemini.ThinkingConfig{ThinkingLevel: effort}
	}
	return nil
}
