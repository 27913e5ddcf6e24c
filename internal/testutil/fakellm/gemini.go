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

// Gemini starts a fake of the Gemini API: POST {prefix}/models/{model}:generateContent
// and :streamGenerateContent?alt=sse, under any prefix (AI Studio's /v1beta, Vertex's
// /v1/projects/{p}/locations/{r}/publishers/google). When Key is set the fake requires it
// in x-goog-api-key (or ?key=) or, Vertex style, as "Authorization: Bearer <Key>".
//
// Replies: Text becomes a text part, Reasoning a thought part, each ToolCall a
// functionCall part (with a thoughtSignature on the first, as Gemini 3 does); the stream
// splits Text into deltas, sends each function call whole, and ends a tool turn with a
// separate chunk holding an empty text part and finishReason STOP, the way newer models
// do. Events are separated by CRLF CRLF, usageMetadata is cumulative on every chunk.
// ErrType is a status name (RESOURCE_EXHAUSTED...); with FailAfter it is sent as an
// in-stream error event.
func Gemini(t testing.TB) *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serveGemini))
	t.Cleanup(s.Close)
	return s
}

// geminiStatus is the canonical status name of an HTTP status.
func geminiStatus(code int) string {
	switch code {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	return "INTERNAL"
}

// geminiCode is the HTTP code of a canonical status name.
func geminiCode(status string) int {
	for _, code := range []int{400, 401, 403, 404, 429, 503, 504} {
		if geminiStatus(code) == status {
			return code
		}
	}
	return 500
}

func geminiErrorBody(code int, status, msg string, retryAfter time.Duration) map[string]any {
	if status == "" {
		status = geminiStatus(code)
	}
	e := map[string]any{"code": code, "message": msg, "status": status}
	if retryAfter > 0 {
		e["details"] = []any{map[string]any{
			"@type":      "type.googleapis.com/google.rpc.RetryInfo",
			"retryDelay": strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)) + "s",
		}}
	}
	return map[string]any{"error": e}
}

func geminiError(w http.ResponseWriter, code int, status, msg string, retryAfter time.Duration) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, code, geminiErrorBody(code, status, msg, retryAfter))
}

