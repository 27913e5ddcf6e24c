package bedrock

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
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/testutil/fakellm"
)

func simpleRequest(model string, stream bool) *openai.ChatRequest {
	return &openai.ChatRequest{Model: model, Stream: stream, Messages: []openai.Message{
		{Role: "system", Content: openai.TextContent("Be brief.")},
		{Role: "user", Content: openai.TextContent("Hi")},
	}}
}

// TestSigV4Golden: a fixed time and credentials sign to this exact Authorization header.
// It was computed once with the aws-sdk-go-v2 signer and cross-checked with an independent
// implementation of the SigV4 algorithm (canonical URI /model/...-v1%3A0/converse: Bedrock
// escapes the already escaped path once more). A change means the canonical request
// changed (path escaping, signed headers, payload hash).
func TestSigV4Golden(t *testing.T) {
	a := testAdapter()
	c := &llm.Call{Request: simpleRequest("anthropic.claude-3-haiku-20240307-v1:0", false), Model: "anthropic.claude-3-haiku-20240307-v1:0", BaseURL: BaseURL("us-east-1")}
	req, err := a.ChatRequest(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	const want = "AWS4-HMAC-SHA256 Credential=AKIDFAKEPYLON0000000/20260102/us-east-1/bedrock/aws4_request, SignedHeaders=accept;content-length;content-type;host;x-amz-date, Signature=b9f0152453e3412c5e9440211cb4ba99cf4a8fe21818e3a30fb512e05bee886e"
	got := req.Header.Get("Authorization")
	if got != want {
		t.Errorf("Authorization:\n got %s\nwant %s", got, want)
	}
	if req.Header.Get("X-Amz-Date") != "20260102T030405Z" || req.Header.Get("X-Amz-Security-Token") != "" {
		t.Errorf("headers %v", req.Header)
	}
	// Stable: signing the same request again gives the same header.
	req2, _ := testAdapter().ChatRequest(context.Background(), c)
	if req2.Header.Get("Authorization") != got {
		t.Error("the signature is not stable")
	}
	// The session token is signed and sent.
	a.opts.SessionToken = "tok"
	req3, _ := a.ChatRequest(context.Background(), c)
	if req3.Header.Get("X-Amz-Security-Token") != "tok" || !strings.Contains(req3.Header.Get("Authorization"), "x-amz-security-token") {
		t.Errorf("session token: %v", req3.Header)
	}
}

func TestAuthChoices(t *testing.T) {
	c := &llm.Call{Request: simpleRequest("m", false), Model: "m", BaseURL: BaseURL("us-east-1"), APIKey: "brk-key"}
	req, err := testAdapter().ChatRequest(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if req.Header.Get("Authorization") != "Bearer brk-key" || req.Header.Get("X-Amz-Date") != "" {
		t.Errorf("API key: %v", req.Header)
	}
	c.APIKey = ""
	_, err = New(Options{Region: "us-east-1"}).ChatRequest(context.Background(), c)
	var le *llm.Error
	if !errors.As(err, &le) || le.Kind != llm.KindInternal {
		t.Errorf("no credentials: %v", err)
	}
}

func TestURL(t *testing.T) {
	for _, tc := range []struct {
		model  string
		stream bool
		want   string
	}{
		{"anthropic.claude-3-haiku-20240307-v1:0", false, "https://bedrock-runtime.eu-west-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1:0/converse"},
		{"eu.anthropic.claude-sonnet-4-5-20250929-v1:0", true, "https://bedrock-runtime.eu-west-1.amazonaws.com/model/eu.anthropic.claude-sonnet-4-5-20250929-v1:0/converse-stream"},
		{"arn:aws:bedrock:eu-west-1:1:application-inference-profile/abc", false, "https://bedrock-runtime.eu-west-1.amazonaws.com/model/arn:aws:bedrock:eu-west-1:1:application-inference-profile%2Fabc/converse"},
	} {
		if got := URL(BaseURL("eu-west-1"), tc.model, tc.stream); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.model, got, tc.want)
		}
	}
}

