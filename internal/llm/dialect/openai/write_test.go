package openai

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

func TestWriteError(t *testing.T) {
	for _, tc := range []struct {
		name        string
		e           llm.Error
		status      int
		typ, code   string
		param       string
		retryAfter  string
		shouldRetry string
	}{
		{"invalid request", llm.Error{Kind: llm.KindInvalidRequest, Message: "temperature: bad", Param: "temperature"}, 400, "invalid_request_error", "", "temperature", "", "false"},
		{"client key", llm.Error{Kind: llm.KindAuthentication, Message: "bad key", Code: "invalid_api_key"}, 401, "authentication_error", "invalid_api_key", "", "", ""},
		{"client permission", llm.Error{Kind: llm.KindPermission, Message: "no"}, 403, "permission_error", "", "", "", ""},
		{"upstream 401", llm.Error{Kind: llm.KindAuthentication, Message: "Incorrect API key provided", Upstream: 401}, 502, "upstream_authentication_error", "", "", "", ""},
		{"upstream 403", llm.Error{Kind: llm.KindPermission, Message: "region", Upstream: 403}, 502, "upstream_authentication_error", "", "", "", ""},
		{"model not found", llm.Error{Kind: llm.KindNotFound, Message: "The model `x` does not exist", Param: "model"}, 404, "invalid_request_error", "model_not_found", "model", "", ""},
		{"unknown url", llm.Error{Kind: llm.KindNotFound, Message: "Unknown request URL", Code: "unknown_url"}, 404, "invalid_request_error", "unknown_url", "", "", ""},
		{"too large", llm.Error{Kind: llm.KindTooLarge, Message: "big"}, 413, "invalid_request_error", "", "", "", ""},
		{"rate limit", llm.Error{Kind: llm.KindRateLimit, Message: "slow down", RetryAfter: 1500 * time.Millisecond, Upstream: 429}, 429, "rate_limit_exceeded", "", "", "2", ""},
		{"rate limit without retry-after", llm.Error{Kind: llm.KindRateLimit, Message: "slow down"}, 429, "rate_limit_exceeded", "", "", "1", ""},
		{"quota", llm.Error{Kind: llm.KindQuota, Message: "budget", Code: "insufficient_quota"}, 429, "insufficient_quota", "insufficient_quota", "", "1", "false"},
		{"internal", llm.Error{Kind: llm.KindInternal, Message: "oops"}, 500, "server_error", "", "", "", ""},
		{"upstream", llm.Error{Kind: llm.KindUpstream, Message: "upstream stream truncated"}, 502, "upstream_error", "", "", "", ""},
		{"upstream with retry-after", llm.Error{Kind: llm.KindUpstream, Message: "x", RetryAfter: 3 * time.Second}, 502, "upstream_error", "", "", "3", ""},
		{"overloaded", llm.Error{Kind: llm.KindOverloaded, Message: "busy"}, 503, "service_unavailable", "", "", "1", ""},
		{"overloaded with retry-after", llm.Error{Kind: llm.KindOverloaded, Message: "busy", RetryAfter: 30 * time.Second}, 503, "service_unavailable", "", "", "30", ""},
		{"timeout", llm.Error{Kind: llm.KindTimeout, Message: "slow"}, 504, "timeout", "", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			e := tc.e
			Dialect{}.WriteError(w, &e)
			if w.Code != tc.status {
				t.Errorf("status %d, want %d", w.Code, tc.status)
			}
			h := w.Header()
			if h.Get("Content-Type") != "application/json" || h.Get("Content-Length") != itoa(w.Body.Len()) {
				t.Errorf("headers %v for a body of %d bytes", h, w.Body.Len())
			}
			if h.Get("Retry-After") != tc.retryAfter {
				t.Errorf("retry-after %q, want %q", h.Get("Retry-After"), tc.retryAfter)
			}
			if h.Get("X-Should-Retry") != tc.shouldRetry {
				t.Errorf("x-should-retry %q, want %q", h.Get("X-Should-Retry"), tc.shouldRetry)
			}
			var body struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			// OpenAI always sends param and code, null when unknown.
			for _, k := range []string{`"param":`, `"code":`, `"message":`, `"type":`} {
				if !strings.Contains(w.Body.String(), k) {
					t.Errorf("body %s has no %s", w.Body, k)
				}
			}
			b := body.Error
			if b.Message != tc.e.Message || b.Type != tc.typ || deref(b.Code) != tc.code || deref(b.Param) != tc.param {
				t.Errorf("body %s", w.Body)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestWriteChat(t *testing.T) {
	raw := `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi","annotations":[]},"finish_reason":"stop"}],"service_tier":"default"}`
	w := httptest.NewRecorder()
	if err := (Dialect{}).WriteChat(w, &openai.ChatResponse{Raw: []byte(raw)}, &openai.ChatRequest{}); err != nil {
		t.Fatal(err)
	}
	if w.Code != 200 || w.Body.String() != raw || w.Header().Get("Content-Length") != itoa(len(raw)) {
		t.Errorf("raw answer: %d %v %s", w.Code, w.Header(), w.Body)
	}
	w = httptest.NewRecorder()
	resp := &openai.ChatResponse{ID: "msg_1", Created: 1, Model: "claude", Choices: []openai.Choice{{Message: openai.Message{Role: "assistant", Content: openai.TextContent("Hi")}, FinishReason: "stop"}},
		Usage: &openai.Usage{PromptTokens: 1, CompletionTokens: 1, TotalTokens: 2}}
	if err := (Dialect{}).WriteChat(w, resp, &openai.ChatRequest{}); err != nil {
		t.Fatal(err)
	}
	want := `{"id":"msg_1","object":"chat.completion","created":1,"model":"claude","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`
	if w.Body.String() != want || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("encoded answer:\n got %s\nwant %s", w.Body, want)
	}
}

// chunk is a canonical chunk; raw, when set, is the upstream event data kept for OpenAI clients.
func chunk(delta openai.Delta, finish string, raw string) *openai.ChatChunk {
	c := &openai.ChatChunk{ID: "c1", Created: 1, Model: "m", Choices: []openai.ChunkChoice{{Delta: delta}}}
	if finish != "" {
		c.Choices[0].FinishReason = &finish
	}
	if raw != "" {
		c.Raw = []byte(raw)
	}
	return c
}

func usageChunk() *openai.ChatChunk {
	return &openai.ChatChunk{ID: "c1", Created: 1, Model: "m", Usage: &openai.Usage{PromptTokens: 25, CompletionTokens: 2, TotalTokens: 27}}
}

const (
	rawRole  = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null,"obfuscation":"x"}`
	rawHel   = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}],"usage":null}`
	encLo    = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}`
	encStop  = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`
	encUsage = `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":25,"completion_tokens":2,"total_tokens":27}}`
)

func streamChunks() []*openai.ChatChunk {
	return []*openai.ChatChunk{
		chunk(openai.Delta{Role: "assistant", Content: openai.Ptr("")}, "", rawRole),
		chunk(openai.Delta{Content: openai.Ptr("Hel")}, "", rawHel),
		chunk(openai.Delta{Content: openai.Ptr("lo")}, "", ""),
		chunk(openai.Delta{}, "stop", ""),
		usageChunk(),
	}
}

func events(evs ...string) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString("data: " + e + "\n\n")
	}
	return b.String()
}