func (s *Server) serveGemini(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rep := s.next(r, body)
	if r.Method != http.MethodPost {
		geminiError(w, 404, "NOT_FOUND", "Method not found.", 0)
		return
	}
	if s.Key != "" {
		if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			if bearer != s.Key {
				geminiError(w, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", 0)
				return
			}
		} else {
			key := r.Header.Get("X-Goog-Api-Key")
			if key == "" {
				key = r.URL.Query().Get("key")
			}
			switch {
			case key == "":
				geminiError(w, 403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", 0)
				return
			case key != s.Key: // AI Studio answers a bad key with a 400
				writeJSON(w, 400, map[string]any{"error": map[string]any{"code": 400, "status": "INVALID_ARGUMENT",
					"message": "API key not valid. Please pass a valid API key.",
					"details": []any{map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}}}})
				return
			}
		}
	}
	_, rest, ok := strings.Cut(r.URL.Path, "/models/")
	model, method, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || model == "" {
		geminiError(w, 404, "NOT_FOUND", "models/"+rest+" is not found for API version v1beta", 0)
		return
	}
	if rep.Status != 0 && rep.Status != 200 {
		msg := rep.ErrMessage
		if msg == "" {
			msg = "fake error"
		}
		geminiError(w, rep.Status, rep.ErrType, msg, rep.RetryAfter)
		return
	}
	var req struct {
		Contents []json.RawMessage `json:"contents"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		geminiError(w, 400, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error(), 0)
		return
	}
	if len(req.Contents) == 0 {
		geminiError(w, 400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified", 0)
		return
	}
	switch method {
	case "generateContent":
		s.geminiChat(w, model, rep)
	case "streamGenerateContent":
		s.geminiStream(w, r, model, rep)
	default:
		geminiError(w, 404, "NOT_FOUND", "method "+method+" not found", 0)
	}
}

func geminiUsage(rep Reply, completion int) map[string]any {
	u := map[string]any{"promptTokenCount": rep.PromptTokens, "candidatesTokenCount": completion,
		"totalTokenCount": rep.PromptTokens + completion}
	if rep.CachedTokens > 0 {
		u["cachedContentTokenCount"] = rep.CachedTokens
	}
	return u
}

func geminiFinish(rep Reply) string {
	if rep.StopReason != "" {
		return rep.StopReason
	}
	return "STOP"
}

func geminiCallParts(rep Reply) []any {
	var parts []any
	for i, tc := range rep.ToolCalls {
		args := json.RawMessage(tc.Arguments)
		if !json.Valid(args) {
			args = json.RawMessage("{}")
		}
		p := map[string]any{"functionCall": map[string]any{"name": tc.Name, "args": args}}
		if i == 0 {
			p["thoughtSignature"] = "ZmFrZS1zaWduYXR1cmU="
		}
		parts = append(parts, p)
	}
	return parts
}

func (s *Server) geminiChat(w http.ResponseWriter, model string, rep Reply) {
	var parts []any
	if rep.Reasoning != "" {
		parts = append(parts, map[string]any{"text": rep.Reasoning, "thought": true})
	}
	if rep.Text != "" {
		parts = append(parts, map[string]any{"text": rep.Text})
	}
	parts = append(parts, geminiCallParts(rep)...)
	writeJSON(w, 200, map[string]any{
		"candidates": []any{map[string]any{"content": map[string]any{"role": "model", "parts": parts},
			"finishReason": geminiFinish(rep), "index": 0}},
		"usageMetadata": geminiUsage(rep, rep.CompletionTokens),
		"modelVersion":  model,
		"responseId":    "fake-response-id",
	})
}

func (s *Server) geminiStream(w http.ResponseWriter, r *http.Request, model string, rep Reply) {
	if r.URL.Query().Get("alt") != "sse" {
		geminiError(w, 400, "INVALID_ARGUMENT", "the fake serves streams only with alt=sse", 0)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\r\n\r\n", b)
		flush(w)
		if rep.ChunkDelay > 0 {
			time.Sleep(rep.ChunkDelay)
		}
	}
	event := func(parts []any, finish string, completion int) {
		cand := map[string]any{"content": map[string]any{"role": "model", "parts": parts}, "index": 0}
		if finish != "" {
			cand["finishReason"] = finish
		}
		send(map[string]any{"candidates": []any{cand}, "usageMetadata": geminiUsage(rep, completion),
			"modelVersion": model, "responseId": "fake-response-id"})
	}
	if rep.Reasoning != "" {
		event([]any{map[string]any{"text": rep.Reasoning, "thought": true}}, "", 0)
	}
	deltas := words(rep.Text, rep.Chunks)
	for n, part := range deltas {
		if rep.TruncateAfter > 0 && n == rep.TruncateAfter {
			return
		}
		if rep.ErrType != "" && n == rep.FailAfter {
			send(geminiErrorBody(geminiCode(rep.ErrType), rep.ErrType, "fake mid-stream error", 0))
			return
		}
		finish := ""
		if n == len(deltas)-1 && len(rep.ToolCalls) == 0 {
			finish = geminiFinish(rep)
		}
		event([]any{map[string]any{"text": part}}, finish, rep.CompletionTokens*(n+1)/len(deltas))
	}
	switch {
	case len(rep.ToolCalls) > 0:
		event(geminiCallParts(rep), "", rep.CompletionTokens)
		// Newer models end a tool turn on a separate chunk: an empty text part and STOP.
		event([]any{map[string]any{"text": ""}}, geminiFinish(rep), rep.CompletionTokens)
	case len(deltas) == 0:
		event([]any{map[string]any{"text": ""}}, geminiFinish(rep), rep.CompletionTokens)
	}
}
