package anthropic

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
	"github.com/pylon-gateway/pylon/internal/testutil/fakellm"
)

// do runs one call of the adapter against the fake, the way the gateway does.
func do(t *testing.T, fake *fakellm.Server, stream bool, req *openai.ChatRequest) (*openai.ChatResponse, []*openai.ChatChunk, error) {
	t.Helper()
	a := New()
	c := &llm.Call{Request: req, Model: "claude-haiku-4-5", BaseURL: fake.URL + "/v1", APIKey: "sk-ant-fake", Stream: stream, DefaultMaxTokens: 256}
	hr, err := a.ChatRequest(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, nil, a.DecodeError(resp, body)
	}
	if !stream {
		r, err := a.DecodeChat(resp, c)
		return r, nil, err
	}
	r := a.ChatStream(resp, c)
	defer r.Close()
	var chunks []*openai.ChatChunk
	for {
		ch, err := r.Next()
		if err == io.EOF {
			return nil, chunks, nil
		}
		if err != nil {
			return nil, chunks, err
		}
		chunks = append(chunks, ch)
	}
}

func hiRequest() *openai.ChatRequest {
	return &openai.ChatRequest{Model: "claude", Messages: []openai.Message{{Role: "user", Content: openai.TextContent("Hi")}}}
}

// collect folds chunks into text, tool calls (by index), finish and usage.
func collect(chunks []*openai.ChatChunk) (text string, args map[int]string, finish string, usage *openai.Usage) {
	args = map[int]string{}
	var b strings.Builder
	for _, c := range chunks {
		if c.Usage != nil {
			usage = c.Usage
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				b.WriteString(*ch.Delta.Content)
			}
			for _, tc := range ch.Delta.ToolCalls {
				args[tc.Index] += tc.Function.Arguments
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	return b.String(), args, finish, usage
}

func TestAdapterAgainstFake(t *testing.T) {
	fake := fakellm.Anthropic(t)
	fake.Key = "sk-ant-fake"
	rep := fakellm.Reply{Text: "Hello there friend", ToolCalls: []fakellm.ToolCall{{ID: "toolu_1", Name: "get_a", Arguments: `{"x":1}`}, {ID: "toolu_2", Name: "now"}},
		PromptTokens: 5, CompletionTokens: 7, CachedTokens: 100}

	fake.Script(rep)
	resp, _, err := do(t, fake, false, hiRequest())
	if err != nil {
		t.Fatal(err)
	}
	m := resp.Choices[0].Message
	if m.Content.String() != rep.Text || len(m.ToolCalls) != 2 || m.ToolCalls[0].Function.Arguments != `{"x":1}` || m.ToolCalls[1].Function.Arguments != "{}" ||
		resp.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("response %+v", resp)
	}
	if u := resp.Usage; u.PromptTokens != 105 || u.Cached() != 100 || u.TotalTokens != 112 {
		t.Errorf("usage %+v", u)
	}
	got := fake.Last(t)
	if got.Path != "/v1/messages" || got.Header.Get("Anthropic-Version") != "2023-06-01" || got.JSON(t)["max_tokens"] != float64(256) {
		t.Errorf("fake received %s %v %s", got.Path, got.Header, got.Body)
	}

	fake.Script(rep)
	_, chunks, err := do(t, fake, true, hiRequest())
	if err != nil {
		t.Fatal(err)
	}
	text, args, finish, usage := collect(chunks)
	if text != rep.Text || args[0] != `{"x":1}` || args[1] != "{}" || finish != "tool_calls" || usage == nil || usage.PromptTokens != 105 || usage.CompletionTokens != 7 {
		t.Errorf("stream: %q %v %q %+v", text, args, finish, usage)
	}
}

func TestAdapterFakeErrors(t *testing.T) {
	fake := fakellm.Anthropic(t)
	for _, tc := range []struct {
		name   string
		rep    fakellm.Reply
		stream bool
		kind   llm.Kind
		retry  time.Duration
		chunks int // chunks before the error (stream)
	}{
		{"429", fakellm.Reply{Status: 429, RetryAfter: 3 * time.Second}, false, llm.KindRateLimit, 3 * time.Second, 0},
		{"529", fakellm.Reply{Status: 529}, false, llm.KindOverloaded, 0, 0},
		{"500", fakellm.Reply{Status: 500}, true, llm.KindUpstream, 0, 0},
		{"error first", fakellm.Reply{Text: "a b c", ErrType: "overloaded_error"}, true, llm.KindOverloaded, 0, 0},
		{"error after output", fakellm.Reply{Text: "a b c", ErrType: "rate_limit_error", FailAfter: 2}, true, llm.KindRateLimit, 0, 3},
		{"truncated", fakellm.Reply{Text: "a b c", TruncateAfter: 2}, true, llm.KindUpstream, 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.Script(tc.rep)
			_, chunks, err := do(t, fake, tc.stream, hiRequest())
			var e *llm.Error
			if !errors.As(err, &e) || e.Kind != tc.kind || e.RetryAfter != tc.retry {
				t.Fatalf("got %#v, want kind %d retry %v", err, tc.kind, tc.retry)
			}
			if len(chunks) != tc.chunks {
				t.Errorf("%d chunks before the error, want %d", len(chunks), tc.chunks)
			}
			for _, c := range chunks {
				if len(c.Choices) > 0 && c.Choices[0].FinishReason != nil {
					t.Error("a failed stream must not carry a finish reason")
				}
			}
		})
	}
}

