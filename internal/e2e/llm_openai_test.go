package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/pylon-gateway/pylon/internal/testutil"
	"github.com/pylon-gateway/pylon/internal/testutil/fakellm"
)

// llmConfig is a gateway with one llm route on /v1/ and the given providers and models.
func llmConfig(providers, models string) string {
	return `
admin: {address: 127.0.0.1:0}
listeners:
  - name: public
    address: 127.0.0.1:0
    virtual_hosts:
      - domains: ["*"]
        routes:
          - match: {prefix: /v1/}
            llm: {}
providers:
` + providers + `
models:
` + models
}

func openaiClient(g *testutil.Gateway, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{option.WithBaseURL(g.URL("public") + "/v1/"), option.WithAPIKey("client-key"), option.WithMaxRetries(0)}, opts...)...)
}

func TestLLMOpenAIChat(t *testing.T) {
	up := fakellm.OpenAI(t)
	up.Key = "sk-upstream"
	t.Setenv("TEST_OPENAI_KEY", "sk-upstream")
	g := testutil.StartGateway(t, llmConfig(fmt.Sprintf(`
  - {name: oa, type: openai, base_url: %s/v1, api_keys: [{env: TEST_OPENAI_KEY}]}`, up.URL), `
  - {name: chat, targets: [{provider: oa, model: gpt-4o-mini}]}`))
	up.Script(fakellm.Reply{Text: "Hello there, friend.", PromptTokens: 12, CompletionTokens: 5, CachedTokens: 2})
	client := openaiClient(g)
	var resp *http.Response
	c, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("hi")},
	}, option.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Choices[0].Message.Content; got != "Hello there, friend." {
		t.Fatalf("content %q", got)
	}
	if c.Usage.PromptTokens != 12 || c.Usage.CompletionTokens != 5 || c.Usage.PromptTokensDetails.CachedTokens != 2 {
		t.Fatalf("usage %+v", c.Usage)
	}
	if resp.Header.Get("X-Pylon-Provider") != "oa" || resp.Header.Get("X-Pylon-Model") != "gpt-4o-mini" {
		t.Fatalf("target headers %v", resp.Header)
	}
	if cost := resp.Header.Get("X-Pylon-Cost-Usd"); cost == "" || cost == "unknown" || cost == "0" {
		t.Fatalf("cost header %q", cost)
	}
	got := up.Last(t).JSON(t)
	if got["model"] != "gpt-4o-mini" {
		t.Fatalf("upstream got model %v", got["model"])
	}
	if h := up.Last(t).Header.Get("Authorization"); h != "Bearer sk-upstream" {
		t.Fatalf("upstream auth %q: the client's key must not leak, the provider's must be sent", h)
	}
	// The metrics saw the call and its tokens.
	if s := g.Metric(`pylon_llm_tokens_total{model="gpt-4o-mini",provider="oa",type="prompt"}`); s != "12" {
		t.Fatalf("prompt tokens metric %q", s)
	}
}

func TestLLMOpenAIStream(t *testing.T) {
	up := fakellm.OpenAI(t)
	g := testutil.StartGateway(t, llmConfig(fmt.Sprintf(`
  - {name: oa, type: openai, base_url: %s/v1, api_keys: [{value: k}]}`, up.URL), `
  - {name: chat, targets: [{provider: oa, model: gpt-4o-mini}]}`))
	for _, includeUsage := range []bool{false, true} {
		up.Script(fakellm.Reply{Text: "one two three four", PromptTokens: 7, CompletionTokens: 4})
		params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("count")}}
		if includeUsage {
			params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		}
		client := openaiClient(g)
		st := client.Chat.Completions.NewStreaming(context.Background(), params)
		acc := openai.ChatCompletionAccumulator{}
		chunks, usageChunks := 0, 0
		for st.Next() {
			ch := st.Current()
			acc.AddChunk(ch)
			chunks++
			if len(ch.Choices) == 0 && ch.Usage.TotalTokens > 0 {
				usageChunks++
			}
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		if got := acc.Choices[0].Message.Content; got != "one two three four" {
			t.Fatalf("streamed content %q", got)
		}
		if acc.Choices[0].FinishReason != "stop" {
			t.Fatalf("finish %q", acc.Choices[0].FinishReason)
		}
		want := 0
		if includeUsage {
			want = 1
		}
		if usageChunks != want {
			t.Fatalf("include_usage=%v: %d usage chunks", includeUsage, usageChunks)
		}
		// Pylon always asks upstream for usage, whatever the client asked.
		so, _ := up.Last(t).JSON(t)["stream_options"].(map[string]any)
		if so["include_usage"] != true {
			t.Fatalf("upstream stream_options %v", so)
		}
	}
}

