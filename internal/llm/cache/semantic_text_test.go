package cache

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pylon-gateway/pylon/internal/llm/schema/openai"
)

func chat(t testing.TB, body string) *openai.ChatRequest {
	t.Helper()
	var r openai.ChatRequest
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func TestSemanticText(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		ok               bool
	}{
		{"plain", `{"messages":[{"role":"user","content":"What is Go?"}]}`, "what is go?", true},
		{"white space", `{"messages":[{"role":"user","content":"  What\tis\n\n Go?  "}]}`, "what is go?", true},
		{"unicode", `{"messages":[{"role":"user","content":"ÉTÉ\u00a0à PARIS"}]}`, "été à paris", true},
		{"last message only", `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"A"},{"role":"assistant","content":"b"},{"role":"user","content":"C d"}]}`, "c d", true},
		{"text parts", `{"messages":[{"role":"user","content":[{"type":"text","text":"Hello"},{"type":"text","text":" World "}]}]}`, "hello world", true},
		{"image part", `{"messages":[{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`, "", false},
		{"last is assistant", `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}`, "", false},
		{"last is tool", `{"messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"c","content":"42"}]}`, "", false},
		{"blank", `{"messages":[{"role":"user","content":" \n\t "}]}`, "", false},
		{"no content", `{"messages":[{"role":"user"}]}`, "", false},
		{"no messages", `{"messages":[]}`, "", false},
		{"too long", `{"messages":[{"role":"user","content":"` + strings.Repeat("a", MaxSemanticText+1) + `"}]}`, "", false},
		{"longest", `{"messages":[{"role":"user","content":"  ` + strings.Repeat("A", MaxSemanticText) + `  "}]}`, strings.Repeat("a", MaxSemanticText), true},
	} {
		got, ok := SemanticText(chat(t, tc.body))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %q %v, want %q %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := SemanticText(nil); ok {
		t.Error("nil request")
	}
}

// Requests share a semantic scope only when they differ in the wording of their last
// message (or in fields that do not change an answer).
func TestSemanticScope(t *testing.T) {
	base := `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is Go?"}],"temperature":0.2}`
	scope := func(tenant, body string) string {
		s, err := SemanticScope(tenant, chat(t, body))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	want := scope("t", base)
	for name, body := range map[string]string{
		"other wording": `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Explain the Go language"}],"temperature":0.2}`,
		"streamed":      `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is Go?"}],"temperature":0.2,"stream":true,"stream_options":{"include_usage":true},"user":"u9"}`,
		"text parts":    `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"What is Go?"}]}],"temperature":0.2}`,
	} {
		if got := scope("t", body); got != want {
			t.Errorf("%s: another scope", name)
		}
	}
	for name, body := range map[string]string{
		"system prompt": `{"model":"m","messages":[{"role":"system","content":"Be verbose."},{"role":"user","content":"What is Go?"}],"temperature":0.2}`,
		"no system":     `{"model":"m","messages":[{"role":"user","content":"What is Go?"}],"temperature":0.2}`,
		"model":         `{"model":"m2","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is Go?"}],"temperature":0.2}`,
		"temperature":   `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is Go?"}],"temperature":0.9}`,
		"max tokens":    `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is Go?"}],"temperature":0.2,"max_tokens":5}`,
		"tools":         `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is Go?"}],"temperature":0.2,"tools":[{"type":"function","function":{"name":"f"}}]}`,
		"earlier turn":  `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},{"role":"user","content":"What is Go?"}],"temperature":0.2}`,
		"user name":     `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","name":"bob","content":"What is Go?"}],"temperature":0.2}`,
	} {
		if got := scope("t", body); got == want {
			t.Errorf("%s: the same scope", name)
		}
	}
	if scope("t2", base) == want {
		t.Error("tenant: the same scope")
	}
	// The request is not modified.
	r := chat(t, base)
	SemanticScope("t", r)
	if r.Messages[1].Content.String() != "What is Go?" {
		t.Fatal("SemanticScope changed the request")
	}
}

// FuzzSemanticText: whatever the text, the output is valid UTF-8, normalised (no space at an
// end, no two in a row, nothing left to lower), bounded, and stable: normalising it again,
// or padding the input with white space, gives the same text.
func FuzzSemanticText(f *testing.F) {
	for _, s := range []string{"What is Go?", "  a\t\tb\n", "ÉTÉ", "\xff\xfe bad", "İstanbul", "ǅ", "\u2028x\u00a0y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		req := func(text string) *openai.ChatRequest {
			return &openai.ChatRequest{Model: "m", Messages: []openai.Message{{Role: "user", Content: openai.TextContent(text)}}}
		}
		got, ok := SemanticText(req(s))
		if !ok {
			if got != "" {
				t.Fatalf("not eligible, yet %q", got)
			}
			return
		}
		if got == "" || len(got) > MaxSemanticText || !utf8.ValidString(got) {
			t.Fatalf("%q -> %q", s, got)
		}
		if strings.HasPrefix(got, " ") || strings.HasSuffix(got, " ") || strings.Contains(got, "  ") {
			t.Fatalf("%q -> %q: spaces", s, got)
		}
		if again, ok := SemanticText(req(got)); !ok || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, got, again)
		}
		if padded, _ := SemanticText(req(" \t" + strings.ReplaceAll(s, " ", " \n ") + "\n")); padded != got {
			t.Fatalf("white space changed the text: %q vs %q", padded, got)
		}
		// As text parts, the same.
		parts := &openai.ChatRequest{Messages: []openai.Message{{Role: "user", Content: &openai.Content{Parts: []openai.Part{{Type: "text", Text: s}}}}}}
		if p, _ := SemanticText(parts); p != got {
			t.Fatalf("parts: %q vs %q", p, got)
		}
		// The scope does not depend on the last message's text.
		s1, err1 := SemanticScope("t", req(s))
		s2, err2 := SemanticScope("t", req(got))
		if err1 != nil || err2 != nil || s1 != s2 {
			t.Fatalf("scope depends on the text (%v %v)", err1, err2)
		}
	})
}
