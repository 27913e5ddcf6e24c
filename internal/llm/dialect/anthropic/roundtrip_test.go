package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/pylon-gateway/pylon/internal/llm"
	provider "github.com/pylon-gateway/pylon/internal/llm/provider/anthropic"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

func canon(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

// An Anthropic client talking to an Anthropic upstream through Pylon: the request the
// upstream gets is the one the client sent (dialect parse, then adapter translation).
func TestRoundTripRequest(t *testing.T) {
	in := `{"model":"claude-sonnet-4-5","max_tokens":1024,"temperature":0.5,"top_p":0.9,"top_k":3,"stop_sequences":["X"],"stream":true,
	 "metadata":{"user_id":"u"},"thinking":{"type":"enabled","budget_tokens":1024},
	 "system":[{"type":"text","text":"sys","cache_control":{"type":"ephemeral"}}],
	 "tools":[{"name":"get_a","description":"A","input_schema":{"type":"object","properties":{"x":{"type":"integer"}}},"cache_control":{"type":"ephemeral"}}],
	 "tool_choice":{"type":"any","disable_parallel_tool_use":true},
	 "output_config":{"format":{"type":"json_schema","schema":{"type":"object"}}},
	 "messages":[
	  {"role":"user","content":[{"type":"text","text":"go","cache_control":{"type":"ephemeral"}},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAA="}},
	    {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBER="}},{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]},
	  {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"redacted_thinking","data":"d"},{"type":"text","text":"Let me check."},
	    {"type":"tool_use","id":"toolu_1","name":"get_a","input":{"x":1}},{"type":"tool_use","id":"toolu_2","name":"get_a","input":{}}]},
	  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"r1"},{"type":"tool_result","tool_use_id":"toolu_2","content":"r2"},{"type":"text","text":"thanks"}]}]}`
	req, e := New().ParseChat([]byte(in))
	if e != nil {
		t.Fatal(e)
	}
	body, err := provider.MarshalRequest(&llm.Call{Request: req, Model: "claude-sonnet-4-5", Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := canon(t, body), canon(t, []byte(in)); !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs:\n got %s\nwant %s", body, in)
	}
}

// A non-streamed answer: Anthropic message -> canonical (adapter) -> Anthropic (dialect).
func TestRoundTripResponse(t *testing.T) {
	in := `{"id":"msg_01X","type":"message","role":"assistant","model":"claude-x","content":[
	 {"type":"thinking","thinking":"t","signature":"s"},{"type":"text","text":"Let me check."},
	 {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}],
	 "stop_reason":"tool_use","stop_sequence":null,
	 "usage":{"input_tokens":5,"output_tokens":3,"cache_creation_input_tokens":20,"cache_read_input_tokens":100}}`
	resp := &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(in)), Header: http.Header{}}
	c, err := provider.New().DecodeChat(resp, &llm.Call{Model: "claude-x"})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := New().WriteChat(w, c, &openai.ChatRequest{Model: "claude-x"}); err != nil {
		t.Fatal(err)
	}
	if got, want := canon(t, w.Body.Bytes()), canon(t, []byte(in)); !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs:\n got %s\nwant %s", w.Body, in)
	}
}

// A stream: recorded Anthropic SSE -> canonical chunks (adapter) -> Anthropic SSE (dialect)
// -> canonical chunks again: the same text, tool calls, finish and usage.
func TestRoundTripStream(t *testing.T) {
	for _, name := range []string{"c12_stream_text", "c13_stream_text_then_two_tools", "c14_stream_noarg_tool", "r09_stream_thinking_usage_override"} {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("../../provider/anthropic/testdata", name, "stream.sse"))
			if err != nil {
				t.Fatal(err)
			}
			first := readAll(t, in)
			w := httptest.NewRecorder()
			sw := New().NewStream(w, &openai.ChatRequest{Model: "claude-sonnet-4-5"})
			for _, c := range first {
				if err := sw.WriteChunk(c); err != nil {
					t.Fatal(err)
				}
			}
			if err := sw.Close(); err != nil {
				t.Fatal(err)
			}
			second := readAll(t, w.Body.Bytes())
			if a, b := summary(first), summary(second); a != b {
				t.Errorf("round trip differs:\n%s\n%s\n%s", a, b, w.Body)
			}
		})
	}
}