func TestDecodeError(t *testing.T) {
	a := New(Options{})
	for _, tc := range []struct {
		status int
		typ    string
		body   string
		kind   llm.Kind
	}{
		{400, "ValidationException", `{"message":"bad"}`, llm.KindInvalidRequest},
		{403, "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.bedrock/", `{"message":"no"}`, llm.KindPermission},
		{403, "UnrecognizedClientException", `{"message":"no"}`, llm.KindAuthentication},
		{404, "ResourceNotFoundException", `{"Message":"no model"}`, llm.KindNotFound},
		{408, "ModelTimeoutException", `{"message":"late"}`, llm.KindTimeout},
		{424, "ModelErrorException", `{"message":"model failed"}`, llm.KindUpstream},
		{429, "ThrottlingException", `{"message":"slow"}`, llm.KindRateLimit},
		{429, "ModelNotReadyException", `{"message":"warming"}`, llm.KindRateLimit},
		{500, "InternalServerException", `{"message":"oops"}`, llm.KindUpstream},
		{503, "ServiceUnavailableException", `{"message":"busy"}`, llm.KindOverloaded},
		{502, "", `bad gateway`, llm.KindUpstream},
	} {
		h := http.Header{"Retry-After": {"2"}}
		if tc.typ != "" {
			h.Set("X-Amzn-Errortype", tc.typ)
		}
		e := a.DecodeError(&http.Response{StatusCode: tc.status, Header: h}, []byte(tc.body))
		if e.Kind != tc.kind || e.Upstream != tc.status || e.Message == "" || e.RetryAfter != 2*time.Second {
			t.Errorf("%d %s: %+v", tc.status, tc.typ, e)
		}
	}
}

func TestBadFrames(t *testing.T) {
	good := fakellm.BedrockFrame("event", "messageStart", map[string]any{"role": "assistant"})
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-1] ^= 0xff
	badPrelude := append([]byte(nil), good...)
	badPrelude[9] ^= 0xff
	huge := append([]byte{0x7f, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 8)...)
	for name, tc := range map[string]struct {
		data []byte
		msg  string
	}{
		"message crc": {badCRC, "bedrock: event-stream checksum mismatch"},
		"prelude crc": {badPrelude, "bedrock: event-stream checksum mismatch"},
		"huge length": {huge, "bedrock: malformed event-stream frame"},
		"cut prelude": {good[:7], "upstream stream truncated"},
		"cut payload": {good[:len(good)-2], "upstream stream truncated"},
		"empty":       {nil, "upstream stream truncated"},
	} {
		r := testAdapter().ChatStream(&http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(tc.data))}, &llm.Call{Request: &openai.ChatRequest{}})
		_, end := drain(r)
		if end.Error == nil || end.Error.Kind != llm.KindUpstream || end.Error.Message != tc.msg {
			t.Errorf("%s: %+v", name, end.Error)
		}
	}
}

// fake helpers

func fakeCall(s *fakellm.Server, stream bool) *llm.Call {
	model := "anthropic.claude-haiku-4-5-20251001-v1:0"
	return &llm.Call{Request: simpleRequest(model, stream), Model: model, BaseURL: s.URL, Stream: stream}
}

func fakeAdapter() *Adapter {
	return New(Options{Region: fakellm.BedrockRegion, AccessKeyID: fakellm.BedrockAccessKeyID, SecretAccessKey: fakellm.BedrockSecretAccessKey})
}

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
	s := fakellm.Bedrock(t)
	s.Script(fakellm.Reply{Text: "Hello there.", PromptTokens: 10, CompletionTokens: 3, CachedTokens: 5})
	r, _, _, e := call(t, fakeAdapter(), fakeCall(s, false))
	if e != nil {
		t.Fatal(e)
	}
	if r.ID != "fake-request-1" || r.Choices[0].Message.Content.String() != "Hello there." || r.Choices[0].FinishReason != "stop" {
		t.Errorf("response %+v", r)
	}
	if r.Usage.PromptTokens != 15 || r.Usage.CompletionTokens != 3 || r.Usage.TotalTokens != 18 || r.Usage.Cached() != 5 {
		t.Errorf("usage %+v", r.Usage)
	}
	got := s.Last(t)
	if got.Path != "/model/anthropic.claude-haiku-4-5-20251001-v1:0/converse" {
		t.Errorf("path %s", got.Path)
	}
	if b := got.JSON(t); b["system"] == nil {
		t.Errorf("body %s", got.Body)
	}
}

