// Package openai is the OpenAI client dialect: it parses and validates chat requests as
// OpenAI's API does, and writes answers, streams and errors the way OpenAI SDKs expect them.
package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/llm/sse"
	"github.com/tidwall/gjson"
)

// Dialect is the OpenAI client dialect.
type Dialect struct{}

var _ llm.Dialect = Dialect{}

// ParseChat parses and validates a chat completion request.
func (Dialect) ParseChat(body []byte) (*openai.ChatRequest, *llm.Error) {
	// The common request decodes in one pass; anything else, and every malformed body,
	// goes through encoding/json, whose errors name the field.
	req, ok := fastParse(body)
	if !ok {
		req = new(openai.ChatRequest)
		if err := json.Unmarshal(body, req); err != nil {
			return nil, jsonError(body, err)
		}
	}
	if e := Validate(req); e != nil {
		return nil, e
	}
	req.Raw = body
	return req, nil
}

// JSONError turns a decoding error into a 400 naming the field when it can.
func JSONError(err error) *llm.Error { return jsonError(nil, err) }

// jsonError is JSONError with the body at hand, so that the field is named as OpenAI names
// it, with array indices (messages[1].content; encoding/json says messages.content), and
// the errors of the fields that decode themselves (content, tool_choice, stop) name them.
func jsonError(body []byte, err error) *llm.Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return &llm.Error{Kind: llm.KindInvalidRequest, Message: "invalid request body: expected a JSON object, got " + te.Value}
		}
		param := te.Field
		if p := paramAt(body, te); p != "" {
			param = p
		}
		return llm.InvalidParam(param, "expected %s, got %s", wantKind(te.Type), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &llm.Error{Kind: llm.KindInvalidRequest, Message: fmt.Sprintf("the body is not valid JSON: %v (at byte %d)", err, se.Offset)}
	}
	if p := shapeParam(body); p != "" {
		return llm.InvalidParam(p, "%v", err)
	}
	return &llm.Error{Kind: llm.KindInvalidRequest, Message: "invalid request body: " + err.Error()}
}

// paramAt returns the path, OpenAI style, of the value encoding/json failed on: the first
// value of body at field (messages.content, its path without indices) of the JSON kind the
// error names that ends at or after offset. The offset of a field that decodes itself is
// relative to that field, hence the checks of path and kind. "" when not found.
func paramAt(body []byte, te *json.UnmarshalTypeError) string {
	type frame struct {
		array   bool
		index   int
		key     string
		wantKey bool
	}
	var stack []frame
	advance := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].array {
				stack[n-1].index++
			} else {
				stack[n-1].wantKey = true
			}
		}
	}
	kind, _, _ := strings.Cut(te.Value, " ") // "number 1.5" -> "number"
	var field, path strings.Builder
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for body != nil {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		d, isDelim := tok.(json.Delim)
		if isDelim && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			advance()
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			stack[n-1].key, _ = tok.(string)
			stack[n-1].wantKey = false
			continue
		}
		if dec.InputOffset() >= te.Offset && jsonKind(tok) == kind {
			field.Reset()
			path.Reset()
			for i, f := range stack {
				if f.array {
					path.WriteString("[" + strconv.Itoa(f.index) + "]")
					continue
				}
				if i > 0 {
					path.WriteByte('.')
					field.WriteByte('.')
				}
				path.WriteString(f.key)
				field.WriteString(f.key)
			}
			if field.String() == te.Field {
				return path.String()
			}
		}
		if isDelim {
			stack = append(stack, frame{array: d == '[', wantKey: d == '{'})
			continue
		}
		advance()
	}
	return ""
}

// wantKind names the JSON a Go type decodes from, for a client that knows no Go.
func wantKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	}
	return t.String()
}

// jsonKind names a token's JSON kind as json.UnmarshalTypeError.Value does.
func jsonKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "array"
		}
		return "object"
	case json.Number:
		return "number"
	case string:
		return "string"
	case bool:
		return "bool"
	}
	return "null"
}

// shapeParam names the first field that decodes itself and has the wrong shape: a message
// content that is not a string, an array or null; a tool_choice that is not a known mode
// or an object naming a function; a stop that is not a string or an array of strings.
func shapeParam(body []byte) string {
	if body == nil || !gjson.ValidBytes(body) {
		return ""
	}
	doc := gjson.ParseBytes(body)
	param := ""
	doc.Get("messages").ForEach(func(i, m gjson.Result) bool {
		c := m.Get("content")
		if c.Exists() && c.Type != gjson.String && c.Type != gjson.Null && !c.IsArray() {
			param = "messages[" + strconv.Itoa(int(i.Int())) + "].content"
			return false
		}
		return true
	})
	if param != "" {
		return param
	}
	if tc := doc.Get("tool_choice"); tc.Exists() {
		switch {
		case tc.Type == gjson.String:
			if m := tc.String(); m != "none" && m != "auto" && m != "required" {
				return "tool_choice"
			}
		case !tc.IsObject() || tc.Get("function.name").String() == "":
			return "tool_choice"
		}
	}
	if st := doc.Get("stop"); st.Exists() && st.Type != gjson.String && st.Type != gjson.Null {
		if !st.IsArray() {
			return "stop"
		}
		for _, s := range st.Array() {
			if s.Type != gjson.String {
				return "stop"
			}
		}
	}
	return ""
}