func TestLLMOpenAIToolCalls(t *testing.T) {
	up := fakellm.OpenAI(t)
	g := testutil.StartGateway(t, llmConfig(fmt.Sprintf(`
  - {name: oa, type: openai, base_url: %s/v1, api_keys: [{value: k}], models: [gpt-4o]}`, up.URL), `
  - {name: chat, targets: [{provider: oa, model: gpt-4o}]}`))
	tools := []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
		Name: "get_weather", Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}})}
	calls := []fakellm.ToolCall{{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris"}`}, {ID: "call_2", Name: "get_weather", Arguments: `{"city":"Rome"}`}}
	client := openaiClient(g)
	for _, model := range []string{"chat", "gpt-4o", "oa/gpt-4o"} {
		up.Script(fakellm.Reply{ToolCalls: calls})
		c, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: model, Tools: tools,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather?")}})
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		tc := c.Choices[0].Message.ToolCalls
		if c.Choices[0].FinishReason != "tool_calls" || len(tc) != 2 || tc[1].Function.Arguments != `{"city":"Rome"}` {
			t.Fatalf("%s: tool calls %+v finish %q", model, tc, c.Choices[0].FinishReason)
		}
	}
	// Streamed tool calls arrive with their indexes and whole arguments once accumulated.
	up.Script(fakellm.Reply{ToolCalls: calls})
	st := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "chat", Tools: tools,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather?")}})
	acc := openai.ChatCompletionAccumulator{}
	for st.Next() {
		acc.AddChunk(st.Current())
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	tc := acc.Choices[0].Message.ToolCalls
	if len(tc) != 2 || tc[0].Function.Arguments != `{"city":"Paris"}` || tc[1].ID != "call_2" || acc.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("streamed tool calls %+v", acc.Choices[0])
	}
}

func TestLLMFallback(t *testing.T) {
	first, second := fakellm.OpenAI(t), fakellm.OpenAI(t)
	g := testutil.StartGateway(t, llmConfig(fmt.Sprintf(`
  - {name: first, type: openai, base_url: %s/v1, api_keys: [{value: k1}]}
  - {name: second, type: openai_compatible, base_url: %s/v1, api_keys: [{value: k2}]}`, first.URL, second.URL), `
  - name: chat
    targets: [{provider: first, model: m1}]
    fallbacks: [second/m2]`))
	client := openaiClient(g)
	for _, fail := range []fakellm.Reply{{Status: 429, RetryAfter: 1}, {Status: 500}} {
		first.Script(fail)
		second.Script(fakellm.Reply{Text: "from second"})
		for _, stream := range []bool{false, true} {
			params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
			var text string
			if stream {
				st := client.Chat.Completions.NewStreaming(context.Background(), params)
				acc := openai.ChatCompletionAccumulator{}
				for st.Next() {
					acc.AddChunk(st.Current())
				}
				if err := st.Err(); err != nil {
					t.Fatalf("status %d stream: %v", fail.Status, err)
				}
				text = acc.Choices[0].Message.Content
			} else {
				var resp *http.Response
				c, err := client.Chat.Completions.New(context.Background(), params, option.WithResponseInto(&resp))
				if err != nil {
					t.Fatalf("status %d: %v", fail.Status, err)
				}
				text = c.Choices[0].Message.Content
				if resp.Header.Get("X-Pylon-Provider") != "second" || resp.Header.Get("X-Pylon-Model") != "m2" {
					t.Fatalf("served by %v", resp.Header)
				}
			}
			if text != "from second" {
				t.Fatalf("status %d stream=%v: %q", fail.Status, stream, text)
			}
		}
	}
}

func TestLLMErrors(t *testing.T) {
	up := fakellm.OpenAI(t)
	g := testutil.StartGateway(t, llmConfig(fmt.Sprintf(`
  - {name: oa, type: openai, base_url: %s/v1, api_keys: [{value: k}]}`, up.URL), `
  - {name: chat, targets: [{provider: oa, model: m}]}`))
	client := openaiClient(g)
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}

	// Unknown model: 404 model_not_found in OpenAI's shape.
	_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "nope", Messages: msgs})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
		t.Fatalf("unknown model: %v", err)
	}
	// A rate limit with nothing to fall back to: 429 with retry-after.
	up.Script(fakellm.Reply{Status: 429, RetryAfter: 7e9})
	_, err = client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "chat", Messages: msgs})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Response.Header.Get("Retry-After") != "7" {
		t.Fatalf("rate limit: %v", err)
	}
	// The provider refusing Pylon's key is a gateway failure, not the client's.
	up.Script(fakellm.Reply{Status: 401})
	_, err = client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "m", Messages: msgs})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("model m is not routable by bare name: %v", err)
	}
	up.Script(fakellm.Reply{Status: 401})
	_, err = client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "oa/m", Messages: msgs})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 {
		t.Fatalf("upstream 401: %v", err)
	}
	// Malformed requests name the field.
	for _, tc := range []struct{ body, param string }{
		{`{"model":"chat"}`, "messages"},
		{`{"messages":[{"role":"user","content":"x"}]}`, "model"},
		{`{"model":"chat","messages":[{"role":"wizard","content":"x"}]}`, "messages[0].role"},
		{`{"model":"chat","messages":[{"role":"user","content":"x"}],"temperature":3}`, "temperature"},
		{`{"model":"chat","messages":[{"role":"user","content":5}]}`, ""},
	} {
		resp, err := http.Post(g.URL("public")+"/v1/chat/completions", "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), `"type":"invalid_request_error"`) || (tc.param != "" && !strings.Contains(string(b), `"param":"`+tc.param+`"`)) {
			t.Errorf("%s: %d %s", tc.body, resp.StatusCode, b)
		}
	}
}

