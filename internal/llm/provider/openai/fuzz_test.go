package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
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

// FuzzScanChunk: when scanChunk is sure, it agrees with the general path (gjson's
// validation and plainChunk).
func FuzzScanChunk(f *testing.F) {
	for _, s := range []string{
		`{"id":"x","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}`,
		`{"choices":[ ],"usage":{"prompt_tokens":1}}`, `{"Choices":[1],"USAGE":{}}`, `{"choices":[1],"x_groq":{}}`,
		`{"choices":[1],"u\u0073age":{}}`, `{"\u0063hoices":[1]}`, `{"choices":[1],"uſage":{}}`, `{"choices":[1]`, `[1]`, `"x"`,
		`{"choices":[1],"choices":[]}`, `{"choices":[],"choices":[1]}`, `{"choices":{"a":1}}`,
		`{"error":{"message":"m"}}`, `{"ERROR":{}}`, `{"e\u0072ror":{}}`, `{"errors":{}}`, `{"choices":[1],"Error":{"code":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"id":"a","object":"chat.completion.chunk","created":"12","model":"m\u00e9","system_fingerprint":7,"choices":[],"usage":{"prompt_tokens":3,"prompt_tokens":4,"completion_tokens_details":{"reasoning_tokens":2}}}`))
	f.Add([]byte(`{"id":"a","choices":null,"usage":{"total_tokens":1.5e3},"id":"b"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 0 && gjson.ValidBytes(in) {
			// usageChunk's one scan reads what gjson's Get reads.
			if got, want := usageChunk(in), usageChunkGet(in); !reflect.DeepEqual(got, want) {
				t.Fatalf("usageChunk(%q) = %+v, Get reads %+v", in, got, want)
			}
		}
		plain, known, errKey := scanChunk(in)
		if !known {
			return
		}
		if !errKey && errorInBody(in) != nil {
			t.Fatalf("scanChunk(%q) missed an error", in)
		}
		if !gjson.ValidBytes(in) {
			t.Fatalf("scanChunk(%q) took invalid JSON", in)
		}
		if want := plainChunk(in); plain != want {
			t.Fatalf("scanChunk(%q) = %v, plainChunk %v", in, plain, want)
		}
	})
}

// usageOfGet is usageOf as it was, with a Get per field: the reference of FuzzUsageOf.
func usageOfGet(u gjson.Result) *openai.Usage {
	out := &openai.Usage{
		PromptTokens:     int(u.Get("prompt_tokens").Int()),
		CompletionTokens: int(u.Get("completion_tokens").Int()),
		TotalTokens:      int(u.Get("total_tokens").Int()),
	}
	if d := u.Get("prompt_tokens_details"); d.IsObject() {
		out.PromptTokensDetails = &openai.PromptTokensDetails{
			CachedTokens:        int(d.Get("cached_tokens").Int()),
			CacheCreationTokens: int(d.Get("cache_write_tokens").Int()),
		}
	}
	if d := u.Get("completion_tokens_details"); d.IsObject() {
		out.CompletionTokensDetails = &openai.CompletionTokensDetails{ReasoningTokens: int(d.Get("reasoning_tokens").Int())}
	}
	return out
}

func FuzzUsageOf(f *testing.F) {
	f.Add(`{"prompt_tokens":3,"prompt_tokens":4,"completion_tokens":"7","total_tokens":1e2,"prompt_tokens_details":{"cached_tokens":1},"completion_tokens_details":null}`)
	f.Add(`{"pr\u006fmpt_tokens":3,"completion_tokens_details":{"reasoning_tokens":2},"completion_tokens_details":{}}`)
	f.Add(`{"prompt_tokens":-0,"completion_tokens":-12,"total_tokens":1.5,"prompt_tokens_details":{"cached_tokens":"12","cache_write_tokens":true,"cached_tokens":2}}`)
	f.Add(`{"prompt_tokens":123456789012345678901,"completion_tokens":999999999999999,"total_tokens":-1e3,"completion_tokens_details":{"reasoning_tokens":null,"re\u0061soning_tokens":1}}`)
	f.Fuzz(func(t *testing.T, in string) {
		if !gjson.Valid(in) {
			return
		}
		u := gjson.Parse(in)
		if !u.IsObject() {
			return
		}
		if got, want := usageOf(u), usageOfGet(u); !reflect.DeepEqual(got, want) {
			t.Fatalf("usageOf(%s) = %+v, want %+v", in, got, want)
		}
	})
}

// sjsonPatch is chatBody's raw path with sjson, the reference of patchRaw.
func sjsonPatch(raw []byte, model string, addUsage bool) ([]byte, error) {
	b, err := sjson.SetBytes(raw, "model", model)
	if err == nil && addUsage {
		b, err = sjson.SetBytes(b, "stream_options.include_usage", true)
	}
	return b, err
}

func FuzzPatchRaw(f *testing.F) {
	f.Add([]byte(typicalBody), "gpt-4o-mini", true)
	f.Add([]byte(` {"model" : "a", "messages":[] } `), "m\"é", false)
	f.Add([]byte(`{"messages":[],"model":null,"model":"b"}`), "x", true)
	f.Add([]byte(`{"model":"a","stream_options":{"include_usage":false}}`), "x", true)
	f.Add([]byte(`{"mod\u0065l":"a"}`), "x", true)
	f.Fuzz(func(t *testing.T, raw []byte, model string, addUsage bool) {
		got, ok := patchRaw(raw, model, addUsage)
		if !ok {
			return
		}
		want, err := sjsonPatch(raw, model, addUsage)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("patchRaw(%q, %q, %v) = %q, sjson %q (%v)", raw, model, addUsage, got, want, err)
		}
	})
}

func FuzzScanAnswer(f *testing.F) {
	f.Add([]byte(`{"id":"x","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":1},"usage":null}`))
	f.Add([]byte(`{"error":{"message":"m"},"choices":null}`))
	f.Add([]byte(`{"ch\u006fices":[],"usage":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		choices, u, known := scanAnswer(body)
		if !known {
			return
		}
		if !gjson.ValidBytes(body) {
			t.Fatalf("scanAnswer took %q", body)
		}
		if c := gjson.GetBytes(body, "choices"); c.Raw != choices.Raw || c.Type != choices.Type || c.IsArray() != choices.IsArray() {
			t.Fatalf("%q: choices %q, gjson %q", body, choices.Raw, c.Raw)
		}
		if g := gjson.GetBytes(body, "usage"); g.Raw != u.Raw || g.IsObject() != u.IsObject() {
			t.Fatalf("%q: usage %q, gjson %q", body, u.Raw, g.Raw)
		}
	})
}
