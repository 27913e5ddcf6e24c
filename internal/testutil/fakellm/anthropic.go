package fakellm

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Anthropic starts a fake of Anthropic's Messages API: POST /v1/messages (plain and
// streamed) and POST /v1/messages/count_tokens. It requires anthropic-version like the
// real API, "x-api-key: <Key>" (or "Authorization: Bearer <Key>") when Key is set, and max_tokens on messages. Usage follows
// Anthropic's semantics: input_tokens is Reply.PromptTokens and cache_read_input_tokens is
// Reply.CachedTokens (not included in input_tokens).
func Anthropic(t testing.TB) *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serveAnthropic))
	t.Cleanup(s.Close)
	return s
}

func anthropicErrorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 402:
		return "billing_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 409:
		return "conflict_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 504:
		return "timeout_error"
	case 529:
		return "overloaded_error"
	}
	return "api_error"
}

func anthropicError(w http.ResponseWriter, status int, typ, msg string, retryAfter time.Duration) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	if typ == "" {
		typ = anthropicErrorType(status)
	}
	w.Header().Set("Request-Id", "req_fake")
	w.Header().Set("X-Should-Retry", strconv.FormatBool(status == 408 || status == 409 || status == 429 || status >= 500))
	writeJSON(w, status, map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}, "request_id": "req_fake"})
}

