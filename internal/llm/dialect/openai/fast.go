package openai

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/pylon-gateway/pylon/internal/llm/jsonscan"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// fastParse decodes the common shape of a chat request (string or text-part contents, tool
// calls, function tools, the usual scalars) in one pass, without encoding/json's
// reflection. It produces exactly what json.Unmarshal would, or reports false: invalid
// JSON, a type encoding/json would refuse, a field it does not decode itself (response
// format, thinking blocks...), a key that differs from a field's name only by case or is
// written with escapes, a field given twice. ParseChat then takes encoding/json's path,
// which stays the reference, errors included.
func fastParse(body []byte) (*openai.ChatRequest, bool) {
	p := parser{d: body}
	req := new(openai.ChatRequest)
	p.i = jsonscan.SkipSpace(body, 0)
	if !p.object(1, (*chatRequest)(req).member) || jsonscan.SkipSpace(body, p.i) != len(body) {
		return nil, false
	}
	return req, true
}

// parser walks a JSON text; a method reporting false leaves it in an unspecified state.
type parser struct {
	d    []byte
	i    int
	seen uint64 // the fields of the current object already decoded, by bit
}

// object decodes the object at p.i, calling fn with each key (as written, p.i at the
// value), which must consume the value. depth counts the containers including this one.
// memberFunc decodes the member key of an object at the given depth.
type memberFunc func(p *parser, key []byte, depth int) bool

// objects decodes an array of objects (one level below depth) into *dst, never nil, each
// member of an element by member(element, ...).
func objects[T any](p *parser, depth int, dst *[]T, member func(e *T, p *parser, key []byte, depth int) bool) bool {
	*dst = []T{}
	return p.array(func(p *parser) bool {
		var zero T
		*dst = append(*dst, zero)
		e := &(*dst)[len(*dst)-1]
		return p.object(depth+2, func(p *parser, key []byte, depth int) bool { return member(e, p, key, depth) })
	})
}

func (p *parser) object(depth int, fn memberFunc) bool {
	d := p.d
	if p.i >= len(d) || d[p.i] != '{' {
		return false
	}
	saved := p.seen
	p.seen = 0
	p.i = jsonscan.SkipSpace(d, p.i+1)
	if p.i < len(d) && d[p.i] == '}' {
		p.i++
		p.seen = saved
		return true
	}
	for {
		if p.i >= len(d) || d[p.i] != '"' {
			return false
		}
		end := jsonscan.String(d, p.i+1)
		if end < 0 {
			return false
		}
		key := d[p.i+1 : end-1]
		p.i = jsonscan.SkipSpace(d, end)
		if p.i >= len(d) || d[p.i] != ':' {
			return false
		}
		p.i = jsonscan.SkipSpace(d, p.i+1)
		if !fn(p, key, depth) {
			return false
		}
		p.i = jsonscan.SkipSpace(d, p.i)
		if p.i >= len(d) {
			return false
		}
		switch d[p.i] {
		case ',':
			p.i = jsonscan.SkipSpace(d, p.i+1)
		case '}':
			p.i++
			p.seen = saved
			return true
		default:
			return false
		}
	}
}

// array decodes the array at p.i, calling fn at each element, which must consume it.
func (p *parser) array(fn func(p *parser) bool) bool {
	d := p.d
	if p.i >= len(d) || d[p.i] != '[' {
		return false
	}
	p.i = jsonscan.SkipSpace(d, p.i+1)
	if p.i < len(d) && d[p.i] == ']' {
		p.i++
		return true
	}
	for {
		if !fn(p) {
			return false
		}
		p.i = jsonscan.SkipSpace(d, p.i)
		if p.i >= len(d) {
			return false
		}
		switch d[p.i] {
		case ',':
			p.i = jsonscan.SkipSpace(d, p.i+1)
		case ']':
			p.i++
			return true
		default:
			return false
		}
	}
}

// first marks field bit as decoded in the current object; false when it was already.
func (p *parser) first(bit uint) bool {
	if p.seen&(1<<bit) != 0 {
		return false
	}
	p.seen |= 1 << bit
	return true
}

// skip consumes a member that is no field of names. A key that encoding/json would match
// to one of them (case-insensitively, or after unescaping) is not skipped: false.
func (p *parser) skip(key []byte, depth int, names []string) bool {
	if bytes.IndexByte(key, '\\') >= 0 {
		return false
	}
	for _, n := range names {
		if bytes.EqualFold(key, unsafe.Slice(unsafe.StringData(n), len(n))) {
			return false
		}
	}
	p.i = jsonscan.Value(p.d, p.i, depth)
	return p.i >= 0
}

