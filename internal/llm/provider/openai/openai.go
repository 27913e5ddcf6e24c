// Package openai is the adapter for OpenAI and the OpenAI-compatible family (Azure OpenAI,
// Mistral, Groq, Together, DeepSeek, OpenRouter, Fireworks, xAI, vLLM, Ollama, LM Studio).
// One adapter serves them all; a Profile holds each provider's quirks.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unsafe"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/jsonscan"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/sse"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Profile holds one OpenAI-compatible provider's quirks.
type Profile struct {
	Name string
	// BaseURL is the provider's public endpoint, used when the config gives none.
	BaseURL string
	// Auth is how the key is sent: "bearer" (default), "api-key" (Azure) or "none".
	Auth string
	// DeveloperToSystem renames the developer role, which many servers reject.
	DeveloperToSystem bool
	// RequiredToAny sends tool_choice "required" as "any" (Mistral).
	RequiredToAny bool
	// SeedField renames seed (Mistral: random_seed).
	SeedField string
	// ShortToolIDs rewrites tool call ids to 9 alphanumerics (Mistral rejects others).
	ShortToolIDs bool
	// KeepReasoning sends reasoning_content back on assistant turns (DeepSeek thinking mode
	// requires it); other providers never see Pylon's extensions.
	KeepReasoning bool
	// NoStreamOptions leaves out stream_options (servers that reject it).
	NoStreamOptions bool
}

// Profiles of the providers Pylon knows, by provider type.
var Profiles = map[string]Profile{
	"openai":            {Name: "openai", BaseURL: "https://api.openai.com/v1"},
	"azure":             {Name: "azure", Auth: "api-key"},
	"openai_compatible": {Name: "openai_compatible", DeveloperToSystem: true},
	"mistral":           {Name: "mistral", BaseURL: "https://api.mistral.ai/v1", DeveloperToSystem: true, RequiredToAny: true, SeedField: "random_seed", ShortToolIDs: true},
	"groq":              {Name: "groq", BaseURL: "https://api.groq.com/openai/v1", DeveloperToSystem: true},
	"together":          {Name: "together", BaseURL: "https://api.together.xyz/v1", DeveloperToSystem: true},
	"deepseek":          {Name: "deepseek", BaseURL: "https://api.deepseek.com", DeveloperToSystem: true, KeepReasoning: true},
	"openrouter":        {Name: "openrouter", BaseURL: "https://openrouter.ai/api/v1"},
	"fireworks":         {Name: "fireworks", BaseURL: "https://api.fireworks.ai/inference/v1", DeveloperToSystem: true},
	"xai":               {Name: "xai", BaseURL: "https://api.x.ai/v1"},
	"vllm":              {Name: "vllm", BaseURL: "http://127.0.0.1:8000/v1", DeveloperToSystem: true},
	"ollama":            {Name: "ollama", BaseURL: "http://127.0.0.1:11434/v1", Auth: "none", DeveloperToSystem: true},
	"lmstudio":          {Name: "lmstudio", BaseURL: "http://127.0.0.1:1234/v1", Auth: "none", DeveloperToSystem: true},
}

// Adapter speaks the OpenAI chat API with a profile's quirks.
type Adapter struct {
	Profile Profile
	// APIVersion is Azure's api-version query parameter.
	APIVersion string
}

var _ llm.Adapter = (*Adapter)(nil)

// New returns the adapter of a provider type (a key of Profiles).
func New(providerType string) (*Adapter, error) {
	p, ok := Profiles[providerType]
	if !ok {
		return nil, fmt.Errorf("openai: unknown provider type %q", providerType)
	}
	return &Adapter{Profile: p}, nil
}

// URL returns the upstream URL of an endpoint ("chat/completions", "embeddings"...).
func (a *Adapter) URL(c *llm.Call, endpoint string) string {
	if a.Profile.Auth == "api-key" { // Azure: the deployment is in the path
		v := a.APIVersion
		if v == "" {
			v = "2024-10-21"
		}
		return c.BaseURL + "/openai/deployments/" + url.PathEscape(c.Model) + "/" + endpoint + "?api-version=" + url.QueryEscape(v)
	}
	return c.BaseURL + "/" + endpoint
}

