package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// FuzzChatStream: arbitrary upstream bytes never panic, a stream only ends cleanly (io.EOF)
// after a [DONE] event, raw chunks are valid JSON, and a usage chunk has no choices.
func FuzzChatStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/upstream.sse")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b, uint8(0))
	}
	f.Add([]byte("data: [DONE]\n\n"), uint8(1))
	f.Add([]byte("data: {\"choices\":[{\"delta\":{}}],\"usage\":{\"prompt_tokens\":1},\"x_groq\":{}}\n\ndata: [DONE]"), uint8(2))
	f.Add([]byte("event: error\ndata: {\"error\":{\"code\":99999999999999999999}}\n\n"), uint8(3))
	profiles := []string{"openai", "mistral", "groq", "azure", "openrouter", "vllm"}
	f.Fuzz(func(t *testing.T, in []byte, profile uint8) {
		a, _ := New(profiles[int(profile)%len(profiles)])
		r := a.ChatStream(&http.Response{Body: io.NopCloser(bytes.NewReader(in))}, &llm.Call{})
		for range 100000 {
			c, err := r.Next()
			if err == io.EOF {
				if !bytes.Contains(in, doneMarker) {
					t.Fatalf("clean end without [DONE]: %q", in)
				}
				return
			}
			if err != nil {
				if _, ok := err.(*llm.Error); !ok {
					t.Fatalf("error %T is not an *llm.Error", err)
				}
				if _, err2 := r.Next(); err2 != err {
					t.Fatalf("the error does not stick: %v then %v", err, err2)
				}
				return
			}
			if c == nil {
				t.Fatal("nil chunk")
			}
			if c.Raw != nil && !json.Valid(c.Raw) {
				t.Fatalf("raw chunk %q is not JSON", c.Raw)
			}
			if c.Lazy() {
				if c.Decode() != nil {
					continue // the gateway answers an undecodable chunk with an upstream error
				}
				if c.Usage != nil {
					t.Fatal("a lazy chunk hid a usage report")
				}
			}
			if len(c.Choices) > 0 && c.Usage != nil {
				t.Fatal("usage on a chunk with choices")
			}
			if len(c.Choices) == 0 && c.Usage == nil {
				t.Fatal("an empty chunk")
			}
		}
		t.Fatal("the reader does not end")
	})
}

// typicalBody is an OpenAI client's request of an agent turn.
const typicalBody = `{"model":"chat-default","max_completion_tokens":1024,"temperature":0.7,"messages":[
 {"role":"developer","content":"You are a helpful assistant. Answer briefly and cite sources."},
 {"role":"user","content":"What is the weather in Paris and in Berlin today? Please compare both."},
 {"role":"assistant","content":"Let me check both cities.","tool_calls":[
   {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"unit\":\"celsius\"}"}},
   {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Berlin\",\"unit\":\"celsius\"}"}}]},
 {"role":"tool","tool_call_id":"call_1","content":"{\"temp\":18,\"sky\":\"cloudy\"}"},
 {"role":"tool","tool_call_id":"call_2","content":"{\"temp\":12,\"sky\":\"rain\"}"},
 {"role":"user","content":"Thanks. Which one is warmer?"}],
 "tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather for a city",
   "parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"]}}}],
 "tool_choice":"auto","stream":true}`

func BenchmarkChatRequest(b *testing.B) {
	for _, bc := range []struct{ name, profile string }{
		{"raw", "openai"},        // the client's body, model patched, include_usage injected
		{"reencode", "deepseek"}, // developer -> system: the canonical request re-encoded
		{"mistral", "mistral"},   // re-encoded with short tool ids
	} {
		b.Run(bc.name, func(b *testing.B) {
			var req openai.ChatRequest
			if err := json.Unmarshal([]byte(typicalBody), &req); err != nil {
				b.Fatal(err)
			}
			req.Raw = []byte(typicalBody)
			a, _ := New(bc.profile)
			c := &llm.Call{Request: &req, Model: "gpt-4o-mini", BaseURL: "https://api.openai.com/v1", APIKey: "sk-test", Stream: true}
			if (bc.profile == "openai") == a.needsRewrite(&req) {
				b.Fatalf("%s: needsRewrite = %v", bc.name, a.needsRewrite(&req))
			}
			b.SetBytes(int64(len(typicalBody)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.ChatRequest(b.Context(), c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// streamBytes is an OpenAI stream of n content chunks, a finish chunk and a usage chunk.
func streamBytes(n int) []byte {
	const h = `"id":"chatcmpl-1","object":"chat.completion.chunk","created":1730000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1"`
	var sb strings.Builder
	sb.WriteString(`data: {` + h + `,"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	for i := range n {
		fmt.Fprintf(&sb, `data: {`+h+`,"choices":[{"index":0,"delta":{"content":"word%d "},"logprobs":null,"finish_reason":null}],"usage":null}`+"\n\n", i)
	}
	sb.WriteString(`data: {` + h + `,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}` + "\n\n")
	sb.WriteString(`data: {` + h + `,"choices":[],"usage":{"prompt_tokens":25,"completion_tokens":50,"total_tokens":75,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}}` + "\n\n")
	sb.WriteString("data: [DONE]\n\n")
	return []byte(sb.String())
}

func BenchmarkChatStream(b *testing.B) {
	in := streamBytes(50)
	a, _ := New("openai")
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r := a.ChatStream(&http.Response{Body: io.NopCloser(bytes.NewReader(in))}, &llm.Call{})
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 53 {
			b.Fatalf("%d chunks", n)
		}
	}
}