func (s *Server) serveAnthropic(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rep := s.next(r, body)
	// The real API takes the key as x-api-key or as a bearer token (what the Go SDK v2's
	// WithAPIKey sends).
	if key := r.Header.Get("X-Api-Key"); s.Key != "" && key != s.Key && strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") != s.Key {
		anthropicError(w, 401, "authentication_error", "invalid x-api-key", 0)
		return
	}
	if r.Header.Get("Anthropic-Version") == "" {
		anthropicError(w, 400, "invalid_request_error", "anthropic-version: header is required", 0)
		return
	}
	countTokens := r.URL.Path == "/v1/messages/count_tokens"
	if r.Method != http.MethodPost || (r.URL.Path != "/v1/messages" && !countTokens) {
		anthropicError(w, 404, "not_found_error", "Not Found", 0)
		return
	}
	if rep.Status != 0 && rep.Status != 200 {
		msg := rep.ErrMessage
		if msg == "" {
			msg = "fake error"
		}
		anthropicError(w, rep.Status, rep.ErrType, msg, rep.RetryAfter)
		return
	}
	var req struct {
		Model     string            `json:"model"`
		MaxTokens *int              `json:"max_tokens"`
		Messages  []json.RawMessage `json:"messages"`
		Stream    bool              `json:"stream"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		anthropicError(w, 400, "invalid_request_error", "There was an issue with the format of your request: "+err.Error(), 0)
		return
	}
	switch {
	case req.Model == "":
		anthropicError(w, 400, "invalid_request_error", "model: Field required", 0)
		return
	case req.Messages == nil:
		anthropicError(w, 400, "invalid_request_error", "messages: Field required", 0)
		return
	case req.MaxTokens == nil && !countTokens:
		anthropicError(w, 400, "invalid_request_error", "max_tokens: Field required", 0)
		return
	}
	w.Header().Set("Request-Id", "req_fake")
	if countTokens {
		n := rep.PromptTokens
		if n == 0 {
			n = max(1, len(body)/4)
		}
		writeJSON(w, 200, map[string]any{"input_tokens": n})
		return
	}
	if req.Stream {
		s.anthropicStream(w, req.Model, rep)
		return
	}
	var content []any
	if rep.Reasoning != "" {
		content = append(content, map[string]any{"type": "thinking", "thinking": rep.Reasoning, "signature": "fake-signature"})
	}
	if rep.Text != "" {
		content = append(content, map[string]any{"type": "text", "text": rep.Text})
	}
	for _, tc := range rep.ToolCalls {
		content = append(content, map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Name, "input": json.RawMessage(toolArgs(tc.Arguments))})
	}
	if content == nil {
		content = []any{}
	}
	writeJSON(w, 200, map[string]any{"id": "msg_fake", "type": "message", "role": "assistant", "model": req.Model,
		"content": content, "stop_reason": anthropicStop(rep), "stop_sequence": nil, "usage": anthropicUsage(rep, rep.CompletionTokens)})
}

func toolArgs(a string) string {
	if strings.TrimSpace(a) == "" {
		return "{}"
	}
	return a
}

func anthropicStop(rep Reply) string {
	if rep.StopReason != "" {
		return rep.StopReason
	}
	if len(rep.ToolCalls) > 0 {
		return "tool_use"
	}
	return "end_turn"
}

func anthropicUsage(rep Reply, output int) map[string]any {
	return map[string]any{"input_tokens": rep.PromptTokens, "output_tokens": output,
		"cache_creation_input_tokens": 0, "cache_read_input_tokens": rep.CachedTokens,
		"cache_creation": map[string]any{"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
		"service_tier":   "standard"}
}

// anthropicStream writes the real event sequence: message_start, then per block
// content_block_start / deltas / content_block_stop (thinking, text, tool_use with
// input_json_delta fragments, the first one empty as the API sends it), a ping after the
// first block start, message_delta with the cumulative usage, message_stop. ErrType with
// FailAfter sends an error event after that many text deltas (0: as the first event);
// TruncateAfter closes the stream after that many text deltas.
func (s *Server) anthropicStream(w http.ResponseWriter, model string, rep Reply) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	send := func(name string, v any) {
		b, _ := json.Marshal(v)
		w.Write([]byte("event: " + name + "\ndata: "))
		w.Write(b)
		w.Write([]byte("\n\n"))
		flush(w)
		if rep.ChunkDelay > 0 {
			time.Sleep(rep.ChunkDelay)
		}
	}
	fail := func() {
		send("error", map[string]any{"type": "error", "error": map[string]any{"type": rep.ErrType, "message": "fake mid-stream error"}})
	}
	if rep.ErrType != "" && rep.FailAfter == 0 {
		fail()
		return
	}
	start := anthropicUsage(rep, 1)
	delete(start, "service_tier")
	send("message_start", map[string]any{"type": "message_start", "message": map[string]any{"id": "msg_fake", "type": "message",
		"role": "assistant", "model": model, "content": []any{}, "stop_reason": nil, "stop_sequence": nil, "usage": start}})
	idx := 0
	pinged := false
	blockStart := func(block map[string]any) {
		send("content_block_start", map[string]any{"type": "content_block_start", "index": idx, "content_block": block})
		if !pinged {
			send("ping", map[string]any{"type": "ping"})
			pinged = true
		}
	}
	delta := func(d map[string]any) {
		send("content_block_delta", map[string]any{"type": "content_block_delta", "index": idx, "delta": d})
	}
	blockStop := func() {
		send("content_block_stop", map[string]any{"type": "content_block_stop", "index": idx})
		idx++
	}
	if rep.Reasoning != "" {
		blockStart(map[string]any{"type": "thinking", "thinking": "", "signature": ""})
		for _, part := range words(rep.Reasoning, 0) {
			delta(map[string]any{"type": "thinking_delta", "thinking": part})
		}
		delta(map[string]any{"type": "signature_delta", "signature": "fake-signature"})
		blockStop()
	}
	if rep.Text != "" {
		blockStart(map[string]any{"type": "text", "text": ""})
		n := 0
		for _, part := range words(rep.Text, rep.Chunks) {
			if rep.TruncateAfter > 0 && n == rep.TruncateAfter {
				return
			}
			if rep.ErrType != "" && n == rep.FailAfter {
				fail()
				return
			}
			delta(map[string]any{"type": "text_delta", "text": part})
			n++
		}
		if rep.ErrType != "" && n <= rep.FailAfter {
			fail()
			return
		}
		blockStop()
	}
	for _, tc := range rep.ToolCalls {
		blockStart(map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Name, "input": map[string]any{}})
		args := tc.Arguments
		half := len(args) / 2
		delta(map[string]any{"type": "input_json_delta", "partial_json": ""})
		for _, frag := range []string{args[:half], args[half:]} {
			if frag != "" {
				delta(map[string]any{"type": "input_json_delta", "partial_json": frag})
			}
		}
		blockStop()
	}
	send("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": anthropicStop(rep), "stop_sequence": nil},
		"usage": map[string]any{"input_tokens": rep.PromptTokens, "output_tokens": rep.CompletionTokens,
			"cache_creation_input_tokens": 0, "cache_read_input_tokens": rep.CachedTokens}})
	send("message_stop", map[string]any{"type": "message_stop"})
}
