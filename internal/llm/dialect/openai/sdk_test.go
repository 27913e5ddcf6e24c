package openai

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/pylon-gateway/pylon/internal/llm"
	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// sdkStream serves what the stream writer writes for chunks (then Close, or Fail with
// fail) and reads it with the official OpenAI SDK's stream decoder.
func sdkStream(t *testing.T, includeUsage bool, chunks []*openai.ChatChunk, fail *llm.Error) (acc sdk.ChatCompletionAccumulator, got []sdk.ChatCompletionChunk, err error) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, e := Dialect{}.ParseChat(mustRead(t, r))
		if e != nil {
			Dialect{}.WriteError(w, e)
			return
		}
		sw := Dialect{}.NewStream(w, req)
		for _, c := range chunks {
			sw.WriteChunk(c)
		}
		if fail != nil {
			sw.Fail(fail)
			return
		}
		sw.Close()
	}))
	defer srv.Close()
	client := sdk.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	params := sdk.ChatCompletionNewParams{Model: "m", Messages: []sdk.ChatCompletionMessageParamUnion{sdk.UserMessage("hi")}}
	if includeUsage {
		params.StreamOptions = sdk.ChatCompletionStreamOptionsParam{IncludeUsage: sdk.Bool(true)}
	}
	st := client.Chat.Completions.NewStreaming(context.Background(), params)
	defer st.Close()
	for st.Next() {
		c := st.Current()
		acc.AddChunk(c)
		got = append(got, c)
	}
	return acc, got, st.Err()
}

func mustRead(t *testing.T, r *http.Request) []byte {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return []byte(b.String())
		}
	}
}

// The stream writer's output is what the official SDK expects: content accumulates, the
// finish reason and the usage arrive, tool calls assemble, and a failed stream raises.
func TestStreamWithOfficialSDK(t *testing.T) {
	for _, includeUsage := range []bool{false, true} {
		acc, got, err := sdkStream(t, includeUsage, streamChunks(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(acc.Choices) != 1 || acc.Choices[0].Message.Content != "Hello" || acc.Choices[0].FinishReason != "stop" {
			t.Fatalf("accumulated %+v", acc.Choices)
		}
		last := got[len(got)-1]
		if includeUsage != (len(last.Choices) == 0 && last.Usage.TotalTokens == 27) || acc.Usage.TotalTokens != map[bool]int64{true: 27}[includeUsage] {
			t.Errorf("include_usage=%v: last chunk %s, usage %+v", includeUsage, last.RawJSON(), acc.Usage)
		}
	}

	tool := []*openai.ChatChunk{
		chunk(openai.Delta{Role: "assistant", ToolCalls: []openai.ToolCallDelta{{Index: 0, ID: "call_1", Type: "function", Function: openai.FunctionCallDelta{Name: "get_a"}}}}, "", ""),
		chunk(openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: 0, Function: openai.FunctionCallDelta{Arguments: `{"x":`}}}}, "", ""),
		chunk(openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: 0, Function: openai.FunctionCallDelta{Arguments: `1}`}}}}, "", ""),
		chunk(openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: 1, ID: "call_2", Type: "function", Function: openai.FunctionCallDelta{Name: "get_b", Arguments: "{}"}}}}, "", ""),
		chunk(openai.Delta{}, "tool_calls", ""),
	}
	acc, _, err := sdkStream(t, false, tool, nil)
	if err != nil {
		t.Fatal(err)
	}
	tcs := acc.Choices[0].Message.ToolCalls
	if len(tcs) != 2 || tcs[0].ID != "call_1" || tcs[0].Function.Name != "get_a" || tcs[0].Function.Arguments != `{"x":1}` ||
		tcs[1].ID != "call_2" || tcs[1].Function.Arguments != "{}" || acc.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("tool calls %+v", tcs)
	}

	// A failure after output: the SDK raises, it does not take the cut stream as complete.
	_, got, err := sdkStream(t, true, streamChunks()[:3], &llm.Error{Kind: llm.KindUpstream, Message: "upstream stream truncated"})
	if err == nil || !strings.Contains(err.Error(), "upstream stream truncated") || len(got) != 3 {
		t.Errorf("failed stream: %d chunks, error %v", len(got), err)
	}

	// A failure before output: an HTTP error with the status the SDK retries on.
	_, got, err = sdkStream(t, false, nil, &llm.Error{Kind: llm.KindRateLimit, Message: "slow down", Upstream: 429})
	var apiErr *sdk.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Type != "rate_limit_exceeded" || len(got) != 0 {
		t.Errorf("error before output: %v", err)
	}
}
