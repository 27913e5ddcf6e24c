package cache

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

func TestMemoryLRUAndTTL(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(100)
	now := time.Unix(1000, 0)
	m.now = func() time.Time { return now }
	m.Set(ctx, "a", make([]byte, 40), time.Minute)
	m.Set(ctx, "b", make([]byte, 40), time.Minute)
	m.Get(ctx, "a") // a is now the most recent
	m.Set(ctx, "c", make([]byte, 40), time.Minute)
	if _, ok, _ := m.Get(ctx, "b"); ok {
		t.Fatal("b should have been evicted as the least recently used")
	}
	if _, ok, _ := m.Get(ctx, "a"); !ok {
		t.Fatal("a was evicted")
	}
	now = now.Add(2 * time.Minute)
	if _, ok, _ := m.Get(ctx, "a"); ok {
		t.Fatal("a outlived its TTL")
	}
	m.Set(ctx, "huge", make([]byte, 200), time.Minute)
	if _, ok, _ := m.Get(ctx, "huge"); ok || m.size > m.max {
		t.Fatalf("a value larger than the cache was stored (size %d)", m.size)
	}
}

func TestKeyIgnoresStreamingAndUser(t *testing.T) {
	base := `{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.5}`
	var a, b, c openai.ChatRequest
	json.Unmarshal([]byte(base), &a)
	json.Unmarshal([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.5,"stream":true,"stream_options":{"include_usage":true},"user":"u1"}`), &b)
	json.Unmarshal([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.7}`), &c)
	ka, _ := Key("", &a)
	kb, _ := Key("", &b)
	kc, _ := Key("", &c)
	ks, _ := Key("tenant-2", &a)
	if ka != kb {
		t.Fatal("stream and user must not change the key")
	}
	if ka == kc || ka == ks {
		t.Fatal("parameters and scope must change the key")
	}
}

func TestChunksRoundTrip(t *testing.T) {
	long := strings.Repeat("héllo wörld ", 20)
	resp := &openai.ChatResponse{ID: "x", Model: "m", Created: 5, Choices: []openai.Choice{{
		Message: openai.Message{Role: "assistant", Content: openai.TextContent(long), ReasoningContent: "because",
			ToolCalls: []openai.ToolCall{{ID: "c1", Type: "function", Function: openai.FunctionCall{Name: "f", Arguments: `{"a":1}`}},
				{ID: "c2", Type: "function", Function: openai.FunctionCall{Name: "g", Arguments: `{}`}}}},
		FinishReason: "tool_calls"}}, Usage: &openai.Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7}}
	for _, size := range []int{1, 7, 64, 1000} {
		var acc Accumulator
		chunks := Chunks(resp, size)
		for _, c := range chunks {
			acc.Add(c)
		}
		got := acc.Response()
		m := got.Choices[0].Message
		if !acc.Complete() || m.Content.String() != long || m.ReasoningContent != "because" || len(m.ToolCalls) != 2 ||
			m.ToolCalls[1].Function.Name != "g" || m.ToolCalls[0].Function.Arguments != `{"a":1}` ||
			got.Choices[0].FinishReason != "tool_calls" || got.Usage.TotalTokens != 7 {
			t.Fatalf("size %d: %+v", size, got)
		}
		if last := chunks[len(chunks)-1]; len(last.Choices) != 0 || last.Usage == nil {
			t.Fatalf("size %d: the usage chunk must come last", size)
		}
	}
}

func TestSplitKeepsRunes(t *testing.T) {
	for _, s := range []string{"", "abc", "ééééé", "日本語のテキスト"} {
		for size := 1; size < 8; size++ {
			pieces := split(s, size)
			if strings.Join(pieces, "") != s {
				t.Fatalf("split(%q, %d) = %q", s, size, pieces)
			}
			for _, p := range pieces {
				if len(p) > size || (size >= utf8.UTFMax && !utf8.ValidString(p)) {
					t.Fatalf("split(%q, %d): piece %q", s, size, p)
				}
			}
		}
	}
}

func BenchmarkKey(b *testing.B) {
	var r openai.ChatRequest
	json.Unmarshal([]byte(`{"model":"m","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello."}],"temperature":0.7,"max_tokens":64}`), &r)
	b.ReportAllocs()
	for b.Loop() {
		Key("", &r)
	}
}
