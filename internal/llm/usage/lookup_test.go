package usage

import "testing"

func TestLookup(t *testing.T) {
	tbl := Embedded()
	tests := []struct {
		provider, model string
		want            string // the key found; "" for unknown
	}{
		// Exact and case-insensitive.
		{"openai", "gpt-4o", "openai/gpt-4o"},
		{"OpenAI", " GPT-4o ", "openai/gpt-4o"},
		{"", "gpt-4o", "openai/gpt-4o"},
		{"", "openai/gpt-4o", "openai/gpt-4o"},
		{"openai", "openai/gpt-4o", "openai/gpt-4o"},
		// An unlisted provider serving a listed model finds it by model name.
		{"azure", "gpt-4o-mini", "openai/gpt-4o-mini"},
		{"openai_compatible", "deepseek-chat", "deepseek/deepseek-chat"},
		{"groq", "openai/gpt-oss-120b", "groq/openai/gpt-oss-120b"},
		// Date and version suffixes.
		{"openai", "gpt-4o-2024-08-06", "openai/gpt-4o"},
		{"openai", "gpt-4.1-nano-2025-04-14", "openai/gpt-4.1-nano"},
		{"openai", "o3-mini-2025-01-31", "openai/o3-mini"},
		{"openai", "gpt-3.5-turbo-0125", "openai/gpt-3.5-turbo"},
		{"anthropic", "claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4-5"},
		{"anthropic", "claude-sonnet-4-20250514", "anthropic/claude-sonnet-4"},
		{"anthropic", "claude-3-5-haiku-latest", "anthropic/claude-3-5-haiku"},
		{"vertex", "claude-opus-4-1@20250805", "anthropic/claude-opus-4-1"},
		{"gemini", "gemini-2.0-flash-001", "gemini/gemini-2.0-flash"},
		{"gemini", "models/gemini-2.5-pro", "gemini/gemini-2.5-pro"},
		{"gemini", "gemini-2.5-flash-preview-09-2025", "gemini/gemini-2.5-flash"},
		{"gemini", "gemini-2.5-flash-lite-preview-06-17", "gemini/gemini-2.5-flash-lite"},
		{"gemini", "gemini-3-pro-preview", "gemini/gemini-3-pro"},
		{"mistral", "mistral-large-latest", "mistral/mistral-large"},
		{"mistral", "mistral-small-2506", "mistral/mistral-small"},
		// An exact dated key beats the stripped name: different price.
		{"openai", "gpt-4o-2024-05-13", "openai/gpt-4o-2024-05-13"},
		{"mistral", "mistral-large-2411", "mistral/mistral-large-2411"},
		// Bedrock ids, region prefixes and ARNs.
		{"bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock/anthropic.claude-sonnet-4-5"},
		{"bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock/anthropic.claude-sonnet-4-5"},
		{"bedrock", "global.anthropic.claude-haiku-4-5-20251001-v1:0", "bedrock/anthropic.claude-haiku-4-5"},
		{"bedrock", "eu.amazon.nova-pro-v1:0", "bedrock/amazon.nova-pro"},
		{"bedrock", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0", "bedrock/amazon.nova-lite"},
		// Claude on Bedrock not listed under bedrock/ falls back to Anthropic's price.
		{"bedrock", "us.anthropic.claude-opus-4-5-20251101-v1:0", "anthropic/claude-opus-4-5"},
		// Unknown stays unknown: no word of the name is ever dropped.
		{"openai", "gpt-4o-mini-search-preview-2025-03-11", ""},
		{"openai", "gpt-4o-realtime-preview", ""},
		{"openai", "ft:gpt-4o-mini-2024-07-18:acme::abc123", ""},
		{"anthropic", "claude-opus-4-7", ""},
		{"bedrock", "meta.llama3-3-70b-instruct-v1:0", ""},
		{"", "", ""},
		{"openai", "-", ""},
	}
	for _, tt := range tests {
		p, ok := tbl.Lookup(tt.provider, tt.model)
		got := ""
		if ok {
			got = p.Key
		}
		if got != tt.want || ok != (p != nil) {
			t.Errorf("Lookup(%q, %q) = %q, %v; want %q", tt.provider, tt.model, got, ok, tt.want)
		}
	}
}

func TestLookupPrecedence(t *testing.T) {
	tbl, err := ParseTable("p.yaml", []byte(`
models:
  openai/shared: {input: 1, output: 1}
  other/shared: {input: 2, output: 2}
  bare-wins: {input: 3, output: 3}
  openai/bare-wins: {input: 4, output: 4}
  openai/late-bare: {input: 5, output: 5}
  late-bare: {input: 6, output: 6}
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		provider, model, want string
	}{
		{"other", "shared", "other/shared"},  // the provider's own entry first
		{"azure", "shared", "openai/shared"}, // then the first in file order
		{"", "bare-wins", "bare-wins"},       // a bare key beats provider keys for bare names
		{"openai", "bare-wins", "openai/bare-wins"},
		{"azure", "late-bare", "late-bare"}, // wherever it is in the file
	}
	for _, tt := range tests {
		if p, _ := tbl.Lookup(tt.provider, tt.model); p == nil || p.Key != tt.want {
			t.Errorf("Lookup(%q, %q) = %+v, want %s", tt.provider, tt.model, p, tt.want)
		}
	}
}

func TestStripSuffix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"gpt-4o-2024-08-06", "gpt-4o"},
		{"claude-sonnet-4-5-20250929", "claude-sonnet-4-5"},
		{"claude-sonnet-4-5@20250929", "claude-sonnet-4-5"},
		{"amazon.nova-pro-v1:0", "amazon.nova-pro"},
		{"model:0", "model"},
		{"gemini-2.0-flash-001", "gemini-2.0-flash"},
		{"gemini-2.0-flash-exp", "gemini-2.0-flash"},
		{"o1-preview", "o1"},
		{"x-latest", "x"},
		{"gpt-4o", "gpt-4o"},
		{"claude-3-5-haiku", "claude-3-5-haiku"},
		{"llama-3.1-8b", "llama-3.1-8b"},
		{"gpt-5", "gpt-5"},
		{"preview", "preview"},
		{"-2024", "-2024"},
	}
	for _, tt := range tests {
		if got, _ := stripSuffix(tt.in); got != tt.want {
			t.Errorf("stripSuffix(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	tbl := Embedded()
	for _, name := range []string{"gpt-4o", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := tbl.Lookup("bedrock", name); !ok {
					b.Fatal("unknown")
				}
			}
		})
	}
}
