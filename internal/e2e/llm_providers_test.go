package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
	"github.com/pylon-gateway/pylon/internal/testutil"
	"github.com/pylon-gateway/pylon/internal/testutil/fakellm"
)

// TestLLMGeminiAndBedrock drives Gemini and Bedrock providers through Pylon with the OpenAI
// SDK: plain and streamed answers, tool calls, usage, and Bedrock's SigV4 signature checked
// by the fake.
func TestLLMGeminiAndBedrock(t *testing.T) {
	gm, br := fakellm.Gemini(t), fakellm.Bedrock(t)
	gm.Key = "gem-key"
	t.Setenv("TEST_AWS_ID", fakellm.BedrockAccessKeyID)
	t.Setenv("TEST_AWS_SECRET", fakellm.BedrockSecretAccessKey)
	g := testutil.StartGateway(t, llmConfig(fmt.Sprintf(`
  - {name: gem, type: gemini, base_url: %s/v1beta, api_keys: [{value: gem-key}]}
  - name: br
    type: bedrock
    region: %s
    base_url: %s
    aws: {access_key_id: {env: TEST_AWS_ID}, secret_access_key: {env: TEST_AWS_SECRET}}`, gm.URL, fakellm.BedrockRegion, br.URL), `
  - {name: g, targets: [{provider: gem, model: gemini-2.5-flash}]}
  - {name: b, targets: [{provider: br, model: anthropic.claude-3-5-haiku-20241022-v1:0}]}`))
	client := openaiClient(g)
	tools := []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
		Name: "get_a", Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"x": map[string]any{"type": "integer"}}}})}
	for _, tc := range []struct {
		model string
		up    *fakellm.Server
	}{{"g", gm}, {"b", br}} {
		rep := fakellm.Reply{Text: "Sure thing.", ToolCalls: []fakellm.ToolCall{{ID: "t1", Name: "get_a", Arguments: `{"x":1}`}}, PromptTokens: 12, CompletionTokens: 7}
		params := openai.ChatCompletionNewParams{Model: tc.model, Tools: tools, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("call get_a")}}
		tc.up.Script(rep)
		c, err := client.Chat.Completions.New(context.Background(), params)
		if err != nil {
			t.Fatalf("%s: %v", tc.model, err)
		}
		ch := c.Choices[0]
		if ch.Message.Content != "Sure thing." || len(ch.Message.ToolCalls) != 1 || ch.Message.ToolCalls[0].Function.Name != "get_a" ||
			ch.Message.ToolCalls[0].Function.Arguments != `{"x":1}` || ch.FinishReason != "tool_calls" {
			t.Fatalf("%s: %+v", tc.model, ch)
		}
		if c.Usage.PromptTokens != 12 || c.Usage.CompletionTokens != 7 {
			t.Fatalf("%s: usage %+v", tc.model, c.Usage)
		}
		tc.up.Script(rep)
		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		st := client.Chat.Completions.NewStreaming(context.Background(), params)
		acc := openai.ChatCompletionAccumulator{}
		for st.Next() {
			acc.AddChunk(st.Current())
		}
		if err := st.Err(); err != nil {
			t.Fatalf("%s stream: %v", tc.model, err)
		}
		sc := acc.Choices[0]
		if sc.Message.Content != "Sure thing." || len(sc.Message.ToolCalls) != 1 || sc.Message.ToolCalls[0].Function.Arguments != `{"x":1}` ||
			sc.FinishReason != "tool_calls" || acc.Usage.TotalTokens != 19 {
			t.Fatalf("%s stream: %+v usage %+v", tc.model, sc, acc.Usage)
		}
	}
	if p := br.Last(t).Path; !strings.Contains(p, "/converse-stream") {
		t.Fatalf("bedrock path %q", p)
	}
	if h := br.Last(t).Header.Get("Authorization"); !strings.HasPrefix(h, "AWS4-HMAC-SHA256 Credential="+fakellm.BedrockAccessKeyID) {
		t.Fatalf("bedrock auth %q", h)
	}
}

// An Anthropic SDK client reaches Gemini and Bedrock providers, streamed, with a tool call.
func TestLLMAnthropicClientToGeminiAndBedrock(t *testing.T) {
	gm, br := fakellm.Gemini(t), fakellm.Bedrock(t)
	t.Setenv("TEST_AWS_ID", fakellm.BedrockAccessKeyID)
	t.Setenv("TEST_AWS_SECRET", fakellm.BedrockSecretAccessKey)
	g := testutil.StartGateway(t, llmConfig(fmt.Sprintf(`
  - {name: gem, type: gemini, base_url: %s/v1beta, api_keys: [{value: k}]}
  - name: br
    type: bedrock
    region: %s
    base_url: %s
    aws: {access_key_id: {env: TEST_AWS_ID}, secret_access_key: {env: TEST_AWS_SECRET}}`, gm.URL, fakellm.BedrockRegion, br.URL), `
  - {name: g, targets: [{provider: gem, model: gemini-2.5-flash}]}
  - {name: b, targets: [{provider: br, model: anthropic.claude-3-5-haiku-20241022-v1:0}]}`))
	client := anthropicClient(g)
	for _, tc := range []struct {
		model string
		up    *fakellm.Server
	}{{"g", gm}, {"b", br}} {
		tc.up.Script(fakellm.Reply{Text: "On it.", ToolCalls: []fakellm.ToolCall{{ID: "t1", Name: "get_a", Arguments: `{"x":1}`}}, PromptTokens: 9, CompletionTokens: 4})
		st := client.Messages.NewStreaming(context.Background(), sdk.MessageNewParams{Model: tc.model, MaxTokens: 100,
			Messages: []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock("call get_a"))},
			Tools: []sdk.ToolUnionParam{{OfTool: &sdk.ToolParam{Name: "get_a",
				InputSchema: sdk.ToolInputSchemaParam{Properties: map[string]any{"x": map[string]any{"type": "integer"}}}}}}})
		var m sdk.Message
		for st.Next() {
			if err := m.Accumulate(st.Current()); err != nil {
				t.Fatalf("%s: %v", tc.model, err)
			}
		}
		if err := st.Err(); err != nil {
			t.Fatalf("%s: %v", tc.model, err)
		}
		text, tools := anthropicText(&m)
		if text != "On it." || len(tools) != 1 || !strings.HasSuffix(tools[0], `get_a{"x":1}`) || m.StopReason != "tool_use" || m.Usage.OutputTokens != 4 {
			t.Fatalf("%s: %q %v %q %+v", tc.model, text, tools, m.StopReason, m.Usage)
		}
	}
}