// Authorize sets the credential header.
func (a *Adapter) Authorize(h http.Header, key string) {
	if key == "" {
		return
	}
	switch a.Profile.Auth {
	case "none":
	case "api-key":
		h.Set("Api-Key", key)
	default:
		h["Authorization"] = []string{"Bearer " + key}
	}
}

// ChatRequest builds POST {base}/chat/completions.
func (a *Adapter) ChatRequest(ctx context.Context, c *llm.Call) (*http.Request, error) {
	body, err := a.chatBody(c)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL(c, "chat/completions"), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("openai: build request: %w", err)
	}
	h := req.Header
	h["Content-Type"] = jsonType
	if c.Stream {
		h["Accept"] = sseType
	} else {
		h["Accept"] = jsonType
	}
	a.Authorize(h, c.APIKey)
	return req, nil
}

var (
	jsonType = []string{"application/json"}
	sseType  = []string{"text/event-stream"}
)

// chatBody is the client's own body with the model patched when the client spoke OpenAI
// and the profile needs no rewrite of it; otherwise the canonical request re-encoded with
// the profile's quirks applied.
func (a *Adapter) chatBody(c *llm.Call) ([]byte, error) {
	r := c.Request
	wantUsage := c.Stream && !a.Profile.NoStreamOptions
	if r.Raw != nil && !a.needsRewrite(r) {
		if c.Stream == r.Stream {
			if b, ok := patchRaw(r.Raw, c.Model, wantUsage && !r.IncludeUsage()); ok {
				return b, nil
			}
		}
		b, err := sjson.SetBytes(r.Raw, "model", c.Model)
		if err != nil {
			return nil, fmt.Errorf("openai: patch model: %w", err)
		}
		if c.Stream != r.Stream {
			if b, err = sjson.SetBytes(b, "stream", c.Stream); err != nil {
				return nil, fmt.Errorf("openai: patch stream: %w", err)
			}
		}
		if wantUsage && !r.IncludeUsage() {
			// Usage is always asked for, so that every call is accounted; the dialect
			// drops the extra chunk for clients that did not ask. Only include_usage is
			// set: the client's other stream options (include_obfuscation) stay.
			if b, err = sjson.SetBytes(b, "stream_options.include_usage", true); err != nil {
				return nil, fmt.Errorf("openai: patch stream_options: %w", err)
			}
		}
		return b, nil
	}
	out := *r
	out.Raw = nil
	out.Model = c.Model
	out.Stream = c.Stream
	out.StreamOptions = nil
	if wantUsage {
		out.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	}
	out.TopK = nil
	out.Thinking = nil // Anthropic's, kept in the canonical form for Anthropic upstreams
	if hasToolCacheControl(r.Tools) {
		out.Tools = make([]openai.Tool, len(r.Tools))
		for i, t := range r.Tools {
			t.CacheControl = nil
			out.Tools[i] = t
		}
	}
	p := a.Profile
	if p.RequiredToAny && r.ToolChoice != nil && r.ToolChoice.Mode == "required" {
		out.ToolChoice = &openai.ToolChoice{Mode: "any"}
	}
	msgs := make([]openai.Message, len(r.Messages))
	for i, m := range r.Messages {
		if p.DeveloperToSystem && m.Role == "developer" {
			m.Role = "system"
		}
		if !p.KeepReasoning {
			m.ReasoningContent = ""
		}
		m.ThinkingBlocks = nil
		if m.Content != nil && hasPartCacheControl(m.Content.Parts) {
			parts := make([]openai.Part, len(m.Content.Parts))
			for j, part := range m.Content.Parts {
				part.CacheControl = nil
				parts[j] = part
			}
			m.Content = &openai.Content{Parts: parts}
		}
		if p.ShortToolIDs {
			if m.ToolCallID != "" {
				m.ToolCallID = shortID(m.ToolCallID)
			}
			if len(m.ToolCalls) > 0 {
				tcs := make([]openai.ToolCall, len(m.ToolCalls))
				for j, tc := range m.ToolCalls {
					tc.ID = shortID(tc.ID)
					tcs[j] = tc
				}
				m.ToolCalls = tcs
			}
		}
		msgs[i] = m
	}
	out.Messages = msgs
	b, err := json.Marshal(&out)
	if err != nil {
		return nil, fmt.Errorf("openai: encode request: %w", err)
	}
	if p.SeedField != "" && r.Seed != nil {
		if b, err = sjson.DeleteBytes(b, "seed"); err == nil {
			b, err = sjson.SetBytes(b, p.SeedField, *r.Seed)
		}
		if err != nil {
			return nil, fmt.Errorf("openai: rename seed: %w", err)
		}
	}
	return b, nil
}