func TestLLMModelsAndDemo(t *testing.T) {
	g := testutil.StartGateway(t, llmConfig(`
  - {name: demo, type: demo, models: [demo]}`, `
  - {name: chat, targets: [{provider: demo, model: demo}]}`))
	client := openaiClient(g)
	page, err := client.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "chat,demo" {
		t.Fatalf("models %v", ids)
	}
	c, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "demo",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("ping")}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.Choices[0].Message.Content, `You said: "ping"`) || c.Usage.TotalTokens == 0 {
		t.Fatalf("demo answer %+v", c)
	}
	st := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("ping")}})
	acc := openai.ChatCompletionAccumulator{}
	n := 0
	for st.Next() {
		acc.AddChunk(st.Current())
		n++
	}
	if st.Err() != nil || n < 5 || !strings.Contains(acc.Choices[0].Message.Content, "ping") {
		t.Fatalf("demo stream: %v, %d chunks, %q", st.Err(), n, acc.Choices[0].Message.Content)
	}
}

// The config dump shows providers, models and where their keys come from, never a key.
func TestLLMConfigDumpRedactsKeys(t *testing.T) {
	t.Setenv("TEST_AWS_ID", "AKIDSECRETID")
	g := testutil.StartGateway(t, llmConfig(`
  - {name: oa, type: openai, base_url: "http://127.0.0.1:9/v1", api_keys: [{value: sk-inline-secret}, {env: TEST_KEY_VAR}]}
  - {name: br, type: bedrock, region: us-east-1, aws: {access_key_id: {value: AKIDINLINE}, secret_access_key: {env: TEST_AWS_ID}}}`, `
  - {name: chat, targets: [{provider: oa, model: m}]}`))
	resp, err := http.Get(g.AdminURL() + "/config_dump")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	dump := string(b)
	for _, secret := range []string{"sk-inline-secret", "AKIDINLINE", "AKIDSECRETID"} {
		if strings.Contains(dump, secret) {
			t.Fatalf("config_dump leaks %q:\n%s", secret, dump)
		}
	}
	for _, want := range []string{"TEST_KEY_VAR", `"name": "chat"`, `"provider": "oa"`, "[redacted]"} {
		if !strings.Contains(dump, want) {
			t.Fatalf("config_dump lacks %q:\n%s", want, dump)
		}
	}
}