func readAll(t *testing.T, sse []byte) []*openai.ChatChunk {
	t.Helper()
	r := provider.NewStreamReader(io.NopCloser(bytes.NewReader(sse)), "m", 200, 0)
	var out []*openai.ChatChunk
	for {
		c, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, sse)
		}
		out = append(out, c)
	}
}

func summary(cs []*openai.ChatChunk) string {
	var b strings.Builder
	for _, c := range cs {
		if c.Usage != nil {
			u, _ := json.Marshal(c.Usage)
			b.WriteString("usage " + string(u) + "\n")
		}
		for _, ch := range c.Choices {
			d := ch.Delta
			if d.Content != nil && *d.Content != "" {
				b.WriteString("text " + *d.Content + "\n")
			}
			if d.ReasoningContent != nil {
				b.WriteString("reasoning " + *d.ReasoningContent + "\n")
			}
			if d.ThinkingSignature != "" {
				b.WriteString("signature " + d.ThinkingSignature + "\n")
			}
			for _, tc := range d.ToolCalls {
				tj, _ := json.Marshal(tc)
				b.WriteString("tool " + string(tj) + "\n")
			}
			if ch.FinishReason != nil {
				b.WriteString("finish " + *ch.FinishReason + "\n")
			}
		}
	}
	return b.String()
}

// The official SDK reads what the dialect writes: a plain message, a stream accumulated
// into a message, and an error.
func TestDialectWithOfficialSDK(t *testing.T) {
	d := New()
	chunks := func(id string) []*openai.ChatChunk {
		mk := func(delta openai.Delta, finish string) *openai.ChatChunk {
			c := &openai.ChatChunk{ID: id, Choices: []openai.ChunkChoice{{Delta: delta}}}
			if finish != "" {
				c.Choices[0].FinishReason = &finish
			}
			return c
		}
		return []*openai.ChatChunk{
			mk(openai.Delta{Role: "assistant", Content: openai.Ptr("")}, ""),
			mk(openai.Delta{Content: openai.Ptr("Hello ")}, ""),
			mk(openai.Delta{Content: openai.Ptr("world")}, ""),
			mk(openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: 0, ID: "call_1", Type: "function", Function: openai.FunctionCallDelta{Name: "get_a"}}}}, ""),
			mk(openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: 0, Function: openai.FunctionCallDelta{Arguments: `{"x":`}}}}, ""),
			mk(openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: 0, Function: openai.FunctionCallDelta{Arguments: `1}`}}}}, ""),
			mk(openai.Delta{}, "stop"),
			{ID: id, Choices: []openai.ChunkChoice{}, Usage: &openai.Usage{PromptTokens: 30, CompletionTokens: 9, TotalTokens: 39,
				PromptTokensDetails: &openai.PromptTokensDetails{CachedTokens: 10}}},
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, e := d.ParseChat(body)
		if e != nil {
			d.WriteError(w, e)
			return
		}
		if req.Model == "overloaded" {
			d.WriteError(w, &llm.Error{Kind: llm.KindOverloaded, Message: "Overloaded"})
			return
		}
		if !req.Stream {
			_ = d.WriteChat(w, &openai.ChatResponse{ID: "chatcmpl-7", Choices: []openai.Choice{{Message: openai.Message{Role: "assistant",
				Content: openai.TextContent("Hello world"), ToolCalls: []openai.ToolCall{{ID: "call_1", Type: "function", Function: openai.FunctionCall{Name: "get_a", Arguments: `{"x":1}`}}}},
				FinishReason: "tool_calls"}}, Usage: &openai.Usage{PromptTokens: 30, CompletionTokens: 9, TotalTokens: 39,
				PromptTokensDetails: &openai.PromptTokensDetails{CachedTokens: 10}}}, req)
			return
		}
		sw := d.NewStream(w, req)
		for _, c := range chunks("chatcmpl-7") {
			_ = sw.WriteChunk(c)
		}
		_ = sw.Close()
	}))
	defer srv.Close()
	client := sdk.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("k"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	params := sdk.MessageNewParams{Model: "my-model", MaxTokens: 100, Messages: []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock("Hi"))}}
	check := func(what string, m *sdk.Message) {
		t.Helper()
		var text, tool string
		for _, b := range m.Content {
			switch v := b.AsAny().(type) {
			case sdk.TextBlock:
				text += v.Text
			case sdk.ToolUseBlock:
				tool = v.ID + v.Name + string(v.Input)
			}
		}
		if text != "Hello world" || tool != `call_1get_a{"x":1}` || m.StopReason != "tool_use" || m.Model != "my-model" || m.ID != "msg_7" ||
			m.Usage.InputTokens != 20 || m.Usage.CacheReadInputTokens != 10 || m.Usage.OutputTokens != 9 {
			t.Errorf("%s: text %q tool %q stop %q model %q id %q usage %+v", what, text, tool, m.StopReason, m.Model, m.ID, m.Usage)
		}
	}
	msg, err := client.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	check("plain", msg)

	stream := client.Messages.NewStreaming(ctx, params)
	var acc sdk.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	check("stream", &acc)

	params.Model = "overloaded"
	_, err = client.Messages.New(ctx, params)
	var apiErr *sdk.Error
	if !errorsAs(err, &apiErr) || apiErr.StatusCode != 503 || !strings.Contains(apiErr.RawJSON(), "overloaded_error") {
		t.Fatalf("error %v", err)
	}
}