// patchRaw makes the patches of chatBody's raw path (the model; include_usage when
// addUsage) in one scan and one allocation, with the bytes sjson would write. It reports
// false for the shapes it leaves to sjson: a key written with escapes, no model member,
// stream_options already present when include_usage must be set.
func patchRaw(raw []byte, model string, addUsage bool) ([]byte, bool) {
	ms, me := -1, -1
	escaped, hasOptions := false, false
	valid := jsonscan.Members(raw, func(k, v []byte) {
		switch string(k) {
		case "model":
			if ms < 0 { // the first, as sjson finds it
				ms = cap(raw) - cap(v) // v is a window of raw
				me = ms + len(v)
			}
		case "stream_options":
			hasOptions = true
		default:
			escaped = escaped || bytes.IndexByte(k, '\\') >= 0
		}
	})
	if !valid || escaped || ms <= 0 || (addUsage && hasOptions) {
		return nil, false
	}
	out := make([]byte, 0, len(raw)+len(model)+len(usageMember)+2)
	if !addUsage {
		out = append(out, raw[:ms]...)
		out = appendStringify(out, model)
		return append(out, raw[me:]...), true
	}
	// sjson adds a missing member before the closing brace of the object, which it takes
	// without the whitespace around it.
	start, end := jsonscan.SkipSpace(raw, 0), bytes.LastIndexByte(raw, '}')
	out = append(out, raw[start:ms]...)
	out = appendStringify(out, model)
	out = append(out, raw[me:end]...)
	return append(out, usageMember...), true
}

const usageMember = `,"stream_options":{"include_usage":true}}`

// appendStringify appends s as a JSON string as sjson writes it: as it is when nothing
// needs escaping, else as encoding/json escapes it.
func appendStringify(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > 0x7f || c == '"' || c == '\\' {
			m, _ := json.Marshal(s)
			return append(b, m...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// needsRewrite reports whether the profile must change more than the model of r.
func (a *Adapter) needsRewrite(r *openai.ChatRequest) bool {
	p := a.Profile
	if p.SeedField != "" && r.Seed != nil {
		return true
	}
	if p.RequiredToAny && r.ToolChoice != nil && r.ToolChoice.Mode == "required" {
		return true
	}
	if r.TopK != nil && (p.Name == "openai" || p.Name == "azure") {
		return true
	}
	if r.Thinking != nil || hasToolCacheControl(r.Tools) {
		return true
	}
	for i := range r.Messages {
		m := &r.Messages[i]
		if p.DeveloperToSystem && m.Role == "developer" {
			return true
		}
		if m.Content != nil && hasPartCacheControl(m.Content.Parts) {
			return true
		}
		if m.ThinkingBlocks != nil || (!p.KeepReasoning && m.ReasoningContent != "") {
			return true
		}
		if p.ShortToolIDs && (m.ToolCallID != "" && !isShortID(m.ToolCallID)) {
			return true
		}
		if p.ShortToolIDs {
			for _, tc := range m.ToolCalls {
				if !isShortID(tc.ID) {
					return true
				}
			}
		}
	}
	return false
}

func hasToolCacheControl(ts []openai.Tool) bool {
	for i := range ts {
		if ts[i].CacheControl != nil {
			return true
		}
	}
	return false
}

func hasPartCacheControl(ps []openai.Part) bool {
	for i := range ps {
		if ps[i].CacheControl != nil {
			return true
		}
	}
	return false
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// shortID maps a tool call id to 9 alphanumerics, deterministically, so that a call and its
// result keep matching ids across turns. Ids that already fit are kept.
func shortID(id string) string {
	if isShortID(id) {
		return id
	}
	// FNV-1a 64, then base62 digits.
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	var b [9]byte
	for i := range b {
		b[i] = alnum[h%62]
		h /= 62
		if h == 0 {
			h = uint64(len(id))*2654435761 + uint64(i)
		}
	}
	return string(b[:])
}

func isShortID(id string) bool {
	if len(id) != 9 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if strings.IndexByte(alnum, id[i]) < 0 {
			return false
		}
	}
	return true
}

// maxBody bounds a non-streamed answer read into memory.
const maxBody = 64 << 20

// DecodeChat decodes a chat.completion body; the body is kept as Raw.
func (a *Adapter) DecodeChat(resp *http.Response, c *llm.Call) (*openai.ChatResponse, error) {
	body, err := readBody(resp)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindUpstream, Message: "reading the upstream answer: " + err.Error()}
	}
	if len(body) > maxBody {
		return nil, llm.Errorf(llm.KindUpstream, "upstream answer larger than %d bytes", maxBody)
	}
	if a.Profile.Name == "openai" || a.Profile.Name == "azure" || a.Profile.Name == "openai_compatible" {
		// The answer may go to an OpenAI client as it came: check it and read only its
		// usage now; ChatResponse.Decode parses the rest if another dialect needs it.
		choices, u, known := scanAnswer(body)
		if !known {
			if !gjson.ValidBytes(body) {
				return nil, llm.Errorf(llm.KindUpstream, "upstream answer is not valid JSON")
			}
			choices, u = gjson.GetBytes(body, "choices"), gjson.GetBytes(body, "usage")
		}
		if !choices.IsArray() {
			if e := errorInBody(body); e != nil {
				return nil, e
			}
			return nil, llm.Errorf(llm.KindUpstream, "upstream answer has no choices")
		}
		out := &openai.ChatResponse{Raw: body}
		if u.IsObject() {
			out.Usage = usageOf(u)
		}
		return out, nil
	}
	var out openai.ChatResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, llm.Errorf(llm.KindUpstream, "upstream answer is not a chat completion: %v", err)
	}
	if out.Choices == nil {
		// Some compatible servers answer 200 with an error object.
		if e := errorInBody(body); e != nil {
			return nil, e
		}
		return nil, llm.Errorf(llm.KindUpstream, "upstream answer has no choices")
	}
	return &out, nil
}