// null consumes a null literal at p.i, if there is one.
func (p *parser) null() bool {
	if len(p.d)-p.i >= 4 && string(p.d[p.i:p.i+4]) == "null" {
		p.i += 4
		return true
	}
	return false
}

// str decodes a string (not null).
func (p *parser) str() (string, bool) {
	d := p.d
	if p.i >= len(d) || d[p.i] != '"' {
		return "", false
	}
	start := p.i
	end := jsonscan.String(d, start+1)
	if end < 0 {
		return "", false
	}
	p.i = end
	raw := d[start+1 : end-1]
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw), true
	}
	var s string // escapes and invalid UTF-8: encoding/json's own unquoting
	if json.Unmarshal(d[start:end], &s) != nil {
		return "", false
	}
	return s, true
}

// setStr decodes a string field: null leaves it as it is, as encoding/json does.
func (p *parser) setStr(s *string) bool {
	if p.null() {
		return true
	}
	v, ok := p.str()
	*s = v
	return ok
}

// number returns the number at p.i as written.
func (p *parser) number() ([]byte, bool) {
	d := p.d
	if p.i >= len(d) || !(d[p.i] == '-' || (d[p.i] >= '0' && d[p.i] <= '9')) {
		return nil, false
	}
	start := p.i
	p.i = jsonscan.Value(d, start, 0)
	if p.i < 0 {
		return nil, false
	}
	return d[start:p.i], true
}

// setFloat decodes a *float64 field: null sets it to nil.
func (p *parser) setFloat(f **float64) bool {
	if p.null() {
		*f = nil
		return true
	}
	n, ok := p.number()
	if !ok {
		return false
	}
	v, err := strconv.ParseFloat(unsafe.String(&n[0], len(n)), 64)
	if err != nil {
		return false
	}
	*f = &v
	return true
}

// integer decodes an integer written without fraction or exponent, as encoding/json takes
// into an int field.
func (p *parser) integer() (int64, bool) {
	n, ok := p.number()
	if !ok || bytes.IndexAny(n, ".eE") >= 0 {
		return 0, false
	}
	v, err := strconv.ParseInt(unsafe.String(&n[0], len(n)), 10, 64)
	return v, err == nil
}

// setInt decodes a *int field: null sets it to nil.
func (p *parser) setInt(f **int) bool {
	if p.null() {
		*f = nil
		return true
	}
	v, ok := p.integer()
	if !ok || int64(int(v)) != v {
		return false
	}
	n := int(v)
	*f = &n
	return true
}

// boolean decodes true or false.
func (p *parser) boolean() (bool, bool) {
	d := p.d
	switch {
	case len(d)-p.i >= 4 && string(d[p.i:p.i+4]) == "true":
		p.i += 4
		return true, true
	case len(d)-p.i >= 5 && string(d[p.i:p.i+5]) == "false":
		p.i += 5
		return false, true
	}
	return false, false
}

// setBoolPtr decodes a *bool field: null sets it to nil.
func (p *parser) setBoolPtr(f **bool) bool {
	if p.null() {
		*f = nil
		return true
	}
	v, ok := p.boolean()
	*f = &v
	return ok
}

// raw decodes a json.RawMessage field: a copy of the value as written. null is left to
// encoding/json.
func (p *parser) raw(f *json.RawMessage, depth int) bool {
	start := p.i
	if p.null() {
		return false
	}
	p.i = jsonscan.Value(p.d, start, depth)
	if p.i < 0 {
		return false
	}
	*f = append(json.RawMessage(nil), p.d[start:p.i]...)
	return true
}

// requestFields are the JSON names of ChatRequest's fields.
var requestFields = []string{"model", "messages", "tools", "tool_choice", "parallel_tool_calls", "response_format",
	"temperature", "top_p", "max_tokens", "max_completion_tokens", "n", "stop", "stream", "stream_options", "seed",
	"user", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "logit_bias", "reasoning_effort",
	"metadata", "top_k", "thinking"}

