package fakellm

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// OpenAI starts a fake of the OpenAI API (and of Azure OpenAI's deployment paths):
// POST /v1/chat/completions, /v1/completions, /v1/embeddings and
// /openai/deployments/{name}/chat/completions. Auth is "Authorization: Bearer <Key>" (or
// "api-key: <Key>" on Azure paths) when Key is set.
func OpenAI(t testing.TB) *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serveOpenAI))
	t.Cleanup(s.Close)
	return s
}

func openAIError(w http.ResponseWriter, status int, typ, msg string, retryAfter time.Duration) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	if typ == "" {
		switch status {
		case 400, 404:
			typ = "invalid_request_error"
		case 401:
			typ = "authentication_error"
		case 429:
			typ = "rate_limit_exceeded"
		default:
			typ = "server_error"
		}
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}})
}

func (s *Server) serveOpenAI(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rep := s.next(r, body)
	if rep.Delay > 0 {
		time.Sleep(rep.Delay)
	}
	azure := strings.HasPrefix(r.URL.Path, "/openai/deployments/")
	if s.Key != "" {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if azure {
			got = r.Header.Get("Api-Key")
		}
		if got != s.Key {
			openAIError(w, 401, "invalid_request_error", "Incorrect API key provided.", 0)
			return
		}
	}
	if rep.Status != 0 && rep.Status != 200 {
		msg := rep.ErrMessage
		if msg == "" {
			msg = "fake error"
		}
		openAIError(w, rep.Status, rep.ErrType, msg, rep.RetryAfter)
		return
	}
	var req struct {
		Model         string `json:"model"`
		Stream        bool   `json:"stream"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		openAIError(w, 400, "invalid_request_error", "We could not parse the JSON body of your request.", 0)
		return
	}
	if req.Model == "" && !azure {
		openAIError(w, 400, "invalid_request_error", "you must provide a model parameter", 0)
		return
	}
	w.Header().Set("X-Request-Id", "req_fake")
	switch {
	case strings.HasSuffix(r.URL.Path, "/chat/completions"):
		if req.Stream {
			s.openAIStream(w, req.Model, rep, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
			return
		}
		s.openAIChat(w, req.Model, rep)
	case strings.HasSuffix(r.URL.Path, "/embeddings"):
		var in struct {
			Input any `json:"input"`
		}
		json.Unmarshal(body, &in)
		text, _ := in.Input.(string)
		writeJSON(w, 200, map[string]any{"object": "list", "model": req.Model,
			"data":  []any{map[string]any{"object": "embedding", "index": 0, "embedding": letterVector(text)}},
			"usage": map[string]any{"prompt_tokens": rep.PromptTokens, "total_tokens": rep.PromptTokens}})
	case strings.HasSuffix(r.URL.Path, "/completions"):
		fr := "stop"
		writeJSON(w, 200, map[string]any{"id": "cmpl-fake", "object": "text_completion", "created": 1, "model": req.Model,
			"choices": []any{map[string]any{"text": rep.Text, "index": 0, "logprobs": nil, "finish_reason": fr}},
			"usage":   openAIUsage(rep)})
	default:
		openAIError(w, 404, "invalid_request_error", "Unknown request URL: "+r.Method+" "+r.URL.Path, 0)
	}
}

func openAIUsage(rep Reply) map[string]any {
	return map[string]any{"prompt_tokens": rep.PromptTokens, "completion_tokens": rep.CompletionTokens,
		"total_tokens":          rep.PromptTokens + rep.CompletionTokens,
		"prompt_tokens_details": map[string]any{"cached_tokens": rep.CachedTokens}}
}

func openAIFinish(rep Reply) string {
	if rep.StopReason != "" {
		return rep.StopReason
	}
	if len(rep.ToolCalls) > 0 {
		return "tool_calls"
	}
	return "stop"
}

func (s *Server) openAIChat(w http.ResponseWriter, model string, rep Reply) {
	msg := map[string]any{"role": "assistant", "content": rep.Text, "refusal": nil}
	if len(rep.ToolCalls) > 0 {
		var tcs []any
		for _, tc := range rep.ToolCalls {
			tcs = append(tcs, map[string]any{"id": tc.ID, "type": "function", "function": map[string]any{"name": tc.Name, "arguments": tc.Arguments}})
		}
		msg["tool_calls"] = tcs
		if rep.Text == "" {
			msg["content"] = nil
		}
	}
	writeJSON(w, 200, map[string]any{"id": "chatcmpl-fake", "object": "chat.completion", "created": 1700000000, "model": model,
		"system_fingerprint": "fp_fake",
		"choices":            []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": openAIFinish(rep)}},
		"usage":              openAIUsage(rep)})
}

func (s *Server) openAIStream(w http.ResponseWriter, model string, rep Reply, includeUsage bool) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	chunk := func(delta map[string]any, finish any) {
		c := map[string]any{"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
			"system_fingerprint": "fp_fake",
			"choices":            []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}}}
		if includeUsage {
			c["usage"] = nil
		}
		b, _ := json.Marshal(c)
		fmt.Fprintf(w, "data: %s\n\n", b)
		flush(w)
		if rep.ChunkDelay > 0 {
			time.Sleep(rep.ChunkDelay)
		}
	}
	chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil)
	n := 0
	for _, part := range words(rep.Text, rep.Chunks) {
		if rep.TruncateAfter > 0 && n == rep.TruncateAfter {
			return
		}
		if rep.ErrType != "" && n == rep.FailAfter {
			fmt.Fprintf(w, "data: {\"error\":{\"message\":%q,\"type\":%q,\"param\":null,\"code\":null}}\n\n", "fake mid-stream error", rep.ErrType)
			return
		}
		chunk(map[string]any{"content": part}, nil)
		n++
	}
	for i, tc := range rep.ToolCalls {
		chunk(map[string]any{"tool_calls": []any{map[string]any{"index": i, "id": tc.ID, "type": "function", "function": map[string]any{"name": tc.Name, "arguments": ""}}}}, nil)
		args := tc.Arguments
		half := len(args) / 2
		for _, frag := range []string{args[:half], args[half:]} {
			if frag != "" {
				chunk(map[string]any{"tool_calls": []any{map[string]any{"index": i, "function": map[string]any{"arguments": frag}}}}, nil)
			}
		}
	}
	chunk(map[string]any{}, openAIFinish(rep))
	if includeUsage {
		b, _ := json.Marshal(map[string]any{"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
			"choices": []any{}, "usage": openAIUsage(rep)})
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	flush(w)
}

// letterVector is the fake's embedding: how often each letter a-z occurs (case folded), so
// that texts with the same letters are identical vectors and different texts drift apart.
// An input without letters gets a fixed vector.
func letterVector(text string) []float64 {
	v := make([]float64, 26)
	n := 0
	for _, c := range strings.ToLower(text) {
		if c >= 'a' && c <= 'z' {
			v[c-'a']++
			n++
		}
	}
	if n == 0 {
		return []float64{0.1, -0.2, 0.3}
	}
	return v
}