// scanAnswer validates a chat.completion and finds its choices and usage as gjson's Get
// finds them (the first member of each key), in one scan. known is false when the scan
// cannot tell (not JSON by its reading, a key written with escapes): the caller asks gjson.
func scanAnswer(body []byte) (choices, usage gjson.Result, known bool) {
	var c, u []byte
	escaped := false
	valid := jsonscan.Members(body, func(k, v []byte) {
		switch string(k) {
		case "choices":
			c = firstSpan(c, v)
		case "usage":
			u = firstSpan(u, v)
		default:
			escaped = escaped || bytes.IndexByte(k, '\\') >= 0
		}
	})
	if !valid || escaped {
		return gjson.Result{}, gjson.Result{}, false
	}
	return span(c), span(u), true
}

// usageOf reads a usage object without decoding the rest of the answer.
func usageOf(u gjson.Result) *openai.Usage {
	if out, ok := usageScan(u.Raw); ok {
		return out
	}
	return usageForEach(u)
}

// usageBlock holds a usage and its details in one allocation.
type usageBlock struct {
	usage      openai.Usage
	prompt     openai.PromptTokensDetails
	completion openai.CompletionTokensDetails
}

// usageScan is usageOf in one jsonscan pass, reading what gjson reads (the first member of
// each key, the numbers as Result.Int does). ok is false when a key is written with
// escapes or a detail cannot be read as surely: usageForEach answers then.
func usageScan(raw string) (out *openai.Usage, ok bool) {
	if raw == "" {
		return nil, false
	}
	var prompt, completion, total, pd, cd []byte
	escaped := false
	valid := jsonscan.Members(unsafe.Slice(unsafe.StringData(raw), len(raw)), func(k, v []byte) {
		switch string(k) {
		case "prompt_tokens":
			prompt = firstSpan(prompt, v)
		case "completion_tokens":
			completion = firstSpan(completion, v)
		case "total_tokens":
			total = firstSpan(total, v)
		case "prompt_tokens_details":
			pd = firstSpan(pd, v)
		case "completion_tokens_details":
			cd = firstSpan(cd, v)
		default:
			escaped = escaped || bytes.IndexByte(k, '\\') >= 0
		}
	})
	if !valid || escaped {
		return nil, false
	}
	b := new(usageBlock)
	b.usage = openai.Usage{PromptTokens: int(intOf(prompt)), CompletionTokens: int(intOf(completion)), TotalTokens: int(intOf(total))}
	if len(pd) > 0 && pd[0] == '{' {
		cached, ok1 := jsonscan.Get(pd, "cached_tokens")
		write, ok2 := jsonscan.Get(pd, "cache_write_tokens")
		if !ok1 || !ok2 {
			return nil, false
		}
		b.prompt = openai.PromptTokensDetails{CachedTokens: int(intOf(cached)), CacheCreationTokens: int(intOf(write))}
		b.usage.PromptTokensDetails = &b.prompt
	}
	if len(cd) > 0 && cd[0] == '{' {
		reasoning, ok := jsonscan.Get(cd, "reasoning_tokens")
		if !ok {
			return nil, false
		}
		b.completion = openai.CompletionTokensDetails{ReasoningTokens: int(intOf(reasoning))}
		b.usage.CompletionTokensDetails = &b.completion
	}
	return &b.usage, true
}