// member decodes one member of a chat request.
func (r *chatRequest) member(p *parser, key []byte, depth int) bool {
	switch string(key) {
	case "model":
		return p.first(0) && p.setStr(&r.Model)
	case "messages":
		if !p.first(1) {
			return false
		}
		if p.null() {
			return true
		}
		return objects(p, depth, &r.Messages, func(m *openai.Message, p *parser, k []byte, d int) bool { return (*message)(m).member(p, k, d) })
	case "tools":
		if !p.first(2) {
			return false
		}
		if p.null() {
			return true
		}
		return objects(p, depth, &r.Tools, func(t *openai.Tool, p *parser, k []byte, d int) bool { return (*tool)(t).member(p, k, d) })
	case "tool_choice":
		if !p.first(3) {
			return false
		}
		if p.null() {
			r.ToolChoice = nil
			return true
		}
		mode, ok := p.str()
		if !ok || (mode != "none" && mode != "auto" && mode != "required") {
			return false // the object form and the errors: encoding/json
		}
		r.ToolChoice = &openai.ToolChoice{Mode: mode}
		return true
	case "parallel_tool_calls":
		return p.first(4) && p.setBoolPtr(&r.ParallelToolCalls)
	case "temperature":
		return p.first(5) && p.setFloat(&r.Temperature)
	case "top_p":
		return p.first(6) && p.setFloat(&r.TopP)
	case "max_tokens":
		return p.first(7) && p.setInt(&r.MaxTokens)
	case "max_completion_tokens":
		return p.first(8) && p.setInt(&r.MaxCompletionTokens)
	case "n":
		return p.first(9) && p.setInt(&r.N)
	case "stop":
		if !p.first(10) {
			return false
		}
		if p.null() {
			r.Stop = nil
			return true
		}
		if p.i < len(p.d) && p.d[p.i] == '"' {
			s, ok := p.str()
			r.Stop = &openai.Stop{s}
			return ok
		}
		stop := openai.Stop{}
		ok := p.array(func(p *parser) bool {
			s, ok := p.str()
			stop = append(stop, s)
			return ok
		})
		r.Stop = &stop
		return ok
	case "stream":
		if !p.first(11) {
			return false
		}
		if p.null() {
			return true
		}
		v, ok := p.boolean()
		r.Stream = v
		return ok
	case "stream_options":
		if !p.first(12) {
			return false
		}
		if p.null() {
			r.StreamOptions = nil
			return true
		}
		r.StreamOptions = new(openai.StreamOptions)
		return p.object(depth+1, func(p *parser, key []byte, depth int) bool {
			if string(key) != "include_usage" {
				return p.skip(key, depth, streamOptionsFields)
			}
			if !p.first(0) {
				return false
			}
			if p.null() {
				return true
			}
			v, ok := p.boolean()
			r.StreamOptions.IncludeUsage = v
			return ok
		})
	case "seed":
		if !p.first(13) {
			return false
		}
		if p.null() {
			r.Seed = nil
			return true
		}
		v, ok := p.integer()
		r.Seed = &v
		return ok
	case "user":
		return p.first(14) && p.setStr(&r.User)
	case "presence_penalty":
		return p.first(15) && p.setFloat(&r.PresencePenalty)
	case "frequency_penalty":
		return p.first(16) && p.setFloat(&r.FrequencyPenalty)
	case "logprobs":
		return p.first(17) && p.setBoolPtr(&r.Logprobs)
	case "top_logprobs":
		return p.first(18) && p.setInt(&r.TopLogprobs)
	case "logit_bias":
		return p.first(19) && p.raw(&r.LogitBias, depth)
	case "reasoning_effort":
		return p.first(20) && p.setStr(&r.ReasoningEffort)
	case "metadata":
		return p.first(21) && p.raw(&r.Metadata, depth)
	case "top_k":
		return p.first(22) && p.setInt(&r.TopK)
	case "response_format", "thinking":
		return false // rarer shapes: encoding/json decodes them
	}
	return p.skip(key, depth, requestFields)
}

var streamOptionsFields = []string{"include_usage"}

// chatRequest, message, tool and part carry the decoders of the wire types.
type (
	chatRequest openai.ChatRequest
	message     openai.Message
	tool        openai.Tool
	part        openai.Part
)

var messageFields = []string{"role", "content", "name", "tool_calls", "tool_call_id", "refusal", "reasoning_content", "thinking_blocks"}