// validRole reports whether role is one OpenAI accepts.
func validRole(role string) bool {
	switch role {
	case "system", "developer", "user", "assistant", "tool", "function":
		return true
	}
	return false
}

// Validate checks what OpenAI checks before a call, naming the field of the first problem.
// The names of fields with indices are built only for the error: a valid request costs no
// allocation here.
func Validate(r *openai.ChatRequest) *llm.Error {
	if r.Model == "" {
		return llm.InvalidParam("model", "is required")
	}
	if len(r.Messages) == 0 {
		return llm.InvalidParam("messages", "must be a non-empty array")
	}
	for i := range r.Messages {
		m := &r.Messages[i]
		p := func() string { return "messages[" + strconv.Itoa(i) + "]" }
		if !validRole(m.Role) {
			return llm.InvalidParam(p()+".role", "must be one of system, developer, user, assistant, tool (got %q)", m.Role)
		}
		switch m.Role {
		case "tool":
			if m.ToolCallID == "" {
				return llm.InvalidParam(p()+".tool_call_id", "is required for tool messages")
			}
		case "assistant":
			if m.Content == nil && len(m.ToolCalls) == 0 && m.Refusal == "" {
				return llm.InvalidParam(p()+".content", "is required unless tool_calls is set")
			}
			for j, tc := range m.ToolCalls {
				tp := func() string { return p() + ".tool_calls[" + strconv.Itoa(j) + "]" }
				if tc.ID == "" {
					return llm.InvalidParam(tp()+".id", "is required")
				}
				if tc.Function.Name == "" {
					return llm.InvalidParam(tp()+".function.name", "is required")
				}
			}
		default:
			if m.Content == nil {
				return llm.InvalidParam(p()+".content", "is required")
			}
		}
		if m.Content != nil && m.Content.Parts != nil {
			for j, part := range m.Content.Parts {
				pp := func() string { return p() + ".content[" + strconv.Itoa(j) + "]" }
				switch part.Type {
				case "text", "refusal":
				case "image_url":
					if part.ImageURL == nil || part.ImageURL.URL == "" {
						return llm.InvalidParam(pp()+".image_url.url", "is required")
					}
				case "input_audio":
					if part.InputAudio == nil {
						return llm.InvalidParam(pp()+".input_audio", "is required")
					}
				case "file":
					if part.File == nil {
						return llm.InvalidParam(pp()+".file", "is required")
					}
				default:
					return llm.InvalidParam(pp()+".type", "unknown content part type %q", part.Type)
				}
			}
		}
	}
	for i, t := range r.Tools {
		if t.Type != "function" {
			return llm.InvalidParam("tools["+strconv.Itoa(i)+"].type", "must be \"function\" (got %q)", t.Type)
		}
		if t.Function.Name == "" {
			return llm.InvalidParam("tools["+strconv.Itoa(i)+"].function.name", "is required")
		}
	}
	if r.Temperature != nil && (*r.Temperature < 0 || *r.Temperature > 2) {
		return llm.InvalidParam("temperature", "must be between 0 and 2")
	}
	if r.TopP != nil && (*r.TopP < 0 || *r.TopP > 1) {
		return llm.InvalidParam("top_p", "must be between 0 and 1")
	}
	if r.N != nil && *r.N < 1 {
		return llm.InvalidParam("n", "must be at least 1")
	}
	if r.MaxTokens != nil && *r.MaxTokens < 1 {
		return llm.InvalidParam("max_tokens", "must be at least 1")
	}
	if r.MaxCompletionTokens != nil && *r.MaxCompletionTokens < 1 {
		return llm.InvalidParam("max_completion_tokens", "must be at least 1")
	}
	if r.Stop != nil && len(*r.Stop) > 4 {
		return llm.InvalidParam("stop", "at most 4 stop sequences")
	}
	if r.StreamOptions != nil && !r.Stream {
		return llm.InvalidParam("stream_options", "is only allowed when stream is true")
	}
	if rf := r.ResponseFormat; rf != nil {
		switch rf.Type {
		case "text", "json_object":
		case "json_schema":
			if rf.JSONSchema == nil || rf.JSONSchema.Name == "" {
				return llm.InvalidParam("response_format.json_schema.name", "is required")
			}
		default:
			return llm.InvalidParam("response_format.type", "must be text, json_object or json_schema (got %q)", rf.Type)
		}
	}
	return nil
}