// intOf is gjson's Result.Int of a value: a plain integer of up to 15 digits is read here,
// anything else by gjson.
func intOf(v []byte) int64 {
	d := v
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 15 || (d[0] == '0' && len(d) > 1) {
		return span(v).Int()
	}
	var n int64
	for _, c := range d {
		if c < '0' || c > '9' {
			return span(v).Int()
		}
		n = n*10 + int64(c-'0')
	}
	if len(d) != len(v) {
		n = -n
	}
	return n
}

// usageForEach is usageOf with gjson, for the usages usageScan leaves.
func usageForEach(u gjson.Result) *openai.Usage {
	// One pass over the members instead of a Get each; the first of a key counts, as for Get.
	var prompt, completion, total, pd, cd gjson.Result
	u.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "prompt_tokens":
			firstOf(&prompt, v)
		case "completion_tokens":
			firstOf(&completion, v)
		case "total_tokens":
			firstOf(&total, v)
		case "prompt_tokens_details":
			firstOf(&pd, v)
		case "completion_tokens_details":
			firstOf(&cd, v)
		}
		return true
	})
	out := &openai.Usage{
		PromptTokens:     int(prompt.Int()),
		CompletionTokens: int(completion.Int()),
		TotalTokens:      int(total.Int()),
	}
	if d := pd; d.IsObject() {
		out.PromptTokensDetails = &openai.PromptTokensDetails{
			CachedTokens:        int(d.Get("cached_tokens").Int()),
			CacheCreationTokens: int(d.Get("cache_write_tokens").Int()),
		}
	}
	if d := cd; d.IsObject() {
		out.CompletionTokensDetails = &openai.CompletionTokensDetails{ReasoningTokens: int(d.Get("reasoning_tokens").Int())}
	}
	return out
}

// firstOf sets *r to v unless it holds a value already.
func firstOf(r *gjson.Result, v gjson.Result) {
	if r.Raw == "" {
		*r = v
	}
}

