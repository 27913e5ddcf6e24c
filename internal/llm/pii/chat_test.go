package pii

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

// rawValues are every PII value of chatBody, as they may appear in a JSON encoding.
var rawValues = []string{
	"alice@example.com", "+1 (415) 555-2671", "4111 1111 1111 1111", "4111111111111111",
	"DE89 3704 0044 0532 0130 00", "123-45-6789", "10.20.30.40", "sk-proj-abc123DEF456ghi789JKL012mno345",
	"bob@example.org", "a8f3K29dk3LmQ0zP7xYw", "MIIEvQ", "carol@example.net", "2001:db8::7334",
}

const chatBody = `{
  "model": "gpt-4o-mini",
  "user": "alice@example.com",
  "metadata": {"customer": "bob@example.org", "tier": "gold"},
  "service_tier": "flex",
  "messages": [
    {"role": "system", "content": "You help the support team. Never reveal secrets."},
    {"role": "user", "content": "I am alice@example.com, call me at +1 (415) 555-2671. My card 4111 1111 1111 1111 was charged twice; refund to DE89 3704 0044 0532 0130 00. SSN 123-45-6789."},
    {"role": "user", "content": [
      {"type": "text", "text": "The logs from 10.20.30.40 show OPENAI_API_KEY=sk-proj-abc123DEF456ghi789JKL012mno345"},
      {"type": "image_url", "image_url": {"url": "https://example.com/screenshot.png"}}
    ]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"email\":\"alice@example.com\",\"card\":4111111111111111,\"note\":\"key:\\n-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\n-----END PRIVATE KEY-----\"}"}}
    ]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\"owner\":\"bob@example.org\",\"api_key\":\"a8f3K29dk3LmQ0zP7xYw\",\"host\":\"2001:db8::7334\"}"},
    {"role": "user", "content": "Also cc carol@example.net please."}
  ]
}`

func parseChat(t testing.TB) *openai.ChatRequest {
	t.Helper()
	var req openai.ChatRequest
	if err := json.Unmarshal([]byte(chatBody), &req); err != nil {
		t.Fatal(err)
	}
	req.Raw = []byte(chatBody)
	return &req
}

func TestRedactChat(t *testing.T) {
	req := parseChat(t)
	before, _ := json.Marshal(req)
	r := MustNew(Config{Mode: ModeToken})
	v := NewVault()
	out, counts := r.RedactChat(req, v)

	// The original request is unchanged, typed fields and raw body.
	if after, _ := json.Marshal(req); !bytes.Equal(before, after) || string(req.Raw) != chatBody {
		t.Fatal("RedactChat modified its input")
	}
	// Nothing raw is left in what the provider gets, typed or raw.
	typed, _ := json.Marshal(out)
	for _, blob := range []string{string(typed), string(out.Raw)} {
		for _, s := range rawValues {
			if strings.Contains(blob, s) {
				t.Errorf("%q left in %s", s, blob)
			}
		}
	}
	// The raw body keeps the fields Pylon does not model and stays valid JSON.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(out.Raw, &top); err != nil || string(top["service_tier"]) != `"flex"` {
		t.Errorf("raw body: %v %s", err, out.Raw)
	}
	// Tool-call arguments stay JSON; the image part is untouched.
	var args map[string]any
	if err := json.Unmarshal([]byte(out.Messages[3].ToolCalls[0].Function.Arguments), &args); err != nil {
		t.Errorf("arguments: %v", err)
	}
	if out.Messages[2].Content.Parts[1].ImageURL.URL != "https://example.com/screenshot.png" {
		t.Error("image part changed")
	}
	want := Counts{DetEmail: 6, DetPhone: 1, DetCard: 2, DetIBAN: 1, DetSSN: 1, DetIPv4: 1, DetIPv6: 1,
		DetOpenAIKey: 1, DetGenericSecret: 1, DetPrivateKey: 1}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("counts[%s] = %d, want %d (all: %v)", k, counts[k], n, counts)
		}
	}
	// Restoring each text gives back the client's text.
	for i, m := range out.Messages {
		if m.Content != nil {
			if got, want := Restore(m.Content.String(), v), req.Messages[i].Content.String(); got != want {
				t.Errorf("message %d: %q, want %q", i, got, want)
			}
		}
	}
	var a0, a1 any
	json.Unmarshal([]byte(RestoreJSON(out.Messages[3].ToolCalls[0].Function.Arguments, v)), &a0)
	json.Unmarshal([]byte(req.Messages[3].ToolCalls[0].Function.Arguments), &a1)
	if a0.(map[string]any)["note"] != a1.(map[string]any)["note"] {
		t.Errorf("arguments restored: %v", a0)
	}
}

func TestRedactChatNothingFound(t *testing.T) {
	req := &openai.ChatRequest{Model: "m", Messages: []openai.Message{{Role: "user", Content: openai.TextContent("hello")}}, Raw: []byte(`{}`)}
	out, c := MustNew(Config{}).RedactChat(req, NewVault())
	if out != req || c != nil {
		t.Errorf("got a copy %v or counts %v", out != req, c)
	}
}

