package openai

import (
	"net/http/httptest"
	"testing"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

var benchBody = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},` +
	`{"role":"user","content":"Say hello in one short sentence."}],"temperature":0.7,"max_tokens":64}`)

func BenchmarkParseChat(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		if _, e := (Dialect{}).ParseChat(benchBody); e != nil {
			b.Fatal(e)
		}
	}
}

func BenchmarkStreamWriter(b *testing.B) {
	content := "Hel"
	ch := &openai.ChatChunk{ID: "chatcmpl-1", Object: "chat.completion.chunk", Created: 1, Model: "m",
		Choices: []openai.ChunkChoice{{Delta: openai.Delta{Content: &content}}}}
	req := &openai.ChatRequest{Stream: true}
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		sw := (Dialect{}).NewStream(w, req)
		for range 10 {
			sw.WriteChunk(ch)
		}
		sw.Close()
	}
}