// WriteChat writes a chat.completion. An answer that came from an OpenAI-family provider
// is written as it came.
func (Dialect) WriteChat(w http.ResponseWriter, resp *openai.ChatResponse, req *openai.ChatRequest) error {
	body := resp.Raw
	if body == nil {
		if resp.Object == "" {
			resp.Object = "chat.completion"
		}
		var err error
		if body, err = json.Marshal(resp); err != nil {
			return fmt.Errorf("openai dialect: encode answer: %w", err)
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

// errorTypes are the error.type values OpenAI uses, by kind.
var errorTypes = [...]string{
	llm.KindInvalidRequest: "invalid_request_error",
	llm.KindAuthentication: "authentication_error",
	llm.KindPermission:     "permission_error",
	llm.KindNotFound:       "invalid_request_error",
	llm.KindTooLarge:       "invalid_request_error",
	llm.KindRateLimit:      "rate_limit_exceeded",
	llm.KindQuota:          "insufficient_quota",
	llm.KindInternal:       "server_error",
	llm.KindUpstream:       "upstream_error",
	llm.KindOverloaded:     "service_unavailable",
	llm.KindTimeout:        "timeout",
}

// status is what the client sees: a provider refusing Pylon's own credential is a gateway
// failure (502), not the client's fault.
func status(e *llm.Error) int {
	if e.Upstream != 0 && (e.Kind == llm.KindAuthentication || e.Kind == llm.KindPermission) {
		return http.StatusBadGateway
	}
	return e.Status()
}

func errorBody(e *llm.Error) []byte {
	typ := errorTypes[e.Kind]
	if e.Upstream != 0 && (e.Kind == llm.KindAuthentication || e.Kind == llm.KindPermission) {
		typ = "upstream_authentication_error"
	}
	b := openai.ErrorBody{Message: e.Message, Type: typ}
	if e.Param != "" {
		b.Param = &e.Param
	}
	code := e.Code
	if code == "" && e.Kind == llm.KindNotFound {
		code = "model_not_found"
	}
	if code != "" {
		b.Code = &code
	}
	out, _ := json.Marshal(openai.ErrorResponse{Error: b})
	return out
}

// WriteError writes OpenAI's error body with the kind's status, and retry-after on 429 and
// 503 answers (OpenAI SDKs honour it).
func (Dialect) WriteError(w http.ResponseWriter, e *llm.Error) {
	body := errorBody(e)
	st := status(e)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if e.RetryAfter > 0 || st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable {
		if e.RetryAfter <= 0 {
			e.RetryAfter = time.Second
		}
		h.Set("Retry-After", e.RetryAfterHeader())
	}
	if e.Kind == llm.KindQuota || e.Kind == llm.KindInvalidRequest {
		h.Set("X-Should-Retry", "false")
	}
	w.WriteHeader(st)
	w.Write(body)
}

// NewStream returns a writer of chat.completion.chunk events.
func (d Dialect) NewStream(w http.ResponseWriter, req *openai.ChatRequest) llm.StreamWriter {
	return &streamWriter{w: w, includeUsage: req.IncludeUsage(), d: d}
}

type streamWriter struct {
	w            http.ResponseWriter
	d            Dialect
	includeUsage bool
	started      bool
	usage        *openai.ChatChunk // the usage report, written at Close if asked for
	buf          []byte
}

func (s *streamWriter) Started() bool { return s.started }

func (s *streamWriter) start() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	s.w.WriteHeader(http.StatusOK)
}

func (s *streamWriter) WriteChunk(c *openai.ChatChunk) error {
	if len(c.Choices) == 0 && c.Raw == nil { // the usage report (a lazy chunk has Raw and no choices yet)
		if c.Usage != nil {
			s.usage = c
		}
		return nil
	}
	s.start()
	data := c.Raw
	if data == nil {
		if c.Object == "" {
			c.Object = "chat.completion.chunk"
		}
		var err error
		if data, err = json.Marshal(c); err != nil {
			return fmt.Errorf("openai dialect: encode chunk: %w", err)
		}
	}
	return s.event(data)
}

func (s *streamWriter) event(data []byte) error {
	s.buf = sse.AppendEvent(s.buf[:0], "", data)
	if _, err := s.w.Write(s.buf); err != nil {
		return err
	}
	// A writer that cannot flush (a wrapper without Unwrap) still carries the stream: only
	// a failed write means the client went away.
	if err := http.NewResponseController(s.w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

func (s *streamWriter) Close() error {
	s.start()
	if s.includeUsage && s.usage != nil {
		u := *s.usage
		u.Raw = nil
		if u.Object == "" {
			u.Object = "chat.completion.chunk"
		}
		u.Choices = []openai.ChunkChoice{}
		data, err := json.Marshal(&u)
		if err != nil {
			return fmt.Errorf("openai dialect: encode usage chunk: %w", err)
		}
		if err := s.event(data); err != nil {
			return err
		}
	}
	return s.event([]byte("[DONE]"))
}

// Fail ends a started stream with an error event and no [DONE], so that SDKs raise instead
// of taking a cut stream for a complete one.
func (s *streamWriter) Fail(e *llm.Error) error {
	if !s.started {
		s.started = true
		s.d.WriteError(s.w, e)
		return nil
	}
	return s.event(errorBody(e))
}

// ContentType reports whether ct is JSON, as chat requests must be.
func ContentType(ct string) bool {
	if ct == "" {
		return true
	}
	ct, _, _ = strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(ct), "application/json")
}
