package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// FuzzChatStream: arbitrary upstream bytes never panic, and a stream only ends cleanly
// (io.EOF) when a message_stop event was read, after a finish chunk and a usage chunk.
func FuzzChatStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/stream.sse")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
	f.Add([]byte("data: {\"type\":\"content_block_start\",\"index\":99999999,\"content_block\":{\"type\":\"tool_use\"}}\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewStreamReader(io.NopCloser(bytes.NewReader(in)), "m", 200, 0)
		var last []*openai.ChatChunk
		for range 100000 {
			c, err := r.Next()
			if err == io.EOF {
				if !bytes.Contains(in, []byte("message_stop")) && !bytes.Contains(in, []byte(`\u`)) { // a JSON escape may spell it
					t.Fatalf("clean end without message_stop: %q", in)
				}
				if n := len(last); n < 2 || last[n-1].Usage == nil || last[n-2].Choices[0].FinishReason == nil {
					t.Fatalf("clean end without a finish and a usage chunk")
				}
				return
			}
			if err != nil {
				if _, ok := err.(*llm.Error); !ok {
					t.Fatalf("error %T is not an *llm.Error", err)
				}
				return
			}
			if c == nil {
				t.Fatal("nil chunk")
			}
			last = append(last, c)
		}
		t.Fatal("the reader does not end")
	})
}

func typicalRequest() *openai.ChatRequest {
	var req openai.ChatRequest
	_ = json.Unmarshal([]byte(`{"model":"claude","max_completion_tokens":1024,"temperature":0.7,"messages":[
	 {"role":"system","content":"You are a helpful assistant. Answer briefly and cite sources."},
	 {"role":"user","content":"What is the weather in Paris and in Berlin today? Please compare both."},
	 {"role":"assistant","content":"Let me check both cities.","tool_calls":[
	   {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"unit\":\"celsius\"}"}},
	   {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Berlin\",\"unit\":\"celsius\"}"}}]},
	 {"role":"tool","tool_call_id":"call_1","content":"{\"temp\":18,\"sky\":\"cloudy\"}"},
	 {"role":"tool","tool_call_id":"call_2","content":"{\"temp\":12,\"sky\":\"rain\"}"},
	 {"role":"user","content":"Thanks. Which one is warmer?"}],
	 "tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather for a city",
	   "parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"]}}}],
	 "tool_choice":"auto"}`), &req)
	return &req
}

func BenchmarkChatRequest(b *testing.B) {
	req := typicalRequest()
	c := &llm.Call{Request: req, Model: "claude-sonnet-4-5", BaseURL: "https://api.anthropic.com/v1", APIKey: "sk-ant", DefaultMaxTokens: 4096}
	a := New()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.ChatRequest(b.Context(), c); err != nil {
			b.Fatal(err)
		}
	}
}

// streamBytes is an Anthropic stream of n text deltas.
func streamBytes(n int) []byte {
	var sb strings.Builder
	sb.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n")
	sb.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
	sb.WriteString("event: ping\ndata: {\"type\": \"ping\"}\n\n")
	for i := range n {
		fmt.Fprintf(&sb, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"word%d \"}}\n\n", i)
	}
	sb.WriteString("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n")
	sb.WriteString("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":50}}\n\n")
	sb.WriteString("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	return []byte(sb.String())
}

func BenchmarkChatStream(b *testing.B) {
	in := streamBytes(50)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewStreamReader(io.NopCloser(bytes.NewReader(in)), "m", 200, 0)
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