func TestFakeChecksHeaders(t *testing.T) {
	fake := fakellm.Anthropic(t)
	fake.Key = "k"
	for _, tc := range []struct {
		hdr    map[string]string
		body   string
		status int
	}{
		{map[string]string{"X-Api-Key": "bad", "Anthropic-Version": "2023-06-01"}, `{"model":"m","max_tokens":1,"messages":[]}`, 401},
		{map[string]string{"X-Api-Key": "k"}, `{"model":"m","max_tokens":1,"messages":[]}`, 400},
		{map[string]string{"X-Api-Key": "k", "Anthropic-Version": "2023-06-01"}, `{"model":"m","messages":[]}`, 400},
		{map[string]string{"X-Api-Key": "k", "Anthropic-Version": "2023-06-01"}, `{"model":"m","max_tokens":1,"messages":[]}`, 200},
	} {
		req, _ := http.NewRequest("POST", fake.URL+"/v1/messages", strings.NewReader(tc.body))
		for k, v := range tc.hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%v %s: status %d, want %d (%s)", tc.hdr, tc.body, resp.StatusCode, tc.status, body)
		}
		if tc.status != 200 && !bytes.Contains(body, []byte(`"type":"error"`)) {
			t.Errorf("error body %s", body)
		}
	}
}

// The fake speaks the real API: the official SDK decodes a plain and a streamed message.
func TestFakeWithOfficialSDK(t *testing.T) {
	fake := fakellm.Anthropic(t)
	fake.Key = "sk-ant-sdk"
	client := sdk.NewClient(option.WithBaseURL(fake.URL), option.WithAPIKey("sk-ant-sdk"), option.WithMaxRetries(0))
	rep := fakellm.Reply{Text: "Hello from the fake", Reasoning: "thinking hard", ToolCalls: []fakellm.ToolCall{{ID: "toolu_9", Name: "lookup", Arguments: `{"q":"x"}`}},
		PromptTokens: 11, CompletionTokens: 13, CachedTokens: 4}
	params := sdk.MessageNewParams{Model: "claude-haiku-4-5", MaxTokens: 100,
		Messages: []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock("Hi"))}}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	fake.Script(rep)
	msg, err := client.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, m *sdk.Message) {
		t.Helper()
		var text, tool string
		for _, b := range m.Content {
			switch v := b.AsAny().(type) {
			case sdk.TextBlock:
				text += v.Text
			case sdk.ToolUseBlock:
				tool = v.Name + string(v.Input)
			}
		}
		if text != rep.Text || tool != `lookup{"q":"x"}` || m.StopReason != "tool_use" || m.Usage.InputTokens != 11 || m.Usage.OutputTokens != 13 ||
			m.Usage.CacheReadInputTokens != 4 || m.ID != "msg_fake" {
			t.Errorf("%s: %q %q %q %+v", what, text, tool, m.StopReason, m.Usage)
		}
	}
	check("plain", msg)

	fake.Script(rep)
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
	check("streamed", &acc)

	fake.Script(fakellm.Reply{Status: 429, RetryAfter: 2 * time.Second})
	_, err = client.Messages.New(ctx, params)
	var apiErr *sdk.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
		t.Fatalf("error %v", err)
	}
	fake.Script(fakellm.Reply{PromptTokens: 42})
	n, err := client.Messages.CountTokens(ctx, sdk.MessageCountTokensParams{Model: "claude-haiku-4-5",
		Messages: []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock("Hi"))}})
	if err != nil || n.InputTokens != 42 {
		t.Fatalf("count_tokens %v %v", n, err)
	}
}