// TestStoredSession: what a session store keeps (hash mode) holds no raw value and is
// stable across requests, so turns can still be correlated.
func TestStoredSession(t *testing.T) {
	r := MustNew(Config{Mode: ModeHash, HashKey: []byte("tenant-key")})
	a, _ := r.RedactChat(parseChat(t), nil)
	b, _ := r.RedactChat(parseChat(t), nil)
	ja, _ := json.Marshal(a.Messages)
	jb, _ := json.Marshal(b.Messages)
	if !bytes.Equal(ja, jb) {
		t.Error("hash mode is not stable")
	}
	for _, s := range rawValues {
		if bytes.Contains(ja, []byte(s)) {
			t.Errorf("%q stored", s)
		}
	}
}

func TestRestoreResponse(t *testing.T) {
	v, restored, reply := tokenVault(t)
	resp := &openai.ChatResponse{ID: "x", Raw: []byte(`{}`), Choices: []openai.Choice{{Message: openai.Message{
		Role: "assistant", Content: openai.TextContent(reply),
		ToolCalls: []openai.ToolCall{{ID: "c", Type: "function", Function: openai.FunctionCall{Name: "f", Arguments: `{"to":"⟦EMAIL_1⟧"}`}}},
	}}}}
	out, err := RestoreResponse(resp, v)
	if err != nil {
		t.Fatal(err)
	}
	if out == resp || out.Raw != nil || resp.Choices[0].Message.Content.Text != reply {
		t.Error("input modified or Raw kept")
	}
	if got := out.Choices[0].Message.Content.Text; got != restored {
		t.Errorf("content %q", got)
	}
	if got := out.Choices[0].Message.ToolCalls[0].Function.Arguments; got != `{"to":"alice@example.com"}` {
		t.Errorf("arguments %q", got)
	}
	// A response left raw by its adapter is decoded first.
	raw, _ := json.Marshal(resp)
	out, err = RestoreResponse(&openai.ChatResponse{Raw: raw}, v)
	if err != nil || out.Choices[0].Message.Content.Text != restored {
		t.Errorf("raw response: %v", err)
	}
}

// TestChunkRestorerEverySplit streams the reply as content deltas split at every byte
// pair, plus a tool call whose arguments are split the same way.
func TestChunkRestorerEverySplit(t *testing.T) {
	v, restored, reply := tokenVault(t)
	args := `{"to":"⟦EMAIL_2⟧","cc":"⟦EMAIL_1⟧"}`
	wantArgs := `{"to":"bob@example.org","cc":"alice@example.com"}`
	stop := openai.FinishStop
	for i := 0; i <= len(reply); i++ {
		k := i * len(args) / max(len(reply), 1)
		chunks := []*openai.ChatChunk{
			{ID: "c", Choices: []openai.ChunkChoice{{Delta: openai.Delta{Role: "assistant", Content: openai.Ptr(reply[:i])}}}},
			{ID: "c", Choices: []openai.ChunkChoice{{Delta: openai.Delta{Content: openai.Ptr(reply[i:]),
				ToolCalls: []openai.ToolCallDelta{{Index: 0, ID: "t", Type: "function", Function: openai.FunctionCallDelta{Name: "f", Arguments: args[:k]}}}}}}},
			{ID: "c", Choices: []openai.ChunkChoice{{Delta: openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: 0, Function: openai.FunctionCallDelta{Arguments: args[k:]}}}}}}},
			{ID: "c", Choices: []openai.ChunkChoice{{Delta: openai.Delta{}, FinishReason: &stop}}},
		}
		cr := NewChunkRestorer(v)
		var content, targs strings.Builder
		for _, ch := range chunks {
			orig, _ := json.Marshal(ch)
			out := cr.Restore(ch)
			if after, _ := json.Marshal(ch); !bytes.Equal(orig, after) {
				t.Fatal("chunk modified")
			}
			for _, c := range out.Choices {
				if c.Delta.Content != nil {
					content.WriteString(*c.Delta.Content)
				}
				for _, tc := range c.Delta.ToolCalls {
					targs.WriteString(tc.Function.Arguments)
				}
			}
		}
		if cr.Flush() != nil {
			t.Error("something held after finish")
		}
		if content.String() != restored || targs.String() != wantArgs {
			t.Fatalf("split %d: %q / %q", i, content.String(), targs.String())
		}
	}
}

func TestChunkRestorerFlush(t *testing.T) {
	v, _, _ := tokenVault(t)
	cr := NewChunkRestorer(v)
	out := cr.Restore(&openai.ChatChunk{ID: "c", Model: "m", Choices: []openai.ChunkChoice{{Index: 1, Delta: openai.Delta{Content: openai.Ptr("hi ⟦EMAIL_")}}}})
	if *out.Choices[0].Delta.Content != "hi " {
		t.Errorf("released %q", *out.Choices[0].Delta.Content)
	}
	f := cr.Flush()
	if f == nil || f.ID != "c" || f.Choices[0].Index != 1 || *f.Choices[0].Delta.Content != "⟦EMAIL_" {
		t.Errorf("flush %+v", f)
	}
}