func errorsAs(err error, target **sdk.Error) bool {
	e, ok := err.(*sdk.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestMessageID(t *testing.T) {
	if id := MessageID(""); !regexp.MustCompile(`^msg_[0-9a-f]{24}$`).MatchString(id) || id == MessageID("") {
		t.Errorf("made-up id %q", id)
	}
	for in, want := range map[string]string{"msg_01": "msg_01", "chatcmpl-abc": "msg_abc", "gen-1": "msg_gen-1"} {
		if got := MessageID(in); got != want {
			t.Errorf("MessageID(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseChat: any body parses into a request or a 400, never a panic; a parsed request
// always has a model, max tokens and messages.
func FuzzParseChat(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/request.json")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":null}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, e := New().ParseChat(body)
		if e != nil {
			if e.Kind != llm.KindInvalidRequest {
				t.Fatalf("error kind %d", e.Kind)
			}
			return
		}
		if req.Model == "" || req.MaxOutput() < 1 || len(req.Messages) == 0 {
			t.Fatalf("accepted an incomplete request %+v", req)
		}
		if _, err := json.Marshal(req); err != nil {
			t.Fatalf("canonical request does not encode: %v", err)
		}
	})
}

func BenchmarkParseChat(b *testing.B) {
	body, err := os.ReadFile("testdata/p02_tools_round_trip/request.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, e := New().ParseChat(body); e != nil {
			b.Fatal(e)
		}
	}
}

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Flush()                      {}

// BenchmarkStreamWriter writes a 50-delta stream as Anthropic events.
func BenchmarkStreamWriter(b *testing.B) {
	chunks := make([]*openai.ChatChunk, 0, 53)
	chunks = append(chunks, &openai.ChatChunk{ID: "chatcmpl-1", Choices: []openai.ChunkChoice{{Delta: openai.Delta{Role: "assistant", Content: openai.Ptr("")}}}})
	for range 50 {
		chunks = append(chunks, &openai.ChatChunk{ID: "chatcmpl-1", Choices: []openai.ChunkChoice{{Delta: openai.Delta{Content: openai.Ptr("word ")}}}})
	}
	chunks = append(chunks, &openai.ChatChunk{ID: "chatcmpl-1", Choices: []openai.ChunkChoice{{FinishReason: openai.Ptr("stop")}}},
		&openai.ChatChunk{ID: "chatcmpl-1", Choices: []openai.ChunkChoice{}, Usage: &openai.Usage{PromptTokens: 10, CompletionTokens: 50, TotalTokens: 60}})
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		sw := New().NewStream(w, &openai.ChatRequest{Model: "m"})
		for _, c := range chunks {
			if err := sw.WriteChunk(c); err != nil {
				b.Fatal(err)
			}
		}
		if err := sw.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
