package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/gemini"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/testutil/fakellm"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct {
		base, model string
		stream      bool
		want        string
	}{
		{DefaultBaseURL, "gemini-2.5-flash", false, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"},
		{DefaultBaseURL + "/", "models/gemini-2.5-flash", true, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"},
		{VertexBaseURL("p1", "us-central1"), "gemini-2.5-pro", false, "https://us-central1-aiplatform.googleapis.com/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent"},
		{VertexBaseURL("p1", "global"), "gemini-3-pro-preview", true, "https://aiplatform.googleapis.com/v1/projects/p1/locations/global/publishers/google/models/gemini-3-pro-preview:streamGenerateContent?alt=sse"},
	} {
		if got := URL(tc.base, tc.model, tc.stream); got != tc.want {
			t.Errorf("URL(%q, %q, %v) = %q, want %q", tc.base, tc.model, tc.stream, got, tc.want)
		}
	}
}

func TestAuthHeaders(t *testing.T) {
	req := &openai.ChatRequest{Model: "m", Messages: []openai.Message{{Role: "user", Content: openai.TextContent("hi")}}}
	r, err := New(Options{}).ChatRequest(context.Background(), &llm.Call{Request: req, Model: "m", BaseURL: DefaultBaseURL, APIKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Get("X-Goog-Api-Key") != "k1" || r.Header.Get("Authorization") != "" {
		t.Errorf("AI Studio headers: %v", r.Header)
	}
	r, err = New(Options{Vertex: true}).ChatRequest(context.Background(), &llm.Call{Request: req, Model: "m", BaseURL: VertexBaseURL("p", "r"), APIKey: "tok", Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("X-Goog-Api-Key") != "" || r.Header.Get("Accept") != "text/event-stream" {
		t.Errorf("Vertex headers: %v", r.Header)
	}
}

// TestSignatureInID: with SignatureInID the thought signature rides in the tool call id
// and comes back on the next turn; without it the next turn sends the skip value.
func TestSignatureInID(t *testing.T) {
	up, err := os.ReadFile("testdata/stream_split_stop/upstream.sse")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts    Options
		wantSig string
	}{{Options{SignatureInID: true}, "s"}, {Options{}, gemini.ThoughtSignatureSkip}} {
		a := testAdapter(tc.opts)
		call := &llm.Call{Request: &openai.ChatRequest{}, Model: "gemini-3-pro-preview", Stream: true}
		chunks, end := drain(a.ChatStream(&http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(up))}, call))
		if end.Error != nil || len(chunks) == 0 || len(chunks[0].Choices[0].Delta.ToolCalls) != 1 {
			t.Fatalf("stream: %v %v", chunks, end.Error)
		}
		id := chunks[0].Choices[0].Delta.ToolCalls[0].ID
		if !strings.HasPrefix(id, "call_") {
			t.Errorf("id %q lacks call_", id)
		}
		next := &openai.ChatRequest{Model: "gemini-3-pro-preview", Messages: []openai.Message{
			{Role: "user", Content: openai.TextContent("q")},
			{Role: "assistant", ToolCalls: []openai.ToolCall{{ID: id, Type: "function", Function: openai.FunctionCall{Name: "get_a", Arguments: `{"x":1}`}}}},
			{Role: "tool", ToolCallID: id, Content: openai.TextContent("1")},
		}}
		g, err := a.BuildRequest(&llm.Call{Request: next, Model: next.Model})
		if err != nil {
			t.Fatal(err)
		}
		if sig := g.Contents[1].Parts[0].ThoughtSignature; sig != tc.wantSig {
			t.Errorf("SignatureInID=%v: signature %q, want %q", tc.opts.SignatureInID, sig, tc.wantSig)
		}
	}
}

func TestDecodeError(t *testing.T) {
	a := New(Options{})
	for _, tc := range []struct {
		status int
		header http.Header
		body   string
		kind   llm.Kind
		retry  time.Duration
		msg    string
	}{
		{400, nil, `{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}`, llm.KindInvalidRequest, 0, "bad"},
		{400, nil, `{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}`, llm.KindAuthentication, 0, "API key not valid."},
		{401, nil, `{"error":{"code":401,"message":"no","status":"UNAUTHENTICATED"}}`, llm.KindAuthentication, 0, "no"},
		{403, nil, `{"error":{"code":403,"message":"no","status":"PERMISSION_DENIED"}}`, llm.KindPermission, 0, "no"},
		{404, nil, `{"error":{"code":404,"message":"models/x is not found","status":"NOT_FOUND"}}`, llm.KindNotFound, 0, "models/x is not found"},
		{429, http.Header{"Retry-After": {"7"}}, `{"error":{"code":429,"message":"slow","status":"RESOURCE_EXHAUSTED"}}`, llm.KindRateLimit, 7 * time.Second, "slow"},
		{429, nil, `{"error":{"code":429,"message":"slow","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"24s"}]}}`, llm.KindRateLimit, 24 * time.Second, "slow"},
		{500, nil, `{"error":{"code":500,"message":"oops","status":"INTERNAL"}}`, llm.KindUpstream, 0, "oops"},
		{503, nil, `[{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}]`, llm.KindOverloaded, 0, "overloaded"},
		{504, nil, `{"error":{"code":504,"message":"late","status":"DEADLINE_EXCEEDED"}}`, llm.KindTimeout, 0, "late"},
		{502, nil, `<html>bad gateway</html>`, llm.KindUpstream, 0, "gemini: upstream answered 502: <html>bad gateway</html>"},
	} {
		h := tc.header
		if h == nil {
			h = http.Header{}
		}
		e := a.DecodeError(&http.Response{StatusCode: tc.status, Header: h}, []byte(tc.body))
		if e.Kind != tc.kind || e.RetryAfter != tc.retry || e.Message != tc.msg || e.Upstream != tc.status {
			t.Errorf("%d %s: got %+v", tc.status, tc.body, e)
		}
	}
}

// call runs one call against a server the way the gateway does.
func call(t *testing.T, a *Adapter, c *llm.Call) (*openai.ChatResponse, []*openai.ChatChunk, *streamEnd, *llm.Error) {
	t.Helper()
	req, err := a.ChatRequest(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, nil, nil, a.DecodeError(resp, body)
	}
	if c.Stream {
		chunks, end := drain(a.ChatStream(resp, c))
		return nil, chunks, end, nil
	}
	defer resp.Body.Close()
	r, err := a.DecodeChat(resp, c)
	if err != nil {
		t.Fatal(err)
	}
	return r, nil, nil, nil
}

func newCall(s *fakellm.Server, stream bool) *llm.Call {
	req := &openai.ChatRequest{Model: "gemini-2.5-flash", Stream: stream, Messages: []openai.Message{
		{Role: "system", Content: openai.TextContent("Be brief.")},
		{Role: "user", Content: openai.TextContent("Hi")},
	}}
	return &llm.Call{Request: req, Model: req.Model, BaseURL: s.URL + "/v1beta", APIKey: "key-1", Stream: stream}
}

// collect concatenates the content and tool calls of a chunk sequence.
func collect(chunks []*openai.ChatChunk) (text string, calls []openai.ToolCall, finish string, u *openai.Usage) {
	for _, c := range chunks {
		if c.Usage != nil {
			u = c.Usage
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				text += *ch.Delta.Content
			}
			for _, tc := range ch.Delta.ToolCalls {
				if tc.Index == len(calls) {
					calls = append(calls, openai.ToolCall{ID: tc.ID, Type: tc.Type, Function: openai.FunctionCall{Name: tc.Function.Name}})
				}
				calls[tc.Index].Function.Arguments += tc.Function.Arguments
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	return
}

func TestFakePlain(t *testing.T) {
	s := fakellm.Gemini(t)
	s.Key = "key-1"
	s.Script(fakellm.Reply{Text: "Hello there.", Reasoning: "hmm", PromptTokens: 12, CompletionTokens: 3, CachedTokens: 4})
	r, _, _, e := call(t, New(Options{}), newCall(s, false))
	if e != nil {
		t.Fatal(e)
	}
	m := r.Choices[0].Message
	if m.Content.String() != "Hello there." || m.ReasoningContent != "hmm" || r.Choices[0].FinishReason != "stop" {
		t.Errorf("response: %+v", r.Choices[0])
	}
	if r.Usage.PromptTokens != 12 || r.Usage.CompletionTokens != 3 || r.Usage.TotalTokens != 15 || r.Usage.Cached() != 4 {
		t.Errorf("usage: %+v", r.Usage)
	}
	got := s.Last(t)
	if got.Path != "/v1beta/models/gemini-2.5-flash:generateContent" || got.Header.Get("X-Goog-Api-Key") != "key-1" {
		t.Errorf("fake received %s %v", got.Path, got.Header)
	}
	body := got.JSON(t)
	if _, ok := body["systemInstruction"]; !ok {
		t.Errorf("no systemInstruction in %s", got.Body)
	}
}

func TestFakeStream(t *testing.T) {
	s := fakellm.Gemini(t)
	s.Script(fakellm.Reply{Text: "one two three four", PromptTokens: 9, CompletionTokens: 4, ChunkDelay: time.Millisecond})
	_, chunks, end, e := call(t, New(Options{}), newCall(s, true))
	if e != nil || !end.EOF {
		t.Fatalf("error %v end %+v", e, end)
	}
	text, _, finish, u := collect(chunks)
	if text != "one two three four" || finish != "stop" {
		t.Errorf("text %q finish %q", text, finish)
	}
	if u == nil || u.PromptTokens != 9 || u.CompletionTokens != 4 {
		t.Errorf("usage %+v (cumulative usage must not be summed)", u)
	}
	if last := chunks[len(chunks)-1]; last.Usage == nil || len(last.Choices) != 0 {
		t.Errorf("the usage chunk is not last: %+v", last)
	}
	if p := s.Last(t).Path; p != "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse" {
		t.Errorf("path %s", p)
	}
}

func TestFakeToolCalls(t *testing.T) {
	s := fakellm.Gemini(t)
	rep := fakellm.Reply{Text: "Checking.", ToolCalls: []fakellm.ToolCall{
		{Name: "get_a", Arguments: `{"x":1}`}, {Name: "get_b", Arguments: `{}`}}, PromptTokens: 5, CompletionTokens: 6}
	for _, stream := range []bool{false, true} {
		s.Script(rep)
		r, chunks, end, e := call(t, New(Options{}), newCall(s, stream))
		if e != nil {
			t.Fatal(e)
		}
		var calls []openai.ToolCall
		var finish string
		if stream {
			if !end.EOF {
				t.Fatalf("end %+v", end)
			}
			_, calls, finish, _ = collect(chunks)
		} else {
			calls, finish = r.Choices[0].Message.ToolCalls, r.Choices[0].FinishReason
		}
		if finish != "tool_calls" || len(calls) != 2 || calls[0].Function.Name != "get_a" || calls[0].Function.Arguments != `{"x":1}` ||
			calls[1].Function.Arguments != "{}" || !strings.HasPrefix(calls[0].ID, "call_") || calls[0].ID == calls[1].ID {
			t.Errorf("stream=%v: finish %q calls %+v", stream, finish, calls)
		}
	}
}

func TestFakeErrors(t *testing.T) {
	s := fakellm.Gemini(t)
	s.Key = "key-1"
	a := New(Options{})
	for _, tc := range []struct {
		rep   fakellm.Reply
		key   string
		kind  llm.Kind
		retry time.Duration
	}{
		{fakellm.Reply{Status: 429, RetryAfter: 3 * time.Second}, "key-1", llm.KindRateLimit, 3 * time.Second},
		{fakellm.Reply{Status: 503}, "key-1", llm.KindOverloaded, 0},
		{fakellm.Reply{Status: 404, ErrMessage: "models/x is not found"}, "key-1", llm.KindNotFound, 0},
		{fakellm.Reply{Status: 400}, "key-1", llm.KindInvalidRequest, 0},
		{fakellm.Reply{}, "wrong", llm.KindAuthentication, 0},
		{fakellm.Reply{}, "", llm.KindPermission, 0},
	} {
		s.Script(tc.rep)
		c := newCall(s, false)
		c.APIKey = tc.key
		_, _, _, e := call(t, a, c)
		if e == nil || e.Kind != tc.kind || e.RetryAfter != tc.retry || e.Upstream == 0 {
			t.Errorf("%+v key %q: got %+v", tc.rep, tc.key, e)
		}
	}
}

func TestFakeVertex(t *testing.T) {
	s := fakellm.Gemini(t)
	s.Key = "token"
	s.Script(fakellm.Reply{Text: "hi"})
	c := newCall(s, false)
	c.BaseURL, c.APIKey = s.URL+"/v1/projects/p/locations/us-central1/publishers/google/models", "token"
	if _, _, _, e := call(t, New(Options{Vertex: true}), c); e != nil {
		t.Fatal(e)
	}
	if p := s.Last(t).Path; p != "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent" {
		t.Errorf("path %s", p)
	}
	c.APIKey = "bad"
	if _, _, _, e := call(t, New(Options{Vertex: true}), c); e == nil || e.Kind != llm.KindAuthentication {
		t.Errorf("bad token: %v", e)
	}
}

func TestFakeMidStream(t *testing.T) {
	s := fakellm.Gemini(t)
	s.Script(
		fakellm.Reply{Text: "a b c d", ErrType: "RESOURCE_EXHAUSTED", FailAfter: 2},
		fakellm.Reply{Text: "a b c d", TruncateAfter: 2},
	)
	_, chunks, end, _ := call(t, New(Options{}), newCall(s, true))
	if text, _, _, _ := collect(chunks); text != "a b " || end.Error == nil || end.Error.Kind != llm.KindRateLimit || end.Error.Upstream != 429 {
		t.Errorf("fail after 2: %q %+v", text, end)
	}
	_, chunks, end, _ = call(t, New(Options{}), newCall(s, true))
	if text, _, _, _ := collect(chunks); text != "a b " || end.Error == nil || end.Error.Message != llm.ErrTruncated().Message {
		t.Errorf("truncate after 2: %q %+v", text, end)
	}
}

// FuzzChatStream: arbitrary bytes never panic, and a stream only ends cleanly (io.EOF)
// after a finishReason (or a blocked prompt).
func FuzzChatStream(f *testing.F) {
	dirs, _ := filepath.Glob("testdata/*/upstream.sse")
	for _, d := range dirs {
		b, _ := os.ReadFile(d)
		f.Add(b)
	}
	f.Add([]byte("data: {\"candidates\":[{\"index\":7,\"finishReason\":\"STOP\"}]}\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a := New(Options{})
		r := a.ChatStream(&http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(data))}, &llm.Call{Request: &openai.ChatRequest{}, Model: "m", Stream: true})
		finished := false
		for i := 0; ; i++ {
			if i > 1<<16 {
				t.Fatal("no end")
			}
			c, err := r.Next()
			if err == io.EOF {
				if !finished {
					t.Fatalf("clean EOF without a finish reason")
				}
				return
			}
			if err != nil {
				var le *llm.Error
				if !errors.As(err, &le) {
					t.Fatalf("error is not an *llm.Error: %v", err)
				}
				return
			}
			for _, ch := range c.Choices {
				if ch.FinishReason != nil {
					finished = true
				}
			}
			if _, err := json.Marshal(c); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func benchRequest() *openai.ChatRequest {
	var req openai.ChatRequest
	b, _ := os.ReadFile("testdata/req_tool_result/in.json")
	json.Unmarshal(b, &req)
	req.Tools = []openai.Tool{{Type: "function", Function: openai.Function{Name: "get_a",
		Parameters: json.RawMessage(`{"type":"object","additionalProperties":false,"properties":{"x":{"type":"integer","description":"x"}},"required":["x"]}`)}}}
	return &req
}

func BenchmarkChatRequest(b *testing.B) {
	a := New(Options{})
	c := &llm.Call{Request: benchRequest(), Model: "gemini-2.5-flash", BaseURL: DefaultBaseURL, APIKey: "k"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.ChatRequest(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChatStream(b *testing.B) {
	var sse bytes.Buffer
	for i := 0; i < 100; i++ {
		sse.WriteString(`data: {"candidates":[{"content":{"role":"model","parts":[{"text":"token "}]},"index":0}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":` + "1" + `,"totalTokenCount":11},"modelVersion":"gemini-2.5-flash","responseId":"r"}` + "\r\n\r\n")
	}
	sse.WriteString(`data: {"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":100,"totalTokenCount":110}}` + "\r\n\r\n")
	data := sse.Bytes()
	a := New(Options{})
	c := &llm.Call{Request: &openai.ChatRequest{}, Model: "gemini-2.5-flash", Stream: true}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := a.ChatStream(&http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(data))}, c)
		for {
			if _, err := r.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}
