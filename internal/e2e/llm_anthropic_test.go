package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/pylon-gateway/pylon/internal/testutil"
	"github.com/pylon-gateway/pylon/internal/testutil/fakellm"
)

func anthropicClient(g *testutil.Gateway) sdk.Client {
	return sdk.NewClient(aoption.WithBaseURL(g.URL("public")), aoption.WithAPIKey("client-key"), aoption.WithMaxRetries(0))
}

// anthropicText gathers a message's text and its tool calls as name+input.
func anthropicText(m *sdk.Message) (text string, tools []string) {
	for _, b := range m.Content {
		switch v := b.AsAny().(type) {
		case sdk.TextBlock:
			text += v.Text
		case sdk.ToolUseBlock:
			tools = append(tools, v.ID+":"+v.Name+string(v.Input))
		}
	}
	return text, tools
}

// An Anthropic SDK client reaches an OpenAI provider, plain and streamed, tool calls
// included: Anthropic to OpenAI on the way in, OpenAI to Anthropic on the way out.
func TestLLMAnthropicClientToOpenAIProvider(t *testing.T) {
	up := fakellm.OpenAI(t)
	g := testutil.StartGateway(t, llmConfig(fmt.Sprintf(`
  - {name: oa, type: openai, base_url: %s/v1, api_keys: [{value: k}]}`, up.URL), `
  - {name: claude-like, targets: [{provider: oa, model: gpt-4o}]}`))
	client := anthropicClient(g)
	rep := fakellm.Reply{Text: "Let me check.", ToolCalls: []fakellm.ToolCall{{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris"}`}},
		PromptTokens: 20, CompletionTokens: 9}
	params := sdk.MessageNewParams{Model: "claude-like", MaxTokens: 200,
		System:   []sdk.TextBlockParam{{Text: "Be brief."}},
		Messages: []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock("Weather in Paris?"))},
		Tools: []sdk.ToolUnionParam{{OfTool: &sdk.ToolParam{Name: "get_weather",
			InputSchema: sdk.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}}}}}}
	check := func(what string, m *sdk.Message) {
		t.Helper()
		text, tools := anthropicText(m)
		if text != "Let me check." || len(tools) != 1 || tools[0] != `call_1:get_weather{"city":"Paris"}` || m.StopReason != "tool_use" {
			t.Fatalf("%s: text %q tools %v stop %q", what, text, tools, m.StopReason)
		}
		if m.Usage.InputTokens != 20 || m.Usage.OutputTokens != 9 {
			t.Fatalf("%s: usage %+v", what, m.Usage)
		}
	}
	up.Script(rep)
	m, err := client.Messages.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	check("plain", m)
	sent := up.Last(t).JSON(t)
	msgs := sent["messages"].([]any)
	if sent["model"] != "gpt-4o" || msgs[0].(map[string]any)["role"] != "system" || sent["max_completion_tokens"] == nil && sent["max_tokens"] == nil {
		t.Fatalf("upstream request %v", sent)
	}

	up.Script(rep)
	st := client.Messages.NewStreaming(context.Background(), params)
	var acc sdk.Message
	for st.Next() {
		if err := acc.Accumulate(st.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	check("streamed", &acc)

	// An upstream failure reaches the Anthropic client in Anthropic's error format.
	up.Script(fakellm.Reply{Status: 429, RetryAfter: 3e9})
	_, err = client.Messages.New(context.Background(), params)
	var apiErr *sdk.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Response.Header.Get("Retry-After") != "3" {
		t.Fatalf("rate limit: %v", err)
	}
}

// An OpenAI SDK client reaches an Anthropic provider, plain and streamed, and an Anthropic
// client reaches it too; a streamed call translated from Anthropic to OpenAI and back.
func TestLLMOpenAIClientToAnthropicProvider(t *testing.T) {
	up := fakellm.Anthropic(t)
	up.Key = "sk-ant"
	g := testutil.StartGateway(t, llmConfig(fmt.Sprintf(`
  - {name: claude, type: anthropic, base_url: %s/v1, api_keys: [{value: sk-ant}]}`, up.URL), `
  - {name: chat, targets: [{provider: claude, model: claude-haiku-4-5}]}`))
	rep := fakellm.Reply{Text: "Bonjour tout le monde", PromptTokens: 30, CompletionTokens: 6, CachedTokens: 10}
	oc := openaiClient(g)
	params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("French"), openai.UserMessage("hello")}}

	up.Script(rep)
	c, err := oc.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if c.Choices[0].Message.Content != rep.Text || c.Choices[0].FinishReason != "stop" {
		t.Fatalf("answer %+v", c.Choices[0])
	}
	// The fake reports input_tokens 30 and cache_read_input_tokens 10: OpenAI's prompt_tokens include both.
	if c.Usage.PromptTokens != 40 || c.Usage.PromptTokensDetails.CachedTokens != 10 || c.Usage.CompletionTokens != 6 {
		t.Fatalf("usage %+v", c.Usage)
	}
	sent := up.Last(t)
	if sent.Header.Get("X-Api-Key") != "sk-ant" || sent.Header.Get("Anthropic-Version") == "" {
		t.Fatalf("upstream headers %v", sent.Header)
	}
	body := sent.JSON(t)
	if body["model"] != "claude-haiku-4-5" || body["max_tokens"] == nil || body["system"] == nil {
		t.Fatalf("upstream body %v", body)
	}

	up.Script(rep)
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	st := oc.Chat.Completions.NewStreaming(context.Background(), params)
	acc := openai.ChatCompletionAccumulator{}
	for st.Next() {
		acc.AddChunk(st.Current())
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != rep.Text || acc.Usage.PromptTokens != 40 || acc.Usage.CompletionTokens != 6 {
		t.Fatalf("stream %q usage %+v", acc.Choices[0].Message.Content, acc.Usage)
	}

	// Anthropic client to Anthropic provider, streamed.
	up.Script(rep)
	ac := anthropicClient(g)
	ast := ac.Messages.NewStreaming(context.Background(), sdk.MessageNewParams{Model: "chat", MaxTokens: 50,
		Messages: []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock("hello"))}})
	var am sdk.Message
	for ast.Next() {
		if err := am.Accumulate(ast.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := ast.Err(); err != nil {
		t.Fatal(err)
	}
	if text, _ := anthropicText(&am); text != rep.Text || am.StopReason != "end_turn" || am.Usage.OutputTokens != 6 {
		t.Fatalf("anthropic stream %q %q %+v", text, am.StopReason, am.Usage)
	}

	// A stream that fails after content reaches the OpenAI client as an error, never as a
	// complete answer.
	up.Script(fakellm.Reply{Text: "one two three", ErrType: "overloaded_error", FailAfter: 2})
	st = oc.Chat.Completions.NewStreaming(context.Background(), params)
	for st.Next() {
	}
	if st.Err() == nil {
		t.Fatal("a stream cut by an upstream error ended without an error")
	}
	up.Script(fakellm.Reply{Text: "one two three", TruncateAfter: 2})
	st = oc.Chat.Completions.NewStreaming(context.Background(), params)
	for st.Next() {
	}
	if st.Err() == nil {
		t.Fatal("a truncated stream ended without an error")
	}
}