// TestLLMProviderTimeout: a provider's timeout bounds the whole attempt, headers and
// streamed body alike. A provider that does not answer in time is replaced by the
// fallback (non-streamed and streamed alike, nothing was sent yet); a stream that stalls
// after it started ends with an error the SDK reports, never as a complete answer.
func TestLLMProviderTimeout(t *testing.T) {
	slow, second := fakellm.OpenAI(t), fakellm.OpenAI(t)
	g := testutil.StartGateway(t, llmConfig(fmt.Sprintf(`
  - {name: slow, type: openai, base_url: %s/v1, api_keys: [{value: k1}], timeout: 300ms}
  - {name: second, type: openai, base_url: %s/v1, api_keys: [{value: k2}]}`, slow.URL, second.URL), `
  - name: chat
    targets: [{provider: slow, model: m1}]
    fallbacks: [second/m2]
  - {name: only-slow, targets: [{provider: slow, model: m1}]}`))
	client := openaiClient(g)
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}

	for _, stream := range []bool{false, true} {
		slow.Script(fakellm.Reply{Text: "too late", Delay: 2 * time.Second})
		second.Script(fakellm.Reply{Text: "from second"})
		start := time.Now()
		params := openai.ChatCompletionNewParams{Model: "chat", Messages: msgs}
		var text string
		if stream {
			st := client.Chat.Completions.NewStreaming(context.Background(), params)
			acc := openai.ChatCompletionAccumulator{}
			for st.Next() {
				acc.AddChunk(st.Current())
			}
			if err := st.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			text = acc.Choices[0].Message.Content
		} else {
			c, err := client.Chat.Completions.New(context.Background(), params)
			if err != nil {
				t.Fatalf("chat: %v", err)
			}
			text = c.Choices[0].Message.Content
		}
		if text != "from second" {
			t.Fatalf("stream=%v: %q, want the fallback's answer", stream, text)
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Fatalf("stream=%v: answered after %v: the 300ms timeout did not cut the slow provider", stream, d)
		}
	}

	// Without a fallback, the timeout is the client's answer: 504.
	slow.Script(fakellm.Reply{Text: "too late", Delay: 2 * time.Second})
	_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "only-slow", Messages: msgs})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 504 {
		t.Fatalf("timeout without fallback: %v", err)
	}

	// A stream that stalls after its first events: cut by the timeout, reported as an error.
	slow.Script(fakellm.Reply{Text: "one two three four five six", Chunks: 6, ChunkDelay: 150 * time.Millisecond})
	st := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{Model: "only-slow", Messages: msgs})
	got := 0
	for st.Next() {
		got++
	}
	if st.Err() == nil {
		t.Fatalf("a stream cut by the timeout after %d events ended without an error", got)
	}
	if got == 0 {
		t.Fatalf("the stream was cut before its first events: %v", st.Err())
	}
}