func TestFakeStream(t *testing.T) {
	s := fakellm.Bedrock(t)
	s.Script(fakellm.Reply{Text: "one two three", Reasoning: "hmm", PromptTokens: 9, CompletionTokens: 4, ChunkDelay: time.Millisecond})
	_, chunks, end, e := call(t, fakeAdapter(), fakeCall(s, true))
	if e != nil || !end.EOF {
		t.Fatalf("%v %+v", e, end)
	}
	text, _, finish, u := collect(chunks)
	if text != "one two three" || finish != "stop" || u == nil || u.PromptTokens != 9 || u.CompletionTokens != 4 {
		t.Errorf("text %q finish %q usage %+v", text, finish, u)
	}
	if last := chunks[len(chunks)-1]; last.Usage == nil || len(last.Choices) != 0 {
		t.Errorf("usage chunk is not last")
	}
	if p := s.Last(t).Path; p != "/model/anthropic.claude-haiku-4-5-20251001-v1:0/converse-stream" {
		t.Errorf("path %s", p)
	}
}

func TestFakeToolCalls(t *testing.T) {
	s := fakellm.Bedrock(t)
	rep := fakellm.Reply{Text: "Checking.", ToolCalls: []fakellm.ToolCall{{ID: "t1", Name: "get_a", Arguments: `{"x":1}`}, {ID: "t2", Name: "get_b", Arguments: ``}}}
	for _, stream := range []bool{false, true} {
		s.Script(rep)
		r, chunks, end, e := call(t, fakeAdapter(), fakeCall(s, stream))
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
		if finish != "tool_calls" || len(calls) != 2 || calls[0].ID != "t1" || calls[0].Function.Arguments != `{"x":1}` || calls[1].Function.Arguments != "{}" {
			t.Errorf("stream=%v: %q %+v", stream, finish, calls)
		}
	}
}

func TestFakeErrors(t *testing.T) {
	s := fakellm.Bedrock(t)
	for _, tc := range []struct {
		rep   fakellm.Reply
		kind  llm.Kind
		retry time.Duration
	}{
		{fakellm.Reply{Status: 429, RetryAfter: 4 * time.Second}, llm.KindRateLimit, 4 * time.Second},
		{fakellm.Reply{Status: 400}, llm.KindInvalidRequest, 0},
		{fakellm.Reply{Status: 424}, llm.KindUpstream, 0},
		{fakellm.Reply{Status: 503}, llm.KindOverloaded, 0},
		{fakellm.Reply{Status: 408}, llm.KindTimeout, 0},
	} {
		s.Script(tc.rep)
		_, _, _, e := call(t, fakeAdapter(), fakeCall(s, false))
		if e == nil || e.Kind != tc.kind || e.RetryAfter != tc.retry || e.Upstream != tc.rep.Status {
			t.Errorf("%d: %+v", tc.rep.Status, e)
		}
	}
}

// TestFakeVerifiesSignature: the fake recomputes SigV4, so a wrong secret, a body changed
// after signing or an unknown bearer key is refused.
func TestFakeVerifiesSignature(t *testing.T) {
	s := fakellm.Bedrock(t)
	s.Key = "brk-key"
	c := fakeCall(s, false)
	wrong := New(Options{Region: fakellm.BedrockRegion, AccessKeyID: fakellm.BedrockAccessKeyID, SecretAccessKey: "nope"})
	if _, _, _, e := call(t, wrong, c); e == nil || e.Kind != llm.KindAuthentication || e.Upstream != 403 {
		t.Errorf("wrong secret: %+v", e)
	}
	otherRegion := New(Options{Region: "eu-west-1", AccessKeyID: fakellm.BedrockAccessKeyID, SecretAccessKey: fakellm.BedrockSecretAccessKey})
	if _, _, _, e := call(t, otherRegion, c); e == nil || e.Kind != llm.KindAuthentication {
		t.Errorf("other region: %+v", e)
	}
	req, _ := fakeAdapter().ChatRequest(context.Background(), c)
	body, _ := io.ReadAll(req.Body)
	body = bytes.Replace(body, []byte("Hi"), []byte("Ho"), 1)
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.HasPrefix(resp.Header.Get("X-Amzn-Errortype"), "InvalidSignatureException") {
		t.Errorf("tampered body: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"))
	}
	session := New(Options{Region: fakellm.BedrockRegion, AccessKeyID: fakellm.BedrockAccessKeyID, SecretAccessKey: fakellm.BedrockSecretAccessKey, SessionToken: fakellm.BedrockSessionToken})
	if _, _, _, e := call(t, session, c); e != nil {
		t.Errorf("session token: %v", e)
	}
	c.APIKey = "brk-key"
	if _, _, _, e := call(t, fakeAdapter(), c); e != nil {
		t.Errorf("API key: %v", e)
	}
	c.APIKey = "other"
	if _, _, _, e := call(t, fakeAdapter(), c); e == nil || e.Kind != llm.KindAuthentication {
		t.Errorf("bad API key: %+v", e)
	}
	// An ARN model id (escaped '/') signs and verifies too.
	c.APIKey, c.Model = "", "arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0"
	if _, _, _, e := call(t, fakeAdapter(), c); e != nil {
		t.Errorf("ARN model: %v", e)
	}
}