// readBody reads an answer whole, in one allocation when its length is known, bounded.
func readBody(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= maxBody {
		b := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
}

// errorInBody returns the error of a body shaped {"error": {...}}, or nil.
func errorInBody(body []byte) *llm.Error {
	var eb struct {
		Error *struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &eb) != nil || eb.Error == nil {
		return nil
	}
	k := llm.KindUpstream
	// OpenAI names a rate limit in code (type is "requests" or "tokens"); OpenRouter gives
	// the HTTP status as a numeric code.
	var code string
	var status int
	if json.Unmarshal(eb.Error.Code, &code) != nil && json.Unmarshal(eb.Error.Code, &status) == nil && status >= 400 {
		k = llm.KindForStatus(status)
	}
	switch {
	case eb.Error.Type == "insufficient_quota" || code == "insufficient_quota":
		k = llm.KindQuota
	case eb.Error.Type == "rate_limit_exceeded" || eb.Error.Type == "rate_limit_error" || code == "rate_limit_exceeded":
		k = llm.KindRateLimit
	case eb.Error.Type == "invalid_request_error":
		k = llm.KindInvalidRequest
	}
	msg := eb.Error.Message
	if msg == "" {
		msg = "upstream error"
	}
	return &llm.Error{Kind: k, Message: msg, Code: code}
}

// DecodeError maps an OpenAI-shaped error answer.
func (a *Adapter) DecodeError(resp *http.Response, body []byte) *llm.Error {
	e := &llm.Error{Kind: llm.KindForStatus(resp.StatusCode), Upstream: resp.StatusCode}
	var eb struct {
		Error struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"`
			Param   *string         `json:"param"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &eb) == nil && eb.Error.Message != "" {
		e.Message = eb.Error.Message
		var code string
		if json.Unmarshal(eb.Error.Code, &code) == nil {
			e.Code = code
		}
		if eb.Error.Param != nil {
			e.Param = *eb.Error.Param
		}
		if eb.Error.Type == "insufficient_quota" || e.Code == "insufficient_quota" {
			e.Kind = llm.KindQuota
		}
	} else {
		e.Message = fmt.Sprintf("upstream answered %d", resp.StatusCode)
	}
	e.RetryAfter = llm.ParseRetryAfter(resp.Header, time.Now())
	return e
}

// ChatStream decodes an SSE stream of chat.completion.chunk events.
func (a *Adapter) ChatStream(resp *http.Response, c *llm.Call) llm.ChunkReader {
	return &chunkReader{body: resp.Body, r: sse.NewReader(resp.Body), keepRaw: a.Profile.Name != "mistral"}
}

type chunkReader struct {
	body    io.ReadCloser
	r       *sse.Reader
	done    bool
	keepRaw bool
	err     error             // the error that ended the stream, returned again
	usage   *openai.ChatChunk // a usage report split off the last chunk, returned next
	slab    []byte            // where the raw copies of chunks are cut from
	chunks  []openai.ChatChunk
}

var doneMarker = []byte("[DONE]")

// plainChunk reports, in one pass over the top-level keys, whether a chunk has choices and
// no usage to split off (no usage object, no Groq x_groq): the common chunk, which goes to an
// OpenAI client as it came.
func plainChunk(data []byte) bool {
	if len(data) == 0 {
		return false
	}
	choices, other := false, false
	// A string view of data without a copy: nothing of the parse outlives this call.
	gjson.Parse(unsafe.String(&data[0], len(data))).ForEach(func(k, v gjson.Result) bool {
		// Keys compare as encoding/json does (case-insensitively), so that a decoded chunk
		// never finds a usage this scan missed.
		switch {
		case strings.EqualFold(k.Str, "choices"):
			choices = v.IsArray() && len(v.Raw) > 2 && strings.TrimSpace(v.Raw[1:len(v.Raw)-1]) != ""
		case strings.EqualFold(k.Str, "usage"):
			other = other || v.IsObject()
		case strings.EqualFold(k.Str, "x_groq"):
			other = true
		}
		return !other
	})
	return choices && !other
}

// scanChunk is plainChunk and the check that data is JSON in one scan, for the chunks
// that make most of a stream. known is false when the scan cannot tell for sure (data is
// not JSON by its reading, or a key is written with escapes): the caller then takes the
// general path, whose answer is the reference.
//
// errKey reports a top-level key that encoding/json matches to "error": without one,
// errorInBody finds no error in data.
func scanChunk(data []byte) (plain, known, errKey bool) {
	choices, other, escaped := false, false, false
	valid := jsonscan.Members(data, func(k, v []byte) {
		if len(k) == 0 {
			return
		}
		// Only keys starting with c, u, x or e may match: no other character folds to them.
		switch k[0] | 0x20 {
		case 'c', 'u', 'x':
		case 'e':
			errKey = errKey || bytes.EqualFold(k, keyError)
			escaped = escaped || bytes.IndexByte(k, '\\') >= 0
			return
		default:
			escaped = escaped || k[0] == '\\'
			return
		}
		if bytes.IndexByte(k, '\\') >= 0 {
			escaped = true
			return
		}
		// Keys compare as encoding/json does, as in plainChunk.
		switch {
		case bytes.EqualFold(k, keyChoices):
			choices = v[0] == '[' && v[len(v)-1] == ']' && len(bytes.TrimLeft(v[1:len(v)-1], " \t\r\n")) > 0
		case bytes.EqualFold(k, keyUsage):
			other = other || v[0] == '{'
		case bytes.EqualFold(k, keyXGroq):
			other = true
		}
	})
	return choices && !other, valid && !escaped, errKey
}

var (
	keyError   = []byte("error")
	keyChoices = []byte("choices")
	keyUsage   = []byte("usage")
	keyXGroq   = []byte("x_groq")
)

// usageChunk reads OpenAI's usage report (no choices, a usage object) without decoding the
// whole event; nil when the event is something else.
func usageChunk(data []byte) *openai.ChatChunk {
	// One scan gathers the members Get would find (the first of each key); a key written
	// with escapes sends the chunk to usageChunkGet, which unescapes keys.
	var id, object, created, model, fp, usage, choices []byte
	groq, escaped := false, false
	ok := jsonscan.Members(data, func(k, v []byte) {
		switch string(k) {
		case "id":
			id = firstSpan(id, v)
		case "object":
			object = firstSpan(object, v)
		case "created":
			created = firstSpan(created, v)
		case "model":
			model = firstSpan(model, v)
		case "system_fingerprint":
			fp = firstSpan(fp, v)
		case "usage":
			usage = firstSpan(usage, v)
		case "choices":
			choices = firstSpan(choices, v)
		case "x_groq":
			groq = true
		default:
			escaped = escaped || bytes.IndexByte(k, '\\') >= 0
		}
	})
	if !ok || escaped {
		return usageChunkGet(data)
	}
	if len(usage) == 0 || usage[0] != '{' || groq || !emptyChoices(choices) {
		return nil
	}
	// The strings are cloned: the spans view the reader's buffer, which the next event
	// overwrites.
	ch := &openai.ChatChunk{ID: strings.Clone(span(id).String()), Object: strings.Clone(span(object).String()),
		Created: span(created).Int(), Model: strings.Clone(span(model).String()),
		SystemFingerprint: strings.Clone(span(fp).String()), Usage: usageOf(span(usage))}
	if len(choices) > 0 && choices[0] == '[' {
		ch.Choices = []openai.ChunkChoice{}
	}
	return ch
}

func firstSpan(have, v []byte) []byte {
	if have == nil {
		return v
	}
	return have
}

// span parses a value found by jsonscan as gjson's Get would have returned it.
func span(v []byte) gjson.Result {
	if len(v) == 0 {
		return gjson.Result{}
	}
	return gjson.Parse(unsafe.String(&v[0], len(v)))
}

// emptyChoices reports whether a choices value counts no choice, as len(Array()) == 0:
// absent, null or an empty array.
func emptyChoices(v []byte) bool {
	switch {
	case len(v) == 0 || string(v) == "null":
		return true
	case v[0] == '[':
		return len(bytes.TrimLeft(v[1:len(v)-1], " \t\r\n")) == 0
	}
	return false
}

// usageChunkGet is usageChunk with gjson's Get, for the chunks whose keys need unescaping.
func usageChunkGet(data []byte) *openai.ChatChunk {
	r := gjson.Parse(unsafe.String(&data[0], len(data)))
	u := r.Get("usage")
	if !u.IsObject() || len(r.Get("choices").Array()) != 0 || r.Get("x_groq").Exists() {
		return nil
	}
	// The strings are cloned: r views the reader's buffer, which the next event overwrites.
	ch := &openai.ChatChunk{ID: strings.Clone(r.Get("id").String()), Object: strings.Clone(r.Get("object").String()),
		Created: r.Get("created").Int(), Model: strings.Clone(r.Get("model").String()),
		SystemFingerprint: strings.Clone(r.Get("system_fingerprint").String()), Usage: usageOf(u)}
	if r.Get("choices").IsArray() {
		ch.Choices = []openai.ChunkChoice{}
	}
	return ch
}

// Ready reports whether the next chunk is already buffered (see llm.Ready).
func (c *chunkReader) Ready() bool { return c.usage != nil || c.r.Ready() }

func (c *chunkReader) Next() (*openai.ChatChunk, error) {
	if u := c.usage; u != nil {
		c.usage = nil
		return u, nil
	}
	if c.done {
		return nil, io.EOF
	}
	if c.err != nil {
		return nil, c.err
	}
	ch, err := c.next()
	if err != nil && err != io.EOF {
		c.err = err // an error ends the stream: what follows it is not read
	}
	return ch, err
}

func (c *chunkReader) next() (*openai.ChatChunk, error) {
	for {
		ev, err := c.r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, llm.ErrTruncated()
			}
			return nil, &llm.Error{Kind: llm.KindUpstream, Message: "reading the upstream stream: " + err.Error()}
		}
		data := bytes.TrimSpace(ev.Data)
		if len(data) == 0 {
			continue
		}
		if bytes.Equal(data, doneMarker) {
			c.done = true
			return nil, io.EOF
		}
		// One scan of the common chunk tells whether it is JSON, plain, and may be an error
		// (a top-level key that reads "error" to encoding/json): only then is the error
		// looked for, under the same condition as without the scan.
		var plain, known, errKey bool
		if c.keepRaw {
			plain, known, errKey = scanChunk(data)
		}
		if ev.Name == "error" || ((!known || errKey) && bytes.Contains(data, []byte(`"error"`))) {
			if e := errorInBody(data); e != nil {
				return nil, e
			}
		}
		if c.keepRaw {
			// The common chunk, with choices and no usage, goes to an OpenAI client as it
			// came: check it is JSON and leave it undecoded (ChatChunk.Decode, if needed).
			if !known {
				if !gjson.ValidBytes(data) {
					return nil, llm.Errorf(llm.KindUpstream, "upstream stream event is not JSON")
				}
				plain = plainChunk(data)
			}
			if plain {
				return c.lazyChunk(data), nil
			}
			if ch := usageChunk(data); ch != nil {
				return ch, nil
			}
		}
		var ch openai.ChatChunk
		if err := json.Unmarshal(data, &ch); err != nil {
			return nil, llm.Errorf(llm.KindUpstream, "upstream stream event is not a chat chunk: %v", err)
		}
		if ch.Usage == nil && bytes.Contains(data, []byte(`"x_groq"`)) {
			var g struct {
				XGroq struct {
					Usage *openai.Usage `json:"usage"`
				} `json:"x_groq"`
			}
			if json.Unmarshal(data, &g) == nil {
				ch.Usage = g.XGroq.Usage
			}
		}
		if len(ch.Choices) == 0 && ch.Usage == nil {
			continue // Azure's prompt_filter_results and other choice-less events
		}
		if c.keepRaw && len(ch.Choices) > 0 {
			ch.Raw = append([]byte(nil), data...)
		}
		if ch.Usage != nil && len(ch.Choices) > 0 {
			// Usage on a chunk with choices (DeepSeek, Mistral, Groq's x_groq, vLLM's
			// continuous usage): the reader's contract is a separate usage chunk after it,
			// which an OpenAI client gets only if it asked, as from OpenAI.
			c.usage = &openai.ChatChunk{ID: ch.ID, Object: ch.Object, Created: ch.Created, Model: ch.Model,
				SystemFingerprint: ch.SystemFingerprint, Usage: ch.Usage}
			ch.Usage = nil
			if ch.Raw != nil && gjson.GetBytes(ch.Raw, "usage").Exists() {
				if raw, err := sjson.DeleteBytes(ch.Raw, "usage"); err == nil {
					ch.Raw = raw
				}
			}
		}
		return &ch, nil
	}
}

// lazyChunk returns an undecoded chunk of a copy of data. The copies and the chunks of a
// stream are cut from blocks shared by several of them, which double in size as the
// stream goes on: a few allocations per stream instead of two per chunk. Each copy is
// capped, so that an append to one never writes into the next.
func (c *chunkReader) lazyChunk(data []byte) *openai.ChatChunk {
	var raw []byte
	if n := len(c.slab); len(data) <= cap(c.slab)-n {
		c.slab = append(c.slab, data...)
		raw = c.slab[n:len(c.slab):len(c.slab)]
	} else if size := min(max(2*cap(c.slab), minSlab), maxSlab); len(data) <= size/2 {
		c.slab = append(make([]byte, 0, size), data...)
		raw = c.slab[:len(data):len(data)]
	} else {
		raw = append([]byte(nil), data...)
	}
	if len(c.chunks) == cap(c.chunks) {
		c.chunks = make([]openai.ChatChunk, 0, min(max(2*cap(c.chunks), minBatch), maxBatch))
	}
	c.chunks = append(c.chunks, openai.ChatChunk{Raw: raw})
	return &c.chunks[len(c.chunks)-1]
}

// The sizes of the blocks lazyChunk cuts copies and chunks from.
const (
	minSlab, maxSlab   = 1024, 4096
	minBatch, maxBatch = 4, 32
)

// Close closes the upstream body and gives the event reader's buffers back: the chunks
// returned hold copies of their data, nothing of the reader.
func (c *chunkReader) Close() error {
	err := c.body.Close()
	c.r.Release()
	return err
}
