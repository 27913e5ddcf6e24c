// Package fakellm runs fake LLM provider servers on loopback that behave like the real
// provider APIs: their paths, auth headers, JSON bodies, streaming framing, error bodies
// and rate limits with retry-after. Tests script what a fake answers and inspect what it
// received.
package fakellm

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Reply scripts one answer of a fake provider.
type Reply struct {
	// Status, when not 0 or 200, answers with the provider's error body of that status.
	Status     int
	ErrType    string        // provider error type (default from the status)
	ErrMessage string        // default "fake error"
	RetryAfter time.Duration // sets retry-after on the error answer

	// The successful answer: text, then tool calls.
	Text       string
	Reasoning  string
	ToolCalls  []ToolCall
	StopReason string // provider-specific; default: the provider's normal end (tool stop when ToolCalls)

	// Usage reported by the provider (in the provider's own semantics for cached tokens).
	PromptTokens, CompletionTokens, CachedTokens int

	// Delay is how long the fake thinks before it answers.
	Delay time.Duration

	// Streaming behaviour.
	Chunks        int           // split Text into this many deltas (default: one per word)
	ChunkDelay    time.Duration // pause between stream events
	FailAfter     int           // with ErrType set: send an error event after this many deltas (stream only)
	TruncateAfter int           // close the stream after this many deltas, without the end event (0: off)
}

// ToolCall is a tool call the fake model makes.
type ToolCall struct {
	ID, Name, Arguments string // Arguments is JSON
}

// Received is one request a fake got.
type Received struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// JSON decodes the received body.
func (r Received) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("fake received a body that is not JSON: %v: %s", err, r.Body)
	}
	return m
}

// Server is a fake provider. Replies are consumed in order; the last one repeats.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	replies  []Reply
	received []Received
	// Key, when set, is the credential the fake requires.
	Key string
}

// Script sets the replies to come.
func (s *Server) Script(r ...Reply) {
	s.mu.Lock()
	s.replies = append([]Reply(nil), r...)
	s.mu.Unlock()
}

// Received returns a copy of the requests received so far.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// Last returns the last request received; it fails the test when there was none.
func (s *Server) Last(t testing.TB) Received {
	t.Helper()
	r := s.Received()
	if len(r) == 0 {
		t.Fatal("the fake provider received no request")
	}
	return r[len(r)-1]
}

// next records a request and returns the reply to give.
func (s *Server) next(r *http.Request, body []byte) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, Received{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
	if len(s.replies) == 0 {
		return Reply{Text: "Hello from the fake provider."}
	}
	rep := s.replies[0]
	if len(s.replies) > 1 {
		s.replies = s.replies[1:]
	}
	return rep
}

// words splits text into n deltas (n <= 0: one per word, spaces kept with the word before).
func words(text string, n int) []string {
	if text == "" {
		return nil
	}
	if n <= 0 {
		var out []string
		start := 0
		for i := 0; i < len(text); i++ {
			if text[i] == ' ' {
				out = append(out, text[start:i+1])
				start = i + 1
			}
		}
		if start < len(text) {
			out = append(out, text[start:])
		}
		return out
	}
	if n > len(text) {
		n = len(text)
	}
	// Pieces of about len/n bytes, cut at rune boundaries: a JSON string carries whole
	// characters, so a real provider never splits one.
	size := (len(text) + n - 1) / n
	var out []string
	for len(text) > 0 {
		cut := min(size, len(text))
		for cut < len(text) && !utf8.RuneStart(text[cut]) {
			cut++
		}
		out = append(out, text[:cut])
		text = text[cut:]
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}