func TestFakeMidStream(t *testing.T) {
	s := fakellm.Bedrock(t)
	s.Script(
		fakellm.Reply{Text: "a b c d", ErrType: "throttlingException", FailAfter: 2},
		fakellm.Reply{Text: "a b c d", TruncateAfter: 2},
		fakellm.Reply{Text: "a b", ErrType: "serviceUnavailableException", FailAfter: 0},
	)
	_, chunks, end, _ := call(t, fakeAdapter(), fakeCall(s, true))
	if text, _, _, _ := collect(chunks); text != "a b " || end.Error == nil || end.Error.Kind != llm.KindRateLimit || end.Error.Upstream != 429 {
		t.Errorf("throttled after 2: %q %+v", text, end)
	}
	_, chunks, end, _ = call(t, fakeAdapter(), fakeCall(s, true))
	if text, _, _, _ := collect(chunks); text != "a b " || end.Error == nil || end.Error.Message != llm.ErrTruncated().Message {
		t.Errorf("truncated after 2: %q %+v", text, end)
	}
	_, _, end, _ = call(t, fakeAdapter(), fakeCall(s, true))
	if end.Error == nil || end.Error.Kind != llm.KindOverloaded {
		t.Errorf("unavailable first: %+v", end)
	}
}

// FuzzChatStream: arbitrary bytes never panic, and a stream ends cleanly (io.EOF) only
// after messageStop and metadata, with the finish chunk before the usage chunk.
func FuzzChatStream(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/upstream.frames.json")
	for _, p := range files {
		f.Add(encodeFrames(f, p))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := New(Options{}).ChatStream(&http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(data))}, &llm.Call{Request: &openai.ChatRequest{}, Model: "m"})
		finished, usage := false, false
		for i := 0; ; i++ {
			if i > 1<<16 {
				t.Fatal("no end")
			}
			c, err := r.Next()
			if err == io.EOF {
				if !finished {
					t.Fatal("clean EOF without a finish chunk")
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
			if c.Usage != nil {
				if !finished || usage {
					t.Fatal("usage before the finish chunk, or twice")
				}
				usage = true
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

func BenchmarkChatRequest(b *testing.B) {
	var req openai.ChatRequest
	in, _ := os.ReadFile("testdata/req_tool_roundtrip/in.json")
	if err := json.Unmarshal(in, &req); err != nil {
		b.Fatal(err)
	}
	a := fakeAdapter()
	c := &llm.Call{Request: &req, Model: req.Model, BaseURL: BaseURL("us-east-1")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.ChatRequest(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChatStream(b *testing.B) {
	var data []byte
	data = append(data, fakellm.BedrockFrame("event", "messageStart", map[string]any{"role": "assistant"})...)
	for i := 0; i < 100; i++ {
		data = append(data, fakellm.BedrockFrame("event", "contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]any{"text": "token "}, "p": "abcdefgh"})...)
	}
	data = append(data, fakellm.BedrockFrame("event", "contentBlockStop", map[string]any{"contentBlockIndex": 0})...)
	data = append(data, fakellm.BedrockFrame("event", "messageStop", map[string]any{"stopReason": "end_turn"})...)
	data = append(data, fakellm.BedrockFrame("event", "metadata", map[string]any{"usage": map[string]any{"inputTokens": 10, "outputTokens": 100, "totalTokens": 110}})...)
	a := New(Options{})
	c := &llm.Call{Request: &openai.ChatRequest{}, Model: "m", Stream: true}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := a.ChatStream(&http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(data))}, c)
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
