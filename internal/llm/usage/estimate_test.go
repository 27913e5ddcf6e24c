package usage

import (
	"strings"
	"sync"
	"testing"
)

// One estimator for the whole test binary: each one builds its own codecs.
var testTiktoken = NewTiktoken()

func TestCountText(t *testing.T) {
	tests := []struct {
		model, text string
		want        int
	}{
		{"gpt-4o", "", 0},
		// providers.md §5, measured with tiktoken-go/tokenizer v0.10.0.
		{"gpt-4o", "Hello, world! How many tokens is this sentence?", 11},
		// OpenAI cookbook, "How to count tokens with tiktoken".
		{"gpt-4", "tiktoken is great!", 6},
		{"gpt-4o", "antidisestablishmentarianism", 6},
		{"gpt-3.5-turbo", "antidisestablishmentarianism", 6},
		{"gpt-4o", "2 + 2 = 4", 7},
		{"gpt-4o-mini", "お誕生日おめでとう", 8},
		{"gpt-4", "お誕生日おめでとう", 9},
		// Non-OpenAI models are estimated with o200k_base.
		{"claude-sonnet-4-5", "お誕生日おめでとう", 8},
	}
	for _, tt := range tests {
		if got := testTiktoken.CountText(tt.model, tt.text); got != tt.want {
			t.Errorf("CountText(%q, %q) = %d, want %d", tt.model, tt.text, got, tt.want)
		}
	}
}

func TestEncodingFor(t *testing.T) {
	tests := []struct{ model, want string }{
		{"gpt-4o", "o200k_base"},
		{"gpt-4o-mini-2024-07-18", "o200k_base"},
		{"chatgpt-4o-latest", "o200k_base"},
		{"gpt-4.1-nano", "o200k_base"},
		{"gpt-5-mini", "o200k_base"},
		{"o1", "o200k_base"},
		{"o3-mini", "o200k_base"},
		{"o4-mini", "o200k_base"},
		{"gpt-4", "cl100k_base"},
		{"gpt-4-turbo", "cl100k_base"},
		{"GPT-3.5-Turbo-0125", "cl100k_base"},
		{"azure/gpt-35-turbo", "cl100k_base"},
		{"text-embedding-3-small", "cl100k_base"},
		{"text-embedding-ada-002", "cl100k_base"},
		{"claude-haiku-4-5", "o200k_base"},
		{"gemini-2.5-pro", "o200k_base"},
		{"", "o200k_base"},
	}
	for _, tt := range tests {
		if got := EncodingFor(tt.model); got != tt.want {
			t.Errorf("EncodingFor(%q) = %s, want %s", tt.model, got, tt.want)
		}
	}
}

// cookbookMessages is the example conversation of OpenAI's cookbook "How to
// count tokens with tiktoken", which reports the API's prompt_tokens for it:
// 129 for gpt-3.5-turbo and gpt-4, 124 for gpt-4o and gpt-4o-mini.
var cookbookMessages = []Message{
	{Role: "system", Content: "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
	{Role: "system", Name: "example_user", Content: "New synergies will help drive top-line growth."},
	{Role: "system", Name: "example_assistant", Content: "Things working well together will increase revenue."},
	{Role: "system", Name: "example_user", Content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
	{Role: "system", Name: "example_assistant", Content: "Let's talk later when we're less busy about how to do better."},
	{Role: "user", Content: "This late pivot means we don't have time to boil the ocean for the client deliverable."},
}

func TestCountMessages(t *testing.T) {
	tests := []struct {
		name  string
		est   Estimator
		model string
		msgs  []Message
		want  int
	}{
		{"cookbook gpt-4", testTiktoken, "gpt-4", cookbookMessages, 129},
		{"cookbook gpt-3.5-turbo", testTiktoken, "gpt-3.5-turbo", cookbookMessages, 129},
		{"cookbook gpt-4o", testTiktoken, "gpt-4o", cookbookMessages, 124},
		{"cookbook gpt-4o-mini", testTiktoken, "gpt-4o-mini", cookbookMessages, 124},
		{"no messages: the reply primer only", testTiktoken, "gpt-4o", nil, 3},
		// 3 primer + 3 framing + "user" (1) + "Hi" (1).
		{"one short message", testTiktoken, "gpt-4o", []Message{{Role: "user", Content: "Hi"}}, 8},
		// Tool calls count as their JSON text.
		{
			"tool calls", testTiktoken, "gpt-4o",
			[]Message{{Role: "assistant", ToolCallsJSON: `[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]`}},
			3 + 3 + 1 + testTiktoken.CountText("gpt-4o", `[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]`),
		},
		// 3 primer + 3 framing + ceil(4/4) + ceil(8/4) + 1 + ceil(3/4).
		{"heuristic", Heuristic{}, "any", []Message{{Role: "user", Content: "12345678", Name: "bob"}}, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.est.CountMessages(tt.model, tt.msgs); got != tt.want {
				t.Errorf("CountMessages = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestHeuristicCountText(t *testing.T) {
	for in, want := range map[string]int{"": 0, "a": 1, "abcd": 1, "abcde": 2, strings.Repeat("x", 400): 100} {
		if got := (Heuristic{}).CountText("m", in); got != want {
			t.Errorf("Heuristic.CountText(%q) = %d, want %d", in, got, want)
		}
	}
}

// Invalid UTF-8 is counted, not rejected: a prompt is never free.
func TestCountTextInvalidUTF8(t *testing.T) {
	if got := testTiktoken.CountText("gpt-4o", "ab\xffcd\xc3"); got <= 0 {
		t.Errorf("CountText(invalid UTF-8) = %d, want > 0", got)
	}
}

func TestTiktokenConcurrent(t *testing.T) {
	est := NewTiktoken() // fresh, so the lazy load itself races
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			model := []string{"gpt-4o", "gpt-4"}[i%2]
			if got := est.CountText(model, "Hello, world! How many tokens is this sentence?"); got != 11 {
				t.Errorf("CountText(%s) = %d, want 11", model, got)
			}
		})
	}
	wg.Wait()
}

// benchText is about 1 KiB of mixed English, numbers and code.
var benchText = strings.Repeat("The quick brown fox jumps over the lazy dog; 12345 tokens, func main() { fmt.Println(\"hi\") }\n", 11)

func BenchmarkCountText(b *testing.B) {
	for _, est := range []struct {
		name string
		e    Estimator
	}{{"tiktoken-o200k", testTiktoken}, {"heuristic", Heuristic{}}} {
		b.Run(est.name, func(b *testing.B) {
			est.e.CountText("gpt-4o", "warm up") // load the vocabulary outside the timer
			b.SetBytes(int64(len(benchText)))
			b.ReportAllocs()
			for b.Loop() {
				est.e.CountText("gpt-4o", benchText)
			}
		})
	}
}