func TestStreamWriter(t *testing.T) {
	for _, tc := range []struct {
		name         string
		includeUsage bool
		chunks       []*openai.ChatChunk
		fail         *llm.Error
		want         string
	}{
		{"with usage", true, streamChunks(), nil, events(rawRole, rawHel, encLo, encStop, encUsage, "[DONE]")},
		{"without usage", false, streamChunks(), nil, events(rawRole, rawHel, encLo, encStop, "[DONE]")},
		{"usage before the finish chunk is still last", true,
			[]*openai.ChatChunk{chunk(openai.Delta{Content: openai.Ptr("lo")}, "", ""), usageChunk(), chunk(openai.Delta{}, "stop", "")}, nil,
			events(encLo, encStop, encUsage, "[DONE]")},
		{"asked usage, none reported", true, streamChunks()[:4], nil, events(rawRole, rawHel, encLo, encStop, "[DONE]")},
		{"empty stream", true, nil, nil, events("[DONE]")},
		{"fail after output", true, streamChunks()[:3], &llm.Error{Kind: llm.KindUpstream, Message: "upstream stream truncated"},
			events(rawRole, rawHel, encLo, `{"error":{"message":"upstream stream truncated","type":"upstream_error","param":null,"code":null}}`)},
		{"fail with a rate limit after output", false, streamChunks()[:1], &llm.Error{Kind: llm.KindRateLimit, Message: "slow", Upstream: 429},
			events(rawRole, `{"error":{"message":"slow","type":"rate_limit_exceeded","param":null,"code":null}}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			req := &openai.ChatRequest{Stream: true}
			if tc.includeUsage {
				req.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
			}
			sw := Dialect{}.NewStream(w, req)
			if sw.Started() {
				t.Error("started before any write")
			}
			for _, c := range tc.chunks {
				if err := sw.WriteChunk(c); err != nil {
					t.Fatal(err)
				}
			}
			if tc.fail != nil {
				if err := sw.Fail(tc.fail); err != nil {
					t.Fatal(err)
				}
			} else if err := sw.Close(); err != nil {
				t.Fatal(err)
			}
			if !sw.Started() {
				t.Error("not started after the end")
			}
			if got := w.Body.String(); got != tc.want {
				t.Errorf("stream\n got %q\nwant %q", got, tc.want)
			}
			h := w.Header()
			if w.Code != 200 || h.Get("Content-Type") != "text/event-stream" || h.Get("Cache-Control") != "no-cache" || !w.Flushed {
				t.Errorf("status %d, headers %v, flushed %v", w.Code, h, w.Flushed)
			}
			if strings.Contains(w.Body.String(), "[DONE]") != (tc.fail == nil) {
				t.Error("[DONE] must end a complete stream, and only a complete one")
			}
		})
	}
}

// A failure before anything was written is a normal error answer: status, retry-after, a
// JSON body, no SSE.
func TestStreamFailBeforeOutput(t *testing.T) {
	w := httptest.NewRecorder()
	sw := Dialect{}.NewStream(w, &openai.ChatRequest{Stream: true})
	// A usage chunk alone writes nothing.
	if err := sw.WriteChunk(usageChunk()); err != nil || sw.Started() || w.Body.Len() != 0 {
		t.Fatalf("a usage chunk started the stream: %v %q", err, w.Body)
	}
	if err := sw.Fail(&llm.Error{Kind: llm.KindOverloaded, Message: "Overloaded", RetryAfter: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if w.Code != 503 || w.Header().Get("Retry-After") != "5" || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("status %d headers %v", w.Code, w.Header())
	}
	want := `{"error":{"message":"Overloaded","type":"service_unavailable","param":null,"code":null}}`
	if w.Body.String() != want {
		t.Errorf("body %s", w.Body)
	}
	if !sw.Started() {
		t.Error("Started must report the error answer")
	}
}

// plainWriter is a ResponseWriter that cannot flush and does not unwrap (a middleware's).
type plainWriter struct {
	h    http.Header
	code int
	b    strings.Builder
	err  error
}

func (p *plainWriter) Header() http.Header { return p.h }
func (p *plainWriter) WriteHeader(c int)   { p.code = c }
func (p *plainWriter) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	return p.b.Write(b)
}

// A writer that cannot flush still carries the whole stream; a failed write is reported.
func TestStreamWriterWithoutFlusher(t *testing.T) {
	w := &plainWriter{h: http.Header{}}
	sw := Dialect{}.NewStream(w, &openai.ChatRequest{Stream: true})
	for _, c := range streamChunks() {
		if err := sw.WriteChunk(c); err != nil {
			t.Fatalf("WriteChunk: %v", err)
		}
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	if w.code != 200 || w.b.String() != events(rawRole, rawHel, encLo, encStop, "[DONE]") {
		t.Errorf("%d %q", w.code, w.b.String())
	}
	gone := errors.New("broken pipe")
	w = &plainWriter{h: http.Header{}, err: gone}
	sw = Dialect{}.NewStream(w, &openai.ChatRequest{Stream: true})
	if err := sw.WriteChunk(streamChunks()[0]); !errors.Is(err, gone) {
		t.Errorf("a failed write: %v", err)
	}
}

func TestContentType(t *testing.T) {
	for ct, ok := range map[string]bool{"": true, "application/json": true, "application/json; charset=utf-8": true, "Application/JSON": true,
		"text/plain": false, "application/x-www-form-urlencoded": false, "multipart/form-data; boundary=x": false} {
		if ContentType(ct) != ok {
			t.Errorf("ContentType(%q) = %v", ct, !ok)
		}
	}
}