func (m *message) member(p *parser, key []byte, depth int) bool {
	switch string(key) {
	case "role":
		return p.first(0) && p.setStr(&m.Role)
	case "content":
		if !p.first(1) {
			return false
		}
		if p.null() {
			m.Content = nil
			return true
		}
		if p.i < len(p.d) && p.d[p.i] == '"' {
			s, ok := p.str()
			m.Content = &openai.Content{Text: s}
			return ok
		}
		c := &openai.Content{}
		m.Content = c
		return objects(p, depth, &c.Parts, func(x *openai.Part, p *parser, k []byte, d int) bool { return (*part)(x).member(p, k, d) })
	case "name":
		return p.first(2) && p.setStr(&m.Name)
	case "tool_calls":
		if !p.first(3) {
			return false
		}
		if p.null() {
			m.ToolCalls = nil
			return true
		}
		return objects(p, depth, &m.ToolCalls, func(c *openai.ToolCall, p *parser, k []byte, d int) bool { return (*toolCall)(c).member(p, k, d) })
	case "tool_call_id":
		return p.first(4) && p.setStr(&m.ToolCallID)
	case "refusal":
		return p.first(5) && p.setStr(&m.Refusal)
	case "reasoning_content":
		return p.first(6) && p.setStr(&m.ReasoningContent)
	case "thinking_blocks":
		return false
	}
	return p.skip(key, depth, messageFields)
}

var partFields = []string{"type", "text", "image_url", "input_audio", "file", "refusal", "cache_control"}

// member decodes text and image parts; the others go to encoding/json.
func (pt *part) member(p *parser, key []byte, depth int) bool {
	switch string(key) {
	case "type":
		return p.first(0) && p.setStr(&pt.Type)
	case "text":
		return p.first(1) && p.setStr(&pt.Text)
	case "image_url":
		if !p.first(2) || p.null() {
			return false
		}
		u := new(openai.ImageURL)
		pt.ImageURL = u
		return p.object(depth+1, func(p *parser, key []byte, depth int) bool {
			switch string(key) {
			case "url":
				return p.first(0) && p.setStr(&u.URL)
			case "detail":
				return p.first(1) && p.setStr(&u.Detail)
			}
			return p.skip(key, depth, imageURLFields)
		})
	case "refusal":
		return p.first(3) && p.setStr(&pt.Refusal)
	case "cache_control":
		return p.first(4) && p.raw(&pt.CacheControl, depth)
	case "input_audio", "file":
		return false
	}
	return p.skip(key, depth, partFields)
}

var imageURLFields = []string{"url", "detail"}

type (
	toolCall openai.ToolCall
	function openai.Function
)

var (
	toolCallFields     = []string{"id", "type", "function"}
	functionCallFields = []string{"name", "arguments"}
)

func (tc *toolCall) member(p *parser, key []byte, depth int) bool {
	switch string(key) {
	case "id":
		return p.first(0) && p.setStr(&tc.ID)
	case "type":
		return p.first(1) && p.setStr(&tc.Type)
	case "function":
		if !p.first(2) {
			return false
		}
		if p.null() {
			return true
		}
		f := &tc.Function
		return p.object(depth+1, func(p *parser, key []byte, depth int) bool {
			switch string(key) {
			case "name":
				return p.first(0) && p.setStr(&f.Name)
			case "arguments":
				return p.first(1) && p.setStr(&f.Arguments)
			}
			return p.skip(key, depth, functionCallFields)
		})
	}
	return p.skip(key, depth, toolCallFields)
}

var toolFields = []string{"type", "function", "cache_control"}

func (t *tool) member(p *parser, key []byte, depth int) bool {
	switch string(key) {
	case "type":
		return p.first(0) && p.setStr(&t.Type)
	case "function":
		if !p.first(1) {
			return false
		}
		if p.null() {
			return true
		}
		return p.object(depth+1, (*function)(&t.Function).member)
	case "cache_control":
		return p.first(2) && p.raw(&t.CacheControl, depth)
	}
	return p.skip(key, depth, toolFields)
}

var functionFields = []string{"name", "description", "parameters", "strict"}

func (f *function) member(p *parser, key []byte, depth int) bool {
	switch string(key) {
	case "name":
		return p.first(0) && p.setStr(&f.Name)
	case "description":
		return p.first(1) && p.setStr(&f.Description)
	case "parameters":
		return p.first(2) && p.raw(&f.Parameters, depth)
	case "strict":
		return p.first(3) && p.setBoolPtr(&f.Strict)
	}
	return p.skip(key, depth, functionFields)
}
